package traffic

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
)

// This file counts the rare frames the header walk hands over for a deeper
// look — DHCPv4 and Router Advertisements — into per-worker Events, and exports
// them as DESIGN.md's meetnoc_dhcp_* and meetnoc_router_advertisements_total.

// PREF64 verdicts of a Router Advertisement, in label order.
const (
	pref64Match    = iota // a PREF64 option equals a configured NAT64 prefix
	pref64Mismatch        // PREF64 options, none of them a configured NAT64 prefix
	pref64Absent          // no PREF64 option
	numPref64
)

var (
	pref64Labels = [numPref64]string{pref64Match: "match", pref64Mismatch: "mismatch", pref64Absent: "absent"}
	boolLabels   = [2]string{"false", "true"}
)

// ssidEvents are one SSID's counts. Every count is in frames × sampling weight.
type ssidEvents struct {
	discovers    uint64
	discovers108 uint64       // DISCOVERs whose Parameter Request List holds 108
	offers       [2][2]uint64 // [allowed][ipv6Only]
	ras          [2][numPref64]uint64
}

// Events are one worker's DHCP and RA counts per SSID index. Like Counters they
// are plain integers written by one goroutine and summed at scrape time.
type Events struct {
	ssids []ssidEvents
}

// newEvents returns zeroed Events for nSSID SSID indexes (unknown included).
func newEvents(nSSID int) *Events { return &Events{ssids: make([]ssidEvents, nSSID)} }

// Add adds o's counts to e. Both must have the same number of SSIDs, and o
// must not be written to while Add runs.
func (e *Events) Add(o *Events) {
	for s := range min(len(e.ssids), len(o.ssids)) {
		d, x := &e.ssids[s], &o.ssids[s]
		d.discovers += x.discovers
		d.discovers108 += x.discovers108
		for a := range x.offers {
			for v := range x.offers[a] {
				d.offers[a][v] += x.offers[a][v]
			}
			for p := range x.ras[a] {
				d.ras[a][p] += x.ras[a][p]
			}
		}
	}
}

// CopyFrom overwrites e with o's counts without allocating.
func (e *Events) CopyFrom(o *Events) { copy(e.ssids, o.ssids) }

// Reset zeroes all counts.
func (e *Events) Reset() { clear(e.ssids) }

var (
	dhcpDiscoversDesc = prometheus.NewDesc("meetnoc_dhcp_discovers_total",
		"DHCPv4 DISCOVERs seen, by SSID, times the sampling rate.",
		[]string{"ssid"}, nil)
	dhcpIPv6OnlyPreferredDesc = prometheus.NewDesc("meetnoc_dhcp_ipv6_only_preferred_total",
		"DHCPv4 DISCOVERs whose parameter request list asks for option 108 (IPv6-Only Preferred, RFC 8925), by SSID, times the sampling rate.",
		[]string{"ssid"}, nil)
	dhcpOffersDesc = prometheus.NewDesc("meetnoc_dhcp_offers_total",
		"DHCPv4 OFFERs seen, by SSID, whether the server is an allowed one, and whether the OFFER carries option 108 (ipv6_only), times the sampling rate.",
		[]string{"ssid", "allowed", "ipv6_only"}, nil)
	routerAdvertisementsDesc = prometheus.NewDesc("meetnoc_router_advertisements_total",
		"ICMPv6 Router Advertisements seen, by SSID, whether the sender is an allowed router, and whether a PREF64 option (RFC 8781) matches a configured NAT64 prefix, times the sampling rate.",
		[]string{"ssid", "allowed", "pref64"}, nil)
)

// describeEvents sends the descriptors collectEvents uses.
func describeEvents(ch chan<- *prometheus.Desc) {
	ch <- dhcpDiscoversDesc
	ch <- dhcpIPv6OnlyPreferredDesc
	ch <- dhcpOffersDesc
	ch <- routerAdvertisementsDesc
}

// collectEvents exports ev, every SSID × label combination, zeros included, so
// that rate() and absence-free alerts work from the first scrape. ssidNames is
// the Classifier's SSIDNames (index 0 is "unknown").
func collectEvents(ch chan<- prometheus.Metric, ssidNames []string, ev *Events) {
	for s := range min(len(ssidNames), len(ev.ssids)) {
		e, name := &ev.ssids[s], ssidNames[s]
		ch <- prometheus.MustNewConstMetric(dhcpDiscoversDesc, prometheus.CounterValue, float64(e.discovers), name)
		ch <- prometheus.MustNewConstMetric(dhcpIPv6OnlyPreferredDesc, prometheus.CounterValue, float64(e.discovers108), name)
		for a := range e.offers {
			for v, n := range e.offers[a] {
				ch <- prometheus.MustNewConstMetric(dhcpOffersDesc, prometheus.CounterValue, float64(n), name, boolLabels[a], boolLabels[v])
			}
			for p, n := range e.ras[a] {
				ch <- prometheus.MustNewConstMetric(routerAdvertisementsDesc, prometheus.CounterValue, float64(n), name, boolLabels[a], pref64Labels[p])
			}
		}
	}
}

// ssidPolicy is what one SSID allows. A nil list allows every sender: an SSID
// without routers (dhcp_servers) configured has no notion of a rogue router
// (DHCP server), so all its RAs (OFFERs) count as allowed and none is logged.
type ssidPolicy struct {
	routerAddrs [][16]byte
	routerMACs  [][6]byte
	dhcpServers [][4]byte
}

