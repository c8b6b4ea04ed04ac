// Package nat64 probes the NAT64 data plane: each configured IPv4 destination is
// reached through its NAT64 prefix (the address an IPv6-only client gets from
// DNS64, RFC 6052) and directly over IPv4, by TCP connect and optionally by echo
// request, so that a broken NAT64 is told apart from a broken destination.
package nat64

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/meetnoc/meetnoc/internal/netns"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Paths a target is probed over.
const (
	PathNAT64 = "nat64" // IPv6 to the synthesized address, translated by the NAT64
	PathIPv4  = "ipv4"  // IPv4 straight to the destination
)

// Results of one probe, the result label of meetnoc_nat64_probes_total.
const (
	ResultOK          = "ok"
	ResultTimeout     = "timeout"
	ResultRefused     = "refused"
	ResultUnreachable = "unreachable"
	ResultError       = "error"
	// ResultNotPermitted: this host lets the daemon open neither ping sockets
	// nor raw ICMP sockets (ICMP probes only).
	ResultNotPermitted = "not_permitted"
)

var tcpResults = []string{ResultOK, ResultTimeout, ResultRefused, ResultUnreachable, ResultError}
var icmpResults = []string{ResultOK, ResultTimeout, ResultUnreachable, ResultError, ResultNotPermitted}

// Verdicts: what the two paths' TCP results say together.
const (
	VerdictOK              = "ok"
	VerdictNAT64Broken     = "NAT64 broken"     // the destination answers over IPv4 but not through the NAT64
	VerdictIPv4Broken      = "IPv4 path broken" // through the NAT64 it answers, directly it does not
	VerdictDestinationDown = "destination down" // neither path reaches it
	// VerdictCannotProbe: neither probe could even be sent from this host (the
	// target's network namespace is missing, its source address is not
	// configured here…): says nothing about the network; the errors say why.
	VerdictCannotProbe = "cannot probe"
	VerdictPending     = "not probed yet"
)

// refusedNote is shown beside a refused connection so that nobody reads it as
// a failure.
const refusedNote = "connection refused: the destination answered with a reset, so the path works"

// Options are the Prober's hooks; the zero value is what the daemon uses.
type Options struct {
	// Now is the clock for the status page; default time.Now.
	Now func() time.Time
	// Netns, when set, runs every call that creates a socket (TCP dial, ICMP
	// listen), around the entry into the target's own netns if it has one.
	// Tests use it to make the sockets inside a network namespace of their own
	// (a socket stays in the namespace it was made in) or with capabilities
	// dropped.
	Netns func(func() error) error
}

// Prober is the NAT64 data-plane probe. It is a prometheus.Collector whose
// Collect reads the last results and never waits on the network.
type Prober struct {
	logger *slog.Logger
	opts   Options

	probes     *prometheus.CounterVec
	icmpProbes *prometheus.CounterVec

	mu      sync.Mutex
	targets map[string]*target
	order   []string          // target names in config order
	runCtx  context.Context   // set while Run runs; nil before
	wg      sync.WaitGroup    // the targets' loops
	started bool              // Run was called
	icmpErr map[string]string // last "not permitted" text per path, logged once
}

// target is one configured destination with its loop and last results.
type target struct {
	cfg      config.NAT64Target
	interval time.Duration
	timeout  time.Duration
	dst      netip.AddrPort // IPv4
	synth    netip.AddrPort // in the NAT64 prefix
	cancel   context.CancelFunc

	mu    sync.Mutex
	tcp   [2]pathResult // [nat64, ipv4]
	icmp  [2]pathResult
	round uint64 // completed probe rounds
	last  time.Time
}

type pathResult struct {
	probed   bool
	result   string
	duration time.Duration
	err      string
}

// reachable: a refused connection counts as reachable, because the RST came
// from the destination (through the NAT64, for the nat64 path): the path works
// even though nothing listens on the port.
func (r pathResult) reachable() bool {
	return r.result == ResultOK || r.result == ResultRefused
}

