package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

var (
	oidIfHCInOctets = oidIfXEntry.Append(6)
	oidIfInOctets   = oidIfEntry.Append(10)
	oidIfName       = oidIfXEntry.Append(1)
	oidIfAlias      = oidIfXEntry.Append(18)
	oidIfOperStatus = oidIfEntry.Append(8)
	oidAireOS       = snmpagent.MustParseOID("1.3.6.1.4.1.14179")
)

func TestDevices(t *testing.T) {
	m := newModel(newTestClock(at("14:00")).Now)
	var names []string
	for _, d := range m.devices {
		names = append(names, d.name)
	}
	if want := []string{"core1", "core2", "wlc1", "access1", "access2", "access3", "access4"}; !slices.Equal(names, want) {
		t.Fatalf("devices %v, want %v", names, want)
	}
	for _, d := range m.devices {
		ifNames := column(t, d.mib, oidIfName)
		want := map[string]int{RoleCore: 57, RoleAccess: 51, RoleWLC: 2}[d.role]
		if len(ifNames) != want {
			t.Errorf("%s: %d interfaces, want %d", d.name, len(ifNames), want)
		}
		sys := column(t, d.mib, oidSystem)
		if got := text(sys["5.0"]); got != d.name {
			t.Errorf("%s: sysName %q", d.name, got)
		}
		if got := text(sys["4.0"]); got != Contact {
			t.Errorf("%s: sysContact %q", d.name, got)
		}
	}

	a1 := m.device("access1")
	alias := column(t, a1.mib, oidIfAlias)
	for idx, want := range map[string]string{"10101": "AP ietf-ap-01", "10201": "uplink core1", "10202": "uplink core2", "10141": "registration desk 1"} {
		if got := text(alias[idx]); got != want {
			t.Errorf("access1 ifAlias.%s = %q, want %q", idx, got, want)
		}
	}
	if got := text(column(t, m.device("core1").mib, oidIfAlias)["1"]); got != "access1 Te1/0/1" {
		t.Errorf("core1 Te1/0/1 alias %q", got)
	}
	if got := text(column(t, m.device("core2").mib, oidIfAlias)["4"]); got != "access4 Te1/0/2" {
		t.Errorf("core2 Te1/0/4 alias %q", got)
	}

	// A few access ports are down: a couple with nothing plugged in, one shut.
	down := 0
	for _, name := range []string{"access1", "access2", "access3", "access4"} {
		oper := column(t, m.device(name).mib, oidIfOperStatus)
		alias := column(t, m.device(name).mib, oidIfAlias)
		for idx, s := range oper {
			if s == ifDown && text(alias[idx]) != "" {
				down++
			}
		}
	}
	if down != 4 {
		t.Errorf("%d labelled access ports down at 14:00, want 4", down)
	}
}

// Every tree is sorted, without duplicates, and a walk visits every variable in
// order; Get finds each.
func TestTreesWalkInOrder(t *testing.T) {
	m := newModel(newTestClock(at("14:00")).Now)
	for _, d := range m.devices {
		vars := walk(t, d.mib, nil)
		if len(vars) < 100 {
			t.Fatalf("%s: walk returned only %d variables", d.name, len(vars))
		}
		for i, v := range vars {
			if i > 0 && slices.Compare(vars[i-1].oid, v.oid) >= 0 {
				t.Fatalf("%s: %s walked after %s", d.name, v.oid, vars[i-1].oid)
			}
			if _, ok := d.mib.Get(v.oid); !ok {
				t.Fatalf("%s: Get(%s) found nothing", d.name, v.oid)
			}
		}
		if tree, ok := d.mib.(*snmpagent.Tree); ok && tree.Len() != len(vars) {
			t.Errorf("%s: walk saw %d of %d variables", d.name, len(vars), tree.Len())
		}
	}
}

func TestBuilderRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("setting an OID twice did not panic")
		}
	}()
	b := newBuilder()
	b.Set(snmpagent.OID{1, 3, 6}, snmpagent.Static(gosnmp.Integer, 1))
	b.Set(snmpagent.OID{1, 3, 6}, snmpagent.Static(gosnmp.Integer, 2))
}

