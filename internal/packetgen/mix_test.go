package packetgen

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// meetingMix is the lab's mix in miniature: ietf IPv6-mostly with NAT64 and
// PREF64, ietf-dual-stack, eduroam.
func meetingMix(tagged bool, seed uint64) Mix {
	ssid := func(name string, vlan uint16, i byte, v6, nat64, v4 float64, pref64 string) SSIDMix {
		s := SSIDMix{
			Name: name, VLAN: vlan,
			ClientPrefix6: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(vlan)}), 64),
			ClientPrefix4: netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, 64 * i, 0}), 18),
			IPv6:          v6, NAT64: nat64, IPv4: v4, Up: 0.3, Clients: 500,
			RouterMAC:       net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, i},
			DHCPServer:      netip.AddrFrom4([4]byte{100, 64, 64 * i, 1}),
			RequestIPv6Only: 0.6, OfferIPv6Only: pref64 != "",
		}
		s.RouterLinkLocal = LinkLocal(s.RouterMAC)
		if pref64 != "" {
			s.PREF64 = netip.MustParsePrefix(pref64)
		}
		return s
	}
	return Mix{Tagged: tagged, Seed: seed, SSIDs: []SSIDMix{
		ssid("ietf", 100, 0, 55, 40, 5, "64:ff9b::/96"),
		ssid("ietf-dual-stack", 200, 1, 60, 0, 40, ""),
		ssid("eduroam", 300, 2, 58, 0, 42, ""),
	}}
}

// oracle decodes a generated frame with gopacket and labels it by the rules of
// DESIGN.md, independently of the generator and of the classifier.
func oracle(t *testing.T, m *Mix, f Frame) (vlan uint16, family, direction string) {
	t.Helper()
	p := decode(t, f.Bytes)
	if tag, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		vlan = tag.VLANIdentifier
	}
	s := m.SSIDs[f.SSID]
	var src, dst netip.Addr
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		family = FamilyIPv4
		src, dst = netip.AddrFrom4([4]byte(ip.SrcIP)), netip.AddrFrom4([4]byte(ip.DstIP))
	case *layers.IPv6:
		family = FamilyIPv6
		src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
		if defaultNAT64.Contains(src) || defaultNAT64.Contains(dst) {
			family = FamilyNAT64
		}
	default:
		return vlan, FamilyOther, DirectionOther
	}
	in := func(a netip.Addr) bool { return s.ClientPrefix4.Contains(a) || s.ClientPrefix6.Contains(a) }
	switch {
	case in(src):
		direction = DirectionUp
	case in(dst):
		direction = DirectionDown
	default:
		direction = DirectionOther
	}
	return vlan, family, direction
}

