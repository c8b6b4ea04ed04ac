package snmp

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/exposition"
)

// A profilePlan is a profile compiled for polling: OIDs normalised, descriptors
// built, the sorted order of every row's labels worked out. Targets that use the
// same profile share its plan; it is immutable.
type profilePlan struct {
	name        string
	targetLabel string
	scalars     []*metricPlan
	tables      []*tablePlan
}

// A tablePlan is one profile table.
type tablePlan struct {
	name    string
	labels  []labelPlan
	metrics []*metricPlan
	// rowNames are a row's label names, sorted: the target label and the table's
	// labels. rowSource[i] tells where rowNames[i] comes from: -1 for the target
	// label, else an index into labels.
	rowNames  []string
	rowSource []int
	hasHold   bool
}

// A labelPlan gives each row of a table one label value.
type labelPlan struct {
	name        string
	oids        []string // the column and its fallbacks; empty: decode the index
	indexPrefix int
	format      string
	valueMap    map[string]string
}

// A metricPlan is one scalar or column metric.
type metricPlan struct {
	name         string
	counter      bool
	oids         []string // the OID and its fallbacks, in order
	scale        float64
	valueMap     map[int64]float64
	sum          bool
	hold         bool
	missingValue float64
	// labels are the metric's label names, sorted: its row's and its constant
	// labels. labelSrc[i] says where labels[i]'s value comes from: i ≥ 0 is the
	// row's value i (a row's values follow its sorted row label names), -j-1
	// is constValues[j].
	labels      []string
	labelSrc    []int
	constValues []string
	desc        *prometheus.Desc
	// family is shared by every metric of the name; series renders its lines.
	family *exposition.Family
	series exposition.Series
}

// labelValues appends the values of m's labels, in their order, for a row.
func (m *metricPlan) labelValues(dst []string, r *row) []string {
	for _, src := range m.labelSrc {
		if src >= 0 {
			dst = append(dst, r.values[src])
		} else {
			dst = append(dst, m.constValues[-src-1])
		}
	}
	return dst
}

// Label formats.
const (
	formatText   = "text"
	formatMAC    = "mac"
	formatHex    = "hex"
	formatIPAddr = "ipaddr"
	formatInt    = "int"
	formatIndex  = "index"
)

// family is what every emitter of one metric name must agree on, so that the
// exposition has one consistent family per name.
type family struct {
	help    string
	counter bool
	labels  []string // sorted
	origin  string   // "profile if_mib", for errors
	meta    *exposition.Family
}

// compileProfiles compiles the named profiles and checks that they agree with
// each other: one help text, type and label set per metric name.
func compileProfiles(profiles map[string]*config.Profile, names []string) (map[string]*profilePlan, error) {
	plans := make(map[string]*profilePlan, len(names))
	families := make(map[string]*family)
	for _, name := range names {
		if _, done := plans[name]; done {
			continue
		}
		p, ok := profiles[name]
		if !ok || p == nil {
			return nil, fmt.Errorf("unknown profile %q", name)
		}
		plan, err := compileProfile(p, families)
		if err != nil {
			return nil, fmt.Errorf("profile %q: %w", name, err)
		}
		plans[name] = plan
	}
	return plans, nil
}

func compileProfile(p *config.Profile, families map[string]*family) (*profilePlan, error) {
	pp := &profilePlan{name: p.Name, targetLabel: p.TargetLabel}
	if pp.targetLabel == "" {
		pp.targetLabel = defaultTargetLabel
	}
	if !validLabelName(pp.targetLabel) {
		return nil, fmt.Errorf("target_label %q is not a valid label name", pp.targetLabel)
	}
	origin := "profile " + p.Name
	for i := range p.Scalars {
		m, err := compileMetric(&p.Scalars[i], []string{pp.targetLabel}, origin, families)
		if err != nil {
			return nil, fmt.Errorf("scalar %q: %w", p.Scalars[i].Name, err)
		}
		m.hold = false // nothing to hold: a scalar has no rows that vanish
		pp.scalars = append(pp.scalars, m)
	}
	for ti := range p.Tables {
		t := &p.Tables[ti]
		tp := &tablePlan{name: t.Name}
		rowNames := []string{pp.targetLabel}
		for _, l := range t.Labels {
			lp, err := compileLabel(l)
			if err != nil {
				return nil, fmt.Errorf("table %q: %w", t.Name, err)
			}
			if l.Name == pp.targetLabel {
				return nil, fmt.Errorf("table %q: label %q collides with the profile's target label", t.Name, l.Name)
			}
			if slices.Contains(rowNames, l.Name) {
				return nil, fmt.Errorf("table %q: label %q defined twice", t.Name, l.Name)
			}
			rowNames = append(rowNames, l.Name)
			tp.labels = append(tp.labels, lp)
		}
		tp.rowNames, tp.rowSource = sortedRowLabels(rowNames)
		for mi := range t.Metrics {
			m, err := compileMetric(&t.Metrics[mi], rowNames, origin, families)
			if err != nil {
				return nil, fmt.Errorf("table %q: metric %q: %w", t.Name, t.Metrics[mi].Name, err)
			}
			tp.hasHold = tp.hasHold || m.hold
			tp.metrics = append(tp.metrics, m)
		}
		pp.tables = append(pp.tables, tp)
	}
	return pp, nil
}

// sortedRowLabels sorts names (names[0] is the target label) and says where each
// sorted name came from: -1 for the target label, i-1 for names[i].
func sortedRowLabels(names []string) ([]string, []int) {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return names[idx[a]] < names[idx[b]] })
	sorted := make([]string, len(names))
	source := make([]int, len(names))
	for i, j := range idx {
		sorted[i] = names[j]
		source[i] = j - 1
	}
	return sorted, source
}

