package traffic

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// recordHandler keeps every log record, for asserting on level and attributes.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// take returns the records logged since the last take, each as its level,
// message and attributes.
func (h *recordHandler) take() []loggedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []loggedRecord
	for _, r := range h.records {
		lr := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
		r.Attrs(func(a slog.Attr) bool {
			lr.attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, lr)
	}
	h.records = nil
	return out
}

type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r loggedRecord) String() string { return fmt.Sprintf("%s %q %v", r.level, r.msg, r.attrs) }

// fakeClock is a settable clock for the limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rogueRig struct {
	c     *Classifier
	d     *payloadDecoder
	ev    *Events
	h     *recordHandler
	clock *fakeClock
	rogue *rogueLimiter
}

func newRogueRig(t *testing.T, untagged string) *rogueRig {
	t.Helper()
	cfg := eventsConfig()
	rig := &rogueRig{h: &recordHandler{}, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}}
	var err error
	if rig.c, err = NewClassifier(cfg, untagged); err != nil {
		t.Fatal(err)
	}
	rig.rogue = newRogueLimiter(rig.clock.now)
	if rig.d, err = newPayloadDecoder(cfg, slog.New(rig.h), rig.rogue); err != nil {
		t.Fatal(err)
	}
	rig.ev = newEvents(len(rig.c.SSIDNames()))
	return rig
}

func (rig *rogueRig) observe(t *testing.T, frames ...[]byte) {
	t.Helper()
	observeFrames(t, rig.c, rig.d, rig.ev, 1, frames...)
}

// checkRecord asserts one warning with exactly the wanted attributes.
func checkRecord(t *testing.T, got []loggedRecord, msgPrefix string, want map[string]string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d records, want 1: %v", len(got), got)
	}
	r := got[0]
	if r.level != slog.LevelWarn || !strings.HasPrefix(r.msg, msgPrefix) {
		t.Errorf("record %s, want a warning %q…", r, msgPrefix)
	}
	for k, v := range want {
		if k == "prefixes" || k == "pref64" {
			// Lists, in the RA's option order, which gopacket's serialiser reverses.
			if sortedList(r.attrs[k]) != sortedList(v) {
				t.Errorf("%s = %q, want %q in any order", k, r.attrs[k], v)
			}
		} else if r.attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, r.attrs[k], v)
		}
	}
	for k, v := range r.attrs {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected attribute %s=%q", k, v)
		}
	}
}

func sortedList(s string) string {
	l := strings.Split(s, ",")
	slices.Sort(l)
	return strings.Join(l, ",")
}

// checkNoClient asserts that no record mentions a client's MAC or address.
func checkNoClient(t *testing.T, recs []loggedRecord, client ...string) {
	t.Helper()
	for _, r := range recs {
		s := r.String()
		for _, c := range client {
			if strings.Contains(s, c) {
				t.Errorf("client identifier %s logged: %s", c, s)
			}
		}
	}
}

