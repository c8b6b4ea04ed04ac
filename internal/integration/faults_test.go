package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/collectors/snmp"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// blackHole is a UDP socket that takes requests and never answers: an agent that
// has hung, or a firewall that drops.
func blackHole(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// faultEnv is one collector with a healthy target and targets for every fault, so
// that each fault can be followed by a poll of the healthy target.
type faultEnv struct {
	c       *snmp.Collector
	healthy string
	okPolls float64
}

// checkHealthy polls the healthy target and checks that it still succeeds and its
// ok count went up by one.
func (f *faultEnv) checkHealthy(t *testing.T) {
	t.Helper()
	pollOK(t, f.c, f.healthy)
	e := gather(t, f.c)
	n := e.polls(f.healthy, "ok")
	if n != f.okPolls+1 {
		t.Errorf("healthy target: %v ok polls, want %v", n, f.okPolls+1)
	}
	f.okPolls = n
	if got := len(e.series("meetnoc_interface_up", map[string]string{"target": f.healthy})); got == 0 {
		t.Error("healthy target exports no interfaces")
	}
}

// checkFailed checks a failed target's status and exposition: the result, a
// message naming the agent and containing want, snmp_up 0, and no data series.
func checkFailed(t *testing.T, c *snmp.Collector, target, addr, result string, want ...string) {
	t.Helper()
	st := pollFail(t, c, target)
	if st.LastResult != result {
		t.Errorf("%s: result %q, want %q (error %q)", target, st.LastResult, result, st.LastError)
	}
	for _, w := range append([]string{addr}, want...) {
		if !strings.Contains(st.LastError, w) {
			t.Errorf("%s: error %q does not contain %q", target, st.LastError, w)
		}
	}
	e := gather(t, c)
	tl := map[string]string{"target": target}
	e.expectValue(t, "meetnoc_snmp_up", tl, 0)
	if n := e.polls(target, result); n < 1 {
		t.Errorf("%s: meetnoc_snmp_polls_total{result=%q} = %v", target, result, n)
	}
	for name := range e {
		if strings.HasPrefix(name, "meetnoc_interface_") || strings.HasPrefix(name, "meetnoc_host_") {
			if s := e.series(name, tl); len(s) != 0 {
				t.Errorf("%s: %s still exported after a failed poll", target, name)
			}
		}
	}
}

func TestFaults(t *testing.T) {
	// One agent serves the healthy target, the wrong community and a restricted
	// view; others are stopped or restarted by the subtests.
	agent := testenv.StartSnmpd(t, testenv.SnmpdOptions{
		Community: "healthy",
		Extra: []string{
			// "partial" sees the system group, the interface names and state,
			// ifHCInOctets of ifIndex 1 only, hrSystemUptime and the snmpEngine
			// group: every other walk ends at once (the next OID is outside its
			// column), and every other scalar is noSuchObject. The view must not end
			// inside a walked column: net-snmp 5.9.3 hangs on a GETBULK that runs
			// into the end of a view (endOfMibView).
			"view partial included .1.3.6.1.2.1.1",
			"view partial included .1.3.6.1.2.1.2.2.1.2",
			"view partial included .1.3.6.1.2.1.2.2.1.8",
			"view partial included .1.3.6.1.2.1.31.1.1.1.1",
			"view partial included .1.3.6.1.2.1.31.1.1.1.6.1",
			"view partial included .1.3.6.1.2.1.25.1.1",
			"view partial included .1.3.6.1.6.3.10.2.1",
			"rocommunity partial 127.0.0.1 -V partial",
		},
	})
	down := testenv.StartSnmpd(t, testenv.SnmpdOptions{Community: "public"})
	restart := testenv.StartSnmpd(t, testenv.SnmpdOptions{Community: "public", Users: []testenv.SnmpUser{userSHA256}})
	hole := blackHole(t)

	wrongAuth, wrongPriv := userSHA256, userSHA256
	wrongAuth.AuthPassword = "not-the-auth-password"
	wrongPriv.PrivPassword = "not-the-priv-password"
	cfg := "meeting: {name: faults}\nsnmp:\n  timeout: 1s\n  retries: 0\n  auths:\n" +
		"    healthy: {version: 2c, community: healthy}\n" +
		"    public: {version: 2c, community: public}\n" +
		"    partial: {version: 2c, community: partial}\n" +
		"    wrong: {version: 2c, community: not-the-community}\n" +
		v3AuthYAML("v3", userSHA256) + v3AuthYAML("wrongauth", wrongAuth) + v3AuthYAML("wrongpriv", wrongPriv) +
		"  targets:\n" +
		targetYAML("healthy", agent.Addr(), "healthy", "if_mib") +
		targetYAML("partial", agent.Addr(), "partial", "if_mib", "host") +
		targetYAML("wrong-community", agent.Addr(), "wrong", "if_mib") +
		targetYAML("down", down.Addr(), "public", "if_mib") +
		targetYAML("restart-v2c", restart.Addr(), "public", "if_mib") +
		targetYAML("restart-v3", restart.Addr(), "v3", "if_mib") +
		targetYAML("wrong-auth", restart.Addr(), "wrongauth", "if_mib") +
		targetYAML("wrong-priv", restart.Addr(), "wrongpriv", "if_mib") +
		fmt.Sprintf("    - {name: hung, address: %q, auth: public, profiles: [if_mib], timeout: 300ms, retries: 1}\n", hole)
	c, _ := newCollector(t, cfg)
	f := &faultEnv{c: c, healthy: "healthy"}
	f.checkHealthy(t)

	t.Run("agent down", func(t *testing.T) {
		pollOK(t, c, "down")
		if n := len(gather(t, c).series("meetnoc_interface_up", map[string]string{"target": "down"})); n == 0 {
			t.Fatal("no interfaces before the agent went down")
		}
		down.Stop()
		// On loopback a stopped agent's port answers ICMP port unreachable.
		checkFailed(t, c, "down", down.Addr(), "timeout", "no response")
		f.checkHealthy(t)
	})

	t.Run("agent restarted", func(t *testing.T) {
		for _, target := range []string{"restart-v2c", "restart-v3"} {
			st := pollOK(t, c, target)
			if st.AgentRestarts != 0 {
				t.Errorf("%s: %d restarts before any", target, st.AgentRestarts)
			}
		}
		time.Sleep(1100 * time.Millisecond) // sysUpTime past 100 ticks
		for _, target := range []string{"restart-v2c", "restart-v3"} {
			pollOK(t, c, target)
		}
		if err := restart.Restart(); err != nil {
			t.Fatal(err)
		}
		// v3 too: the agent's engine boots went up, and the poller must
		// resynchronise rather than fail.
		for _, target := range []string{"restart-v2c", "restart-v3"} {
			st := pollOK(t, c, target)
			if st.AgentRestarts != 1 {
				t.Errorf("%s: %d agent restarts counted, want 1", target, st.AgentRestarts)
			}
		}
		f.checkHealthy(t)
	})

	t.Run("wrong community", func(t *testing.T) {
		// net-snmp drops a request with an unknown community: a timeout.
		checkFailed(t, c, "wrong-community", agent.Addr(), "timeout", "no response")
		f.checkHealthy(t)
	})

	t.Run("wrong v3 keys", func(t *testing.T) {
		// A wrong auth key: net-snmp answers with a Report the poller cannot
		// authenticate.
		checkFailed(t, c, "wrong-auth", restart.Addr(), "auth", userSHA256.Name, "auth_protocol (SHA256)")
		// A wrong priv key: net-snmp drops what it cannot decrypt without a
		// Report, so all the poller sees is silence.
		checkFailed(t, c, "wrong-priv", restart.Addr(), "timeout", "no response", "credentials")
		f.checkHealthy(t)
	})

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		checkFailed(t, c, "hung", hole, "timeout", "no response")
		// Two tries of 300 ms, not the 1 s default: the target's own timeout counts.
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the hung target took %v to time out", d)
		}
		f.checkHealthy(t)
	})

	t.Run("walks cut short and noSuchObject", func(t *testing.T) {
		// Not an error: an agent may show a part of its MIB.
		pollOK(t, c, "partial")
		e := gather(t, c)
		tl := map[string]string{"target": "partial"}
		// Every interface is there (ifOperStatus is in the view) …
		if got, want := e.labelValues("meetnoc_interface_up", "interface", tl), hostInterfaces(t); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("partial: interfaces %q, want %q", got, want)
		}
		// … but the ifHCInOctets walk ends after ifIndex 1 (lo), and the 32-bit
		// fallback is outside the view: one receive series, no transmit series.
		if got := e.labelValues("meetnoc_interface_receive_bytes_total", "interface", tl); strings.Join(got, ",") != "lo" {
			t.Errorf("partial: receive bytes for %q, want only lo", got)
		}
		if s := e.series("meetnoc_interface_transmit_bytes_total", tl); len(s) != 0 {
			t.Errorf("partial: %d transmit series from a view without them", len(s))
		}
		// ifAlias is outside the view: the label falls back to the row index.
		if got := e.labelValues("meetnoc_interface_up", "alias", map[string]string{"target": "partial", "interface": "lo"}); strings.Join(got, ",") != "1" {
			t.Errorf("partial: alias of lo %q, want its ifIndex 1", got)
		}
		// UCD memory is noSuchObject: no series; hrSystemUptime is in the view.
		if s := e.series("meetnoc_host_memory_total_bytes", tl); len(s) != 0 {
			t.Error("partial: memory exported though the agent answered noSuchObject")
		}
		if up := e.value(t, "meetnoc_host_uptime_seconds", tl); up <= 0 {
			t.Errorf("partial: uptime %v", up)
		}
		f.checkHealthy(t)
	})
}

