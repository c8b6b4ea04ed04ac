package snmp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/exposition"
)

// familiesOf parses a text exposition and renders each family canonically:
// HELP, TYPE and its series sorted, so that two expositions compare family
// by family whatever the order of their lines.
func familiesOf(t *testing.T, text []byte) map[string]string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, text)
	}
	return canonical(mfs)
}

func canonical(mfs map[string]*dto.MetricFamily) map[string]string {
	out := map[string]string{}
	for name, mf := range mfs {
		lines := []string{"# HELP " + mf.GetHelp(), "# TYPE " + mf.GetType().String()}
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&b, "%s=%q,", l.GetName(), l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			lines = append(lines, fmt.Sprintf("{%s} %v", b.String(), v))
		}
		slices.Sort(lines[2:])
		out[name] = strings.Join(lines, "\n")
	}
	return out
}

// The pre-rendered chunks say exactly what Collect says: before the first
// poll, after a good poll, after a failed one; label values that need
// escaping and constant labels on either side of the row labels included.
func TestExpositionMatchesCollect(t *testing.T) {
	tr := ifTree(3)
	tr.set(oidIfAlias+".2", gosnmp.OctetString, []byte(`say "hi" \ back`))
	sw := startAgent(t, tr.freeze())
	wlc := startAgent(t, wlcTree("hall-a-01", "hall-b-01"))
	dead := startAgent(t, ifTree(1).freeze())
	dead.faults.SetDrop(true)

	cfg := testConfig(targetConf("sw1", sw.Addr(), "test_if"), targetConf("wlc1", wlc.Addr(), "test_wlc"),
		targetConf("dead", dead.Addr(), "test_if"), targetConf("later", sw.Addr(), "test_if"))
	cfg.SNMP.Targets[0].Labels = map[string]string{"room": `Hall "A"`}
	p := cfg.Profiles["test_if"]
	p.Tables[0].Metrics = append(p.Tables[0].Metrics, config.ProfileMetric{
		Name: "test_octets_total", Help: "Octets, with constant labels.", Type: "counter",
		OID: oidIfInOctets, Scale: 1, Labels: map[string]string{"direction": "in", "zz": "last"},
	})
	cfg.SNMP.Timeout = 50 * time.Millisecond
	c := newCollector(t, cfg)

	compare := func(when string) {
		t.Helper()
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			want[mf.GetName()] = mf
		}
		var plain, gz bytes.Buffer
		if err := exposition.Write(&plain, false, c.Exposition(), nil); err != nil {
			t.Fatal(err)
		}
		if err := exposition.Write(&gz, true, c.Exposition(), nil); err != nil {
			t.Fatal(err)
		}
		got := familiesOf(t, plain.Bytes())
		wantC := canonical(want)
		for name := range wantC {
			if got[name] != wantC[name] {
				t.Errorf("%s: %s differs:\n%s\nwant (Collect):\n%s", when, name, got[name], wantC[name])
			}
		}
		for name := range got {
			if _, ok := wantC[name]; !ok {
				t.Errorf("%s: %s only in the exposition", when, name)
			}
		}
		zr := mustGunzip(t, gz.Bytes())
		if !bytes.Equal(zr, plain.Bytes()) {
			t.Errorf("%s: the gzip exposition differs from the plain one", when)
		}
	}
	compare("before any poll")
	for _, name := range []string{"sw1", "wlc1", "dead"} {
		_ = c.Poll(context.Background(), name)
	}
	compare("after a poll")
	if !strings.Contains(familiesOf(t, exposed(t, c))["test_octets_total"], `{alias="port 3",direction="in",interface="Gi1/0/3",target="sw1",zz="last",} 300`) {
		t.Errorf("constant labels missing:\n%s", familiesOf(t, exposed(t, c))["test_octets_total"])
	}
	if !bytes.Contains(exposed(t, c), []byte(`alias="say \"hi\" \\ back"`)) {
		t.Error("the alias is not escaped as the text format wants")
	}
	sw.faults.SetDrop(true)
	_ = c.Poll(context.Background(), "sw1")
	compare("after a failed poll")
	if bytes.Contains(exposed(t, c), []byte(`meetnoc_interface_up{alias="port 1",interface="Gi1/0/1",target="sw1"}`)) {
		t.Error("a failed target's data series are still exposed")
	}
}

