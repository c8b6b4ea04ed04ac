// Package dns probes DNS resolvers and their DNS64 synthesis: each configured
// check is sent to each resolver on an interval, over one reused socket per
// resolver (UDP, TCP or DNS over TLS), and its answer is judged: rcode, answer
// count, prefixes, pattern, the AD bit, and for DNS64 whether the AAAA answers
// are synthesized inside the meeting's NAT64 prefixes, with the prefix itself
// discovered from ipv4only.arpa as RFC 7050 does.
package dns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what the daemon (or a test) adds to the configuration.
type Options struct {
	// Now is the clock for the status page's timestamps; default time.Now.
	Now func() time.Time
	// TLSRootCAs verifies DNS-over-TLS resolvers; default the system's roots.
	TLSRootCAs *x509.CertPool
}

// CheckStatus is the last result of one check against one resolver, for the
// status page's DNS table.
type CheckStatus struct {
	Resolver string
	Check    string
	SSID     string
	// Result is ok, timeout, rcode, validation or network; empty before the
	// first probe.
	Result string
	// Detail says in words what failed, e.g. "rcode SERVFAIL, want NOERROR".
	Detail   string
	Duration time.Duration
	Time     time.Time
	// DNS64Prefix is the prefix discovered from ipv4only.arpa (RFC 7050), if
	// the check asked for it.
	DNS64Prefix netip.Prefix
}

// OK reports whether the last probe succeeded.
func (s CheckStatus) OK() bool { return s.Result == ResultOK }

// Prober runs the DNS checks. It is a prometheus.Collector.
type Prober struct {
	logger *slog.Logger
	opts   Options

	mu        sync.Mutex
	cfg       *config.Config
	resolvers map[string]*resolver
	schedules []*schedule // one per resolver, in configuration order
	probes    []*probe    // in configuration order: resolvers, then checks
	runCtx    context.Context
	wg        sync.WaitGroup

	duration   *prometheus.HistogramVec
	total      *prometheus.CounterVec
	fallbacks  *prometheus.CounterVec
	mismatched *prometheus.CounterVec

	successDesc *prometheus.Desc
	prefixDesc  *prometheus.Desc
	expectDesc  *prometheus.Desc
	infoDesc    *prometheus.Desc
}

// resolver is one configured resolver and its sockets.
type resolver struct {
	cfg  config.Resolver
	main *transport
	tcp  *transport // the TCP fallback for truncated UDP answers
}

// schedule runs one resolver's checks from one goroutine on one ticker: at each
// tick it sends every check's query (pipelined on the resolver's socket), then
// collects the answers, each check against its own timeout, recording each
// verdict as soon as it is in.
type schedule struct {
	res      *resolver
	interval time.Duration
	timeout  time.Duration

	// Under Prober.mu.
	probes []*probe // the resolver's checks, in configuration order
	cancel context.CancelFunc

	// Owned by the schedule's goroutine (or by a test calling fire).
	batch  []*probe       // the probes of the current round
	done   []*probe       // verdicts of one wake-up, to record under one lock
	notify chan *exchange // answers and failures of the round's exchanges
	timer  *time.Timer    // the earliest deadline of the round's open queries
}

// probe is one check against one resolver.
type probe struct {
	res *resolver
	chk *check
	ex  *exchange
	msg dns.Msg

	observer prometheus.Observer
	counters map[string]prometheus.Counter
	fallback prometheus.Counter

	// Owned by the schedule's goroutine, for one round.
	sent     time.Time
	deadline time.Time
	via      *transport // the transport the query waits on
	retried  bool       // asked again on a stream connection closed while idle
	open     bool       // no verdict yet
	out      outcome
	elapsed  time.Duration

	// Under Prober.mu.
	last    CheckStatus
	stopped bool
}

