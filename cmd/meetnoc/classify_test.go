package main

// The oracle for `meetnoc classify`: tshark (DESIGN.md, "Real components"). Each
// series meetnoc prints is compared with the frames and frame.len bytes that a
// tshark display filter built from the same config matches, exactly.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// oracleSSID is one SSID of an oracle config, as both the YAML meetnoc reads
// and the tshark filters are written from it.
type oracleSSID struct {
	name        string
	vlans       []uint16
	untagged    bool // the SSID of untagged (and priority-tagged) frames
	prefixes4   []string
	prefixes6   []string
	routers     []string // IPv6 addresses
	routerMACs  []string
	dhcpServers []string
}

type oracleConfig struct {
	ssids []oracleSSID
	nat64 []string
}

func (c oracleConfig) yaml() string {
	var b strings.Builder
	b.WriteString("ssids:\n")
	quote := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	for _, s := range c.ssids {
		vlans := make([]string, len(s.vlans))
		for i, v := range s.vlans {
			vlans[i] = strconv.Itoa(int(v))
		}
		fmt.Fprintf(&b, "  - name: %s\n    vlans: [%s]\n    client_prefixes: %s\n", s.name, strings.Join(vlans, ", "),
			quote(append(slices.Clone(s.prefixes4), s.prefixes6...)))
		if r := append(slices.Clone(s.routers), s.routerMACs...); len(r) > 0 {
			fmt.Fprintf(&b, "    routers: %s\n", quote(r))
		}
		if len(s.dhcpServers) > 0 {
			fmt.Fprintf(&b, "    dhcp_servers: %s\n", quote(s.dhcpServers))
		}
	}
	fmt.Fprintf(&b, "nat64_prefixes: %s\n", quote(c.nat64))
	return b.String()
}

