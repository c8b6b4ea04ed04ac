package traffic

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// testConfig: ietf on VLAN 100, ietf-dual-stack on VLANs 200 and 201, the
// default NAT64 prefix plus a second one, so that both prefix lists are walked.
func testConfig() *config.Config {
	return &config.Config{
		SSIDs: []config.SSID{
			{Name: "ietf", VLANs: []uint16{100}, ClientPrefixes: []netip.Prefix{
				netip.MustParsePrefix("2001:db8:100::/56"), netip.MustParsePrefix("100.64.0.0/16"),
			}},
			{Name: "ietf-dual-stack", VLANs: []uint16{200, 201}, ClientPrefixes: []netip.Prefix{
				netip.MustParsePrefix("2001:db8:200::/56"), netip.MustParsePrefix("100.65.0.0/16"),
			}},
		},
		NAT64Prefixes: []netip.Prefix{
			netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("2001:db8:64::/96"),
		},
	}
}

func newTestClassifier(t testing.TB, untagged string) *Classifier {
	t.Helper()
	c, err := NewClassifier(testConfig(), untagged)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	routerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}
)

// frame describes a test frame; build serialises it with gopacket.
type frame struct {
	tags      []uint16 // VLAN IDs, outermost first
	outerTPID layers.EthernetType
	src, dst  string // IP addresses; empty for ARP / LLDP
	etherType layers.EthernetType
	udp       [2]uint16 // IPv4/IPv6 UDP ports when non-zero
	icmpv6    uint8     // ICMPv6 type when non-zero
	fragment  uint16    // IPv4 fragment offset (8-byte units)
}

func (f frame) build(t testing.TB) []byte {
	t.Helper()
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: routerMAC}
	ls = append(ls, eth)
	next := &eth.EthernetType
	for i, vid := range f.tags {
		tpid := layers.EthernetTypeDot1Q
		if i == 0 && f.outerTPID != 0 {
			tpid = f.outerTPID
		}
		*next = tpid
		tag := &layers.Dot1Q{VLANIdentifier: vid}
		ls = append(ls, tag)
		next = &tag.Type
	}
	var network gopacket.NetworkLayer
	var ipProto layers.IPProtocol
	switch {
	case f.etherType != 0:
		*next = f.etherType
		if f.etherType == layers.EthernetTypeARP {
			ls = append(ls, &layers.ARP{
				AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
				SourceHwAddress: clientMAC, SourceProtAddress: []byte{100, 64, 0, 5},
				DstHwAddress: make([]byte, 6), DstProtAddress: []byte{100, 64, 0, 1},
			})
		} else {
			// LLDP and the like: an opaque payload is all the classifier may see.
			ls = append(ls, gopacket.Payload([]byte{0x02, 0x07, 0x04, 0x02, 0, 0, 0, 0, 0xfe, 0, 0}))
		}
	case netip.MustParseAddr(f.src).Is4():
		*next = layers.EthernetTypeIPv4
		ipProto = layers.IPProtocolTCP
		if f.udp != [2]uint16{} {
			ipProto = layers.IPProtocolUDP
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto, FragOffset: f.fragment,
			SrcIP: net.IP(netip.MustParseAddr(f.src).AsSlice()), DstIP: net.IP(netip.MustParseAddr(f.dst).AsSlice())}
		ls = append(ls, ip)
		network = ip
	default:
		*next = layers.EthernetTypeIPv6
		ipProto = layers.IPProtocolTCP
		if f.udp != [2]uint16{} {
			ipProto = layers.IPProtocolUDP
		}
		if f.icmpv6 != 0 {
			ipProto = layers.IPProtocolICMPv6
		}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto,
			SrcIP: net.IP(netip.MustParseAddr(f.src).AsSlice()), DstIP: net.IP(netip.MustParseAddr(f.dst).AsSlice())}
		ls = append(ls, ip)
		network = ip
	}
	switch ipProto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: 50000, DstPort: 443, ACK: true, Window: 512}
		if err := tcp.SetNetworkLayerForChecksum(network); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, tcp, gopacket.Payload(make([]byte, 32)))
	case layers.IPProtocolUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.udp[0]), DstPort: layers.UDPPort(f.udp[1])}
		if err := udp.SetNetworkLayerForChecksum(network); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, udp, gopacket.Payload(make([]byte, 32)))
	case layers.IPProtocolICMPv6:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(f.icmpv6, 0)}
		if err := icmp.SetNetworkLayerForChecksum(network); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, icmp, gopacket.Payload(make([]byte, 12)))
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