// New builds a Prober for cfg.DNS. Nothing is sent until Run.
func New(cfg *config.Config, logger *slog.Logger, opts Options) (*Prober, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Prober{
		logger:    logger,
		opts:      opts,
		resolvers: map[string]*resolver{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meetnoc_dns_probe_duration_seconds",
			Help:    "Time from a DNS probe's query to its answer (including a TCP retry of a truncated answer).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"resolver", "check"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_dns_probes_total",
			Help: "DNS probes by result: ok, timeout, rcode, validation (a wrong answer), network.",
		}, []string{"resolver", "check", "result"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_dns_tcp_fallbacks_total",
			Help: "Truncated UDP answers asked again over TCP.",
		}, []string{"resolver"}),
		mismatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_dns_mismatched_answers_total",
			Help: "Packets from a resolver that answered no query in flight (unknown ID, other question, too short); dropped.",
		}, []string{"resolver"}),
		successDesc: prometheus.NewDesc("meetnoc_dns_probe_success",
			"Whether the last DNS probe of a check against a resolver succeeded.", []string{"resolver", "check"}, nil),
		prefixDesc: prometheus.NewDesc("meetnoc_dns64_prefix_info",
			"The DNS64 prefix a resolver synthesizes with, discovered from ipv4only.arpa (RFC 7050).", []string{"resolver", "prefix"}, nil),
		expectDesc: prometheus.NewDesc("meetnoc_dns64_prefix_expected",
			"Whether the DNS64 prefix a resolver synthesizes with is one of nat64_prefixes (1) or not (0): the wrong-prefix alert's exact signal.", []string{"resolver", "prefix"}, nil),
		infoDesc: prometheus.NewDesc("meetnoc_dns_resolver_info",
			"A probed resolver: its address, transport and the SSID whose path it is probed through.", []string{"resolver", "address", "transport", "ssid"}, nil),
	}
	if err := p.Apply(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.runCtx != nil {
		p.mu.Unlock()
		return errors.New("dns: Run called twice")
	}
	p.runCtx = ctx
	for _, s := range p.schedules {
		p.start(s)
	}
	p.mu.Unlock()

	<-ctx.Done()

	p.mu.Lock()
	for _, s := range p.schedules {
		p.stop(s)
	}
	for _, r := range p.resolvers {
		r.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Apply takes a reloaded configuration. Resolvers that are unchanged keep their
// sockets and, if the interval and timeout are unchanged too, their schedule;
// checks that are unchanged keep their counts and status. The others are
// stopped, their series removed, and the new ones started.
func (p *Prober) Apply(cfg *config.Config) error {
	checks := make([]*check, len(cfg.DNS.Checks))
	for i, c := range cfg.DNS.Checks {
		ck, err := compileCheck(c)
		if err != nil {
			return err
		}
		checks[i] = ck
	}
	p.mu.Lock()
	defer p.mu.Unlock()

	sameTiming := p.cfg != nil && p.cfg.DNS.Interval == cfg.DNS.Interval && p.cfg.DNS.Timeout == cfg.DNS.Timeout
	resolvers := map[string]*resolver{}
	closeNew := func() {
		for _, nr := range resolvers {
			if p.resolvers[nr.cfg.Name] != nr {
				nr.close()
			}
		}
	}
	for _, rc := range cfg.DNS.Resolvers {
		if old := p.resolvers[rc.Name]; old != nil && old.cfg == rc {
			resolvers[rc.Name] = old
			continue
		}
		r, err := p.newResolver(rc)
		if err != nil {
			closeNew()
			return err
		}
		resolvers[rc.Name] = r
	}

	type key struct{ resolver, check string }
	old := map[key]*probe{}
	for _, pr := range p.probes {
		old[key{pr.res.cfg.Name, pr.chk.cfg.Name}] = pr
	}
	oldSchedules := map[*resolver]*schedule{}
	for _, s := range p.schedules {
		oldSchedules[s.res] = s
	}
	var (
		probes    []*probe
		schedules []*schedule
		kept      = map[*schedule]bool{}
		ownProbes = map[*schedule][]*probe{}
	)
	for _, rc := range cfg.DNS.Resolvers {
		r := resolvers[rc.Name]
		s := oldSchedules[r]
		if s != nil && sameTiming {
			kept[s] = true
		} else {
			s = &schedule{res: r, interval: cfg.DNS.Interval, timeout: cfg.DNS.Timeout}
		}
		schedules = append(schedules, s)
		for _, ck := range checks {
			if len(ck.cfg.Resolvers) > 0 && !contains(ck.cfg.Resolvers, rc.Name) {
				continue
			}
			k := key{rc.Name, ck.cfg.Name}
			if pr := old[k]; pr != nil && kept[s] && pr.res == r && reflect.DeepEqual(pr.chk.cfg, ck.cfg) {
				probes = append(probes, pr)
				ownProbes[s] = append(ownProbes[s], pr)
				delete(old, k)
				continue
			}
			pr, err := p.newProbe(r, ck)
			if err != nil {
				closeNew()
				return err
			}
			probes = append(probes, pr)
			ownProbes[s] = append(ownProbes[s], pr)
		}
	}

	for k, pr := range old {
		pr.stopped = true
		p.duration.DeleteLabelValues(k.resolver, k.check)
		for _, res := range results {
			p.total.DeleteLabelValues(k.resolver, k.check, res)
		}
	}
	for _, s := range p.schedules {
		if !kept[s] {
			p.stop(s)
		}
	}
	for name, r := range p.resolvers {
		if resolvers[name] != r {
			r.close()
			if resolvers[name] == nil {
				p.fallbacks.DeleteLabelValues(name)
				p.mismatched.DeleteLabelValues(name)
			}
		}
	}
	// A kept schedule takes its new list of checks at its next tick.
	for _, s := range schedules {
		s.probes = ownProbes[s]
	}
	p.cfg, p.resolvers, p.schedules, p.probes = cfg, resolvers, schedules, probes
	if p.runCtx != nil {
		for _, s := range schedules {
			if !kept[s] {
				p.start(s)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *Prober) newResolver(rc config.Resolver) (*resolver, error) {
	ap, err := netip.ParseAddrPort(rc.Address)
	if err != nil {
		return nil, fmt.Errorf("resolver %s: %w", rc.Name, err)
	}
	network := rc.Transport
	if network == "" {
		network = config.DefaultResolverTransport
	}
	dialer := &net.Dialer{}
	if rc.SourceAddress.IsValid() {
		src := netip.AddrPortFrom(rc.SourceAddress, 0)
		if network == "udp" {
			dialer.LocalAddr = net.UDPAddrFromAddrPort(src)
		} else {
			dialer.LocalAddr = net.TCPAddrFromAddrPort(src)
		}
	}
	if rc.Interface != "" {
		dialer.Control = bindToDevice(rc.Interface)
	}
	var tlsConfig *tls.Config
	switch network {
	case "udp", "tcp":
	case "tls":
		name := rc.TLSServerName
		if name == "" {
			name = ap.Addr().String()
		}
		tlsConfig = &tls.Config{ServerName: name, RootCAs: p.opts.TLSRootCAs, MinVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("resolver %s: unknown transport %q", rc.Name, rc.Transport)
	}
	mismatched := p.mismatched.WithLabelValues(rc.Name)
	stray := func(string) { mismatched.Inc() }
	r := &resolver{cfg: rc, main: newTransport(network, ap.String(), dialer, tlsConfig, stray)}
	if network == "udp" {
		tcpDialer := *dialer
		if rc.SourceAddress.IsValid() {
			tcpDialer.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(rc.SourceAddress, 0))
		}
		r.tcp = newTransport("tcp", ap.String(), &tcpDialer, nil, stray)
	}
	p.fallbacks.WithLabelValues(rc.Name)
	return r, nil
}

func (r *resolver) close() {
	r.main.close()
	if r.tcp != nil {
		r.tcp.close()
	}
}

func (p *Prober) newProbe(r *resolver, ck *check) (*probe, error) {
	q, err := ck.packQuery()
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", ck.cfg.Name, err)
	}
	pr := &probe{
		res: r, chk: ck,
		ex:       &exchange{query: q},
		observer: p.duration.WithLabelValues(r.cfg.Name, ck.cfg.Name),
		counters: map[string]prometheus.Counter{},
		fallback: p.fallbacks.WithLabelValues(r.cfg.Name),
		last:     CheckStatus{Resolver: r.cfg.Name, Check: ck.cfg.Name, SSID: r.cfg.SSID},
	}
	for _, res := range results {
		pr.counters[res] = p.total.WithLabelValues(r.cfg.Name, ck.cfg.Name, res)
	}
	pr.ex.probe = pr
	return pr, nil
}

// start runs a schedule. A resolver's checks fire together, at the same phase
// of the wall clock, from one goroutine: their queries leave in one burst and
// the answers are taken in as few wake-ups as they arrive in. At a steady rate,
// waking up costs more CPU than the DNS work (docs/benchmarks.md, "DNS
// probes"). Resolvers are spread over the interval: the k-th of n fires k/n of
// an interval after the first. Called with p.mu held.
func (p *Prober) start(s *schedule) {
	ctx, cancel := context.WithCancel(p.runCtx)
	s.cancel = cancel
	var phase time.Duration
	if n := len(p.cfg.DNS.Resolvers); n > 0 {
		k := slices.IndexFunc(p.cfg.DNS.Resolvers, func(r config.Resolver) bool { return r.Name == s.res.cfg.Name })
		phase = s.interval * time.Duration(max(k, 0)) / time.Duration(n)
	}
	first := firstFire(p.opts.Now(), s.interval, phase)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.loop(ctx, s, first)
	}()
}

// firstFire is how long from now until the wall clock is at phase within an
// interval (counted from the Unix epoch), so that schedules started at
// different times share their firing times.
func firstFire(now time.Time, interval, phase time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	at := time.Duration(now.UnixNano() % int64(interval))
	return ((phase-at)%interval + interval) % interval
}

// stop ends a schedule's loop and its probes; called with p.mu held.
func (p *Prober) stop(s *schedule) {
	for _, pr := range s.probes {
		pr.stopped = true
	}
	if s.cancel != nil {
		s.cancel()
	}
}

func (p *Prober) loop(ctx context.Context, s *schedule, first time.Duration) {
	timer := time.NewTimer(first)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	// A ticker keeps the phase: a round that takes long does not push the
	// next one later (a tick it overran is dropped).
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		p.fire(ctx, s)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// fire runs one round of a schedule: it sends the query of every check of the
// resolver, then takes the answers as they come, judging each and recording
// its verdict at once, until every check has its verdict or its timeout.
func (p *Prober) fire(ctx context.Context, s *schedule) {
	p.mu.Lock()
	s.batch = append(s.batch[:0], s.probes...)
	nat64 := p.cfg.NAT64Prefixes
	p.mu.Unlock()
	if len(s.batch) == 0 {
		return
	}
	if cap(s.notify) < len(s.batch) {
		// Room for every exchange of the round: the reader never waits on it.
		s.notify = make(chan *exchange, len(s.batch))
	}
	s.done = s.done[:0]

	open := 0
	for _, pr := range s.batch {
		pr.sent = time.Now()
		pr.deadline = pr.sent.Add(s.timeout)
		pr.via, pr.retried, pr.open = pr.res.main, false, true
		if err := pr.via.send(ctx, pr.ex, pr.deadline, s.notify); err != nil {
			s.finish(pr, pr.failure(err, s.timeout))
			continue
		}
		open++
	}
	p.record(s)

	for open > 0 {
		next := time.Time{}
		for _, pr := range s.batch {
			if pr.open && (next.IsZero() || pr.deadline.Before(next)) {
				next = pr.deadline
			}
		}
		if s.timer == nil {
			s.timer = time.NewTimer(time.Until(next))
		} else {
			s.timer.Reset(time.Until(next))
		}
		select {
		case ex := <-s.notify:
			open -= s.handle(ctx, ex, nat64)
			// Whatever else came in meanwhile, in the same wake-up.
			for more := true; more; {
				select {
				case ex := <-s.notify:
					open -= s.handle(ctx, ex, nat64)
				default:
					more = false
				}
			}
		case now := <-s.timer.C:
			for _, pr := range s.batch {
				if pr.open && !now.Before(pr.deadline) {
					pr.via.forget(pr.ex)
					s.finish(pr, pr.failure(context.DeadlineExceeded, s.timeout))
					open--
				}
			}
		case <-ctx.Done():
			// Stopped (shutdown or reload), not failed: no verdicts.
			for _, pr := range s.batch {
				if pr.open {
					pr.via.forget(pr.ex)
					pr.open = false
				}
			}
			open = 0
		}
		s.timer.Stop()
		p.record(s)
	}
	// Answers that came in after their query's timeout was taken.
	for {
		select {
		case <-s.notify:
		default:
			return
		}
	}
}

// handle takes one exchange handed over by a transport: an answer to judge, a
// truncated answer to ask again over TCP, or a failure. It returns 1 if the
// probe has its verdict, 0 if it waits on.
func (s *schedule) handle(ctx context.Context, ex *exchange, nat64 []netip.Prefix) int {
	pr := ex.probe
	if !pr.open {
		return 0 // its timeout was taken first
	}
	err := ex.err
	if err == nil && pr.via == pr.res.main && pr.res.tcp != nil && len(ex.answer) > 2 && ex.answer[2]&0x02 != 0 {
		// TC: the answer did not fit the UDP buffer (RFC 7766 §5).
		pr.fallback.Inc()
		pr.via, pr.retried = pr.res.tcp, false
		if err = pr.via.send(ctx, ex, pr.deadline, s.notify); err == nil {
			return 0
		}
	} else if errors.Is(err, errConnClosed) && !ex.fresh && !pr.retried && time.Now().Before(pr.deadline) {
		// A stream connection the server closed while idle: dial again, once.
		pr.retried = true
		if err = pr.via.send(ctx, ex, pr.deadline, s.notify); err == nil {
			return 0
		}
	}
	if err != nil {
		s.finish(pr, pr.failure(err, s.timeout))
		return 1
	}
	s.finish(pr, handleAnswer(pr.chk, ex.query, ex.answer, &pr.msg, nat64))
	return 1
}

// finish sets a probe's verdict, to be recorded with the others of the same
// wake-up.
func (s *schedule) finish(pr *probe, out outcome) {
	pr.open = false
	pr.out = out
	pr.elapsed = time.Since(pr.sent)
	s.done = append(s.done, pr)
}

// record puts the verdicts of one wake-up into the metrics and the status.
func (p *Prober) record(s *schedule) {
	if len(s.done) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	for _, pr := range s.done {
		if pr.stopped {
			continue
		}
		out := pr.out
		pr.observer.Observe(pr.elapsed.Seconds())
		pr.counters[out.result].Inc()
		prev := pr.last.Result
		pr.last.Result, pr.last.Detail = out.result, out.detail
		pr.last.Duration, pr.last.Time = pr.elapsed, now
		pr.last.DNS64Prefix = out.prefix
		if out.result != ResultOK && prev != out.result {
			p.logger.Warn("DNS probe failed", "resolver", pr.res.cfg.Name, "check", pr.chk.cfg.Name,
				"result", out.result, "detail", out.detail)
		} else if out.result == ResultOK && prev != "" && prev != ResultOK {
			p.logger.Info("DNS probe recovered", "resolver", pr.res.cfg.Name, "check", pr.chk.cfg.Name)
		}
	}
	clear(s.done)
	s.done = s.done[:0]
}

// failure classifies a query that got no answer.
func (pr *probe) failure(err error, timeout time.Duration) outcome {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		if pr.ex.mismatched > 0 {
			return outcome{result: ResultNetwork, detail: fmt.Sprintf("no matching answer within %s; %d mismatched answer(s) dropped, last: %s",
				timeout, pr.ex.mismatched, pr.ex.lastMismatch)}
		}
		return outcome{result: ResultTimeout, detail: fmt.Sprintf("no answer within %s", timeout)}
	}
	var be *bindError
	if errors.As(err, &be) {
		return outcome{result: ResultNetwork, detail: be.Error()}
	}
	return outcome{result: ResultNetwork, detail: err.Error()}
}

// bindError is a socket that could not be bound to its interface.
type bindError struct {
	iface string
	err   error
}

func (e *bindError) Error() string { return fmt.Sprintf("bind to interface %s: %v", e.iface, e.err) }
func (e *bindError) Unwrap() error { return e.err }

// Status is the last result of every check against every resolver, in
// configuration order.
func (p *Prober) Status() []CheckStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]CheckStatus, len(p.probes))
	for i, pr := range p.probes {
		out[i] = pr.last
	}
	return out
}

