package packetgen

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	hostMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	routerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}
)

// decode decodes a frame with gopacket. gopacket does not know the
// pre-standard QinQ TPID 0x9100: such a frame is decoded as 802.1ad, and
// checkLink sees the real TPID through tpid9100.
func decode(t *testing.T, b []byte) gopacket.Packet {
	t.Helper()
	if len(b) >= 14 && binary.BigEndian.Uint16(b[12:]) == uint16(TPIDQinQ) {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint16(b[12:], uint16(TPID8021AD))
		tpid9100[&b[0]] = true
	}
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.NoCopy)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode the frame: %v\n% x", el.Error(), b[:min(len(b), 80)])
	}
	return p
}

// tpid9100 marks the frames decode patched, by their first byte.
var tpid9100 = map[*byte]bool{}

// checkLink checks the Ethernet header and tags of p against l, and returns
// the ethertype after the tags.
func checkLink(t *testing.T, p gopacket.Packet, l Link) layers.EthernetType {
	t.Helper()
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !bytes.Equal(eth.SrcMAC, l.Src) || !bytes.Equal(eth.DstMAC, l.Dst) {
		t.Errorf("MACs %v → %v, want %v → %v", eth.SrcMAC, eth.DstMAC, l.Src, l.Dst)
	}
	tpid, next := eth.EthernetType, eth.EthernetType
	if tpid9100[&eth.Contents[0]] {
		tpid = TPIDQinQ
	}
	var vids []uint16
	for _, ly := range p.Layers() {
		if tag, ok := ly.(*layers.Dot1Q); ok {
			vids = append(vids, tag.VLANIdentifier)
			next = tag.Type
		}
	}
	if !slices.Equal(vids, l.VLANs) {
		t.Errorf("VLANs %v, want %v", vids, l.VLANs)
	}
	wantTPID := l.OuterTPID
	if wantTPID == 0 {
		wantTPID = TPID8021Q
	}
	if len(l.VLANs) > 0 && tpid != wantTPID {
		t.Errorf("outer TPID %#04x, want %#04x", uint16(tpid), uint16(wantTPID))
	}
	return next
}

// checksumOK verifies a TCP/UDP/ICMPv6 checksum over the pseudo-header of
// src, dst independently of gopacket: the one's complement sum must be 0xffff.
func checksumOK(src, dst netip.Addr, proto byte, l4 []byte) bool {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += uint32(proto) + uint32(len(l4))
	add(l4)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum == 0xffff
}

var links = map[string]Link{
	"untagged":     Untagged(hostMAC, routerMAC),
	"802.1Q":       Tagged(hostMAC, routerMAC, 100),
	"QinQ 802.1ad": QinQ(hostMAC, routerMAC, 3000, 200),
	"QinQ 0x9100":  {Src: hostMAC, Dst: routerMAC, VLANs: []uint16{7, 300}, OuterTPID: TPIDQinQ},
	"three tags":   {Src: hostMAC, Dst: routerMAC, VLANs: []uint16{1, 2, 4094}, OuterTPID: TPID8021AD},
}

