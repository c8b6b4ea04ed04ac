package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meetnoc/meetnoc/internal/netns"
)

var (
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	oidRE        = regexp.MustCompile(`^\.?[0-9]+(\.[0-9]+)+$`)
	// Names end up in labels, URLs and file names: keep them to what reads well everywhere.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$`)
)

// Label names that meetnoc sets itself on a target's series and info metric.
var reservedTargetLabels = []string{"target", "address", "profiles", "controller", "instance", "job"}

var (
	securityLevels = []string{"noAuthNoPriv", "authNoPriv", "authPriv"}
	authProtocols  = []string{"MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"}
	privProtocols  = []string{"DES", "AES", "AES192", "AES256", "AES192C", "AES256C"}
	sourceTypes    = []string{"afpacket", "sflow", "pcap", "pcap_sflow"}
	transports     = []string{"udp", "tcp", "tls"}
	rcodes         = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}
	queryTypes     = []string{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "HTTPS", "SVCB", "DS", "DNSKEY"}
	labelFormats   = []string{"text", "mac", "hex", "ipaddr", "int", "index"}
)

func (l *loader) validate(cfg *Config) {
	f := cfg.File
	l.validateSSIDs(cfg)
	for i, p := range cfg.NAT64Prefixes {
		if !p.Addr().Is6() || p.Addr().Is4In6() {
			l.errorf(f, fmt.Sprintf("nat64_prefixes[%d]", i), "%s is not an IPv6 prefix", p)
		} else if !slices.Contains([]int{32, 40, 48, 56, 64, 96}, p.Bits()) {
			l.errorf(f, fmt.Sprintf("nat64_prefixes[%d]", i), "prefix length /%d is not one RFC 6052 allows (32, 40, 48, 56, 64, 96)", p.Bits())
		}
	}
	l.validateSNMP(cfg)
	l.validateProfiles(cfg)
	l.validateTraffic(cfg)
	l.validateDNS(cfg)
	l.validateNAT64Probes(cfg)
	for i, name := range cfg.Netlink.Interfaces {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
			l.errorf(f, fmt.Sprintf("netlink.interfaces[%d]", i), "%q is not a Linux interface name", name)
		}
	}
}

func (l *loader) validateSSIDs(cfg *Config) {
	f := cfg.File
	names := map[string]bool{}
	vlans := map[uint16]string{}
	for i, s := range cfg.SSIDs {
		p := fmt.Sprintf("ssids[%d]", i)
		switch {
		case s.Name == "":
			l.errorf(f, p+".name", "missing")
		case s.Name == "unknown":
			l.errorf(f, p+".name", `"unknown" is reserved for traffic of no configured VLAN`)
		case names[s.Name]:
			l.errorf(f, p+".name", "duplicate SSID %q", s.Name)
		}
		names[s.Name] = true
		for j, v := range s.VLANs {
			vp := fmt.Sprintf("%s.vlans[%d]", p, j)
			if v < 1 || v > 4094 {
				l.errorf(f, vp, "VLAN %d is outside 1–4094", v)
			} else if other, dup := vlans[v]; dup {
				l.errorf(f, vp, "VLAN %d already belongs to SSID %q", v, other)
			}
			vlans[v] = s.Name
		}
		for j, r := range s.Routers {
			rp := fmt.Sprintf("%s.routers[%d]", p, j)
			if a, err := netip.ParseAddr(r); err == nil {
				// Router Advertisements come from IPv6 (link-local) addresses.
				if !a.Is6() || a.Is4In6() {
					l.errorf(f, rp, "%s is not an IPv6 address: Router Advertisements come from the router's link-local address", r)
				}
			} else if mac, err := net.ParseMAC(r); err != nil || len(mac) != 6 {
				l.errorf(f, rp, "%q is neither an IPv6 address nor an Ethernet (EUI-48) MAC address", r)
			}
		}
		for j, a := range s.DHCPServers {
			if !a.Is4() {
				l.errorf(f, fmt.Sprintf("%s.dhcp_servers[%d]", p, j), "%s is not an IPv4 address (DHCPv4 servers)", a)
			}
		}
	}
}