// New builds the prober for cfg's nat64_probes. It sends nothing until Run.
func New(cfg *config.Config, logger *slog.Logger, opts Options) (*Prober, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Prober{
		logger: logger,
		opts:   opts,
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_nat64_probes_total",
			Help: "TCP connect probes of NAT64 targets by path (nat64: through the NAT64 prefix, ipv4: direct) and result; refused means the destination answered, so the path works.",
		}, []string{"target", "path", "result"}),
		icmpProbes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_nat64_icmp_probes_total",
			Help: "Echo probes of NAT64 targets (ICMPv6 through the NAT64 prefix, ICMP direct) by path and result.",
		}, []string{"target", "path", "result"}),
		targets: map[string]*target{},
		icmpErr: map[string]string{},
	}
	if err := p.Apply(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// newTarget resolves a configured target's two destinations.
func newTarget(t config.NAT64Target, n config.NAT64Probes) (*target, error) {
	dst, err := netip.ParseAddrPort(t.Address)
	if err != nil {
		return nil, fmt.Errorf("nat64 target %q: address: %w", t.Name, err)
	}
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	synth, err := Synthesize(t.Prefix, dst.Addr())
	if err != nil {
		return nil, fmt.Errorf("nat64 target %q: %w", t.Name, err)
	}
	if n.Interval <= 0 || n.Timeout <= 0 {
		return nil, fmt.Errorf("nat64_probes: interval %s and timeout %s must be positive", n.Interval, n.Timeout)
	}
	return &target{
		cfg:      t,
		interval: n.Interval,
		timeout:  n.Timeout,
		dst:      dst,
		synth:    netip.AddrPortFrom(synth, dst.Port()),
	}, nil
}

// same reports whether o probes exactly what t probes, so t (and its last
// results) can keep running across a reload.
func (t *target) same(o *target) bool {
	return t.cfg.Name == o.cfg.Name && t.cfg.Address == o.cfg.Address && t.cfg.Prefix == o.cfg.Prefix &&
		t.cfg.ICMP == o.cfg.ICMP && t.cfg.SourceAddress == o.cfg.SourceAddress && t.cfg.Netns == o.cfg.Netns &&
		t.interval == o.interval && t.timeout == o.timeout
}

// Apply takes a reloaded configuration. Targets whose settings did not change
// keep their loop and last results; changed and new ones start afresh, removed
// ones stop and lose their series. On error nothing changes.
func (p *Prober) Apply(cfg *config.Config) error {
	n := cfg.NAT64Probes
	next := make(map[string]*target, len(n.Targets))
	order := make([]string, 0, len(n.Targets))
	for _, tc := range n.Targets {
		if _, dup := next[tc.Name]; dup {
			return fmt.Errorf("nat64 target %q: duplicate name", tc.Name)
		}
		t, err := newTarget(tc, n)
		if err != nil {
			return err
		}
		next[tc.Name] = t
		order = append(order, tc.Name)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	for name, old := range p.targets {
		if nt, ok := next[name]; ok && old.same(nt) {
			next[name] = old
			continue
		}
		if old.cancel != nil {
			old.cancel()
		}
		p.probes.DeletePartialMatch(prometheus.Labels{"target": name})
		p.icmpProbes.DeletePartialMatch(prometheus.Labels{"target": name})
	}
	for _, name := range order {
		t := next[name]
		if p.targets[name] == t {
			continue
		}
		// Every label combination exists from the start, at 0, so that rate()
		// and increase() see the first failure.
		for _, path := range []string{PathNAT64, PathIPv4} {
			for _, r := range tcpResults {
				p.probes.WithLabelValues(name, path, r)
			}
			if t.cfg.ICMP {
				for _, r := range icmpResults {
					p.icmpProbes.WithLabelValues(name, path, r)
				}
			}
		}
		if p.runCtx != nil && p.runCtx.Err() == nil {
			p.start(t)
		}
	}
	p.targets = next
	p.order = order
	return nil
}

// start runs t's loop; p.mu is held.
func (p *Prober) start(t *target) {
	ctx, cancel := context.WithCancel(p.runCtx)
	t.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.loop(ctx, t)
	}()
}

// Run probes every target on nat64_probes.interval until ctx ends.
func (p *Prober) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("nat64: Run called twice")
	}
	p.started = true
	p.runCtx = ctx
	for _, name := range p.order {
		p.start(p.targets[name])
	}
	p.mu.Unlock()

	<-ctx.Done()
	p.wg.Wait()
	return nil
}