func (c oracleConfig) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oracle.yml")
	if err := os.WriteFile(path, []byte(c.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (c oracleConfig) untaggedSSID() string {
	for _, s := range c.ssids {
		if s.untagged {
			return s.name
		}
	}
	return ""
}

// tshark display filters for the classification rules.
const (
	// Frames whose first tag is 802.1Q (or the pre-standard QinQ 0x9100, which
	// tshark dissects as vlan) and whose first tag is 802.1ad (ieee8021ad).
	// vlan.id alone would match an inner tag too: #1 picks the first layer.
	outerDot1Q   = "(eth.type == 0x8100 || eth.type == 0x9100)"
	outerDot1AD  = "eth.type == 0x88a8"
	tshAlways    = "frame"
	tshNever     = "!frame"
	firstIPv4    = `frame.protocols matches "^eth:ethertype:((vlan|ieee8021ad):ethertype:)*ip(:|$)"`
	firstIPv6    = `frame.protocols matches "^eth:ethertype:((vlan|ieee8021ad):ethertype:)*ipv6(:|$)"`
	raFilter     = "icmpv6.type == 134 && icmpv6.code == 0"
	pref64Option = "icmpv6.opt.type == 38"
)

func or(terms ...string) string {
	if len(terms) == 0 {
		return tshNever
	}
	return "(" + strings.Join(terms, " || ") + ")"
}

func and(terms ...string) string { return "(" + strings.Join(terms, " && ") + ")" }

// outerVLAN matches frames whose outermost tag carries vid.
func outerVLAN(vid uint16) string {
	return fmt.Sprintf("((%s && vlan.id#1 == %d) || (%s && ieee8021ad.id#1 == %d))", outerDot1Q, vid, outerDot1AD, vid)
}

// ssidFilter matches the frames of s: its VLANs as the outermost tag, and for
// the untagged SSID frames without a tag or with a priority tag (VLAN 0).
func (c oracleConfig) ssidFilter(s *oracleSSID) string {
	if s == nil { // unknown: no configured SSID's
		var all []string
		for i := range c.ssids {
			all = append(all, c.ssidFilter(&c.ssids[i]))
		}
		return "!" + or(all...)
	}
	var terms []string
	for _, v := range s.vlans {
		terms = append(terms, outerVLAN(v))
	}
	if s.untagged {
		terms = append(terms, "!("+outerDot1Q+" || "+outerDot1AD+")", outerVLAN(0))
	}
	return or(terms...)
}

func in(field string, prefixes []string) string {
	var terms []string
	for _, p := range prefixes {
		terms = append(terms, field+" == "+p)
	}
	return or(terms...)
}

// familyFilter: the first network layer after the tags decides; NAT64 is IPv6
// with either address in a NAT64 prefix. #1 keeps ICMP errors' inner headers out.
func (c oracleConfig) familyFilter(family string) string {
	nat64 := or(in("ipv6.src#1", c.nat64), in("ipv6.dst#1", c.nat64))
	switch family {
	case "ipv4":
		return firstIPv4
	case "ipv6":
		return and(firstIPv6, "!"+nat64)
	case "nat64":
		return and(firstIPv6, nat64)
	}
	return "!" + or(firstIPv4, firstIPv6)
}

// directionFilter: up when the source is a client of the SSID, down when the
// destination is (and the source is not), other otherwise; the unknown SSID
// and non-IP frames have no clients.
func directionFilter(s *oracleSSID, family, direction string) string {
	var up, down string
	switch {
	case s == nil || family == "other":
		up, down = tshNever, tshNever
	case family == "ipv4":
		up, down = in("ip.src#1", s.prefixes4), in("ip.dst#1", s.prefixes4)
	default:
		up, down = in("ipv6.src#1", s.prefixes6), in("ipv6.dst#1", s.prefixes6)
	}
	switch direction {
	case "up":
		return up
	case "down":
		return and("!"+up, down)
	}
	return and("!"+up, "!"+down)
}

// allowedRA matches RAs from a configured router: by source address, Ethernet
// source or source link-layer address option. No routers configured: all.
func allowedRA(s *oracleSSID) string {
	if s == nil || len(s.routers)+len(s.routerMACs) == 0 {
		return tshAlways
	}
	return or(in("ipv6.src#1", s.routers), in("eth.src", s.routerMACs), in("icmpv6.opt.src_linkaddr", s.routerMACs))
}

// allowedOffer matches OFFERs from a configured server, by IP source or server
// identifier. No servers configured: all.
func allowedOffer(s *oracleSSID) string {
	if s == nil || len(s.dhcpServers) == 0 {
		return tshAlways
	}
	return or(in("ip.src#1", s.dhcpServers), in("dhcp.option.dhcp_server_id", s.dhcpServers))
}

// pref64Match matches a PREF64 option equal to a configured NAT64 prefix, length
// included (PLC: 0 = /96, 1 = /64, 2 = /56, 3 = /48, 4 = /40, 5 = /32).
func (c oracleConfig) pref64Match() string {
	plc := map[int]int{96: 0, 64: 1, 56: 2, 48: 3, 40: 4, 32: 5}
	var terms []string
	for _, p := range c.nat64 {
		pp := netip.MustParsePrefix(p)
		terms = append(terms, and("icmpv6.opt.pref64.prefix == "+pp.Addr().String(), fmt.Sprintf("icmpv6.opt.pref64.plc == %d", plc[pp.Bits()])))
	}
	return and(pref64Option, or(terms...))
}

// oracleCheck is one series and the tshark filter whose frames (or bytes) it
// must equal.
type oracleCheck struct {
	series string // metric{labels} as the text format writes it
	filter string
	bytes  bool // compare with frame.len bytes instead of frames
}

func seriesKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteString("}")
	return b.String()
}

// checks returns every series meetnoc classify prints for c and its filter.
func (c oracleConfig) checks(events bool) []oracleCheck {
	var out []oracleCheck
	ssids := []*oracleSSID{nil}
	for i := range c.ssids {
		ssids = append(ssids, &c.ssids[i])
	}
	bools := []string{"false", "true"}
	for _, s := range ssids {
		name := "unknown"
		if s != nil {
			name = s.name
		}
		ssid := c.ssidFilter(s)
		for _, fam := range []string{"ipv4", "ipv6", "nat64", "other"} {
			for _, dir := range []string{"up", "down", "other"} {
				f := and(ssid, c.familyFilter(fam), directionFilter(s, fam, dir))
				labels := map[string]string{"ssid": name, "family": fam, "direction": dir}
				out = append(out,
					oracleCheck{seriesKey("meetnoc_traffic_packets_total", labels), f, false},
					oracleCheck{seriesKey("meetnoc_traffic_bytes_total", labels), f, true})
			}
		}
		if !events {
			continue
		}
		l := map[string]string{"ssid": name}
		out = append(out,
			oracleCheck{seriesKey("meetnoc_dhcp_discovers_total", l), and(ssid, "dhcp.option.dhcp == 1"), false},
			oracleCheck{seriesKey("meetnoc_dhcp_ipv6_only_preferred_total", l), and(ssid, "dhcp.option.dhcp == 1", "dhcp.option.request_list_item == 108"), false})
		for _, allowed := range bools {
			a := allowedOffer(s)
			if allowed == "false" {
				a = "!" + a
			}
			for _, v6only := range bools {
				o := "dhcp.option.type == 108"
				if v6only == "false" {
					o = "!" + o
				}
				out = append(out, oracleCheck{
					seriesKey("meetnoc_dhcp_offers_total", map[string]string{"ssid": name, "allowed": allowed, "ipv6_only": v6only}),
					and(ssid, "dhcp.option.dhcp == 2", a, o), false})
			}
			ra := allowedRA(s)
			if allowed == "false" {
				ra = "!" + ra
			}
			for verdict, p := range map[string]string{
				"match":    c.pref64Match(),
				"mismatch": and(pref64Option, "!"+c.pref64Match()),
				"absent":   "!" + pref64Option,
			} {
				out = append(out, oracleCheck{
					seriesKey("meetnoc_router_advertisements_total", map[string]string{"ssid": name, "allowed": allowed, "pref64": verdict}),
					and(ssid, raFilter, ra, p), false})
			}
		}
	}
	return out
}

// clientChecks are the unique-client series of the configured SSIDs and the
// filters of the frames whose source MACs they count: up traffic of an IP
// family.
func (c oracleConfig) clientChecks() []oracleCheck {
	var out []oracleCheck
	for i := range c.ssids {
		s := &c.ssids[i]
		for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
			out = append(out, oracleCheck{
				series: seriesKey("meetnoc_traffic_clients", map[string]string{"ssid": s.name, "family": fam}),
				filter: and(c.ssidFilter(s), c.familyFilter(fam), directionFilter(s, fam, "up")),
			})
		}
	}
	return out
}

