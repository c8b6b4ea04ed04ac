package snmp

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/exposition"
)

// A target's data changes only when it is polled, so each poll renders the
// target's series to text, one chunk per metric family, and compresses them
// (internal/exposition); /metrics then only concatenates bytes. The compact
// samples stay beside the chunks for Collect, the general path that registries
// and tests use. Re-parsing the rendered text in Collect would spare the
// samples (24 B a series, plus the rows, which they share per table row) but
// cost an inflate and a text parse per Collect and a second source of truth
// for label values; the samples are cheaper to reason about.

// compressors are shared by the polls that render at the same moment: a
// flate.Writer is several hundred kB, too much to keep one per target.
var compressors = sync.Pool{New: func() any { return exposition.NewCompressor() }}

// selfMetric is one of the poller's own per-target metrics.
type selfMetric struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	family    *exposition.Family
	series    exposition.Series
}

func newSelfMetric(name, help string, valueType prometheus.ValueType, labels ...string) *selfMetric {
	typ := "gauge"
	if valueType == prometheus.CounterValue {
		typ = "counter"
	}
	return &selfMetric{
		desc:      prometheus.NewDesc(name, help, labels, nil),
		valueType: valueType,
		family:    &exposition.Family{Name: name, Help: help, Type: typ},
		series:    exposition.NewSeries(name, labels...),
	}
}

// The poller's own metrics, per target. Their label names are sorted, as the
// text format's lines are written in label-name order.
var (
	selfUp = newSelfMetric("meetnoc_snmp_up",
		"Whether the last poll of the SNMP target succeeded (1) or failed (0).", prometheus.GaugeValue, "target")
	selfDuration = newSelfMetric("meetnoc_snmp_poll_duration_seconds",
		"How long the last poll of the SNMP target took.", prometheus.GaugeValue, "target")
	selfPolls = newSelfMetric("meetnoc_snmp_polls_total",
		"Polls of the SNMP target by result: ok, timeout (no answer), auth (SNMPv3 credentials rejected) or error.", prometheus.CounterValue, "result", "target")
	selfLastSuccess = newSelfMetric("meetnoc_snmp_last_success_timestamp_seconds",
		"When the last successful poll of the SNMP target finished, as a Unix time.", prometheus.GaugeValue, "target")
	selfOverruns = newSelfMetric("meetnoc_snmp_poll_overruns_total",
		"Polls of the SNMP target that took longer than its interval.", prometheus.CounterValue, "target")
	selfVarbinds = newSelfMetric("meetnoc_snmp_varbinds",
		"Variable bindings received in the last poll of the SNMP target.", prometheus.GaugeValue, "target")
	selfRequests = newSelfMetric("meetnoc_snmp_requests_total",
		"SNMP requests sent to the target, retries and SNMPv3 discovery included.", prometheus.CounterValue, "target")
	selfRestarts = newSelfMetric("meetnoc_snmp_agent_restarts_total",
		"Times the target's sysUpTime.0 went backwards: its agent or the device restarted.", prometheus.CounterValue, "target")
	selfMaxRep = newSelfMetric("meetnoc_snmp_max_repetitions",
		"GETBULK max-repetitions the target is walked with after automatic back-off; 0 while it is walked with GETNEXT.", prometheus.GaugeValue, "target")
)

// selfMetrics lists them in the order their samples come.
var selfMetrics = []*selfMetric{selfUp, selfDuration, selfVarbinds, selfLastSuccess, selfPolls, selfOverruns, selfRequests, selfRestarts, selfMaxRep}

// selfSamples calls emit for every own series of a target in state s, in the
// order of selfMetrics; result is the polls_total label, "" for the others.
// Before the first poll (polled false) only the counters, at zero, and the
// walk setting appear, so that rate() and increase() see the first event.
func selfSamples(s *snapshot, polled bool, emit func(m *selfMetric, result string, v float64)) {
	if polled {
		up := 0.0
		if s.up {
			up = 1
		}
		emit(selfUp, "", up)
		emit(selfDuration, "", s.duration.Seconds())
		emit(selfVarbinds, "", float64(s.varbinds))
		if !s.lastSuccess.IsZero() {
			emit(selfLastSuccess, "", float64(s.lastSuccess.UnixNano())/1e9)
		}
	}
	for r, result := range results {
		emit(selfPolls, result, float64(s.polls[r]))
	}
	emit(selfOverruns, "", float64(s.overruns))
	emit(selfRequests, "", float64(s.requests))
	emit(selfRestarts, "", float64(s.restarts))
	maxRep := float64(s.maxRep)
	if s.getNext {
		maxRep = 0
	}
	emit(selfMaxRep, "", maxRep)
}

// renderer is scratch space for rendering. It is pooled, not kept per
// target: a target's text is tens of kB, a thousand targets' tens of MB.
type renderer struct {
	bufs [][]byte // one per family slot
	self [][]byte // one per selfMetrics entry
	vals []string
	cp   *exposition.Compressor
}

var renderers = sync.Pool{New: func() any {
	return &renderer{self: make([][]byte, len(selfMetrics)), cp: exposition.NewCompressor()}
}}

// render renders a target's state s (its samples and own metrics) into chunks.
func render(plan *targetPlan, s *snapshot, polled bool) []exposition.Part {
	r := renderers.Get().(*renderer)
	defer renderers.Put(r)
	for len(r.bufs) < len(plan.families) {
		r.bufs = append(r.bufs, nil)
	}
	for i := range r.bufs {
		r.bufs[i] = r.bufs[i][:0]
	}
	for i := range r.self {
		r.self[i] = r.self[i][:0]
	}
	var last *metricPlan
	slot := 0
	for i := range s.samples {
		smp := &s.samples[i]
		if m := smp.metric; m != last {
			last, slot = m, plan.slot[m]
		}
		r.vals = smp.metric.labelValues(r.vals[:0], smp.row)
		r.bufs[slot] = smp.metric.series.Append(r.bufs[slot], r.vals, smp.value)
	}
	name := plan.name
	selfSamples(s, polled, func(m *selfMetric, result string, v float64) {
		i := selfIndex(m)
		r.vals = r.vals[:0]
		if result != "" {
			r.vals = append(r.vals, result)
		}
		r.self[i] = m.series.Append(r.self[i], append(r.vals, name), v)
	})

	cp := r.cp
	parts := make([]exposition.Part, 0, len(plan.families)+len(r.self))
	for i, b := range r.bufs[:len(plan.families)] {
		if len(b) > 0 {
			parts = append(parts, exposition.Part{Family: plan.families[i], Chunk: cp.Compress(b)})
		}
	}
	for i, b := range r.self {
		if len(b) > 0 {
			parts = append(parts, exposition.Part{Family: selfMetrics[i].family, Chunk: cp.Compress(b)})
		}
	}
	return parts
}

func selfIndex(m *selfMetric) int {
	for i, sm := range selfMetrics {
		if sm == m {
			return i
		}
	}
	panic("snmp: unknown self metric " + m.family.Name)
}
