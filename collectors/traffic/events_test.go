package traffic

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// Infrastructure of the event tests: the allowed DHCP server and router of
// ietf, and a rogue of each.
var (
	dhcpServerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x67}
	rogueMAC      = net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 0x66}
	routerLL      = "fe80::1"
)

// eventsConfig is testConfig with allow lists on ietf only: ietf-dual-stack
// has none, so every sender is allowed there. ietf (VLANs 100 and 101) lists
// its router by address and a second router by MAC.
func eventsConfig() *config.Config {
	cfg := testConfig()
	cfg.SSIDs[0].VLANs = append(cfg.SSIDs[0].VLANs, 101)
	cfg.SSIDs[0].Routers = []string{routerLL, "02:00:00:00:00:fe"}
	cfg.SSIDs[0].DHCPServers = []netip.Addr{netip.MustParseAddr("100.64.0.1")}
	return cfg
}

func newTestDecoder(t testing.TB, cfg *config.Config, rogue *rogueLimiter) *payloadDecoder {
	t.Helper()
	d, err := newPayloadDecoder(cfg, nil, rogue)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The test frames come from internal/packetgen, the project's one set of
// builders; rebuild derives from them the variants it does not build.

// link is a test frame's Ethernet header from src, tagged with vlan unless it
// is 0; packetgen picks the destination (broadcast, all-nodes).
func link(src net.HardwareAddr, vlan uint16) packetgen.Link {
	if vlan == 0 {
		return packetgen.Untagged(src, nil)
	}
	return packetgen.Tagged(src, nil, vlan)
}

// discover is a client's DISCOVER, asking for option 108 when ask108.
func discover(vlan uint16, ask108 bool) []byte {
	return packetgen.DHCPDiscover{Link: link(clientMAC, vlan), Xid: 0x9edf45b0, IPv6OnlyPreferred: ask108}.Frame()
}

// offer is an OFFER to clientMAC of 100.64.42.232 that mac sends from server
// (the IP source and server identifier), with option 108 = 900 s when with108.
func offer(vlan uint16, mac net.HardwareAddr, server string, with108 bool) []byte {
	return packetgen.DHCPOffer{Link: link(mac, vlan), Client: clientMAC, Xid: 0x9edf45b0,
		Server: netip.MustParseAddr(server), Offered: netip.MustParseAddr("100.64.42.232"),
		IPv6OnlyPreferred: with108, V6OnlyWait: 900}.Frame()
}

// ra is a Router Advertisement that mac sends from src, with a source
// link-layer address option (mac), a Prefix Information option per prefix, and
// a PREF64 option with lifetime 1800 s unless pref64 is empty.
func ra(vlan uint16, mac net.HardwareAddr, src, pref64 string, prefixes ...string) []byte {
	g := packetgen.RouterAdvertisement{Link: link(mac, vlan), Src: netip.MustParseAddr(src),
		SourceLinkLayer: true, PREF64Lifetime: 1800}
	if pref64 != "" {
		g.PREF64 = netip.MustParsePrefix(pref64)
	}
	for _, p := range prefixes {
		g.Prefixes = append(g.Prefixes, netip.MustParsePrefix(p))
	}
	return g.Frame()
}

// rebuild decodes frame with gopacket, lets edit change its layers, and
// serialises them again with lengths and checksums fixed.
func rebuild(t testing.TB, frame []byte, edit func(p gopacket.Packet)) []byte {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode the frame: %v", el.Error())
	}
	edit(p)
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.UDP:
			if err := l.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
		case *layers.ICMPv6:
			if err := l.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializePacket(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, p); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// fromIP changes the IPv4 source of a frame, e.g. to a DHCP relay's address.
func fromIP(t testing.TB, frame []byte, src string) []byte {
	return rebuild(t, frame, func(p gopacket.Packet) {
		p.NetworkLayer().(*layers.IPv4).SrcIP = netip.MustParseAddr(src).AsSlice()
	})
}

// fromMAC changes the Ethernet source of a frame.
func fromMAC(t testing.TB, frame []byte, mac net.HardwareAddr) []byte {
	return rebuild(t, frame, func(p gopacket.Packet) {
		p.LinkLayer().(*layers.Ethernet).SrcMAC = mac
	})
}

// withMsgType changes a DHCP frame's message type (option 53).
func withMsgType(t testing.TB, frame []byte, typ layers.DHCPMsgType) []byte {
	return rebuild(t, frame, func(p gopacket.Packet) {
		for i, o := range dhcpOf(p).Options {
			if o.Type == layers.DHCPOptMessageType {
				dhcpOf(p).Options[i].Data = []byte{byte(typ)}
			}
		}
	})
}

func dhcpOf(p gopacket.Packet) *layers.DHCPv4 {
	return p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
}

// withRAOptions appends ND options to an RA frame. (gopacket writes an RA's
// options in reverse, so a rebuilt RA has them in the opposite order.)
func withRAOptions(t testing.TB, frame []byte, opts ...layers.ICMPv6Option) []byte {
	return rebuild(t, frame, func(p gopacket.Packet) {
		r := p.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
		r.Options = append(r.Options, opts...)
	})
}

// pref64Opt is a PREF64 option; plc, when not 0, replaces the prefix length
// code of prefix (6 and 7 are invalid).
func pref64Opt(prefix string, lifetime uint16, plc uint8) layers.ICMPv6Option {
	data := packetgen.PREF64Option(netip.MustParsePrefix(prefix), lifetime)
	if plc != 0 {
		data[1] = data[1]&^7 | plc
	}
	return layers.ICMPv6Option{Type: packetgen.ICMPv6OptPREF64, Data: data}
}

// observeFrames classifies each frame like a Worker does and hands flagged
// ones to d with weight.
func observeFrames(t testing.TB, c *Classifier, d *payloadDecoder, ev *Events, weight uint64, frames ...[]byte) {
	t.Helper()
	cnt := c.NewCounters()
	for i, b := range frames {
		r := c.Classify(b, len(b), weight, cnt)
		if r.Payload == PayloadNone {
			t.Fatalf("frame %d is not flagged for the payload decoder: %+v", i, r)
		}
		d.observe(b, r, weight, ev)
	}
}

// eventsCollector wraps collectEvents as a prometheus.Collector.
type eventsCollector struct {
	names []string
	ev    *Events
}

func (c eventsCollector) Describe(ch chan<- *prometheus.Desc) { describeEvents(ch) }
func (c eventsCollector) Collect(ch chan<- prometheus.Metric) { collectEvents(ch, c.names, c.ev) }

// checkSeries asserts that got holds exactly n series, that the ones in want
// have their values, and that every other one is 0.
func checkSeries(t *testing.T, got map[string]float64, n int, want map[string]float64) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%d series exported, want %d", len(got), n)
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing series %s", k)
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("unexpected %s = %v", k, v)
		}
	}
}

