package netlink

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netlink"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// These tests build their own network namespace with veth pairs and never touch
// the host's interfaces; every packet they send stays inside that namespace.

// testNS is the test's namespace (testenv.Netns) with the netlink tests' helpers.
type testNS struct {
	*testenv.Netns
	t *testing.T
}

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	testenv.Require(t, "bash")
	ns := &testNS{Netns: testenv.NewNetns(t, "the netlink test"), t: t}
	// No router solicitations or DAD: the neighbour tables hold only what the
	// test puts there.
	ns.Exec("bash", "-c", "for f in all default; do"+
		" echo 0 > /proc/sys/net/ipv6/conf/$f/router_solicitations;"+
		" echo 0 > /proc/sys/net/ipv6/conf/$f/accept_dad; done")
	return ns
}

// veth makes a veth pair, both ends up.
func (ns *testNS) veth(a, b string) {
	ns.t.Helper()
	ns.IP("link", "add", a, "type", "veth", "peer", "name", b)
	ns.IP("link", "set", a, "up")
	ns.IP("link", "set", b, "up")
}

// start runs a collector on the namespace until the test ends.
func start(t *testing.T, cfg *config.Config, opts Options) *Collector {
	t.Helper()
	c, err := New(cfg, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}

// waitMetric waits until the metric key has the value want.
func waitMetric(t *testing.T, c *Collector, key string, want float64, within time.Duration) {
	t.Helper()
	waitFor(t, within, func() (bool, string) {
		got, ok := testenv.Series(t, c)[key]
		return ok && got == want, fmt.Sprintf("%s = %v (present %v), want %v", key, got, ok, want)
	})
}

func waitFor(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func neighKey(iface, family, state string) string {
	return fmt.Sprintf("meetnoc_neighbors{family=%q,interface=%q,state=%q}", family, iface, state)
}

func TestNeighborCountsAndCounters(t *testing.T) {
	ns := newTestNS(t)
	ns.veth("va0", "vb0")
	// Long reachable times, so that the static "reachable" entries do not age
	// to stale while the test runs.
	ns.Exec("bash", "-c", "echo 600000 > /proc/sys/net/ipv4/neigh/va0/base_reachable_time_ms;"+
		" echo 600000 > /proc/sys/net/ipv6/neigh/va0/base_reachable_time_ms")
	ns.IP("addr", "add", "10.0.0.1/24", "dev", "va0")
	ns.IP("addr", "add", "fd00::1/64", "dev", "va0", "nodad")

	want := map[string]map[string]float64{"ipv4": {}, "ipv6": {}}
	add := func(family, addr, state string, lladdr bool) {
		args := []string{"neigh", "add", addr, "dev", "va0"}
		if lladdr {
			args = append(args, "lladdr", "02:00:00:00:00:01")
		}
		ns.IP(append(args, "nud", state)...)
		want[family][state]++
	}
	add("ipv4", "10.0.0.10", "permanent", true)
	add("ipv4", "10.0.0.11", "permanent", true)
	add("ipv4", "10.0.0.12", "stale", true)
	add("ipv4", "10.0.0.13", "reachable", true)
	add("ipv4", "10.0.0.14", "noarp", true)
	add("ipv6", "fd00::10", "permanent", true)
	add("ipv6", "fd00::11", "stale", true)
	add("ipv6", "fd00::12", "stale", true)
	add("ipv6", "fd00::13", "stale", true)
	add("ipv6", "fd00::14", "reachable", true)
	add("ipv6", "fd00::15", "noarp", true)
	// An incomplete entry, where this kernel and iproute2 accept one by hand.
	if err := exec.Command("ip", "-n", ns.Name, "neigh", "add", "10.0.0.15", "dev", "va0", "nud", "incomplete").Run(); err == nil {
		want["ipv4"]["incomplete"]++
	} else {
		t.Logf("ip neigh add nud incomplete not accepted here (%v); not counted", err)
	}

	cfg := &config.Config{Netlink: config.Netlink{Interfaces: []string{"va0", "vb0", "missing0"}}}
	c := start(t, cfg, Options{NetNS: ns.Path(), Interval: 100 * time.Millisecond})
	waitMetric(t, c, `meetnoc_link_up{interface="va0"}`, 1, 2*time.Second)

	got := testenv.Series(t, c)
	for _, fam := range families {
		for _, state := range states {
			if g, w := got[neighKey("va0", fam, state)], want[fam][state]; g != w {
				t.Errorf("va0 %s %s = %v, want %v", fam, state, g, w)
			}
			// vb0 and the missing interface have no entries, and still every
			// combination is there, at zero.
			for _, iface := range []string{"vb0", "missing0"} {
				if g, ok := got[neighKey(iface, fam, state)]; !ok || g != 0 {
					t.Errorf("%s %s %s = %v (present %v), want 0", iface, fam, state, g, ok)
				}
			}
		}
	}
	for key, w := range map[string]float64{
		`meetnoc_link_up{interface="vb0"}`:           1,
		`meetnoc_link_present{interface="va0"}`:      1,
		`meetnoc_link_up{interface="missing0"}`:      0,
		`meetnoc_link_present{interface="missing0"}`: 0,
		`meetnoc_link_mtu_bytes{interface="va0"}`:    1500,
	} {
		if g, ok := got[key]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", key, g, ok, w)
		}
	}
	// Privacy: only counts leave; no neighbour's address appears anywhere.
	for key := range got {
		for _, secret := range []string{"10.0.0.", "fd00:", "02:00:00"} {
			if strings.Contains(key, secret) {
				t.Errorf("series %s carries a neighbour's address", key)
			}
		}
	}
	if _, ok := got[`meetnoc_link_receive_bytes_total{interface="missing0"}`]; ok {
		t.Error("a missing interface has counters")
	}
	st := c.Status()
	if len(st.Interfaces) != 3 || st.Interfaces[2].Present || !st.Interfaces[2].Read || st.Interfaces[0].IPv6Neighbors != 4 {
		t.Errorf("status = %+v", st.Interfaces)
	}

	// Five UDP datagrams to a neighbour with a static entry: they leave va0 and
	// arrive on vb0 (which drops them, not being their destination).
	before := c.Status().Interfaces
	ns.Exec("bash", "-c", "for i in 1 2 3 4 5; do echo meetnoc-netlink-test > /dev/udp/10.0.0.10/9; done")
	waitFor(t, 2*time.Second, func() (bool, string) {
		now := c.Status().Interfaces
		tx := now[0].Stats.TransmitPackets - before[0].Stats.TransmitPackets
		txBytes := now[0].Stats.TransmitBytes - before[0].Stats.TransmitBytes
		rx := now[1].Stats.ReceivePackets - before[1].Stats.ReceivePackets
		rxBytes := now[1].Stats.ReceiveBytes - before[1].Stats.ReceiveBytes
		// 21 bytes of payload + UDP, IP and Ethernet headers = 63 bytes a frame.
		return tx >= 5 && rx >= 5 && txBytes >= 5*63 && rxBytes >= 5*63,
			fmt.Sprintf("va0 tx %d packets %d bytes, vb0 rx %d packets %d bytes; want ≥ 5 and ≥ 315", tx, txBytes, rx, rxBytes)
	})
	got = testenv.Series(t, c)
	if g := got[`meetnoc_link_transmit_packets_total{interface="va0"}`]; g < 5 {
		t.Errorf("va0 transmit packets = %v, want ≥ 5", g)
	}

	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestLinkChangesWithinASecond(t *testing.T) {
	ns := newTestNS(t)
	ns.veth("vc0", "vd0")
	cfg := &config.Config{Netlink: config.Netlink{Interfaces: []string{"vc0", "vd0", "late0", "lo"}}}
	// No periodic read during the test: what changes must come through the
	// link subscription.
	c := start(t, cfg, Options{NetNS: ns.Path(), Interval: time.Hour})
	waitMetric(t, c, `meetnoc_link_up{interface="vc0"}`, 1, 2*time.Second)
	waitMetric(t, c, `meetnoc_link_present{interface="late0"}`, 0, time.Second)

	for range 2 {
		ns.IP("link", "set", "vc0", "down")
		waitMetric(t, c, `meetnoc_link_up{interface="vc0"}`, 0, time.Second)
		// The peer loses its carrier: lower-layer-down.
		waitMetric(t, c, `meetnoc_link_up{interface="vd0"}`, 0, time.Second)
		ns.IP("link", "set", "vc0", "up")
		waitMetric(t, c, `meetnoc_link_up{interface="vc0"}`, 1, time.Second)
		waitMetric(t, c, `meetnoc_link_up{interface="vd0"}`, 1, time.Second)
	}

	// An interface that appears later is picked up, and one that goes away
	// loses its counters at once.
	ns.IP("link", "add", "late0", "type", "veth", "peer", "name", "late1")
	waitMetric(t, c, `meetnoc_link_present{interface="late0"}`, 1, time.Second)
	waitMetric(t, c, `meetnoc_link_up{interface="late0"}`, 0, time.Second)
	ns.IP("link", "set", "late0", "up")
	ns.IP("link", "set", "late1", "up")
	waitMetric(t, c, `meetnoc_link_up{interface="late0"}`, 1, time.Second)
	ns.IP("link", "del", "late0")
	waitMetric(t, c, `meetnoc_link_present{interface="late0"}`, 0, time.Second)
	waitMetric(t, c, `meetnoc_link_up{interface="late0"}`, 0, time.Second)
	if _, ok := testenv.Series(t, c)[`meetnoc_link_mtu_bytes{interface="late0"}`]; ok {
		t.Error("a deleted interface keeps its MTU series")
	}

	// Loopback reports operstate unknown: IFF_UP with carrier decides.
	waitMetric(t, c, `meetnoc_link_up{interface="lo"}`, 0, time.Second)
	ns.IP("link", "set", "lo", "up")
	waitMetric(t, c, `meetnoc_link_up{interface="lo"}`, 1, time.Second)
	if s := c.Status().Interfaces[3]; s.OperState != "unknown" {
		t.Errorf("lo operstate = %q, want unknown (the case IFF_UP+carrier decides)", s.OperState)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestNAT64RouteAndApply(t *testing.T) {
	ns := newTestNS(t)
	ns.veth("ve0", "vf0")
	ns.IP("addr", "add", "fd00::1/64", "dev", "ve0", "nodad")
	ns.IP("-6", "route", "add", "64:ff9b::/96", "via", "fd00::2", "dev", "ve0")

	wkp := netip.MustParsePrefix("64:ff9b::/96")
	other := netip.MustParsePrefix("2001:db8:64::/96")
	cfg := &config.Config{
		Netlink:       config.Netlink{Interfaces: []string{"ve0", "vf0"}},
		NAT64Prefixes: []netip.Prefix{wkp, other},
	}
	c := start(t, cfg, Options{NetNS: ns.Path(), Interval: 100 * time.Millisecond})
	waitMetric(t, c, `meetnoc_nat64_route{prefix="64:ff9b::/96"}`, 1, 2*time.Second)
	// The namespace has no default route, so nothing reaches the other prefix.
	waitMetric(t, c, `meetnoc_nat64_route{prefix="2001:db8:64::/96"}`, 0, time.Second)
	if r := c.Status().NAT64Routes[0]; r.Via != "via fd00::2 dev ve0" {
		t.Errorf("route via %q, want %q", r.Via, "via fd00::2 dev ve0")
	}

	ns.IP("-6", "route", "del", "64:ff9b::/96")
	waitMetric(t, c, `meetnoc_nat64_route{prefix="64:ff9b::/96"}`, 0, time.Second)
	ns.IP("-6", "route", "add", "64:ff9b::/96", "via", "fd00::2", "dev", "ve0")
	waitMetric(t, c, `meetnoc_nat64_route{prefix="64:ff9b::/96"}`, 1, time.Second)

	// A reload that drops an interface and a prefix removes their series at
	// once and keeps the rest.
	if err := c.Apply(&config.Config{
		Netlink:       config.Netlink{Interfaces: []string{"vf0"}},
		NAT64Prefixes: []netip.Prefix{wkp},
	}); err != nil {
		t.Fatal(err)
	}
	got := testenv.Series(t, c)
	for key, present := range map[string]bool{
		`meetnoc_link_up{interface="ve0"}`:                   false,
		neighKey("ve0", "ipv4", "stale"):                     false,
		`meetnoc_nat64_route{prefix="2001:db8:64::/96"}`:     false,
		`meetnoc_link_up{interface="vf0"}`:                   true,
		`meetnoc_nat64_route{prefix="64:ff9b::/96"}`:         true,
		`meetnoc_link_transmit_bytes_total{interface="vf0"}`: true,
	} {
		if _, ok := got[key]; ok != present {
			t.Errorf("after Apply, %s present = %v, want %v", key, ok, present)
		}
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestSubscriptionRecovers(t *testing.T) {
	ns := newTestNS(t)
	ns.veth("vg0", "vh0")
	// The first subscription is refused, the second dies after one update as a
	// socket that overflowed would, the third works.
	var calls atomic.Int32
	linkSubscribe = func(ch chan<- netlink.LinkUpdate, done <-chan struct{}, o netlink.LinkSubscribeOptions) error {
		switch calls.Add(1) {
		case 1:
			return errors.New("refused by the test")
		case 2:
			inner := make(chan netlink.LinkUpdate)
			innerDone := make(chan struct{})
			if err := netlink.LinkSubscribeWithOptions(inner, innerDone, o); err != nil {
				return err
			}
			go func() {
				defer close(ch)
				select {
				case u := <-inner:
					select {
					case ch <- u:
					case <-done:
					}
				case <-done:
				}
				o.ErrorCallback(errors.New("socket failed (test)"))
				close(innerDone)
				for range inner {
				}
			}()
			return nil
		default:
			return netlink.LinkSubscribeWithOptions(ch, done, o)
		}
	}
	t.Cleanup(func() { linkSubscribe = netlink.LinkSubscribeWithOptions })

	cfg := &config.Config{Netlink: config.Netlink{Interfaces: []string{"vg0", "vh0"}}}
	c := start(t, cfg, Options{NetNS: ns.Path(), Interval: time.Hour, Retry: 50 * time.Millisecond})
	waitMetric(t, c, `meetnoc_link_up{interface="vg0"}`, 1, 2*time.Second)
	waitFor(t, 2*time.Second, func() (bool, string) {
		return calls.Load() >= 2, fmt.Sprintf("%d subscriptions, want 2", calls.Load())
	})

	// The second subscription passes on this change and dies; what it missed
	// comes from the full read that follows the third.
	ns.IP("link", "set", "vg0", "down")
	waitMetric(t, c, `meetnoc_link_up{interface="vg0"}`, 0, time.Second)
	waitMetric(t, c, `meetnoc_link_up{interface="vh0"}`, 0, time.Second)
	waitFor(t, time.Second, func() (bool, string) {
		return calls.Load() == 3, fmt.Sprintf("%d subscriptions, want 3", calls.Load())
	})
	ns.IP("link", "set", "vg0", "up")
	waitMetric(t, c, `meetnoc_link_up{interface="vg0"}`, 1, time.Second)
	waitMetric(t, c, `meetnoc_link_up{interface="vh0"}`, 1, time.Second)
	if e := c.Status().Error; e != "" {
		t.Errorf("status error %q after the subscription recovered", e)
	}
}
