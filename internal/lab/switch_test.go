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

// ifColumns are the ifTable and ifXTable columns every interface has.
var ifColumns = func() []string {
	var out []string
	for _, c := range []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 20} {
		out = append(out, oidIfEntry.Append(c).String())
	}
	for c := uint32(1); c <= 19; c++ {
		out = append(out, oidIfXEntry.Append(c).String())
	}
	return out
}()

func TestSwitchMIBShape(t *testing.T) {
	for _, tc := range []struct {
		n         int
		tenGig    int
		lastName  string
		lastIndex string
	}{
		{n: 1, lastName: "Gi1/0/1", lastIndex: "10101"},
		{n: 48, lastName: "Gi1/0/48", lastIndex: "10148"},
		{n: 49, tenGig: 1, lastName: "Te1/0/1", lastIndex: "10201"},
		{n: 50, tenGig: 2, lastName: "Te1/0/2", lastIndex: "10202"},
		{n: 51, tenGig: 2, lastName: "Gi2/0/1", lastIndex: "10601"},
		{n: 800, tenGig: 32, lastName: "Te16/0/2", lastIndex: "17702"},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			clock := newTestClock(at("14:00"))
			name := fmt.Sprintf("sw%d", tc.n)
			mib := NewSwitchMIB(name, tc.n, clock.Now)

			sys := column(t, mib, oidSystem)
			if got := text(sys["5.0"]); got != name {
				t.Errorf("sysName %q, want %q", got, name)
			}
			if got, want := text(sys["1.0"]), accessSystem("").descr; got != want {
				t.Errorf("sysDescr %q, want the access switches' %q", got, want)
			}
			if got, want := sys["3.0"], uint32(switchUptime/(10*time.Millisecond)); got != want {
				t.Errorf("sysUpTime %v, want %v", got, want)
			}
			number, _ := mib.Get(oidIfNumber)
			if _, v := number(); v != tc.n {
				t.Errorf("ifNumber %v, want %d", v, tc.n)
			}

			// Every column has one row per interface, and nothing else is served.
			vars := walk(t, mib, nil)
			if len(vars) != mib.Len() {
				t.Errorf("a walk saw %d of %d variables", len(vars), mib.Len())
			}
			rows := make(map[string]int)
			for _, v := range vars {
				if col := v.oid[:len(v.oid)-1].String(); slices.Contains(ifColumns, col) {
					rows[col]++
				}
			}
			for _, col := range ifColumns {
				if rows[col] != tc.n {
					t.Errorf("column %s has %d rows, want %d", col, rows[col], tc.n)
				}
			}
			if want := 7 + 1 + tc.n*len(ifColumns); len(vars) != want {
				t.Errorf("%d variables, want %d (system, ifNumber, %d columns × %d)", len(vars), want, len(ifColumns), tc.n)
			}

			names := column(t, mib, oidIfName)
			indices := column(t, mib, oidIfEntry.Append(1))
			seen := make(map[string]bool)
			tenGig := 0
			for idx, v := range names {
				n := text(v)
				if seen[n] {
					t.Errorf("ifName %s twice", n)
				}
				seen[n] = true
				if strings.HasPrefix(n, "Te") {
					tenGig++
				}
				if got := fmt.Sprint(indices[idx]); got != idx {
					t.Errorf("ifIndex.%s = %s", idx, got)
				}
			}
			if tenGig != tc.tenGig {
				t.Errorf("%d 10G uplinks, want %d", tenGig, tc.tenGig)
			}
			last := walk(t, mib, oidIfName)
			if got := last[len(last)-1]; text(got.value) != tc.lastName || got.oid[len(got.oid)-1] != mustAtoi(t, tc.lastIndex) {
				t.Errorf("last interface %s = %q, want ifIndex %s %q", got.oid, text(got.value), tc.lastIndex, tc.lastName)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The ports carry what an access switch's ports do: APs, desks, printers,
// encoders; a few are down; speeds follow.
func TestSwitchMIBPorts(t *testing.T) {
	mib := NewSwitchMIB("bench-sw0001", 800, newTestClock(at("14:00")).Now)
	names := column(t, mib, oidIfName)
	alias := column(t, mib, oidIfAlias)
	admin := column(t, mib, oidIfEntry.Append(7))
	oper := column(t, mib, oidIfOperStatus)
	speed := column(t, mib, oidIfXEntry.Append(15))
	macs := column(t, mib, oidIfEntry.Append(6))

	kinds := make(map[string]int)
	down, shut := 0, 0
	seenMAC := make(map[string]bool)
	for idx, v := range names {
		name, a := text(v), text(alias[idx])
		mac := string(macs[idx].([]byte))
		if len(mac) != 6 || seenMAC[mac] {
			t.Errorf("%s: ifPhysAddress %x empty or not unique", name, mac)
		}
		seenMAC[mac] = true
		kind := strings.TrimRight(a, "0123456789- ")
		kinds[kind]++
		switch {
		case admin[idx] == ifDown:
			shut++
			if a != "unused" || oper[idx] != ifDown {
				t.Errorf("%s shut down: alias %q, oper %v", name, a, oper[idx])
			}
		case oper[idx] == ifDown:
			down++
			if a != "" || speed[idx] != uint32(10) {
				t.Errorf("%s down: alias %q, speed %v; want none and 10", name, a, speed[idx])
			}
		case strings.HasPrefix(name, "Te"):
			if speed[idx] != uint32(10_000) || !strings.HasPrefix(a, "uplink core") {
				t.Errorf("%s: speed %v, alias %q", name, speed[idx], a)
			}
		case kind == "printer":
			if speed[idx] != uint32(100) {
				t.Errorf("%s printer at %v Mbit/s", name, speed[idx])
			}
		default:
			if speed[idx] != uint32(1000) || a == "" {
				t.Errorf("%s up: speed %v, alias %q", name, speed[idx], a)
			}
		}
	}
	// 768 copper ports: about 1 in 20 shut, 2 in 20 empty, 12 in 20 APs.
	if shut < 15 || shut > 70 || down < 40 || down > 120 {
		t.Errorf("%d ports shut and %d with nothing plugged in, of 768", shut, down)
	}
	for kind, lo := range map[string]int{"AP room": 250, "AP hall": 100, "desk": 70, "printer": 15, "video encoder": 15, "uplink core": 32} {
		if kinds[kind] < lo {
			t.Errorf("%d ports of kind %q, want at least %d (kinds %v)", kinds[kind], kind, lo, kinds)
		}
	}
}

// Over a day no counter goes back; the uplinks carry what their member's ports
// do, far more in the afternoon session than at night.
func TestSwitchMIBCounters(t *testing.T) {
	t.Parallel()
	clock := newTestClock(at("00:00").Add(-time.Hour))
	mib := NewSwitchMIB("sw150", 150, clock.Now) // three members with their uplinks
	steps, counters, pairs := checkCountersOverDay(t, clock, at("24:00"), []namedMIB{{"sw150", mib}})
	if steps < 100 || counters < 150*12 || pairs < 150*8 {
		t.Fatalf("only %d steps, %d counters, %d 32/64-bit pairs checked", steps, counters, pairs)
	}

	hcIn, hcOut := oidIfXEntry.Append(6), oidIfXEntry.Append(10)
	octets := func(col snmpagent.OID, idx uint32) uint64 {
		f, ok := mib.Get(col.Append(idx))
		if !ok {
			t.Fatalf("no %s.%d", col, idx)
		}
		typ, v := f()
		if typ != gosnmp.Counter64 {
			t.Fatalf("%s.%d is %v", col, idx, typ)
		}
		return v.(uint64)
	}
	// member2 sums the member-2 ports' output and its uplinks' input, bytes.
	member2 := func() (ports, uplinks uint64) {
		for p := uint32(1); p <= 48; p++ {
			ports += octets(hcOut, 10600+p)
		}
		return ports, octets(hcIn, 10701) + octets(hcIn, 10702)
	}
	rate := func(from string) (ports, uplinks float64) {
		clock.Set(at(from))
		p0, u0 := member2()
		clock.Add(time.Minute)
		p1, u1 := member2()
		return float64(p1-p0) * 8 / 60, float64(u1-u0) * 8 / 60
	}
	nightPorts, night := rate("03:00")
	peakPorts, peak := rate("14:00")
	for _, r := range [][2]float64{{nightPorts, night}, {peakPorts, peak}} {
		if r[1] < r[0]*0.999 || r[1] > r[0]*1.001 {
			t.Errorf("uplinks of member 2 receive %.0f bit/s, its ports send %.0f", r[1], r[0])
		}
	}
	if !(night > 0 && peak > 5*night && peak > 100e6) {
		t.Errorf("member 2 uplinks %.0f bit/s at night, %.0f in the peak session: want a clear day curve", night, peak)
	}
}

// Equal names and clocks give equal switches; another name another one.
func TestSwitchMIBDeterministic(t *testing.T) {
	start := at("10:00")
	c1, c2 := newTestClock(start), newTestClock(start)
	a, b := NewSwitchMIB("bench-sw0007", 100, c1.Now), NewSwitchMIB("bench-sw0007", 100, c2.Now)
	c1.Add(90 * time.Minute)
	c2.Add(90 * time.Minute)
	if fmt.Sprint(walk(t, a, nil)) != fmt.Sprint(walk(t, b, nil)) {
		t.Error("two switches of the same name differ at the same time")
	}
	other := NewSwitchMIB("bench-sw0008", 100, c2.Now)
	if fmt.Sprint(column(t, a, oidIfAlias)) == fmt.Sprint(column(t, other, oidIfAlias)) {
		t.Error("switches of different names have the same ports")
	}
}
