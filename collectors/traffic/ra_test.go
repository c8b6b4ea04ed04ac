package traffic

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/meetnoc/meetnoc/internal/packetgen"
)

func mustRAPrefix(s string) raPrefix {
	p := netip.MustParsePrefix(s).Masked()
	return raPrefix{addr: p.Addr().As16(), bits: uint8(p.Bits())}
}

// wireOptions returns the ND options of an RA frame as gopacket decodes them,
// in wire order, with the offset of each in the frame. (gopacket serialises an
// RA's options in reverse, so the order is not packetgen's.)
func wireOptions(t *testing.T, b []byte, r Result) (opts layers.ICMPv6Options, offsets []int) {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	l, ok := p.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
	if !ok {
		t.Fatal("gopacket finds no RA")
	}
	off := r.L4Offset + raFixedLen
	for _, o := range l.Options {
		offsets = append(offsets, off)
		off += 2 + len(o.Data)
	}
	return l.Options, offsets
}

func sortedPrefixes(ps []raPrefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}

func TestDecodeRA(t *testing.T) {
	b := ra(100, routerMAC, "fe80::1", "64:ff9b::/96", "2001:db8:100::/64", "2001:db8:100:1::/64")
	var m raMessage
	if !decodeRA(b, classifyOne(t, b), &m) {
		t.Fatal("not decoded")
	}
	if got, want := sortedPrefixes(m.prefixes[:m.nPrefixes]), []string{"2001:db8:100:1::/64", "2001:db8:100::/64"}; !slices.Equal(got, want) {
		t.Errorf("prefixes %v, want %v", got, want)
	}
	m.prefixes = [maxRAPrefixes]raPrefix{}
	want := raMessage{
		srcIP: netip.MustParseAddr("fe80::1").As16(), srcMAC: [6]byte(routerMAC),
		slla: [6]byte(routerMAC), hasSLLA: true, hopLimit: 255, routerLifetime: 1800,
		nPrefixes: 2, nPref64: 1,
	}
	want.pref64[0] = pref64Option{prefix: mustRAPrefix("64:ff9b::/96"), lifetime: 1800, plc: 0, valid: true}
	if m != want {
		t.Fatalf("got  %+v\nwant %+v", m, want)
	}
}

// TestDecodeRAPREF64 covers every PLC (RFC 8781 §4), the lifetime scaling and the
// masking of the bits past the prefix length.
func TestDecodeRAPREF64(t *testing.T) {
	for plc, bits := range []int{96, 64, 56, 48, 40, 32} {
		// All bits set, so that masking to the PLC's length is visible.
		opt := []byte{ndOptPREF64, 2, 0xff, 0xf8 | byte(plc), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		o := decodePREF64(opt)
		want := netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xff, 1: 0xff, 2: 0xff, 3: 0xff, 4: 0xff, 5: 0xff, 6: 0xff, 7: 0xff, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff}), bits).Masked()
		if !o.valid || o.prefix != mustRAPrefix(want.String()) || o.lifetime != 8191*8 || int(o.plc) != plc {
			t.Errorf("PLC %d: got %+v (%s), want %s lifetime 65528", plc, o, o.prefix, want)
		}
	}
	for _, plc := range []byte{6, 7} {
		if o := decodePREF64([]byte{ndOptPREF64, 2, 0, 8 | plc, 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}); o.valid || o.plc != plc || o.lifetime != 8 {
			t.Errorf("PLC %d: got %+v, want invalid", plc, o)
		}
	}
	if o := decodePREF64(make([]byte, 24)); o.valid {
		t.Errorf("length 3 option decoded as valid: %+v", o)
	}
}

