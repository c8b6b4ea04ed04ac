package netlink

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/config"
)

func TestNeighState(t *testing.T) {
	// The kernel's NUD_* values (include/uapi/linux/neighbour.h).
	for nud, want := range map[int]string{
		0x01: "incomplete", 0x02: "reachable", 0x04: "stale", 0x08: "delay",
		0x10: "probe", 0x20: "failed", 0x40: "noarp", 0x80: "permanent",
	} {
		if i := neighState(nud); i < 0 || states[i] != want {
			t.Errorf("neighState(%#x) = %d, want %s", nud, i, want)
		}
	}
	for _, nud := range []int{0x00, 0x03, 0x100} {
		if i := neighState(nud); i != -1 {
			t.Errorf("neighState(%#x) = %d, want -1", nud, i)
		}
	}
}

func TestUnreadEmitsNothingButErrors(t *testing.T) {
	cfg := &config.Config{
		Netlink:       config.Netlink{Interfaces: []string{"vlan100"}},
		NAT64Prefixes: []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96")},
	}
	c := newCollector(cfg, nil, Options{})
	// Before the first read there is nothing to say of the interface: no
	// invented zeros.
	if n := testutil.CollectAndCount(c); n != 1 {
		t.Errorf("%d series before the first read, want 1 (the error counter)", n)
	}
	st := c.Status()
	if len(st.Interfaces) != 1 || st.Interfaces[0].Read || len(st.NAT64Routes) != 1 || st.NAT64Routes[0].Read {
		t.Errorf("status = %+v", st)
	}
	if err := c.Apply(&config.Config{Netlink: config.Netlink{Interfaces: []string{"vlan100", "vlan200"}}}); err != nil {
		t.Fatal(err)
	}
	st = c.Status()
	if len(st.Interfaces) != 2 || st.Interfaces[1].Interface != "vlan200" || len(st.NAT64Routes) != 0 {
		t.Errorf("after Apply, status = %+v", st)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}