func (l *loader) validateSNMP(cfg *Config) {
	f := cfg.File
	s := &cfg.SNMP
	l.positive(f, "snmp.interval", s.Interval)
	l.positive(f, "snmp.timeout", s.Timeout)
	l.positive(f, "snmp.ap_missing_hold", s.APMissingHold)
	if s.Retries < 0 || s.Retries > 10 {
		l.errorf(f, "snmp.retries", "must be from 0 to 10, not %d", s.Retries)
	}
	if s.MaxRepetitions == 0 || s.MaxRepetitions > 1000 {
		l.errorf(f, "snmp.max_repetitions", "must be from 1 to 1000, not %d", s.MaxRepetitions)
	}
	if s.MaxConcurrency < 1 {
		l.errorf(f, "snmp.max_concurrency", "must be at least 1, not %d", s.MaxConcurrency)
	}
	if s.Jitter < 0 || s.Jitter > 0.5 {
		l.errorf(f, "snmp.jitter", "must be from 0 to 0.5 (a fraction of the interval), not %g", s.Jitter)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Auths)) {
		l.validateAuth(f, "snmp.auths."+name, s.Auths[name])
	}

	names := map[string]string{}
	for _, t := range s.Targets {
		tf, tp := t.Source()
		switch {
		case t.Name == "":
			l.errorf(tf, tp+".name", "missing")
		case !nameRE.MatchString(t.Name):
			l.errorf(tf, tp+".name", "%q: use letters, digits and _ . : @ / -", t.Name)
		case names[t.Name] != "":
			l.errorf(tf, tp+".name", "duplicate target %q (first defined at %s)", t.Name, strings.TrimPrefix(names[t.Name], tf+":"))
		default:
			names[t.Name] = fmt.Sprintf("%s:line %d", tf, l.line(tf, tp))
		}
		if _, err := TargetAddress(t.Address); err != nil {
			l.errorf(tf, tp+".address", "%v", err)
		}
		switch {
		case t.Auth == "":
			l.errorf(tf, tp+".auth", "missing (one of: %s)", strings.Join(slices.Sorted(maps.Keys(s.Auths)), ", "))
		case s.Auths[t.Auth] == nil:
			l.errorf(tf, tp+".auth", "unknown auth %q (defined: %s)", t.Auth, strings.Join(slices.Sorted(maps.Keys(s.Auths)), ", "))
		}
		if len(t.Profiles) == 0 {
			l.errorf(tf, tp+".profiles", "missing: name at least one profile (e.g. if_mib)")
		}
		for i, p := range t.Profiles {
			if cfg.Profiles[p] == nil {
				l.errorf(tf, fmt.Sprintf("%s.profiles[%d]", tp, i), "unknown profile %q (known: %s)", p, strings.Join(slices.Sorted(maps.Keys(cfg.Profiles)), ", "))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
			switch {
			case !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__"):
				l.errorf(tf, tp+".labels."+k, "%q is not a valid Prometheus label name", k)
			case slices.Contains(reservedTargetLabels, k):
				l.errorf(tf, tp+".labels."+k, "%q is set by meetnoc itself; choose another name", k)
			}
		}
		if t.Interval < 0 {
			l.errorf(tf, tp+".interval", "must be positive, not %s", t.Interval)
		}
		if t.Timeout < 0 {
			l.errorf(tf, tp+".timeout", "must be positive, not %s", t.Timeout)
		}
		if t.Retries != nil && (*t.Retries < 0 || *t.Retries > 10) {
			l.errorf(tf, tp+".retries", "must be from 0 to 10, not %d", *t.Retries)
		}
		if t.MaxRepetitions > 1000 {
			l.errorf(tf, tp+".max_repetitions", "must be from 1 to 1000, not %d", t.MaxRepetitions)
		}
		interval, timeout := cmpOr(t.Interval, s.Interval), cmpOr(t.Timeout, s.Timeout)
		if timeout > 0 && interval > 0 && timeout >= interval {
			l.errorf(tf, tp, "timeout %s is not shorter than the polling interval %s", timeout, interval)
		}
	}
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func (l *loader) validateAuth(f, p string, a *Auth) {
	if a == nil {
		l.errorf(f, p, "empty auth")
		return
	}
	switch a.Version {
	case Version2c:
		if a.Community == "" && a.CommunityFile == "" { // a file that failed to read is reported already
			l.errorf(f, p, "version 2c needs community or community_file")
		}
		for key, set := range map[string]bool{
			"username": a.Username != "", "security_level": a.SecurityLevel != "",
			"auth_protocol": a.AuthProtocol != "", "auth_password": a.AuthPassword != "",
			"priv_protocol": a.PrivProtocol != "", "priv_password": a.PrivPassword != "",
		} {
			if set {
				l.errorf(f, p+"."+key, "is for version 3; this auth is version 2c")
			}
		}
	case Version3:
		if a.Community != "" {
			l.errorf(f, p+".community", "is for version 2c; this auth is version 3")
		}
		if a.Username == "" {
			l.errorf(f, p+".username", "missing: version 3 needs a username")
		}
		level := canonical(a.SecurityLevel, securityLevels)
		if level == "" {
			l.errorf(f, p+".security_level", "%q is not one of %s", a.SecurityLevel, strings.Join(securityLevels, ", "))
			return
		}
		a.SecurityLevel = level
		if level != "noAuthNoPriv" {
			l.v3Secret(f, p, "auth", &a.AuthProtocol, a.AuthPassword, a.AuthPasswordFile, authProtocols, level)
		}
		if level == "authPriv" {
			l.v3Secret(f, p, "priv", &a.PrivProtocol, a.PrivPassword, a.PrivPasswordFile, privProtocols, level)
		}
	case "":
		l.errorf(f, p+".version", `missing: "2c" or "3"`)
	default:
		l.errorf(f, p+".version", `%q is not "2c" or "3"`, a.Version)
	}
}

// v3Secret checks one protocol/passphrase pair. net-snmp refuses passphrases shorter
// than 8 characters (RFC 3414 §11.2), so a shorter one would fail at every poll.
func (l *loader) v3Secret(f, p, kind string, proto *string, pass Secret, passFile string, allowed []string, level string) {
	if c := canonical(*proto, allowed); c != "" {
		*proto = c
	} else if *proto == "" {
		l.errorf(f, p+"."+kind+"_protocol", "missing: %s needs one of %s", level, strings.Join(allowed, ", "))
	} else {
		l.errorf(f, p+"."+kind+"_protocol", "%q is not one of %s", *proto, strings.Join(allowed, ", "))
	}
	switch {
	case pass == "" && passFile != "":
		// the file could not be read; reported already
	case pass == "":
		l.errorf(f, p, "%s needs %s_password or %s_password_file", level, kind, kind)
	case len(pass.Value()) < 8:
		l.errorf(f, p+"."+kind+"_password", "passphrase is shorter than 8 characters (RFC 3414); agents will reject it")
	}
}

// canonical returns the allowed spelling of s, matched without regard to case.
func canonical(s string, allowed []string) string {
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a
		}
	}
	return ""
}