func TestGeneratorData(t *testing.T) {
	for _, tagged := range []bool{true, false} {
		m := meetingMix(tagged, 1)
		g, err := NewGenerator(m)
		if err != nil {
			t.Fatal(err)
		}
		g.SetClients(1, 250) // dual-stack: half of the others' clients
		const n = 30000
		perSSID := make([]int, 3)
		frames := make([]map[string]int, 3)
		up := make([]int, 3)
		var sizes []int
		for range n {
			f := g.Next()
			vlan, family, direction := oracle(t, &m, f)
			wantVLAN := uint16(0)
			if tagged {
				wantVLAN = m.SSIDs[f.SSID].VLAN
			}
			if vlan != wantVLAN || f.VLAN != m.SSIDs[f.SSID].VLAN || family != f.Family || direction != f.Direction || f.Kind != KindData {
				t.Fatalf("frame of %s says VLAN %d %s %s; decoded VLAN %d %s %s", m.SSIDs[f.SSID].Name, f.VLAN, f.Family, f.Direction, vlan, family, direction)
			}
			if frames[f.SSID] == nil {
				frames[f.SSID] = map[string]int{}
			}
			perSSID[f.SSID]++
			frames[f.SSID][family]++
			if direction == DirectionUp {
				up[f.SSID]++
			} else {
				sizes = append(sizes, len(f.Bytes))
			}
			if len(f.Bytes) < 60 || len(f.Bytes) > 1514+4 {
				t.Fatalf("%d-byte frame", len(f.Bytes))
			}
		}
		// SSIDs by clients: 500, 250, 500.
		for i, want := range []float64{0.4, 0.2, 0.4} {
			if got := float64(perSSID[i]) / n; math.Abs(got-want) > 0.02 {
				t.Errorf("tagged %t: SSID %s has %.3f of the frames, want %.2f", tagged, m.SSIDs[i].Name, got, want)
			}
		}
		for i, s := range m.SSIDs {
			total := s.IPv4 + s.IPv6 + s.NAT64
			for fam, want := range map[string]float64{FamilyIPv4: s.IPv4 / total, FamilyIPv6: s.IPv6 / total, FamilyNAT64: s.NAT64 / total} {
				if got := float64(frames[i][fam]) / float64(perSSID[i]); math.Abs(got-want) > 0.025 {
					t.Errorf("tagged %t: %s %s share %.3f, want %.3f", tagged, s.Name, fam, got, want)
				}
			}
			if got := float64(up[i]) / float64(perSSID[i]); math.Abs(got-s.Up) > 0.025 {
				t.Errorf("%s up share %.3f, want %.2f", s.Name, got, s.Up)
			}
		}
		full := 0
		for _, sz := range sizes {
			if sz >= 1514 {
				full++
			}
		}
		if got := float64(full) / float64(len(sizes)); got < 0.75 || got > 0.85 {
			t.Errorf("%.2f of the frames down are full-size, want about 0.8", got)
		}
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	a, _ := NewGenerator(meetingMix(true, 7))
	b, _ := NewGenerator(meetingMix(true, 7))
	c, _ := NewGenerator(meetingMix(true, 8))
	same := 0
	for range 100 {
		fa, fb, fc := a.Next(), b.Next(), c.Next()
		if !bytes.Equal(fa.Bytes, fb.Bytes) {
			t.Fatal("the same seed gave different frames")
		}
		if bytes.Equal(fa.Bytes, fc.Bytes) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 7 and 8 gave %d identical frames of 100", same)
	}
}

func TestGeneratorDHCP(t *testing.T) {
	m := meetingMix(true, 3)
	g, _ := NewGenerator(m)
	for ssid, s := range m.SSIDs {
		asked := 0
		const n = 2000
		for range n {
			d, o := g.DHCPExchange(ssid)
			for _, f := range []Frame{d, o} {
				vlan, family, direction := oracle(t, &m, f)
				if vlan != s.VLAN || family != FamilyIPv4 || direction != f.Direction {
					t.Fatalf("%s: %v frame decodes as VLAN %d %s %s, says %s", s.Name, f.Kind, vlan, family, direction, f.Direction)
				}
			}
			dd := decode(t, d.Bytes).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
			od := decode(t, o.Bytes).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
			prl, _ := dhcpOption(dd, layers.DHCPOptParamsRequest)
			_, has108 := dhcpOption(od, DHCPOptIPv6OnlyPreferred)
			sid, _ := dhcpOption(od, layers.DHCPOptServerID)
			asks := slices.Contains(prl, 108)
			if asks != d.IPv6OnlyPreferred || has108 != o.IPv6OnlyPreferred || has108 != (asks && s.OfferIPv6Only) ||
				dd.Xid != od.Xid || !bytes.Equal(dd.ClientHWAddr, od.ClientHWAddr) || !bytes.Equal(sid, s.DHCPServer.AsSlice()) {
				t.Fatalf("%s: DISCOVER asks %t (says %t), OFFER has 108 %t (says %t), xid %d/%d, server %v", s.Name, asks, d.IPv6OnlyPreferred,
					has108, o.IPv6OnlyPreferred, dd.Xid, od.Xid, sid)
			}
			if !s.ClientPrefix4.Contains(netip.AddrFrom4([4]byte(od.YourClientIP))) || dd.ClientHWAddr[0]&0x02 == 0 {
				t.Fatalf("%s: offered %v to %v", s.Name, od.YourClientIP, dd.ClientHWAddr)
			}
			if asks {
				asked++
			}
		}
		if got := float64(asked) / n; math.Abs(got-s.RequestIPv6Only) > 0.04 {
			t.Errorf("%s: %.3f of DISCOVERs ask for 108, want %.2f", s.Name, got, s.RequestIPv6Only)
		}
	}
}

func TestGeneratorRouterAdvertisements(t *testing.T) {
	m := meetingMix(false, 3)
	g, _ := NewGenerator(m)
	wrong := netip.MustParsePrefix("2001:db8:bad::/96")
	for ssid, s := range m.SSIDs {
		for _, f := range []Frame{g.RouterAdvertisement(ssid), g.RogueRouterAdvertisement(ssid, wrong), g.RogueRouterAdvertisement(ssid, netip.Prefix{})} {
			p := decode(t, f.Bytes)
			eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			ra := p.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
			var pref64, pio netip.Prefix
			for _, o := range ra.Options {
				switch o.Type {
				case 38:
					pref64, _ = parsePREF64(t, o.Data)
				case layers.ICMPv6OptPrefixInfo:
					pio = netip.PrefixFrom(netip.AddrFrom16([16]byte(o.Data[14:30])), int(o.Data[0]))
				}
			}
			rogue := f.Kind == KindRogueRouterAdvertisement
			wantMAC, wantSrc, wantPIO := s.RouterMAC, s.RouterLinkLocal, s.ClientPrefix6
			if rogue {
				wantMAC, wantSrc, wantPIO = RogueMAC, LinkLocal(RogueMAC), RoguePrefix
			}
			if !bytes.Equal(eth.SrcMAC, wantMAC) || !ip.SrcIP.Equal(wantSrc.AsSlice()) || pio != wantPIO || pref64 != f.PREF64 || f.VLAN != s.VLAN {
				t.Errorf("%s rogue %t: RA from %v %v, PIO %v, PREF64 %v (says %v)", s.Name, rogue, eth.SrcMAC, ip.SrcIP, pio, pref64, f.PREF64)
			}
			if !rogue && pref64 != s.PREF64 {
				t.Errorf("%s: PREF64 %v, want %v", s.Name, pref64, s.PREF64)
			}
		}
	}
	if LinkLocal(RogueMAC) == m.SSIDs[0].RouterLinkLocal {
		t.Error("the rogue has the router's address")
	}
}

func TestGeneratorARP(t *testing.T) {
	m := meetingMix(true, 3)
	g, _ := NewGenerator(m)
	f := g.ARP(2)
	if vlan, family, _ := oracle(t, &m, f); vlan != 300 || family != FamilyOther || f.Family != FamilyOther {
		t.Errorf("ARP: VLAN %d family %s", vlan, family)
	}
}

func TestNewGeneratorErrors(t *testing.T) {
	bad := []func(m *Mix){
		func(m *Mix) { m.SSIDs = nil },
		func(m *Mix) { m.SSIDs[0].IPv4, m.SSIDs[0].IPv6, m.SSIDs[0].NAT64 = 0, 0, 0 },
		func(m *Mix) { m.SSIDs[0].Up = 1.5 },
		func(m *Mix) { m.SSIDs[0].ClientPrefix6 = netip.MustParsePrefix("2001:db8::/80") },
		func(m *Mix) { m.SSIDs[0].RouterMAC = nil },
		func(m *Mix) { m.SSIDs[0].FirstClient = -1 },
	}
	for i, f := range bad {
		m := meetingMix(true, 1)
		f(&m)
		if _, err := NewGenerator(m); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

// TestMeanFrameLen: the means callers turn byte rates into packets with are
// those of the frames drawn, within 3 %.
func TestMeanFrameLen(t *testing.T) {
	g, _ := NewGenerator(meetingMix(false, 9))
	for _, up := range []bool{true, false} {
		var sum int
		const n = 20000
		for range n {
			f := g.NextDirected(up)
			if f.Direction != map[bool]string{true: DirectionUp, false: DirectionDown}[up] {
				t.Fatalf("asked up %t, got %s", up, f.Direction)
			}
			sum += len(f.Bytes)
		}
		want := MeanFrameLenDown
		if up {
			want = MeanFrameLenUp
		}
		if got := float64(sum) / n; math.Abs(got-want) > want*0.03 {
			t.Errorf("up %t: mean frame %.1f bytes, constant %.1f", up, got, want)
		}
	}
}

func TestFirstClient(t *testing.T) {
	m := meetingMix(true, 1)
	m.SSIDs[0].FirstClient, m.SSIDs[0].Clients = 3000, 10
	g, _ := NewGenerator(m)
	for range 100 {
		f := g.DataDirected(0, true)
		mac := f.Bytes[6:12]
		if n := int(mac[4])<<8 | int(mac[5]); n < 3000 || n >= 3010 || mac[3] != 0 {
			t.Fatalf("client MAC % x: not client 3000–3009 of SSID 0", mac)
		}
	}
	m.SSIDs[0].FirstClient = 65530
	if _, err := NewGenerator(m); err == nil {
		t.Error("clients beyond 65535 accepted")
	}
}
