package lab

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// faultPlan is what goes wrong in the lab beyond the meeting day's own
// rhythm: the scheduled faults (an AP lost every quarter hour, rogue RAs, DNS
// faults, the NAT64 stopping), unless the lab is calm, and the faults a caller
// switches on and off (end-to-end tests of alert rules: a healthy lab must
// fire nothing, and each fault exactly what it should).
type faultPlan struct {
	// calm turns the scheduled faults off (Options.Calm); fixed at Start.
	calm bool
	// rogue forces the misconfigured laptop's rogue RAs on.
	rogue atomic.Bool

	mu     sync.Mutex
	apDown map[string]bool // APs forced off their controller
	gen    uint64          // changes with apDown, so the controller recomputes
}

// calm turns the scheduled faults off, before the lab serves.
func (m *model) calm() {
	m.faults.calm = true
	for _, d := range m.devices {
		for _, p := range d.ports {
			p.outage = nil // the scheduled AP's switch port stays up
		}
	}
}

// scheduled reports whether the scheduled faults are on.
func (f *faultPlan) scheduled() bool { return !f.calm }

// forced returns the APs forced down and the generation of that set.
func (f *faultPlan) forced() (map[string]bool, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apDown, f.gen
}

// SetAPDown makes the controller lose the AP named name (down) or get it back,
// as when an AP reboots or loses its CAPWAP tunnel: it leaves the controller's
// tables and its clients roam to the other APs in its room. Its switch port
// stays up. It shows at the controller's next refresh (within 10 s).
func (n *Network) SetAPDown(name string, down bool) error { return n.model.setAPDown(name, down) }

func (m *model) setAPDown(name string, down bool) error {
	known := false
	for _, ap := range m.wlc.aps {
		known = known || ap.name == name
	}
	if !known {
		return fmt.Errorf("lab: no AP %q", name)
	}
	f := m.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	next := map[string]bool{}
	for k, v := range f.apDown {
		next[k] = v
	}
	if down {
		next[name] = true
	} else {
		delete(next, name)
	}
	f.apDown = next // replaced, never changed: readers hold the old map safely
	f.gen++
	return nil
}

// SetRogueRA starts (on) or stops the misconfigured laptop on ietf-dual-stack
// that floods rogue RAs with a wrong PREF64, beyond its schedule.
func (n *Network) SetRogueRA(on bool) { n.model.faults.rogue.Store(on) }

// APs lists the controller's APs by name.
func (n *Network) APs() []string {
	out := make([]string, len(n.model.wlc.aps))
	for i, ap := range n.model.wlc.aps {
		out[i] = ap.name
	}
	return out
}