// uniqueName checks the name key of one of a list of named things (sources,
// resolvers, checks): present, and not used before in seen, which it updates.
func (l *loader) uniqueName(f, p, kind, name string, seen map[string]bool) {
	switch {
	case name == "":
		l.errorf(f, p+".name", "missing")
	case seen[name]:
		l.errorf(f, p+".name", "duplicate %s %q", kind, name)
	}
	seen[name] = true
}

func (l *loader) positive(f, p string, d time.Duration) {
	if d <= 0 {
		l.errorf(f, p, "must be positive, not %s", d)
	}
}

// TargetAddress normalises an SNMP target address to host:port: the port defaults to
// 161, IPv6 literals need brackets only when a port is given ("[2001:db8::1]:161").
func TargetAddress(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("missing")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), DefaultSNMPPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			host, port = s, DefaultSNMPPort
		} else {
			return "", fmt.Errorf("%q is not host:port (IPv6 as [addr]:port)", s)
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return "", fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
	}
	return net.JoinHostPort(host, port), nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// clientTables hold one row per attendee device: their indexes and columns are
// client MAC and IP addresses. A profile may count their rows (aggregate: sum into
// labels read from elsewhere) but never turn them into labels: the attendee privacy
// rule of DESIGN.md, enforced here so that a site's own profile cannot break it.
var clientTables = []struct{ oid, name string }{
	{"1.3.6.1.2.1.3.1", "RFC1213-MIB atTable (ARP)"},
	{"1.3.6.1.2.1.4.22", "IP-MIB ipNetToMediaTable (ARP)"},
	{"1.3.6.1.2.1.4.35", "IP-MIB ipNetToPhysicalTable (ARP and neighbour cache)"},
	{"1.3.6.1.2.1.17.4.3", "BRIDGE-MIB dot1dTpFdbTable (MAC address table)"},
	{"1.3.6.1.2.1.17.7.1.2.2", "Q-BRIDGE-MIB dot1qTpFdbTable (MAC address table)"},
	{"1.3.6.1.4.1.14179.2.1.4", "AIRESPACE-WIRELESS-MIB bsnMobileStationTable (wireless clients)"},
	{"1.3.6.1.4.1.9.9.599.1.3", "CISCO-LWAPP-DOT11-CLIENT-MIB client tables (wireless clients)"},
	{"1.3.6.1.4.1.14823.2.2.1.4.1.2", "WLSX-USER-MIB nUserTable (wireless users)"},
	{"1.3.6.1.4.1.14823.2.2.1.5.2.2", "WLSX-WLAN-MIB station tables (wireless clients)"},
}

