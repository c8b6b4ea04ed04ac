// Package testenv starts the real components that meetnoc's tests run against —
// net-snmp's snmpd, snmpsim's snmpsimd, Prometheus's promtool — on loopback with
// random free ports, and finds the shared test data beside the repository.
//
// It is used only by tests. A missing component fails the test under CI=true (so a
// broken CI image cannot pass by skipping) and skips it elsewhere, naming the
// Debian package that provides it.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// aptPackages maps a binary to the Debian package that ships it.
var aptPackages = map[string]string{
	"snmpd":           "snmpd",
	"snmpsimd":        "snmpsim",
	"promtool":        "prometheus",
	"snmpget":         "snmp",
	"snmpwalk":        "snmp",
	"tshark":          "tshark",
	"unbound":         "unbound",
	"prometheus":      "prometheus",
	"chromium":        "chromium",
	"amtool":          "prometheus-alertmanager",
	"tayga":           "tayga",
	"ip":              "iproute2",
	"systemd-analyze": "systemd",
}

// InCI reports whether the tests run in CI (CI=true), where a missing component is
// an error rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// LookPath finds a binary in PATH, then in /usr/sbin and /usr/bin (which a non-root
// PATH often lacks, and snmpd lives in /usr/sbin).
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Require looks up every binary and returns their paths in order. A missing one
// fails the test under CI=true and skips it otherwise.
func Require(t testing.TB, binaries ...string) []string {
	t.Helper()
	paths := make([]string, len(binaries))
	for i, b := range binaries {
		p, err := LookPath(b)
		if err != nil {
			pkg := aptPackages[b]
			if pkg == "" {
				pkg = b
			}
			Missing(t, "%s not found in PATH, /usr/sbin or /usr/bin: install it with `apt-get install %s`", b, pkg)
		}
		paths[i] = p
	}
	return paths
}

// Missing reports a missing test prerequisite: t.Fatalf under CI=true, t.Skipf
// otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot is the directory holding go.mod, found by walking up from the test's
// working directory (its package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SharedTestdata is ../shared/testdata beside the repository: real recordings and
// captures from other projects, which may not be copied into the repository.
func SharedTestdata(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "testdata")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		Missing(t, "shared test data not found at %s", dir)
	}
	return dir
}

// SharedSnmprec is the path of one shared snmpsim recording, e.g. "ios_2960x".
func SharedSnmprec(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(SharedTestdata(t), "snmprec", strings.TrimSuffix(name, ".snmprec")+".snmprec")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared recording %s: %v", name, err)
	}
	return p
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago (and on
// [::1] too, where the host has IPv6 loopback, so an agent can listen on both).
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c6, err := net.ListenPacket("udp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		c.Close()
		if err == nil {
			c6.Close()
			return port
		}
		if !ipv6Loopback() {
			return port
		}
	}
	t.Fatal("no UDP port free on both 127.0.0.1 and [::1]")
	return 0
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ipv6Loopback reports whether [::1] can be bound at all.
func ipv6Loopback() bool {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// RequireIPv6 skips (or under CI fails) a test that needs [::1].
func RequireIPv6(t testing.TB) {
	t.Helper()
	if !ipv6Loopback() {
		Missing(t, "IPv6 loopback [::1] is not available")
	}
}