// compareClients compares meetnoc's unique-client estimates with the distinct
// source MACs tshark lists for the same frames. The counts are small, where the
// HyperLogLog estimate (linear counting) is exact once rounded.
func compareClients(t *testing.T, file string, got map[string]float64, checks []oracleCheck) {
	t.Helper()
	for _, c := range checks {
		macs := map[string]bool{}
		for _, row := range testenv.TsharkFields(t, file, c.filter, "eth.src") {
			for _, m := range row[0] {
				macs[m] = true
			}
		}
		if g := got[c.series]; g != float64(len(macs)) {
			t.Errorf("%s: %s = %v, tshark lists %d source MACs\n  filter: %s", filepath.Base(file), c.series, g, len(macs), c.filter)
		}
		if len(macs) == 0 {
			t.Errorf("%s: no frames for %s in the mix", filepath.Base(file), c.series)
		}
	}
}

// classifyRun runs `meetnoc classify` with args and returns every series it
// printed.
func classifyRun(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"classify"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("meetnoc classify %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&stdout)
	if err != nil {
		t.Fatalf("meetnoc classify output is not the text format: %v", err)
	}
	got := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			}
			got[seriesKey(name, labels)] = v
		}
	}
	return got
}

// compareWithTshark runs the checks' filters through tshark over file and
// compares each with what meetnoc printed. It returns tshark's numbers by series.
func compareWithTshark(t *testing.T, file string, got map[string]float64, checks []oracleCheck) map[string]uint64 {
	t.Helper()
	filters := make([]string, len(checks))
	for i, c := range checks {
		filters[i] = c.filter
	}
	stats := testenv.TsharkIOStat(t, file, filters)
	want := map[string]uint64{}
	for i, c := range checks {
		w := stats[i].Frames
		if c.bytes {
			w = stats[i].Bytes
		}
		want[c.series] = w
		g, ok := got[c.series]
		if !ok {
			t.Errorf("%s: meetnoc classify printed no %s (tshark: %d)", filepath.Base(file), c.series, w)
			continue
		}
		if g != float64(w) {
			t.Errorf("%s: %s = %v, tshark %d\n  filter: %s", filepath.Base(file), c.series, g, w, c.filter)
		}
	}
	return want
}

// The oracle mix's addresses and MACs.
var (
	oClientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x01}
	oRouterMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0xfe}
	oRogueMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0x0b, 0xad}
	oServer4   = netip.MustParseAddr("192.0.2.80")
	oServer4b  = netip.MustParseAddr("198.51.100.7")
	oServer6   = netip.MustParseAddr("2001:db8:ffff::80")
	oServer6b  = netip.MustParseAddr("2001:db8:fffe::7")
	oNAT64WKP  = netip.MustParsePrefix("64:ff9b::/96")
	oNAT64Own  = netip.MustParsePrefix("2001:db8:64::/96")
)

// oracleMixConfig is the config the oracle mix is classified with: ietf on VLAN
// 100 (allowed router by address), ietf-dual-stack on VLANs 200 and 201 (allowed
// router by MAC), two NAT64 prefixes.
var oracleMixConfig = oracleConfig{
	ssids: []oracleSSID{
		{name: "ietf", vlans: []uint16{100},
			prefixes4: []string{"100.64.0.0/16"}, prefixes6: []string{"2001:db8:100::/56"},
			routers: []string{"fe80::1"}, dhcpServers: []string{"100.64.0.2"}},
		{name: "ietf-dual-stack", vlans: []uint16{200, 201},
			prefixes4: []string{"100.65.0.0/16"}, prefixes6: []string{"2001:db8:200::/56"},
			routerMACs: []string{oRouterMAC.String()}, dhcpServers: []string{"100.65.0.2"}},
	},
	nat64: []string{oNAT64WKP.String(), oNAT64Own.String()},
}