func TestPacketFrame(t *testing.T) {
	nat64 := NAT64Address(netip.MustParsePrefix("64:ff9b::/96"), netip.MustParseAddr("192.0.2.33"))
	packets := map[string]Packet{
		"ipv4 tcp":       {Src: netip.MustParseAddr("100.64.0.10"), Dst: netip.MustParseAddr("192.0.2.1"), Protocol: TCP, SrcPort: 50000, DstPort: 443, Payload: 1460},
		"ipv4 udp":       {Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("100.64.0.10"), Protocol: UDP, SrcPort: 443, DstPort: 50000, Payload: 1200},
		"ipv6 tcp ack":   {Src: netip.MustParseAddr("2001:db8:100::1"), Dst: netip.MustParseAddr("2001:db8:ffff::1"), Protocol: TCP, SrcPort: 50000, DstPort: 443},
		"ipv6 udp":       {Src: netip.MustParseAddr("2001:db8:100::1"), Dst: netip.MustParseAddr("2001:db8:ffff::1"), Protocol: UDP, SrcPort: 50000, DstPort: 443, Payload: 1},
		"nat64 up":       {Src: netip.MustParseAddr("2001:db8:100::1"), Dst: nat64, Protocol: TCP, SrcPort: 50000, DstPort: 80, Payload: 100},
		"nat64 down":     {Src: nat64, Dst: netip.MustParseAddr("2001:db8:100::1"), Protocol: UDP, SrcPort: 53, DstPort: 50000, Payload: 77},
		"ipv6 jumbo tcp": {Src: netip.MustParseAddr("2001:db8:100::1"), Dst: netip.MustParseAddr("2001:db8:ffff::1"), Protocol: TCP, SrcPort: 1, DstPort: 2, Payload: 8940},
	}
	for ln, l := range links {
		for pn, p := range packets {
			p.Link = l
			b := p.Frame()
			pkt := decode(t, b)
			et := checkLink(t, pkt, l)
			wantLen := max(60, l.HeaderLen()+p.IPHeaderLen()+p.TransportHeaderLen()+p.Payload)
			if len(b) != wantLen {
				t.Errorf("%s %s: %d bytes, want %d", ln, pn, len(b), wantLen)
			}
			var src, dst netip.Addr
			var l4 []byte
			if p.Src.Is4() {
				ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				if et != layers.EthernetTypeIPv4 || ip == nil {
					t.Fatalf("%s %s: ethertype %v, no IPv4", ln, pn, et)
				}
				src, dst = netip.AddrFrom4([4]byte(ip.SrcIP)), netip.AddrFrom4([4]byte(ip.DstIP))
				if int(ip.Length) != p.IPHeaderLen()+p.TransportHeaderLen()+p.Payload || ip.Protocol != p.Protocol {
					t.Errorf("%s %s: IPv4 length %d protocol %v", ln, pn, ip.Length, ip.Protocol)
				}
				l4 = ip.Payload
			} else {
				ip, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				if et != layers.EthernetTypeIPv6 || ip == nil {
					t.Fatalf("%s %s: ethertype %v, no IPv6", ln, pn, et)
				}
				src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
				if int(ip.Length) != p.TransportHeaderLen()+p.Payload || ip.NextHeader != p.Protocol {
					t.Errorf("%s %s: IPv6 payload length %d next header %v", ln, pn, ip.Length, ip.NextHeader)
				}
				l4 = ip.Payload
			}
			if src != p.Src || dst != p.Dst {
				t.Errorf("%s %s: %v → %v, want %v → %v", ln, pn, src, dst, p.Src, p.Dst)
			}
			var sport, dport uint16
			var payload []byte
			switch p.Protocol {
			case TCP:
				tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				sport, dport, payload = uint16(tcp.SrcPort), uint16(tcp.DstPort), tcp.Payload
				if !tcp.ACK || tcp.PSH != (p.Payload > 0) {
					t.Errorf("%s %s: TCP flags ACK %t PSH %t", ln, pn, tcp.ACK, tcp.PSH)
				}
			case UDP:
				udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
				sport, dport, payload = uint16(udp.SrcPort), uint16(udp.DstPort), udp.Payload
			}
			if sport != p.SrcPort || dport != p.DstPort || len(payload) != p.Payload {
				t.Errorf("%s %s: ports %d → %d, payload %d; want %d → %d, %d", ln, pn, sport, dport, len(payload), p.SrcPort, p.DstPort, p.Payload)
			}
			if !checksumOK(src, dst, byte(p.Protocol), l4) {
				t.Errorf("%s %s: bad transport checksum", ln, pn)
			}
		}
	}
}

func TestPayloadFor(t *testing.T) {
	for _, l := range links {
		for _, p := range []Packet{
			{Link: l, Src: netip.MustParseAddr("100.64.0.10"), Dst: netip.MustParseAddr("192.0.2.1"), Protocol: TCP},
			{Link: l, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Protocol: UDP},
		} {
			for _, n := range []int{1514, 1518, 9018, 200} {
				p.Payload = p.PayloadFor(n)
				if got := len(p.Frame()); got != n {
					t.Errorf("%v tags %v: PayloadFor(%d) gives %d bytes", p.Src, l.VLANs, n, got)
				}
			}
		}
	}
}

