// Package snmp is meetnoc's SNMP poller. It polls every configured target on its
// own schedule (GET for scalars, GETBULK walks for tables, per the target's
// profiles), turns the answers into samples, and keeps the latest of them in an
// immutable snapshot per target; as a prometheus.Collector it only reads those
// snapshots, so a scrape never waits on the network.
//
// The package keeps configuration (target.go, plan.go), transport (transport.go,
// walk.go) and conversion (convert.go, decode.go) apart, as snmp_exporter does;
// poll.go runs one poll, scheduler.go the polling loops.
package snmp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/exposition"
)

// TargetStatus is one target's state, for the status page.
type TargetStatus struct {
	Name, Address, Auth string
	Profiles            []string
	Labels              map[string]string

	Up     bool
	Polled bool

	LastPoll, LastSuccess, NextPoll time.Time
	LastDuration                    time.Duration

	// LastResult is "ok", "timeout", "auth" or "error"; "" before the first poll.
	LastResult string
	// LastError says, for people, what went wrong and what to check; after a
	// successful poll it is empty, or notes a recent agent restart or a fallback
	// to GETNEXT walks.
	LastError string

	Varbinds, Samples, ConsecutiveFailures int

	MaxRepetitions uint32
	UsesGetNext    bool

	AgentRestarts int
}

// Collector polls SNMP targets and exports what they answered.
type Collector struct {
	logger  *slog.Logger
	limiter *limiter

	mu       sync.RWMutex
	targets  map[string]*target
	info     map[string]targetInfo // meetnoc_snmp_target_info per target
	runCtx   context.Context       // non-nil while Run runs
	running  bool
	routines sync.WaitGroup
}

// New builds a collector for cfg's targets. It checks what config.Load could not:
// that profiles agree on each metric's help, type and labels, that no profile
// label collides with the target label, that the auths are complete.
func New(cfg *config.Config, logger *slog.Logger) (*Collector, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b, err := build(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &Collector{
		logger:  logger,
		limiter: newLimiter(b.maxConcurrency),
		targets: b.targets,
		info:    b.info,
	}, nil
}

// built is a configuration turned into targets, not yet running.
type built struct {
	targets        map[string]*target
	info           map[string]targetInfo
	maxConcurrency int
}

// targetInfo is a target's meetnoc_snmp_target_info, as a metric and rendered.
type targetInfo struct {
	metric prometheus.Metric
	parts  []exposition.Part // one
}

func build(cfg *config.Config, logger *slog.Logger) (*built, error) {
	if cfg == nil {
		return nil, errors.New("snmp: no configuration")
	}
	s := &cfg.SNMP
	var settings []*targetSettings
	var used []string
	names := map[string]bool{}
	for _, t := range s.Targets {
		ts, err := resolveTarget(s, cfg.Profiles, t)
		if err != nil {
			return nil, fmt.Errorf("snmp: %w", err)
		}
		if names[ts.Name] {
			return nil, fmt.Errorf("snmp: target %q defined twice", ts.Name)
		}
		names[ts.Name] = true
		for k := range ts.Labels {
			if !validLabelName(k) {
				return nil, fmt.Errorf("snmp: target %q: label name %q is not valid", ts.Name, k)
			}
			if k == "target" || k == "address" || k == "profiles" {
				return nil, fmt.Errorf("snmp: target %q: label %q collides with a label of meetnoc_snmp_target_info", ts.Name, k)
			}
		}
		settings = append(settings, ts)
		used = append(used, ts.Profiles...)
	}
	plans, err := compileProfiles(cfg.Profiles, used)
	if err != nil {
		return nil, fmt.Errorf("snmp: %w", err)
	}

	b := &built{
		targets:        make(map[string]*target, len(settings)),
		info:           make(map[string]targetInfo, len(settings)),
		maxConcurrency: cmp.Or(s.MaxConcurrency, defaultMaxConcurrency),
	}
	// target_info carries every target's own labels; a family needs one label
	// set, so each gets the union, empty where a target lacks a key.
	keySet := map[string]bool{}
	for _, ts := range settings {
		for k := range ts.Labels {
			keySet[k] = true
		}
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const infoHelp = "Configuration of an SNMP target: its address, profiles and own labels; always 1."
	infoNames := append([]string{"target", "address", "profiles"}, keys...)
	infoDesc := prometheus.NewDesc("meetnoc_snmp_target_info", infoHelp, infoNames, nil)
	infoFamily := &exposition.Family{Name: "meetnoc_snmp_target_info", Help: infoHelp, Type: "gauge"}
	// The text format's lines carry their labels sorted by name.
	infoOrder := make([]int, len(infoNames))
	for i := range infoOrder {
		infoOrder[i] = i
	}
	slices.SortFunc(infoOrder, func(a, b int) int { return strings.Compare(infoNames[a], infoNames[b]) })
	sortedNames := make([]string, len(infoNames))
	for i, j := range infoOrder {
		sortedNames[i] = infoNames[j]
	}
	infoSeries := exposition.NewSeries("meetnoc_snmp_target_info", sortedNames...)
	cp := compressors.Get().(*exposition.Compressor)
	defer compressors.Put(cp)

	for _, ts := range settings {
		pps := make([]*profilePlan, len(ts.Profiles))
		for i, name := range ts.Profiles {
			pps[i] = plans[name]
		}
		b.targets[ts.Name] = newTarget(ts, newTargetPlan(ts.Name, pps), logger)
		values := []string{ts.Name, ts.Address, strings.Join(ts.Profiles, ",")}
		for _, k := range keys {
			values = append(values, sanitizeString(ts.Labels[k]))
		}
		m, err := prometheus.NewConstMetric(infoDesc, prometheus.GaugeValue, 1, values...)
		if err != nil {
			return nil, fmt.Errorf("snmp: target %q: %w", ts.Name, err)
		}
		sorted := make([]string, len(values))
		for i, j := range infoOrder {
			sorted[i] = values[j]
		}
		b.info[ts.Name] = targetInfo{metric: m, parts: []exposition.Part{
			{Family: infoFamily, Chunk: cp.Compress(infoSeries.Append(nil, sorted, 1))},
		}}
	}
	return b, nil
}

// Run polls every target until ctx ends, then waits for the polls under way to
// stop and returns nil.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("snmp: collector already running")
	}
	c.running, c.runCtx = true, ctx
	for _, t := range c.targets {
		c.start(t)
	}
	c.mu.Unlock()

	<-ctx.Done()

	c.mu.Lock()
	c.running, c.runCtx = false, nil
	c.mu.Unlock()
	c.routines.Wait()
	return nil
}