// Describe implements prometheus.Collector.
func (p *Prober) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.successDesc
	ch <- p.prefixDesc
	ch <- p.expectDesc
	ch <- p.infoDesc
	p.duration.Describe(ch)
	p.total.Describe(ch)
	p.fallbacks.Describe(ch)
	p.mismatched.Describe(ch)
}

// Collect implements prometheus.Collector; it never waits on the network.
func (p *Prober) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	seen := map[[2]string]bool{}
	for _, pr := range p.probes {
		s := pr.last
		if s.Result == "" {
			continue
		}
		v := 0.0
		if s.OK() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(p.successDesc, prometheus.GaugeValue, v, s.Resolver, s.Check)
		if s.DNS64Prefix.IsValid() {
			k := [2]string{s.Resolver, s.DNS64Prefix.String()}
			if !seen[k] {
				seen[k] = true
				ch <- prometheus.MustNewConstMetric(p.prefixDesc, prometheus.GaugeValue, 1, k[0], k[1])
				expected := 0.0
				for _, np := range p.cfg.NAT64Prefixes {
					if np == s.DNS64Prefix {
						expected = 1
					}
				}
				ch <- prometheus.MustNewConstMetric(p.expectDesc, prometheus.GaugeValue, expected, k[0], k[1])
			}
		}
	}
	for _, rc := range p.cfg.DNS.Resolvers {
		transport := rc.Transport
		if transport == "" {
			transport = config.DefaultResolverTransport
		}
		ch <- prometheus.MustNewConstMetric(p.infoDesc, prometheus.GaugeValue, 1, rc.Name, rc.Address, transport, rc.SSID)
	}
	p.mu.Unlock()
	p.duration.Collect(ch)
	p.total.Collect(ch)
	p.fallbacks.Collect(ch)
	p.mismatched.Collect(ch)
}
