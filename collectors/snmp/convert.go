package snmp

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

// sample is one exported series. It implements prometheus.Metric directly: its
// label pairs are built once per poll and shared by every metric of a table row,
// where prometheus.NewConstMetric would build them anew for each.
type sample struct {
	desc    *prometheus.Desc
	counter bool
	value   float64
	labels  []*dto.LabelPair // sorted by name; shared, never modified
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.counter {
		m.Counter = &dto.Counter{Value: &s.value}
	} else {
		m.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}

// targetPlan is what one target fetches and exports: its profiles' plans, bound to
// the target's name.
type targetPlan struct {
	profiles []*profilePlan
	// targetPairs[i] carries the target's name under profiles[i]'s target label.
	targetPairs []*dto.LabelPair
	// scalarLabels[i][j] are the sorted labels of profiles[i].scalars[j].
	scalarLabels [][][]*dto.LabelPair
	// getOIDs are fetched by GET (leading dot): sysUpTime.0, then every scalar
	// OID with its fallbacks.
	getOIDs []string
	// walkColumns are walked (no leading dot): the first OID of every table
	// metric and label. Fallback columns are fetched only where needed.
	walkColumns []string
	// shared names metrics that more than one table or scalar of this target
	// emits; only their samples need checking for duplicates.
	shared map[string]bool
}

const sysUpTimeOID = "1.3.6.1.2.1.1.3.0"

func newTargetPlan(name string, profiles []*profilePlan) *targetPlan {
	tp := &targetPlan{profiles: profiles, shared: make(map[string]bool)}
	seenGet := map[string]bool{sysUpTimeOID: true}
	tp.getOIDs = append(tp.getOIDs, "."+sysUpTimeOID)
	seenWalk := map[string]bool{}
	emitters := map[string]int{}
	addWalk := func(oid string) {
		if !seenWalk[oid] {
			seenWalk[oid] = true
			tp.walkColumns = append(tp.walkColumns, oid)
		}
	}
	for _, pp := range profiles {
		pair := &dto.LabelPair{Name: new(pp.targetLabel), Value: new(name)}
		tp.targetPairs = append(tp.targetPairs, pair)
		var scalarLabels [][]*dto.LabelPair
		for _, m := range pp.scalars {
			scalarLabels = append(scalarLabels, mergePairs([]*dto.LabelPair{pair}, m.constPairs))
			emitters[m.name]++
			for _, oid := range m.oids {
				if !seenGet[oid] {
					seenGet[oid] = true
					tp.getOIDs = append(tp.getOIDs, "."+oid)
				}
			}
		}
		tp.scalarLabels = append(tp.scalarLabels, scalarLabels)
		for _, t := range pp.tables {
			for _, m := range t.metrics {
				emitters[m.name]++
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
	return tp
}

// heldRow is a hold_missing row last seen in an answer from the agent.
type heldRow struct {
	labels   []*dto.LabelPair
	lastSeen time.Time
	seq      uint64 // the conversion that last saw it
	copied   bool   // labels no longer point into a poll's shared blocks
}

// converter turns a target's fetched data into samples. It remembers
// hold_missing rows, and keeps scratch space between polls so that a steady
// target allocates little more than the samples themselves.
type converter struct {
	plan *targetPlan
	hold map[*metricPlan]map[string]*heldRow
	seq  uint64

	rowSeen   map[string]struct{}
	rows      []string
	seed      maphash.Seed
	groupOf   map[uint64]int32
	groups    []rowGroup
	values    []float64
	flags     []uint8
	labelVals []string
	keyBuf    []byte
	metricCol []*column
	labelCol  []*column
	emitted   map[string]struct{}
	last      int
}

// rowGroup is the rows of a table that share one label set (one row, unless the
// table aggregates).
type rowGroup struct {
	values []string // the table labels' values
	labels []*dto.LabelPair
}

const (
	flagSeen = 1 << iota // the row has a cell for the metric
	flagHas              // ... that gave a value
)

func newConverter(plan *targetPlan) *converter {
	return &converter{
		plan:    plan,
		hold:    make(map[*metricPlan]map[string]*heldRow),
		rowSeen: make(map[string]struct{}),
		seed:    maphash.MakeSeed(),
		groupOf: make(map[uint64]int32),
		emitted: make(map[string]struct{}),
	}
}

// convert builds the samples of one successful poll at time now. Rows of
// hold_missing metrics that vanished less than holdFor ago are exported with
// their missing value.
func (cv *converter) convert(data *fetched, now time.Time, holdFor time.Duration) []sample {
	cv.seq++
	clear(cv.emitted)
	out := make([]sample, 0, cv.last+cv.last/8+8)
	for pi, pp := range cv.plan.profiles {
		for si, m := range pp.scalars {
			for _, oid := range m.oids {
				c, ok := data.scalars[oid]
				if !ok {
					continue
				}
				if v, ok := m.value(c); ok {
					out = cv.emit(out, m, cv.plan.scalarLabels[pi][si], v)
				}
				break
			}
		}
		for _, t := range pp.tables {
			out = cv.table(out, t, cv.plan.targetPairs[pi], data, now, holdFor)
		}
	}
	cv.last = len(out)
	return out
}

func (cv *converter) table(out []sample, t *tablePlan, targetPair *dto.LabelPair, data *fetched, now time.Time, holdFor time.Duration) []sample {
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
	// Label storage for every group of this poll in three blocks; the samples
	// keep them, so they are new on every poll.
	strs := make([]string, nRows*nL)
	pairs := make([]dto.LabelPair, nRows*nL)
	ptrs := make([]*dto.LabelPair, nRows*(nL+1))

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
			copy(strs[base:base+nL], cv.labelVals)
			labels := ptrs[int(g)*(nL+1) : int(g+1)*(nL+1) : int(g+1)*(nL+1)]
			for i, src := range t.rowSource {
				if src < 0 {
					labels[i] = targetPair
					continue
				}
				p := &pairs[base+src]
				p.Name = &t.labels[src].name
				p.Value = &strs[base+src]
				labels[i] = p
			}
			cv.groups = append(cv.groups, rowGroup{values: strs[base : base+nL : base+nL], labels: labels})
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
			labels := g.labels
			if len(m.constPairs) > 0 {
				labels = mergePairs(labels, m.constPairs)
			}
			if m.hold {
				cv.remember(m, g.values, labels, now)
			}
			if f&flagHas != 0 {
				out = cv.emit(out, m, labels, cv.values[gi*nM+mi])
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

func (cv *converter) emit(out []sample, m *metricPlan, labels []*dto.LabelPair, v float64) []sample {
	if cv.plan.shared[m.name] {
		cv.keyBuf = append(cv.keyBuf[:0], m.name...)
		for _, l := range labels {
			cv.keyBuf = append(append(cv.keyBuf, 0xff), l.GetValue()...)
		}
		if _, dup := cv.emitted[string(cv.keyBuf)]; dup {
			return out
		}
		cv.emitted[string(cv.keyBuf)] = struct{}{}
	}
	return append(out, sample{desc: m.desc, counter: m.counter, value: v, labels: labels})
}

// remember notes that a hold_missing row was in the agent's answer.
func (cv *converter) remember(m *metricPlan, values []string, labels []*dto.LabelPair, now time.Time) {
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
	h.labels, h.lastSeen, h.seq, h.copied = labels, now, cv.seq, false
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
				// Let go of the poll's label blocks the row pointed into.
				h.labels = copyPairs(h.labels)
				h.copied = true
			}
			out = cv.emit(out, m, h.labels, m.missingValue)
		}
	}
	return out
}

// mergePairs merges two sorted label lists into a new one.
func mergePairs(a, b []*dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].GetName() < b[j].GetName() {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func copyPairs(in []*dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, len(in))
	for i, p := range in {
		out[i] = &dto.LabelPair{Name: new(p.GetName()), Value: new(p.GetValue())}
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