// 3 SSIDs (unknown, ietf, ietf-dual-stack) × (discovers + ipv6_only_preferred
// + 4 offers + 6 RAs).
const eventSeriesPerConfig = 3 * (1 + 1 + 4 + 6)

func TestEventsObserve(t *testing.T) {
	c := newTestClassifier(t, "")
	d := newTestDecoder(t, eventsConfig(), nil)
	ev := newEvents(len(c.SSIDNames()))
	// The decoder indexes SSIDs as the classifier does.
	if !slices.Equal(d.ssidNames, c.SSIDNames()) {
		t.Fatalf("decoder SSIDs %v, classifier SSIDs %v", d.ssidNames, c.SSIDNames())
	}

	// OFFERs on ietf: from the allowed server, relayed (the IP source is the
	// relay, the server identifier the server), and from a rogue.
	offerOK := offer(100, dhcpServerMAC, "100.64.0.1", false)
	offerOK108 := offer(100, dhcpServerMAC, "100.64.0.1", true)
	relayed := fromIP(t, offer(100, routerMAC, "100.64.0.1", true), "100.64.255.254")
	rogueOffer := offer(100, rogueMAC, "192.168.1.1", false)
	// On the unknown VLAN and on the SSID without a list, every server is allowed.
	unknownOffer := offer(999, rogueMAC, "192.168.1.1", true)
	dualOffer := offer(200, rogueMAC, "192.168.1.1", false)
	// REQUEST and ACK are DHCP but neither DISCOVER nor OFFER: not counted.
	request := withMsgType(t, discover(100, true), layers.DHCPMsgTypeRequest)
	ack := withMsgType(t, offer(100, rogueMAC, "192.168.1.1", true), layers.DHCPMsgTypeAck)

	// RAs on ietf: allowed by address alone, by Ethernet source, by SLLA alone;
	// and a rogue's.
	raMatch := ra(100, rogueMAC, routerLL, "64:ff9b::/96")
	raMACAllowed := ra(100, routerMAC, "fe80::2", "", "2001:db8:100::/64")
	raSLLAAllowed := fromMAC(t, ra(100, routerMAC, "fe80::3", "2001:db8:64::/96"), rogueMAC)
	raRogueMismatch := ra(100, rogueMAC, "fe80::bad", "64:ff9b::/64", "2001:db8:bad::/64") // right address, wrong length
	raRogueAbsent := ra(100, rogueMAC, "fe80::bad", "")
	raDualMismatch := ra(200, rogueMAC, "fe80::bad", "64:ff9b:1::/48")
	// A valid matching PREF64 wins over an invalid one beside it.
	raUnknown := withRAOptions(t, ra(999, rogueMAC, "fe80::bad", "64:ff9b::/96"), pref64Opt("64:ff9b::/96", 600, 7))

	observeFrames(t, c, d, ev, 1,
		discover(100, false), discover(100, true), discover(100, true),
		offerOK, offerOK108, relayed, rogueOffer,
		unknownOffer, dualOffer, discover(201, true),
		request, ack,
		raMatch, raMACAllowed, raSLLAAllowed,
		raRogueMismatch, raRogueAbsent, raDualMismatch, raUnknown,
	)
	// Sampled 1:512: every count adds the weight.
	observeFrames(t, c, d, ev, 512, discover(100, true), raMatch)

	got := testenv.Series(t, eventsCollector{c.SSIDNames(), ev})
	checkSeries(t, got, eventSeriesPerConfig, map[string]float64{
		`meetnoc_dhcp_discovers_total{ssid="ietf"}`:                                          3 + 512,
		`meetnoc_dhcp_ipv6_only_preferred_total{ssid="ietf"}`:                                2 + 512,
		`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="false",ssid="ietf"}`:            1,
		`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="true",ssid="ietf"}`:             2,
		`meetnoc_dhcp_offers_total{allowed="false",ipv6_only="false",ssid="ietf"}`:           1,
		`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="true",ssid="unknown"}`:          1,
		`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="false",ssid="ietf-dual-stack"}`: 1,
		`meetnoc_dhcp_discovers_total{ssid="ietf-dual-stack"}`:                               1,
		`meetnoc_dhcp_ipv6_only_preferred_total{ssid="ietf-dual-stack"}`:                     1,
		`meetnoc_router_advertisements_total{allowed="true",pref64="match",ssid="ietf"}`:     2 + 512,
		`meetnoc_router_advertisements_total{allowed="true",pref64="absent",ssid="ietf"}`:    1,
		`meetnoc_router_advertisements_total{allowed="false",pref64="mismatch",ssid="ietf"}`: 1,
		`meetnoc_router_advertisements_total{allowed="false",pref64="absent",ssid="ietf"}`:   1,
		// No routers configured: allowed.
		`meetnoc_router_advertisements_total{allowed="true",pref64="mismatch",ssid="ietf-dual-stack"}`: 1,
		// One valid matching option wins over an invalid one.
		`meetnoc_router_advertisements_total{allowed="true",pref64="match",ssid="unknown"}`: 1,
	})
}