// clientTable names the per-client table oid lies in, or "".
func clientTable(oid string) string {
	oid = strings.TrimPrefix(oid, ".")
	for _, t := range clientTables {
		if oid == t.oid || strings.HasPrefix(oid, t.oid+".") {
			return t.name
		}
	}
	return ""
}

// checkPrivacy refuses a table that would export attendee identifiers.
func (l *loader) checkPrivacy(f, tp string, t ProfileTable) {
	fromClients := ""
	for _, m := range t.Metrics {
		for _, oid := range append([]string{m.OID}, m.FallbackOIDs...) {
			if name := clientTable(oid); name != "" {
				fromClients = name
				if m.Aggregate != "sum" {
					l.errorf(f, tp, "metric %s reads %s one row per client: it must aggregate: sum (attendee privacy)", m.Name, name)
				}
			}
		}
	}
	for li, lb := range t.Labels {
		lp := fmt.Sprintf("%s.labels[%d]", tp, li)
		for _, oid := range append([]string{lb.OID}, lb.FallbackOIDs...) {
			if name := clientTable(oid); name != "" {
				l.errorf(f, lp, "label %s would read attendee identifiers from %s (attendee privacy)", lb.Name, name)
			}
		}
		if lb.OID == "" && fromClients != "" {
			l.errorf(f, lp, "label %s would decode the index of %s, i.e. a client's address (attendee privacy)", lb.Name, fromClients)
		}
	}
}