// oracleMix is a capture's worth of frames over every link shape: untagged,
// 802.1Q, QinQ (802.1ad and 0x9100 outer), double 802.1Q, an unconfigured VLAN
// and a priority tag; IPv4, IPv6 and NAT64 (both prefixes) up, down and
// neither; IPv4 and IPv6 fragments; 9000-byte jumbo frames; ARP; DHCP
// DISCOVERs with and without option 108 and OFFERs from allowed and unknown
// servers with and without it; RAs from allowed and rogue routers with a
// matching, a mismatching and no PREF64. Frames repeat 1 to 3 times, so that
// counts differ between rows.
func oracleMix() []testenv.CaptureRecord {
	links := []packetgen.Link{
		packetgen.Untagged(oClientMAC, oRouterMAC),
		packetgen.Tagged(oClientMAC, oRouterMAC, 100),
		packetgen.Tagged(oClientMAC, oRouterMAC, 200),
		packetgen.QinQ(oClientMAC, oRouterMAC, 201, 100),
		{Src: oClientMAC, Dst: oRouterMAC, VLANs: []uint16{100, 300}, OuterTPID: packetgen.TPIDQinQ},
		{Src: oClientMAC, Dst: oRouterMAC, VLANs: []uint16{100, 200}},
		packetgen.Tagged(oClientMAC, oRouterMAC, 999),
		packetgen.Tagged(oClientMAC, oRouterMAC, 0),
	}
	clients4 := []netip.Addr{netip.MustParseAddr("100.64.1.10"), netip.MustParseAddr("100.65.1.10")}
	clients6 := []netip.Addr{netip.MustParseAddr("2001:db8:100::10"), netip.MustParseAddr("2001:db8:200:5::10")}
	var frames [][]byte
	n := 0
	add := func(fs ...[]byte) {
		for _, f := range fs {
			n++
			for range n%3 + 1 {
				frames = append(frames, f)
			}
		}
	}
	for li, l := range links {
		pkt := func(src, dst netip.Addr, proto uint8, payload int) []byte {
			return packetgen.Packet{Link: l, Src: src, Dst: dst, Protocol: layersProto(proto),
				SrcPort: 40000 + uint16(li), DstPort: 443, Payload: payload}.Frame()
		}
		for ci := range clients4 {
			c4, c6 := clients4[ci], clients6[ci]
			// Each client on each link has its own MAC: the unique-client
			// sketches have several to count.
			l := l
			l.Src = net.HardwareAddr{0x02, 0, 0, byte(li), byte(ci), 0x01}
			pkt := func(src, dst netip.Addr, proto uint8, payload int) []byte {
				return packetgen.Packet{Link: l, Src: src, Dst: dst, Protocol: layersProto(proto),
					SrcPort: 40000 + uint16(li), DstPort: 443, Payload: payload}.Frame()
			}
			size := 100 + 37*li + 11*ci
			add(
				pkt(c4, oServer4, 6, size), pkt(oServer4, c4, 6, 3*size), pkt(c4, oServer4, 17, size/2),
				pkt(c6, oServer6, 6, size), pkt(oServer6, c6, 17, 2*size),
				pkt(c6, packetgen.NAT64Address(oNAT64WKP, oServer4), 6, size), pkt(packetgen.NAT64Address(oNAT64WKP, oServer4), c6, 6, 4*size),
				pkt(c6, packetgen.NAT64Address(oNAT64Own, oServer4b), 17, size), pkt(packetgen.NAT64Address(oNAT64Own, oServer4b), c6, 6, size+1),
			)
			jumbo4 := packetgen.Packet{Link: l, Src: c4, Dst: oServer4, Protocol: packetgen.TCP, SrcPort: 1, DstPort: 2}
			jumbo4.Payload = jumbo4.PayloadFor(9000)
			jumbo6 := packetgen.Packet{Link: l, Src: oServer6, Dst: c6, Protocol: packetgen.TCP, SrcPort: 2, DstPort: 1}
			jumbo6.Payload = jumbo6.PayloadFor(9000)
			add(jumbo4.Frame(), jumbo6.Frame())
			add(packetgen.Packet{Link: l, Src: c4, Dst: oServer4, Protocol: packetgen.UDP, SrcPort: 5000, DstPort: 5001, Payload: 3000}.Fragments(1000, uint32(li))...)
			add(packetgen.Packet{Link: l, Src: oServer6, Dst: c6, Protocol: packetgen.UDP, SrcPort: 5001, DstPort: 5000, Payload: 3000}.Fragments(1232, uint32(li))...)
		}
		// Neither end a client; a client talking to another SSID's client.
		add(pkt(oServer4, oServer4b, 6, 64), pkt(oServer6, oServer6b, 6, 64), pkt(clients6[1], clients6[0], 6, 90))
		add(packetgen.ARPRequest(packetgen.Link{Src: oClientMAC, Dst: packetgen.BroadcastMAC, VLANs: l.VLANs, OuterTPID: l.OuterTPID},
			clients4[0], netip.MustParseAddr("100.64.0.1")))

		dl := packetgen.Link{Src: oClientMAC, VLANs: l.VLANs, OuterTPID: l.OuterTPID}
		add(packetgen.DHCPDiscover{Link: dl, Xid: uint32(li), IPv6OnlyPreferred: true}.Frame(),
			packetgen.DHCPDiscover{Link: dl, Xid: uint32(li) + 100}.Frame())
		sl := packetgen.Link{Src: oRouterMAC, VLANs: l.VLANs, OuterTPID: l.OuterTPID}
		for _, server := range []string{"100.64.0.2", "100.65.0.2", "192.168.1.1"} {
			for _, v6only := range []bool{true, false} {
				add(packetgen.DHCPOffer{Link: sl, Client: oClientMAC, Xid: uint32(li), Server: netip.MustParseAddr(server),
					Offered: netip.MustParseAddr("100.64.3.3"), IPv6OnlyPreferred: v6only, V6OnlyWait: 900}.Frame())
			}
		}
		for _, r := range []struct {
			mac  net.HardwareAddr
			src  netip.Addr
			slla bool
		}{
			{oRouterMAC, netip.MustParseAddr("fe80::1"), false},
			{oRouterMAC, packetgen.LinkLocal(oRouterMAC), true},
			{oRogueMAC, packetgen.LinkLocal(oRogueMAC), true},
			{oRogueMAC, netip.MustParseAddr("fe80::1"), false},
		} {
			for _, pref64 := range []netip.Prefix{oNAT64WKP, oNAT64Own, netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2001:db8:64::/64"), {}} {
				add(packetgen.RouterAdvertisement{Link: packetgen.Link{Src: r.mac, VLANs: l.VLANs, OuterTPID: l.OuterTPID},
					Src: r.src, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100:1::/64")},
					PREF64: pref64, SourceLinkLayer: r.slla}.Frame())
			}
		}
	}
	start := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	recs := make([]testenv.CaptureRecord, len(frames))
	for i, f := range frames {
		recs[i] = testenv.CaptureRecord{Data: f, Time: start.Add(time.Duration(i) * 137 * time.Microsecond)}
	}
	return recs
}

