// Package config is meetnoc's configuration: the YAML schema, its defaults, strict
// decoding with file:line errors, validation, secrets read from files, and the SNMP
// device profiles (embedded and user-supplied).
package config

import (
	"net/netip"
	"time"
)

// Config is one whole, validated configuration. It is immutable once Load returns:
// components keep a pointer to it, and a reload swaps in a new one.
type Config struct {
	Meeting       Meeting        `yaml:"meeting"`
	SSIDs         []SSID         `yaml:"ssids"`
	NAT64Prefixes []netip.Prefix `yaml:"nat64_prefixes"`
	SNMP          SNMP           `yaml:"snmp"`
	Traffic       Traffic        `yaml:"traffic"`
	DNS           DNS            `yaml:"dns"`
	Netlink       Netlink        `yaml:"netlink"`
	NAT64Probes   NAT64Probes    `yaml:"nat64_probes"`

	// Profiles holds every profile by name: the embedded ones, then profile_files
	// (a user's profile of the same name replaces the embedded one).
	Profiles map[string]*Profile `yaml:"-"`
	// File is the path the config was loaded from.
	File string `yaml:"-"`
}

// Meeting names the event; it appears on the status page and in the report.
type Meeting struct {
	Name string `yaml:"name"`
}

// SSID maps VLANs and client prefixes to a wireless network name.
type SSID struct {
	Name           string         `yaml:"name"`
	VLANs          []uint16       `yaml:"vlans"`
	ClientPrefixes []netip.Prefix `yaml:"client_prefixes"`
	// Routers are the allowed Router Advertisement senders: IPv6 addresses or MACs.
	Routers []string `yaml:"routers"`
	// DHCPServers are the allowed DHCPv4 servers.
	DHCPServers []netip.Addr `yaml:"dhcp_servers"`
}

// SNMP is the SNMP poller's configuration. Interval, Timeout, Retries and
// MaxRepetitions are defaults that a target may override.
type SNMP struct {
	Interval       time.Duration `yaml:"interval"`        // default 30s
	Timeout        time.Duration `yaml:"timeout"`         // per request; default 5s
	Retries        int           `yaml:"retries"`         // default 1
	MaxRepetitions uint32        `yaml:"max_repetitions"` // default 25
	MaxConcurrency int           `yaml:"max_concurrency"` // polls in flight at once; default 64
	// Jitter spreads each target's polls by up to this fraction of its interval
	// (0 to 0.5) so that targets added together do not poll in lock-step. Default 0.1.
	Jitter float64 `yaml:"jitter"`
	// APMissingHold: an AP that vanishes from its controller's table while the
	// controller answers (AireOS drops dead APs) is exported with meetnoc_ap_up 0
	// for this long. Default 1h.
	APMissingHold time.Duration `yaml:"ap_missing_hold"`

	Auths        map[string]*Auth `yaml:"auths"`
	Targets      []*Target        `yaml:"targets"`
	TargetFiles  []string         `yaml:"target_files"`  // globs; each file is a YAML list of targets
	ProfileFiles []string         `yaml:"profile_files"` // globs; each file is one profile
}

// SNMP versions.
const (
	Version2c = "2c"
	Version3  = "3"
)

// Auth is a named set of SNMP credentials. Secrets come inline or from *_file;
// Load reads the files, so the Secret fields always hold the value in use.
type Auth struct {
	Version string `yaml:"version"` // "2c" or "3"

	Community     Secret `yaml:"community"`
	CommunityFile string `yaml:"community_file"`

	Username         string `yaml:"username"`
	SecurityLevel    string `yaml:"security_level"` // noAuthNoPriv, authNoPriv, authPriv
	AuthProtocol     string `yaml:"auth_protocol"`  // MD5, SHA, SHA224, SHA256, SHA384, SHA512
	AuthPassword     Secret `yaml:"auth_password"`
	AuthPasswordFile string `yaml:"auth_password_file"`
	PrivProtocol     string `yaml:"priv_protocol"` // DES, AES (=AES128), AES192, AES256, AES192C, AES256C
	PrivPassword     Secret `yaml:"priv_password"`
	PrivPasswordFile string `yaml:"priv_password_file"`
	ContextName      string `yaml:"context_name"`
}

// Target is one SNMP agent to poll.
type Target struct {
	Name     string            `yaml:"name"`
	Address  string            `yaml:"address"` // host:port; IPv6 as [addr]:port; port defaults to 161
	Auth     string            `yaml:"auth"`
	Profiles []string          `yaml:"profiles"`
	Labels   map[string]string `yaml:"labels"`

	// Overrides of the snmp-wide defaults; zero means "use the default".
	Interval       time.Duration `yaml:"interval"`
	Timeout        time.Duration `yaml:"timeout"`
	Retries        *int          `yaml:"retries"`
	MaxRepetitions uint32        `yaml:"max_repetitions"`
	// UseGetNext walks with GETNEXT instead of GETBULK, for agents whose GETBULK is
	// broken. The poller also falls back on its own when GETBULK fails.
	UseGetNext bool `yaml:"use_getnext"`

	// Where the target was written, for errors: the config or a target file.
	file, path string
}

// Source is the file and key path the target was defined at, e.g.
// ("/etc/meetnoc/targets.d/hall-a.yml", "[3]").
func (t *Target) Source() (file, path string) { return t.file, t.path }

// Traffic configures the capture sources (see DESIGN.md, issue 3).
type Traffic struct {
	Sources      []TrafficSource `yaml:"sources"`
	ClientWindow time.Duration   `yaml:"client_window"` // default 5m
}

