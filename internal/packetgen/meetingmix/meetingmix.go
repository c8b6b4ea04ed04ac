// Package meetingmix is the traffic of the benchmark's meeting network: three
// SSIDs as the lab configures them (configs/lab.yml), with the address families,
// directions and frame sizes of a meeting, and the rare frames a mirror port
// also sees — ARP, DHCP exchanges, Router Advertisements, now and then a rogue
// one — in the proportions below. The frames themselves come from
// internal/packetgen; this package only says which ones, in what order, so that
// the capture file of bench/traffic/run.sh and the Go benchmarks of
// collectors/traffic classify the same traffic.
package meetingmix

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
)

// Shares of the rare frames, per data frame. At the 50,000 frames a second of
// a busy meeting's mirror port (FrameGap), that is 500 ARP requests and 50 DHCP
// exchanges a second — a plenary's break, when laptops move between rooms — an
// RA from each SSID's router every 0.6 s and a rogue RA every 2 s.
const (
	ARPShare          = 0.01
	DHCPShare         = 0.001
	RouterAdvertEvery = 10_000  // frames between two RAs, taking the SSIDs in turn
	RogueRAEvery      = 100_000 // frames between two rogue RAs (on ietf-dual-stack)
)

// FrameGap is the time between two frames of a capture: 50,000 frames a
// second, about 400 Mbit/s at the mix's mean frame of ~1 kB.
const FrameGap = 20_000 // nanoseconds

// NAT64Prefix is the NAT64 prefix of the mix and of its config.
var NAT64Prefix = netip.MustParsePrefix("64:ff9b::/96")

// Mix returns the meeting mix. tagged puts each frame's VLAN in an 802.1Q tag,
// as a mirror port of the SSIDs' trunk sees them; untagged frames are what a
// switch samples for sFlow, naming the VLAN in the extended switch record.
//
//   - ietf (VLAN 100, 700 clients): the IPv6-mostly network, option 108 asked by
//     three clients in four and granted: IPv6 55 %, NAT64 38 %, IPv4 7 %.
//   - ietf-dual-stack (VLAN 200, 300 clients): IPv6 60 %, IPv4 40 %.
//   - eduroam (VLAN 300, 100 clients): IPv6 45 %, IPv4 55 %.
//
// On each, 30 % of the data frames are sent by clients (mostly ACKs) and 70 %
// to them (mostly full-size).
func Mix(seed uint64, tagged bool) packetgen.Mix {
	ssid := func(name string, vlan uint16, v4, v6 string, ipv6, nat64, ipv4 float64, clients int,
		pref64 netip.Prefix, ask108 float64, offer108 bool) packetgen.SSIDMix {
		p4 := netip.MustParsePrefix(v4)
		return packetgen.SSIDMix{
			Name: name, VLAN: vlan,
			ClientPrefix4: p4, ClientPrefix6: netip.MustParsePrefix(v6),
			IPv6: ipv6, NAT64: nat64, IPv4: ipv4, Up: 0.3, Clients: clients,
			RouterMAC:       net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, byte(vlan >> 8), byte(vlan)},
			RouterLinkLocal: netip.MustParseAddr("fe80::1"),
			PREF64:          pref64,
			DHCPServer:      p4.Addr().Next(),
			RequestIPv6Only: ask108, OfferIPv6Only: offer108,
		}
	}
	return packetgen.Mix{
		SSIDs: []packetgen.SSIDMix{
			ssid("ietf", 100, "100.64.0.0/18", "2001:db8:100::/64", 0.55, 0.38, 0.07, 700, NAT64Prefix, 0.75, true),
			ssid("ietf-dual-stack", 200, "100.64.64.0/18", "2001:db8:200::/64", 0.60, 0, 0.40, 300, NAT64Prefix, 0.5, false),
			ssid("eduroam", 300, "100.64.128.0/18", "2001:db8:300::/64", 0.45, 0, 0.55, 100, netip.Prefix{}, 0.3, false),
		},
		NAT64Prefix: NAT64Prefix,
		Tagged:      tagged,
		Seed:        seed,
	}
}

// Stream draws the mix's frames in capture order: data frames from the
// generator, with the rare frames mixed in at the shares above. It is
// deterministic for a seed and not safe for concurrent use.
type Stream struct {
	mix     packetgen.Mix
	gen     *packetgen.Generator
	rng     *rand.Rand
	n       uint64
	pending *packetgen.Frame // a DHCP exchange's OFFER, sent right after its DISCOVER
}

// NewStream returns the stream of m.
func NewStream(m packetgen.Mix) (*Stream, error) {
	g, err := packetgen.NewGenerator(m)
	if err != nil {
		return nil, err
	}
	// The stream's own draws (which frame comes next) are apart from the
	// generator's (what the frame is), so that adding a kind of frame here does
	// not change the data frames.
	return &Stream{mix: m, gen: g, rng: rand.New(rand.NewPCG(m.Seed^0x5eed, m.Seed+1))}, nil
}

// Next returns the next frame.
func (s *Stream) Next() packetgen.Frame {
	if f := s.pending; f != nil {
		s.pending = nil
		return *f
	}
	s.n++
	switch {
	case s.n%RogueRAEvery == 0:
		// A laptop sharing its connection: no PREF64, a ULA prefix.
		return s.gen.RogueRouterAdvertisement(min(1, len(s.mix.SSIDs)-1), netip.Prefix{})
	case s.n%RouterAdvertEvery == 0:
		return s.gen.RouterAdvertisement(int(s.n/RouterAdvertEvery) % len(s.mix.SSIDs))
	}
	// A rare frame's SSID is drawn in proportion to the clients, as a data frame's.
	switch x := s.rng.Float64(); {
	case x < ARPShare:
		return s.gen.ARP(s.gen.SSID())
	case x < ARPShare+DHCPShare:
		discover, offer := s.gen.DHCPExchange(s.gen.SSID())
		s.pending = &offer
		return discover
	}
	return s.gen.Next()
}

// WriteConfig writes the meetnoc configuration of m's network: its SSIDs with
// their VLANs, client prefixes, router and DHCP server, and its NAT64 prefix —
// what `meetnoc classify --config.file` needs to classify the mix.
func WriteConfig(w io.Writer, m packetgen.Mix) error {
	var b strings.Builder
	b.WriteString("# The meeting mix of bench/traffic (internal/packetgen/meetingmix), written by bench/traffic/mixcap.\n")
	b.WriteString("meeting:\n  name: meetnoc traffic benchmark\n\nssids:\n")
	for _, s := range m.SSIDs {
		fmt.Fprintf(&b, "  - name: %s\n    vlans: [%d]\n    client_prefixes: [%s, %s]\n    routers: [%s]\n    dhcp_servers: [%s]\n",
			s.Name, s.VLAN, s.ClientPrefix6, s.ClientPrefix4, s.RouterLinkLocal, s.DHCPServer)
	}
	nat64 := m.NAT64Prefix
	if !nat64.IsValid() {
		nat64 = NAT64Prefix
	}
	fmt.Fprintf(&b, "\nnat64_prefixes: [%s]\n", nat64)
	_, err := io.WriteString(w, b.String())
	return err
}

// Config is the configuration WriteConfig writes, loaded and validated as
// meetnoc loads a config file, so that a benchmark classifies with exactly what
// `meetnoc classify --config.file` would.
func Config(m packetgen.Mix) (*config.Config, error) {
	var b bytes.Buffer
	if err := WriteConfig(&b, m); err != nil {
		return nil, err
	}
	return config.LoadBytes(b.Bytes(), "meetingmix.yml")
}