func TestDecodeRAOptionWalk(t *testing.T) {
	full := ra(100, routerMAC, "fe80::1", "64:ff9b::/96", "2001:db8:100::/64")
	r := classifyOne(t, full)
	opts := r.L4Offset + raFixedLen
	wire, offsets := wireOptions(t, full, r)
	at := map[layers.ICMPv6Opt]int{}
	for i, o := range wire {
		at[o.Type] = offsets[i]
	}
	pio, pref64, slla := at[layers.ICMPv6OptPrefixInfo], at[packetgen.ICMPv6OptPREF64], at[layers.ICMPv6OptSourceAddress]
	if len(at) != 3 || pio == 0 || pref64 == 0 || slla == 0 {
		t.Fatalf("options at %v", at)
	}

	t.Run("zero length stops the walk", func(t *testing.T) {
		b := append([]byte(nil), full...)
		b[pio+1] = 0
		var m raMessage
		// What comes before the Prefix Information option is read, nothing after.
		if !decodeRA(b, r, &m) || !m.truncated || m.nPrefixes != 0 ||
			m.nPref64 != b2i(pref64 < pio) || m.hasSLLA != (slla < pio) {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("cut at every length", func(t *testing.T) {
		boundaries := append(slices.Clone(offsets), len(full))
		for n := 0; n <= len(full); n++ {
			b := append([]byte(nil), full[:n]...)
			var m raMessage
			ok := decodeRA(b, r, &m)
			if want := n >= opts; ok != want {
				t.Fatalf("len %d: decoded %v, want %v", n, ok, want)
			}
			if !ok {
				continue
			}
			if want := n >= pref64+16; (m.nPref64 == 1) != want {
				t.Fatalf("len %d: %d PREF64 options", n, m.nPref64)
			}
			if want := !slices.Contains(boundaries, n); m.truncated != want {
				t.Fatalf("len %d: truncated %v, want %v", n, m.truncated, want)
			}
		}
	})
	t.Run("payload length bounds the options", func(t *testing.T) {
		b := append(append([]byte(nil), full...), make([]byte, 32)...) // trailing padding
		var m raMessage
		if !decodeRA(b, r, &m) || m.truncated || m.nPref64 != 1 {
			t.Fatalf("with padding: %+v", m)
		}
		binary.BigEndian.PutUint16(b[r.L3Offset+4:], uint16(pref64-r.L4Offset)) // ends where PREF64 begins
		if !decodeRA(b, r, &m) || m.truncated || m.nPref64 != 0 || m.nPrefixes != b2i(pio < pref64) {
			t.Fatalf("short payload length: %+v", m)
		}
	})
	t.Run("not an RA", func(t *testing.T) {
		var m raMessage
		for _, bad := range []Result{{}, {L3Offset: 18, L4Offset: 18}, {L3Offset: -4, L4Offset: 58}, {L3Offset: 18, L4Offset: len(full)}} {
			if decodeRA(full, bad, &m) {
				t.Errorf("decoded with offsets %d/%d", bad.L3Offset, bad.L4Offset)
			}
		}
		b := append([]byte(nil), full...)
		b[r.L4Offset] = 133
		if decodeRA(b, r, &m) {
			t.Error("decoded a Router Solicitation")
		}
		b[r.L4Offset], b[r.L4Offset+1] = 134, 1
		if decodeRA(b, r, &m) {
			t.Error("decoded code 1")
		}
	})
	t.Run("more options than kept", func(t *testing.T) {
		var prefixes []string
		for i := range 10 {
			prefixes = append(prefixes, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 64).String())
		}
		var extra []layers.ICMPv6Option
		for range 6 {
			extra = append(extra, pref64Opt("64:ff9b:1::/48", 600, 0))
		}
		b := withRAOptions(t, ra(100, routerMAC, "fe80::1", "64:ff9b::/96", prefixes...), extra...)
		r := classifyOne(t, b)
		var m raMessage
		if !decodeRA(b, r, &m) {
			t.Fatal("not decoded")
		}
		if m.nPrefixes != maxRAPrefixes || m.morePrefixes != 2 || m.nPref64 != maxRAPref64 || m.morePref64 != 3 {
			t.Fatalf("kept %d+%d prefixes, %d+%d PREF64", m.nPrefixes, m.morePrefixes, m.nPref64, m.morePref64)
		}
		// The first eight on the wire are kept.
		wire, _ := wireOptions(t, b, r)
		var first []raPrefix
		for _, o := range wire {
			if o.Type == layers.ICMPv6OptPrefixInfo && len(first) < maxRAPrefixes {
				first = append(first, mustRAPrefix(netip.PrefixFrom(netip.AddrFrom16([16]byte(o.Data[14:30])), int(o.Data[0])).String()))
			}
		}
		if !slices.Equal(m.prefixes[:], first) {
			t.Fatalf("kept %v, want %v", m.prefixes, first)
		}
	})
}

// TestRealRAPREF64 runs the four RAs of icmpv6-ra-pref64.pcap through the
// classifier and decoder. Expected values from tshark 4.x:
//
//	tshark -r icmpv6-ra-pref64.pcap -Y 'icmpv6.type == 134'                                    → 4 RAs
//	tshark -r icmpv6-ra-pref64.pcap -Y 'icmpv6.type == 134 && icmpv6.opt.type == 38'           → 4 with PREF64
//	tshark -r icmpv6-ra-pref64.pcap -Y 'icmpv6.opt.pref64.prefix == 2001:db8:0:64:ff9b:: && icmpv6.opt.pref64.plc == 0'
//	                                                                                            → 2 (frames 3, 4)
//	tshark -r icmpv6-ra-pref64.pcap -Y 'icmpv6.opt.pref64.plc > 5'                             → 1 (frame 2, PLC 6: invalid)
//	tshark -r icmpv6-ra-pref64.pcap -T fields -e icmpv6.opt.pref64.scaled_lifetime -e icmpv6.opt.pref64.plc -e icmpv6.opt.pref64.prefix
//	    → 0 0 2001:db8:1:64:ff9b:: | 225 6 (none) | 225 0 2001:db8:0:64:ff9b:: | 8191 0 2001:db8:0:64:ff9b::
//	tshark -r icmpv6-ra-pref64.pcap -Y 'ipv6.src == fe80::e015:81ff:feb4:b945 && icmpv6.opt.linkaddr == e2:15:81:b4:b9:45' → 4
//
// So with nat64_prefixes [2001:db8:0:64:ff9b::/96]: 2 match, 2 mismatch (a
// different /96, and an invalid PLC), 0 absent.
func TestRealRAPREF64(t *testing.T) {
	const ras, match, mismatch, absent = 4, 2, 2, 0
	frames := readCapture(t, "icmpv6-ra-pref64.pcap")
	if len(frames) != ras {
		t.Fatalf("%d frames, want %d", len(frames), ras)
	}
	for _, tc := range []struct {
		name    string
		routers []string
		allowed bool
	}{
		{"router by address", []string{"fe80::e015:81ff:feb4:b945"}, true},
		{"router by MAC", []string{"e2:15:81:b4:b9:45"}, true},
		{"no routers, all allowed", nil, true},
		{"another router", []string{"fe80::1", "02:00:00:00:00:fe"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := eventsConfig()
			cfg.SSIDs[0].Routers = tc.routers
			cfg.NAT64Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:0:64:ff9b::/96")}
			c, err := NewClassifier(cfg, "ietf")
			if err != nil {
				t.Fatal(err)
			}
			d := newTestDecoder(t, cfg, nil)
			ev := newEvents(len(c.SSIDNames()))
			observeFrames(t, c, d, ev, 1, frames...)
			var want [2][numPref64]uint64
			want[b2i(tc.allowed)] = [numPref64]uint64{pref64Match: match, pref64Mismatch: mismatch, pref64Absent: absent}
			if got := ev.ssids[1].ras; got != want {
				t.Fatalf("RAs [allowed][match,mismatch,absent] = %v, want %v", got, want)
			}
		})
	}

	// The decoded options, frame by frame, as tshark shows them.
	wantPREF64 := []pref64Option{
		{prefix: mustRAPrefix("2001:db8:1:64:ff9b::/96"), lifetime: 0, valid: true},
		{lifetime: 225 * 8, plc: 6},
		{prefix: mustRAPrefix("2001:db8:0:64:ff9b::/96"), lifetime: 225 * 8, valid: true},
		{prefix: mustRAPrefix("2001:db8:0:64:ff9b::/96"), lifetime: 8191 * 8, valid: true},
	}
	wantPIO := []string{"2001:db8:cc:dd::/64", "2001:db8:cc:dd::/64", "2a00:f480:cc:dd::/64", "2001:db8:cc:dd::/64"}
	mac := [6]byte{0xe2, 0x15, 0x81, 0xb4, 0xb9, 0x45}
	for i, b := range frames {
		var m raMessage
		if !decodeRA(b, classifyOne(t, b), &m) {
			t.Fatalf("frame %d not decoded", i+1)
		}
		if m.nPref64 != 1 || m.pref64[0] != wantPREF64[i] || m.nPrefixes != 1 || m.prefixes[0] != mustRAPrefix(wantPIO[i]) ||
			!m.hasSLLA || m.slla != mac || m.srcMAC != mac || m.truncated || m.routerLifetime != 500 ||
			m.srcIP != netip.MustParseAddr("fe80::e015:81ff:feb4:b945").As16() {
			t.Errorf("frame %d: %+v", i+1, m)
		}
	}
}

// TestRealRAWithoutPREF64: icmpv6.pcap's one RA carries RDNSS, DNSSL, MTU,
// advertisement interval and home agent options the decoder skips, and no
// PREF64. tshark -r icmpv6.pcap -Y 'icmpv6.type == 134' → 1 frame;
// -T fields -e icmpv6.opt.prefix -e icmpv6.opt.prefix.length → 2222:3333:4444:5555:6600:: 72;
// -e icmpv6.opt.linkaddr → b0:99:28:c8:d6:6c; router lifetime 15.
func TestRealRAWithoutPREF64(t *testing.T) {
	cfg := eventsConfig()
	c, err := NewClassifier(cfg, "ietf")
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDecoder(t, cfg, nil)
	ev := newEvents(len(c.SSIDNames()))
	var ras int
	cnt := c.NewCounters()
	for _, b := range readCapture(t, "icmpv6.pcap") {
		r := c.Classify(b, len(b), 1, cnt)
		if r.Payload != PayloadRouterAdvertisement {
			continue
		}
		ras++
		d.observe(b, r, 1, ev)
		var m raMessage
		if !decodeRA(b, r, &m) {
			t.Fatal("RA not decoded")
		}
		if m.truncated || m.nPref64 != 0 || m.nPrefixes != 1 || m.prefixes[0] != mustRAPrefix("2222:3333:4444:5555:6600::/72") ||
			m.slla != [6]byte{0xb0, 0x99, 0x28, 0xc8, 0xd6, 0x6c} || m.routerLifetime != 15 {
			t.Errorf("got %+v", m)
		}
	}
	if ras != 1 {
		t.Fatalf("%d RAs, want 1", ras)
	}
	// ietf lists fe80::1 and 02:00:00:00:00:fe only: this router is not allowed.
	if got := ev.ssids[1].ras; got != ([2][numPref64]uint64{0: {pref64Absent: 1}}) {
		t.Fatalf("RAs = %v", got)
	}
}

// FuzzRA feeds arbitrary frames through the classifier and the RA decoder, and
// the decoder again at the offsets of an untagged IPv6/ICMPv6 frame. It must
// never panic, and what it keeps must be within its bounds and consistent.
func FuzzRA(f *testing.F) {
	f.Add(ra(0, routerMAC, "fe80::1", "64:ff9b::/96", "2001:db8:100::/64"))
	f.Add(withRAOptions(f, ra(100, rogueMAC, "fe80::bad", "2001:db8:64::/40"), pref64Opt("64:ff9b::/96", 8, 6)))
	observe := fuzzObserver(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := observe(b, 1)
		var total uint64
		for _, e := range ev.ssids {
			for _, a := range e.ras {
				for _, n := range a {
					total += n
				}
			}
		}
		if total > 1 {
			t.Fatalf("one frame counted %d times", total)
		}
		var m raMessage
		if !decodeRA(b, Result{L3Offset: 14, L4Offset: 54}, &m) {
			return
		}
		if len(b) < 54+raFixedLen || b[54] != 134 || b[55] != 0 {
			t.Fatalf("decoded %d bytes that are no RA", len(b))
		}
		if m.nPrefixes > maxRAPrefixes || m.nPref64 > maxRAPref64 || m.morePrefixes < 0 || m.morePref64 < 0 {
			t.Fatalf("counts out of bounds: %+v", m)
		}
		for _, o := range m.pref64[:m.nPref64] {
			if o.valid && (o.plc > 5 || int(o.prefix.bits) != []int{96, 64, 56, 48, 40, 32}[o.plc]) || !o.valid && o.prefix != (raPrefix{}) {
				t.Fatalf("PREF64 %+v", o)
			}
			if p := netip.PrefixFrom(netip.AddrFrom16(o.prefix.addr), int(o.prefix.bits)); p.Masked() != p {
				t.Fatalf("PREF64 prefix %s not masked", p)
			}
		}
	})
}
