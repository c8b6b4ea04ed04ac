package nat64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/meetnoc/meetnoc/internal/config"
)

var wkp = netip.MustParsePrefix("64:ff9b::/96")

func testConfig(interval, timeout time.Duration, targets ...config.NAT64Target) *config.Config {
	return &config.Config{
		NAT64Prefixes: []netip.Prefix{wkp},
		NAT64Probes:   config.NAT64Probes{Interval: interval, Timeout: timeout, Targets: targets},
	}
}

func tgt(name, address string) config.NAT64Target {
	return config.NAT64Target{Name: name, Address: address, Prefix: wkp}
}

// newNetnsProber is a prober whose every socket is made inside ns.
func newNetnsProber(t *testing.T, ns *testNetns, cfg *config.Config) *Prober {
	t.Helper()
	p, err := New(cfg, nil, Options{Netns: ns.Do})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// probeAll (for tests) probes every target once, concurrently, and returns when all are done.
func (p *Prober) probeAll(ctx context.Context) {
	p.mu.Lock()
	ts := make([]*target, 0, len(p.order))
	for _, name := range p.order {
		ts = append(ts, p.targets[name])
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() { p.probeTarget(ctx, t) })
	}
	wg.Wait()
}

func status(t *testing.T, p *Prober, name string) TargetStatus {
	t.Helper()
	for _, s := range p.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for target %q", name)
	return TargetStatus{}
}

// metricValue gathers p and returns the value of the series of name whose
// labels include want, and whether there is one.
func metricValue(t *testing.T, p *Prober, name string, want map[string]string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

func TestVerdict(t *testing.T) {
	r := func(s string) pathResult { return pathResult{probed: true, result: s} }
	cases := []struct {
		nat64, ipv4 string
		want        string
	}{
		{ResultOK, ResultOK, VerdictOK},
		{ResultRefused, ResultOK, VerdictOK}, // refused: the destination answered
		{ResultRefused, ResultRefused, VerdictOK},
		{ResultTimeout, ResultOK, VerdictNAT64Broken},
		{ResultUnreachable, ResultRefused, VerdictNAT64Broken},
		{ResultOK, ResultTimeout, VerdictIPv4Broken},
		{ResultRefused, ResultUnreachable, VerdictIPv4Broken},
		{ResultTimeout, ResultTimeout, VerdictDestinationDown},
		{ResultError, ResultUnreachable, VerdictDestinationDown},
		{ResultError, ResultError, VerdictCannotProbe}, // e.g. its netns is missing
	}
	for _, c := range cases {
		if got := verdict([2]pathResult{r(c.nat64), r(c.ipv4)}, 1); got != c.want {
			t.Errorf("verdict(nat64 %s, ipv4 %s) = %q, want %q", c.nat64, c.ipv4, got, c.want)
		}
	}
	if got := verdict([2]pathResult{}, 0); got != VerdictPending {
		t.Errorf("verdict before the first round = %q, want %q", got, VerdictPending)
	}
}

func TestClassify(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp6", Err: os.NewSyscallError("connect", err)}
	}
	cases := []struct {
		err  error
		want string
	}{
		{nil, ResultOK},
		{op(syscall.ECONNREFUSED), ResultRefused},
		{op(syscall.EHOSTUNREACH), ResultUnreachable},
		{op(syscall.ENETUNREACH), ResultUnreachable},
		{op(syscall.ETIMEDOUT), ResultTimeout},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), ResultTimeout},
		{op(syscall.EADDRNOTAVAIL), ResultError}, // source_address not on this host
		{errors.New("something else"), ResultError},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, tc := range []config.NAT64Target{
		{Name: "a", Address: "192.0.2.1", Prefix: wkp}, // no port
		{Name: "a", Address: "192.0.2.1:80", Prefix: netip.MustParsePrefix("64:ff9b::/80")},
		{Name: "a", Address: "[2001:db8::1]:80", Prefix: wkp},
	} {
		if _, err := New(testConfig(time.Second, 100*time.Millisecond, tc), nil, Options{}); err == nil {
			t.Errorf("New accepted %+v", tc)
		}
	}
	if _, err := New(testConfig(time.Second, 100*time.Millisecond, tgt("a", "192.0.2.1:80"), tgt("a", "192.0.2.2:80")), nil, Options{}); err == nil {
		t.Error("New accepted two targets of one name")
	}
}

