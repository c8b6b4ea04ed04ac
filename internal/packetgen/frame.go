// Package packetgen builds the frames and sFlow datagrams that meetnoc's tests,
// benchmarks and lab feed to the traffic classifier: Ethernet frames (untagged,
// 802.1Q, QinQ) carrying IPv4, IPv6 and NAT64 TCP/UDP, fragments, ARP, DHCPv4
// DISCOVERs and OFFERs with and without option 108 (RFC 8925), and ICMPv6
// Router Advertisements with PREF64 (RFC 8781), prefix information and source
// link-layer address options; an sFlow v5 encoder; and a deterministic meeting
// traffic mix.
//
// Frames are serialised with gopacket's layers (lengths fixed, checksums
// computed), so they are what a capture of real traffic would hold; the sFlow
// XDR is encoded here, as gopacket has no sFlow serialiser. This is the one set
// of builders in the project: tests and the lab use it rather than their own.
package packetgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TPIDs of the outer VLAN tag.
const (
	TPID8021Q  = layers.EthernetTypeDot1Q    // 0x8100, a customer VLAN tag
	TPID8021AD = layers.EthernetTypeQinQ     // 0x88a8, an 802.1ad service tag (QinQ)
	TPIDQinQ   = layers.EthernetType(0x9100) // the pre-standard QinQ TPID some switches still send
)

// Link is a frame's Ethernet header: its addresses and VLAN tags.
type Link struct {
	Src, Dst net.HardwareAddr
	// VLANs are the VLAN IDs of the tags, outermost first; none for an untagged
	// frame.
	VLANs []uint16
	// OuterTPID is the outermost tag's TPID; zero means 802.1Q. Inner tags are
	// always 802.1Q.
	OuterTPID layers.EthernetType
}

// Untagged is a link without VLAN tags.
func Untagged(src, dst net.HardwareAddr) Link { return Link{Src: src, Dst: dst} }

// Tagged is a link with one 802.1Q tag.
func Tagged(src, dst net.HardwareAddr, vlan uint16) Link {
	return Link{Src: src, Dst: dst, VLANs: []uint16{vlan}}
}

// QinQ is a link with an 802.1ad service tag outer and an 802.1Q customer tag
// inner, as a provider bridge carries a customer's VLAN.
func QinQ(src, dst net.HardwareAddr, outer, inner uint16) Link {
	return Link{Src: src, Dst: dst, VLANs: []uint16{outer, inner}, OuterTPID: TPID8021AD}
}

// Broadcast and all-nodes multicast MAC addresses.
var (
	BroadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	AllNodesMAC  = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} // ff02::1
)

// layers returns the link's Ethernet and tag layers; the last layer's type
// field is set to etherType.
func (l Link) layers(etherType layers.EthernetType) []gopacket.SerializableLayer {
	eth := &layers.Ethernet{SrcMAC: l.Src, DstMAC: l.Dst}
	out := []gopacket.SerializableLayer{eth}
	next := &eth.EthernetType
	for i, vid := range l.VLANs {
		tpid := TPID8021Q
		if i == 0 && l.OuterTPID != 0 {
			tpid = l.OuterTPID
		}
		*next = tpid
		tag := &layers.Dot1Q{VLANIdentifier: vid}
		out = append(out, tag)
		next = &tag.Type
	}
	*next = etherType
	return out
}

// HeaderLen is the length of the link's Ethernet header with its tags.
func (l Link) HeaderLen() int { return 14 + 4*len(l.VLANs) }

// serialize serialises ls with lengths fixed and checksums computed. The
// builders here only hand it well-formed layers, so an error is a bug.
func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(fmt.Sprintf("packetgen: %v", err))
	}
	return buf.Bytes()
}

// zeros backs the payloads: serialising copies them, so one array serves all.
var zeros [65536]byte

// Transport protocols of Packet.
const (
	TCP = layers.IPProtocolTCP
	UDP = layers.IPProtocolUDP
)

// Packet is an IPv4 or IPv6 TCP or UDP packet in an Ethernet frame. An IPv6
// packet to or from an address in a NAT64 prefix (see NAT64Address) is a
// NAT64 packet.
type Packet struct {
	Link
	// Src and Dst are both IPv4 or both IPv6 addresses.
	Src, Dst netip.Addr
	// Protocol is TCP or UDP.
	Protocol         layers.IPProtocol
	SrcPort, DstPort uint16
	// Payload is the number of bytes after the TCP or UDP header.
	Payload int
}

// Frame serialises the packet. A TCP segment is an ACK, with PSH when it
// carries data.
func (p Packet) Frame() []byte {
	network, l4 := p.ipLayers()
	ls := p.Link.layers(etherTypeOf(p.Src))
	ls = append(ls, network, l4, gopacket.Payload(zeros[:p.Payload]))
	return serialize(ls...)
}

