package nat64

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The destination of the tayga tests. TAYGA, as RFC 6052 §3.1 asks, will not
// translate private or documentation IPv4 addresses (10/8, 192.0.2/24,
// 198.18/15, …) through the well-known prefix 64:ff9b::/96; 100.64.0.0/10
// (RFC 6598) is not on its list. It lives only inside the test's namespace.
const (
	taygaDest  = "100.64.0.1"
	taygaSynth = "64:ff9b::6440:1"
	taygaPool  = "192.168.255.0/24" // the IPv4 addresses TAYGA gives IPv6 clients
)

// tayga is Debian's TAYGA, a user-space stateless NAT64 on a tun device,
// running inside a test namespace.
type tayga struct {
	t    *testing.T
	ns   *testNetns
	bin  string
	conf string
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{}
}

// newTayga sets up the namespace as a NAT64 host: the tun device "nat64",
// routes for the prefix and the pool into it, an IPv6 client address
// 2001:db8:1::1 and the IPv4 destination, both on lo; and starts TAYGA.
func newTayga(t *testing.T, ns *testNetns) *tayga {
	t.Helper()
	bin := testenv.Require(t, "tayga")[0]
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testenv.Missing(t, "TAYGA needs /dev/net/tun: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "tayga.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"tun-device nat64",
		"ipv4-addr 192.168.255.1",
		"ipv6-addr 2001:db8:ffff::1",
		"prefix 64:ff9b::/96",
		"dynamic-pool " + taygaPool,
		"data-dir " + dir,
	}, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := &tayga{t: t, ns: ns, bin: bin, conf: conf}
	// A persistent tun device, so that the routes stay when TAYGA stops, as they
	// do when a NAT64 box's daemon dies.
	if out, err := exec.Command("ip", "netns", "exec", ns.Name, bin, "-c", conf, "--mktun").CombinedOutput(); err != nil {
		testenv.Missing(t, "tayga --mktun in a namespace: %v: %s", err, out)
	}
	ns.IP("link", "set", "nat64", "up")
	ns.IP("-6", "addr", "add", "2001:db8:1::1/128", "dev", "lo")
	ns.IP("addr", "add", taygaDest+"/32", "dev", "lo")
	ns.IP("route", "add", taygaPool, "dev", "nat64")
	ns.IP("-6", "route", "add", "64:ff9b::/96", "dev", "nat64")
	tg.start()
	t.Cleanup(func() {
		tg.stop()
		if t.Failed() {
			t.Logf("tayga output:\n%s", tg.out.String())
		}
	})
	return tg
}

func (tg *tayga) start() {
	tg.t.Helper()
	tg.out = &testenv.SyncBuffer{}
	// -d: stay in the foreground and log to stderr.
	tg.cmd = exec.Command("ip", "netns", "exec", tg.ns.Name, tg.bin, "-c", tg.conf, "-d")
	tg.cmd.Stdout, tg.cmd.Stderr = tg.out, tg.out
	if err := tg.cmd.Start(); err != nil {
		tg.t.Fatal(err)
	}
	tg.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(tg.cmd, tg.done)
	// The tun device has carrier once TAYGA holds it open.
	waitFor(tg.t, 5*time.Second, "TAYGA to open its tun device", func() bool {
		select {
		case <-tg.done:
			tg.t.Fatalf("tayga exited: %s", tg.out.String())
		default:
		}
		out, _ := exec.Command("ip", "-n", tg.ns.Name, "link", "show", "nat64").Output()
		return strings.Contains(string(out), "LOWER_UP")
	})
}

func (tg *tayga) stop() {
	if tg.cmd == nil {
		return
	}
	// `ip netns exec` execs tayga, so the signal reaches it.
	tg.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tg.done:
	case <-time.After(5 * time.Second):
		tg.cmd.Process.Kill()
		<-tg.done
	}
	tg.cmd = nil
}

