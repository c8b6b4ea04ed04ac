package packetgen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
)

// Labels of what a generated frame is, as the classifier names them
// (DESIGN.md, "Classification rules (traffic)").
const (
	FamilyIPv4  = "ipv4"
	FamilyIPv6  = "ipv6"
	FamilyNAT64 = "nat64"
	FamilyOther = "other"

	DirectionUp    = "up"
	DirectionDown  = "down"
	DirectionOther = "other"
)

// Kind says what a generated frame is.
type Kind uint8

// Kinds of generated frames.
const (
	KindData Kind = iota
	KindARP
	KindDHCPDiscover
	KindDHCPOffer
	KindRouterAdvertisement
	KindRogueRouterAdvertisement
)

// SSIDMix is one SSID's share of the meeting traffic.
type SSIDMix struct {
	Name string
	VLAN uint16
	// ClientPrefix4 and ClientPrefix6 hold the clients' addresses. IPv6
	// clients get addresses in ClientPrefix6 (at most /64 long), IPv4
	// clients in ClientPrefix4 from its 11th address on.
	ClientPrefix4, ClientPrefix6 netip.Prefix
	// IPv6, NAT64 and IPv4 are the shares of data frames of each family (they
	// need not add up to 1: they are weights). NAT64 frames go between a
	// client and an IPv4 server through Mix.NAT64Prefix.
	IPv6, NAT64, IPv4 float64
	// Up is the share of data frames sent by clients; the rest go to them.
	Up float64
	// Clients is the number of clients frames are spread over, at least 1;
	// they are clients FirstClient to FirstClient+Clients-1 (see ClientMAC),
	// so that several generators (one per switch) can have their own.
	Clients, FirstClient int

	// Router is the SSID's gateway: its MAC sends RAs and relays DHCP; its
	// link-local address is the RAs' source.
	RouterMAC       net.HardwareAddr
	RouterLinkLocal netip.Addr
	// PREF64 is the NAT64 prefix the router advertises (RFC 8781); the zero
	// Prefix advertises none.
	PREF64 netip.Prefix
	// DHCPServer is the allowed DHCPv4 server: OFFERs come from it.
	DHCPServer netip.Addr
	// RequestIPv6Only is the share of DISCOVERs that list option 108.
	RequestIPv6Only float64
	// OfferIPv6Only makes the server put option 108 in the OFFERs to the
	// clients that asked for it (RFC 8925 answers no one else).
	OfferIPv6Only bool
}

// Mix describes meeting traffic over several SSIDs.
type Mix struct {
	SSIDs []SSIDMix
	// NAT64Prefix is the prefix NAT64 frames use; the zero Prefix means
	// 64:ff9b::/96.
	NAT64Prefix netip.Prefix
	// Tagged puts each frame's VLAN in an 802.1Q tag; otherwise frames are
	// untagged, as a switch samples them for sFlow, and Frame.VLAN tells the
	// VLAN.
	Tagged bool
	// Seed makes the sequence of frames; the same Mix and Seed give the same
	// frames.
	Seed uint64
}

// Frame is one generated frame and what it is.
type Frame struct {
	Bytes []byte
	// SSID is the index of its SSID in Mix.SSIDs, VLAN that SSID's VLAN.
	SSID int
	VLAN uint16
	Kind Kind
	// Family and Direction are the classifier's labels for the frame.
	Family, Direction string
	// IPv6OnlyPreferred: a DISCOVER lists option 108, an OFFER carries it.
	IPv6OnlyPreferred bool
	// PREF64 is an RA's PREF64 prefix, the zero Prefix for none.
	PREF64 netip.Prefix
}

// Servers the clients talk to: documentation prefixes.
var (
	serverPrefix6 = netip.MustParsePrefix("2001:db8:ffff::/48")
	serverNets4   = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
	}
	defaultNAT64 = netip.MustParsePrefix("64:ff9b::/96")
)

// RoguePrefix is the prefix a rogue RA announces: a ULA, as a laptop sharing
// its connection does.
var RoguePrefix = netip.MustParsePrefix("fd00:bad:1::/64")

// Generator draws frames from a Mix. It is deterministic and not safe for
// concurrent use.
type Generator struct {
	mix     Mix
	nat64   netip.Prefix
	rng     *rand.Rand
	clients []int // active clients per SSID
	weights []float64
	xid     uint32
}