func compileLabel(l config.ProfileLabel) (labelPlan, error) {
	if !validLabelName(l.Name) {
		return labelPlan{}, fmt.Errorf("label name %q is not valid", l.Name)
	}
	lp := labelPlan{name: l.Name, indexPrefix: l.IndexPrefix, format: l.Format, valueMap: l.ValueMap}
	if l.IndexPrefix < 0 {
		return labelPlan{}, fmt.Errorf("label %q: negative index_prefix", l.Name)
	}
	switch l.Format {
	case "", formatText, formatMAC, formatHex, formatIPAddr, formatInt, formatIndex:
	default:
		return labelPlan{}, fmt.Errorf("label %q: unknown format %q", l.Name, l.Format)
	}
	if l.OID == "" && len(l.FallbackOIDs) > 0 {
		return labelPlan{}, fmt.Errorf("label %q: fallback_oids without oid", l.Name)
	}
	if l.OID != "" {
		oids, err := normalizeOIDs(l.OID, l.FallbackOIDs)
		if err != nil {
			return labelPlan{}, fmt.Errorf("label %q: %w", l.Name, err)
		}
		lp.oids = oids
	} else if lp.format == "" {
		// Decoded from the index, "text" would read an ifIndex 5 as the byte 0x05.
		lp.format = formatIndex
	}
	if lp.format == "" {
		lp.format = formatText
	}
	return lp, nil
}

func compileMetric(pm *config.ProfileMetric, rowLabels []string, origin string, families map[string]*family) (*metricPlan, error) {
	if !validMetricName(pm.Name) {
		return nil, fmt.Errorf("metric name %q is not valid", pm.Name)
	}
	if selfMetricNames[pm.Name] {
		return nil, fmt.Errorf("metric name %q is reserved for the poller's own metrics", pm.Name)
	}
	m := &metricPlan{
		name:         pm.Name,
		scale:        pm.Scale,
		valueMap:     pm.ValueMap,
		hold:         pm.HoldMissing,
		missingValue: pm.MissingValue,
	}
	if m.scale == 0 {
		m.scale = 1
	}
	switch strings.ToLower(pm.Type) {
	case "counter":
		m.counter = true
	case "gauge", "":
	default:
		return nil, fmt.Errorf("type %q: want counter or gauge", pm.Type)
	}
	switch strings.ToLower(pm.Aggregate) {
	case "":
	case "sum":
		m.sum = true
	default:
		return nil, fmt.Errorf("aggregate %q: want sum or nothing", pm.Aggregate)
	}
	oids, err := normalizeOIDs(pm.OID, pm.FallbackOIDs)
	if err != nil {
		return nil, err
	}
	m.oids = oids

	rowNames, _ := sortedRowLabels(rowLabels)
	labels := slices.Clone(rowLabels)
	constNames := make([]string, 0, len(pm.Labels))
	for k := range pm.Labels {
		if !validLabelName(k) {
			return nil, fmt.Errorf("constant label name %q is not valid", k)
		}
		if slices.Contains(rowLabels, k) {
			return nil, fmt.Errorf("constant label %q collides with a table or target label", k)
		}
		constNames = append(constNames, k)
	}
	sort.Strings(constNames)
	for _, k := range constNames {
		m.constValues = append(m.constValues, sanitizeString(pm.Labels[k]))
	}
	labels = append(labels, constNames...)
	sort.Strings(labels)
	m.labels = labels
	for _, l := range labels {
		if i := slices.Index(rowNames, l); i >= 0 {
			m.labelSrc = append(m.labelSrc, i)
		} else {
			m.labelSrc = append(m.labelSrc, -slices.Index(constNames, l)-1)
		}
	}

	help := pm.Help
	if help == "" {
		help = pm.Name + " polled over SNMP."
	}
	f, ok := families[pm.Name]
	if ok {
		switch {
		case f.help != help:
			return nil, fmt.Errorf("help %q differs from %q in %s", help, f.help, f.origin)
		case f.counter != m.counter:
			return nil, fmt.Errorf("type differs from the one in %s", f.origin)
		case !slices.Equal(f.labels, labels):
			return nil, fmt.Errorf("labels %v differ from %v in %s", labels, f.labels, f.origin)
		}
	} else {
		typ := "gauge"
		if m.counter {
			typ = "counter"
		}
		f = &family{help: help, counter: m.counter, labels: labels, origin: origin,
			meta: &exposition.Family{Name: pm.Name, Help: help, Type: typ}}
		families[pm.Name] = f
	}
	m.desc = prometheus.NewDesc(pm.Name, help, labels, nil)
	m.family = f.meta
	m.series = exposition.NewSeries(pm.Name, labels...)
	return m, nil
}

// normalizeOIDs checks OIDs and strips any leading dot.
func normalizeOIDs(oid string, fallbacks []string) ([]string, error) {
	out := make([]string, 0, 1+len(fallbacks))
	for _, o := range append([]string{oid}, fallbacks...) {
		o = strings.TrimPrefix(o, ".")
		if !validOID(o) {
			return nil, fmt.Errorf("OID %q is not a dotted numeric OID", o)
		}
		if slices.Contains(out, o) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

func validOID(o string) bool {
	if o == "" {
		return false
	}
	parts := 0
	for _, s := range strings.Split(o, ".") {
		if s == "" || len(s) > 10 {
			return false
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
		}
		parts++
	}
	return parts >= 2
}

// validLabelName and validMetricName accept the classic Prometheus character
// sets, which every tool in the chain (promtool, Grafana, alert rules) handles.
func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
