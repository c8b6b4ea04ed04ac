// Package snmpagent is a small SNMP agent (v1, v2c, v3 USM) for the lab and for tests:
// it answers GET, GETNEXT and GETBULK from a MIB over UDP on loopback.
package snmpagent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// OID is a parsed object identifier.
type OID []uint32

// ParseOID parses dotted OID text; a leading dot is allowed.
func ParseOID(s string) (OID, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("empty OID")
	}
	parts := strings.Split(s, ".")
	oid := make(OID, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("OID %q: sub-identifier %q: not a number", s, p)
		}
		oid[i] = uint32(n)
	}
	return oid, nil
}

// MustParseOID is ParseOID for constants in code.
func MustParseOID(s string) OID {
	oid, err := ParseOID(s)
	if err != nil {
		panic(err)
	}
	return oid
}

// String is the dotted form without a leading dot.
func (o OID) String() string {
	var b strings.Builder
	for i, n := range o {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return b.String()
}

// Append returns o extended by sub-identifiers, as a new slice.
func (o OID) Append(sub ...uint32) OID {
	out := make(OID, 0, len(o)+len(sub))
	return append(append(out, o...), sub...)
}

// ValueFunc yields a variable's current type and value, read at request time so that
// counters move. The types and values are gosnmp's: OctetString → []byte or string,
// Integer → int, Counter32/Gauge32/TimeTicks → uint32, Counter64 → uint64,
// ObjectIdentifier → string, IPAddress → string.
type ValueFunc func() (gosnmp.Asn1BER, any)

// Static returns a ValueFunc for a fixed value.
func Static(t gosnmp.Asn1BER, v any) ValueFunc {
	return func() (gosnmp.Asn1BER, any) { return t, v }
}

type variable struct {
	oid   OID
	value ValueFunc
}

// MIB is what an agent serves. Implementations must be safe for concurrent use.
type MIB interface {
	// Get returns the variable at exactly oid.
	Get(oid OID) (ValueFunc, bool)
	// Next returns the first variable whose OID is lexicographically greater than oid.
	Next(oid OID) (OID, ValueFunc, bool)
}

// Tree is a MIB held as a sorted slice: built once, then read-only and safe for
// concurrent use. Values are functions, so a lab device's counters move without
// rebuilding the tree.
type Tree struct {
	vars   []variable
	sorted bool
}

// Set adds or replaces the variable at oid. Call Set only while building the tree.
func (t *Tree) Set(oid OID, v ValueFunc) {
	t.vars = append(t.vars, variable{oid: slices.Clone(oid), value: v})
	t.sorted = false
}

// Len is the number of variables.
func (t *Tree) Len() int { return len(t.vars) }

// Freeze sorts the tree and drops earlier duplicates; it must be called after the
// last Set and before the tree is served.
func (t *Tree) Freeze() *Tree {
	// Stable, so that of two Sets of one OID the later one wins below.
	slices.SortStableFunc(t.vars, func(a, b variable) int { return slices.Compare(a.oid, b.oid) })
	out := t.vars[:0]
	for _, v := range t.vars {
		if n := len(out); n > 0 && slices.Equal(out[n-1].oid, v.oid) {
			out[n-1] = v
			continue
		}
		out = append(out, v)
	}
	t.vars = out
	t.sorted = true
	return t
}

// Get implements MIB.
func (t *Tree) Get(oid OID) (ValueFunc, bool) {
	i, found := t.search(oid)
	if !found {
		return nil, false
	}
	return t.vars[i].value, true
}

// Next implements MIB.
func (t *Tree) Next(oid OID) (OID, ValueFunc, bool) {
	i, found := t.search(oid)
	if found {
		i++
	}
	if i >= len(t.vars) {
		return nil, nil, false
	}
	return t.vars[i].oid, t.vars[i].value, true
}

func (t *Tree) search(oid OID) (int, bool) {
	if !t.sorted {
		panic("snmpagent: Tree used before Freeze")
	}
	return slices.BinarySearchFunc(t.vars, oid, func(v variable, o OID) int { return slices.Compare(v.oid, o) })
}
