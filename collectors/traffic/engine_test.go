package traffic

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// clientFrame is an up frame of ietf-dual-stack (VLAN 200) from client i's MAC,
// IPv4 or IPv6.
func clientFrame(t *testing.T, i int, ipv6 bool) []byte {
	t.Helper()
	f := frame{tags: []uint16{200}, src: "100.65.0.1", dst: "192.0.2.1"}
	if ipv6 {
		f.src, f.dst = "2001:db8:200::1", "2001:db8:ffff::1"
	}
	b := slices.Clone(f.build(t))
	copy(b[6:12], sketchMAC(i))
	return b
}

// TestDailyClients: the collector exports the day's unique clients from the
// start (zeros), unions them over its workers, and counts them by the workers'
// clock in the configured zone: India's midnight empties the day, though the
// window goes on.
func TestDailyClients(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2026, 3, 16, 23, 59, 59, 500_000_000, kolkata)
	after := before.Add(600 * time.Millisecond) // 00:00:00.1 on the 17th
	var worker atomic.Int32
	name := "mem-daily"
	registerMemorySource(t, name, &memorySource{workers: 2, feed: func(w *Worker) {
		// Worker 0 sees clients 0-9 yesterday, 8-10 and 9's IPv6 today;
		// worker 1 sees 20-21 yesterday and 10-12 today.
		yesterday, today := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []int{8, 9, 10}
		if worker.Add(1) == 2 {
			yesterday, today = []int{20, 21}, []int{10, 11, 12}
		}
		w.Publish(before)
		for _, i := range yesterday {
			w.Frame(clientFrame(t, i, false), 100, 1, 0)
		}
		w.Publish(after)
		for _, i := range today {
			w.Frame(clientFrame(t, i, false), 100, 1, 0)
			if i == 9 {
				w.Frame(clientFrame(t, i, true), 100, 1, 0)
			}
		}
	}})
	cfg := testConfig()
	cfg.Traffic.Sources = []config.TrafficSource{{Name: name, Type: "memory"}}
	coll, err := New(cfg, nil, Options{Now: func() time.Time { return after }, Location: kolkata})
	if err != nil {
		t.Fatal(err)
	}
	daily := []string{"meetnoc_traffic_daily_clients", "meetnoc_traffic_daily_ipv6_active_clients", "meetnoc_traffic_daily_active_clients"}
	const help = "unique source MACs of up traffic since the local midnight (the daemon host's time zone; a capture file's timestamps when one is read), HyperLogLog estimate."
	want := func(v4, v6, v6Active, active int) string {
		return fmt.Sprintf(`
# HELP meetnoc_traffic_daily_clients Clients by SSID and address family: %[1]s
# TYPE meetnoc_traffic_daily_clients gauge
meetnoc_traffic_daily_clients{family="ipv4",ssid="ietf"} 0
meetnoc_traffic_daily_clients{family="ipv4",ssid="ietf-dual-stack"} %[2]d
meetnoc_traffic_daily_clients{family="ipv4",ssid="unknown"} 0
meetnoc_traffic_daily_clients{family="ipv6",ssid="ietf"} 0
meetnoc_traffic_daily_clients{family="ipv6",ssid="ietf-dual-stack"} %[3]d
meetnoc_traffic_daily_clients{family="ipv6",ssid="unknown"} 0
meetnoc_traffic_daily_clients{family="nat64",ssid="ietf"} 0
meetnoc_traffic_daily_clients{family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_daily_clients{family="nat64",ssid="unknown"} 0
# HELP meetnoc_traffic_daily_ipv6_active_clients Clients that sent IPv6, native or NAT64, by SSID: %[1]s
# TYPE meetnoc_traffic_daily_ipv6_active_clients gauge
meetnoc_traffic_daily_ipv6_active_clients{ssid="ietf"} 0
meetnoc_traffic_daily_ipv6_active_clients{ssid="ietf-dual-stack"} %[4]d
meetnoc_traffic_daily_ipv6_active_clients{ssid="unknown"} 0
# HELP meetnoc_traffic_daily_active_clients Clients that sent IPv4, IPv6 or NAT64, by SSID: %[1]s
# TYPE meetnoc_traffic_daily_active_clients gauge
meetnoc_traffic_daily_active_clients{ssid="ietf"} 0
meetnoc_traffic_daily_active_clients{ssid="ietf-dual-stack"} %[5]d
meetnoc_traffic_daily_active_clients{ssid="unknown"} 0
`, help, v4, v6, v6Active, active)
	}
	if err := testutil.CollectAndCompare(coll, strings.NewReader(want(0, 0, 0, 0)), daily...); err != nil {
		t.Fatalf("before any traffic: %v", err)
	}
	if err := coll.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(coll, strings.NewReader(want(5, 1, 1, 5)), daily...); err != nil {
		t.Fatalf("after midnight: %v", err)
	}
	// The window spans midnight: 0-12 and 20-21.
	if err := testutil.CollectAndCompare(coll, strings.NewReader(`
# HELP meetnoc_traffic_active_clients Clients that sent IPv4, IPv6 or NAT64, by SSID: unique source MACs of up traffic in the last 5m, HyperLogLog estimate.
# TYPE meetnoc_traffic_active_clients gauge
meetnoc_traffic_active_clients{ssid="ietf"} 0
meetnoc_traffic_active_clients{ssid="ietf-dual-stack"} 15
meetnoc_traffic_active_clients{ssid="unknown"} 0
`), "meetnoc_traffic_active_clients"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(coll); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

// TestWorkerHandsOverAtMidnight: a worker hands its sketches over at once when
// its clock passes midnight, though the last hand-over was under a second ago,
// so that a scrape just after midnight sees the day start empty.
func TestWorkerHandsOverAtMidnight(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClassifier(t, "")
	w := newTestWorker(t, c)
	w.clients = newClientSketches(len(c.names), 5*time.Minute, kolkata)
	before := time.Date(2026, 3, 16, 23, 59, 59, 800_000_000, kolkata)
	w.Publish(before)
	for i := range 4 {
		w.Frame(clientFrame(t, i, false), 100, 1, 0)
	}
	today := func(now time.Time) float64 {
		t.Helper()
		w.Publish(now)
		cc := newClientCounts(len(c.names), 5*time.Minute)
		w.addAllTo(newCountersFor(c.names), newEvents(len(c.names)), cc)
		return cc.day.estimateAny(slices.Index(c.names, "ietf-dual-stack"))
	}
	// 100 ms later, still the 16th: no client hand-over is due yet, the
	// scrapes still see the first, empty one.
	if got := today(before.Add(100 * time.Millisecond)); got != 0 {
		t.Fatalf("before midnight: %v today, want 0 (not handed over yet)", got)
	}
	// 00:00:00.0 on the 17th, 200 ms after the last hand-over: handed over,
	// and the 16th's clients are gone.
	if got := today(before.Add(200 * time.Millisecond)); got != 0 {
		t.Fatalf("at midnight: %v today, want 0", got)
	}
	if w.snap.clientsAt != before.Add(200*time.Millisecond) {
		t.Fatalf("no hand-over at midnight: last at %v", w.snap.clientsAt)
	}
	w.Frame(clientFrame(t, 7, false), 100, 1, 0)
	w.Flush(before.Add(300 * time.Millisecond))
	cc := newClientCounts(len(c.names), 5*time.Minute)
	w.addAllTo(newCountersFor(c.names), newEvents(len(c.names)), cc)
	if d, win := cc.day.estimateAny(slices.Index(c.names, "ietf-dual-stack")), cc.recent.estimateAny(slices.Index(c.names, "ietf-dual-stack")); d != 1 || win != 5 {
		t.Fatalf("after midnight: %v today, %v in the window; want 1 and 5", d, win)
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