// NewGenerator checks m and returns its generator.
func NewGenerator(m Mix) (*Generator, error) {
	g := &Generator{mix: m, nat64: m.NAT64Prefix, rng: rand.New(rand.NewPCG(m.Seed, m.Seed^0x9e3779b97f4a7c15))}
	if !g.nat64.IsValid() {
		g.nat64 = defaultNAT64
	}
	if len(m.SSIDs) == 0 {
		return nil, fmt.Errorf("packetgen: a mix needs an SSID")
	}
	for _, s := range m.SSIDs {
		switch {
		case !s.ClientPrefix4.Addr().Is4() || !s.ClientPrefix6.Addr().Is6() || s.ClientPrefix6.Bits() > 64 || s.ClientPrefix4.Bits() > 24:
			return nil, fmt.Errorf("packetgen: SSID %s: client prefixes %v, %v: want an IPv4 prefix of at most /24 and an IPv6 one of at most /64", s.Name, s.ClientPrefix4, s.ClientPrefix6)
		case s.IPv4 < 0 || s.IPv6 < 0 || s.NAT64 < 0 || s.IPv4+s.IPv6+s.NAT64 <= 0:
			return nil, fmt.Errorf("packetgen: SSID %s: family shares must be ≥ 0 and not all 0", s.Name)
		case s.Up < 0 || s.Up > 1 || s.RequestIPv6Only < 0 || s.RequestIPv6Only > 1:
			return nil, fmt.Errorf("packetgen: SSID %s: shares Up and RequestIPv6Only must be within 0…1", s.Name)
		case s.FirstClient < 0 || s.FirstClient+max(1, s.Clients) > 1<<16:
			return nil, fmt.Errorf("packetgen: SSID %s: clients %d to %d: ClientMAC numbers 65536", s.Name, s.FirstClient, s.FirstClient+s.Clients-1)
		case len(s.RouterMAC) != 6 || !s.RouterLinkLocal.Is6() || !s.DHCPServer.Is4():
			return nil, fmt.Errorf("packetgen: SSID %s: router MAC, link-local address and DHCP server are needed", s.Name)
		}
		g.clients = append(g.clients, max(1, s.Clients))
		g.weights = append(g.weights, float64(max(1, s.Clients)))
	}
	return g, nil
}

// SetClients changes the number of active clients of SSID ssid (at least 1,
// at most what ClientMAC numbers after FirstClient), e.g. to follow the
// meeting day; Next draws SSIDs in proportion to them.
func (g *Generator) SetClients(ssid, n int) {
	g.clients[ssid] = min(max(1, n), 1<<16-g.mix.SSIDs[ssid].FirstClient)
	g.weights[ssid] = float64(g.clients[ssid])
}

// Next returns a data frame of an SSID drawn in proportion to its clients.
func (g *Generator) Next() Frame { return g.Data(g.SSID()) }

// NextDirected is Next for a frame sent by a client (up) or to one.
func (g *Generator) NextDirected(up bool) Frame { return g.DataDirected(g.SSID(), up) }

// SSID draws an SSID index in proportion to the SSIDs' clients.
func (g *Generator) SSID() int {
	var total float64
	for _, w := range g.weights {
		total += w
	}
	x := g.rng.Float64() * total
	for i, w := range g.weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(g.weights) - 1
}

// ClientMAC is the MAC address of client n of SSID ssid: locally
// administered (0x06 first octet), unique per (ssid, n) for n < 65536 and
// ssid < 186 (0xba is RogueMAC's).
func ClientMAC(ssid, n int) net.HardwareAddr {
	return net.HardwareAddr{0x06, 0x6d, 0x6e, byte(ssid), byte(n >> 8), byte(n)}
}

// ClientAddrs are the addresses of client n of s: an IPv6 address in
// ClientPrefix6 with an interface ID made from n (as a privacy address would
// be, it tells nothing of the MAC), and an IPv4 address in ClientPrefix4.
func ClientAddrs(s *SSIDMix, n int) (v4, v6 netip.Addr) {
	a6 := s.ClientPrefix6.Masked().Addr().As16()
	var iid [8]byte
	binary.BigEndian.PutUint64(iid[:], mix64(uint64(n)+1))
	copy(a6[8:], iid[:])
	a4 := s.ClientPrefix4.Masked().Addr().As4()
	size := uint32(1) << (32 - s.ClientPrefix4.Bits())
	binary.BigEndian.PutUint32(a4[:], binary.BigEndian.Uint32(a4[:])+10+uint32(n)%(size-11))
	return netip.AddrFrom4(a4), netip.AddrFrom16(a6)
}

