package lab

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// AIRESPACE-WIRELESS-MIB (Cisco AireOS) rows the lab controller serves.
var (
	// bsnDot11EssEntry, indexed by bsnDot11EssIndex (the WLAN ID).
	oidBsnDot11EssEntry = snmpagent.MustParseOID("1.3.6.1.4.1.14179.2.1.1.1")
	// bsnAPEntry, indexed by the AP's base radio MAC as six sub-identifiers.
	oidBsnAPEntry = snmpagent.MustParseOID("1.3.6.1.4.1.14179.2.2.1.1")
	// bsnAPIfEntry, indexed by the AP's MAC and bsnAPIfSlotId.
	oidBsnAPIfEntry = snmpagent.MustParseOID("1.3.6.1.4.1.14179.2.2.2.1")
)

// Columns, numbered as in AIRESPACE-WIRELESS-MIB.
const (
	bsnDot11EssIndex                  = 1
	bsnDot11EssSsid                   = 2
	bsnDot11EssAdminStatus            = 6
	bsnDot11EssNumberOfMobileStations = 38

	bsnAPDot3MacAddress  = 1
	bsnAPNumOfSlots      = 2
	bsnAPName            = 3
	bsnAPLocation        = 4
	bsnAPOperationStatus = 6
	bsnAPSoftwareVersion = 8
	bsnAPModel           = 16

	bsnAPIfSlotId           = 1
	bsnAPIfType             = 2
	bsnAPIfPhyChannelNumber = 4
	bsnAPIfOperStatus       = 12
	bsnApIfNoOfUsers        = 15
)

// WLAN is one SSID of the meeting network.
type WLAN struct {
	ID    int // bsnDot11EssIndex
	SSID  string
	VLAN  int
	share int64 // of the clients, per mille
}

// WLANs are the meeting's SSIDs, split of clients as at an IETF meeting.
var WLANs = []WLAN{
	{ID: 1, SSID: "ietf", VLAN: 100, share: 600},
	{ID: 2, SSID: "ietf-dual-stack", VLAN: 200, share: 250},
	{ID: 3, SSID: "eduroam", VLAN: 300, share: 150},
}

// roomKind says where people are when: meeting rooms fill during sessions, the
// halls in breaks.
type roomKind int

const (
	meetingRoom roomKind = iota
	hall
	workRoom
)

// apWeights is how strongly an AP of a kind of room draws clients during sessions
// and outside them.
var apWeights = map[roomKind]struct{ session, halls int64 }{
	meetingRoom: {session: 1000, halls: 150},
	hall:        {session: 350, halls: 1600},
	workRoom:    {session: 500, halls: 600},
}

// rooms of the venue and how many APs each has, in AP name order. Every ten APs
// hang off one access switch.
var rooms = []struct {
	name string
	kind roomKind
	aps  int
}{
	{"Plenary", meetingRoom, 8},
	{"Registration", hall, 2},
	{"Ballroom A", meetingRoom, 5},
	{"Ballroom B", meetingRoom, 5},
	{"Room 101", meetingRoom, 3},
	{"Room 102", meetingRoom, 3},
	{"Room 103", meetingRoom, 2},
	{"Room 104", meetingRoom, 2},
	{"Lobby", hall, 5},
	{"Break area", hall, 3},
	{"Terminal room", workRoom, 1},
	{"NOC", workRoom, 1},
}

// apsPerSwitch is how many APs each access switch feeds, on Gi1/0/1 onwards.
const apsPerSwitch = 10

// failingAP (1-based) loses its controller for two minutes every quarter hour;
// AireOS then drops it from bsnAPTable, and its clients roam to its neighbours.
const failingAP = 33

var apOutage = outage{
	period: int64(15 * time.Minute / time.Millisecond),
	offset: int64(10 * time.Minute / time.Millisecond),
	length: int64(2 * time.Minute / time.Millisecond),
}

// wlcRefresh is how often the controller recomputes its client counts: within one
// period every table agrees, as they do on a real controller between updates.
const wlcRefresh = int64(10 * time.Second / time.Millisecond)

// accessPoint is one AP joined to the controller.
type accessPoint struct {
	name     string
	room     string
	kind     roomKind
	mac      [6]byte // base radio MAC: locally administered, infrastructure only
	model    string
	channels [2]int // slot 0 (2.4 GHz), slot 1 (5 GHz)
	// period and phase wobble the AP's share of clients, so that counts move
	// between polls as people come and go.
	period float64 // ms
	phase  float64
}