func (l *loader) validateProfiles(cfg *Config) {
	// One metric name means one type and one help across profiles: cisco_wlc and
	// aruba_wlc both export meetnoc_ap_up, and Prometheus needs one family.
	type family struct{ typ, file string }
	families := map[string]family{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Profiles)) {
		p := cfg.Profiles[name]
		f := p.File
		if !labelNameRE.MatchString(p.TargetLabel) {
			l.errorf(f, "target_label", "%q is not a valid label name", p.TargetLabel)
		}
		if len(p.Scalars) == 0 && len(p.Tables) == 0 {
			l.errorf(f, "", "profile %q has neither scalars nor tables", p.Name)
		}
		check := func(mp string, m *ProfileMetric) {
			l.validateMetric(f, mp, m)
			if prev, ok := families[m.Name]; ok && prev.typ != m.Type {
				l.errorf(f, mp+".type", "%s is a %s here but a %s in %s", m.Name, m.Type, prev.typ, prev.file)
			} else if !ok {
				families[m.Name] = family{m.Type, f}
			}
		}
		for i := range p.Scalars {
			check(metricPath("scalars", i, -1), &p.Scalars[i])
		}
		for ti, t := range p.Tables {
			tp := fmt.Sprintf("tables[%d]", ti)
			if len(t.Metrics) == 0 {
				l.errorf(f, tp+".metrics", "a table needs at least one metric")
			}
			l.checkPrivacy(f, tp, t)
			seen := map[string]bool{p.TargetLabel: true}
			for li, lb := range t.Labels {
				lp := fmt.Sprintf("%s.labels[%d]", tp, li)
				switch {
				case !labelNameRE.MatchString(lb.Name):
					l.errorf(f, lp+".name", "%q is not a valid label name", lb.Name)
				case seen[lb.Name]:
					l.errorf(f, lp+".name", "label %q is set twice", lb.Name)
				}
				seen[lb.Name] = true
				l.oids(f, lp, lb.OID, lb.FallbackOIDs, lb.OID == "")
				if lb.Format != "" && !slices.Contains(labelFormats, lb.Format) {
					l.errorf(f, lp+".format", "%q is not one of %s", lb.Format, strings.Join(labelFormats, ", "))
				}
				if lb.IndexPrefix < 0 {
					l.errorf(f, lp+".index_prefix", "must not be negative")
				}
			}
			for mi := range t.Metrics {
				m := &t.Metrics[mi]
				check(metricPath("tables", ti, mi), m)
				for k := range m.Labels {
					if seen[k] {
						l.errorf(f, metricPath("tables", ti, mi)+".labels."+k, "label %q is already a table label", k)
					}
				}
			}
		}
	}
}

func metricPath(section string, i, j int) string {
	if j < 0 {
		return fmt.Sprintf("%s[%d]", section, i)
	}
	return fmt.Sprintf("%s[%d].metrics[%d]", section, i, j)
}

func (l *loader) validateMetric(f, p string, m *ProfileMetric) {
	if !metricNameRE.MatchString(m.Name) {
		l.errorf(f, p+".name", "%q is not a valid metric name", m.Name)
	}
	if m.Help == "" {
		l.errorf(f, p+".help", "missing: say what the metric is and which MIB object it comes from")
	}
	switch m.Type {
	case "counter":
		if !strings.HasSuffix(m.Name, "_total") {
			l.errorf(f, p+".name", "counter %q must end in _total", m.Name)
		}
	case "gauge":
	default:
		l.errorf(f, p+".type", `%q is not "counter" or "gauge"`, m.Type)
	}
	l.oids(f, p, m.OID, m.FallbackOIDs, false)
	if m.Scale == 0 {
		l.errorf(f, p+".scale", "must not be 0")
	}
	if m.Aggregate != "" && m.Aggregate != "sum" {
		l.errorf(f, p+".aggregate", `%q is not "sum"`, m.Aggregate)
	}
	for k := range m.Labels {
		if !labelNameRE.MatchString(k) {
			l.errorf(f, p+".labels."+k, "%q is not a valid label name", k)
		}
	}
}

func (l *loader) oids(f, p, oid string, fallbacks []string, optional bool) {
	if oid == "" && !optional {
		l.errorf(f, p+".oid", "missing")
	} else if oid != "" && !oidRE.MatchString(oid) {
		l.errorf(f, p+".oid", "%q is not a numeric OID (e.g. 1.3.6.1.2.1.31.1.1.1.6)", oid)
	}
	for i, o := range fallbacks {
		if !oidRE.MatchString(o) {
			l.errorf(f, fmt.Sprintf("%s.fallback_oids[%d]", p, i), "%q is not a numeric OID", o)
		}
	}
}

