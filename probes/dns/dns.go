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
	probes    []*probe // in configuration order: resolvers, then checks
	runCtx    context.Context
	wg        sync.WaitGroup

	duration   *prometheus.HistogramVec
	total      *prometheus.CounterVec
	fallbacks  *prometheus.CounterVec
	mismatched *prometheus.CounterVec

	successDesc *prometheus.Desc
	prefixDesc  *prometheus.Desc
	infoDesc    *prometheus.Desc
}

// resolver is one configured resolver and its sockets.
type resolver struct {
	cfg  config.Resolver
	main *transport
	tcp  *transport // the TCP fallback for truncated UDP answers
}

// probe is one check against one resolver, run on its own schedule.
type probe struct {
	res      *resolver
	chk      *check
	interval time.Duration
	timeout  time.Duration
	ex       *exchange
	msg      dns.Msg
	cancel   context.CancelFunc

	observer prometheus.Observer
	counters map[string]prometheus.Counter
	fallback prometheus.Counter

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
	for _, pr := range p.probes {
		p.start(pr)
	}
	p.mu.Unlock()

	<-ctx.Done()

	p.mu.Lock()
	for _, pr := range p.probes {
		p.stop(pr)
	}
	for _, r := range p.resolvers {
		r.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Apply takes a reloaded configuration. Probes whose resolver and check are
// unchanged keep running, with their sockets; the others are stopped, their
// series removed, and the new ones started.
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
	for _, rc := range cfg.DNS.Resolvers {
		if old := p.resolvers[rc.Name]; old != nil && old.cfg == rc {
			resolvers[rc.Name] = old
			continue
		}
		r, err := p.newResolver(rc)
		if err != nil {
			for _, nr := range resolvers {
				if p.resolvers[nr.cfg.Name] != nr {
					nr.close()
				}
			}
			return err
		}
		resolvers[rc.Name] = r
	}

	type key struct{ resolver, check string }
	old := map[key]*probe{}
	for _, pr := range p.probes {
		old[key{pr.res.cfg.Name, pr.chk.cfg.Name}] = pr
	}
	var probes []*probe
	for _, rc := range cfg.DNS.Resolvers {
		r := resolvers[rc.Name]
		for _, ck := range checks {
			if len(ck.cfg.Resolvers) > 0 && !contains(ck.cfg.Resolvers, rc.Name) {
				continue
			}
			k := key{rc.Name, ck.cfg.Name}
			if pr := old[k]; pr != nil && sameTiming && pr.res == r && reflect.DeepEqual(pr.chk.cfg, ck.cfg) {
				probes = append(probes, pr)
				delete(old, k)
				continue
			}
			pr, err := p.newProbe(r, ck, cfg.DNS.Interval, cfg.DNS.Timeout)
			if err != nil {
				return err
			}
			probes = append(probes, pr)
		}
	}

	for k, pr := range old {
		p.stop(pr)
		p.duration.DeleteLabelValues(k.resolver, k.check)
		for _, res := range results {
			p.total.DeleteLabelValues(k.resolver, k.check, res)
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
	p.cfg, p.resolvers = cfg, resolvers
	kept := map[*probe]bool{}
	for _, pr := range p.probes {
		kept[pr] = true
	}
	p.probes = probes
	if p.runCtx != nil {
		for _, pr := range probes {
			if !kept[pr] || pr.stopped {
				p.start(pr)
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

func (p *Prober) newProbe(r *resolver, ck *check, interval, timeout time.Duration) (*probe, error) {
	q, err := ck.packQuery()
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", ck.cfg.Name, err)
	}
	pr := &probe{
		res: r, chk: ck, interval: interval, timeout: timeout,
		ex:       newExchange(q),
		observer: p.duration.WithLabelValues(r.cfg.Name, ck.cfg.Name),
		counters: map[string]prometheus.Counter{},
		fallback: p.fallbacks.WithLabelValues(r.cfg.Name),
		last:     CheckStatus{Resolver: r.cfg.Name, Check: ck.cfg.Name, SSID: r.cfg.SSID},
	}
	for _, res := range results {
		pr.counters[res] = p.total.WithLabelValues(r.cfg.Name, ck.cfg.Name, res)
	}
	return pr, nil
}

// start runs a probe. The checks of one resolver fire together, at the same
// phase of the wall clock (also after a reload), so that their queries leave in
// one burst and the answers are taken in one wake-up: at a steady rate, waking
// up costs more CPU than the DNS work (docs/benchmarks.md, "DNS probes").
// Resolvers are spread over the interval: the k-th of n fires k/n of an
// interval after the others. Called with p.mu held.
func (p *Prober) start(pr *probe) {
	ctx, cancel := context.WithCancel(p.runCtx)
	pr.cancel = cancel
	pr.stopped = false
	var phase time.Duration
	if n := len(p.cfg.DNS.Resolvers); n > 0 {
		k := slices.IndexFunc(p.cfg.DNS.Resolvers, func(r config.Resolver) bool { return r.Name == pr.res.cfg.Name })
		phase = pr.interval * time.Duration(max(k, 0)) / time.Duration(n)
	}
	first := firstFire(p.opts.Now(), pr.interval, phase)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.loop(ctx, pr, first)
	}()
}

// firstFire is how long from now until the wall clock is at phase within an
// interval (counted from the Unix epoch), so that probes started at different
// times share their firing times.
func firstFire(now time.Time, interval, phase time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	at := time.Duration(now.UnixNano() % int64(interval))
	return ((phase-at)%interval + interval) % interval
}

// stop ends a probe's loop; called with p.mu held.
func (p *Prober) stop(pr *probe) {
	pr.stopped = true
	if pr.cancel != nil {
		pr.cancel()
	}
}

func (p *Prober) loop(ctx context.Context, pr *probe, first time.Duration) {
	timer := time.NewTimer(first)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	// A ticker keeps the phase: a probe that takes long does not push the
	// next one later (a tick it overran is dropped).
	ticker := time.NewTicker(pr.interval)
	defer ticker.Stop()
	for {
		p.probeOnce(ctx, pr)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeOnce sends the check's query, judges the answer and records the result.
func (p *Prober) probeOnce(ctx context.Context, pr *probe) {
	p.mu.Lock()
	nat64 := p.cfg.NAT64Prefixes
	p.mu.Unlock()

	start := time.Now()
	out := pr.exchange(ctx, nat64)
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		// Stopped (shutdown or reload), not failed.
		return
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.stopped {
		return
	}
	pr.observer.Observe(elapsed.Seconds())
	pr.counters[out.result].Inc()
	prev := pr.last.Result
	pr.last.Result, pr.last.Detail = out.result, out.detail
	pr.last.Duration, pr.last.Time = elapsed, p.opts.Now()
	pr.last.DNS64Prefix = out.prefix
	if out.result != ResultOK && prev != out.result {
		p.logger.Warn("DNS probe failed", "resolver", pr.res.cfg.Name, "check", pr.chk.cfg.Name,
			"result", out.result, "detail", out.detail)
	} else if out.result == ResultOK && prev != "" && prev != ResultOK {
		p.logger.Info("DNS probe recovered", "resolver", pr.res.cfg.Name, "check", pr.chk.cfg.Name)
	}
}

// exchange runs one query, with the TCP retry of a truncated UDP answer, and
// judges the answer.
func (pr *probe) exchange(ctx context.Context, nat64 []netip.Prefix) outcome {
	ctx, cancel := context.WithTimeout(ctx, pr.timeout)
	defer cancel()
	err := pr.res.main.exchange(ctx, pr.ex)
	if err == nil && pr.res.tcp != nil && len(pr.ex.answer) > 2 && pr.ex.answer[2]&0x02 != 0 {
		// TC: the answer did not fit the UDP buffer (RFC 7766 §5).
		pr.fallback.Inc()
		err = pr.res.tcp.exchange(ctx, pr.ex)
	}
	if err != nil {
		return pr.failure(err)
	}
	return handleAnswer(pr.chk, pr.ex.query, pr.ex.answer, &pr.msg, nat64)
}

// failure classifies a query that got no answer.
func (pr *probe) failure(err error) outcome {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		if pr.ex.mismatched > 0 {
			return outcome{result: ResultNetwork, detail: fmt.Sprintf("no matching answer within %s; %d mismatched answer(s) dropped, last: %s",
				pr.timeout, pr.ex.mismatched, pr.ex.lastMismatch)}
		}
		return outcome{result: ResultTimeout, detail: fmt.Sprintf("no answer within %s", pr.timeout)}
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