func (p *ssidPolicy) routerAllowed(m *raMessage) bool {
	if p.routerAddrs == nil && p.routerMACs == nil {
		return true
	}
	for _, a := range p.routerAddrs {
		if a == m.srcIP {
			return true
		}
	}
	for _, mac := range p.routerMACs {
		if mac == m.srcMAC || (m.hasSLLA && mac == m.slla) {
			return true
		}
	}
	return false
}

func (p *ssidPolicy) dhcpServerAllowed(m *dhcpMessage) bool {
	if p.dhcpServers == nil {
		return true
	}
	for _, a := range p.dhcpServers {
		// The server identifier names the server even when a relay forwards the
		// OFFER; the IP source covers servers on the link that omit option 54.
		if a == m.srcIP || (m.hasServerID && a == m.serverID) {
			return true
		}
	}
	return false
}

// payloadDecoder decodes the frames the header walk flags (Result.Payload) and
// counts them into a worker's Events. It is immutable after construction and
// shared by all workers of one config; the rogue limiter it logs through is
// shared too, behind a mutex taken only for rogue frames.
type payloadDecoder struct {
	logger *slog.Logger
	rogue  *rogueLimiter
	// ssidNames and policies are indexed like the Classifier's SSIDs: 0 is
	// unknown (no policy: everything allowed), then cfg.SSIDs in order.
	ssidNames []string
	policies  []ssidPolicy
	nat64     []raPrefix
}

// newPayloadDecoder builds the per-SSID allow lists from cfg. Routers are IPv6
// addresses (a zone, as in fe80::1%eth0, is ignored) or EUI-48 MAC addresses;
// dhcp_servers must be IPv4. rogue may be shared by several decoders (one per
// config generation); nil disables rogue logging.
func newPayloadDecoder(cfg *config.Config, logger *slog.Logger, rogue *rogueLimiter) (*payloadDecoder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &payloadDecoder{
		logger:    logger,
		rogue:     rogue,
		ssidNames: make([]string, 1, len(cfg.SSIDs)+1),
		policies:  make([]ssidPolicy, 1, len(cfg.SSIDs)+1),
	}
	d.ssidNames[0] = UnknownSSID
	for _, s := range cfg.SSIDs {
		var p ssidPolicy
		for j, r := range s.Routers {
			if a, err := netip.ParseAddr(r); err == nil {
				if !a.Is6() || a.Is4In6() {
					return nil, fmt.Errorf("SSID %q: routers[%d]: %s is not an IPv6 address (Router Advertisements come from IPv6 link-local addresses)", s.Name, j, r)
				}
				p.routerAddrs = append(p.routerAddrs, a.WithZone("").As16())
				continue
			}
			mac, err := net.ParseMAC(r)
			if err != nil || len(mac) != 6 {
				return nil, fmt.Errorf("SSID %q: routers[%d]: %q is neither an IPv6 address nor an Ethernet MAC address", s.Name, j, r)
			}
			p.routerMACs = append(p.routerMACs, [6]byte(mac))
		}
		for j, a := range s.DHCPServers {
			a = a.Unmap()
			if !a.Is4() {
				return nil, fmt.Errorf("SSID %q: dhcp_servers[%d]: %s is not an IPv4 address", s.Name, j, a)
			}
			p.dhcpServers = append(p.dhcpServers, a.As4())
		}
		d.ssidNames = append(d.ssidNames, s.Name)
		d.policies = append(d.policies, p)
	}
	for _, p := range cfg.NAT64Prefixes {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return nil, fmt.Errorf("NAT64 prefix %v is not an IPv6 prefix", p)
		}
		p = p.Masked()
		d.nat64 = append(d.nat64, raPrefix{addr: p.Addr().As16(), bits: uint8(p.Bits())})
	}
	return d, nil
}

// observe decodes a frame the header walk flagged (r.Payload != PayloadNone)
// and counts it into ev, adding weight (the sampling rate). It allocates
// nothing unless the frame comes from a rogue server or router, which is
// logged (rogue.go).
func (d *payloadDecoder) observe(frame []byte, r Result, weight uint64, ev *Events) {
	if r.SSID < 0 || r.SSID >= len(d.policies) || r.SSID >= len(ev.ssids) {
		return
	}
	e, p := &ev.ssids[r.SSID], &d.policies[r.SSID]
	switch r.Payload {
	case PayloadDHCPv4:
		var m dhcpMessage
		if !decodeDHCPv4(frame, r, &m) {
			return
		}
		switch m.msgType {
		case dhcpDiscover:
			e.discovers += weight
			if m.requests108 {
				e.discovers108 += weight
			}
		case dhcpOffer:
			allowed := p.dhcpServerAllowed(&m)
			e.offers[b2i(allowed)][b2i(m.has108)] += weight
			if !allowed {
				d.rogueOffer(r, &m)
			}
		}
	case PayloadRouterAdvertisement:
		var m raMessage
		if !decodeRA(frame, r, &m) {
			return
		}
		allowed := p.routerAllowed(&m)
		e.ras[b2i(allowed)][d.pref64Verdict(&m)] += weight
		if !allowed {
			d.rogueRA(r, &m)
		}
	}
}

// pref64Verdict compares the RA's PREF64 options with the configured NAT64
// prefixes: prefix and length must both be equal. An invalid PREF64 option (bad
// length or PLC) matches nothing, so an RA holding only such options is a
// mismatch: clients ignore it, and the NOC should hear that the router is wrong.
func (d *payloadDecoder) pref64Verdict(m *raMessage) int {
	if m.nPref64 == 0 {
		return pref64Absent
	}
	for i := range m.nPref64 {
		o := &m.pref64[i]
		if !o.valid {
			continue
		}
		for _, n := range d.nat64 {
			if o.prefix == n {
				return pref64Match
			}
		}
	}
	return pref64Mismatch
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