func (l *loader) validateTraffic(cfg *Config) {
	f := cfg.File
	l.positive(f, "traffic.client_window", cfg.Traffic.ClientWindow)
	ssids := map[string]bool{}
	for _, s := range cfg.SSIDs {
		ssids[s.Name] = true
	}
	names := map[string]bool{}
	for i, s := range cfg.Traffic.Sources {
		p := fmt.Sprintf("traffic.sources[%d]", i)
		l.uniqueName(f, p, "source", s.Name, names)
		switch s.Type {
		case "afpacket":
			if s.Interface == "" {
				l.errorf(f, p+".interface", "missing: afpacket captures from an interface")
			}
			// Each worker's ring needs at least a few 1 MiB blocks to ride out a burst.
			if s.RingSize < 4<<20*s.Workers {
				l.errorf(f, p+".ring_size", "%d bytes is less than 4 MiB per worker (%d workers)", s.RingSize, s.Workers)
			}
			if s.Workers < 1 || s.Workers > 64 {
				l.errorf(f, p+".workers", "%d is outside 1–64", s.Workers)
			}
			if s.Snaplen < 128 || s.Snaplen > 65535 {
				l.errorf(f, p+".snaplen", "%d is outside 128–65535 (the classifier needs the headers)", s.Snaplen)
			}
		case "sflow":
			if _, err := netip.ParseAddrPort(s.Listen); err != nil {
				l.errorf(f, p+".listen", "%q is not addr:port (e.g. \"[::]:6343\")", s.Listen)
			}
		case "pcap", "pcap_sflow":
			if s.Path == "" {
				l.errorf(f, p+".path", "missing: the pcap or pcapng file to read")
			}
			// Relative to the config file, as target_files are.
			cfg.Traffic.Sources[i].Path = l.resolve(s.Path)
			if s.Speed != "fast" && s.Speed != "recorded" {
				l.errorf(f, p+".speed", "%q is not one of fast, recorded", s.Speed)
			}
		default:
			l.errorf(f, p+".type", "%q is not one of %s", s.Type, strings.Join(sourceTypes, ", "))
		}
		if s.UntaggedSSID != "" && !ssids[s.UntaggedSSID] {
			l.errorf(f, p+".untagged_ssid", "unknown SSID %q", s.UntaggedSSID)
		}
	}
}

