package traffic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
)

// source is one capture source. run captures until ctx ends (afpacket, sflow)
// or its input ends (pcap), feeding frames to workers it gets from env.newWorker.
// A failure to start (no such interface, port in use, missing file) is returned;
// the engine shows it, counts it and retries with back-off.
type source interface {
	run(ctx context.Context) error
}

// sourceEnv is what a source is built from.
type sourceEnv struct {
	cfg    config.TrafficSource
	logger *slog.Logger // already With("source", name)
	// newWorker returns a worker for one classifying goroutine; the engine keeps
	// and sums every worker it handed out.
	newWorker func() *Worker
	now       func() time.Time
	stats     *sourceStats
}

// sourceStats are a source's own counts, atomics added to once per batch (a ring
// block, a datagram, a few thousand records), never per packet.
type sourceStats struct {
	packets      atomic.Uint64 // frames taken in; sFlow: sampled headers
	dropped      atomic.Uint64 // afpacket: ring drops; sFlow: flow samples lost in transit or by the agent
	lastPacketNs atomic.Int64  // unix ns of the last batch that held packets

	// sFlow only.
	datagrams     atomic.Uint64 // accepted and walked whole
	foreign       atomic.Uint64 // from a UDP source outside agents:
	malformed     atomic.Uint64 // ended early with an ErrSFlow error
	lostDatagrams atomic.Uint64 // from gaps in the datagram sequence numbers
	agentDrops    atomic.Uint64 // flow samples the agents themselves dropped (flow_sample drops)
	agents        atomic.Int64  // agents (and sub-agents) currently tracked

	// problem is the latest fault that did not stop the source — a malformed
	// datagram and its agent, a datagram from a foreign agent, a truncated
	// record — so that the status page can say what was counted and why.
	problem atomic.Pointer[sourceProblem]
}

type sourceProblem struct {
	at  time.Time
	msg string
}

// noteProblem records a fault for the status page. It allocates: call it on the
// rare path only, and rate-limit it there when a fault can repeat per packet.
func (s *sourceStats) noteProblem(at time.Time, format string, args ...any) {
	s.problem.Store(&sourceProblem{at: at, msg: fmt.Sprintf(format, args...)})
}

// newSourceFuncs maps a source type to its constructor. Each source registers
// itself in its own file (afpacket.go is Linux-only), as node_exporter's
// collectors do, so that the engine knows none of them by name.
var newSourceFuncs = map[string]func(sourceEnv) (source, error){}

// Options tune a Collector beyond the config.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ClientWindow overrides traffic.client_window when positive: `meetnoc
	// classify` counts the unique clients of a whole capture.
	ClientWindow time.Duration
	// Location is the venue's time zone: the daily unique clients count from
	// its midnight. time.Local (the daemon host's) when nil.
	Location *time.Location
	// Retry is the first back-off after a source fails (doubling to MaxRetry);
	// 1 s and 30 s when zero.
	Retry, MaxRetry time.Duration
}

// Collector runs the capture sources of traffic.sources and exports what their
// workers counted: traffic by SSID, family and direction, DHCP and RA events,
// unique clients, and each source's own health.
type Collector struct {
	logger *slog.Logger
	opts   Options

	rogue *rogueLimiter // shared by every generation: a reload does not forget a rogue sender

	mu      sync.Mutex
	gen     *generation
	runCtx  context.Context // set by Run; Apply starts new sources under it
	running sync.WaitGroup
	// base and baseEvents hold the counts of sources stopped by a reload, in the
	// current generation's SSID indexes, so that counters never go back across a
	// reload.
	base       *Counters
	baseEvents *Events

	scrapeMu sync.Mutex    // one scrape sums into clients at a time
	clients  *clientCounts // reused by every scrape: it is 96 KiB per SSID
}