// IPHeaderLen and TransportHeaderLen are the lengths of the headers Frame
// writes: a frame is HeaderLen + IPHeaderLen + TransportHeaderLen + Payload
// bytes long (at least 60, Ethernet's minimum without FCS).
func (p Packet) IPHeaderLen() int {
	if p.Src.Is4() {
		return 20
	}
	return 40
}

// TransportHeaderLen is 20 for TCP (no options) and 8 for UDP.
func (p Packet) TransportHeaderLen() int {
	if p.Protocol == TCP {
		return 20
	}
	return 8
}

// PayloadFor returns the payload that makes the frame frameLen bytes long
// (without FCS), or 0 when the headers alone are longer.
func (p Packet) PayloadFor(frameLen int) int {
	return max(0, frameLen-p.HeaderLen()-p.IPHeaderLen()-p.TransportHeaderLen())
}

func etherTypeOf(a netip.Addr) layers.EthernetType {
	if a.Is4() {
		return layers.EthernetTypeIPv4
	}
	return layers.EthernetTypeIPv6
}

// ipLayers returns the packet's network and transport layers, the transport's
// checksum tied to the network layer.
func (p Packet) ipLayers() (gopacket.SerializableLayer, gopacket.SerializableLayer) {
	if p.Src.Is4() != p.Dst.Is4() {
		panic(fmt.Sprintf("packetgen: %v → %v mixes address families", p.Src, p.Dst))
	}
	var network gopacket.NetworkLayer
	var nl gopacket.SerializableLayer
	if p.Src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: p.Protocol, Flags: layers.IPv4DontFragment,
			SrcIP: p.Src.AsSlice(), DstIP: p.Dst.AsSlice()}
		network, nl = ip, ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p.Protocol,
			SrcIP: p.Src.AsSlice(), DstIP: p.Dst.AsSlice()}
		network, nl = ip, ip
	}
	switch p.Protocol {
	case TCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(p.SrcPort), DstPort: layers.TCPPort(p.DstPort),
			Seq: 1, Ack: 1, ACK: true, PSH: p.Payload > 0, Window: 2048}
		_ = tcp.SetNetworkLayerForChecksum(network)
		return nl, tcp
	case UDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.SrcPort), DstPort: layers.UDPPort(p.DstPort)}
		_ = udp.SetNetworkLayerForChecksum(network)
		return nl, udp
	}
	panic(fmt.Sprintf("packetgen: protocol %v is neither TCP nor UDP", p.Protocol))
}

// Fragments splits the packet at the IP layer into fragments that carry at
// most size bytes of the IP payload each (rounded down to a multiple of 8, at
// least 8), as a host sending it over a smaller MTU would: IPv4 fragments with
// the MF flag and fragment offset, IPv6 packets with a Fragment header. The
// first fragment holds the transport header. id is the fragment ID.
func (p Packet) Fragments(size int, id uint32) [][]byte {
	size = max(8, size&^7)
	// The whole packet, serialised once for its transport checksum, then cut.
	whole := p.Frame()
	l3 := p.HeaderLen()
	payload := whole[l3+p.IPHeaderLen() : l3+p.IPHeaderLen()+p.TransportHeaderLen()+p.Payload]
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		more := end < len(payload)
		piece := gopacket.Payload(payload[off:end])
		var ls []gopacket.SerializableLayer
		if p.Src.Is4() {
			flags := layers.IPv4Flag(0)
			if more {
				flags = layers.IPv4MoreFragments
			}
			ls = append(p.Link.layers(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 64, Protocol: p.Protocol,
				Id: uint16(id), Flags: flags, FragOffset: uint16(off / 8), SrcIP: p.Src.AsSlice(), DstIP: p.Dst.AsSlice()}, piece)
		} else {
			ls = append(p.Link.layers(layers.EthernetTypeIPv6),
				&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: p.Src.AsSlice(), DstIP: p.Dst.AsSlice()},
				&layers.IPv6Fragment{NextHeader: p.Protocol, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: id},
				piece)
		}
		out = append(out, serialize(ls...))
	}
	return out
}

// ARPRequest is an ARP who-has from sender for target, both IPv4: the `other`
// family's most common frame on a client VLAN.
func ARPRequest(l Link, sender, target netip.Addr) []byte {
	return serialize(append(l.layers(layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: l.Src, SourceProtAddress: sender.AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice(),
	})...)
}

// DHCP options of RFC 8925.
const (
	// DHCPOptIPv6OnlyPreferred is option 108, IPv6-Only Preferred: a client
	// lists it in its parameter request list when it can run IPv6-only, and a
	// server that wants it to puts it in the OFFER with V6ONLY_WAIT.
	DHCPOptIPv6OnlyPreferred = layers.DHCPOpt(108)
)

