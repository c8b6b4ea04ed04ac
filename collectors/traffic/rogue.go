package traffic

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// This file logs rogue DHCP servers and routers: an OFFER from a server, or an
// RA from a router, that the SSID's dhcp_servers / routers do not list.
//
// Privacy: these warnings are the one documented exception to DESIGN.md's rule
// that no MAC or address appears in logs. They name the rogue *sender* — its
// Ethernet source MAC, VLAN, and the server address or router address and
// prefixes it announces — so that the NOC can walk to the device. Nothing of the
// clients is logged: not the OFFER's chaddr or yiaddr, not the destination of
// a unicast RA, and DISCOVERs never.

// rogueKind is what a rogue sender sent.
type rogueKind uint8

const (
	rogueDHCP rogueKind = iota
	rogueRA
	numRogueKinds
)

var rogueKindLabels = [numRogueKinds]string{rogueDHCP: "dhcp", rogueRA: "ra"}

// Rate limits: a rogue router sends an RA every few seconds (a flood tool many
// thousands per second, each from a new random MAC), and the log must stay
// readable in both cases.
const (
	// rogueLogEvery: after its first warning, a sender is logged at most this
	// often, with the number of sightings suppressed in between.
	rogueLogEvery = time.Minute
	// maxRogueSenders bounds the senders remembered; the oldest is forgotten
	// first (and logged again at once if it comes back).
	maxRogueSenders = 1024
	// maxRogueLogsPerMinute bounds the warnings of all senders together; the
	// sightings dropped over it are reported in the next warning that is logged.
	maxRogueLogsPerMinute = 60
)

type rogueKey struct {
	kind rogueKind
	mac  [6]byte
	vlan uint16
}

type rogueSender struct {
	lastLog    time.Time
	suppressed uint64
}

// rogueLimiter decides which rogue sightings are logged, and remembers when a
// rogue was last seen per SSID for meetnoc_rogue_last_seen_timestamp_seconds.
// It is shared by all workers and config generations; its mutex is taken only
// for rogue frames, never on the common path.
type rogueLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	senders map[rogueKey]*rogueSender
	order   [maxRogueSenders]rogueKey // ring of keys in insertion order, for eviction
	next    int                       // ring slot of the next insertion

	windowStart  time.Time // of the global per-minute budget
	windowLogs   int
	overBudget   uint64 // sightings not logged because the budget was spent
	lastSeen     map[string]*[numRogueKinds]time.Time
	lastSeenKeys []string // ssid names in first-seen order, for a stable export
}

// newRogueLimiter returns a limiter that reads the time from now (time.Now when
// nil).
func newRogueLimiter(now func() time.Time) *rogueLimiter {
	if now == nil {
		now = time.Now
	}
	return &rogueLimiter{
		now:      now,
		senders:  make(map[rogueKey]*rogueSender),
		lastSeen: make(map[string]*[numRogueKinds]time.Time),
	}
}

// sighting records one frame of a rogue sender. It reports whether to log it
// now and, if so, how many sightings of this sender were suppressed since its
// last warning and how many of all senders were dropped over the global budget.
func (l *rogueLimiter) sighting(k rogueKey, ssid string) (log bool, suppressed, overBudget uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	seen := l.lastSeen[ssid]
	if seen == nil {
		seen = new([numRogueKinds]time.Time)
		l.lastSeen[ssid] = seen
		l.lastSeenKeys = append(l.lastSeenKeys, ssid)
	}
	seen[k.kind] = now

	s := l.senders[k]
	if s == nil {
		if len(l.senders) == maxRogueSenders {
			delete(l.senders, l.order[l.next])
		}
		l.order[l.next] = k
		l.next = (l.next + 1) % maxRogueSenders
		s = &rogueSender{}
		l.senders[k] = s
	} else if now.Sub(s.lastLog) < rogueLogEvery {
		s.suppressed++
		return false, 0, 0
	}
	if now.Sub(l.windowStart) >= time.Minute {
		l.windowStart, l.windowLogs = now, 0
	}
	if l.windowLogs == maxRogueLogsPerMinute {
		// Not logged: the sender stays due, so its next sighting is logged
		// once the budget allows, with this one counted.
		s.suppressed++
		l.overBudget++
		return false, 0, 0
	}
	l.windowLogs++
	suppressed, overBudget = s.suppressed, l.overBudget
	s.lastLog, s.suppressed, l.overBudget = now, 0, 0
	return true, suppressed, overBudget
}

var rogueLastSeenDesc = prometheus.NewDesc("meetnoc_rogue_last_seen_timestamp_seconds",
	"When a DHCPv4 OFFER from a server not in the SSID's dhcp_servers (kind=dhcp), or a Router Advertisement from a router not in its routers (kind=ra), was last seen, in seconds since the epoch. Absent until one is seen; the sender is named in the warning log.",
	[]string{"ssid", "kind"}, nil)