func layersProto(p uint8) layers.IPProtocol {
	if p == 17 {
		return packetgen.UDP
	}
	return packetgen.TCP
}

// regexpLine matches one line of output.
type regexpLine struct{ re *regexp.Regexp }

func line(re string) *regexpLine { return &regexpLine{regexp.MustCompile(`(?m)^\s*` + re + `\s*$`)} }

func (l *regexpLine) in(s string) bool { return l.re.MatchString(s) }

// TestClassifyOracle: the generated mix, as pcap, pcapng and cut to a 96-byte
// snap length, classified by meetnoc and counted by tshark, agree on every
// series exactly.
func TestClassifyOracle(t *testing.T) {
	testenv.Tshark(t)
	cfg := oracleMixConfig
	cfgFile := cfg.write(t)
	recs := oracleMix()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, format string
		snaplen      int
	}{
		{"mix.pcap", testenv.FormatPcap, 0},
		{"mix.pcapng", testenv.FormatPcapng, 0},
		{"snap96.pcap", testenv.FormatPcap, 96},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			testenv.WriteCapture(t, path, tc.format, tc.snaplen, recs)
			got := classifyRun(t, "--config.file="+cfgFile, path)
			want := compareWithTshark(t, path, got, cfg.checks(true))

			// The mix must exercise every rule, or agreeing proves little.
			var frames uint64
			for s, v := range want {
				if strings.HasPrefix(s, "meetnoc_traffic_packets_total") {
					frames += v
				}
			}
			if frames != uint64(len(recs)) {
				t.Errorf("the traffic series add up to %d frames, the capture holds %d", frames, len(recs))
			}
			for _, s := range []string{
				`meetnoc_traffic_packets_total{direction="up",family="nat64",ssid="ietf"}`,
				`meetnoc_traffic_packets_total{direction="down",family="nat64",ssid="ietf-dual-stack"}`,
				`meetnoc_traffic_packets_total{direction="other",family="ipv6",ssid="ietf"}`,
				`meetnoc_traffic_packets_total{direction="up",family="ipv4",ssid="ietf-dual-stack"}`,
				`meetnoc_traffic_packets_total{direction="other",family="other",ssid="unknown"}`,
				`meetnoc_traffic_packets_total{direction="other",family="ipv4",ssid="unknown"}`,
			} {
				if want[s] == 0 {
					t.Errorf("the mix has no frame for %s", s)
				}
			}
			if tc.name == "mix.pcap" {
				compareClients(t, path, got, cfg.clientChecks())
			}
			if tc.snaplen == 0 {
				for _, s := range []string{
					`meetnoc_dhcp_ipv6_only_preferred_total{ssid="ietf"}`,
					`meetnoc_dhcp_offers_total{allowed="false",ipv6_only="true",ssid="ietf"}`,
					`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="false",ssid="ietf-dual-stack"}`,
					`meetnoc_router_advertisements_total{allowed="true",pref64="match",ssid="ietf"}`,
					`meetnoc_router_advertisements_total{allowed="false",pref64="mismatch",ssid="ietf-dual-stack"}`,
					`meetnoc_router_advertisements_total{allowed="true",pref64="absent",ssid="unknown"}`,
				} {
					if want[s] == 0 {
						t.Errorf("the mix has no frame for %s", s)
					}
				}
			}
		})
	}
}

