// Package systemd holds meetnoc's systemd unit (meetnoc.service) and the checks
// systemd-analyze applies to it, shared by this package's test (the unit in the
// repository) and packaging's (the unit as installed by the .deb).
//
// Both checks run against a root directory (systemd-analyze --root) laid out as the
// installed system: the unit at UnitPath and the binary at /usr/bin/meetnoc, so that
// verify proves ExecStart= names the binary the package installs. They need no
// running systemd, so they work in a container whose PID 1 is not systemd.
package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// UnitName is the unit's name; UnitPath is where the package installs it.
const (
	UnitName = "meetnoc.service"
	UnitPath = "/usr/lib/systemd/system/" + UnitName
)

// MaxExposure is the highest `systemd-analyze security` exposure the unit may have.
const MaxExposure = 2.0

// hostUnitDirs are where the host's systemd keeps its own units (merged /usr or not).
var hostUnitDirs = []string{"/usr/lib/systemd/system", "/lib/systemd/system"}

// ProvideHost adds to root what the unit relies on from the rest of a Debian system
// and the package does not ship: systemd's target units (verify loads the unit's
// dependencies, and DefaultDependencies= pulls in sysinit.target, basic.target and
// shutdown.target) and kill(1) for ExecReload= (procps, a dependency of the .deb).
// Files already in root are left alone.
func ProvideHost(t testing.TB, root string) {
	t.Helper()
	kill := require(t, "kill", "procps")
	var hostDir string
	for _, d := range hostUnitDirs {
		if m, _ := filepath.Glob(filepath.Join(d, "*.target")); len(m) > 0 {
			hostDir = d
			break
		}
	}
	if hostDir == "" {
		testenv.Missing(t, "no systemd target units in %s: install them with `apt-get install systemd`", strings.Join(hostUnitDirs, " or "))
	}
	targets, err := filepath.Glob(filepath.Join(hostDir, "*.target"))
	if err != nil {
		t.Fatal(err)
	}
	unitDir := filepath.Join(root, filepath.Dir(UnitPath))
	for _, src := range targets {
		// Aliases (symlinks such as default.target) point at host paths that would
		// not resolve inside root; the units they name are copied in their own right.
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		copyFile(t, src, filepath.Join(unitDir, filepath.Base(src)), 0o644)
	}
	copyFile(t, kill, filepath.Join(root, "usr", "bin", "kill"), 0o755)
}

// require finds a binary like testenv.Require, naming the Debian package that
// ships it when it is missing (testenv's table does not know these two).
func require(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := testenv.LookPath(bin)
	if err != nil {
		testenv.Missing(t, "%s not found in PATH, /usr/sbin or /usr/bin: install it with `apt-get install %s`", bin, pkg)
	}
	return p
}

// copyFile copies src to dst (making its directory) unless dst exists.
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	if _, err := os.Lstat(dst); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// analyze runs systemd-analyze with args and returns what it printed, stdout and
// stderr together, and its exit error.
func analyze(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := require(t, "systemd-analyze", "systemd")
	cmd := exec.Command(bin, args...)
	// Plain text, no pager, no colours: the output is parsed.
	cmd.Env = append(os.Environ(), "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "SYSTEMD_LOG_COLOR=0", "TERM=dumb")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Verify runs `systemd-analyze verify --root=root UnitPath` and returns its output,
// which is empty for a unit without problems. An exit status other than 0 is
// reported as an error too (with the output, which says why).
func Verify(t testing.TB, root string) (string, error) {
	t.Helper()
	out, err := analyze(t, "verify", "--root="+root, UnitPath)
	if err != nil {
		return out, fmt.Errorf("systemd-analyze verify: %w", err)
	}
	return out, nil
}

var exposureRE = regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(UnitName) + `: ([0-9]+(?:\.[0-9]+)?)`)

// Exposure runs `systemd-analyze security --offline=true --root=root UnitPath` and
// returns the overall exposure (0.0 safest … 10.0) and the whole table, which names
// every setting that costs exposure.
func Exposure(t testing.TB, root string) (float64, string, error) {
	t.Helper()
	out, err := analyze(t, "security", "--offline=true", "--no-pager", "--root="+root, UnitPath)
	if err != nil {
		return 0, out, fmt.Errorf("systemd-analyze security: %w", err)
	}
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		return 0, out, errors.New("systemd-analyze security printed no overall exposure level")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, out, err
}

// Check requires that the unit in root verifies without a word and has an exposure
// of at most MaxExposure, and returns the exposure.
func Check(t testing.TB, root string) float64 {
	t.Helper()
	ProvideHost(t, root)
	out, err := Verify(t, root)
	if err != nil || out != "" {
		t.Errorf("systemd-analyze verify %s must print nothing; got (%v):\n%s", UnitPath, err, out)
	}
	exposure, table, err := Exposure(t, root)
	if err != nil {
		t.Fatalf("%v:\n%s", err, table)
	}
	if exposure > MaxExposure {
		t.Errorf("systemd-analyze security: exposure %.1f, want ≤ %.1f:\n%s", exposure, MaxExposure, table)
	}
	return exposure
}
