package lab

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// testClock is a clock the test sets.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// monday is a meeting day at a venue on UTC, so that venue time is UTC.
var monday = time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)

// at is a time of day on monday: "15:04" or "15:04:05"; "24:00" is the next midnight.
func at(clock string) time.Time {
	var h, m, s int
	if _, err := fmt.Sscanf(clock+":0", "%d:%d:%d", &h, &m, &s); err != nil {
		panic(err)
	}
	return monday.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

// variable is one variable read from a MIB.
type variable struct {
	oid   snmpagent.OID
	typ   gosnmp.Asn1BER
	value any
}

// walk reads every variable under prefix with GETNEXT, as a manager would.
func walk(t testing.TB, m snmpagent.MIB, prefix snmpagent.OID) []variable {
	t.Helper()
	var out []variable
	oid := prefix
	for {
		next, v, ok := m.Next(oid)
		if !ok || len(next) < len(prefix) || !slices.Equal(next[:len(prefix)], prefix) {
			return out
		}
		if slices.Compare(next, oid) <= 0 {
			t.Fatalf("Next(%s) = %s: not after it", oid, next)
		}
		typ, val := v()
		out = append(out, variable{oid: next, typ: typ, value: val})
		oid = next
	}
}

// column returns a table column's values by the index after the column OID.
func column(t testing.TB, m snmpagent.MIB, col snmpagent.OID) map[string]any {
	t.Helper()
	out := make(map[string]any)
	for _, v := range walk(t, m, col) {
		out[snmpagent.OID(v.oid[len(col):]).String()] = v.value
	}
	return out
}

// text returns an OCTET STRING value as a string.
func text(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// namedMIB is a MIB and the device name that messages give it.
type namedMIB struct {
	name string
	mib  snmpagent.MIB
}

// checkCountersOverDay steps clock until until, 13 min 17 s at a time, walking
// MIB-2 (system, interfaces, ifMIB: every counter) of each MIB at every step:
// no counter may go back, and every 32-bit counter with a 64-bit twin must be
// its low bits (they wrap within seconds on busy links). It returns the steps
// taken, the counters checked and the 32/64-bit pairs compared.
func checkCountersOverDay(t *testing.T, clock *testClock, until time.Time, mibs []namedMIB) (steps, counters, pairs int) {
	t.Helper()
	hcPair := map[string]snmpagent.OID{}
	for c32, c64 := range map[string]snmpagent.OID{
		"1.3.6.1.2.1.2.2.1.10": oidIfXEntry.Append(6), "1.3.6.1.2.1.2.2.1.11": oidIfXEntry.Append(7),
		"1.3.6.1.2.1.2.2.1.16": oidIfXEntry.Append(10), "1.3.6.1.2.1.2.2.1.17": oidIfXEntry.Append(11),
		"1.3.6.1.2.1.31.1.1.1.2": oidIfXEntry.Append(8), "1.3.6.1.2.1.31.1.1.1.3": oidIfXEntry.Append(9),
		"1.3.6.1.2.1.31.1.1.1.4": oidIfXEntry.Append(12), "1.3.6.1.2.1.31.1.1.1.5": oidIfXEntry.Append(13),
	} {
		hcPair[c32] = c64
	}
	// MIB-2's rows stay put, so the walks of all steps line up.
	mib2 := snmpagent.MustParseOID("1.3.6.1.2.1")
	first := make([][]variable, len(mibs))
	twin := make([]map[int]int, len(mibs)) // Counter32 position → its 64-bit twin's
	prev := make([][]variable, len(mibs))
	for clock.Now().Before(until) {
		for di, d := range mibs {
			vars := walk(t, d.mib, mib2)
			if first[di] == nil {
				first[di], twin[di] = vars, make(map[int]int)
				pos := make(map[string]int, len(vars))
				for i, v := range vars {
					pos[v.oid.String()] = i
				}
				for i, v := range vars {
					if c64, ok := hcPair[v.oid[:len(v.oid)-1].String()]; ok {
						twin[di][i] = pos[c64.Append(v.oid[len(v.oid)-1]).String()]
					}
				}
			} else if len(vars) != len(first[di]) {
				t.Fatalf("%s: walk of %d variables at %s, %d at first", d.name, len(vars), clock.Now().Format("15:04:05"), len(first[di]))
			}
			for i, v := range vars {
				if v.typ != gosnmp.Counter32 && v.typ != gosnmp.Counter64 {
					continue
				}
				if j, ok := twin[di][i]; ok {
					if uint32(vars[j].value.(uint64)) != v.value.(uint32) {
						t.Fatalf("%s %s = %d at %s, but its 64-bit twin %d", d.name, v.oid, v.value, clock.Now().Format("15:04:05"), vars[j].value)
					}
					pairs++
					continue
				}
				if prev[di] == nil {
					counters++
					continue
				}
				var back bool
				switch p := prev[di][i]; v.typ {
				case gosnmp.Counter64:
					back = v.value.(uint64) < p.value.(uint64)
				case gosnmp.Counter32: // errors and discards: far from wrapping
					back = v.value.(uint32) < p.value.(uint32)
				}
				if back {
					t.Fatalf("%s %s went back at %s: %d → %d", d.name, v.oid, clock.Now().Format("15:04:05"), prev[di][i].value, v.value)
				}
			}
			prev[di] = vars
		}
		steps++
		clock.Add(13*time.Minute + 17*time.Second)
	}
	return steps, counters, pairs
}

// fileConfig is configs/lab.yml's: the lab at its default ports, with the NAT64
// that `meetnoc lab` makes as root.
func fileConfig() labConfig {
	devices := plannedDevices(newModel(time.Now), "127.0.0.1", DefaultBasePort)
	return labConfig{
		devices:    devices,
		sflow:      sflowListen("127.0.0.1", DefaultBasePort, len(devices)),
		sampling:   DefaultSFlowSampling,
		dns:        dnsListen("127.0.0.1", DefaultBasePort, len(devices)),
		nat64Netns: DefaultNAT64Netns,
		note:       fileNote,
	}
}
