package snmp

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meetnoc/meetnoc/internal/exposition"
)

// column is one walked table column: its cells by row index (the OID suffix
// after the column, dotted) and the indices in the order the agent sent them.
type column struct {
	order []string
	cells map[string]cell
}

// fetched is everything one poll got from an agent.
type fetched struct {
	scalars map[string]cell    // by OID, without leading dot
	columns map[string]*column // by column OID, without leading dot
}

func newFetched() *fetched {
	return &fetched{scalars: make(map[string]cell), columns: make(map[string]*column)}
}

// sample is one exported series, compact: its metric, the row that gives its
// label values (shared by every metric of a table row) and its value. A
// snapshot keeps these for Collect and the status page; /metrics is served
// from the snapshot's pre-rendered chunks instead.
type sample struct {
	metric *metricPlan
	row    *row
	value  float64
}

// row is one table row's label values, in the order of its table's sorted row
// label names (the target label included); a scalar's row is the target name.
type row struct {
	values []string
}

// targetPlan is what one target fetches and exports: its profiles' plans, bound to
// the target's name.
type targetPlan struct {
	name     string
	profiles []*profilePlan
	// targetRows[i] is the row of profiles[i]'s scalars: the target's name.
	targetRows []*row
	// getOIDs are fetched by GET (leading dot): sysUpTime.0, then every scalar
	// OID with its fallbacks.
	getOIDs []string
	// walkColumns are walked (no leading dot): the first OID of every table
	// metric and label. Fallback columns are fetched only where needed.
	walkColumns []string
	// shared names metrics that more than one table or scalar of this target
	// emits; only their samples need checking for duplicates.
	shared map[string]bool
	// families are the metric families the profiles emit, by name; slot maps
	// each metric to its family's index there.
	families []*exposition.Family
	slot     map[*metricPlan]int
}

const sysUpTimeOID = "1.3.6.1.2.1.1.3.0"

func newTargetPlan(name string, profiles []*profilePlan) *targetPlan {
	tp := &targetPlan{name: name, profiles: profiles, shared: make(map[string]bool), slot: make(map[*metricPlan]int)}
	seenGet := map[string]bool{sysUpTimeOID: true}
	tp.getOIDs = append(tp.getOIDs, "."+sysUpTimeOID)
	seenWalk := map[string]bool{}
	emitters := map[string]int{}
	families := map[string]*exposition.Family{}
	var metrics []*metricPlan
	addWalk := func(oid string) {
		if !seenWalk[oid] {
			seenWalk[oid] = true
			tp.walkColumns = append(tp.walkColumns, oid)
		}
	}
	for _, pp := range profiles {
		tp.targetRows = append(tp.targetRows, &row{values: []string{name}})
		for _, m := range pp.scalars {
			emitters[m.name]++
			metrics = append(metrics, m)
			for _, oid := range m.oids {
				if !seenGet[oid] {
					seenGet[oid] = true
					tp.getOIDs = append(tp.getOIDs, "."+oid)
				}
			}
		}
		for _, t := range pp.tables {
			for _, m := range t.metrics {
				emitters[m.name]++
				metrics = append(metrics, m)
				addWalk(m.oids[0])
			}
			for _, l := range t.labels {
				if len(l.oids) > 0 {
					addWalk(l.oids[0])
				}
			}
		}
	}
	for name, n := range emitters {
		if n > 1 {
			tp.shared[name] = true
		}
	}
	for _, m := range metrics {
		if families[m.name] == nil {
			families[m.name] = m.family
			tp.families = append(tp.families, m.family)
		}
	}
	slices.SortFunc(tp.families, func(a, b *exposition.Family) int { return strings.Compare(a.Name, b.Name) })
	for _, m := range metrics {
		tp.slot[m] = slices.IndexFunc(tp.families, func(f *exposition.Family) bool { return f.Name == m.name })
	}
	return tp
}

// heldRow is a hold_missing row last seen in an answer from the agent.
type heldRow struct {
	row      *row
	lastSeen time.Time
	seq      uint64 // the conversion that last saw it
	copied   bool   // row no longer points into a poll's shared blocks
}