func TestRogueDHCPLog(t *testing.T) {
	rig := newRogueRig(t, "")
	rogue := fromIP(t, offer(100, rogueMAC, "192.168.1.254", true), "192.168.1.1")
	// DISCOVERs (a client's MAC and all) and allowed OFFERs are never logged.
	rig.observe(t,
		discover(100, true),
		offer(100, dhcpServerMAC, "100.64.0.1", false),
		// No list on ietf-dual-stack, unknown VLAN: all allowed.
		offer(200, rogueMAC, "192.168.1.1", false),
		offer(4000, rogueMAC, "192.168.1.1", false),
	)
	if recs := rig.h.take(); len(recs) != 0 {
		t.Fatalf("logged without a rogue: %v", recs)
	}

	rig.observe(t, rogue)
	recs := rig.h.take()
	checkRecord(t, recs, "rogue DHCP server", map[string]string{
		"ssid": "ietf", "vlan": "100", "mac": "02:ba:d0:00:00:66",
		"address": "192.168.1.1", "server_id": "192.168.1.254", "ipv6_only": "true",
	})
	// chaddr and yiaddr are the client's.
	checkNoClient(t, recs, clientMAC.String(), "100.64.42.232")

	// Within the minute: counted, not logged.
	for range 5 {
		rig.clock.advance(10 * time.Second)
		rig.observe(t, rogue)
	}
	if recs := rig.h.take(); len(recs) != 0 {
		t.Fatalf("logged within a minute: %v", recs)
	}
	// The same MAC on another VLAN is another sender: logged at once.
	rig.observe(t, offer(101, rogueMAC, "192.168.1.1", false))
	checkRecord(t, rig.h.take(), "rogue DHCP server", map[string]string{
		"ssid": "ietf", "vlan": "101", "mac": "02:ba:d0:00:00:66", "address": "192.168.1.1", "server_id": "192.168.1.1", "ipv6_only": "false",
	})
	// A minute after its first warning, the sender is logged again with the
	// sightings suppressed in between.
	rig.clock.advance(11 * time.Second)
	rig.observe(t, rogue)
	checkRecord(t, rig.h.take(), "rogue DHCP server", map[string]string{
		"ssid": "ietf", "vlan": "100", "mac": "02:ba:d0:00:00:66",
		"address": "192.168.1.1", "server_id": "192.168.1.254", "ipv6_only": "true", "suppressed": "5",
	})
	rig.observe(t, rogue)
	if recs := rig.h.take(); len(recs) != 0 {
		t.Fatalf("logged again right after: %v", recs)
	}
	if got := rig.ev.ssids[1].offers[0]; got != [2]uint64{1, 8} {
		t.Errorf("rogue OFFERs [ipv6_only false, true] = %v, want [1 8] (logging is rate-limited, counting is not)", got)
	}
}

func TestRogueRALog(t *testing.T) {
	rig := newRogueRig(t, "")
	// Sent by rogueMAC with another MAC in its SLLA, and an invalid PREF64 beside a valid one.
	rogueRA := fromMAC(t, withRAOptions(t,
		ra(100, net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 0x99}, "fe80::bad", "64:ff9b::/96", "2001:db8:bad::/64", "2001:db8:bad:1::/64"),
		pref64Opt("64:ff9b::/96", 1800, 7)), rogueMAC)
	rig.observe(t, rogueRA, rogueRA)
	checkRecord(t, rig.h.take(), "rogue router", map[string]string{
		"ssid": "ietf", "vlan": "100", "mac": "02:ba:d0:00:00:66", "address": "fe80::bad",
		"slla": "02:ba:d0:00:00:99", "router_lifetime": "1800",
		"prefixes": "2001:db8:bad::/64,2001:db8:bad:1::/64", "pref64": "64:ff9b::/96,invalid(plc=7)",
	})
	// A rogue on one kind does not silence the other kind from the same MAC.
	rig.observe(t, offer(100, rogueMAC, "192.168.1.1", false))
	checkRecord(t, rig.h.take(), "rogue DHCP server", map[string]string{
		"ssid": "ietf", "vlan": "100", "mac": "02:ba:d0:00:00:66", "address": "192.168.1.1", "server_id": "192.168.1.1", "ipv6_only": "false",
	})
	// Allowed by address, MAC or SLLA: not logged.
	rig.observe(t,
		ra(100, rogueMAC, routerLL, ""),
		ra(100, routerMAC, "fe80::2", ""),
		fromMAC(t, ra(100, routerMAC, "fe80::3", ""), rogueMAC),
	)
	if recs := rig.h.take(); len(recs) != 0 {
		t.Fatalf("allowed RAs logged: %v", recs)
	}

	// A routed RA (hop limit below 255, which hosts ignore) says so.
	routed := rebuild(t, ra(100, net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 0x77}, "2001:db8:bad::1", ""), func(p gopacket.Packet) {
		p.NetworkLayer().(*layers.IPv6).HopLimit = 64
	})
	rig.observe(t, routed)
	checkRecord(t, rig.h.take(), "rogue router", map[string]string{
		"ssid": "ietf", "vlan": "100", "mac": "02:ba:d0:00:00:77", "address": "2001:db8:bad::1",
		"hop_limit": "64", "router_lifetime": "1800", "prefixes": "", "pref64": "",
	})

	// The last-seen gauge: ietf only, never the sender; it passes promlint.
	rig.clock.advance(90 * time.Second)
	rig.observe(t, rogueRA)
	got := testenv.Series(t, rig.rogue)
	checkSeries(t, got, 2, map[string]float64{
		`meetnoc_rogue_last_seen_timestamp_seconds{kind="dhcp",ssid="ietf"}`: 1_700_000_000,
		`meetnoc_rogue_last_seen_timestamp_seconds{kind="ra",ssid="ietf"}`:   1_700_000_090,
	})
	problems, err := testutil.CollectAndLint(rig.rogue)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