// Over a whole simulated day every counter only grows, the 32-bit counters are
// their 64-bit twins' low bits, and the transit moves far more in sessions than
// at night.
func TestCountersMonotonicOverADay(t *testing.T) {
	t.Parallel()
	clock := newTestClock(at("00:00").Add(-time.Hour))
	m := newModel(clock.Now)
	var mibs []namedMIB
	for _, d := range m.devices {
		mibs = append(mibs, namedMIB{d.name, d.mib})
	}
	steps, counters, pairs := checkCountersOverDay(t, clock, at("24:00"), mibs)
	if steps < 100 || counters < 4000 || pairs == 0 {
		t.Fatalf("only %d steps, %d counters, %d 32/64-bit pairs checked", steps, counters, pairs)
	}

	// Rates: the transit at night and in the afternoon session.
	transit := oidIfHCInOctets.Append(49) // core1 Fo1/1/1
	rate := func(from string) float64 {
		clock.Set(at(from))
		a, _ := m.device("core1").mib.Get(transit)
		_, v0 := a()
		clock.Add(time.Minute)
		_, v1 := a()
		return float64(v1.(uint64)-v0.(uint64)) * 8 / 60
	}
	night, peak := rate("03:00"), rate("14:00")
	if !(night > 0 && peak > 10*night) {
		t.Errorf("transit rate %.0f bit/s at night, %.0f in the peak session: want a clear day curve", night, peak)
	}
	// 60 % of 1,500 clients at 0.48 Mbit/s each, plus the wired ports.
	if peak < 400e6 || peak > 700e6 {
		t.Errorf("core1 transit at the peak %.0f bit/s, want about 0.5 Gbit/s", peak)
	}
}

// Errors are rare: the bad patch cable on access3 Gi1/0/4 makes one every six
// minutes, and ports without a fault none.
func TestErrorsAreRare(t *testing.T) {
	clock := newTestClock(at("09:00"))
	m := newModel(clock.Now)
	clock.Add(time.Hour)
	inErrors := column(t, m.device("access3").mib, oidIfEntry.Append(14))
	if got := inErrors["10104"]; got != uint32(10) {
		t.Errorf("access3 Gi1/0/4 ifInErrors after an hour = %v, want 10", got)
	}
	total := uint32(0)
	for _, v := range inErrors {
		total += v.(uint32)
	}
	if total != 10 {
		t.Errorf("access3 in errors in total %d, want only the faulty port's 10", total)
	}
}

// The same time gives the same values, whoever asks.
func TestDeterministic(t *testing.T) {
	start := at("10:00")
	c1, c2 := newTestClock(start), newTestClock(start)
	m1, m2 := newModel(c1.Now), newModel(c2.Now)
	c1.Add(90 * time.Minute)
	c2.Add(90 * time.Minute)
	for i := range m1.devices {
		a, b := walk(t, m1.devices[i].mib, nil), walk(t, m2.devices[i].mib, nil)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s differs between two models at the same time", m1.devices[i].name)
		}
	}
}

// A reboot sends sysUpTime and the counters back to zero.
func TestReboot(t *testing.T) {
	clock := newTestClock(at("10:00"))
	m := newModel(clock.Now)
	d := m.device("access2")
	clock.Add(2 * time.Hour)
	uptime, _ := d.mib.Get(oidSystem.Append(3, 0))
	octets, _ := d.mib.Get(oidIfHCInOctets.Append(10201))
	if _, v := uptime(); v != uint32(2*3600*100) {
		t.Errorf("sysUpTime after 2 h = %v", v)
	}
	_, before := octets()
	d.reboot()
	clock.Add(time.Second)
	if _, v := uptime(); v != uint32(100) {
		t.Errorf("sysUpTime a second after the reboot = %v", v)
	}
	if _, after := octets(); after.(uint64) >= before.(uint64) || after.(uint64) == 0 {
		t.Errorf("uplink octets %d before the reboot, %d a second after", before, after)
	}
}

