package config

import (
	"net/netip"
	"runtime"
	"strings"
	"time"
)

// Defaults. They suit an IETF-sized venue: a 30 s SNMP cycle is what the NOC watches
// during sessions; a 5 min client window matches how long a laptop sleeps between talks.
const (
	DefaultSNMPInterval       = 30 * time.Second
	DefaultSNMPTimeout        = 5 * time.Second
	DefaultSNMPRetries        = 1
	DefaultMaxRepetitions     = 25
	DefaultMaxConcurrency     = 64
	DefaultJitter             = 0.1
	DefaultAPMissingHold      = time.Hour
	DefaultClientWindow       = 5 * time.Minute
	DefaultDNSInterval        = 15 * time.Second
	DefaultDNSTimeout         = 2 * time.Second
	DefaultTargetLabel        = "target"
	DefaultSNMPPort           = "161"
	DefaultResolverTransport  = "udp"
	DefaultRcode              = "NOERROR"
	DefaultNAT64ProbeInterval = 15 * time.Second
	DefaultNAT64ProbeTimeout  = 2 * time.Second
	DefaultNAT64PrefixLiteral = "64:ff9b::/96"
	DefaultRingSize           = 64 << 20
	DefaultMaxCaptureWorkers  = 4
	DefaultSnaplen            = 2048
	DefaultPcapSpeed          = "fast"
)

func (l *loader) applyDefaults(cfg *Config) {
	f := cfg.File
	if len(cfg.NAT64Prefixes) == 0 && !l.has(f, "nat64_prefixes") {
		cfg.NAT64Prefixes = []netip.Prefix{netip.MustParsePrefix(DefaultNAT64PrefixLiteral)}
	}
	s := &cfg.SNMP
	if !l.has(f, "snmp.interval") {
		s.Interval = DefaultSNMPInterval
	}
	if !l.has(f, "snmp.timeout") {
		s.Timeout = DefaultSNMPTimeout
	}
	if !l.has(f, "snmp.retries") {
		s.Retries = DefaultSNMPRetries
	}
	if !l.has(f, "snmp.max_repetitions") {
		s.MaxRepetitions = DefaultMaxRepetitions
	}
	if !l.has(f, "snmp.max_concurrency") {
		s.MaxConcurrency = DefaultMaxConcurrency
	}
	if !l.has(f, "snmp.jitter") {
		s.Jitter = DefaultJitter
	}
	if !l.has(f, "snmp.ap_missing_hold") {
		s.APMissingHold = DefaultAPMissingHold
	}
	for _, a := range s.Auths {
		if a != nil && a.Version == Version3 && a.SecurityLevel == "" {
			a.SecurityLevel = defaultSecurityLevel(a)
		}
	}
	if !l.has(f, "traffic.client_window") {
		cfg.Traffic.ClientWindow = DefaultClientWindow
	}
	for i := range cfg.Traffic.Sources {
		defaultSource(&cfg.Traffic.Sources[i])
	}
	if !l.has(f, "dns.interval") {
		cfg.DNS.Interval = DefaultDNSInterval
	}
	if !l.has(f, "dns.timeout") {
		cfg.DNS.Timeout = DefaultDNSTimeout
	}
	for i := range cfg.DNS.Resolvers {
		if cfg.DNS.Resolvers[i].Transport == "" {
			cfg.DNS.Resolvers[i].Transport = DefaultResolverTransport
		}
	}
	for i := range cfg.DNS.Checks {
		c := &cfg.DNS.Checks[i]
		c.Type = strings.ToUpper(c.Type)
		if c.Rcode == "" {
			c.Rcode = DefaultRcode
		}
		c.Rcode = strings.ToUpper(c.Rcode)
		if c.MinAnswers == nil {
			n := 0
			if c.Rcode == DefaultRcode {
				n = 1
			}
			c.MinAnswers = &n
		}
	}
	if !l.has(f, "nat64_probes.interval") {
		cfg.NAT64Probes.Interval = DefaultNAT64ProbeInterval
	}
	if !l.has(f, "nat64_probes.timeout") {
		cfg.NAT64Probes.Timeout = DefaultNAT64ProbeTimeout
	}
	for i := range cfg.NAT64Probes.Targets {
		if t := &cfg.NAT64Probes.Targets[i]; !t.Prefix.IsValid() && len(cfg.NAT64Prefixes) > 0 {
			t.Prefix = cfg.NAT64Prefixes[0]
		}
	}
	for _, p := range cfg.Profiles {
		if p.TargetLabel == "" {
			p.TargetLabel = DefaultTargetLabel
		}
		for i := range p.Scalars {
			defaultScale(l, p, &p.Scalars[i], "scalars", i, -1)
		}
		for ti := range p.Tables {
			for mi := range p.Tables[ti].Metrics {
				defaultScale(l, p, &p.Tables[ti].Metrics[mi], "tables", ti, mi)
			}
		}
	}
}

// defaultSecurityLevel infers the level from what the user wrote, so that an auth
// with both passphrases is authPriv without saying so twice.
func defaultSecurityLevel(a *Auth) string {
	switch {
	case a.PrivProtocol != "" || a.PrivPassword != "" || a.PrivPasswordFile != "":
		return "authPriv"
	case a.AuthProtocol != "" || a.AuthPassword != "" || a.AuthPasswordFile != "":
		return "authNoPriv"
	}
	return "noAuthNoPriv"
}

func defaultScale(l *loader, p *Profile, m *ProfileMetric, section string, i, j int) {
	key := metricPath(section, i, j) + ".scale"
	if m.Scale == 0 && !l.has(p.File, key) {
		m.Scale = 1
	}
}

func defaultSource(s *TrafficSource) {
	switch s.Type {
	case "afpacket":
		if s.RingSize == 0 {
			s.RingSize = DefaultRingSize
		}
		if s.Workers == 0 {
			s.Workers = min(DefaultMaxCaptureWorkers, runtime.NumCPU())
		}
		if s.Sampling == 0 {
			s.Sampling = 1
		}
		if s.Snaplen == 0 {
			s.Snaplen = DefaultSnaplen
		}
	case "pcap", "pcap_sflow":
		if s.Speed == "" {
			s.Speed = DefaultPcapSpeed
		}
	}
}