// bigRecording writes a recording of a switch with n interfaces: ifDescr,
// ifOperStatus, ifName, 64-bit octet counters, ifHighSpeed and ifAlias.
func bigRecording(t *testing.T, dir, name string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("1.3.6.1.2.1.1.1.0|4|meetnoc test recording: a switch with many interfaces\n")
	b.WriteString("1.3.6.1.2.1.1.3.0|67|4242\n")
	col := func(oid, tag string, val func(i int) string) {
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%s.%d|%s|%s\n", oid, i, tag, val(i))
		}
	}
	col(ifDescr, "4", func(i int) string { return fmt.Sprintf("Ethernet%d", i) })
	col(ifOperStatus, "2", func(i int) string { return fmt.Sprint(1 + i%2) })
	col(ifName, "4", func(i int) string { return fmt.Sprintf("Et%d", i) })
	col(ifHCInOctets, "70", func(i int) string { return fmt.Sprint(uint64(i) * 1_000_003) })
	col(ifHCOutOctets, "70", func(i int) string { return fmt.Sprint(uint64(i) * 2_000_003) })
	col(ifHighSpeed, "66", func(i int) string { return "10000" })
	col(ifAlias, "4", func(i int) string { return fmt.Sprintf("port %d", i) })
	if err := os.WriteFile(filepath.Join(dir, name+".snmprec"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestThousandInterfaces(t *testing.T) {
	dir := t.TempDir()
	bigRecording(t, dir, "big", 1000)
	rec := testenv.ReadSnmprec(t, filepath.Join(dir, "big.snmprec"))
	sim := testenv.StartSnmpsim(t, dir)
	c, _ := newCollector(t, snmpsimConfig([]string{"big"}, targetYAML("big-switch", sim.Addr(), "big", "if_mib")))
	start := time.Now()
	st := pollOK(t, c, "big-switch")
	t.Logf("1,000 interfaces: %d varbinds, %d samples in %v", st.Varbinds, st.Samples, time.Since(start))
	e := gather(t, c)
	if n := checkIfMib(t, e, rec, "big-switch"); n != 1000 {
		t.Fatalf("recording has %d interfaces", n)
	}
	for _, m := range []string{"meetnoc_interface_up", "meetnoc_interface_receive_bytes_total", "meetnoc_interface_transmit_bytes_total", "meetnoc_interface_speed_bytes"} {
		if got := len(e.series(m, nil)); got != 1000 {
			t.Errorf("%s: %d series, want 1000", m, got)
		}
	}
	e.expectValue(t, "meetnoc_interface_receive_bytes_total", map[string]string{"interface": "Et1000", "alias": "port 1000"}, 1000*1_000_003)
}

// TestSchedulingDeadTargetDoesNotDelayOthers runs the scheduler: a healthy target
// keeps its interval while a hung one times out on every poll.
func TestSchedulingDeadTargetDoesNotDelayOthers(t *testing.T) {
	agent := testenv.StartSnmpd(t, testenv.SnmpdOptions{Community: "public"})
	hole := blackHole(t)
	cfg := "meeting: {name: scheduling}\nsnmp:\n  interval: 1s\n  jitter: 0\n  timeout: 400ms\n  retries: 1\n  auths:\n" +
		"    public: {version: 2c, community: public}\n  targets:\n" +
		targetYAML("alive", agent.Addr(), "public", "if_mib") +
		targetYAML("hung", hole, "public", "if_mib")
	c, _ := newCollector(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(3500 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
	}
	e := gather(t, c)
	// In 3.5 s at a 1 s interval the live target polls 3 or 4 times, while every
	// poll of the hung one takes 800 ms (two tries of 400 ms) and fails.
	if n := e.polls("alive", "ok"); n < 3 {
		t.Errorf("alive: %v ok polls in 3.5 s at a 1 s interval", n)
	}
	if n := e.polls("hung", "timeout"); n < 1 {
		t.Errorf("hung: %v timeouts", n)
	}
	if st := status(t, c, "hung"); st.LastResult != "timeout" {
		t.Errorf("hung: result %q", st.LastResult)
	}
}
