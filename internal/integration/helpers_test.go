package integration

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/meetnoc/meetnoc/collectors/snmp"
	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// testLogger sends the poller's log to the test log while the test runs, and
// nowhere after (a Run goroutine may outlive the test by a moment).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// newCollector loads the YAML config text through the config loader and builds the
// poller from it. The config file name places relative paths in the test's
// temporary directory.
func newCollector(t *testing.T, yaml string) (*snmp.Collector, *config.Config) {
	t.Helper()
	cfg, err := config.LoadBytes([]byte(yaml), filepath.Join(t.TempDir(), "meetnoc.yml"))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	c, err := snmp.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("snmp.New: %v", err)
	}
	return c, cfg
}

// pollOK polls a target and fails the test unless the poll succeeded.
func pollOK(t *testing.T, c *snmp.Collector, target string) snmp.TargetStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Poll(ctx, target); err != nil {
		t.Fatalf("poll %s: %v", target, err)
	}
	st := status(t, c, target)
	if !st.Up || st.LastResult != "ok" {
		t.Fatalf("poll %s: up=%v result=%q error=%q", target, st.Up, st.LastResult, st.LastError)
	}
	return st
}

// pollFail polls a target that must fail, and returns its status.
func pollFail(t *testing.T, c *snmp.Collector, target string) snmp.TargetStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Poll(ctx, target); err == nil {
		t.Errorf("poll %s succeeded, want a failure", target)
	}
	st := status(t, c, target)
	if st.Up {
		t.Errorf("%s is up after a failed poll", target)
	}
	return st
}

func status(t *testing.T, c *snmp.Collector, target string) snmp.TargetStatus {
	t.Helper()
	for _, s := range c.Status() {
		if s.Name == target {
			return s
		}
	}
	t.Fatalf("no status for target %s", target)
	return snmp.TargetStatus{}
}

// exposition is what the collector exports, gathered through a registry as a
// scrape would.
type exposition map[string]*dto.MetricFamily

func gather(t *testing.T, c prometheus.Collector) exposition {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := exposition{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// series returns the series of a metric whose labels include all of match.
func (e exposition) series(name string, match map[string]string) []*dto.Metric {
	mf := e[name]
	if mf == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.GetMetric() {
		if hasLabels(m, match) {
			out = append(out, m)
		}
	}
	return out
}

func hasLabels(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k {
				found = l.GetValue() == v
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// value is the one series of name matching labels; it fails the test when there
// is none or more than one.
func (e exposition) value(t *testing.T, name string, match map[string]string) float64 {
	t.Helper()
	s := e.series(name, match)
	if len(s) != 1 {
		t.Errorf("%s%v: %d series, want 1", name, match, len(s))
		return 0
	}
	return metricValue(s[0])
}

// expectValue checks one series' value.
func (e exposition) expectValue(t *testing.T, name string, match map[string]string, want float64) {
	t.Helper()
	s := e.series(name, match)
	if len(s) != 1 {
		t.Errorf("%s%v: %d series, want 1", name, match, len(s))
		return
	}
	if got := metricValue(s[0]); got != want {
		t.Errorf("%s%v = %v, want %v", name, match, got, want)
	}
}

// labelValues lists a label's values over a metric's series matching match.
func (e exposition) labelValues(name, lbl string, match map[string]string) []string {
	var out []string
	for _, m := range e.series(name, match) {
		out = append(out, label(m, lbl))
	}
	sort.Strings(out)
	return out
}

// polls is meetnoc_snmp_polls_total for a target and result.
func (e exposition) polls(target, result string) float64 {
	s := e.series("meetnoc_snmp_polls_total", map[string]string{"target": target, "result": result})
	if len(s) != 1 {
		return 0
	}
	return metricValue(s[0])
}

// text renders the exposition in the Prometheus text format.
func (e exposition) text(t *testing.T) []byte {
	t.Helper()
	names := make([]string, 0, len(e))
	for n := range e {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, n := range names {
		if err := enc.Encode(e[n]); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// targetYAML is one entry of snmp.targets.
func targetYAML(name, address, auth string, profiles ...string) string {
	return fmt.Sprintf("    - {name: %s, address: %q, auth: %s, profiles: [%s]}\n", name, address, auth, strings.Join(profiles, ", "))
}

// recordingsDir is collectors/snmp/testdata, the recordings the project wrote.
func recordingsDir(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "collectors", "snmp", "testdata")
}