// TrafficSource is one capture source: afpacket (a mirror port), sflow (a
// listener for switches' exports), pcap (a capture file of frames) or pcap_sflow
// (a capture file of sFlow export traffic, replayed as the listener would take it).
type TrafficSource struct {
	Name      string         `yaml:"name"`
	Type      string         `yaml:"type"`
	Interface string         `yaml:"interface"` // afpacket
	Listen    string         `yaml:"listen"`    // sflow
	Agents    []netip.Prefix `yaml:"agents"`    // sflow: accepted exporters
	Path      string         `yaml:"path"`      // pcap
	// UntaggedSSID names the SSID of frames that carry no VLAN tag.
	UntaggedSSID string `yaml:"untagged_ssid"`

	// afpacket: RingSize is the TPACKET_V3 ring memory in bytes, shared by the
	// workers (default 64 MiB); Workers the PACKET_FANOUT members, each with its
	// own ring and goroutine (default min(4, CPUs)); Sampling keeps 1 in N frames
	// in the kernel and weights them by N (default 1: every frame); Snaplen the
	// bytes kept of each frame (default 2048: a DHCP OFFER's options fit).
	RingSize int    `yaml:"ring_size"`
	Workers  int    `yaml:"workers"`
	Sampling uint32 `yaml:"sampling"`
	Snaplen  int    `yaml:"snaplen"`
	// pcap: Speed is "fast" (default: as fast as the file reads) or "recorded"
	// (the capture's own inter-packet gaps, for demos and soak tests).
	Speed string `yaml:"speed"`
}

// DNS configures the DNS and DNS64 probes (issue 4).
type DNS struct {
	Interval  time.Duration `yaml:"interval"` // default 15s
	Timeout   time.Duration `yaml:"timeout"`  // default 2s
	Resolvers []Resolver    `yaml:"resolvers"`
	Checks    []DNSCheck    `yaml:"checks"`
}

// Resolver is a DNS resolver to probe.
type Resolver struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// Transport is udp (default; a truncated answer is asked again over TCP),
	// tcp, or tls (DNS over TLS, RFC 7858; Address usually on port 853).
	Transport string `yaml:"transport"`
	// TLSServerName is the name the resolver's certificate must carry (tls);
	// default the address's host.
	TLSServerName string `yaml:"tls_server_name"`
	// SourceAddress and Interface bind the probe's socket, so that it leaves
	// through an SSID's VLAN as the clients' queries do.
	SourceAddress netip.Addr `yaml:"source_address"`
	Interface     string     `yaml:"interface"`
	// SSID names the SSID whose path this resolver is probed through; it is a
	// label of the resolver's metrics (meetnoc_dns_resolver_info).
	SSID string `yaml:"ssid"`
}

// DNSCheck is one query sent to every resolver (or to Resolvers).
type DNSCheck struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
	Type  string `yaml:"type"` // A, AAAA, …
	// DNS64: the AAAA answer must be synthesized from an A record inside one of
	// nat64_prefixes; for ipv4only.arpa the prefix is found as RFC 7050 does.
	DNS64 bool `yaml:"dns64"`
	// NotSynthesized: no AAAA answer may lie inside nat64_prefixes (a dual-stack
	// name must get its own AAAA, not a synthesized one).
	NotSynthesized bool `yaml:"not_synthesized"`
	// Rcode is the expected response code; default NOERROR.
	Rcode string `yaml:"rcode"`
	// MinAnswers is the fewest answer records of the asked type; default 1 when
	// Rcode is NOERROR, else 0.
	MinAnswers *int `yaml:"min_answers"`
	// AnswersIn: every A/AAAA answer must lie inside one of these prefixes;
	// AnswersNotIn: none may.
	AnswersIn    []netip.Prefix `yaml:"answers_in"`
	AnswersNotIn []netip.Prefix `yaml:"answers_not_in"`
	// AnswerMatches is a regular expression that at least one answer record,
	// in its zone-file text form, must match.
	AnswerMatches string `yaml:"answer_matches"`
	// AD: the answer must carry the Authenticated Data bit (the resolver
	// validates DNSSEC); the query sets the AD and DO bits.
	AD bool `yaml:"ad"`
	// Resolvers limits the check to these resolvers; default all of them.
	Resolvers []string `yaml:"resolvers"`
}

// NAT64Probes configures the NAT64 data-plane probe (issue 4): each target is
// reached through the NAT64 prefix and directly over IPv4, so that a broken
// NAT64 is told apart from a broken destination.
type NAT64Probes struct {
	Interval time.Duration `yaml:"interval"` // default 15s
	Timeout  time.Duration `yaml:"timeout"`  // default 2s
	Targets  []NAT64Target `yaml:"targets"`
}

// NAT64Target is one IPv4 destination probed through NAT64.
type NAT64Target struct {
	Name string `yaml:"name"`
	// Address is the IPv4 destination, addr:port for TCP connect.
	Address string `yaml:"address"`
	// Prefix is the NAT64 prefix to reach it through; default the first of
	// nat64_prefixes.
	Prefix netip.Prefix `yaml:"prefix"`
	// ICMP also sends ICMPv6 / ICMP echo (needs CAP_NET_RAW or the
	// net.ipv4.ping_group_range sysctl).
	ICMP bool `yaml:"icmp"`
	// SourceAddress binds the IPv6 probe, e.g. to an address in the IPv6-only SSID.
	SourceAddress netip.Addr `yaml:"source_address"`
	// Netns makes both probes' sockets inside this network namespace (a name
	// from `ip netns`, or an absolute path), for a probe host that keeps each
	// SSID's leg in a namespace of its own. Needs CAP_SYS_ADMIN.
	Netns string `yaml:"netns"`
}

// Netlink configures the host's own view (issue 4).
type Netlink struct {
	Interfaces []string `yaml:"interfaces"`
}
