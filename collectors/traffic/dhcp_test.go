package traffic

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func classifyOne(t testing.TB, b []byte) Result {
	t.Helper()
	c := newTestClassifier(t, "")
	return c.Classify(b, len(b), 1, c.NewCounters())
}

func TestDecodeDHCPv4(t *testing.T) {
	b := fromIP(t, offer(100, dhcpServerMAC, "100.64.0.1", true), "100.64.255.254")
	var m dhcpMessage
	if !decodeDHCPv4(b, classifyOne(t, b), &m) {
		t.Fatal("not decoded")
	}
	want := dhcpMessage{op: 2, msgType: dhcpOffer, has108: true, v6OnlyWait: 900,
		hasServerID: true, serverID: [4]byte{100, 64, 0, 1}, srcIP: [4]byte{100, 64, 255, 254},
		chaddr: [6]byte(clientMAC), srcMAC: [6]byte(dhcpServerMAC)}
	if m != want {
		t.Fatalf("OFFER\n got  %+v\n want %+v", m, want)
	}

	for _, ask108 := range []bool{false, true} {
		b = discover(0, ask108)
		if !decodeDHCPv4(b, classifyOne(t, b), &m) {
			t.Fatal("not decoded")
		}
		want = dhcpMessage{op: 1, msgType: dhcpDiscover, requests108: ask108, chaddr: [6]byte(clientMAC), srcMAC: [6]byte(clientMAC)}
		if m != want {
			t.Fatalf("DISCOVER\n got  %+v\n want %+v", m, want)
		}
	}
}

// overloaded is a DISCOVER without 108 in its options field whose option 52
// (value 3, RFC 2132 §9.3) puts more options in the file field (a Parameter
// Request List with 108) and the sname field (a server identifier).
func overloaded(t testing.TB, overload byte) []byte {
	return rebuild(t, discover(100, false), func(p gopacket.Packet) {
		d := dhcpOf(p)
		d.File = make([]byte, dhcpFileLen)
		copy(d.File, []byte{dhcpOptPad, dhcpOptParamRequestList, 2, 3, 108, dhcpOptEnd})
		d.ServerName = make([]byte, dhcpSnameLen)
		copy(d.ServerName, []byte{dhcpOptServerID, 4, 192, 0, 2, 1, dhcpOptEnd})
		if overload != 0 {
			d.Options = append(d.Options, layers.NewDHCPOption(layers.DHCPOptExtOptions, []byte{overload}))
		}
	})
}

func TestDecodeDHCPv4Overload(t *testing.T) {
	for _, tc := range []struct {
		overload             byte
		requests108, support bool
	}{
		{0, false, false}, // without option 52, file and sname are no options
		{1, true, false},
		{2, false, true},
		{3, true, true},
	} {
		b := overloaded(t, tc.overload)
		var m dhcpMessage
		if !decodeDHCPv4(b, classifyOne(t, b), &m) {
			t.Fatal("not decoded")
		}
		if m.msgType != dhcpDiscover || m.requests108 != tc.requests108 || m.hasServerID != tc.support ||
			(tc.support && m.serverID != [4]byte{192, 0, 2, 1}) {
			t.Errorf("overload %d: %+v", tc.overload, m)
		}
	}
}

func TestDecodeDHCPv4Rejects(t *testing.T) {
	good := discover(100, true)
	r := classifyOne(t, good)
	cookie := r.L4Offset + udpHeaderLen + dhcpCookieOff
	var m dhcpMessage

	bad := append([]byte(nil), good...)
	bad[cookie] ^= 0xff
	if decodeDHCPv4(bad, r, &m) {
		t.Error("decoded without the magic cookie")
	}
	for _, r := range []Result{
		{}, {L3Offset: 18, L4Offset: 0}, {L3Offset: 18, L4Offset: len(good)}, {L3Offset: -1, L4Offset: 38},
		{L3Offset: 18, L4Offset: 1 << 30},
	} {
		if decodeDHCPv4(good, r, &m) {
			t.Errorf("decoded with offsets %d/%d", r.L3Offset, r.L4Offset)
		}
	}

	// Cut at every length: never a panic; the fixed part and cookie are needed,
	// and 108 is seen once the Parameter Request List is whole. packetgen's
	// DISCOVER starts with option 53 (3 bytes), then 55 with 7 codes, 108 last.
	prlEnd := cookie + 4 + 3 + 2 + 7
	if good[prlEnd-1] != 108 {
		t.Fatalf("packetgen's DISCOVER changed: % x", good[cookie+4:prlEnd])
	}
	for n := 0; n <= len(good); n++ {
		b := append([]byte(nil), good[:n]...)
		ok := decodeDHCPv4(b, r, &m)
		if want := n >= cookie+4; ok != want {
			t.Fatalf("len %d: decoded %v, want %v", n, ok, want)
		}
		if want := n >= prlEnd; ok && m.requests108 != want {
			t.Fatalf("len %d: requests108 %v, want %v", n, m.requests108, want)
		}
	}
}

func TestDecodeDHCPv4UDPLength(t *testing.T) {
	// A UDP length shorter than the frame (Ethernet padding, or a lying
	// header) bounds the options: 108 past it is not read.
	b := discover(100, true)
	r := classifyOne(t, b)
	binary.BigEndian.PutUint16(b[r.L4Offset+4:], udpHeaderLen+dhcpOptionsOff+3+2)
	var m dhcpMessage
	if !decodeDHCPv4(b, r, &m) || m.msgType != dhcpDiscover || m.requests108 {
		t.Fatalf("got %+v", m)
	}
}