// TestTayga probes through a real NAT64: TAYGA translates the SYN to
// 64:ff9b::6440:1 into IPv4 to 100.64.0.1 and the answer back. Then the
// listener goes (refused: the path still works), TAYGA stops (NAT64 broken),
// and the destination goes (destination down).
func TestTayga(t *testing.T) {
	ns := newNetns(t)
	tg := newTayga(t, ns)
	// Ping sockets allowed for every group in this namespace (the default, "1 0",
	// allows none; TestICMPPermissions covers that).
	ns.sysctl("net/ipv4/ping_group_range", "0 2147483647")

	ln := ns.listen("tcp4", taygaDest+":0")
	target := tgt("tayga", ln.addr.String())
	target.ICMP = true
	target.SourceAddress = netip.MustParseAddr("2001:db8:1::1")
	// The target's own netns key, as a probe host's config names the namespace
	// that holds an SSID's leg; not the tests' Options.Netns hook.
	target.Netns = ns.Name
	p, err := New(testConfig(time.Second, 500*time.Millisecond, target), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}

	probe := func(wantVerdict, wantNAT64, wantIPv4 string) TargetStatus {
		t.Helper()
		p.probeAll(context.Background())
		s := status(t, p, "tayga")
		if s.Verdict != wantVerdict || s.NAT64.Result != wantNAT64 || s.IPv4.Result != wantIPv4 {
			t.Fatalf("verdict %q (nat64 %s %q, ipv4 %s %q), want %q (nat64 %s, ipv4 %s)",
				s.Verdict, s.NAT64.Result, s.NAT64.Error, s.IPv4.Result, s.IPv4.Error, wantVerdict, wantNAT64, wantIPv4)
		}
		return s
	}

	s := probe(VerdictOK, ResultOK, ResultOK)
	if s.Synthesized != fmt.Sprintf("[%s]:%d", taygaSynth, ln.addr.Port) {
		t.Errorf("synthesized %s", s.Synthesized)
	}
	if s.ICMP6 == nil || s.ICMP6.Result != ResultOK || s.ICMP4 == nil || s.ICMP4.Result != ResultOK {
		t.Errorf("echo through TAYGA and direct: %+v %+v", s.ICMP6, s.ICMP4)
	}
	// TAYGA really translated: the IPv4 listener saw one connection from an
	// address of TAYGA's pool (the IPv6 probe) and one from itself (direct).
	// The probe's handshake completes before the listener's Accept returns.
	waitFor(t, 2*time.Second, "the listener to accept both probes", func() bool { return len(ln.peers()) >= 2 })
	pool := netip.MustParsePrefix(taygaPool)
	var translated, direct int
	for _, peer := range ln.peers() {
		switch {
		case pool.Contains(peer):
			translated++
		case peer == netip.MustParseAddr(taygaDest):
			direct++
		}
	}
	if translated != 1 || direct != 1 {
		t.Errorf("listener saw %v: want one peer in %s (through TAYGA) and one %s (direct)", ln.peers(), pool, taygaDest)
	}
	for metric, want := range map[string]float64{
		"meetnoc_nat64_probe_success":      1,
		"meetnoc_nat64_ipv4_probe_success": 1,
	} {
		if v, ok := metricValue(t, p, metric, map[string]string{"target": "tayga"}); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", metric, v, ok, want)
		}
	}
	if v, ok := metricValue(t, p, "meetnoc_nat64_icmp_probe_success", map[string]string{"target": "tayga", "path": PathNAT64}); !ok || v != 1 {
		t.Errorf("icmp success nat64 = %v (present %v), want 1", v, ok)
	}

	// No listener: the RST comes back through TAYGA; both paths work.
	ln.stop()
	s = probe(VerdictOK, ResultRefused, ResultRefused)
	if !s.NAT64.Reachable || s.NAT64.Note == "" {
		t.Errorf("refused: %+v", s.NAT64)
	}

	// TAYGA stops; its tun device and routes stay, so packets vanish into it.
	tg.stop()
	s = probe(VerdictNAT64Broken, ResultTimeout, ResultRefused)
	if s.ICMP6.Result != ResultTimeout || s.ICMP4.Result != ResultOK {
		t.Errorf("echo with TAYGA stopped: nat64 %+v ipv4 %+v", s.ICMP6, s.ICMP4)
	}
	if v, _ := metricValue(t, p, "meetnoc_nat64_probe_success", map[string]string{"target": "tayga"}); v != 0 {
		t.Errorf("success with TAYGA stopped = %v, want 0", v)
	}

	// TAYGA back, the destination gone: no route here for the IPv4 probe, and
	// the translated packet is dropped (the namespace does not forward).
	tg.start()
	ns.IP("addr", "del", taygaDest+"/32", "dev", "lo")
	probe(VerdictDestinationDown, ResultTimeout, ResultUnreachable)

	if problems, err := testutil.CollectAndLint(p); err != nil || len(problems) > 0 {
		t.Errorf("CollectAndLint: %v %v", err, problems)
	}
}