func buildAPs() []accessPoint {
	var aps []accessPoint
	for _, r := range rooms {
		for range r.aps {
			n := len(aps) + 1
			model := "AIR-AP2802I-E-K9"
			if r.name == "Plenary" {
				model = "AIR-AP3802I-E-K9"
			}
			aps = append(aps, accessPoint{
				name:     fmt.Sprintf("ietf-ap-%02d", n),
				room:     r.name,
				kind:     r.kind,
				mac:      [6]byte{0x02, 0x00, 0x5e, 0x10, byte(n), 0x00},
				model:    model,
				channels: [2]int{[]int{1, 6, 11}[n%3], []int{36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112}[n%12]},
				period:   float64((40 + (n*7)%35) * 60 * 1000),
				phase:    float64(n) * 2.39996, // golden angle: phases spread evenly
			})
		}
	}
	return aps
}

// wlcState is the controller's view at one refresh: which APs are joined and
// how many clients each radio and each WLAN has. It is immutable.
type wlcState struct {
	at      int64    // venue ms of the refresh
	gen     uint64   // of the APs forced down (faultPlan)
	up      []bool   // per AP
	clients [][2]int // per AP, per radio slot
	ssid    []int    // per WLAN, in WLANs order
	total   int
}

// apClients is the AP's clients on both radios.
func (s *wlcState) apClients(i int) int { return s.clients[i][0] + s.clients[i][1] }

// wlc is the wireless controller model: AireOS-like, the AP and radio tables list
// only joined APs.
type wlc struct {
	dev    *device
	aps    []accessPoint
	byMAC  map[[6]uint32]int
	faults *faultPlan

	mu    sync.Mutex
	state *wlcState
}

func newWLC(dev *device, aps []accessPoint, faults *faultPlan) *wlc {
	w := &wlc{dev: dev, aps: aps, byMAC: make(map[[6]uint32]int, len(aps)), faults: faults}
	for i, ap := range aps {
		var k [6]uint32
		for j, b := range ap.mac {
			k[j] = uint32(b)
		}
		w.byMAC[k] = i
	}
	return w
}

// stateAt returns the controller's state at the refresh period holding t.
func (w *wlc) stateAt(t time.Time) *wlcState {
	ms := w.dev.day.venueMillis(t)
	at := ms - ((ms%wlcRefresh)+wlcRefresh)%wlcRefresh
	forced, gen := w.faults.forced()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == nil || w.state.at != at || w.state.gen != gen {
		w.state = w.compute(at, forced)
		w.state.gen = gen
	}
	return w.state
}

// compute distributes the attendees on the network over the joined APs by where
// people are at that time of day, and over the WLANs by their shares. Both
// distributions are of the same total, so per-AP, per-radio and per-WLAN counts
// always add up to it.
func (w *wlc) compute(at int64, forcedDown map[string]bool) *wlcState {
	day := w.dev.day
	s := &wlcState{
		at:      at,
		up:      make([]bool, len(w.aps)),
		clients: make([][2]int, len(w.aps)),
	}
	s.total = int((PeakAttendees*day.level.value(at) + 500) / 1000)
	session := day.session.value(at)

	base := make([]float64, len(w.aps))
	for i, ap := range w.aps {
		s.up[i] = !(i+1 == failingAP && w.faults.scheduled() && apOutage.active(at)) && !forcedDown[ap.name]
		k := apWeights[ap.kind]
		base[i] = float64(session*k.session + (1000-session)*k.halls)
	}
	// A lost AP's clients roam to the other APs in its room.
	for i, ap := range w.aps {
		if s.up[i] {
			continue
		}
		var peers []int
		for j, other := range w.aps {
			if s.up[j] && other.room == ap.room {
				peers = append(peers, j)
			}
		}
		for _, j := range peers {
			base[j] += base[i] / float64(len(peers))
		}
		base[i] = 0
	}
	weights := make([]float64, len(w.aps))
	for i, ap := range w.aps {
		weights[i] = base[i] * (1 + 0.12*math.Sin(2*math.Pi*float64(at)/ap.period+ap.phase))
	}
	for i, n := range apportion(s.total, weights) {
		// About one client in seven is still on 2.4 GHz.
		s.clients[i][0] = n * 15 / 100
		s.clients[i][1] = n - s.clients[i][0]
	}
	shares := make([]float64, len(WLANs))
	for i, wl := range WLANs {
		shares[i] = float64(wl.share)
	}
	s.ssid = apportion(s.total, shares)
	return s
}

// apportion splits total into integers proportional to weights that add up to
// total exactly (largest remainder; ties go to the lower index).
func apportion(total int, weights []float64) []int {
	out := make([]int, len(weights))
	var sum float64
	for _, w := range weights {
		sum += w
	}
	if total <= 0 || sum <= 0 {
		return out
	}
	rest := make([]int, 0, len(weights))
	frac := make([]float64, len(weights))
	given := 0
	for i, w := range weights {
		q := float64(total) * w / sum
		out[i] = int(q)
		frac[i] = q - float64(out[i])
		given += out[i]
		if w > 0 {
			rest = append(rest, i)
		}
	}
	sort.SliceStable(rest, func(a, b int) bool { return frac[rest[a]] > frac[rest[b]] })
	for k := 0; given < total; k++ {
		out[rest[k%len(rest)]]++
		given++
	}
	return out
}

