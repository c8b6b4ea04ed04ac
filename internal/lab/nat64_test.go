package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/netns"
	"github.com/meetnoc/meetnoc/internal/testenv"
	probenat64 "github.com/meetnoc/meetnoc/probes/nat64"
)

// The schedule and the forced states decide whether TAYGA should run.
func TestNAT64Want(t *testing.T) {
	clock := newTestClock(at("13:27:59"))
	b := &nat64Box{clock: clock.Now, day: newModel(clock.Now).day, faults: &faultPlan{}}
	for _, c := range []struct {
		at    string
		fault NAT64Fault
		want  bool
	}{
		{"13:27:59", NAT64Scheduled, true},
		{"13:28", NAT64Scheduled, false},
		{"13:28:59", NAT64Scheduled, false},
		{"13:29", NAT64Scheduled, true},
		{"10:28:30", NAT64Scheduled, false},
		{"10:28:30", NAT64Healthy, true},
		{"13:00", NAT64Stopped, false},
	} {
		clock.Set(at(c.at))
		b.forced.Store(uint32(c.fault))
		if got := b.want(); got != c.want {
			t.Errorf("at %s, %s: want() = %v, want %v", c.at, c.fault, got, c.want)
		}
	}
	// The test windows stay healthy.
	for _, w := range []string{"10:00", "10:14:59", "13:30", "13:44:59"} {
		clock.Set(at(w))
		b.forced.Store(uint32(NAT64Scheduled))
		if !b.want() {
			t.Errorf("NAT64 down at %s, inside a test window", w)
		}
	}
}

// TestLabNAT64 runs the lab with its NAT64 (TAYGA in a namespace) and the
// NAT64 probe on the lab's own config: healthy, then TAYGA stopped by the
// schedule, by SetNAT64Fault and by a crash the lab recovers from, and the
// namespace gone after Close.
func TestLabNAT64(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the lab's NAT64 makes a network namespace, which needs root (CI runs the tests as root)")
	}
	testenv.Require(t, "tayga", "ip")
	name := fmt.Sprintf("meetnoc-test-lab-%d", os.Getpid())
	// A namespace of that name left over (a lab that was killed) is replaced.
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	clock := newTestClock(at("13:30"))
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, Options{Now: clock.Now, NAT64Netns: name})
	if err != nil {
		cancel()
		exec.Command("ip", "netns", "del", name).Run()
		t.Fatal(err)
	}
	closed := false
	closeLab := func() {
		if !closed {
			closed = true
			cancel()
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(closeLab)
	if n.NAT64Netns() != name {
		t.Fatalf("NAT64Netns() = %q, want %q", n.NAT64Netns(), name)
	}

	path := filepath.Join(t.TempDir(), "lab.yml")
	if err := os.WriteFile(path, n.ConfigYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.NAT64Probes.Targets) != 1 {
		t.Fatalf("nat64_probes targets %+v, want one", cfg.NAT64Probes.Targets)
	}
	target := cfg.NAT64Probes.Targets[0]
	if target.Netns != name || target.Address != NAT64Target().String() || target.Prefix != labNAT64 || !target.ICMP {
		t.Fatalf("target %+v", target)
	}

	// TAYGA translates: the web server sees the probe's IPv6 client as an
	// address of TAYGA's pool.
	body := getThrough(t, name, NAT64Synthesized())
	if !strings.Contains(body, "you came from 192.168.255.") {
		t.Errorf("web server through the NAT64 said %q, want a peer in TAYGA's pool %s", body, nat64Pool)
	}

	// Probe every 300 ms rather than 10 s.
	cfg.NAT64Probes.Interval, cfg.NAT64Probes.Timeout = 300*time.Millisecond, 250*time.Millisecond
	p, err := probenat64.New(cfg, slog.New(slog.DiscardHandler), probenat64.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	stopProbe := sync.OnceFunc(func() {
		pcancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	defer stopProbe()
	expect := func(what, verdict string) probenat64.TargetStatus {
		t.Helper()
		since := time.Now()
		deadline := since.Add(10 * time.Second)
		for {
			st := p.Status()
			if len(st) == 1 && st[0].Verdict == verdict && st[0].LastProbe.After(since) {
				return st[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v, want verdict %q", what, st, verdict)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	s := expect("healthy", probenat64.VerdictOK)
	if s.ICMP6 == nil || s.ICMP6.Result != probenat64.ResultOK || s.Source != nat64Client.String() {
		t.Errorf("healthy: echo %+v, source %s", s.ICMP6, s.Source)
	}

	clock.Set(at("13:28:10")) // the scheduled outage
	expect("13:28", probenat64.VerdictNAT64Broken)
	clock.Set(at("13:29"))
	expect("13:29", probenat64.VerdictOK)

	n.SetNAT64Fault(NAT64Stopped)
	expect("forced stop", probenat64.VerdictNAT64Broken)
	n.SetNAT64Fault(NAT64Scheduled)
	expect("back on schedule", probenat64.VerdictOK)

	// TAYGA dies; the supervisor starts another.
	n.nat64.mu.Lock()
	old := n.nat64.cmd.Process.Pid
	n.nat64.cmd.Process.Kill()
	n.nat64.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n.nat64.mu.Lock()
		restarted := n.nat64.running && n.nat64.cmd != nil && n.nat64.cmd.Process.Pid != old
		n.nat64.mu.Unlock()
		if restarted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("TAYGA not started again within 10 s after it was killed")
		}
	}
	expect("after a crash", probenat64.VerdictOK)

	stopProbe()
	closeLab()
	if _, err := os.Stat(netns.Path(name)); !os.IsNotExist(err) {
		t.Errorf("namespace %s after Close: %v, want it gone", name, err)
		exec.Command("ip", "netns", "del", name).Run()
	}
}

// getThrough fetches / from dst with a connection made inside the namespace,
// from the lab's client address.
func getThrough(t *testing.T, ns string, dst netip.AddrPort) string {
	t.Helper()
	var conn net.Conn
	err := netns.Do(netns.Path(ns), func() error {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: nat64Client.AsSlice()}}
		var err error
		conn, err = d.Dial("tcp6", dst.String())
		return err
	})
	if err != nil {
		t.Fatalf("connect to %s through the NAT64: %v", dst, err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil },
	}}
	resp, err := client.Get("http://" + dst.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