// generation is everything built from one config: a reload that changes the
// traffic section replaces it whole.
type generation struct {
	cfgKey  trafficConfig
	names   []string // SSID index → label, shared by every classifier of the config
	window  time.Duration
	sources []*sourceRun
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// trafficConfig is the part of a config the traffic collector depends on; a
// reload that leaves it equal leaves the sources running.
type trafficConfig struct {
	Traffic config.Traffic
	SSIDs   []config.SSID
	NAT64   []string
}

func trafficConfigOf(cfg *config.Config) trafficConfig {
	k := trafficConfig{Traffic: cfg.Traffic, SSIDs: cfg.SSIDs}
	for _, p := range cfg.NAT64Prefixes {
		k.NAT64 = append(k.NAT64, p.String())
	}
	return k
}

// sourceRun is one configured source and its state.
type sourceRun struct {
	cfg    config.TrafficSource
	src    source
	stats  sourceStats
	logger *slog.Logger

	workersMu sync.Mutex
	workers   []*Worker

	state atomic.Pointer[sourceState]
}

type sourceState struct {
	since    time.Time // when the current run started
	running  bool
	finished bool // a pcap file read to its end
	err      error
	errAt    time.Time
	failures uint64
}

// New builds the sources of cfg; nothing runs until Run.
func New(cfg *config.Config, logger *slog.Logger, opts Options) (*Collector, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = 30 * time.Second
	}
	c := &Collector{logger: logger, opts: opts, rogue: newRogueLimiter(opts.Now)}
	gen, err := c.build(cfg)
	if err != nil {
		return nil, err
	}
	c.gen = gen
	c.base = newCountersFor(gen.names)
	c.baseEvents = newEvents(len(gen.names))
	c.clients = newClientCounts(len(gen.names), gen.window)
	return c, nil
}

func newCountersFor(names []string) *Counters {
	return &Counters{cells: make([][NumFamilies][NumDirections]Cell, len(names))}
}

// build makes a generation's sources without starting them.
func (c *Collector) build(cfg *config.Config) (*generation, error) {
	g := &generation{cfgKey: trafficConfigOf(cfg), window: cfg.Traffic.ClientWindow}
	if c.opts.ClientWindow > 0 {
		g.window = c.opts.ClientWindow
	}
	if g.window <= 0 {
		g.window = config.DefaultClientWindow
	}
	if _, err := NewClassifier(cfg, ""); err != nil {
		return nil, err
	}
	decoder, err := newPayloadDecoder(cfg, c.logger, c.rogue)
	if err != nil {
		return nil, err
	}
	for _, sc := range cfg.Traffic.Sources {
		newSource, ok := newSourceFuncs[sc.Type]
		if !ok {
			return nil, fmt.Errorf("traffic source %q: type %q is not supported on this system", sc.Name, sc.Type)
		}
		cl, err := NewClassifier(cfg, sc.UntaggedSSID)
		if err != nil {
			return nil, fmt.Errorf("traffic source %q: %w", sc.Name, err)
		}
		g.names = cl.SSIDNames()
		sr := &sourceRun{cfg: sc, logger: c.logger.With("source", sc.Name, "type", sc.Type)}
		sr.state.Store(&sourceState{})
		env := sourceEnv{
			cfg:    sc,
			logger: sr.logger,
			now:    c.opts.Now,
			stats:  &sr.stats,
			newWorker: func() *Worker {
				w := newWorker(cl, decoder, g.window, c.opts.Location)
				sr.workersMu.Lock()
				sr.workers = append(sr.workers, w)
				sr.workersMu.Unlock()
				return w
			},
		}
		sr.src, err = newSource(env)
		if err != nil {
			return nil, fmt.Errorf("traffic source %q: %w", sc.Name, err)
		}
		g.sources = append(g.sources, sr)
	}
	if g.names == nil {
		cl, _ := NewClassifier(cfg, "")
		g.names = cl.SSIDNames()
	}
	return g, nil
}