func TestEventsAddCopyReset(t *testing.T) {
	a, b := newEvents(3), newEvents(3)
	a.ssids[1].discovers = 5
	a.ssids[2].offers[1][0] = 7
	a.ssids[0].ras[0][pref64Absent] = 11
	b.ssids[1].discovers = 1
	b.ssids[1].discovers108 = 2
	b.ssids[2].ras[1][pref64Match] = 3
	b.Add(a)
	if s := b.ssids[1]; s.discovers != 6 || s.discovers108 != 2 {
		t.Errorf("ssid 1 after Add: %+v", s)
	}
	if b.ssids[2].offers[1][0] != 7 || b.ssids[2].ras[1][pref64Match] != 3 || b.ssids[0].ras[0][pref64Absent] != 11 {
		t.Errorf("after Add: %+v", b.ssids)
	}
	snap := newEvents(3)
	snap.CopyFrom(b)
	b.Reset()
	if snap.ssids[2].offers[1][0] != 7 || snap.ssids[1].discovers != 6 {
		t.Errorf("CopyFrom did not copy: %+v", snap.ssids)
	}
	if (b.ssids[1] != ssidEvents{}) || (b.ssids[2] != ssidEvents{}) || (b.ssids[0] != ssidEvents{}) {
		t.Errorf("Reset left %+v", b.ssids)
	}
	if allocs := testing.AllocsPerRun(100, func() { snap.CopyFrom(a); snap.Add(a) }); allocs != 0 {
		t.Errorf("CopyFrom+Add allocate %v times", allocs)
	}
}