// start starts a target's polling goroutine; c.mu must be held and Run running.
func (c *Collector) start(t *target) {
	ctx, cancel := context.WithCancel(c.runCtx)
	t.cancel = cancel
	c.routines.Add(1)
	go func() {
		defer c.routines.Done()
		t.run(ctx, c.limiter)
	}()
}

// Apply reconciles the running targets with cfg: a target whose effective
// settings, auth values and profiles are unchanged keeps polling undisturbed,
// with its snapshot and counters; a changed one starts afresh; a removed one
// stops and its series vanish. On error nothing changes. Safe while Run runs.
func (c *Collector) Apply(cfg *config.Config) error {
	b, err := build(cfg, c.logger)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var kept, started, stopped int
	for name, nt := range b.targets {
		if old, ok := c.targets[name]; ok && old.ts.sameAs(nt.ts) {
			b.targets[name] = old
			kept++
			continue
		}
		if c.running {
			c.start(nt)
		}
		started++
	}
	for name, old := range c.targets {
		if b.targets[name] == old {
			continue
		}
		stopped++
		if old.cancel != nil {
			old.cancel() // its goroutine closes it on the way out
		} else {
			go old.close()
		}
	}
	c.targets, c.info = b.targets, b.info
	c.limiter.setLimit(b.maxConcurrency)
	c.logger.Info("SNMP targets applied", "kept", kept, "started", started, "stopped", stopped)
	return nil
}

// Poll polls one target now and waits for the result, which it also stores as
// the target's snapshot. It returns the poll's error, if any.
func (c *Collector) Poll(ctx context.Context, name string) error {
	c.mu.RLock()
	t := c.targets[name]
	c.mu.RUnlock()
	if t == nil {
		return fmt.Errorf("snmp: no target %q", name)
	}
	_, err := t.poll(ctx)
	return err
}