func TestRogueLimiterBounds(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newRogueLimiter(clock.now)
	key := func(i int) rogueKey {
		return rogueKey{kind: rogueRA, mac: [6]byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)}, vlan: 100}
	}
	// A flood of RAs from random MACs: at most maxRogueLogsPerMinute warnings,
	// at most maxRogueSenders remembered.
	var logged int
	for i := range 3 * maxRogueSenders {
		if log, _, _ := l.sighting(key(i), "ietf"); log {
			logged++
		}
	}
	if logged != maxRogueLogsPerMinute {
		t.Errorf("%d warnings in a minute, want %d", logged, maxRogueLogsPerMinute)
	}
	if len(l.senders) != maxRogueSenders {
		t.Errorf("%d senders remembered, want %d", len(l.senders), maxRogueSenders)
	}
	// The oldest were forgotten first; the newest are kept.
	if l.senders[key(0)] != nil || l.senders[key(3*maxRogueSenders-1)] == nil {
		t.Error("eviction is not oldest first")
	}
	// Next minute: the budget is back, and the first warning reports what the
	// global limit dropped.
	clock.advance(time.Minute)
	log, suppressed, overBudget := l.sighting(key(3*maxRogueSenders-1), "ietf")
	if !log || suppressed != 1 || overBudget != 3*maxRogueSenders-maxRogueLogsPerMinute {
		t.Errorf("after the minute: log %v, suppressed %d, over budget %d", log, suppressed, overBudget)
	}
	if log, _, overBudget := l.sighting(key(3*maxRogueSenders-2), "ietf"); !log || overBudget != 0 {
		t.Errorf("second warning: log %v, over budget %d (reported once)", log, overBudget)
	}
}

func TestRogueLimiterConcurrent(t *testing.T) {
	l := newRogueLimiter(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var logged int
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := rogueKey{kind: rogueKind(i % 2), mac: [6]byte{2, byte(w)}, vlan: 100}
				if log, _, _ := l.sighting(k, "ietf"); log {
					mu.Lock()
					logged++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// Each worker's MAC, both kinds: logged once each within the minute.
	if logged != 16 {
		t.Fatalf("%d warnings, want 16", logged)
	}
}

// TestRealRogue: the real captures with allow lists that exclude their
// senders. One warning each, naming the sender; later sightings suppressed.
func TestRealRogue(t *testing.T) {
	rig := newRogueRig(t, "ietf") // the captures are untagged
	// ietf allows 100.64.0.1 and fe80::1 / 02:00:00:00:00:fe only.
	rig.observe(t, readCapture(t, "dhcp-option-108.pcapng")...)
	recs := rig.h.take()
	checkRecord(t, recs, "rogue DHCP server", map[string]string{
		"ssid": "ietf", "vlan": "0", "mac": "98:49:25:13:25:40", "address": "10.56.0.2",
		"server_id": "31.130.229.6", "ipv6_only": "true",
	})
	checkNoClient(t, recs, "42:b4:44:b4:f0:ee", "10.56.42.232", "MacBookPro", "macbookpro")

	rig.observe(t, readCapture(t, "icmpv6-ra-pref64.pcap")...)
	checkRecord(t, rig.h.take(), "rogue router", map[string]string{
		"ssid": "ietf", "vlan": "0", "mac": "e2:15:81:b4:b9:45", "address": "fe80::e015:81ff:feb4:b945",
		"router_lifetime": "500", "prefixes": "2001:db8:cc:dd::/64", "pref64": "2001:db8:1:64:ff9b::/96",
	})
	if got := rig.ev.ssids[1].ras[0]; got != [numPref64]uint64{pref64Mismatch: 4} {
		// The default NAT64 prefixes (64:ff9b::/96, 2001:db8:64::/96) match none.
		t.Errorf("RAs not allowed = %v", got)
	}
}