// mix64 is splitmix64's finaliser: a fixed bijection that scatters n.
func mix64(n uint64) uint64 {
	n ^= n >> 30
	n *= 0xbf58476d1ce4e5b9
	n ^= n >> 27
	n *= 0x94d049bb133111eb
	return n ^ n>>31
}

// client draws the number of one of the SSID's active clients.
func (g *Generator) client(ssid int) int {
	return g.mix.SSIDs[ssid].FirstClient + g.rng.IntN(g.clients[ssid])
}

// link is the Ethernet header of a frame of SSID ssid from src to dst.
func (g *Generator) link(ssid int, src, dst net.HardwareAddr) Link {
	l := Link{Src: src, Dst: dst}
	if g.mix.Tagged {
		l.VLANs = []uint16{g.mix.SSIDs[ssid].VLAN}
	}
	return l
}

func (g *Generator) frame(ssid int, kind Kind, family, direction string, b []byte) Frame {
	return Frame{Bytes: b, SSID: ssid, VLAN: g.mix.SSIDs[ssid].VLAN, Kind: kind, Family: family, Direction: direction}
}

// Data returns a data frame of SSID ssid, up or down by its Up share (see
// DataDirected).
func (g *Generator) Data(ssid int) Frame {
	return g.DataDirected(ssid, g.rng.Float64() < g.mix.SSIDs[ssid].Up)
}

// Mean frame lengths (without FCS) of the size distributions of DataDirected,
// for a caller that turns byte rates into packet rates.
const (
	MeanFrameLenUp   = 0.70*66 + 0.15*(100+599)/2.0 + 0.15*1514
	MeanFrameLenDown = 0.80*1514 + 0.10*(600+1499)/2.0 + 0.10*(66+165)/2.0
)

// DataDirected returns a data frame of SSID ssid sent by a client (up) or to
// one: a family by the SSID's shares, a client drawn from its active ones, TCP
// or QUIC (UDP 443) to a server in a documentation prefix. Sizes are a
// meeting's: down mostly full 1500-byte packets, up mostly bare TCP ACKs.
func (g *Generator) DataDirected(ssid int, up bool) Frame {
	s := &g.mix.SSIDs[ssid]
	n := g.client(ssid)
	mac := ClientMAC(ssid, n)
	v4, v6 := ClientAddrs(s, n)

	var family string
	var client, server netip.Addr
	switch x := g.rng.Float64() * (s.IPv4 + s.IPv6 + s.NAT64); {
	case x < s.IPv6:
		family, client = FamilyIPv6, v6
		server = g.server6()
	case x < s.IPv6+s.NAT64:
		family, client = FamilyNAT64, v6
		server = NAT64Address(g.nat64, g.server4())
	default:
		family, client = FamilyIPv4, v4
		server = g.server4()
	}
	p := Packet{Protocol: TCP, SrcPort: uint16(49152 + g.rng.IntN(16384)), DstPort: 443}
	if g.rng.IntN(10) < 3 {
		p.Protocol = UDP // QUIC
	}
	p.Src, p.Dst = client, server
	p.Link = g.link(ssid, mac, s.RouterMAC)
	direction := DirectionUp
	if !up {
		p.Src, p.Dst = server, client
		p.SrcPort, p.DstPort = p.DstPort, p.SrcPort
		p.Link = g.link(ssid, s.RouterMAC, mac)
		direction = DirectionDown
	}
	p.Payload = p.PayloadFor(g.frameLen(up))
	return g.frame(ssid, KindData, family, direction, p.Frame())
}

// frameLen draws a frame length (without FCS) for a data frame.
func (g *Generator) frameLen(up bool) int {
	x := g.rng.IntN(100)
	if up {
		switch {
		case x < 70:
			return 66 // a TCP ACK with timestamps, or a short QUIC ACK
		case x < 85:
			return 100 + g.rng.IntN(500)
		default:
			return 1514
		}
	}
	switch {
	case x < 80:
		return 1514
	case x < 90:
		return 600 + g.rng.IntN(900)
	default:
		return 66 + g.rng.IntN(100)
	}
}

