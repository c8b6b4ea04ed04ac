// Package packaging holds the .deb's description (nfpm.yaml), its packaged config and
// maintainer scripts, and the test that builds the .deb and checks it as installed.
package packaging

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
	"github.com/meetnoc/meetnoc/systemd"
)

// The .deb is built once (the first run compiles nfpm from the module proxy, later
// ones reuse Go's build cache) and every test here reads it.
var (
	debOnce sync.Once
	deb     struct {
		path    string
		version string
		root    string // unpacked with dpkg-deb -x
		err     string // why the build failed, for every test
	}
)

// requireDeb builds the .deb with scripts/build-deb.sh and unpacks it.
func requireDeb(t *testing.T) {
	t.Helper()
	for bin, pkg := range map[string]string{"dpkg-deb": "dpkg", "git": "git", "make": "make", "go": "golang"} {
		if _, err := testenv.LookPath(bin); err != nil {
			testenv.Missing(t, "%s not found: install it with `apt-get install %s`", bin, pkg)
		}
	}
	debOnce.Do(func() { deb.err = buildDeb(t) })
	if deb.err != "" {
		t.Fatal(deb.err)
	}
}

func buildDeb(t *testing.T) string {
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "build-deb.sh")
	out, err := exec.Command(script, "--version").Output()
	if err != nil {
		return fmt.Sprintf("build-deb.sh --version: %v", err)
	}
	version := strings.TrimSpace(string(out))

	// Not t.TempDir: the .deb outlives the test that builds it (TestMain removes it).
	dir, err := os.MkdirTemp("", "meetnoc-deb-test-")
	if err != nil {
		return err.Error()
	}
	deb.root = filepath.Join(dir, "root")
	start := time.Now()
	cmd := exec.Command(script, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		return fmt.Sprintf("build-deb.sh: %v\n%s", err, stderr.Bytes())
	}
	t.Logf("build-deb.sh took %v", time.Since(start).Round(time.Millisecond))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	path := lines[len(lines)-1]
	if out, err := exec.Command("dpkg-deb", "-x", path, deb.root).CombinedOutput(); err != nil {
		return fmt.Sprintf("dpkg-deb -x: %v\n%s", err, out)
	}
	deb.path, deb.version = path, version
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	if deb.root != "" {
		os.RemoveAll(filepath.Dir(deb.root))
	}
	os.Exit(code)
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestControl: name, version, architecture, dependencies, the conffile and the
// maintainer scripts.
func TestControl(t *testing.T) {
	requireDeb(t)
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(deb.version) {
		t.Errorf("version %q is not a Debian native version", deb.version)
	}
	if want := "meetnoc_" + deb.version + "_"; !strings.HasPrefix(filepath.Base(deb.path), want) {
		t.Errorf(".deb is named %s, want %s<arch>.deb", filepath.Base(deb.path), want)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(dpkgDeb(t, "--field", deb.path, "Package", "Version", "Architecture", "Depends"), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			fields[k] = v
		}
	}
	want := map[string]string{"Package": "meetnoc", "Version": deb.version, "Architecture": runtime.GOARCH, "Depends": "procps"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("control %s: %q, want %q", k, fields[k], v)
		}
	}
	if got := strings.TrimSpace(dpkgDeb(t, "--info", deb.path, "conffiles")); got != "/etc/meetnoc/meetnoc.yml" {
		t.Errorf("conffiles = %q, want /etc/meetnoc/meetnoc.yml", got)
	}
	ctrl := t.TempDir()
	dpkgDeb(t, "-e", deb.path, ctrl)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(ctrl, s)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("maintainer script %s: %v", s, err)
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("maintainer script %s is not executable (%v)", s, fi.Mode())
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}

// TestContents: the package holds exactly the expected files, taken from the
// repository by the same globs nfpm.yaml uses, and the contract's five rule files.
func TestContents(t *testing.T) {
	requireDeb(t)
	repo := testenv.RepoRoot(t)
	want := map[string]string{ // path in the package → mode
		"/usr/bin/meetnoc":                                   "-rwxr-xr-x",
		systemd.UnitPath:                                     "-rw-r--r--",
		"/etc/meetnoc/meetnoc.yml":                           "-rw-r--r--",
		"/usr/share/doc/meetnoc/README.md":                   "-rw-r--r--",
		"/usr/share/doc/meetnoc/examples/example.yml":        "-rw-r--r--",
		"/usr/share/meetnoc/alerts/alertmanager.example.yml": "-rw-r--r--",
	}
	globs := []struct{ src, dst string }{
		{"alerts/*.rules.yml", "/usr/share/meetnoc/alerts/"},
		{"dashboards/*.json", "/usr/share/meetnoc/dashboards/"},
		{"dashboards/provisioning/*", "/usr/share/meetnoc/dashboards/provisioning/"},
		{"docs/*.md", "/usr/share/doc/meetnoc/"},
	}
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(repo, g.src))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			t.Errorf("nothing in the repository matches %s", g.src)
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				want[g.dst+filepath.Base(m)] = "-rw-r--r--"
			}
		}
	}
	for _, f := range []string{"snmp", "wireless", "traffic", "dns", "meetnoc"} {
		if _, ok := want["/usr/share/meetnoc/alerts/"+f+".rules.yml"]; !ok {
			t.Errorf("alerts/%s.rules.yml (a rule file the contract names) is not in the repository", f)
		}
	}

	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(dpkgDeb(t, "--contents", deb.path)), "\n") {
		// -rw-r--r-- root/root      1068 2026-11-22 22:18 ./etc/meetnoc/meetnoc.yml
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents line %q", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", f[5], f[1])
		}
		if strings.HasPrefix(f[0], "d") {
			continue
		}
		got[strings.TrimPrefix(f[5], ".")] = f[0]
	}
	for p, mode := range want {
		switch g, ok := got[p]; {
		case !ok:
			t.Errorf("%s is missing from the package", p)
		case g != mode:
			t.Errorf("%s has mode %s, want %s", p, g, mode)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("the package holds %s, which it should not", p)
		}
	}
}