func TestFragments(t *testing.T) {
	for _, p := range []Packet{
		{Link: Tagged(hostMAC, routerMAC, 100), Src: netip.MustParseAddr("100.64.0.10"), Dst: netip.MustParseAddr("192.0.2.1"), Protocol: UDP, SrcPort: 5000, DstPort: 6000, Payload: 3000},
		{Link: QinQ(hostMAC, routerMAC, 10, 200), Src: netip.MustParseAddr("2001:db8:100::1"), Dst: netip.MustParseAddr("64:ff9b::c000:201"), Protocol: UDP, SrcPort: 5000, DstPort: 6000, Payload: 3000},
	} {
		whole := decode(t, p.Frame())
		want := whole.NetworkLayer().LayerPayload() // UDP header + payload
		frags := p.Fragments(1400, 0x1234)
		if len(frags) != 3 {
			t.Fatalf("%v: %d fragments, want 3", p.Src, len(frags))
		}
		var got []byte
		for i, f := range frags {
			pkt := decode(t, f)
			checkLink(t, pkt, p.Link)
			last := i == len(frags)-1
			if p.Src.Is4() {
				ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				if ip.Id != 0x1234 || int(ip.FragOffset)*8 != len(got) || (ip.Flags&layers.IPv4MoreFragments != 0) == last || ip.Protocol != UDP {
					t.Errorf("IPv4 fragment %d: id %#x offset %d flags %v protocol %v", i, ip.Id, ip.FragOffset, ip.Flags, ip.Protocol)
				}
				got = append(got, ip.Payload...)
			} else {
				fh := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
				if fh.Identification != 0x1234 || int(fh.FragmentOffset)*8 != len(got) || fh.MoreFragments == last || fh.NextHeader != UDP {
					t.Errorf("IPv6 fragment %d: %+v", i, fh)
				}
				got = append(got, fh.Payload...)
			}
			fragHdr := 0
			if p.Src.Is6() {
				fragHdr = 8
			}
			if !last && len(f) != p.HeaderLen()+p.IPHeaderLen()+fragHdr+1400 {
				t.Errorf("fragment %d: %d bytes", i, len(f))
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: fragments reassemble to %d bytes, not the packet's %d", p.Src, len(got), len(want))
		}
	}
}

func TestARPRequest(t *testing.T) {
	l := Tagged(hostMAC, BroadcastMAC, 300)
	pkt := decode(t, ARPRequest(l, netip.MustParseAddr("100.64.0.10"), netip.MustParseAddr("100.64.0.1")))
	if et := checkLink(t, pkt, l); et != layers.EthernetTypeARP {
		t.Errorf("ethertype %v", et)
	}
	arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp.Operation != layers.ARPRequest || !bytes.Equal(arp.SourceHwAddress, hostMAC) ||
		!bytes.Equal(arp.SourceProtAddress, []byte{100, 64, 0, 10}) || !bytes.Equal(arp.DstProtAddress, []byte{100, 64, 0, 1}) {
		t.Errorf("%+v", arp)
	}
}

func dhcpOption(d *layers.DHCPv4, o layers.DHCPOpt) ([]byte, bool) {
	for _, opt := range d.Options {
		if opt.Type == o {
			return opt.Data, true
		}
	}
	return nil, false
}

func TestDHCPDiscover(t *testing.T) {
	for _, asks := range []bool{false, true} {
		l := Tagged(hostMAC, nil, 100)
		pkt := decode(t, DHCPDiscover{Link: l, Xid: 42, IPv6OnlyPreferred: asks}.Frame())
		l.Dst = BroadcastMAC
		checkLink(t, pkt, l)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ip.SrcIP.Equal(net.IPv4zero) || !ip.DstIP.Equal(net.IPv4bcast) || udp.SrcPort != 68 || udp.DstPort != 67 {
			t.Errorf("%v:%d → %v:%d", ip.SrcIP, udp.SrcPort, ip.DstIP, udp.DstPort)
		}
		d, ok := pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
		if !ok {
			t.Fatal("no DHCPv4")
		}
		mt, _ := dhcpOption(d, layers.DHCPOptMessageType)
		prl, _ := dhcpOption(d, layers.DHCPOptParamsRequest)
		if d.Operation != layers.DHCPOpRequest || d.Xid != 42 || !bytes.Equal(d.ClientHWAddr, hostMAC) || !bytes.Equal(mt, []byte{1}) {
			t.Errorf("%+v", d)
		}
		if got := slices.Contains(prl, 108); got != asks {
			t.Errorf("asks %t: parameter request list %v", asks, prl)
		}
		if !checksumOK(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 17, ip.Payload) {
			t.Error("bad UDP checksum")
		}
	}
}

func TestDHCPOffer(t *testing.T) {
	server := netip.MustParseAddr("100.64.0.1")
	for _, v6only := range []bool{false, true} {
		l := Untagged(routerMAC, nil)
		o := DHCPOffer{Link: l, Client: hostMAC, Xid: 7, Server: server, Offered: netip.MustParseAddr("100.64.3.4"), IPv6OnlyPreferred: v6only, V6OnlyWait: 1800}
		pkt := decode(t, o.Frame())
		l.Dst = BroadcastMAC
		checkLink(t, pkt, l)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		d := pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
		mt, _ := dhcpOption(d, layers.DHCPOptMessageType)
		sid, _ := dhcpOption(d, layers.DHCPOptServerID)
		if !bytes.Equal(mt, []byte{2}) || !bytes.Equal(sid, server.AsSlice()) || !ip.SrcIP.Equal(server.AsSlice()) ||
			!d.YourClientIP.Equal(net.IP{100, 64, 3, 4}) || d.Xid != 7 || !bytes.Equal(d.ClientHWAddr, hostMAC) {
			t.Errorf("OFFER %+v from %v", d, ip.SrcIP)
		}
		v6, has := dhcpOption(d, DHCPOptIPv6OnlyPreferred)
		if has != v6only || (has && !bytes.Equal(v6, []byte{0, 0, 0x07, 0x08})) {
			t.Errorf("option 108: %v %x, want %t with 1800", has, v6, v6only)
		}
	}
}

// parsePREF64 decodes a PREF64 option's data as RFC 8781 section 4 lays it
// out, independently of PREF64Option.
func parsePREF64(t *testing.T, d []byte) (netip.Prefix, uint16) {
	t.Helper()
	if len(d) != 14 {
		t.Fatalf("PREF64 data of %d bytes, want 14 (option length 2)", len(d))
	}
	w := binary.BigEndian.Uint16(d)
	bits := map[uint16]int{0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}[w&7]
	var a [16]byte
	copy(a[:], d[2:])
	return netip.PrefixFrom(netip.AddrFrom16(a), bits).Masked(), w &^ 7
}

func TestRouterAdvertisement(t *testing.T) {
	ll := LinkLocal(routerMAC)
	for _, tc := range []struct {
		pref64 netip.Prefix
		slla   bool
	}{
		{netip.MustParsePrefix("64:ff9b::/96"), true},
		{netip.MustParsePrefix("2001:db8:64::/64"), false},
		{netip.MustParsePrefix("2001:db8::/32"), true},
		{netip.Prefix{}, true},
	} {
		l := Tagged(routerMAC, nil, 100)
		ra := RouterAdvertisement{Link: l, Src: ll, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/64")}, PREF64: tc.pref64, SourceLinkLayer: tc.slla}
		b := ra.Frame()
		pkt := decode(t, b)
		l.Dst = AllNodesMAC
		checkLink(t, pkt, l)
		ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if ip.HopLimit != 255 || !ip.SrcIP.Equal(ll.AsSlice()) || !ip.DstIP.Equal(net.ParseIP("ff02::1")) {
			t.Errorf("IPv6 %v → %v hop limit %d", ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		if !checksumOK(ll, netip.MustParseAddr("ff02::1"), 58, ip.Payload) {
			t.Error("bad ICMPv6 checksum")
		}
		adv, ok := pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
		if !ok {
			t.Fatal("no RA")
		}
		if adv.RouterLifetime != 1800 {
			t.Errorf("router lifetime %d", adv.RouterLifetime)
		}
		var gotSLLA, gotPIO bool
		var gotPREF64 netip.Prefix
		for _, o := range adv.Options {
			switch o.Type {
			case layers.ICMPv6OptSourceAddress:
				gotSLLA = bytes.Equal(o.Data, routerMAC)
			case layers.ICMPv6OptPrefixInfo:
				gotPIO = o.Data[0] == 64 && o.Data[1] == 0xc0 && bytes.Equal(o.Data[14:30], netip.MustParseAddr("2001:db8:100::").AsSlice())
			case 38:
				var lifetime uint16
				gotPREF64, lifetime = parsePREF64(t, o.Data)
				if lifetime != 5400 {
					t.Errorf("PREF64 lifetime %d, want 3 × 1800", lifetime)
				}
			default:
				t.Errorf("option %v", o.Type)
			}
		}
		if gotSLLA != tc.slla || !gotPIO || gotPREF64 != tc.pref64 {
			t.Errorf("%v: SLLA %t PIO %t PREF64 %v", tc.pref64, gotSLLA, gotPIO, gotPREF64)
		}
	}
}

// TestNAT64Address: the examples of RFC 6052 section 2.4.
func TestNAT64Address(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.33")
	for prefix, want := range map[string]string{
		"2001:db8::/32":         "2001:db8:c000:221::",
		"2001:db8:100::/40":     "2001:db8:1c0:2:21::",
		"2001:db8:122::/48":     "2001:db8:122:c000:2:2100::",
		"2001:db8:122:300::/56": "2001:db8:122:3c0:0:221::",
		"2001:db8:122:344::/64": "2001:db8:122:344:c0:2:2100:0",
		"2001:db8:122:344::/96": "2001:db8:122:344::c000:221",
		"64:ff9b::/96":          "64:ff9b::c000:221",
	} {
		if got := NAT64Address(netip.MustParsePrefix(prefix), v4); got != netip.MustParseAddr(want) {
			t.Errorf("%s: %v, want %s", prefix, got, want)
		}
	}
}

func TestLinkLocal(t *testing.T) {
	// RFC 4291 appendix A: 34-56-78-9A-BC-DE → 3656:78FF:FE9A:BCDE.
	if got := LinkLocal(net.HardwareAddr{0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde}); got != netip.MustParseAddr("fe80::3656:78ff:fe9a:bcde") {
		t.Errorf("%v", got)
	}
}