// wlcCounts reads what a poller sees: clients per AP (summing its radios),
// per WLAN, and the AP names.
func wlcCounts(t *testing.T, m snmpagent.MIB) (perAP map[string]int, perSSID map[string]int, names map[string]string) {
	t.Helper()
	names = make(map[string]string)
	for idx, v := range column(t, m, oidBsnAPEntry.Append(bsnAPName)) {
		names[idx] = text(v)
	}
	perAP = make(map[string]int)
	for idx, v := range column(t, m, oidBsnAPIfEntry.Append(bsnApIfNoOfUsers)) {
		mac := idx[:strings.LastIndexByte(idx, '.')]
		name, ok := names[mac]
		if !ok {
			t.Fatalf("radio %s of an AP missing from bsnAPTable", idx)
		}
		perAP[name] += int(v.(uint32))
	}
	ssids := column(t, m, oidBsnDot11EssEntry.Append(bsnDot11EssSsid))
	perSSID = make(map[string]int)
	for idx, v := range column(t, m, oidBsnDot11EssEntry.Append(bsnDot11EssNumberOfMobileStations)) {
		perSSID[text(ssids[idx])] = int(v.(uint32))
	}
	return perAP, perSSID, names
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestClientsAddUp(t *testing.T) {
	clock := newTestClock(at("00:00"))
	m := newModel(clock.Now)
	w := m.device("wlc1")
	for _, c := range []string{"03:00", "08:40", "10:30", "11:50", "14:00", "14:11", "15:20", "17:45", "21:00"} {
		clock.Set(at(c).Add(4 * time.Second))
		perAP, perSSID, _ := wlcCounts(t, w.mib)
		total := m.day.Attendees(at(c))
		if sum(perAP) != total || sum(perSSID) != total {
			t.Errorf("%s: %d clients on APs, %d on WLANs, want both %d", c, sum(perAP), sum(perSSID), total)
		}
		if c == "14:00" {
			for ssid, want := range map[string]int{"ietf": 900, "ietf-dual-stack": 375, "eduroam": 225} {
				if perSSID[ssid] != want {
					t.Errorf("%s: %s has %d clients, want %d", c, ssid, perSSID[ssid], want)
				}
			}
		}
	}
}

// People sit in the meeting rooms during sessions and crowd the halls in breaks.
func TestClientsFollowPeople(t *testing.T) {
	clock := newTestClock(at("14:00"))
	m := newModel(clock.Now)
	rooms := func(c string) (meeting, halls int) {
		clock.Set(at(c))
		perAP, _, _ := wlcCounts(t, m.device("wlc1").mib)
		for _, ap := range m.wlc.aps {
			switch ap.kind {
			case meetingRoom:
				meeting += perAP[ap.name]
			case hall:
				halls += perAP[ap.name]
			}
		}
		return meeting, halls
	}
	sm, sh := rooms("14:00")
	bm, bh := rooms("15:20")
	if !(sm > 3*sh && bh > bm) {
		t.Errorf("session: %d in meeting rooms, %d in halls; break: %d and %d", sm, sh, bm, bh)
	}
}

// ietf-ap-33 drops off the controller for two minutes every quarter hour: it
// vanishes from bsnAPTable and bsnAPIfTable, its switch port goes down, its
// clients move to the other APs in the Lobby, and then it comes back.
func TestFailingAPVanishesAndReturns(t *testing.T) {
	clock := newTestClock(at("14:09:50"))
	m := newModel(clock.Now)
	w := m.device("wlc1").mib
	sw := m.device("access4")
	failing := fmt.Sprintf("ietf-ap-%02d", failingAP)
	lobby := func(perAP map[string]int) (n int) {
		for _, ap := range m.wlc.aps {
			if ap.room == "Lobby" {
				n += perAP[ap.name]
			}
		}
		return n
	}
	portUp := func() bool {
		f, _ := sw.mib.Get(oidIfOperStatus.Append(10103))
		_, v := f()
		return v == ifUp
	}

	before, _, names := wlcCounts(t, w)
	if len(names) != 40 || before[failing] == 0 || !portUp() {
		t.Fatalf("before the outage: %d APs, %d clients on %s, port up %v", len(names), before[failing], failing, portUp())
	}

	clock.Set(at("14:10:30"))
	during, _, names := wlcCounts(t, w)
	if len(names) != 39 {
		t.Errorf("during the outage %d APs listed, want 39", len(names))
	}
	for _, n := range names {
		if n == failing {
			t.Errorf("%s still in bsnAPTable during its outage", failing)
		}
	}
	if radios := len(column(t, w, oidBsnAPIfEntry.Append(bsnApIfNoOfUsers))); radios != 78 {
		t.Errorf("%d radios during the outage, want 78", radios)
	}
	idx := "2.0.94.16.33.0"
	if _, ok := w.Get(snmpagent.MustParseOID(oidBsnAPEntry.Append(bsnAPName).String() + "." + idx)); ok {
		t.Errorf("GET of %s's name answered during its outage", failing)
	}
	if portUp() {
		t.Errorf("%s's switch port up during the outage", failing)
	}
	lastChange, _ := sw.mib.Get(oidIfEntry.Append(9, 10103))
	if _, v := lastChange(); v != uint32(1000) { // 14:10:00, 10 s after the switch booted
		t.Errorf("ifLastChange of %s's port = %v, want 1000", failing, v)
	}
	// Its clients went to its neighbours: the Lobby keeps its people.
	if b, d := lobby(before), lobby(during); d < b-b/10 || d > b+b/10 {
		t.Errorf("Lobby had %d clients before the outage and %d during it", b, d)
	}

	clock.Set(at("14:12:10"))
	after, _, names := wlcCounts(t, w)
	if len(names) != 40 || after[failing] == 0 || !portUp() {
		t.Errorf("after the outage: %d APs, %d clients on %s, port up %v", len(names), after[failing], failing, portUp())
	}
}