// Run runs every source until ctx ends, restarting failed ones with back-off.
// A pcap source that reads its file to the end stays finished.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	c.runCtx = ctx
	c.start(c.gen)
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	g := c.gen
	c.mu.Unlock()
	g.done.Wait()
	return nil
}

// RunOnce runs every source once to its end, without retries, and returns the
// first error: `meetnoc classify` reads one file this way.
func (c *Collector) RunOnce(ctx context.Context) error {
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		errs  []error
	)
	for _, sr := range c.gen.sources {
		wg.Go(func() {
			sr.state.Store(&sourceState{running: true, since: c.opts.Now()})
			err := sr.src.run(ctx)
			sr.state.Store(&sourceState{finished: err == nil, err: err})
			if err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", sr.cfg.Name, err))
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// start runs g's sources under c.runCtx. Called with c.mu held.
func (c *Collector) start(g *generation) {
	ctx, cancel := context.WithCancel(c.runCtx)
	g.cancel = cancel
	for _, sr := range g.sources {
		g.done.Go(func() { c.supervise(ctx, sr) })
	}
}

// supervise runs one source, restarting it after a failure with exponential
// back-off, so that a missing interface or a port in use is retried while the
// rest of the daemon keeps running.
func (c *Collector) supervise(ctx context.Context, sr *sourceRun) {
	backoff := c.opts.Retry
	var failures uint64
	for {
		started := time.Now()
		sr.state.Store(&sourceState{running: true, since: c.opts.Now(), failures: failures})
		err := sr.src.run(ctx)
		if ctx.Err() != nil {
			sr.state.Store(&sourceState{failures: failures})
			return
		}
		if err == nil {
			if sr.cfg.Type == SourceTypePcap || sr.cfg.Type == SourceTypePcapSFlow {
				sr.logger.Info("capture file read to its end", "path", sr.cfg.Path, "packets", sr.stats.packets.Load())
				sr.state.Store(&sourceState{finished: true, failures: failures})
				return
			}
			err = errors.New("stopped without an error")
		}
		failures++
		if time.Since(started) > c.opts.MaxRetry {
			backoff = c.opts.Retry // it ran a while: this is a new failure, not the same one
		}
		sr.state.Store(&sourceState{err: err, errAt: c.opts.Now(), failures: failures})
		sr.logger.Error("traffic source failed; retrying", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.opts.MaxRetry)
	}
}

// Apply takes a new config. When its traffic section, SSIDs and NAT64 prefixes are
// unchanged the sources keep running untouched; otherwise the new sources are
// built first (an error keeps the old ones), the old ones stopped, their counts
// folded into the totals by SSID name, and the new ones started.
func (c *Collector) Apply(cfg *config.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reflect.DeepEqual(trafficConfigOf(cfg), c.gen.cfgKey) {
		return nil
	}
	g, err := c.build(cfg)
	if err != nil {
		return err
	}
	old := c.gen
	if old.cancel != nil {
		old.cancel()
		old.done.Wait()
	}
	oldTotal, oldEvents := newCountersFor(old.names), newEvents(len(old.names))
	oldTotal.Add(c.base)
	oldEvents.Add(c.baseEvents)
	for _, sr := range old.sources {
		for _, w := range sr.snapshotWorkers() {
			w.addAllTo(oldTotal, oldEvents, nil)
		}
	}
	c.base = newCountersFor(g.names)
	c.base.addByName(g.names, oldTotal, old.names)
	c.baseEvents = newEvents(len(g.names))
	addEventsByName(c.baseEvents, g.names, oldEvents, old.names)
	// A scrape in progress keeps the clientCounts it took; scrapeMu is not
	// taken here, as Collect takes it before c.mu.
	c.clients = newClientCounts(len(g.names), g.window)
	c.gen = g
	if c.runCtx != nil {
		c.start(g)
	}
	c.logger.Info("traffic sources reconfigured", "sources", len(g.sources))
	return nil
}

// addByName adds o (indexed by oldNames) to c (indexed by names), SSID by SSID
// name; SSIDs no longer configured are dropped, as their series are.
func (c *Counters) addByName(names []string, o *Counters, oldNames []string) {
	for oi, n := range oldNames {
		ni := slices.Index(names, n)
		if ni < 0 || oi >= len(o.cells) {
			continue
		}
		for f := range o.cells[oi] {
			for d := range o.cells[oi][f] {
				c.cells[ni][f][d].Packets += o.cells[oi][f][d].Packets
				c.cells[ni][f][d].Bytes += o.cells[oi][f][d].Bytes
			}
		}
	}
}

// addEventsByName is addByName for DHCP and RA counts.
func addEventsByName(e *Events, names []string, o *Events, oldNames []string) {
	for oi, n := range oldNames {
		ni := slices.Index(names, n)
		if ni < 0 || oi >= len(o.ssids) {
			continue
		}
		one := newEvents(1)
		one.ssids[0] = o.ssids[oi]
		sub := &Events{ssids: e.ssids[ni : ni+1]}
		sub.Add(one)
	}
}

func (sr *sourceRun) snapshotWorkers() []*Worker {
	sr.workersMu.Lock()
	defer sr.workersMu.Unlock()
	return slices.Clone(sr.workers)
}

// SourceStatus is one source's health, for the status page.
type SourceStatus struct {
	Name, Type string
	// Where is the interface, listen address or file.
	Where    string
	Running  bool
	Since    time.Time // when the current run started
	Finished bool      // a capture file read to its end
	// Err is the last failure while the source is down (it is being retried).
	Err      error
	ErrAt    time.Time
	Failures uint64
	Packets  uint64
	Dropped  uint64
	// LastPacket is the time of the last batch with packets; zero before the first.
	LastPacket time.Time
	// Problem is the latest fault that did not stop the source (a malformed or
	// foreign datagram, a truncated record), ProblemAt when it happened.
	Problem   string
	ProblemAt time.Time
	// sFlow.
	Datagrams, Foreign, Malformed, LostDatagrams, AgentDrops uint64
	Agents                                                   int64
}

// Status returns every source's health, in config order.
func (c *Collector) Status() []SourceStatus {
	c.mu.Lock()
	g := c.gen
	c.mu.Unlock()
	out := make([]SourceStatus, 0, len(g.sources))
	for _, sr := range g.sources {
		st := sr.state.Load()
		s := SourceStatus{
			Name: sr.cfg.Name, Type: sr.cfg.Type, Where: where(sr.cfg),
			Running: st.running, Since: st.since, Finished: st.finished, Err: st.err, ErrAt: st.errAt, Failures: st.failures,
			Packets: sr.stats.packets.Load(), Dropped: sr.stats.dropped.Load(),
			Datagrams: sr.stats.datagrams.Load(), Foreign: sr.stats.foreign.Load(),
			Malformed: sr.stats.malformed.Load(), LostDatagrams: sr.stats.lostDatagrams.Load(),
			AgentDrops: sr.stats.agentDrops.Load(), Agents: sr.stats.agents.Load(),
		}
		if p := sr.stats.problem.Load(); p != nil {
			s.Problem, s.ProblemAt = p.msg, p.at
		}
		if ns := sr.stats.lastPacketNs.Load(); ns != 0 {
			s.LastPacket = time.Unix(0, ns)
		}
		out = append(out, s)
	}
	return out
}

func where(s config.TrafficSource) string {
	switch s.Type {
	case "afpacket":
		return s.Interface
	case "sflow":
		return s.Listen
	default:
		return s.Path
	}
}

var (
	capturePacketsDesc = prometheus.NewDesc("meetnoc_capture_packets_total",
		"Frames a traffic source took in (sFlow: sampled headers, unweighted).", []string{"source"}, nil)
	captureDroppedDesc = prometheus.NewDesc("meetnoc_capture_dropped_packets_total",
		"Frames a traffic source lost before classification: AF_PACKET ring drops; for sFlow, flow samples missing from the sequence numbers or dropped by the agents.",
		[]string{"source"}, nil)
	captureUpDesc = prometheus.NewDesc("meetnoc_capture_up",
		"Whether a traffic source is running (1), or failed and is being retried (0). A capture file read to its end counts as up.",
		[]string{"source", "type"}, nil)
	captureFailuresDesc = prometheus.NewDesc("meetnoc_capture_failures_total",
		"Times a traffic source failed (could not open its interface, port or file, or stopped).", []string{"source"}, nil)
	sflowDatagramsDesc = prometheus.NewDesc("meetnoc_sflow_datagrams_total",
		"sFlow datagrams received, by result: ok, foreign_agent (UDP source outside agents:, dropped), malformed (walk ended early; the samples before the fault count).",
		[]string{"source", "result"}, nil)
	sflowLostDatagramsDesc = prometheus.NewDesc("meetnoc_sflow_lost_datagrams_total",
		"sFlow datagrams missing from the agents' sequence numbers.", []string{"source"}, nil)
	sflowAgentsDesc = prometheus.NewDesc("meetnoc_sflow_agents",
		"sFlow agents and sub-agents currently sending to a source.", []string{"source"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{bytesDesc, packetsDesc, capturePacketsDesc, captureDroppedDesc,
		captureUpDesc, captureFailuresDesc, sflowDatagramsDesc, sflowLostDatagramsDesc, sflowAgentsDesc} {
		ch <- d
	}
	describeEvents(ch)
	describeClients(ch)
	c.rogue.Describe(ch)
}

// Collect implements prometheus.Collector: it sums the workers' published counts.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.scrapeMu.Lock()
	defer c.scrapeMu.Unlock()
	c.mu.Lock()
	g := c.gen
	total, events := newCountersFor(g.names), newEvents(len(g.names))
	total.Add(c.base)
	events.Add(c.baseEvents)
	clients := c.clients
	c.mu.Unlock()
	clients.reset()
	for _, sr := range g.sources {
		for _, w := range sr.snapshotWorkers() {
			w.addAllTo(total, events, clients)
		}
	}
	collectCounters(ch, g.names, total)
	collectEvents(ch, g.names, events)
	collectClients(ch, g.names, clients)
	c.rogue.Collect(ch)
	for _, sr := range g.sources {
		name := sr.cfg.Name
		st := sr.state.Load()
		ch <- prometheus.MustNewConstMetric(capturePacketsDesc, prometheus.CounterValue, float64(sr.stats.packets.Load()), name)
		ch <- prometheus.MustNewConstMetric(captureDroppedDesc, prometheus.CounterValue, float64(sr.stats.dropped.Load()), name)
		ch <- prometheus.MustNewConstMetric(captureUpDesc, prometheus.GaugeValue, boolValue(st.err == nil), name, sr.cfg.Type)
		ch <- prometheus.MustNewConstMetric(captureFailuresDesc, prometheus.CounterValue, float64(st.failures), name)
		if sr.cfg.Type == SourceTypeSFlow || sr.cfg.Type == SourceTypePcapSFlow {
			ch <- prometheus.MustNewConstMetric(sflowDatagramsDesc, prometheus.CounterValue, float64(sr.stats.datagrams.Load()), name, "ok")
			ch <- prometheus.MustNewConstMetric(sflowDatagramsDesc, prometheus.CounterValue, float64(sr.stats.foreign.Load()), name, "foreign_agent")
			ch <- prometheus.MustNewConstMetric(sflowDatagramsDesc, prometheus.CounterValue, float64(sr.stats.malformed.Load()), name, "malformed")
			ch <- prometheus.MustNewConstMetric(sflowLostDatagramsDesc, prometheus.CounterValue, float64(sr.stats.lostDatagrams.Load()), name)
			ch <- prometheus.MustNewConstMetric(sflowAgentsDesc, prometheus.GaugeValue, float64(sr.stats.agents.Load()), name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