// Status describes every target, sorted by name.
func (c *Collector) Status() []TargetStatus {
	c.mu.RLock()
	targets := make([]*target, 0, len(c.targets))
	for _, t := range c.targets {
		targets = append(targets, t)
	}
	c.mu.RUnlock()
	slices.SortFunc(targets, func(a, b *target) int { return strings.Compare(a.ts.Name, b.ts.Name) })

	out := make([]TargetStatus, 0, len(targets))
	for _, t := range targets {
		ts := t.ts
		st := TargetStatus{
			Name:           ts.Name,
			Address:        ts.Address,
			Auth:           ts.AuthName,
			Profiles:       slices.Clone(ts.Profiles),
			Labels:         make(map[string]string, len(ts.Labels)),
			MaxRepetitions: ts.MaxRepetitions,
			UsesGetNext:    ts.UseGetNext,
		}
		for k, v := range ts.Labels {
			st.Labels[k] = v
		}
		if n := t.nextPoll.Load(); n != 0 {
			st.NextPoll = time.Unix(0, n)
		}
		if s := t.snap.Load(); s != nil {
			st.Polled = true
			st.Up = s.up
			st.LastPoll = s.start
			st.LastSuccess = s.lastSuccess
			st.LastDuration = s.duration
			st.LastResult = s.result
			st.LastError = s.message
			st.Varbinds = s.varbinds
			st.Samples = len(s.samples)
			st.ConsecutiveFailures = s.failures
			st.MaxRepetitions = s.maxRep
			st.UsesGetNext = s.getNext
			st.AgentRestarts = int(s.restarts)
		}
		out = append(out, st)
	}
	return out
}

// selfMetricNames are reserved: no profile may emit them.
var selfMetricNames = map[string]bool{
	"meetnoc_snmp_up": true, "meetnoc_snmp_poll_duration_seconds": true, "meetnoc_snmp_polls_total": true,
	"meetnoc_snmp_last_success_timestamp_seconds": true, "meetnoc_snmp_poll_overruns_total": true,
	"meetnoc_snmp_varbinds": true, "meetnoc_snmp_requests_total": true, "meetnoc_snmp_agent_restarts_total": true,
	"meetnoc_snmp_max_repetitions": true, "meetnoc_snmp_target_info": true,
}

// Describe sends nothing: the metric names come from the profiles, so this is
// an unchecked collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every target's metrics from its latest snapshot; it never touches
// the network. It builds a const metric per series: the general path, for
// registries and tests; the daemon's /metrics serves Exposition's chunks.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	targets := make([]*target, 0, len(c.targets))
	infos := make([]prometheus.Metric, 0, len(c.targets))
	for name, t := range c.targets {
		targets = append(targets, t)
		infos = append(infos, c.info[name].metric)
	}
	c.mu.RUnlock()

	var vals []string
	for i, t := range targets {
		name := t.ts.Name
		ch <- infos[i]
		s := t.snap.Load()
		polled := s != nil
		if !polled {
			s = t.initial
		}
		selfSamples(s, polled, func(m *selfMetric, result string, v float64) {
			if result != "" {
				ch <- prometheus.MustNewConstMetric(m.desc, m.valueType, v, result, name)
			} else {
				ch <- prometheus.MustNewConstMetric(m.desc, m.valueType, v, name)
			}
		})
		for j := range s.samples {
			smp := &s.samples[j]
			m := smp.metric
			vals = m.labelValues(vals[:0], smp.row)
			vt := prometheus.GaugeValue
			if m.counter {
				vt = prometheus.CounterValue
			}
			metric, err := prometheus.NewConstMetric(m.desc, vt, smp.value, vals...)
			if err != nil {
				metric = prometheus.NewInvalidMetric(m.desc, err)
			}
			ch <- metric
		}
	}
}

// Exposition returns every target's pre-rendered chunks (its target_info, and
// its profile series and own series as of its last poll), one or more slices
// per target, in target name order. The slices are the snapshots' own: read
// them, never modify them. It holds the lock only to list the targets.
func (c *Collector) Exposition() [][]exposition.Part {
	c.mu.RLock()
	targets := make([]*target, 0, len(c.targets))
	infos := make(map[*target][]exposition.Part, len(c.targets))
	for name, t := range c.targets {
		targets = append(targets, t)
		infos[t] = c.info[name].parts
	}
	c.mu.RUnlock()
	slices.SortFunc(targets, func(a, b *target) int { return strings.Compare(a.ts.Name, b.ts.Name) })

	out := make([][]exposition.Part, 0, 2*len(targets))
	for _, t := range targets {
		out = append(out, infos[t])
		if s := t.snap.Load(); s != nil {
			out = append(out, s.parts)
		} else {
			out = append(out, t.initialParts)
		}
	}
	return out
}