// converter turns a target's fetched data into samples. Between polls it keeps
// only what must carry over: the hold_missing rows. Its working space comes
// from a pool for the length of one conversion (convert), so that the heap
// holds it for the polls in flight, not for every target.
type converter struct {
	plan *targetPlan
	hold map[*metricPlan]map[string]*heldRow // made on the first hold_missing row
	seq  uint64

	// convScratch is set only while convert runs (the target's mutex keeps
	// conversions of one target apart); nil between polls.
	*convScratch
}

// convScratch is one conversion's working space. A 48-interface switch needs
// ~13 kB of it; kept per target, a thousand switches held 13 MB between polls.
type convScratch struct {
	rowSeen   map[string]struct{}
	rows      []string
	seed      maphash.Seed
	groupOf   map[uint64]int32
	groups    []rowGroup
	values    []float64
	flags     []uint8
	labelVals []string
	groupVals []string
	keyBuf    []byte
	valsBuf   []string
	metricCol []*column
	labelCol  []*column
	emitted   map[string]struct{}
	out       []sample // the samples as they are built; convert returns a copy, exactly sized
}

// convScratches holds the working space of conversions not under way. A
// sync.Pool's contents live as long as they are in use, plus a GC cycle or two:
// at most one per concurrent poll (max_concurrency) at a time.
var convScratches = sync.Pool{New: func() any {
	return &convScratch{
		rowSeen: make(map[string]struct{}),
		seed:    maphash.MakeSeed(),
		groupOf: make(map[uint64]int32),
		emitted: make(map[string]struct{}),
	}
}}

// release lets go of what the working space points to: the fetched columns
// (every cell of the answer), the keys of the poll's rows, the samples. A
// pooled scratch must not keep a finished poll's data alive.
func (sc *convScratch) release() {
	clear(sc.metricCol[:cap(sc.metricCol)])
	clear(sc.labelCol[:cap(sc.labelCol)])
	clear(sc.groups[:cap(sc.groups)])
	clear(sc.rows[:cap(sc.rows)])
	clear(sc.labelVals[:cap(sc.labelVals)])
	clear(sc.groupVals[:cap(sc.groupVals)])
	clear(sc.valsBuf[:cap(sc.valsBuf)])
	clear(sc.out[:cap(sc.out)])
	sc.out = sc.out[:0]
	clear(sc.rowSeen)
	clear(sc.groupOf)
	clear(sc.emitted)
}

// rowGroup is the rows of a table that share one label set (one row, unless the
// table aggregates).
type rowGroup struct {
	values []string // the table labels' values, in the table's label order
	row    *row
}

const (
	flagSeen = 1 << iota // the row has a cell for the metric
	flagHas              // ... that gave a value
)

func newConverter(plan *targetPlan) *converter {
	return &converter{plan: plan}
}

// convert builds the samples of one successful poll at time now. Rows of
// hold_missing metrics that vanished less than holdFor ago are exported with
// their missing value. The samples are exactly as many as it returns: the
// snapshot keeps them until the next poll, and growth slack would stay with it.
func (cv *converter) convert(data *fetched, now time.Time, holdFor time.Duration) []sample {
	cv.convScratch = convScratches.Get().(*convScratch)
	defer func() {
		// Also on a panic (poll.go recovers from one): the scratch goes back
		// clean, and the converter holds none between polls.
		cv.release()
		convScratches.Put(cv.convScratch)
		cv.convScratch = nil
	}()
	cv.seq++
	out := cv.out[:0]
	for pi, pp := range cv.plan.profiles {
		for _, m := range pp.scalars {
			for _, oid := range m.oids {
				c, ok := data.scalars[oid]
				if !ok {
					continue
				}
				if v, ok := m.value(c); ok {
					out = cv.emit(out, m, cv.plan.targetRows[pi], v)
				}
				break
			}
		}
		for _, t := range pp.tables {
			out = cv.table(out, t, data, now, holdFor)
		}
	}
	cv.out = out // to be cleared and reused
	samples := make([]sample, len(out))
	copy(samples, out)
	return samples
}

