package integration

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// v3 users of the test agents: SHA-1 and SHA-256 authentication, both with AES.
var (
	userSHA    = testenv.SnmpUser{Name: "noc-sha", AuthProtocol: "SHA", AuthPassword: "auth-pass-sha1", PrivProtocol: "AES", PrivPassword: "priv-pass-sha1"}
	userSHA256 = testenv.SnmpUser{Name: "noc-sha256", AuthProtocol: "SHA256", AuthPassword: "auth-pass-sha256", PrivProtocol: "AES", PrivPassword: "priv-pass-sha256"}
)

// v3AuthYAML is an snmp.auths entry for a test user.
func v3AuthYAML(name string, u testenv.SnmpUser) string {
	return fmt.Sprintf("    %s: {version: \"3\", username: %s, security_level: authPriv, auth_protocol: %s, auth_password: %q, priv_protocol: %s, priv_password: %q}\n",
		name, u.Name, u.AuthProtocol, u.AuthPassword, u.PrivProtocol, u.PrivPassword)
}

// hostInterfaces are the interface names of this host, as net-snmp's ifName
// reports them on Linux.
func hostInterfaces(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		testenv.Missing(t, "no /sys/class/net: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// sysCounter reads /sys/class/net/IFACE/statistics/NAME.
func sysCounter(t *testing.T, iface, name string) float64 {
	t.Helper()
	b, err := os.ReadFile("/sys/class/net/" + iface + "/statistics/" + name)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return float64(n)
}

// memTotalKB is MemTotal from /proc/meminfo, which net-snmp reports as memTotalReal.
func memTotalKB(t *testing.T) float64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		testenv.Missing(t, "no /proc/meminfo: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

// TestNetSNMPAgent polls Debian's snmpd on this host over v2c, v3 authPriv with
// SHA/AES and SHA-256/AES, and over IPv6, and checks the loopback interface and the
// memory size against the kernel's own numbers.
func TestNetSNMPAgent(t *testing.T) {
	testenv.RequireIPv6(t)
	agent := testenv.StartSnmpd(t, testenv.SnmpdOptions{
		Community: "integration-ro",
		Users:     []testenv.SnmpUser{userSHA, userSHA256},
		IPv6:      true,
		SysName:   "noc-server-1",
	})
	cfg := "meeting: {name: integration}\nsnmp:\n  timeout: 2s\n  retries: 1\n  auths:\n" +
		"    v2: {version: 2c, community: integration-ro}\n" +
		v3AuthYAML("sha", userSHA) + v3AuthYAML("sha256", userSHA256) +
		"  targets:\n" +
		targetYAML("noc-v2c", agent.Addr(), "v2", "if_mib", "host") +
		targetYAML("noc-sha", agent.Addr(), "sha", "if_mib") +
		targetYAML("noc-sha256", agent.Addr(), "sha256", "if_mib") +
		targetYAML("noc-ipv6", agent.Addr6(), "v2", "if_mib")
	c, _ := newCollector(t, cfg)
	targets := []string{"noc-v2c", "noc-sha", "noc-sha256", "noc-ipv6"}
	for _, target := range targets {
		pollOK(t, c, target)
	}
	rxAfter := sysCounter(t, "lo", "rx_bytes")
	e := gather(t, c)

	ifaces := hostInterfaces(t)
	for _, target := range targets {
		tl := map[string]string{"target": target}
		if got := e.labelValues("meetnoc_interface_up", "interface", tl); !slices.Equal(got, ifaces) {
			t.Errorf("%s: interfaces %q, want this host's %q", target, got, ifaces)
		}
		lo := map[string]string{"target": target, "interface": "lo"}
		e.expectValue(t, "meetnoc_interface_up", lo, 1)
		e.expectValue(t, "meetnoc_interface_admin_up", lo, 1)
		// The loopback has carried at least this poll's packets, and no more than
		// the kernel counted after it.
		if rx := e.value(t, "meetnoc_interface_receive_bytes_total", lo); rx <= 0 || rx > rxAfter {
			t.Errorf("%s: lo received %v bytes; the kernel counted %v after the poll", target, rx, rxAfter)
		}
		e.expectValue(t, "meetnoc_snmp_up", tl, 1)
		if n := e.polls(target, "ok"); n != 1 {
			t.Errorf("%s: %v ok polls counted, want 1", target, n)
		}
	}
	e.expectValue(t, "meetnoc_host_memory_total_bytes", map[string]string{"target": "noc-v2c"}, memTotalKB(t)*1024)
	if n := len(e.series("meetnoc_host_cpu_seconds_total", map[string]string{"target": "noc-v2c"})); n < 4 {
		t.Errorf("%d CPU modes from net-snmp, want at least user, nice, system, idle", n)
	}
}