type classifyCase struct {
	name      string
	frame     frame
	ssid      string
	family    Family
	direction Direction
	payload   Payload
	vlan      uint16
}

var classifyCases = []classifyCase{
	{name: "untagged ipv4 up", frame: frame{src: "100.64.1.2", dst: "192.0.2.10"},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionUp},
	{name: "802.1Q ipv4 up", frame: frame{tags: []uint16{100}, src: "100.64.1.2", dst: "192.0.2.10"},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionUp, vlan: 100},
	{name: "802.1Q ipv4 down", frame: frame{tags: []uint16{200}, src: "192.0.2.10", dst: "100.65.3.4"},
		ssid: "ietf-dual-stack", family: FamilyIPv4, direction: DirectionDown, vlan: 200},
	{name: "802.1Q ipv4 other (neither address a client)", frame: frame{tags: []uint16{100}, src: "192.0.2.10", dst: "198.51.100.1"},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionOther, vlan: 100},
	{name: "802.1Q ipv4 client of another SSID is other", frame: frame{tags: []uint16{100}, src: "100.65.1.1", dst: "192.0.2.10"},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionOther, vlan: 100},
	{name: "second VLAN of an SSID", frame: frame{tags: []uint16{201}, src: "2001:db8:200:ff::9", dst: "2001:db8:ffff::1"},
		ssid: "ietf-dual-stack", family: FamilyIPv6, direction: DirectionUp, vlan: 201},
	{name: "802.1Q ipv6 up", frame: frame{tags: []uint16{100}, src: "2001:db8:100:ff::1", dst: "2001:db8:ffff::1"},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionUp, vlan: 100},
	{name: "802.1Q ipv6 down", frame: frame{tags: []uint16{100}, src: "2001:db8:ffff::1", dst: "2001:db8:100:ff::1"},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionDown, vlan: 100},
	{name: "ipv6 just outside the /56 is other", frame: frame{tags: []uint16{100}, src: "2001:db8:101::1", dst: "2001:db8:ffff::1"},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionOther, vlan: 100},
	{name: "nat64 up (destination in 64:ff9b::/96)", frame: frame{tags: []uint16{100}, src: "2001:db8:100::77", dst: "64:ff9b::c000:20a"},
		ssid: "ietf", family: FamilyNAT64, direction: DirectionUp, vlan: 100},
	{name: "nat64 down (source in 64:ff9b::/96)", frame: frame{tags: []uint16{100}, src: "64:ff9b::c000:20a", dst: "2001:db8:100::77"},
		ssid: "ietf", family: FamilyNAT64, direction: DirectionDown, vlan: 100},
	{name: "nat64 second prefix", frame: frame{tags: []uint16{200}, src: "2001:db8:200::5", dst: "2001:db8:64::c633:6401"},
		ssid: "ietf-dual-stack", family: FamilyNAT64, direction: DirectionUp, vlan: 200},
	{name: "64:ff9b:1:: is not in the /96", frame: frame{tags: []uint16{100}, src: "2001:db8:100::77", dst: "64:ff9b:1::c000:20a"},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionUp, vlan: 100},
	{name: "QinQ 0x88a8: outer VLAN picks the SSID", frame: frame{tags: []uint16{200, 100}, outerTPID: layers.EthernetTypeQinQ, src: "100.65.0.9", dst: "192.0.2.1"},
		ssid: "ietf-dual-stack", family: FamilyIPv4, direction: DirectionUp, vlan: 200},
	{name: "QinQ 0x9100 ipv6", frame: frame{tags: []uint16{100, 200}, outerTPID: 0x9100, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionDown, vlan: 100},
	{name: "triple tag", frame: frame{tags: []uint16{201, 7, 8}, outerTPID: layers.EthernetTypeQinQ, src: "2001:db8:200::1", dst: "64:ff9b::1"},
		ssid: "ietf-dual-stack", family: FamilyNAT64, direction: DirectionUp, vlan: 201},
	{name: "unknown VLAN", frame: frame{tags: []uint16{999}, src: "100.64.1.2", dst: "192.0.2.10"},
		ssid: UnknownSSID, family: FamilyIPv4, direction: DirectionOther, vlan: 999},
	{name: "priority tag (VLAN 0) is untagged", frame: frame{tags: []uint16{0}, src: "100.64.1.2", dst: "192.0.2.10"},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionUp},
	{name: "ARP", frame: frame{tags: []uint16{100}, etherType: layers.EthernetTypeARP},
		ssid: "ietf", family: FamilyOther, direction: DirectionOther, vlan: 100},
	{name: "LLDP untagged", frame: frame{etherType: layers.EthernetTypeLinkLayerDiscovery},
		ssid: "ietf", family: FamilyOther, direction: DirectionOther},
	{name: "DHCPv4 DISCOVER", frame: frame{tags: []uint16{100}, src: "0.0.0.0", dst: "255.255.255.255", udp: [2]uint16{68, 67}},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionOther, payload: PayloadDHCPv4, vlan: 100},
	{name: "DHCPv4 OFFER", frame: frame{tags: []uint16{100}, src: "100.64.0.1", dst: "100.64.9.9", udp: [2]uint16{67, 68}},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionUp, payload: PayloadDHCPv4, vlan: 100},
	{name: "IPv4 non-first fragment to port 67 is no DHCP", frame: frame{tags: []uint16{100}, src: "192.0.2.1", dst: "100.64.9.9", udp: [2]uint16{67, 68}, fragment: 185},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionDown, vlan: 100},
	{name: "other UDP", frame: frame{tags: []uint16{100}, src: "100.64.9.9", dst: "192.0.2.53", udp: [2]uint16{5353, 53}},
		ssid: "ietf", family: FamilyIPv4, direction: DirectionUp, vlan: 100},
	{name: "Router Advertisement", frame: frame{tags: []uint16{100}, src: "fe80::1", dst: "ff02::1", icmpv6: 134},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionOther, payload: PayloadRouterAdvertisement, vlan: 100},
	{name: "Router Solicitation is no RA", frame: frame{tags: []uint16{100}, src: "2001:db8:100::5", dst: "ff02::2", icmpv6: 133},
		ssid: "ietf", family: FamilyIPv6, direction: DirectionUp, vlan: 100},
}

func TestClassify(t *testing.T) {
	c := newTestClassifier(t, "ietf")
	for _, tc := range classifyCases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.frame.build(t)
			cnt := c.NewCounters()
			const wireLen, weight = 1514, 1000
			r := c.Classify(b, wireLen, weight, cnt)
			if got := c.SSIDNames()[r.SSID]; got != tc.ssid || r.Family != tc.family || r.Direction != tc.direction || r.Payload != tc.payload || r.VLAN != tc.vlan {
				t.Fatalf("got ssid=%s family=%s direction=%s payload=%d vlan=%d, want %s %s %s %d %d",
					got, r.Family, r.Direction, r.Payload, r.VLAN, tc.ssid, tc.family, tc.direction, tc.payload, tc.vlan)
			}
			want := Cell{Packets: weight, Bytes: wireLen * weight}
			if got := cnt.Cell(r.SSID, tc.family, tc.direction); got != want {
				t.Fatalf("cell = %+v, want %+v", got, want)
			}
			if total := sumAll(cnt); total != want {
				t.Fatalf("counted elsewhere too: total %+v, want %+v", total, want)
			}
			checkOffsets(t, b, r)
		})
	}
}

