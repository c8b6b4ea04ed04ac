package lab

import (
	"fmt"
	"testing"
	"time"
)

// A calm lab has none of the scheduled faults, at the minutes they are
// scheduled for; the faults a caller sets still work.
func TestCalmLab(t *testing.T) {
	clock := newTestClock(at("14:10:30")) // ietf-ap-33's outage
	m := newModel(clock.Now)
	m.calm()
	w := m.device("wlc1").mib
	sw := m.device("access4")
	failing := fmt.Sprintf("ietf-ap-%02d", failingAP)
	if _, _, names := wlcCounts(t, w); len(names) != 40 {
		t.Errorf("calm, during the scheduled outage: %d APs listed, want 40", len(names))
	}
	f, _ := sw.mib.Get(oidIfOperStatus.Append(10103))
	if _, v := f(); v != ifUp {
		t.Errorf("calm: %s's switch port oper status %v, want up", failing, v)
	}

	// An AP forced down leaves the controller's tables at once (the refresh
	// is recomputed), and comes back.
	if err := m.setAPDown("ietf-ap-05", true); err != nil {
		t.Fatal(err)
	}
	_, _, names := wlcCounts(t, w)
	for _, n := range names {
		if n == "ietf-ap-05" {
			t.Error("ietf-ap-05 forced down, still in bsnAPTable")
		}
	}
	if len(names) != 39 {
		t.Errorf("ietf-ap-05 forced down: %d APs listed, want 39", len(names))
	}
	if err := m.setAPDown("ietf-ap-05", false); err != nil {
		t.Fatal(err)
	}
	if _, _, names := wlcCounts(t, w); len(names) != 40 {
		t.Errorf("ietf-ap-05 back: %d APs listed, want 40", len(names))
	}
	if err := m.setAPDown("no-such-ap", true); err == nil {
		t.Error("SetAPDown of an unknown AP: no error")
	}

	// No rogue RAs in a rogue minute unless forced.
	for _, force := range []bool{false, true} {
		clock := newTestClock(at("13:37:30"))
		e, out := captureExporter(t, clock, 1)
		e.faults.calm = true
		e.faults.rogue.Store(force)
		controlOnly(e)
		e.tick(time.Minute)
		c, cfg := labClassifier(t)
		wk := walkSFlow(t, c, cfg, *out)
		rogue := 0
		for k, n := range wk.ras {
			if k.pref64 == roguePREF64 {
				rogue += n
			}
		}
		if want := map[bool]int{true: 4 * 60 * rogueRAsPerSecond}[force]; rogue != want {
			t.Errorf("calm, rogue forced %v: %d rogue RAs, want %d", force, rogue, want)
		}
	}

	// DNS and NAT64 schedules are off.
	r := &dnsResolver{clock: newTestClock(at("13:20:30")).Now, day: m.day, faults: m.faults}
	if f := r.fault(); f != DNSHealthy {
		t.Errorf("calm DNS at 13:20:30: %s, want healthy", f)
	}
	r.forced.Store(uint32(DNSServfail))
	if f := r.fault(); f != DNSServfail {
		t.Errorf("calm DNS with SERVFAIL forced: %s", f)
	}
	b := &nat64Box{clock: newTestClock(at("13:28:30")).Now, day: m.day, faults: m.faults}
	if !b.want() {
		t.Error("calm NAT64 stopped at 13:28:30")
	}
}