// TestClassifyRealCaptures: the shared captures from real networks, classified
// by meetnoc and counted by tshark.
func TestClassifyRealCaptures(t *testing.T) {
	testenv.Tshark(t)
	for _, tc := range []struct {
		file string
		cfg  oracleConfig
		// nonzero are series the capture must have counted.
		nonzero []string
	}{
		{
			file: "802.1ad_QinQ.pcap",
			cfg: oracleConfig{ssids: []oracleSSID{{name: "provider", vlans: []uint16{200}, prefixes4: []string{"172.21.79.0/24"}}},
				nat64: []string{"64:ff9b::/96"}},
			nonzero: []string{`meetnoc_traffic_packets_total{direction="other",family="other",ssid="provider"}`},
		},
		{
			// The IETF network: a DISCOVER asking for 108, an OFFER with it from
			// 31.130.229.6 (server identifier) relayed from 10.56.0.2.
			file: "dhcp-option-108.pcapng",
			cfg: oracleConfig{ssids: []oracleSSID{{name: "ietf", untagged: true, prefixes4: []string{"10.56.0.0/16"},
				prefixes6: []string{"2001:67c:370::/48"}, dhcpServers: []string{"31.130.229.6"}}},
				nat64: []string{"64:ff9b::/96"}},
			nonzero: []string{
				`meetnoc_dhcp_ipv6_only_preferred_total{ssid="ietf"}`,
				`meetnoc_dhcp_offers_total{allowed="true",ipv6_only="true",ssid="ietf"}`,
			},
		},
		{
			// PREF64 2001:db8:1:64:ff9b::/96, one with an invalid PLC, and
			// 2001:db8:0:64:ff9b::/96 twice.
			file: "icmpv6-ra-pref64.pcap",
			cfg: oracleConfig{ssids: []oracleSSID{{name: "ietf", untagged: true, prefixes6: []string{"2001:db8::/32"},
				routers: []string{"fe80::e015:81ff:feb4:b945"}}},
				nat64: []string{"2001:db8:0:64:ff9b::/96"}},
			nonzero: []string{
				`meetnoc_router_advertisements_total{allowed="true",pref64="match",ssid="ietf"}`,
				`meetnoc_router_advertisements_total{allowed="true",pref64="mismatch",ssid="ietf"}`,
			},
		},
		{
			file: "icmpv6.pcap",
			cfg: oracleConfig{ssids: []oracleSSID{{name: "lab", untagged: true, prefixes6: []string{"2001:db8::/32"},
				routers: []string{"fe80::1"}}}, nat64: []string{"64:ff9b::/96"}},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := testenv.SharedCapture(t, tc.file)
			args := []string{"--config.file=" + tc.cfg.write(t), path}
			if u := tc.cfg.untaggedSSID(); u != "" {
				args = append([]string{"--untagged-ssid=" + u}, args...)
			}
			got := classifyRun(t, args...)
			want := compareWithTshark(t, path, got, tc.cfg.checks(true))
			for _, s := range tc.nonzero {
				if want[s] == 0 {
					t.Errorf("tshark counts nothing for %s: the filters are wrong", s)
				}
			}
		})
	}
}

