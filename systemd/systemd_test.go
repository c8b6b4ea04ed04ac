package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

var (
	buildOnce sync.Once
	binary    string // meetnoc, built once for every test here
	buildErr  error
	buildOut  []byte
)

// meetnocBinary builds meetnoc (CGO_ENABLED=0, as released) once per test binary.
func meetnocBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meetnoc-systemd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "meetnoc")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/meetnoc")
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/meetnoc: %v\n%s", buildErr, buildOut)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// installedRoot lays out a root as the package installs it: unit at UnitPath (with
// the given content), meetnoc at /usr/bin/meetnoc.
func installedRoot(t *testing.T, unit []byte) string {
	t.Helper()
	root := t.TempDir()
	copyFile(t, meetnocBinary(t), filepath.Join(root, "usr", "bin", "meetnoc"), 0o755)
	dst := filepath.Join(root, UnitPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func readUnit(t *testing.T) []byte {
	t.Helper()
	unit, err := os.ReadFile(UnitName)
	if err != nil {
		t.Fatal(err)
	}
	return unit
}

// TestUnit: `systemd-analyze verify` prints nothing for the unit and `systemd-analyze
// security --offline=true` rates it at most MaxExposure.
func TestUnit(t *testing.T) {
	exposure := Check(t, installedRoot(t, readUnit(t)))
	t.Logf("exposure %.1f (≤ %.1f required)", exposure, MaxExposure)
}

// TestChecksCatchProblems: the two checks fail a unit that is wrong, so that
// TestUnit passing means something.
func TestChecksCatchProblems(t *testing.T) {
	unit := string(readUnit(t))

	t.Run("misspelt setting", func(t *testing.T) {
		bad := strings.Replace(unit, "ProtectSystem=strict", "ProtectSytem=strict", 1)
		root := installedRoot(t, []byte(bad))
		ProvideHost(t, root)
		out, _ := Verify(t, root)
		if !strings.Contains(out, "ProtectSytem") {
			t.Errorf("verify did not report the unknown setting ProtectSytem=; output:\n%s", out)
		}
	})

	t.Run("binary not installed", func(t *testing.T) {
		root := installedRoot(t, []byte(unit))
		ProvideHost(t, root)
		if err := os.Remove(filepath.Join(root, "usr", "bin", "meetnoc")); err != nil {
			t.Fatal(err)
		}
		out, err := Verify(t, root)
		if err == nil || !strings.Contains(out, "/usr/bin/meetnoc") {
			t.Errorf("verify passed a unit whose ExecStart= binary is missing (err %v); output:\n%s", err, out)
		}
	})

	t.Run("no sandboxing", func(t *testing.T) {
		// Keep [Unit], ExecStart= and [Install]; drop every hardening setting.
		var kept []string
		for _, line := range strings.Split(unit, "\n") {
			key, _, ok := strings.Cut(line, "=")
			if ok && !strings.HasPrefix(line, "#") && !slices.Contains([]string{"Description", "Documentation", "Wants", "After", "Type", "ExecStart", "WantedBy"}, key) {
				continue
			}
			kept = append(kept, line)
		}
		root := installedRoot(t, []byte(strings.Join(kept, "\n")))
		ProvideHost(t, root)
		exposure, table, err := Exposure(t, root)
		if err != nil {
			t.Fatalf("%v:\n%s", err, table)
		}
		if exposure <= MaxExposure {
			t.Errorf("a unit without sandboxing rated %.1f, within the limit %.1f:\n%s", exposure, MaxExposure, table)
		}
	})
}

// parseUnit returns the [Service] settings of a unit: key → every value, in order.
func parseUnit(t *testing.T, unit []byte) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(unit)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a setting: %q", line)
			}
			settings[key] = append(settings[key], value)
		}
	}
	return settings
}

// TestUnitSettings pins what the issue requires of the unit and the two traps that
// break capture without either check noticing: PrivateUsers=yes (the capability
// then lives in a user namespace that does not own the network namespace) and
// ProcSubset=pid (hides /proc/net).
func TestUnitSettings(t *testing.T) {
	s := parseUnit(t, readUnit(t))
	one := func(key, want string) {
		t.Helper()
		if got := s[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want exactly %q", key, got, want)
		}
	}
	one("ExecStart", "/usr/bin/meetnoc run --config.file=/etc/meetnoc/meetnoc.yml")
	one("ExecReload", "kill -HUP $MAINPID")
	one("DynamicUser", "yes")
	one("AmbientCapabilities", "CAP_NET_RAW")
	one("CapabilityBoundingSet", "CAP_NET_RAW")
	one("ProtectSystem", "strict")
	if got := s["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q, want @system-service first", got)
	}
	if got := s["RestrictAddressFamilies"]; len(got) != 1 || !sameSet(strings.Fields(got[0]), []string{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"}) {
		t.Errorf("RestrictAddressFamilies = %q, want AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET", got)
	}
	for _, v := range s["PrivateUsers"] {
		if v != "no" && v != "false" {
			t.Errorf("PrivateUsers=%s strips CAP_NET_RAW from the host's network namespace: AF_PACKET capture fails", v)
		}
	}
	for _, v := range s["ProcSubset"] {
		if v != "all" {
			t.Errorf("ProcSubset=%s hides /proc/net", v)
		}
	}
	for _, key := range []string{"IPAddressDeny", "PrivateNetwork"} {
		if len(s[key]) > 0 {
			t.Errorf("%s= cuts the daemon off the devices it polls", key)
		}
	}

	// Every credential configs/example.yml reads as ${CREDENTIALS_DIRECTORY}/NAME is
	// one the unit loads, from a credential name (a missing one is then skipped,
	// not fatal, so the packaged config starts without secrets).
	loaded := map[string]bool{}
	for _, v := range s["LoadCredential"] {
		id, src, _ := strings.Cut(v, ":")
		if filepath.IsAbs(src) {
			t.Errorf("LoadCredential=%s: an absolute source path makes the service fail to start while it is missing; name a credential in /etc/credstore", v)
		}
		if src != "meetnoc."+id {
			t.Errorf("LoadCredential=%s: want the source meetnoc.%s, the name the unit's comment tells admins to use", v, id)
		}
		loaded[id] = true
	}
	example, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "configs", "example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([A-Za-z0-9_.-]+)`).FindAllStringSubmatch(string(example), -1)
	if len(refs) == 0 {
		t.Fatal("configs/example.yml reads no credential from ${CREDENTIALS_DIRECTORY}: update this test")
	}
	for _, r := range refs {
		if !loaded[r[1]] {
			t.Errorf("configs/example.yml reads ${CREDENTIALS_DIRECTORY}/%s, which no LoadCredential= provides", r[1])
		}
	}

	// The flags ExecStart= passes are ones `meetnoc run` has.
	help, _ := exec.Command(meetnocBinary(t), "run", "--help").CombinedOutput()
	if !strings.Contains(string(help), "--config.file") {
		t.Errorf("meetnoc run --help does not list --config.file:\n%s", help)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
