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