// TestClassifyRealSFlow: `meetnoc classify --sflow` over a real sFlow v6 export
// against tshark's own sFlow dissection: tshark lists every flow sample's
// header, frame length, sampling rate and extended-switch VLAN; the oracle
// writes each header, tagged with that VLAN when the header carries none,
// sampling-rate times into a capture with the frame length as original length,
// and counts that with the same filters as a capture of frames.
func TestClassifyRealSFlow(t *testing.T) {
	testenv.Tshark(t)
	path := testenv.SharedCapture(t, "sflow-print-v6.pcap")
	cfg := oracleConfig{ssids: []oracleSSID{{name: "lab", vlans: []uint16{10}, prefixes4: []string{"10.10.10.0/24"}}},
		nat64: []string{"64:ff9b::/96"}}
	got := classifyRun(t, "--sflow", "--config.file="+cfg.write(t), path)

	rows := testenv.TsharkFields(t, path, "sflow_245.header", "sflow.flow_sample.sampling_rate",
		"sflow_245.header_protocol", "sflow_245.header.frame_length", "sflow_245.vlan.in", "sflow_245.header")
	var recs []testenv.CaptureRecord
	for _, r := range rows {
		rates, protos, lengths, vlans, headers := r[0], r[1], r[2], r[3], r[4]
		// Every flow sample of this capture has one header and one extended
		// switch record, so the lists line up; check that they do.
		if len(rates) != len(headers) || len(protos) != len(headers) || len(lengths) != len(headers) || len(vlans) != len(headers) {
			t.Fatalf("tshark lists %d rates, %d protocols, %d lengths, %d VLANs for %d headers: cannot pair them",
				len(rates), len(protos), len(lengths), len(vlans), len(headers))
		}
		for i, h := range headers {
			hdr, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
			if err != nil {
				t.Fatal(err)
			}
			if protos[i] != "1" {
				continue // not Ethernet: meetnoc does not classify it either
			}
			rate, _ := strconv.Atoi(rates[i])
			wire, _ := strconv.Atoi(lengths[i])
			vlan, _ := strconv.Atoi(vlans[i])
			if et := int(hdr[12])<<8 | int(hdr[13]); vlan > 0 && et != 0x8100 && et != 0x88a8 && et != 0x9100 {
				hdr = slices.Concat(hdr[:12], []byte{0x81, 0x00, byte(vlan >> 8), byte(vlan)}, hdr[12:])
			}
			for range max(rate, 1) {
				// Timestamps advance: io,stat prints no row for a capture of no duration.
				recs = append(recs, testenv.CaptureRecord{Data: hdr, WireLen: wire, Time: time.Unix(1599194546, int64(len(recs))*1000)})
			}
		}
	}
	if len(recs) != 13 {
		t.Errorf("tshark found %d sampled frames (× rate), want the 13 flow samples of the capture", len(recs))
	}
	samples := filepath.Join(t.TempDir(), "samples.pcap")
	testenv.WriteCapture(t, samples, testenv.FormatPcap, 0, recs)
	want := compareWithTshark(t, samples, got, cfg.checks(false))
	if s := `meetnoc_traffic_packets_total{direction="up",family="ipv4",ssid="lab"}`; want[s] != 13 {
		t.Errorf("tshark counts %d for %s, want 13", want[s], s)
	}
}

// TestClassifyErrors: a capture that cannot be classified names the file and
// exits 1.
func TestClassifyErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pcap")
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a capture\n"), 0o600)
	raw := filepath.Join(dir, "raw.pcap")
	// A pcap header with link type 101 (raw IP) and no packets.
	os.WriteFile(raw, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0}, 0o600)
	badCfg := filepath.Join(dir, "bad.yml")
	os.WriteFile(badCfg, []byte("ssids: [{name: unknown, vlans: [5000]}]\n"), 0o600)
	good := filepath.Join(dir, "good.pcap")
	testenv.WriteCapture(t, good, testenv.FormatPcap, 0, nil)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{missing}, []string{missing, "no such file"}},
		{[]string{text}, []string{text, "not a pcap or pcapng capture"}},
		{[]string{raw}, []string{raw, "link type Raw (101)", "not Ethernet"}},
		{[]string{"--config.file=" + badCfg, good}, []string{"bad.yml:1: ssids[0]"}},
		{[]string{"--config.file=" + filepath.Join(dir, "nope.yml"), good}, []string{"nope.yml"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"classify"}, tc.args...), &stdout, &stderr)
		if code != 1 {
			t.Errorf("classify %v: exit %d, want 1", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("classify %v: stderr %q does not contain %q", tc.args, stderr.String(), w)
			}
		}
		if stdout.Len() != 0 {
			t.Errorf("classify %v printed to stdout: %q", tc.args, stdout.String())
		}
	}
}