func (p *Prober) loop(ctx context.Context, t *target) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		p.probeTarget(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeTarget runs one round: both paths at once (so that a round takes one
// timeout, not two), and the echo probes when configured.
func (p *Prober) probeTarget(ctx context.Context, t *target) {
	var tcp, icmp [2]pathResult
	var wg sync.WaitGroup
	wg.Go(func() { tcp[0] = p.connect(ctx, t, "tcp6", t.synth, t.cfg.SourceAddress) })
	wg.Go(func() { tcp[1] = p.connect(ctx, t, "tcp4", t.dst, netip.Addr{}) })
	if t.cfg.ICMP {
		wg.Go(func() { icmp[0] = p.ping(ctx, t, t.synth.Addr(), t.cfg.SourceAddress) })
		wg.Go(func() { icmp[1] = p.ping(ctx, t, t.dst.Addr(), netip.Addr{}) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Cancelled by shutdown or reload, not a verdict on the network.
		return
	}

	// Under p.mu, so that a round that ends as a reload removes its target
	// cannot bring the removed target's series back.
	p.mu.Lock()
	current := p.targets[t.cfg.Name] == t
	if current {
		for i, path := range [2]string{PathNAT64, PathIPv4} {
			p.probes.WithLabelValues(t.cfg.Name, path, tcp[i].result).Inc()
			if t.cfg.ICMP {
				p.icmpProbes.WithLabelValues(t.cfg.Name, path, icmp[i].result).Inc()
			}
		}
	}
	p.mu.Unlock()
	if !current {
		return
	}
	if t.cfg.ICMP {
		for i, path := range [2]string{PathNAT64, PathIPv4} {
			if icmp[i].result == ResultNotPermitted {
				p.logICMPNotPermitted(path, icmp[i].err)
			}
		}
	}

	t.mu.Lock()
	before := verdict(t.tcp, t.round)
	t.tcp, t.icmp = tcp, icmp
	t.round++
	t.last = p.opts.Now()
	after := verdict(t.tcp, t.round)
	t.mu.Unlock()

	if after != before {
		level := slog.LevelWarn
		if after == VerdictOK {
			level = slog.LevelInfo
		}
		p.logger.Log(ctx, level, "NAT64 probe verdict changed", "target", t.cfg.Name, "from", before, "to", after,
			"nat64", tcp[0].result, "ipv4", tcp[1].result)
	}
	p.logger.Debug("NAT64 probe", "target", t.cfg.Name,
		"nat64", tcp[0].result, "nat64_duration", tcp[0].duration, "nat64_error", tcp[0].err,
		"ipv4", tcp[1].result, "ipv4_duration", tcp[1].duration, "ipv4_error", tcp[1].err)
}

func (p *Prober) logICMPNotPermitted(path, msg string) {
	p.mu.Lock()
	seen := p.icmpErr[path] == msg
	p.icmpErr[path] = msg
	p.mu.Unlock()
	if !seen {
		p.logger.Warn("NAT64 echo probe not permitted", "path", path, "err", msg)
	}
}

// verdict reads the TCP results of both paths.
func verdict(tcp [2]pathResult, round uint64) string {
	if round == 0 {
		return VerdictPending
	}
	nat64, ipv4 := tcp[0].reachable(), tcp[1].reachable()
	switch {
	case tcp[0].result == ResultError && tcp[1].result == ResultError:
		return VerdictCannotProbe
	case nat64 && ipv4:
		return VerdictOK
	case !nat64 && ipv4:
		return VerdictNAT64Broken
	case nat64 && !ipv4:
		return VerdictIPv4Broken
	}
	return VerdictDestinationDown
}

// socket runs f where t's sockets are to be made: in the target's netns, if it
// has one, and through Options.Netns.
func (p *Prober) socket(t *target, f func() error) error {
	if t.cfg.Netns != "" {
		inner, path := f, netns.Path(t.cfg.Netns)
		f = func() error { return netns.Do(path, inner) }
	}
	if p.opts.Netns != nil {
		return p.opts.Netns(f)
	}
	return f()
}