// TestRealDHCPOption108 runs the IETF network's DISCOVER/OFFER exchange
// through the classifier and decoder. Expected values from tshark 4.x:
//
//	tshark -r dhcp-option-108.pcapng -Y 'dhcp.option.dhcp == 1'                                       → 1 frame
//	tshark -r dhcp-option-108.pcapng -Y 'dhcp.option.dhcp == 1 && dhcp.option.request_list_item == 108' → 1
//	tshark -r dhcp-option-108.pcapng -Y 'dhcp.option.dhcp == 2'                                       → 1
//	tshark -r dhcp-option-108.pcapng -Y 'dhcp.option.dhcp == 2 && dhcp.option.type == 108'             → 1 (value 0x384 = 900 s)
//	tshark -r dhcp-option-108.pcapng -Y 'dhcp.option.dhcp_server_id == 31.130.229.6'                  → 1 (the OFFER, from relay 10.56.0.2, MAC 98:49:25:13:25:40)
func TestRealDHCPOption108(t *testing.T) {
	const (
		discovers, discovers108 = 1, 1
		offers, offers108       = 1, 1
	)
	frames := readCapture(t, "dhcp-option-108.pcapng")
	for _, tc := range []struct {
		name    string
		servers []netip.Addr
		allowed bool
	}{
		{"server identifier allowed", []netip.Addr{netip.MustParseAddr("31.130.229.6")}, true},
		{"relay source allowed", []netip.Addr{netip.MustParseAddr("10.56.0.2")}, true},
		{"no list, all allowed", nil, true},
		{"other server only", []netip.Addr{netip.MustParseAddr("31.130.229.7")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := eventsConfig()
			cfg.SSIDs[0].DHCPServers = tc.servers
			c, err := NewClassifier(cfg, "ietf") // the capture is untagged
			if err != nil {
				t.Fatal(err)
			}
			d := newTestDecoder(t, cfg, nil)
			ev := newEvents(len(c.SSIDNames()))
			observeFrames(t, c, d, ev, 1, frames...)
			e := ev.ssids[1]
			if e.discovers != discovers || e.discovers108 != discovers108 {
				t.Errorf("discovers %d, asking for 108 %d; want %d, %d", e.discovers, e.discovers108, discovers, discovers108)
			}
			want := [2][2]uint64{}
			want[b2i(tc.allowed)][1] = offers108
			want[b2i(tc.allowed)][0] = offers - offers108
			if e.offers != want {
				t.Errorf("offers [allowed][ipv6_only] = %v, want %v", e.offers, want)
			}
		})
	}

	// The OFFER's fields, as tshark -V shows them.
	var m dhcpMessage
	if !decodeDHCPv4(frames[1], classifyOne(t, frames[1]), &m) {
		t.Fatal("OFFER not decoded")
	}
	want := dhcpMessage{op: 2, msgType: dhcpOffer, has108: true, v6OnlyWait: 900,
		hasServerID: true, serverID: [4]byte{31, 130, 229, 6}, srcIP: [4]byte{10, 56, 0, 2},
		chaddr: [6]byte{0x42, 0xb4, 0x44, 0xb4, 0xf0, 0xee}, srcMAC: [6]byte{0x98, 0x49, 0x25, 0x13, 0x25, 0x40}}
	if m != want {
		t.Fatalf("OFFER\n got  %+v\n want %+v", m, want)
	}
}

// readCapture returns every frame of a shared capture.
func readCapture(t *testing.T, name string) [][]byte {
	t.Helper()
	src := openCapture(t, name)
	var frames [][]byte
	for {
		data, _, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, append([]byte(nil), data...))
	}
}

// FuzzDHCPv4 feeds arbitrary frames through the classifier and the DHCP
// decoder, and the decoder again at the offsets of an untagged IPv4/UDP frame
// so that mutations of the ports do not hide the option walk. It must never
// panic, and a decoded message must be consistent with its bytes.
func FuzzDHCPv4(f *testing.F) {
	f.Add(discover(0, true))
	f.Add(offer(100, dhcpServerMAC, "100.64.0.1", true))
	f.Add(overloaded(f, 3))
	observe := fuzzObserver(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := observe(b, 3)
		var total uint64
		for _, e := range ev.ssids {
			total += e.discovers + e.offers[0][0] + e.offers[0][1] + e.offers[1][0] + e.offers[1][1]
			if e.discovers108 > e.discovers {
				t.Fatalf("more DISCOVERs asking for 108 (%d) than DISCOVERs (%d)", e.discovers108, e.discovers)
			}
		}
		if total != 0 && total != 3 {
			t.Fatalf("one frame counted %d times its weight", total/3)
		}
		var m dhcpMessage
		if decodeDHCPv4(b, Result{L3Offset: 14, L4Offset: 34}, &m) {
			if len(b) < 34+udpHeaderLen+dhcpOptionsOff {
				t.Fatalf("decoded a %d-byte frame", len(b))
			}
			if m.srcIP != [4]byte(b[26:30]) || m.op != b[42] {
				t.Fatalf("fields do not come from the frame: %+v", m)
			}
		}
	})
}

// fuzzObserver is what the payload fuzz targets share: the events config's
// classifier and decoder, and a function that classifies one frame and
// observes its payload with weight, returning the events it counted.
func fuzzObserver(f *testing.F) func(b []byte, weight uint64) *Events {
	cfg := eventsConfig()
	c, err := NewClassifier(cfg, "ietf")
	if err != nil {
		f.Fatal(err)
	}
	d := newTestDecoder(f, cfg, newRogueLimiter(nil))
	return func(b []byte, weight uint64) *Events {
		ev := newEvents(len(c.SSIDNames()))
		r := c.Classify(b, len(b), 1, c.NewCounters())
		if r.Payload != PayloadNone {
			d.observe(b, r, weight, ev)
		}
		return ev
	}
}
