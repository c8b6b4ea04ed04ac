package traffic

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/meetnoc/meetnoc/internal/config"
)

// memorySource is a test source: run starts `workers` goroutines, each with its
// own worker, calls feed on each and flushes; fail makes run return an error
// without feeding anything.
type memorySource struct {
	env     sourceEnv
	workers int
	feed    func(w *Worker)
	fail    func() error
	runs    atomic.Int32
}

var (
	memorySourcesMu sync.Mutex
	memorySources   = map[string]*memorySource{}
)

func init() {
	newSourceFuncs["memory"] = func(env sourceEnv) (source, error) {
		memorySourcesMu.Lock()
		defer memorySourcesMu.Unlock()
		m := memorySources[env.cfg.Name]
		if m == nil {
			return nil, errors.New("no memory source registered under this name")
		}
		m.env = env
		return m, nil
	}
}

func (m *memorySource) run(ctx context.Context) error {
	m.runs.Add(1)
	if m.fail != nil {
		if err := m.fail(); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for range m.workers {
		w := m.env.newWorker()
		wg.Go(func() {
			m.feed(w)
			w.Flush(m.env.now())
		})
	}
	wg.Wait()
	m.env.stats.packets.Add(1)
	return nil
}

// registerMemorySource makes a memory source named name available to New.
func registerMemorySource(t *testing.T, name string, m *memorySource) {
	t.Helper()
	memorySourcesMu.Lock()
	memorySources[name] = m
	memorySourcesMu.Unlock()
	t.Cleanup(func() {
		memorySourcesMu.Lock()
		delete(memorySources, name)
		memorySourcesMu.Unlock()
	})
}

// runMemorySource builds a collector for cfg with one memory source and runs it
// once to its end.
func runMemorySource(t *testing.T, cfg *config.Config, workers int, feed func(w *Worker)) *Collector {
	t.Helper()
	name := "mem-" + t.Name()
	registerMemorySource(t, name, &memorySource{workers: workers, feed: feed})
	cfg.Traffic.Sources = []config.TrafficSource{{Name: name, Type: "memory"}}
	coll, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := coll.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	return coll
}

func trafficPackets(t *testing.T, coll *Collector, ssid, family, direction string) float64 {
	t.Helper()
	body, err := testutil.CollectAndFormat(coll, expfmt.TypeTextPlain, "meetnoc_traffic_packets_total")
	if err != nil {
		t.Fatal(err)
	}
	want := `meetnoc_traffic_packets_total{direction="` + direction + `",family="` + family + `",ssid="` + ssid + `"} `
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in\n%s", want, body)
	return 0
}

// TestReloadKeepsCounts: a reload that changes the traffic section restarts the
// sources, and the counts of the old ones stay in the totals, by SSID name, so
// that counters never go back; an unchanged section leaves the sources alone.
func TestReloadKeepsCounts(t *testing.T) {
	up := frame{tags: []uint16{200}, src: "100.65.0.1", dst: "192.0.2.1"}.build(t)
	m := &memorySource{workers: 2, feed: func(w *Worker) {
		for range 10 {
			w.Frame(up, 100, 1, 0)
		}
	}}
	registerMemorySource(t, "mem", m)
	cfg := testConfig()
	cfg.Traffic.Sources = []config.TrafficSource{{Name: "mem", Type: "memory"}}
	coll, err := New(cfg, nil, Options{Retry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- coll.Run(ctx) }()
	waitFor(t, func() bool { return trafficPackets(t, coll, "ietf-dual-stack", "ipv4", "up") == 20 })

	same := testConfig()
	same.Traffic.Sources = cfg.Traffic.Sources
	if err := coll.Apply(same); err != nil {
		t.Fatal(err)
	}
	if n := m.runs.Load(); n != 1 {
		t.Fatalf("unchanged config: source ran %d times, want 1", n)
	}

	// The SSIDs swap places: counts must follow the names, not the indexes.
	changed := testConfig()
	changed.SSIDs[0], changed.SSIDs[1] = changed.SSIDs[1], changed.SSIDs[0]
	changed.Traffic.Sources = cfg.Traffic.Sources
	if err := coll.Apply(changed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return m.runs.Load() == 2 })
	waitFor(t, func() bool { return trafficPackets(t, coll, "ietf-dual-stack", "ipv4", "up") == 40 })
	if got := trafficPackets(t, coll, "ietf", "ipv4", "up"); got != 0 {
		t.Fatalf("ietf up = %v, want 0", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSourceFailureRetried: a source that cannot start is shown down with its
// error, retried with back-off, and up once it starts.
func TestSourceFailureRetried(t *testing.T) {
	var fails atomic.Int32
	fails.Store(2)
	m := &memorySource{workers: 1, feed: func(*Worker) {}, fail: func() error {
		if fails.Add(-1) >= 0 {
			return errors.New("eth9: no such interface")
		}
		return nil
	}}
	registerMemorySource(t, "flaky", m)
	cfg := testConfig()
	cfg.Traffic.Sources = []config.TrafficSource{{Name: "flaky", Type: "memory"}}
	coll, err := New(cfg, nil, Options{Retry: 20 * time.Millisecond, MaxRetry: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = coll.Run(ctx) }()
	waitFor(t, func() bool {
		st := coll.Status()[0]
		return st.Err != nil && strings.Contains(st.Err.Error(), "no such interface")
	})
	if err := testutil.CollectAndCompare(coll, strings.NewReader(`
# HELP meetnoc_capture_up Whether a traffic source is running (1), or failed and is being retried (0). A capture file read to its end counts as up.
# TYPE meetnoc_capture_up gauge
meetnoc_capture_up{source="flaky",type="memory"} 0
`), "meetnoc_capture_up"); err != nil {
		t.Fatal(err)
	}
	// A memory source that returns nil is "stopped without an error" (only pcap
	// sources end), so it keeps failing after it ran; the failure count grows.
	waitFor(t, func() bool { return m.runs.Load() >= 3 && coll.Status()[0].Failures >= 3 })
	if problems, err := testutil.CollectAndLint(coll); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

func TestUnknownSourceType(t *testing.T) {
	cfg := testConfig()
	cfg.Traffic.Sources = []config.TrafficSource{{Name: "x", Type: "netflow"}}
	if _, err := New(cfg, nil, Options{}); err == nil || !strings.Contains(err.Error(), `type "netflow" is not supported`) {
		t.Fatalf("err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