// hidden reports whether oid is a cell of an AP that is not joined in s.
func (w *wlc) hidden(oid snmpagent.OID, s *wlcState) bool {
	for _, entry := range [...]snmpagent.OID{oidBsnAPEntry, oidBsnAPIfEntry} {
		n := len(entry)
		if len(oid) < n+7 || !slices.Equal(oid[:n], entry) {
			continue
		}
		i, ok := w.byMAC[[6]uint32(oid[n+1:n+7])]
		return ok && !s.up[i]
	}
	return false
}

// wlcMIB serves the controller's tree minus the rows of APs that are down.
type wlcMIB struct {
	tree *snmpagent.Tree
	w    *wlc
}

// Get implements snmpagent.MIB.
func (m *wlcMIB) Get(oid snmpagent.OID) (snmpagent.ValueFunc, bool) {
	if m.w.hidden(oid, m.w.stateAt(m.w.dev.clock())) {
		return nil, false
	}
	return m.tree.Get(oid)
}

// Next implements snmpagent.MIB.
func (m *wlcMIB) Next(oid snmpagent.OID) (snmpagent.OID, snmpagent.ValueFunc, bool) {
	s := m.w.stateAt(m.w.dev.clock())
	for {
		next, v, ok := m.tree.Next(oid)
		if !ok || !m.w.hidden(next, s) {
			return next, v, ok
		}
		oid = next
	}
}

// addAireOS adds the controller's WLAN, AP and radio tables.
func (w *wlc) addAireOS(t *builder) {
	now := func() *wlcState { return w.stateAt(w.dev.clock()) }
	for i, wl := range WLANs {
		e := oidBsnDot11EssEntry
		id := uint32(wl.ID)
		t.Set(e.Append(bsnDot11EssIndex, id), snmpagent.Static(gosnmp.Gauge32, id))
		t.Set(e.Append(bsnDot11EssSsid, id), snmpagent.Static(gosnmp.OctetString, wl.SSID))
		t.Set(e.Append(bsnDot11EssAdminStatus, id), snmpagent.Static(gosnmp.Integer, 1)) // enable
		// The MIB types this count Counter32, though it is a gauge.
		t.Set(e.Append(bsnDot11EssNumberOfMobileStations, id), func() (gosnmp.Asn1BER, any) {
			return gosnmp.Counter32, uint32(now().ssid[i])
		})
	}
	for i, ap := range w.aps {
		idx := make([]uint32, 6)
		for j, b := range ap.mac {
			idx[j] = uint32(b)
		}
		row := func(col uint32) snmpagent.OID { return oidBsnAPEntry.Append(append([]uint32{col}, idx...)...) }
		t.Set(row(bsnAPDot3MacAddress), snmpagent.Static(gosnmp.OctetString, ap.mac[:]))
		t.Set(row(bsnAPNumOfSlots), snmpagent.Static(gosnmp.Integer, 2))
		t.Set(row(bsnAPName), snmpagent.Static(gosnmp.OctetString, ap.name))
		t.Set(row(bsnAPLocation), snmpagent.Static(gosnmp.OctetString, ap.room))
		t.Set(row(bsnAPOperationStatus), snmpagent.Static(gosnmp.Integer, 1)) // associated
		t.Set(row(bsnAPSoftwareVersion), snmpagent.Static(gosnmp.OctetString, "8.10.185.0"))
		t.Set(row(bsnAPModel), snmpagent.Static(gosnmp.OctetString, ap.model))
		for slot := range 2 {
			radio := func(col uint32) snmpagent.OID {
				return oidBsnAPIfEntry.Append(append(append([]uint32{col}, idx...), uint32(slot))...)
			}
			t.Set(radio(bsnAPIfSlotId), snmpagent.Static(gosnmp.Gauge32, uint32(slot)))
			t.Set(radio(bsnAPIfType), snmpagent.Static(gosnmp.Integer, slot+1)) // dot11b(1), dot11a(2)
			t.Set(radio(bsnAPIfPhyChannelNumber), snmpagent.Static(gosnmp.Integer, ap.channels[slot]))
			t.Set(radio(bsnAPIfOperStatus), snmpagent.Static(gosnmp.Integer, 2)) // up
			t.Set(radio(bsnApIfNoOfUsers), func() (gosnmp.Asn1BER, any) {
				return gosnmp.Counter32, uint32(now().clients[i][slot])
			})
		}
	}
}