func (cv *converter) table(out []sample, t *tablePlan, data *fetched, now time.Time, holdFor time.Duration) []sample {
	// Resolve the columns once per table, not once per cell.
	cv.metricCol = cv.metricCol[:0]
	for _, m := range t.metrics {
		for _, oid := range m.oids {
			cv.metricCol = append(cv.metricCol, data.columns[oid])
		}
	}
	cv.labelCol = cv.labelCol[:0]
	for _, l := range t.labels {
		for _, oid := range l.oids {
			cv.labelCol = append(cv.labelCol, data.columns[oid])
		}
	}

	// A row is any index at which a metric column has a cell; columns may be
	// sparse, so take the union.
	clear(cv.rowSeen)
	cv.rows = cv.rows[:0]
	for _, col := range cv.metricCol {
		if col == nil {
			continue
		}
		for _, idx := range col.order {
			if _, ok := cv.rowSeen[idx]; !ok {
				cv.rowSeen[idx] = struct{}{}
				cv.rows = append(cv.rows, idx)
			}
		}
	}
	nL, nM, nRows := len(t.labels), len(t.metrics), len(cv.rows)
	if nRows == 0 && !t.hasHold {
		return out
	}

	clear(cv.groupOf)
	cv.groups = cv.groups[:0]
	cv.values = grow(cv.values, nRows*nM)
	cv.flags = grow(cv.flags, nRows*nM)
	clear(cv.flags)
	cv.labelVals = grow(cv.labelVals, nL)
	cv.groupVals = grow(cv.groupVals, nRows*nL)
	// The rows of this poll in two blocks; the samples keep them, so they are
	// new on every poll.
	rows := make([]row, nRows)
	rowVals := make([]string, nRows*(nL+1))

	for _, idx := range cv.rows {
		off := 0
		for li := range t.labels {
			lp := &t.labels[li]
			cv.labelVals[li] = cv.labelValue(lp, idx, cv.labelCol[off:off+len(lp.oids)])
			off += len(lp.oids)
		}
		// Rows are grouped by a hash of their label values rather than by a
		// string key, which would cost an allocation per row.
		sum := uint64(len(cv.labelVals))
		for _, v := range cv.labelVals {
			sum = (sum ^ maphash.String(cv.seed, v)) * 1099511628211
		}
		g, ok := int32(0), false
		for {
			if g, ok = cv.groupOf[sum]; !ok || slices.Equal(cv.groups[g].values, cv.labelVals) {
				break
			}
			sum++ // a collision: probe on
		}
		if !ok {
			g = int32(len(cv.groups))
			cv.groupOf[sum] = g
			base := int(g) * nL
			copy(cv.groupVals[base:base+nL], cv.labelVals)
			r := &rows[g]
			r.values = rowVals[int(g)*(nL+1) : int(g+1)*(nL+1) : int(g+1)*(nL+1)]
			for i, src := range t.rowSource {
				if src < 0 {
					r.values[i] = cv.plan.name
				} else {
					r.values[i] = cv.labelVals[src]
				}
			}
			cv.groups = append(cv.groups, rowGroup{values: cv.groupVals[base : base+nL : base+nL], row: r})
		}
		off = 0
		for mi, m := range t.metrics {
			cols := cv.metricCol[off : off+len(m.oids)]
			off += len(m.oids)
			c, ok := cellAt(cols, idx)
			if !ok {
				continue
			}
			i := int(g)*nM + mi
			cv.flags[i] |= flagSeen
			v, ok := m.value(c)
			switch {
			case !ok:
			case m.sum && cv.flags[i]&flagHas != 0:
				cv.values[i] += v
			case cv.flags[i]&flagHas == 0:
				// Without aggregation the first row of a label set wins: two
				// interfaces with the same name and alias must not make a
				// duplicate series, which would fail the whole scrape.
				cv.values[i] = v
				cv.flags[i] |= flagHas
			}
		}
	}

	for gi, g := range cv.groups {
		for mi, m := range t.metrics {
			f := cv.flags[gi*nM+mi]
			if f&flagSeen == 0 {
				continue
			}
			if m.hold {
				cv.remember(m, g.values, g.row, now)
			}
			if f&flagHas != 0 {
				out = cv.emit(out, m, g.row, cv.values[gi*nM+mi])
			}
		}
	}
	if t.hasHold {
		out = cv.held(out, t, now, holdFor)
	}
	return out
}