func TestEventsCollectorLint(t *testing.T) {
	c := newTestClassifier(t, "")
	ev := newEvents(len(c.SSIDNames()))
	ev.ssids[1].discovers = 1
	problems, err := testutil.CollectAndLint(eventsCollector{c.SSIDNames(), ev})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Zeros included: every combination from the first scrape, names as DESIGN.md has them.
	if n := testutil.CollectAndCount(eventsCollector{c.SSIDNames(), ev},
		"meetnoc_dhcp_discovers_total", "meetnoc_dhcp_ipv6_only_preferred_total",
		"meetnoc_dhcp_offers_total", "meetnoc_router_advertisements_total"); n != eventSeriesPerConfig {
		t.Errorf("%d series, want %d", n, eventSeriesPerConfig)
	}
}

func TestEventsPayloadDecoderConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*config.Config)
		want   string
	}{
		"IPv4 router":        {func(c *config.Config) { c.SSIDs[0].Routers = []string{"192.0.2.1"} }, "not an IPv6 address"},
		"EUI-64 router":      {func(c *config.Config) { c.SSIDs[0].Routers = []string{"02-00-00-ff-fe-00-00-01"} }, "neither"},
		"garbage router":     {func(c *config.Config) { c.SSIDs[0].Routers = []string{"router1"} }, "neither"},
		"IPv6 DHCP server":   {func(c *config.Config) { c.SSIDs[1].DHCPServers = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }, "not an IPv4 address"},
		"IPv4 NAT64 prefix":  {func(c *config.Config) { c.NAT64Prefixes = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }, "not an IPv6 prefix"},
		"invalid NAT64 pref": {func(c *config.Config) { c.NAT64Prefixes = []netip.Prefix{{}} }, "not an IPv6 prefix"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := eventsConfig()
			tc.mutate(cfg)
			_, err := newPayloadDecoder(cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Accepted spellings: a zone on a link-local address, a MAC with dashes,
	// an IPv4-mapped DHCP server.
	cfg := eventsConfig()
	cfg.SSIDs[0].Routers = []string{"fe80::1%eth0", "02-00-00-00-00-FE"}
	cfg.SSIDs[0].DHCPServers = []netip.Addr{netip.MustParseAddr("::ffff:100.64.0.1")}
	d := newTestDecoder(t, cfg, nil)
	p := d.policies[1]
	if len(p.routerAddrs) != 1 || p.routerAddrs[0] != netip.MustParseAddr(routerLL).As16() ||
		len(p.routerMACs) != 1 || p.routerMACs[0] != [6]byte(routerMAC) ||
		len(p.dhcpServers) != 1 || p.dhcpServers[0] != [4]byte{100, 64, 0, 1} {
		t.Fatalf("policy = %+v", p)
	}
	if d.ssidNames[1] != "ietf" || d.ssidNames[0] != UnknownSSID || len(d.policies) != 3 {
		t.Fatalf("names %v, %d policies", d.ssidNames, len(d.policies))
	}
}

// TestEventsObserveZeroAlloc: the common path — DHCP and allowed RAs — allocates
// nothing.
func TestEventsObserveZeroAlloc(t *testing.T) {
	c := newTestClassifier(t, "")
	d := newTestDecoder(t, eventsConfig(), newRogueLimiter(nil))
	ev := newEvents(len(c.SSIDNames()))
	frames := [][]byte{
		discover(100, true),
		offer(100, dhcpServerMAC, "100.64.0.1", true),
		ra(100, routerMAC, routerLL, "64:ff9b::/96", "2001:db8:100::/64"),
		ra(200, rogueMAC, "fe80::bad", "2001:db8:64::/40"),
	}
	cnt := c.NewCounters()
	results := make([]Result, len(frames))
	for i, b := range frames {
		results[i] = c.Classify(b, len(b), 1, cnt)
	}
	for i, b := range frames {
		r := results[i]
		if allocs := testing.AllocsPerRun(1000, func() { d.observe(b, r, 1, ev) }); allocs != 0 {
			t.Errorf("frame %d: observe allocates %v times per frame", i, allocs)
		}
	}
	if s := ev.ssids[1]; s.discovers == 0 || s.offers[1][1] == 0 || s.ras[1][pref64Match] == 0 {
		t.Fatalf("frames were not counted: %+v", s)
	}
}

func BenchmarkObserve(b *testing.B) {
	c := newTestClassifier(b, "")
	d := newTestDecoder(b, eventsConfig(), nil)
	ev := newEvents(len(c.SSIDNames()))
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"dhcp-discover", discover(100, true)},
		{"ra-pref64", ra(100, routerMAC, routerLL, "64:ff9b::/96", "2001:db8:100::/64")},
	} {
		r := c.Classify(tc.frame, len(tc.frame), 1, c.NewCounters())
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.observe(tc.frame, r, 1, ev)
			}
		})
	}
}