// TestBinary: the packaged meetnoc is static (CGO_ENABLED=0) and carries the
// Makefile's version stamp.
func TestBinary(t *testing.T) {
	requireDeb(t)
	bin := filepath.Join(deb.root, "usr", "bin", "meetnoc")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/usr/bin/meetnoc has a dynamic loader (PT_INTERP): not built with CGO_ENABLED=0")
		}
	}
	rev, err := exec.Command("git", "-C", testenv.RepoRoot(t), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("meetnoc version: %v\n%s", err, out)
	}
	if want := "revision: " + strings.TrimSpace(string(rev)); !strings.Contains(string(out), want) {
		t.Errorf("meetnoc version does not say %q (the Makefile's LDFLAGS):\n%s", want, out)
	}
}

// TestPackagedConfig: the packaged meetnoc accepts the packaged config as shipped (no
// secrets needed), and the packaged example with the credentials the unit loads.
func TestPackagedConfig(t *testing.T) {
	requireDeb(t)
	bin := filepath.Join(deb.root, "usr", "bin", "meetnoc")
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CREDENTIALS_DIRECTORY=") })

	check := func(t *testing.T, config string, env []string) {
		t.Helper()
		cmd := exec.Command(bin, "check", config)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": ok (") {
			t.Errorf("meetnoc check %s: %v\n%s", strings.TrimPrefix(config, deb.root), err, out)
		}
	}

	t.Run("etc", func(t *testing.T) {
		check(t, filepath.Join(deb.root, "etc", "meetnoc", "meetnoc.yml"), env)
	})

	t.Run("example", func(t *testing.T) {
		// The credentials are the ones the packaged unit's LoadCredential= lines
		// provide, so this also proves unit and example agree.
		unit, err := os.ReadFile(filepath.Join(deb.root, systemd.UnitPath))
		if err != nil {
			t.Fatal(err)
		}
		creds := t.TempDir()
		n := 0
		for _, m := range regexp.MustCompile(`(?m)^LoadCredential=([^:\s]+)`).FindAllStringSubmatch(string(unit), -1) {
			if err := os.WriteFile(filepath.Join(creds, m[1]), []byte("test-secret-"+m[1]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n == 0 {
			t.Fatal("the packaged unit loads no credentials")
		}
		check(t, filepath.Join(deb.root, "usr", "share", "doc", "meetnoc", "examples", "example.yml"), append(env, "CREDENTIALS_DIRECTORY="+creds))
	})
}

// TestPackagedUnit: systemd-analyze verify and security on the unit as unpacked,
// with --root, so ExecStart= must name the binary the package installs.
func TestPackagedUnit(t *testing.T) {
	requireDeb(t)
	// The checks add systemd's targets and kill(1) to the root: work on a copy.
	root := t.TempDir()
	if out, err := exec.Command("cp", "-a", deb.root+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	exposure := systemd.Check(t, root)
	t.Logf("exposure %.1f", exposure)
}

// TestDebianVersion: scripts/build-deb.sh maps `git describe` to Debian versions
// that sort as the releases do, on a scratch repository taken through untagged
// history, a release candidate, a release and commits past each.
func TestDebianVersion(t *testing.T) {
	for bin, pkg := range map[string]string{"git": "git", "dpkg": "dpkg"} {
		if _, err := testenv.LookPath(bin); err != nil {
			testenv.Missing(t, "%s not found: install it with `apt-get install %s`", bin, pkg)
		}
	}
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "build-deb.sh")
	work := t.TempDir()
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "MEETNOC_DEB_VERSION=") })
	env = append(env,
		"GIT_DIR="+filepath.Join(work, ".git"), "GIT_WORK_TREE="+work,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	n := 0
	commit := func() string {
		t.Helper()
		n++
		if err := os.WriteFile(filepath.Join(work, "f"), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "f")
		git("commit", "-q", "-m", "c")
		return "g" + git("rev-parse", "--short=7", "HEAD")
	}
	version := func() string {
		t.Helper()
		cmd := exec.Command(script, "--version")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build-deb.sh --version: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}

	git("init", "-q")
	commit()
	h := commit()
	var seq []string // in release order
	expect := func(want string) {
		t.Helper()
		if got := version(); got != want {
			t.Errorf("version %q, want %q", got, want)
		}
		seq = append(seq, want)
	}
	expect("0.0.0~git2." + h)
	git("tag", "v1.2.0-rc1")
	expect("1.2.0~rc1")
	h = commit()
	expect("1.2.0~rc1+git1." + h)
	git("tag", "v1.2.0")
	expect("1.2.0")
	commit()
	h = commit()
	expect("1.2.0+git2." + h)
	if err := os.WriteFile(filepath.Join(work, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("1.2.0+git2." + h + ".dirty")

	for i := 1; i < len(seq); i++ {
		if err := exec.Command("dpkg", "--compare-versions", seq[i-1], "lt", seq[i]).Run(); err != nil {
			t.Errorf("dpkg does not sort %s before %s", seq[i-1], seq[i])
		}
	}
}
