package nat64

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descSuccess = prometheus.NewDesc("meetnoc_nat64_probe_success",
		"Whether the last TCP connect to the target through its NAT64 prefix reached the destination (1); a refused connection counts, the destination answered.",
		[]string{"target"}, nil)
	descDuration = prometheus.NewDesc("meetnoc_nat64_probe_duration_seconds",
		"Duration of the last TCP connect to the target through its NAT64 prefix (gauge, last probe).",
		[]string{"target"}, nil)
	descIPv4Success = prometheus.NewDesc("meetnoc_nat64_ipv4_probe_success",
		"Whether the last TCP connect to the target directly over IPv4 reached the destination (1); a refused connection counts.",
		[]string{"target"}, nil)
	descIPv4Duration = prometheus.NewDesc("meetnoc_nat64_ipv4_probe_duration_seconds",
		"Duration of the last TCP connect to the target directly over IPv4 (gauge, last probe).",
		[]string{"target"}, nil)
	descICMPSuccess = prometheus.NewDesc("meetnoc_nat64_icmp_probe_success",
		"Whether the last echo request (ICMPv6 through the NAT64 prefix, path=nat64; ICMP direct, path=ipv4) was answered.",
		[]string{"target", "path"}, nil)
	descICMPDuration = prometheus.NewDesc("meetnoc_nat64_icmp_probe_duration_seconds",
		"Round-trip time of the last echo probe (gauge, last probe).",
		[]string{"target", "path"}, nil)
)

// Describe implements prometheus.Collector.
func (p *Prober) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSuccess
	ch <- descDuration
	ch <- descIPv4Success
	ch <- descIPv4Duration
	ch <- descICMPSuccess
	ch <- descICMPDuration
	p.probes.Describe(ch)
	p.icmpProbes.Describe(ch)
}

// Collect implements prometheus.Collector from the last results; a target not
// probed yet has no success or duration series rather than a made-up 0.
func (p *Prober) Collect(ch chan<- prometheus.Metric) {
	for _, t := range p.snapshot() {
		t.mu.Lock()
		tcp, icmp, round := t.tcp, t.icmp, t.round
		t.mu.Unlock()
		if round == 0 {
			continue
		}
		name := t.cfg.Name
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, boolValue(tcp[0].reachable()), name)
		ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, tcp[0].duration.Seconds(), name)
		ch <- prometheus.MustNewConstMetric(descIPv4Success, prometheus.GaugeValue, boolValue(tcp[1].reachable()), name)
		ch <- prometheus.MustNewConstMetric(descIPv4Duration, prometheus.GaugeValue, tcp[1].duration.Seconds(), name)
		if t.cfg.ICMP {
			for i, path := range [2]string{PathNAT64, PathIPv4} {
				ch <- prometheus.MustNewConstMetric(descICMPSuccess, prometheus.GaugeValue, boolValue(icmp[i].result == ResultOK), name, path)
				ch <- prometheus.MustNewConstMetric(descICMPDuration, prometheus.GaugeValue, icmp[i].duration.Seconds(), name, path)
			}
		}
	}
	p.probes.Collect(ch)
	p.icmpProbes.Collect(ch)
}

func (p *Prober) snapshot() []*target {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]*target, 0, len(p.order))
	for _, name := range p.order {
		ts = append(ts, p.targets[name])
	}
	return ts
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TargetStatus is one target's row on the status page.
type TargetStatus struct {
	Name        string
	Address     string // the IPv4 destination, addr:port
	Prefix      string // the NAT64 prefix
	Synthesized string // the destination inside the prefix, [addr]:port
	Source      string // the IPv6 probe's source address, when bound
	// Verdict is what the two TCP paths say together: ok, NAT64 broken, IPv4
	// path broken, destination down, cannot probe, or not probed yet.
	Verdict string
	NAT64   PathStatus
	IPv4    PathStatus
	// ICMP6 (through the prefix) and ICMP4 (direct) are nil unless the target
	// has icmp: true.
	ICMP6, ICMP4 *PathStatus
	LastProbe    time.Time // zero before the first probe
}

// PathStatus is the last probe over one path.
type PathStatus struct {
	Probed    bool
	Reachable bool   // ok, or refused (the destination answered)
	Result    string // ok, timeout, refused, unreachable, error, not_permitted
	Duration  time.Duration
	Error     string
	// Note explains a result that reads otherwise than it is (refused counts as
	// reachable; ICMP that this host does not permit).
	Note string
}

func pathStatus(r pathResult) PathStatus {
	s := PathStatus{Probed: r.probed, Reachable: r.reachable(), Result: r.result, Duration: r.duration, Error: r.err}
	switch r.result {
	case ResultRefused:
		s.Note = refusedNote
	case ResultNotPermitted:
		s.Reachable = false
		s.Note = "this host permits neither ping sockets (sysctl net.ipv4.ping_group_range) nor raw ICMP sockets (CAP_NET_RAW)"
	}
	return s
}

// Status returns every target's last results, in config order.
func (p *Prober) Status() []TargetStatus {
	ts := p.snapshot()
	out := make([]TargetStatus, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		s := TargetStatus{
			Name:        t.cfg.Name,
			Address:     t.dst.String(),
			Prefix:      t.cfg.Prefix.String(),
			Synthesized: t.synth.String(),
			Verdict:     verdict(t.tcp, t.round),
			NAT64:       pathStatus(t.tcp[0]),
			IPv4:        pathStatus(t.tcp[1]),
			LastProbe:   t.last,
		}
		if t.cfg.SourceAddress.IsValid() {
			s.Source = t.cfg.SourceAddress.String()
		}
		if t.cfg.ICMP {
			i6, i4 := pathStatus(t.icmp[0]), pathStatus(t.icmp[1])
			i6.Reachable, i4.Reachable = t.icmp[0].result == ResultOK, t.icmp[1].result == ResultOK
			s.ICMP6, s.ICMP4 = &i6, &i4
		}
		t.mu.Unlock()
		out = append(out, s)
	}
	return out
}
