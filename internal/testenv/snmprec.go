package testenv

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Recording is an snmpsim .snmprec file read for tests: the expected values of an
// agent that serves it, read independently of the code under test.
type Recording struct {
	vars map[string]RecordedVar
	oids []string // in file order
}

// RecordedVar is one line of a recording.
type RecordedVar struct {
	OID string
	Tag string // ASN.1 tag as snmpsim writes it: 2, 4, 4x, 6, 64, 65, 66, 67, 70, …
	Raw string // the value as written (hex for an "x" tag)
}

// ReadSnmprec parses an snmprec file ("OID|TAG|VALUE" per line).
func ReadSnmprec(t testing.TB, path string) *Recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &Recording{vars: map[string]RecordedVar{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("%s:%d: not OID|TAG|VALUE: %q", path, n, line)
		}
		v := RecordedVar{OID: parts[0], Tag: parts[1], Raw: parts[2]}
		if _, dup := r.vars[v.OID]; !dup {
			r.oids = append(r.oids, v.OID)
		}
		r.vars[v.OID] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

// Get returns the variable at oid.
func (r *Recording) Get(oid string) (RecordedVar, bool) {
	v, ok := r.vars[oid]
	return v, ok
}

// Column returns the cells under a column OID by row index ("5.1.2" for
// column.5.1.2).
func (r *Recording) Column(column string) map[string]RecordedVar {
	out := map[string]RecordedVar{}
	prefix := column + "."
	for _, oid := range r.oids {
		if idx, ok := strings.CutPrefix(oid, prefix); ok {
			out[idx] = r.vars[oid]
		}
	}
	return out
}

// SortedIndexes returns a column's row indexes in numeric OID order.
func SortedIndexes[V any](cells map[string]V) []string {
	idx := make([]string, 0, len(cells))
	for k := range cells {
		idx = append(idx, k)
	}
	slices.SortFunc(idx, compareOIDs)
	return idx
}

func compareOIDs(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(as) - len(bs)
}

// Bytes is the value of an OCTET STRING (hex-decoded for a "4x" tag).
func (v RecordedVar) Bytes() ([]byte, error) {
	if strings.HasSuffix(v.Tag, "x") {
		return hex.DecodeString(v.Raw)
	}
	return []byte(v.Raw), nil
}

// String is an OCTET STRING's value as text.
func (v RecordedVar) String() string {
	b, err := v.Bytes()
	if err != nil {
		return fmt.Sprintf("<bad hex %q>", v.Raw)
	}
	return string(b)
}

// Number is the value of a numeric type (INTEGER, Counter32/64, Gauge32,
// TimeTicks) as a float64, as Prometheus will carry it.
func (v RecordedVar) Number() (float64, error) {
	switch strings.TrimSuffix(v.Tag, "x") {
	case "2":
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		return float64(n), err
	case "65", "66", "67", "70":
		n, err := strconv.ParseUint(v.Raw, 10, 64)
		return float64(n), err
	}
	return 0, fmt.Errorf("%s: tag %s is not a number", v.OID, v.Tag)
}