// labelValue is a row's value of one label: the cell of its column (or a
// fallback column) at the row's index or index prefix, or the decoded index;
// the dotted row index where no source has a value.
func (cv *converter) labelValue(lp *labelPlan, idx string, cols []*column) string {
	lookup := idx
	if lp.indexPrefix > 0 {
		lookup = indexPrefix(idx, lp.indexPrefix)
	}
	if len(lp.oids) == 0 {
		return truncate(decodeIndex(lookup, lp))
	}
	if c, ok := cellAt(cols, lookup); ok {
		return truncate(formatCell(c, lp))
	}
	return truncate(idx)
}

// cellAt is the first of the columns that has a cell at idx.
func cellAt(cols []*column, idx string) (cell, bool) {
	for _, col := range cols {
		if col == nil {
			continue
		}
		if c, ok := col.cells[idx]; ok {
			return c, true
		}
	}
	return cell{}, false
}

// value converts a cell to the metric's value: through the value map (an
// unknown raw value yields nothing), then times the scale.
func (m *metricPlan) value(c cell) (float64, bool) {
	if m.valueMap != nil {
		raw, ok := integerValue(c)
		if !ok {
			return 0, false
		}
		v, ok := m.valueMap[raw]
		return v * m.scale, ok
	}
	v, ok := numericValue(c)
	return v * m.scale, ok
}

func (cv *converter) emit(out []sample, m *metricPlan, r *row, v float64) []sample {
	if cv.plan.shared[m.name] {
		cv.keyBuf = append(cv.keyBuf[:0], m.name...)
		cv.valsBuf = m.labelValues(cv.valsBuf[:0], r)
		for _, v := range cv.valsBuf {
			cv.keyBuf = append(append(cv.keyBuf, 0xff), v...)
		}
		if _, dup := cv.emitted[string(cv.keyBuf)]; dup {
			return out
		}
		cv.emitted[string(cv.keyBuf)] = struct{}{}
	}
	return append(out, sample{metric: m, row: r, value: v})
}

// remember notes that a hold_missing row was in the agent's answer.
func (cv *converter) remember(m *metricPlan, values []string, r *row, now time.Time) {
	if cv.hold == nil {
		cv.hold = make(map[*metricPlan]map[string]*heldRow)
	}
	rows := cv.hold[m]
	if rows == nil {
		rows = make(map[string]*heldRow)
		cv.hold[m] = rows
	}
	cv.keyBuf = cv.keyBuf[:0]
	for _, v := range values {
		cv.keyBuf = append(append(cv.keyBuf, v...), 0xff)
	}
	h := rows[string(cv.keyBuf)]
	if h == nil {
		h = &heldRow{}
		rows[string(cv.keyBuf)] = h
	}
	h.row, h.lastSeen, h.seq, h.copied = r, now, cv.seq, false
}

// held exports the hold_missing rows of t that this answer lacked, until they
// have been gone for holdFor.
func (cv *converter) held(out []sample, t *tablePlan, now time.Time, holdFor time.Duration) []sample {
	for _, m := range t.metrics {
		if !m.hold {
			continue
		}
		for key, h := range cv.hold[m] {
			if h.seq == cv.seq {
				continue
			}
			if now.Sub(h.lastSeen) >= holdFor {
				delete(cv.hold[m], key)
				continue
			}
			if !h.copied {
				// Let go of the poll's row blocks the row pointed into.
				h.row = &row{values: slices.Clone(h.row.values)}
				h.copied = true
			}
			out = cv.emit(out, m, h.row, m.missingValue)
		}
	}
	return out
}

// grow returns s resized to n, reusing its array when it is big enough.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