// Describe implements prometheus.Collector.
func (l *rogueLimiter) Describe(ch chan<- *prometheus.Desc) { ch <- rogueLastSeenDesc }

// Collect implements prometheus.Collector: one series per SSID and kind that a
// rogue was seen in. Only the SSID and kind are labels, never the sender.
func (l *rogueLimiter) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ssid := range l.lastSeenKeys {
		for k, t := range l.lastSeen[ssid] {
			if !t.IsZero() {
				ch <- prometheus.MustNewConstMetric(rogueLastSeenDesc, prometheus.GaugeValue,
					float64(t.UnixNano())/1e9, ssid, rogueKindLabels[k])
			}
		}
	}
}

// rogueSighting counts a rogue sender's frame and, when the rate limit lets it
// through, returns the attributes every rogue warning starts with.
func (d *payloadDecoder) rogueSighting(kind rogueKind, r Result, mac [6]byte, source netip.Addr) ([]slog.Attr, uint64, uint64, bool) {
	if d.rogue == nil {
		return nil, 0, 0, false
	}
	ssid := d.ssidNames[r.SSID]
	log, suppressed, overBudget := d.rogue.sighting(rogueKey{kind: kind, mac: mac, vlan: r.VLAN}, ssid)
	if !log {
		return nil, 0, 0, false
	}
	return []slog.Attr{
		slog.String("ssid", ssid),
		slog.Int("vlan", int(r.VLAN)),
		slog.String("mac", net.HardwareAddr(mac[:]).String()),
		// Not "source": promslog keeps that key for the caller's file and line.
		slog.String("address", source.String()),
	}, suppressed, overBudget, true
}

// rogueOffer logs an OFFER from a server the SSID does not allow.
func (d *payloadDecoder) rogueOffer(r Result, m *dhcpMessage) {
	attrs, suppressed, overBudget, ok := d.rogueSighting(rogueDHCP, r, m.srcMAC, netip.AddrFrom4(m.srcIP))
	if !ok {
		return
	}
	if m.hasServerID {
		attrs = append(attrs, slog.String("server_id", netip.AddrFrom4(m.serverID).String()))
	}
	attrs = append(attrs, slog.Bool("ipv6_only", m.has108))
	attrs = appendSuppressed(attrs, suppressed, overBudget)
	d.logger.LogAttrs(context.Background(), slog.LevelWarn, "rogue DHCP server: OFFER from a server not in the SSID's dhcp_servers", attrs...)
}

// rogueRA logs a Router Advertisement from a router the SSID does not allow.
func (d *payloadDecoder) rogueRA(r Result, m *raMessage) {
	attrs, suppressed, overBudget, ok := d.rogueSighting(rogueRA, r, m.srcMAC, netip.AddrFrom16(m.srcIP))
	if !ok {
		return
	}
	if m.hasSLLA && m.slla != m.srcMAC {
		attrs = append(attrs, slog.String("slla", net.HardwareAddr(m.slla[:]).String()))
	}
	if m.hopLimit != 255 {
		// Hosts ignore it (RFC 4861 §6.1.2): it was routed, not sent on this link.
		attrs = append(attrs, slog.Int("hop_limit", int(m.hopLimit)))
	}
	attrs = append(attrs,
		slog.Int("router_lifetime", int(m.routerLifetime)),
		slog.String("prefixes", joinPrefixes(m.prefixes[:m.nPrefixes], m.morePrefixes)),
	)
	var pref64 strings.Builder
	for i, o := range m.pref64[:m.nPref64] {
		if i > 0 {
			pref64.WriteByte(',')
		}
		if o.valid {
			pref64.WriteString(o.prefix.String())
		} else {
			pref64.WriteString("invalid(plc=" + strconv.Itoa(int(o.plc)) + ")")
		}
	}
	if m.morePref64 > 0 {
		pref64.WriteString(",+" + strconv.Itoa(m.morePref64) + " more")
	}
	attrs = append(attrs, slog.String("pref64", pref64.String()))
	attrs = appendSuppressed(attrs, suppressed, overBudget)
	d.logger.LogAttrs(context.Background(), slog.LevelWarn, "rogue router: Router Advertisement from a router not in the SSID's routers", attrs...)
}

func appendSuppressed(attrs []slog.Attr, suppressed, overBudget uint64) []slog.Attr {
	if suppressed > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", suppressed))
	}
	if overBudget > 0 {
		// Sightings of any sender dropped by the global limit since the last warning.
		attrs = append(attrs, slog.Uint64("suppressed_all_senders", overBudget))
	}
	return attrs
}

func joinPrefixes(ps []raPrefix, more int) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	}
	if more > 0 {
		b.WriteString(",+" + strconv.Itoa(more) + " more")
	}
	return b.String()
}

// String formats p as an IPv6 prefix, e.g. 64:ff9b::/96.
func (p raPrefix) String() string {
	return netip.PrefixFrom(netip.AddrFrom16(p.addr), int(p.bits)).String()
}
