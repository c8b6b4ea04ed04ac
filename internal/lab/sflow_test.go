package lab

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/meetnoc/meetnoc/collectors/traffic"
	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
)

// sent is one datagram as a switch sent it.
type sent struct {
	agent netip.Addr // the switch's
	b     []byte
}

// captureExporter builds the exporter of a lab at clock, sampling 1 in
// sampling, with its datagrams captured instead of sent.
func captureExporter(t *testing.T, clock *testClock, sampling uint32) (*sflowExporter, *[]sent) {
	t.Helper()
	m := newModel(clock.Now)
	e, err := newSFlowExporter(m, clock.Now, sampling, netip.MustParseAddrPort("127.0.0.1:9"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var out []sent
	e.send = func(sw *sflowSwitch, b []byte) { out = append(out, sent{sw.agent, b}) }
	return e, &out
}

// labClassifier is the classifier of the lab's own config.
func labClassifier(t *testing.T) (*traffic.Classifier, *config.Config) {
	t.Helper()
	cfg, err := config.LoadBytes(configYAML(fileConfig()), "lab.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := traffic.NewClassifier(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	return c, cfg
}

// walked is what a test reads of the samples of some datagrams.
type walked struct {
	counters *traffic.Counters
	samples  int
	// per agent: the datagram sequence numbers seen
	sequences map[netip.Addr][]uint32
	// control frames: RAs by sender MAC and PREF64, DHCP by kind and 108
	ras             map[raKey]int
	discovers       map[string][2]int // ssid → [without 108, with 108]
	offers          map[string][2]int
	unknownVLAN     int
	wrongSSIDByVLAN int
}

type raKey struct {
	ssid, mac, src string
	pref64         netip.Prefix
}

// walkSFlow classifies every sampled header with the lab config's classifier and
// decodes the control frames with gopacket.
func walkSFlow(t *testing.T, c *traffic.Classifier, cfg *config.Config, dgrams []sent) walked {
	t.Helper()
	w := walked{counters: c.NewCounters(), sequences: map[netip.Addr][]uint32{}, ras: map[raKey]int{},
		discovers: map[string][2]int{}, offers: map[string][2]int{}}
	vlanSSID := map[uint32]string{}
	for _, s := range cfg.SSIDs {
		vlanSSID[uint32(s.VLANs[0])] = s.Name
	}
	for _, d := range dgrams {
		var hdrs []traffic.SampledHeader
		dg, err := traffic.WalkSFlow(d.b, func(h traffic.SampledHeader) { hdrs = append(hdrs, h) })
		if err != nil {
			t.Fatalf("datagram of %v: %v", d.agent, err)
		}
		if dg.Agent != d.agent || dg.SkippedSamples != 0 || dg.SkippedRecords != 0 {
			t.Fatalf("datagram of %v: %+v", d.agent, dg)
		}
		w.sequences[dg.Agent] = append(w.sequences[dg.Agent], dg.Sequence)
		for _, h := range hdrs {
			w.samples++
			ssid, ok := vlanSSID[h.SrcVLAN]
			if !h.ExtendedSwitch || !ok {
				w.unknownVLAN++
				continue
			}
			if h.FrameLength != uint32(len(h.Header))+4 && len(h.Header) != sflowHeaderSize {
				t.Fatalf("header of %d bytes for a frame of %d", len(h.Header), h.FrameLength)
			}
			r := c.ClassifyInVLAN(h.Header, uint16(h.SrcVLAN), int(h.FrameLength), uint64(h.SamplingRate), w.counters)
			if c.SSIDNames()[r.SSID] != ssid {
				w.wrongSSIDByVLAN++
			}
			switch r.Payload {
			case traffic.PayloadRouterAdvertisement:
				p := gopacket.NewPacket(h.Header, layers.LayerTypeEthernet, gopacket.Default)
				ra, ok := p.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
				if !ok {
					t.Fatalf("RA does not decode: %v", p)
				}
				k := raKey{ssid: ssid, mac: p.LinkLayer().(*layers.Ethernet).SrcMAC.String(), src: p.NetworkLayer().NetworkFlow().Src().String()}
				for _, o := range ra.Options {
					if o.Type == 38 {
						k.pref64 = pref64Of(t, o.Data)
					}
				}
				w.ras[k]++
			case traffic.PayloadDHCPv4:
				p := gopacket.NewPacket(h.Header, layers.LayerTypeEthernet, gopacket.Default)
				dhcp, ok := p.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
				if !ok {
					// A 128-byte header cuts a DHCP message before its options:
					// the lab's must fit. gopacket says truncated.
					t.Fatalf("DHCP does not decode from %d bytes: %v", len(h.Header), p)
				}
				var typ byte
				v6only := 0
				for _, o := range dhcp.Options {
					switch {
					case o.Type == layers.DHCPOptMessageType:
						typ = o.Data[0]
					case o.Type == layers.DHCPOptParamsRequest && slices.Contains(o.Data, 108):
						v6only = 1
					case o.Type == 108:
						v6only = 1
					}
				}
				m := w.discovers
				if typ == byte(layers.DHCPMsgTypeOffer) {
					m = w.offers
				}
				n := m[ssid]
				n[v6only]++
				m[ssid] = n
			}
		}
	}
	return w
}

func pref64Of(t *testing.T, d []byte) netip.Prefix {
	t.Helper()
	if len(d) != 14 {
		t.Fatalf("PREF64 option data of %d bytes", len(d))
	}
	bits := map[uint16]int{0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}[binary.BigEndian.Uint16(d)&7]
	var a [16]byte
	copy(a[:], d[2:])
	return netip.PrefixFrom(netip.AddrFrom16(a), bits)
}

// familyShares is each SSID's share of packets by family, in points, of the
// IP families.
func familyShares(c *traffic.Classifier, cnt *traffic.Counters) map[string]map[traffic.Family]float64 {
	out := map[string]map[traffic.Family]float64{}
	for s, name := range c.SSIDNames() {
		var per [traffic.NumFamilies]float64
		var total float64
		for _, f := range []traffic.Family{traffic.FamilyIPv4, traffic.FamilyIPv6, traffic.FamilyNAT64} {
			for d := range traffic.Direction(traffic.NumDirections) {
				per[f] += float64(cnt.Cell(s, f, d).Packets)
			}
			total += per[f]
		}
		if total == 0 {
			continue
		}
		out[name] = map[traffic.Family]float64{}
		for _, f := range []traffic.Family{traffic.FamilyIPv4, traffic.FamilyIPv6, traffic.FamilyNAT64} {
			out[name][f] = 100 * per[f] / total
		}
	}
	return out
}

// checkMix asserts the family shares are the configured ones ±5 points.
func checkMix(t *testing.T, c *traffic.Classifier, cnt *traffic.Counters) {
	t.Helper()
	shares := familyShares(c, cnt)
	for _, wl := range WLANs {
		mix := wlanMix[wl.SSID]
		total := mix.ipv4 + mix.ipv6 + mix.nat64
		got := shares[wl.SSID]
		for f, want := range map[traffic.Family]float64{traffic.FamilyIPv4: mix.ipv4, traffic.FamilyIPv6: mix.ipv6, traffic.FamilyNAT64: mix.nat64} {
			if want = 100 * want / total; math.Abs(got[f]-want) > 5 {
				t.Errorf("%s: %s %.1f %% of packets, want %.0f ± 5", wl.SSID, f, got[f], want)
			}
		}
	}
}

// TestSFlowExporterMix: one minute of the 13:30 peak, sampled 1 in 512: the
// samples' families are the configured mix, every sample's VLAN is an SSID's
// and the classifier puts it there, every switch numbers its datagrams from 1
// without a gap, and sFlow's estimate of the AP ports' bytes is what their
// SNMP counters count.
func TestSFlowExporterMix(t *testing.T) {
	clock := newTestClock(at("13:30"))
	e, out := captureExporter(t, clock, 512)
	e.tick(time.Minute)
	c, cfg := labClassifier(t)
	w := walkSFlow(t, c, cfg, *out)
	if w.samples < 10000 {
		t.Fatalf("%d samples in a peak minute at 1:512, want over 10,000", w.samples)
	}
	t.Logf("%d datagrams, %d samples", len(*out), w.samples)
	checkMix(t, c, w.counters)
	if w.unknownVLAN != 0 || w.wrongSSIDByVLAN != 0 {
		t.Errorf("%d samples without an SSID's VLAN, %d classified into another SSID than their VLAN's", w.unknownVLAN, w.wrongSSIDByVLAN)
	}
	if len(w.sequences) != 4 {
		t.Errorf("agents %v, want access1–4's", w.sequences)
	}
	for num := 1; num <= 4; num++ {
		seq := w.sequences[sflowAgent(num)]
		for i, s := range seq {
			if s != uint32(i+1) {
				t.Fatalf("access%d: datagram %d has sequence number %d", num, i, s)
			}
		}
	}
	// The SSIDs' shares of the traffic are the controller's client shares.
	var all float64
	perSSID := map[string]float64{}
	for s, name := range c.SSIDNames() {
		for f := range traffic.Family(traffic.NumFamilies) {
			for d := range traffic.Direction(traffic.NumDirections) {
				perSSID[name] += float64(w.counters.Cell(s, f, d).Bytes)
			}
		}
		all += perSSID[name]
	}
	for _, wl := range WLANs {
		if got, want := 100*perSSID[wl.SSID]/all, float64(wl.share)/10; math.Abs(got-want) > 5 {
			t.Errorf("%s: %.1f %% of the bytes, want %.0f ± 5", wl.SSID, got, want)
		}
	}
	// The bytes sFlow estimates are the AP ports' own, within 5 %.
	var want float64
	ms := e.day.venueMillis(clock.Now())
	for _, sw := range e.switches {
		for _, p := range sw.apPorts {
			want += (p.in.rateAt(ms) + p.out.rateAt(ms)) * 60
		}
	}
	if math.Abs(all-want) > want*0.05 {
		t.Errorf("sFlow estimates %.3g bytes in the minute, the AP ports carried %.3g", all, want)
	}
	if len(w.ras) > 0 {
		for k := range w.ras {
			if k.mac == packetgen.RogueMAC.String() {
				t.Errorf("a rogue RA at 13:30, outside the rogue minutes: %+v", k)
			}
		}
	}
}

// controlOnly makes the exporter's AP ports carry no data, so that a test
// sees only DHCP, RAs and ARP, and can sample them 1 in 1.
func controlOnly(e *sflowExporter) {
	for _, sw := range e.switches {
		for i, p := range sw.apPorts {
			quiet := *p
			quiet.in, quiet.out = nil, nil
			sw.apPorts[i] = &quiet
		}
	}
}

// TestSFlowExporterControl: a minute of control traffic sampled 1 in 1. DHCP:
// the configured share of DISCOVERs asks for option 108, OFFERs carry it on
// ietf only, to exactly those that asked. RAs come from the router with ietf's
// PREF64 and none elsewhere; at 13:37, in a rogue minute, the laptop's RAs
// come with the wrong PREF64, 20 a second seen by each switch; at 13:30 none.
func TestSFlowExporterControl(t *testing.T) {
	c, cfg := labClassifier(t)
	for _, tc := range []struct {
		at    string
		rogue bool
	}{{"13:30", false}, {"13:37:30", true}, {"13:52", true}, {"13:53", false}} {
		clock := newTestClock(at(tc.at))
		e, out := captureExporter(t, clock, 1)
		controlOnly(e)
		e.tick(time.Minute)
		w := walkSFlow(t, c, cfg, *out)

		var rogue int
		for k, n := range w.ras {
			switch {
			case k.mac == routerMAC.String() && k.src == "fe80::1":
				want := netip.Prefix{}
				if k.ssid == "ietf" {
					want = labNAT64
				}
				if k.pref64 != want {
					t.Errorf("%s: router's RA on %s with PREF64 %v, want %v", tc.at, k.ssid, k.pref64, want)
				}
			case k.mac == packetgen.RogueMAC.String():
				rogue += n
				if k.ssid != rogueSSID || k.pref64 != roguePREF64 || k.src != packetgen.LinkLocal(packetgen.RogueMAC).String() {
					t.Errorf("%s: rogue RA %+v", tc.at, k)
				}
			default:
				t.Errorf("%s: RA from %+v", tc.at, k)
			}
		}
		if want := map[bool]int{true: 4 * 60 * rogueRAsPerSecond}[tc.rogue]; rogue != want {
			t.Errorf("%s: %d rogue RAs sampled, want %d", tc.at, rogue, want)
		}
		for _, wl := range WLANs {
			mix := wlanMix[wl.SSID]
			d, o := w.discovers[wl.SSID], w.offers[wl.SSID]
			if d[0]+d[1] != o[0]+o[1] || d[0]+d[1] < 20 {
				t.Errorf("%s %s: %v DISCOVERs, %v OFFERs; want one OFFER each, and some", tc.at, wl.SSID, d, o)
			}
			if asked := float64(d[1]) / float64(d[0]+d[1]); math.Abs(asked-mix.ask108) > 0.05+2/math.Sqrt(float64(d[0]+d[1])) {
				t.Errorf("%s %s: %.2f of DISCOVERs ask for 108, want %.2f", tc.at, wl.SSID, asked, mix.ask108)
			}
			wantOffers := [2]int{d[0], d[1]}
			if !mix.offer108 {
				wantOffers = [2]int{d[0] + d[1], 0}
			}
			if o != wantOffers {
				t.Errorf("%s %s: OFFERs without/with 108 %v, want %v", tc.at, wl.SSID, o, wantOffers)
			}
		}
	}
}

// TestLabSFlow: the running lab sends sFlow over UDP from each switch's
// loopback to the collector; received with a plain socket, the samples hold
// the configured mix, and at 13:37 (a rogue minute) the rogue RAs.
func TestLabSFlow(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(4 << 20)
	clock := newTestClock(at("13:37:30"))
	n := startLab(t, Options{Now: clock.Now, SFlowCollector: conn.LocalAddr().String(), SFlowSampling: 16})
	if n.SFlowCollector() != conn.LocalAddr().String() {
		t.Errorf("SFlowCollector %s, want %s", n.SFlowCollector(), conn.LocalAddr())
	}
	cfg, err := config.LoadBytes(n.ConfigYAML(), "lab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if src := cfg.Traffic.Sources; len(src) != 1 || src[0].Type != "sflow" || src[0].Listen != conn.LocalAddr().String() {
		t.Errorf("traffic sources %+v, want one sflow source listening at %s", src, conn.LocalAddr())
	}
	c, lcfg := labClassifier(t)

	var got []sent
	senders := map[netip.Addr]bool{}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		k, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		b := bytes.Clone(buf[:k])
		var agent netip.Addr
		if _, err := traffic.WalkSFlow(b, func(traffic.SampledHeader) {}); err == nil {
			agent = netip.AddrFrom4([4]byte(b[8:12]))
		}
		got = append(got, sent{agent, b})
		senders[from.Addr()] = true
	}
	w := walkSFlow(t, c, lcfg, got)
	t.Logf("%d datagrams, %d samples from %v", len(got), w.samples, senders)
	if w.samples < 1000 {
		t.Fatalf("%d samples in 1.5 s at 1:16, want over 1,000", w.samples)
	}
	checkMix(t, c, w.counters)
	for num := 1; num <= 4; num++ {
		if len(w.sequences[sflowAgent(num)]) == 0 {
			t.Errorf("nothing from access%d (%v)", num, sflowAgent(num))
		}
		// Linux answers the whole of 127.0.0.0/8: each switch sends from its loopback.
		if !senders[sflowAgent(num)] {
			t.Errorf("no datagram from %v; senders %v", sflowAgent(num), senders)
		}
	}
	var rogue int
	for k, n := range w.ras {
		if k.mac == packetgen.RogueMAC.String() && k.pref64 == roguePREF64 {
			rogue += n
		}
	}
	if rogue == 0 {
		t.Errorf("no rogue RA at 13:37:30; RAs %v", w.ras)
	}
}

// TestLabSFlowCollectorAddr: the collector is the port after the agents', a
// free one with BasePort 0, or what the options say.
func TestLabSFlowCollectorAddr(t *testing.T) {
	if a, err := sflowCollectorAddr(Options{Host: "127.0.0.1", BasePort: DefaultBasePort}, 7); err != nil || a.String() != "127.0.0.1:16108" {
		t.Errorf("base port: %v %v", a, err)
	}
	if a, err := sflowCollectorAddr(Options{Host: "127.0.0.1"}, 7); err != nil || a.Port() == 0 || a.Addr().String() != "127.0.0.1" {
		t.Errorf("random port: %v %v", a, err)
	}
	if a, err := sflowCollectorAddr(Options{Host: "127.0.0.1", SFlowCollector: "[::1]:6343"}, 7); err != nil || a.String() != "[::1]:6343" {
		t.Errorf("given: %v %v", a, err)
	}
	if _, err := sflowCollectorAddr(Options{SFlowCollector: "nowhere"}, 7); err == nil {
		t.Error("a bad collector address accepted")
	}
}