// DHCPDiscover is a client's DHCPDISCOVER, broadcast from 0.0.0.0:68 to
// 255.255.255.255:67.
type DHCPDiscover struct {
	// Link: Src is the client's MAC (also chaddr); Dst nil means broadcast.
	Link
	Xid uint32
	// IPv6OnlyPreferred lists option 108 in the parameter request list (55).
	IPv6OnlyPreferred bool
}

// Frame serialises the DISCOVER.
func (d DHCPDiscover) Frame() []byte {
	l := d.Link
	if l.Dst == nil {
		l.Dst = BroadcastMAC
	}
	// What a current laptop asks for: subnet mask, router, DNS, domain name,
	// domain search, classless static routes, and 108 when it can run IPv6-only.
	prl := []byte{byte(layers.DHCPOptSubnetMask), byte(layers.DHCPOptRouter), byte(layers.DHCPOptDNS),
		byte(layers.DHCPOptDomainName), byte(layers.DHCPOptDomainSearch), byte(layers.DHCPOptClasslessStaticRoute)}
	if d.IPv6OnlyPreferred {
		prl = append(prl, byte(DHCPOptIPv6OnlyPreferred))
	}
	dhcp := &layers.DHCPv4{
		Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet, Xid: d.Xid,
		Flags: 0x8000, ClientHWAddr: d.Src,
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeDiscover)}),
			layers.NewDHCPOption(layers.DHCPOptParamsRequest, prl),
			layers.NewDHCPOption(layers.DHCPOptMaxMessageSize, []byte{0x05, 0xdc}),
		},
	}
	return udpFrame(l, netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68, 67, dhcp)
}

// DHCPOffer is a server's DHCPOFFER to a client, broadcast (as for a client
// that set the broadcast flag) from the server's address, port 67, to port 68.
type DHCPOffer struct {
	// Link: Src is the server's (or its relay's) MAC; Dst nil means broadcast.
	Link
	// Client is the client's MAC (chaddr), Xid the DISCOVER's transaction ID.
	Client net.HardwareAddr
	Xid    uint32
	// Server is the IP source address and the server identifier (option 54).
	Server netip.Addr
	// Offered is the address offered (yiaddr).
	Offered netip.Addr
	// IPv6OnlyPreferred adds option 108 with V6OnlyWait seconds: the server
	// tells a client that asked for it to go IPv6-only.
	IPv6OnlyPreferred bool
	V6OnlyWait        uint32
}

// Frame serialises the OFFER.
func (o DHCPOffer) Frame() []byte {
	l := o.Link
	if l.Dst == nil {
		l.Dst = BroadcastMAC
	}
	opts := layers.DHCPOptions{
		layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeOffer)}),
		layers.NewDHCPOption(layers.DHCPOptServerID, o.Server.AsSlice()),
		layers.NewDHCPOption(layers.DHCPOptLeaseTime, binary.BigEndian.AppendUint32(nil, 3600)),
		layers.NewDHCPOption(layers.DHCPOptSubnetMask, []byte{255, 255, 192, 0}),
		layers.NewDHCPOption(layers.DHCPOptRouter, o.Server.AsSlice()),
	}
	if o.IPv6OnlyPreferred {
		opts = append(opts, layers.NewDHCPOption(DHCPOptIPv6OnlyPreferred, binary.BigEndian.AppendUint32(nil, o.V6OnlyWait)))
	}
	dhcp := &layers.DHCPv4{
		Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet, Xid: o.Xid, Flags: 0x8000,
		YourClientIP: o.Offered.AsSlice(), NextServerIP: o.Server.AsSlice(), ClientHWAddr: o.Client,
		Options: opts,
	}
	return udpFrame(l, o.Server, netip.AddrFrom4([4]byte{255, 255, 255, 255}), 67, 68, dhcp)
}

func udpFrame(l Link, src, dst netip.Addr, sport, dport uint16, payload gopacket.SerializableLayer) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return serialize(append(l.layers(layers.EthernetTypeIPv4), ip, udp, payload)...)
}

// ICMPv6 option types of a Router Advertisement.
const (
	ICMPv6OptSourceLinkLayer   = layers.ICMPv6OptSourceAddress // 1
	ICMPv6OptPrefixInformation = layers.ICMPv6OptPrefixInfo    // 3
	ICMPv6OptPREF64            = layers.ICMPv6Opt(38)          // RFC 8781
	allNodes                   = "ff02::1"
	defaultRouterLifetime      = 1800 // seconds
)