func (g *Generator) server6() netip.Addr {
	a := serverPrefix6.Addr().As16()
	binary.BigEndian.PutUint64(a[8:], uint64(1+g.rng.IntN(4096)))
	return netip.AddrFrom16(a)
}

func (g *Generator) server4() netip.Addr {
	a := serverNets4[g.rng.IntN(len(serverNets4))].Addr().As4()
	a[3] = byte(1 + g.rng.IntN(254))
	return netip.AddrFrom4(a)
}

// ARP returns a client's ARP request for its gateway (family other).
func (g *Generator) ARP(ssid int) Frame {
	s := &g.mix.SSIDs[ssid]
	n := g.client(ssid)
	v4, _ := ClientAddrs(s, n)
	b := ARPRequest(g.link(ssid, ClientMAC(ssid, n), BroadcastMAC), v4, s.DHCPServer)
	return g.frame(ssid, KindARP, FamilyOther, DirectionOther, b)
}

// DHCPExchange returns a client's DISCOVER, listing option 108 with the SSID's
// RequestIPv6Only probability, and the allowed server's OFFER, carrying 108
// when the client asked and the SSID offers it. The DISCOVER goes from 0.0.0.0
// to the broadcast address (direction other); the OFFER is up when the server
// (usually the gateway, relaying) sits in the client prefix, other if not.
func (g *Generator) DHCPExchange(ssid int) (discover, offer Frame) {
	s := &g.mix.SSIDs[ssid]
	n := g.client(ssid)
	mac := ClientMAC(ssid, n)
	v4, _ := ClientAddrs(s, n)
	g.xid++
	asks := g.rng.Float64() < s.RequestIPv6Only
	d := DHCPDiscover{Link: g.link(ssid, mac, BroadcastMAC), Xid: g.xid, IPv6OnlyPreferred: asks}
	discover = g.frame(ssid, KindDHCPDiscover, FamilyIPv4, DirectionOther, d.Frame())
	discover.IPv6OnlyPreferred = asks
	o := DHCPOffer{
		Link: g.link(ssid, s.RouterMAC, BroadcastMAC), Client: mac, Xid: g.xid,
		Server: s.DHCPServer, Offered: v4, IPv6OnlyPreferred: asks && s.OfferIPv6Only, V6OnlyWait: 1800,
	}
	dir := DirectionOther
	if s.ClientPrefix4.Contains(s.DHCPServer) {
		dir = DirectionUp
	}
	offer = g.frame(ssid, KindDHCPOffer, FamilyIPv4, dir, o.Frame())
	offer.IPv6OnlyPreferred = o.IPv6OnlyPreferred
	return discover, offer
}

// RouterAdvertisement returns the SSID's router's RA: source link-layer
// address, the client prefix, and PREF64 when the SSID has one.
func (g *Generator) RouterAdvertisement(ssid int) Frame {
	s := &g.mix.SSIDs[ssid]
	ra := RouterAdvertisement{
		Link: g.link(ssid, s.RouterMAC, AllNodesMAC), Src: s.RouterLinkLocal,
		Prefixes: []netip.Prefix{s.ClientPrefix6}, PREF64: s.PREF64, SourceLinkLayer: true,
	}
	f := g.frame(ssid, KindRouterAdvertisement, FamilyIPv6, DirectionOther, ra.Frame())
	f.PREF64 = s.PREF64
	return f
}

// RogueMAC is the MAC of the misconfigured laptop that sends rogue RAs: a
// client's (locally administered), outside every population ClientMAC makes.
var RogueMAC = net.HardwareAddr{0x06, 0x6d, 0x6e, 0xba, 0xd0, 0x01}

// RogueRouterAdvertisement returns an RA from a laptop that believes it is a
// router: RogueMAC, its own link-local address, RoguePrefix, and pref64 as
// its PREF64 (the zero Prefix for none).
func (g *Generator) RogueRouterAdvertisement(ssid int, pref64 netip.Prefix) Frame {
	ra := RouterAdvertisement{
		Link: g.link(ssid, RogueMAC, AllNodesMAC), Src: LinkLocal(RogueMAC),
		Prefixes: []netip.Prefix{RoguePrefix}, PREF64: pref64, SourceLinkLayer: true,
	}
	f := g.frame(ssid, KindRogueRouterAdvertisement, FamilyIPv6, DirectionOther, ra.Frame())
	f.PREF64 = pref64
	return f
}