// TestApplyKeepsUnchangedTargets needs no network: it never runs a probe, it
// sets results as a round would.
func TestApplyKeepsUnchangedTargets(t *testing.T) {
	cfg := testConfig(time.Second, 100*time.Millisecond, tgt("keep", "192.0.2.1:443"), tgt("change", "192.0.2.2:443"), tgt("drop", "192.0.2.3:443"))
	p, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := status(t, p, "keep"); s.Verdict != VerdictPending || s.Synthesized != "[64:ff9b::c000:201]:443" {
		t.Fatalf("before any probe: %+v", s)
	}
	keep := p.targets["keep"]
	keep.tcp = [2]pathResult{{probed: true, result: ResultOK}, {probed: true, result: ResultTimeout}}
	keep.round = 3
	p.probes.WithLabelValues("keep", PathNAT64, ResultOK).Add(3)
	p.probes.WithLabelValues("drop", PathNAT64, ResultOK).Add(1)

	changed := tgt("change", "192.0.2.2:80")
	changed.ICMP = true
	next := testConfig(time.Second, 100*time.Millisecond, tgt("keep", "192.0.2.1:443"), changed, tgt("new", "192.0.2.4:443"))
	if err := p.Apply(next); err != nil {
		t.Fatal(err)
	}
	if p.targets["keep"] != keep {
		t.Error("Apply replaced an unchanged target")
	}
	if s := status(t, p, "keep"); s.Verdict != VerdictIPv4Broken {
		t.Errorf("unchanged target lost its results: verdict %q", s.Verdict)
	}
	if got := testutil.ToFloat64(p.probes.WithLabelValues("keep", PathNAT64, ResultOK)); got != 3 {
		t.Errorf("unchanged target's counter = %v, want 3", got)
	}
	if s := status(t, p, "change"); s.Address != "192.0.2.2:80" || s.ICMP6 == nil {
		t.Errorf("changed target not updated: %+v", s)
	}
	if _, ok := p.targets["drop"]; ok {
		t.Error("removed target still there")
	}
	if _, ok := metricValue(t, p, "meetnoc_nat64_probes_total", map[string]string{"target": "drop"}); ok {
		t.Error("removed target's series still exported")
	}
	// A new target's counters are there at 0 before its first probe.
	if v, ok := metricValue(t, p, "meetnoc_nat64_probes_total", map[string]string{"target": "new", "path": PathIPv4, "result": ResultTimeout}); !ok || v != 0 {
		t.Errorf("new target's timeout counter = %v, %v; want 0, present", v, ok)
	}
	names := []string{}
	for _, s := range p.Status() {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "keep,change,new" {
		t.Errorf("status order %s, want config order keep,change,new", got)
	}

	// Changing the interval changes every target.
	if err := p.Apply(testConfig(2*time.Second, 100*time.Millisecond, tgt("keep", "192.0.2.1:443"))); err != nil {
		t.Fatal(err)
	}
	if p.targets["keep"] == keep {
		t.Error("Apply kept a target whose interval changed")
	}
	// A bad config changes nothing.
	if err := p.Apply(testConfig(time.Second, 100*time.Millisecond, tgt("x", "nonsense"))); err == nil {
		t.Error("Apply accepted a bad address")
	}
	if _, ok := p.targets["keep"]; !ok || len(p.targets) != 1 {
		t.Errorf("a failed Apply changed the targets: %v", p.targets)
	}
}

// TestEmulatedPaths runs in a namespace where nothing translates: the
// "synthesized" IPv6 address is simply assigned to lo beside the IPv4 one, so
// this tests the prober's paths and classification, not a NAT64 (TestTayga
// does that).
func TestEmulatedPaths(t *testing.T) {
	ns := newNetns(t)
	// ok and refused: both addresses local; the listener is dual-stack.
	ns.IP("addr", "add", "192.0.2.1/32", "dev", "lo")
	ns.IP("-6", "addr", "add", "64:ff9b::c000:201/128", "dev", "lo")
	// timeout: a tun device that no process reads, which drops everything
	// routed to it without a word.
	ns.IP("tuntap", "add", "dev", "sink", "mode", "tun")
	ns.IP("link", "set", "sink", "up")
	ns.IP("addr", "add", "198.51.100.1/24", "dev", "sink")
	ns.IP("-6", "addr", "add", "2001:db8:5::1/64", "dev", "sink", "nodad")
	ns.IP("-6", "route", "add", "64:ff9b::c633:6400/120", "dev", "sink") // 198.51.100.0/24 in the prefix
	// unreachable: routes of type unreachable, as a router without a route answers.
	ns.IP("route", "add", "unreachable", "203.0.113.0/24")
	ns.IP("-6", "route", "add", "unreachable", "64:ff9b::cb00:7100/120") // 203.0.113.0/24 in the prefix
	// NAT64 broken: the IPv4 address answers, its synthesized one has no route.
	ns.IP("addr", "add", "192.0.2.9/32", "dev", "lo")

	ln := ns.listen("tcp", "[::]:0")
	port := ln.addr.Port
	hp := func(ip string) string { return net.JoinHostPort(ip, fmt.Sprint(port)) }
	const timeout = 300 * time.Millisecond
	cfg := testConfig(time.Second, timeout,
		tgt("open", hp("192.0.2.1")),
		tgt("sink", hp("198.51.100.2")),
		tgt("unreach", hp("203.0.113.1")),
		tgt("nonat", hp("192.0.2.9")),
	)
	p := newNetnsProber(t, ns, cfg)
	p.probeAll(context.Background())

	check := func(name, verdict, nat64, ipv4 string) TargetStatus {
		t.Helper()
		s := status(t, p, name)
		if s.Verdict != verdict || s.NAT64.Result != nat64 || s.IPv4.Result != ipv4 {
			t.Errorf("%s: verdict %q (nat64 %s %q, ipv4 %s %q), want %q (nat64 %s, ipv4 %s)", name,
				s.Verdict, s.NAT64.Result, s.NAT64.Error, s.IPv4.Result, s.IPv4.Error, verdict, nat64, ipv4)
		}
		return s
	}
	check("open", VerdictOK, ResultOK, ResultOK)
	s := check("sink", VerdictDestinationDown, ResultTimeout, ResultTimeout)
	if s.NAT64.Duration < timeout || s.NAT64.Duration > timeout+time.Second {
		t.Errorf("timeout took %s, want about %s", s.NAT64.Duration, timeout)
	}
	check("unreach", VerdictDestinationDown, ResultUnreachable, ResultUnreachable)
	check("nonat", VerdictNAT64Broken, ResultUnreachable, ResultOK)

	for _, c := range []struct {
		target, metric string
		want           float64
	}{
		{"open", "meetnoc_nat64_probe_success", 1},
		{"open", "meetnoc_nat64_ipv4_probe_success", 1},
		{"sink", "meetnoc_nat64_probe_success", 0},
		{"nonat", "meetnoc_nat64_probe_success", 0},
		{"nonat", "meetnoc_nat64_ipv4_probe_success", 1},
	} {
		if v, ok := metricValue(t, p, c.metric, map[string]string{"target": c.target}); !ok || v != c.want {
			t.Errorf("%s{target=%q} = %v (present %v), want %v", c.metric, c.target, v, ok, c.want)
		}
	}
	if v, _ := metricValue(t, p, "meetnoc_nat64_probe_duration_seconds", map[string]string{"target": "sink"}); v < timeout.Seconds() {
		t.Errorf("sink nat64 duration %v s, want ≥ %v", v, timeout.Seconds())
	}
	if got := testutil.ToFloat64(p.probes.WithLabelValues("sink", PathIPv4, ResultTimeout)); got != 1 {
		t.Errorf("probes_total{sink,ipv4,timeout} = %v, want 1", got)
	}

	// The listener goes: a reset is still an answer from the destination.
	ln.stop()
	p.probeAll(context.Background())
	s = check("open", VerdictOK, ResultRefused, ResultRefused)
	if !s.NAT64.Reachable || !strings.Contains(s.NAT64.Note, "refused") {
		t.Errorf("refused path status %+v: want reachable with a note", s.NAT64)
	}
	if got := testutil.ToFloat64(p.probes.WithLabelValues("open", PathNAT64, ResultRefused)); got != 1 {
		t.Errorf("probes_total{open,nat64,refused} = %v, want 1", got)
	}
	if v, _ := metricValue(t, p, "meetnoc_nat64_probe_success", map[string]string{"target": "open"}); v != 1 {
		t.Errorf("success after refused = %v, want 1", v)
	}

	if problems, err := testutil.CollectAndLint(p); err != nil || len(problems) > 0 {
		t.Errorf("CollectAndLint: %v %v", err, problems)
	}
	if n := testutil.CollectAndCount(p, "meetnoc_nat64_probes_total"); n != 4*2*len(tcpResults) {
		t.Errorf("probes_total has %d series, want %d (every target × path × result)", n, 4*2*len(tcpResults))
	}
}

// TestSourceAddress binds the IPv6 probe to an address of the namespace, and
// fails it cleanly when the address is not there.
func TestSourceAddress(t *testing.T) {
	ns := newNetns(t)
	ns.IP("addr", "add", "192.0.2.1/32", "dev", "lo")
	ns.IP("-6", "addr", "add", "64:ff9b::c000:201/128", "dev", "lo")
	ns.IP("-6", "addr", "add", "2001:db8:100::7/128", "dev", "lo")
	// The listener tells whom it saw.
	var l net.Listener
	if err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp6", "[64:ff9b::c000:201]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peers := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	good := tgt("bound", fmt.Sprintf("192.0.2.1:%d", l.Addr().(*net.TCPAddr).Port))
	good.SourceAddress = netip.MustParseAddr("2001:db8:100::7")
	bad := good
	bad.Name = "badsource"
	bad.SourceAddress = netip.MustParseAddr("2001:db8:100::8")
	p := newNetnsProber(t, ns, testConfig(time.Second, 300*time.Millisecond, good, bad))
	p.probeAll(context.Background())
	if s := status(t, p, "bound"); s.NAT64.Result != ResultOK || s.Source != "2001:db8:100::7" {
		t.Errorf("bound: %+v", s)
	}
	select {
	case peer := <-peers:
		if peer != "2001:db8:100::7" {
			t.Errorf("listener saw %s, want the source address 2001:db8:100::7", peer)
		}
	case <-time.After(2 * time.Second):
		t.Error("listener saw no connection")
	}
	if s := status(t, p, "badsource"); s.NAT64.Result != ResultError || !strings.Contains(s.NAT64.Error, "assign") {
		t.Errorf("unassigned source: %+v, want error (cannot assign requested address)", s.NAT64)
	}
}

// TestMissingNetns: a target whose netns does not exist is not probed at all
// (no socket is made in the daemon's own namespace instead), and its status
// says why rather than calling the destination down.
func TestMissingNetns(t *testing.T) {
	target := tgt("elsewhere", "192.0.2.1:443")
	target.Netns = "meetnoc-test-no-such-namespace"
	p, err := New(testConfig(time.Second, 300*time.Millisecond, target), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.probeAll(context.Background())
	s := status(t, p, "elsewhere")
	if s.Verdict != VerdictCannotProbe {
		t.Errorf("verdict %q, want %q", s.Verdict, VerdictCannotProbe)
	}
	for _, ps := range []PathStatus{s.NAT64, s.IPv4} {
		if ps.Result != ResultError || !strings.Contains(ps.Error, "/run/netns/meetnoc-test-no-such-namespace") {
			t.Errorf("path status %+v, want an error naming the namespace", ps)
		}
	}
	if got := testutil.ToFloat64(p.probes.WithLabelValues("elsewhere", PathNAT64, ResultError)); got != 1 {
		t.Errorf("probes_total{nat64,error} = %v, want 1", got)
	}
}

// TestRunAndApplyWhileRunning: Run probes on the interval; a reload keeps an
// unchanged target's loop and results, starts a new one and stops a removed one.
func TestRunAndApplyWhileRunning(t *testing.T) {
	ns := newNetns(t)
	ns.IP("route", "add", "unreachable", "203.0.113.0/24")
	ns.IP("-6", "route", "add", "unreachable", "64:ff9b::cb00:7100/120")
	const interval = 50 * time.Millisecond
	cfg := testConfig(interval, 40*time.Millisecond, tgt("a", "203.0.113.1:80"), tgt("b", "203.0.113.2:80"))
	p := newNetnsProber(t, ns, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	rounds := func(name string) uint64 {
		p.mu.Lock()
		tg := p.targets[name]
		p.mu.Unlock()
		if tg == nil {
			return 0
		}
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return tg.round
	}
	waitFor(t, 5*time.Second, "two rounds of a", func() bool { return rounds("a") >= 2 })
	a := p.targets["a"]
	before := rounds("a")
	if err := p.Apply(testConfig(interval, 40*time.Millisecond, tgt("a", "203.0.113.1:80"), tgt("c", "203.0.113.3:80"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a new target's first round", func() bool { return rounds("c") >= 1 })
	waitFor(t, 5*time.Second, "a to go on", func() bool { return rounds("a") > before+1 })
	if p.targets["a"] != a {
		t.Error("reload replaced the unchanged target")
	}
	if s := status(t, p, "c"); s.Verdict != VerdictDestinationDown || s.LastProbe.IsZero() {
		t.Errorf("c: %+v", s)
	}
	if err := p.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if v := testutil.ToFloat64(p.probes.WithLabelValues("a", PathNAT64, ResultUnreachable)); v < float64(before+1) {
		t.Errorf("a's unreachable count %v, want more than %d", v, before)
	}
}

// TestICMPPermissions: echo works over a raw socket (root, CAP_NET_RAW) when
// ping sockets are not allowed, over a ping socket without CAP_NET_RAW when
// net.ipv4.ping_group_range allows it, and is reported as not permitted when
// neither is. Emulated as in TestEmulatedPaths: both addresses are local.
func TestICMPPermissions(t *testing.T) {
	ns := newNetns(t)
	ns.IP("addr", "add", "192.0.2.1/32", "dev", "lo")
	ns.IP("-6", "addr", "add", "64:ff9b::c000:201/128", "dev", "lo")
	target := tgt("echo", "192.0.2.1:7")
	target.ICMP = true
	cfg := testConfig(time.Second, 300*time.Millisecond, target)
	echo := func(netnsHook func(func() error) error) (*Prober, TargetStatus) {
		t.Helper()
		p, err := New(cfg, nil, Options{Netns: netnsHook})
		if err != nil {
			t.Fatal(err)
		}
		p.probeAll(context.Background())
		return p, status(t, p, "echo")
	}
	withoutRaw := func(f func() error) error { return ns.Do(withoutNetRaw(f)) }

	// A new namespace's ping_group_range is "1 0": no group may open ping sockets.
	_, s := echo(ns.Do)
	if s.ICMP6.Result != ResultOK || s.ICMP4.Result != ResultOK {
		t.Errorf("raw sockets: nat64 %+v, ipv4 %+v", s.ICMP6, s.ICMP4)
	}

	p, s := echo(withoutRaw)
	for _, ps := range []*PathStatus{s.ICMP6, s.ICMP4} {
		if ps.Result != ResultNotPermitted || !strings.Contains(ps.Error, "ping_group_range") ||
			!strings.Contains(ps.Error, "CAP_NET_RAW") || ps.Note == "" || ps.Reachable {
			t.Errorf("neither socket allowed: %+v", ps)
		}
	}
	if got := testutil.ToFloat64(p.icmpProbes.WithLabelValues("echo", PathNAT64, ResultNotPermitted)); got != 1 {
		t.Errorf("icmp_probes_total{not_permitted} = %v, want 1", got)
	}
	if v, ok := metricValue(t, p, "meetnoc_nat64_icmp_probe_success", map[string]string{"target": "echo", "path": PathIPv4}); !ok || v != 0 {
		t.Errorf("icmp success when not permitted = %v (present %v), want 0", v, ok)
	}
	if s.Verdict != VerdictOK {
		// TCP to port 7 is refused on both paths: reachable.
		t.Errorf("verdict %q", s.Verdict)
	}

	ns.sysctl("net/ipv4/ping_group_range", "0 2147483647")
	_, s = echo(withoutRaw)
	if s.ICMP6.Result != ResultOK || s.ICMP4.Result != ResultOK {
		t.Errorf("ping sockets: nat64 %+v, ipv4 %+v", s.ICMP6, s.ICMP4)
	}
}