// RouterAdvertisement is an ICMPv6 Router Advertisement (RFC 4861) to the
// all-nodes group ff02::1, hop limit 255.
type RouterAdvertisement struct {
	// Link: Src is the router's MAC; Dst nil means 33:33:00:00:00:01.
	Link
	// Src is the router's link-local address.
	Src netip.Addr
	// RouterLifetime in seconds; 0 means 1800. A router that is not a default
	// router is out of scope here.
	RouterLifetime uint16
	// Prefixes get one Prefix Information option each (on-link, autonomous,
	// valid 2592000 s, preferred 604800 s).
	Prefixes []netip.Prefix
	// PREF64 is the NAT64 prefix of the PREF64 option (RFC 8781); the zero
	// Prefix means no option. Its length must be 32, 40, 48, 56, 64 or 96.
	PREF64 netip.Prefix
	// PREF64Lifetime is the option's lifetime in seconds, a multiple of 8 up to
	// 65528; 0 means 3 × the router lifetime, capped, as RFC 8781 suggests.
	PREF64Lifetime uint16
	// SourceLinkLayer adds the Source Link-Layer Address option with Link.Src.
	SourceLinkLayer bool
}

// Frame serialises the RA. It panics on a PREF64 prefix length RFC 8781 cannot
// carry.
func (ra RouterAdvertisement) Frame() []byte {
	l := ra.Link
	if l.Dst == nil {
		l.Dst = AllNodesMAC
	}
	lifetime := ra.RouterLifetime
	if lifetime == 0 {
		lifetime = defaultRouterLifetime
	}
	var opts layers.ICMPv6Options
	if ra.SourceLinkLayer {
		opts = append(opts, layers.ICMPv6Option{Type: ICMPv6OptSourceLinkLayer, Data: []byte(l.Src)})
	}
	for _, p := range ra.Prefixes {
		opts = append(opts, layers.ICMPv6Option{Type: ICMPv6OptPrefixInformation, Data: prefixInformation(p)})
	}
	if ra.PREF64.IsValid() {
		pl := ra.PREF64Lifetime
		if pl == 0 {
			pl = uint16(min(3*int(lifetime), 65528))
		}
		opts = append(opts, layers.ICMPv6Option{Type: ICMPv6OptPREF64, Data: PREF64Option(ra.PREF64, pl)})
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: ra.Src.AsSlice(), DstIP: netip.MustParseAddr(allNodes).AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterAdvertisement, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip)
	body := &layers.ICMPv6RouterAdvertisement{HopLimit: 64, RouterLifetime: lifetime, Options: opts}
	return serialize(append(l.layers(layers.EthernetTypeIPv6), ip, icmp, body)...)
}

// prefixInformation is a Prefix Information option's data (after type and
// length): prefix length, flags L and A, lifetimes, reserved, prefix.
func prefixInformation(p netip.Prefix) []byte {
	b := []byte{byte(p.Bits()), 0xc0}
	b = binary.BigEndian.AppendUint32(b, 2592000)
	b = binary.BigEndian.AppendUint32(b, 604800)
	b = binary.BigEndian.AppendUint32(b, 0)
	a := p.Masked().Addr().As16()
	return append(b, a[:]...)
}

// pref64PLC maps a NAT64 prefix length to RFC 8781's Prefix Length Code.
var pref64PLC = map[int]uint16{96: 0, 64: 1, 56: 2, 48: 3, 40: 4, 32: 5}

// PREF64Option is the data of a PREF64 option (RFC 8781, after type and
// length): the scaled lifetime (lifetime/8) and the prefix length code in one
// 16-bit word, then the prefix's first 96 bits. It panics on a prefix length
// the option cannot carry.
func PREF64Option(p netip.Prefix, lifetime uint16) []byte {
	plc, ok := pref64PLC[p.Bits()]
	if !ok || !p.Addr().Is6() {
		panic(fmt.Sprintf("packetgen: PREF64 cannot carry %v", p))
	}
	b := binary.BigEndian.AppendUint16(nil, (lifetime/8)<<3|plc)
	a := p.Masked().Addr().As16()
	return append(b, a[:12]...)
}

// NAT64Address embeds an IPv4 address in a NAT64 prefix of length 32, 40, 48,
// 56, 64 or 96 as RFC 6052 section 2.2 does (bits 64–71 stay zero). It panics
// on any other prefix length.
func NAT64Address(prefix netip.Prefix, v4 netip.Addr) netip.Addr {
	if _, ok := pref64PLC[prefix.Bits()]; !ok || !prefix.Addr().Is6() || !v4.Is4() {
		panic(fmt.Sprintf("packetgen: cannot embed %v in %v", v4, prefix))
	}
	a := prefix.Masked().Addr().As16()
	v := v4.As4()
	i := prefix.Bits() / 8
	for _, x := range v {
		if i == 8 {
			i++ // the u octet
		}
		a[i] = x
		i++
	}
	return netip.AddrFrom16(a)
}

// LinkLocal is the link-local address fe80::/64 + modified EUI-64 of mac, as a
// router or host forms it (RFC 4291 appendix A).
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}