// checkOffsets verifies L3Offset/L4Offset against gopacket's own decode.
func checkOffsets(t *testing.T, b []byte, r Result) {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if nl := p.NetworkLayer(); nl != nil && r.Family != FamilyOther {
		if want := len(b) - len(nl.LayerContents()) - len(nl.LayerPayload()); r.L3Offset != want {
			t.Errorf("L3Offset = %d, want %d", r.L3Offset, want)
		}
	}
	if r.Payload != PayloadNone {
		var want int
		if tl := p.TransportLayer(); tl != nil {
			want = len(b) - len(tl.LayerContents()) - len(tl.LayerPayload())
		} else if l := p.Layer(layers.LayerTypeICMPv6); l != nil {
			want = len(b) - len(l.LayerContents()) - len(l.LayerPayload())
		}
		if r.L4Offset != want {
			t.Errorf("L4Offset = %d, want %d", r.L4Offset, want)
		}
	}
}

func sumAll(c *Counters) Cell {
	var total Cell
	for s := range c.cells {
		for f := range c.cells[s] {
			for _, cell := range c.cells[s][f] {
				total.Packets += cell.Packets
				total.Bytes += cell.Bytes
			}
		}
	}
	return total
}

func TestUntaggedWithoutSSIDIsUnknown(t *testing.T) {
	c := newTestClassifier(t, "")
	b := frame{src: "100.64.1.2", dst: "192.0.2.10"}.build(t)
	r := c.Classify(b, len(b), 1, c.NewCounters())
	// Unknown has no client prefixes, so no direction either.
	if r.SSID != 0 || r.Family != FamilyIPv4 || r.Direction != DirectionOther {
		t.Fatalf("got %+v, want unknown/ipv4/other", r)
	}
}

func TestNewClassifierErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate   func(*config.Config)
		untagged string
		want     string
	}{
		"untagged SSID not configured": {func(*config.Config) {}, "nope", `untagged SSID "nope"`},
		"reserved name":                {func(c *config.Config) { c.SSIDs[0].Name = UnknownSSID }, "", "reserved"},
		"duplicate SSID":               {func(c *config.Config) { c.SSIDs[1].Name = "ietf" }, "", "configured twice"},
		"duplicate VLAN":               {func(c *config.Config) { c.SSIDs[1].VLANs = []uint16{100} }, "", `already belongs to SSID "ietf"`},
		"VLAN 0":                       {func(c *config.Config) { c.SSIDs[0].VLANs = []uint16{0} }, "", "outside"},
		"VLAN 4095":                    {func(c *config.Config) { c.SSIDs[0].VLANs = []uint16{4095} }, "", "outside"},
		"IPv4 NAT64 prefix": {func(c *config.Config) {
			c.NAT64Prefixes = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		}, "", "not an IPv6 prefix"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(cfg)
			_, err := NewClassifier(cfg, tc.untagged)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestTruncated cuts frames at every length from 0 to the full frame: never a
// panic, and the class is what the remaining bytes allow.
func TestTruncated(t *testing.T) {
	c := newTestClassifier(t, "ietf")
	type want struct {
		ssid      string
		family    Family
		direction Direction
	}
	cases := []struct {
		name  string
		frame frame
		// at returns the expected class of the first n bytes.
		at func(n int) want
	}{
		{"QinQ ipv6 down", frame{tags: []uint16{200, 100}, outerTPID: layers.EthernetTypeQinQ, src: "2001:db8:ffff::1", dst: "2001:db8:200::1"},
			func(n int) want {
				switch {
				case n < 14:
					return want{"ietf", FamilyOther, DirectionOther} // not even an ethertype: untagged
				case n < 18:
					return want{UnknownSSID, FamilyOther, DirectionOther} // tagged, VLAN ID cut off
				case n < 22:
					return want{"ietf-dual-stack", FamilyOther, DirectionOther} // inner tag cut off
				case n < 22+40:
					return want{"ietf-dual-stack", FamilyIPv6, DirectionOther} // destination cut off
				default:
					return want{"ietf-dual-stack", FamilyIPv6, DirectionDown}
				}
			}},
		{"802.1Q ipv4 up", frame{tags: []uint16{100}, src: "100.64.0.3", dst: "192.0.2.1"},
			func(n int) want {
				switch {
				case n < 14:
					return want{"ietf", FamilyOther, DirectionOther}
				case n < 18:
					return want{UnknownSSID, FamilyOther, DirectionOther}
				case n < 18+16:
					return want{"ietf", FamilyIPv4, DirectionOther} // source cut off
				default:
					return want{"ietf", FamilyIPv4, DirectionUp}
				}
			}},
		{"untagged nat64 down", frame{src: "64:ff9b::c000:201", dst: "2001:db8:100::1"},
			func(n int) want {
				switch {
				case n < 14:
					return want{"ietf", FamilyOther, DirectionOther}
				case n < 14+24:
					return want{"ietf", FamilyIPv6, DirectionOther}
				case n < 14+40:
					return want{"ietf", FamilyNAT64, DirectionOther} // the source alone says nat64
				default:
					return want{"ietf", FamilyNAT64, DirectionDown}
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			full := tc.frame.build(t)
			for n := 0; n <= len(full); n++ {
				// A copy of exactly n bytes, so that reading past it is caught
				// as an out-of-range panic rather than hidden by capacity.
				b := append([]byte(nil), full[:n]...)
				cnt := c.NewCounters()
				r := c.Classify(b, len(full), 3, cnt)
				w := tc.at(n)
				if got := c.SSIDNames()[r.SSID]; got != w.ssid || r.Family != w.family || r.Direction != w.direction {
					t.Fatalf("len %d: got %s/%s/%s, want %s/%s/%s", n, got, r.Family, r.Direction, w.ssid, w.family, w.direction)
				}
				if got := cnt.Cell(r.SSID, r.Family, r.Direction); got != (Cell{Packets: 3, Bytes: 3 * uint64(len(full))}) {
					t.Fatalf("len %d: cell %+v: bytes must be the wire length × weight", n, got)
				}
			}
		})
	}
}

func TestWeightsAccumulate(t *testing.T) {
	c := newTestClassifier(t, "")
	up := frame{tags: []uint16{100}, src: "2001:db8:100::1", dst: "64:ff9b::1"}.build(t)
	down := frame{tags: []uint16{100}, src: "64:ff9b::1", dst: "2001:db8:100::1"}.build(t)
	cnt := c.NewCounters()
	c.Classify(up, 1500, 1, cnt)
	c.Classify(up, 100, 512, cnt)
	c.Classify(down, 9000, 4096, cnt) // jumbo, sampled 1:4096
	c.Classify(down, -1, 2, cnt)      // nonsense length counts packets, no bytes
	if got, want := cnt.Cell(1, FamilyNAT64, DirectionUp), (Cell{Packets: 513, Bytes: 1500 + 100*512}); got != want {
		t.Errorf("up = %+v, want %+v", got, want)
	}
	if got, want := cnt.Cell(1, FamilyNAT64, DirectionDown), (Cell{Packets: 4098, Bytes: 9000 * 4096}); got != want {
		t.Errorf("down = %+v, want %+v", got, want)
	}
}

// testdataDir finds ../shared/testdata next to the repository root.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func openCapture(t *testing.T, name string) packetSource {
	t.Helper()
	path := filepath.Join(testenv.SharedTestdata(t), "pcaps", name)
	f, err := os.Open(path)
	if err != nil {
		testenv.Missing(t, "shared capture: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if strings.HasSuffix(name, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// classifyCapture runs every frame of a capture through c, like the pcap source will.
func classifyCapture(t *testing.T, c *Classifier, name string) (*Counters, []Result) {
	t.Helper()
	src := openCapture(t, name)
	cnt := c.NewCounters()
	var results []Result
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return cnt, results
		}
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, c.Classify(data, ci.Length, 1, cnt))
	}
}

// TestRealQinQCapture: Wireshark's 802.1ad_QinQ.pcap holds two ARP frames (request
// and reply) with outer S-VLAN 200 (TPID 0x88a8) and inner C-VLAN 2001.
func TestRealQinQCapture(t *testing.T) {
	c := newTestClassifier(t, "")
	cnt, results := classifyCapture(t, c, "802.1ad_QinQ.pcap")
	if len(results) != 2 {
		t.Fatalf("%d frames, want 2", len(results))
	}
	for _, r := range results {
		if r.VLAN != 200 {
			t.Errorf("outer VLAN = %d, want 200", r.VLAN)
		}
	}
	if got, want := cnt.Cell(2, FamilyOther, DirectionOther), (Cell{Packets: 2, Bytes: 2 * 64}); got != want {
		t.Fatalf("ietf-dual-stack/other/other = %+v, want %+v", got, want)
	}
	if got := sumAll(cnt); got.Packets != 2 {
		t.Fatalf("frames counted elsewhere: total %+v", got)
	}
}

// TestRealPayloadHints: the real DHCP option-108 exchange and PREF64 RAs are
// flagged for the deeper decoders; the hints agree with gopacket's full decode.
func TestRealPayloadHints(t *testing.T) {
	c := newTestClassifier(t, "ietf")
	for _, tc := range []struct {
		capture string
		payload Payload
		isIt    func(gopacket.Packet) bool
	}{
		{"dhcp-option-108.pcapng", PayloadDHCPv4, func(p gopacket.Packet) bool { return p.Layer(layers.LayerTypeDHCPv4) != nil }},
		{"icmpv6-ra-pref64.pcap", PayloadRouterAdvertisement, func(p gopacket.Packet) bool {
			return p.Layer(layers.LayerTypeICMPv6RouterAdvertisement) != nil
		}},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			src := openCapture(t, tc.capture)
			cnt := c.NewCounters()
			var flagged int
			for {
				data, ci, err := src.ReadPacketData()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				r := c.Classify(data, ci.Length, 1, cnt)
				want := tc.isIt(gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default))
				if got := r.Payload == tc.payload; got != want {
					t.Fatalf("frame %d: payload hint %d, gopacket says %v", flagged, r.Payload, want)
				}
				if want {
					flagged++
				}
			}
			if flagged == 0 {
				t.Fatalf("no %d frame in %s", tc.payload, tc.capture)
			}
			t.Logf("%d frames flagged", flagged)
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases {
		f.Add(tc.frame.build(f))
	}
	c := newTestClassifier(f, "ietf")
	cnt := c.NewCounters()
	f.Fuzz(func(t *testing.T, b []byte) {
		r := c.Classify(b, len(b), 1, cnt)
		if r.SSID < 0 || r.SSID >= len(c.SSIDNames()) || r.Family >= NumFamilies || r.Direction >= NumDirections {
			t.Fatalf("result out of range: %+v", r)
		}
		if r.Family == FamilyOther && r.Direction != DirectionOther {
			t.Fatalf("non-IP frame with a direction: %+v", r)
		}
		if r.L3Offset > len(b) || r.L4Offset > len(b) || (r.L4Offset != 0 && r.L4Offset <= r.L3Offset) {
			t.Fatalf("offsets out of range for %d bytes: %+v", len(b), r)
		}
	})
}

// BenchmarkClassify runs a meeting-like mix: mostly IPv6 and NAT64 on VLAN 100,
// dual-stack on QinQ 200, some IPv4, ARP, a DHCP and an RA frame, an unknown VLAN.
func BenchmarkClassify(b *testing.B) {
	c := newTestClassifier(b, "ietf")
	mix := []frame{
		{tags: []uint16{100}, src: "2001:db8:100::1", dst: "2001:db8:ffff::1"},
		{tags: []uint16{100}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
		{tags: []uint16{100}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
		{tags: []uint16{100}, src: "64:ff9b::c000:201", dst: "2001:db8:100::1"},
		{tags: []uint16{100}, src: "64:ff9b::c000:201", dst: "2001:db8:100::1"},
		{tags: []uint16{100}, src: "2001:db8:100::1", dst: "64:ff9b::c000:201"},
		{tags: []uint16{200, 10}, outerTPID: layers.EthernetTypeQinQ, src: "2001:db8:ffff::1", dst: "2001:db8:200::1"},
		{tags: []uint16{200, 10}, outerTPID: layers.EthernetTypeQinQ, src: "192.0.2.1", dst: "100.65.0.1"},
		{tags: []uint16{201}, src: "100.65.0.1", dst: "192.0.2.1"},
		{tags: []uint16{201}, src: "2001:db8:200::1", dst: "2001:db8:ffff::1"},
		{tags: []uint16{100}, etherType: layers.EthernetTypeARP},
		{tags: []uint16{100}, src: "0.0.0.0", dst: "255.255.255.255", udp: [2]uint16{68, 67}},
		{tags: []uint16{100}, src: "fe80::1", dst: "ff02::1", icmpv6: 134},
		{tags: []uint16{999}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
		{src: "100.64.0.1", dst: "192.0.2.1"},
		{tags: []uint16{100}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
	}
	frames := make([][]byte, len(mix))
	for i, f := range mix {
		frames[i] = f.build(b)
	}
	cnt := c.NewCounters()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		fr := frames[i&(len(frames)-1)]
		c.Classify(fr, len(fr), 1, cnt)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}