// TestClassifyConfigSections: a production config whose SNMP secrets live on
// another host still classifies: only its ssids and nat64_prefixes matter.
func TestClassifyConfigSections(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "noc.yml")
	os.WriteFile(cfg, []byte(`
snmp:
  auths:
    wlc: {version: 2c, community_file: /nonexistent/snmp-community}
  targets: [{name: wlc1, address: 192.0.2.1, auth: wlc, profiles: [if_mib]}]
ssids:
  - {name: ietf, vlans: [100], client_prefixes: [2001:db8:100::/56]}
nat64_prefixes: [2001:db8:64::/96]
`), 0o600)
	l := packetgen.Tagged(oClientMAC, oRouterMAC, 100)
	c6 := netip.MustParseAddr("2001:db8:100::10")
	frame := packetgen.Packet{Link: l, Src: c6, Dst: packetgen.NAT64Address(oNAT64Own, oServer4), Protocol: packetgen.TCP, Payload: 10}.Frame()
	path := filepath.Join(dir, "one.pcap")
	testenv.WriteCapture(t, path, testenv.FormatPcap, 0, []testenv.CaptureRecord{{Data: frame}})
	got := classifyRun(t, "--config.file="+cfg, path)
	if s := `meetnoc_traffic_packets_total{direction="up",family="nat64",ssid="ietf"}`; got[s] != 1 {
		t.Errorf("%s = %v, want 1", s, got[s])
	}
}

// TestClassifyDefaultConfig: without a config, every frame is ssid="unknown"
// and NAT64 is 64:ff9b::/96.
func TestClassifyDefaultConfig(t *testing.T) {
	l := packetgen.Tagged(oClientMAC, oRouterMAC, 100)
	c6 := netip.MustParseAddr("2001:db8:100::10")
	recs := []testenv.CaptureRecord{
		{Data: packetgen.Packet{Link: l, Src: c6, Dst: packetgen.NAT64Address(oNAT64WKP, oServer4), Protocol: packetgen.TCP, Payload: 100}.Frame()},
		{Data: packetgen.Packet{Link: l, Src: c6, Dst: packetgen.NAT64Address(oNAT64Own, oServer4), Protocol: packetgen.TCP, Payload: 100}.Frame()},
	}
	path := filepath.Join(t.TempDir(), "two.pcap")
	testenv.WriteCapture(t, path, testenv.FormatPcap, 0, recs)
	got := classifyRun(t, path)
	for series, want := range map[string]float64{
		`meetnoc_traffic_packets_total{direction="other",family="nat64",ssid="unknown"}`: 1,
		`meetnoc_traffic_packets_total{direction="other",family="ipv6",ssid="unknown"}`:  1,
		`meetnoc_traffic_bytes_total{direction="other",family="ipv6",ssid="unknown"}`:    float64(len(recs[1].Data)),
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
	for series := range got {
		if strings.Contains(series, "meetnoc_capture_") || (strings.Contains(series, "ssid=") && !strings.Contains(series, `ssid="unknown"`)) {
			t.Errorf("unexpected series %s", series)
		}
	}

	var help bytes.Buffer
	run([]string{"help", "classify"}, &help, &help)
	if !strings.Contains(help.String(), `ssid="unknown"`) || !strings.Contains(help.String(), "64:ff9b::/96") {
		t.Errorf("classify --help does not say what happens without a config:\n%s", help.String())
	}
}

// TestClassifyTable: --format=table prints the rows that are not zero, with each
// row's share of the bytes, and the IPv6 share per SSID.
func TestClassifyTable(t *testing.T) {
	l := packetgen.Tagged(oClientMAC, oRouterMAC, 100)
	c4, c6 := netip.MustParseAddr("100.64.1.10"), netip.MustParseAddr("2001:db8:100::10")
	v4 := packetgen.Packet{Link: l, Src: c4, Dst: oServer4, Protocol: packetgen.TCP}
	v4.Payload = v4.PayloadFor(1000)
	v6 := packetgen.Packet{Link: l, Src: oServer6, Dst: c6, Protocol: packetgen.TCP}
	v6.Payload = v6.PayloadFor(1000)
	recs := []testenv.CaptureRecord{{Data: v4.Frame()}, {Data: v6.Frame()}, {Data: v6.Frame()}, {Data: v6.Frame()}}
	path := filepath.Join(t.TempDir(), "table.pcapng")
	testenv.WriteCapture(t, path, testenv.FormatPcapng, 0, recs)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"classify", "--format=table", "--config.file=" + oracleMixConfig.write(t), path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []*regexpLine{
		line(`ietf\s+ipv4\s+up\s+1\s+1,000\s+25.0 %`),
		line(`ietf\s+ipv6\s+down\s+3\s+3,000\s+75.0 %`),
		line(`total\s+4\s+4,000\s+100.0 %`),
		line(`ietf\s+75.0 %\s+0.0 %\s+75.0 %`),
	} {
		if !want.in(out) {
			t.Errorf("no line matching %q in\n%s", want.re, out)
		}
	}
	if strings.Contains(out, "nat64    up") || strings.Contains(out, "unknown") {
		t.Errorf("zero rows printed:\n%s", out)
	}
	if !strings.Contains(stderr.String(), path+": 4 frames") {
		t.Errorf("stderr summary %q", stderr.String())
	}
}