func exposed(t *testing.T, c *Collector) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := exposition.Write(&b, false, c.Exposition(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zr, err := gzipReader(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// scaleTarget builds, without an agent, what a poll of one 48-interface switch
// with the built-in if_mib profile yields: its plan and fetched data.
func scaleTarget(tb testing.TB, plans map[string]*profilePlan, name string, interfaces int) (*targetPlan, *fetched) {
	plan := newTargetPlan(name, []*profilePlan{plans["if_mib"]})
	var vars []varbind
	for i := 1; i <= interfaces; i++ {
		idx := fmt.Sprint(i)
		vars = append(vars,
			varbind{oidIfName + "." + idx, gosnmp.OctetString, []byte("GigabitEthernet1/0/" + idx)},
			varbind{oidIfAlias + "." + idx, gosnmp.OctetString, []byte(fmt.Sprintf("hall %d desk %d", i%5, i))})
		for _, t := range plan.profiles[0].tables {
			for _, m := range t.metrics {
				if m.valueMap != nil {
					vars = append(vars, varbind{m.oids[0] + "." + idx, gosnmp.Integer, 1})
				} else {
					vars = append(vars, varbind{m.oids[0] + "." + idx, gosnmp.Counter64, uint64(i) * 123456789})
				}
			}
		}
	}
	return plan, fetchedFrom(plan, vars)
}

func builtinPlans(tb testing.TB) map[string]*profilePlan {
	cfg, err := config.LoadBytes([]byte("snmp: {}\n"), "builtin.yml")
	if err != nil {
		tb.Fatal(err)
	}
	plans, err := compileProfiles(cfg.Profiles, []string{"if_mib"})
	if err != nil {
		tb.Fatal(err)
	}
	return plans
}

// TestMemoryPerSeries holds what 1,000 switches × 48 interfaces leave in
// memory between polls (the benchmark's scale): compact samples, their rows,
// and the compressed chunks, beside each target's plan and converter. It
// reports the heap per series. The bounds catch a regression to per-series
// objects (~770 B a series before the chunks) and to conversion scratch kept
// per target between polls (~24 B a series before it was pooled).
func TestMemoryPerSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 700,000 series")
	}
	const targets, interfaces = 1000, 48
	builtin := builtinPlans(t)
	now := time.Now()
	plans := make([]*targetPlan, 0, targets)
	snaps := make([]*snapshot, 0, targets)
	convs := make([]*converter, 0, targets)

	// heapNow is the live heap. Two collections: the first moves sync.Pool
	// contents (the pooled scratch and renderers) to the victim cache, the
	// second frees them, so that only what the targets hold is counted.
	heapNow := func() float64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc)
	}
	before := heapNow()
	series, text, compressed := 0, 0, 0
	var renderTime time.Duration
	for i := range targets {
		plan, data := scaleTarget(t, builtin, fmt.Sprintf("switch-%04d.venue.example", i), interfaces)
		cv := newConverter(plan)
		// Two polls, as a running target has had: what the first leaves in
		// the converter must not grow the second.
		cv.convert(data, now.Add(-30*time.Second), time.Hour)
		s := &snapshot{up: true, result: resultOK, samples: cv.convert(data, now, time.Hour)}
		start := time.Now()
		s.parts = render(plan, s, true)
		renderTime += time.Since(start)
		plans, snaps, convs = append(plans, plan), append(snaps, s), append(convs, cv)
		series += len(s.samples) + 12 // and its own series
		for _, p := range s.parts {
			text += p.Chunk.Len()
			compressed += p.Chunk.CompressedLen()
		}
	}
	heap := heapNow() - before
	runtime.KeepAlive(convs)
	convs = nil // what the converters keep between polls
	withoutConvs := heapNow() - before
	runtime.KeepAlive(plans)
	plans = nil // the plans, which a running target keeps anyway
	snapHeap := heapNow() - before
	runtime.KeepAlive(snaps)

	perSeries := heap / float64(series)
	convPerSeries := (heap - withoutConvs) / float64(series)
	var chunks int
	for _, s := range snaps {
		chunks += len(s.parts)
	}
	t.Logf("%d targets, %d series: heap %.1f MB = %.1f B/series, of which snapshots %.1f B/series (compressed chunks %.1f B/series: %.1f MB of text in %.1f MB, %d chunks), plans %.1f B/series and converters %.2f B/series; render+compress %.0f µs per target",
		targets, series, heap/1e6, perSeries, snapHeap/float64(series), float64(compressed)/float64(series), float64(text)/1e6, float64(compressed)/1e6, chunks,
		(withoutConvs-snapHeap)/float64(series), convPerSeries, float64(renderTime.Microseconds())/targets)
	if perSeries > 60 {
		t.Errorf("%.1f B per series held, want ≤ 60", perSeries)
	}
	// A converter keeps its plan pointer and hold_missing rows (none here)
	// between polls: a few dozen bytes a target, well under 1 B a series.
	if convPerSeries > 0.5 {
		t.Errorf("converters keep %.2f B per series between polls, want ≤ 0.5: conversion scratch must be pooled, not kept per target", convPerSeries)
	}
}

// BenchmarkRenderIfMIB is the poll-time cost of rendering and compressing one
// 48-interface switch's series.
func BenchmarkRenderIfMIB(b *testing.B) {
	plan, data := scaleTarget(b, builtinPlans(b), "switch-0042.venue.example", 48)
	s := &snapshot{up: true, result: resultOK, samples: newConverter(plan).convert(data, time.Now(), time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		render(plan, s, true)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(s.samples)), "ns/series")
}

func gzipReader(b []byte) (*gzip.Reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return zr, nil
}