func (l *loader) validateDNS(cfg *Config) {
	f := cfg.File
	l.positive(f, "dns.interval", cfg.DNS.Interval)
	l.positive(f, "dns.timeout", cfg.DNS.Timeout)
	names := map[string]bool{}
	for i, r := range cfg.DNS.Resolvers {
		p := fmt.Sprintf("dns.resolvers[%d]", i)
		l.uniqueName(f, p, "resolver", r.Name, names)
		if _, err := netip.ParseAddrPort(r.Address); err != nil {
			l.errorf(f, p+".address", "%q is not addr:port (IPv6 as [addr]:53)", r.Address)
		}
		if !slices.Contains(transports, r.Transport) {
			l.errorf(f, p+".transport", "%q is not one of %s", r.Transport, strings.Join(transports, ", "))
		}
	}
	ssids := map[string]bool{}
	for _, s := range cfg.SSIDs {
		ssids[s.Name] = true
	}
	for i, r := range cfg.DNS.Resolvers {
		p := fmt.Sprintf("dns.resolvers[%d]", i)
		if r.SSID != "" && !ssids[r.SSID] {
			l.errorf(f, p+".ssid", "unknown SSID %q", r.SSID)
		}
		if r.TLSServerName != "" && r.Transport != "tls" {
			l.errorf(f, p+".tls_server_name", "only for transport tls, not %s", r.Transport)
		}
		if ap, err := netip.ParseAddrPort(r.Address); err == nil && r.SourceAddress.IsValid() && ap.Addr().Unmap().Is4() != r.SourceAddress.Unmap().Is4() {
			l.errorf(f, p+".source_address", "%s and the resolver %s are of different address families", r.SourceAddress, ap.Addr())
		}
	}
	checks := map[string]bool{}
	for i, c := range cfg.DNS.Checks {
		p := fmt.Sprintf("dns.checks[%d]", i)
		l.uniqueName(f, p, "check", c.Name, checks)
		if c.Query == "" {
			l.errorf(f, p+".query", "missing")
		}
		if !slices.Contains(queryTypes, c.Type) {
			l.errorf(f, p+".type", "%q is not one of %s", c.Type, strings.Join(queryTypes, ", "))
		}
		if c.DNS64 && c.Type != "AAAA" {
			l.errorf(f, p+".dns64", "a DNS64 check asks for AAAA, not %s", c.Type)
		}
		if c.DNS64 && c.NotSynthesized {
			l.errorf(f, p+".not_synthesized", "a check cannot require synthesis (dns64) and forbid it")
		}
		if c.NotSynthesized && c.Type != "AAAA" {
			l.errorf(f, p+".not_synthesized", "only AAAA answers are synthesized, not %s", c.Type)
		}
		if (c.DNS64 || c.NotSynthesized) && len(cfg.NAT64Prefixes) == 0 {
			l.errorf(f, p, "needs nat64_prefixes to tell synthesized answers")
		}
		if !slices.Contains(rcodes, c.Rcode) {
			l.errorf(f, p+".rcode", "%q is not one of %s", c.Rcode, strings.Join(rcodes, ", "))
		}
		if c.MinAnswers != nil && *c.MinAnswers < 0 {
			l.errorf(f, p+".min_answers", "must not be negative")
		}
		if c.AnswerMatches != "" {
			if _, err := regexp.Compile(c.AnswerMatches); err != nil {
				l.errorf(f, p+".answer_matches", "%v", err)
			}
		}
		for j, name := range c.Resolvers {
			if !slices.ContainsFunc(cfg.DNS.Resolvers, func(r Resolver) bool { return r.Name == name }) {
				l.errorf(f, fmt.Sprintf("%s.resolvers[%d]", p, j), "unknown resolver %q", name)
			}
		}
	}
}

func (l *loader) validateNAT64Probes(cfg *Config) {
	f := cfg.File
	n := &cfg.NAT64Probes
	if len(n.Targets) == 0 {
		return
	}
	l.positive(f, "nat64_probes.interval", n.Interval)
	l.positive(f, "nat64_probes.timeout", n.Timeout)
	if n.Timeout >= n.Interval && n.Interval > 0 {
		l.errorf(f, "nat64_probes.timeout", "%s is not shorter than the interval %s", n.Timeout, n.Interval)
	}
	names := map[string]bool{}
	for i, t := range n.Targets {
		p := fmt.Sprintf("nat64_probes.targets[%d]", i)
		l.uniqueName(f, p, "target", t.Name, names)
		if ap, err := netip.ParseAddrPort(t.Address); err != nil || !ap.Addr().Unmap().Is4() {
			l.errorf(f, p+".address", "%q is not an IPv4 addr:port (the destination behind the NAT64)", t.Address)
		}
		if !t.Prefix.IsValid() {
			l.errorf(f, p+".prefix", "missing, and no nat64_prefixes to default to")
		} else if !t.Prefix.Addr().Is6() || t.Prefix.Addr().Is4In6() || !slices.Contains([]int{32, 40, 48, 56, 64, 96}, t.Prefix.Bits()) {
			l.errorf(f, p+".prefix", "%s is not an RFC 6052 NAT64 prefix (IPv6, length 32, 40, 48, 56, 64 or 96)", t.Prefix)
		}
		if t.SourceAddress.IsValid() && !t.SourceAddress.Is6() {
			l.errorf(f, p+".source_address", "%s is not an IPv6 address (the probe through NAT64 is IPv6)", t.SourceAddress)
		}
		if t.Netns != "" {
			if err := netns.CheckName(t.Netns); err != nil {
				l.errorf(f, p+".netns", "%v", err)
			}
		}
	}
}
