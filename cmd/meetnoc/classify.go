package main

// `meetnoc classify`: a capture file through the same classifier the daemon runs,
// the resulting traffic, DHCP and RA counters printed once. It is how a NOC
// analyses a capture after the meeting, and what the tshark oracle tests check.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/collectors/traffic"
	"github.com/meetnoc/meetnoc/internal/config"
)

// Output formats of classify.
const (
	classifyFormatText  = "text"
	classifyFormatTable = "table"
)

// classifyWindow is the unique-client window of a classified capture: long
// enough that the clients of the whole capture are counted, not of its last
// five minutes.
const classifyWindow = 365 * 24 * time.Hour

// classifySourceName names the capture in logs.
const classifySourceName = "capture"

type classifyOptions struct {
	configFile   string
	sflow        bool
	format       string
	untaggedSSID string
	capture      string
}

// addClassifyCommand registers `classify` and its flags on app.
func addClassifyCommand(app *kingpin.Application) (*kingpin.CmdClause, *classifyOptions) {
	o := &classifyOptions{}
	cmd := app.Command("classify", "Classify a pcap or pcapng capture as the daemon classifies live traffic, and print "+
		"the meetnoc_traffic_*, meetnoc_dhcp_* and meetnoc_router_advertisements_total samples "+
		"(Prometheus text format, or a table). Without --config.file no SSID is known: every frame "+
		`counts as ssid="unknown" (direction "other"), and NAT64 is the well-known prefix 64:ff9b::/96.`)
	cmd.Flag("config.file", "meetnoc configuration file: its SSIDs (VLANs, client prefixes, routers, DHCP servers) and NAT64 prefixes classify the capture.").StringVar(&o.configFile)
	cmd.Flag("sflow", "The capture holds sFlow v5 export traffic (UDP port 6343): classify its sampled headers, weighted by their sampling rates.").BoolVar(&o.sflow)
	cmd.Flag("format", "Output format: text (Prometheus text exposition) or table (for people).").Default(classifyFormatText).EnumVar(&o.format, classifyFormatText, classifyFormatTable)
	cmd.Flag("untagged-ssid", "The SSID of frames without a VLAN tag (a capture taken on an access port).").StringVar(&o.untaggedSSID)
	cmd.Arg("capture", "pcap or pcapng file (may be gzip-compressed).").Required().StringVar(&o.capture)
	return cmd, o
}

// classify runs the capture through the traffic collector and prints its
// counters. Errors (no such file, not a capture, not Ethernet, a bad config) go
// to stderr with exit status 1.
func classify(ctx context.Context, logger *slog.Logger, o *classifyOptions, stdout, stderr io.Writer) int {
	cfg, err := classifyConfig(o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc classify: %v\n", err)
		return 1
	}
	coll, err := traffic.New(cfg, logger, traffic.Options{ClientWindow: classifyWindow})
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc classify: %v\n", err)
		return 1
	}
	if err := coll.RunOnce(ctx); err != nil {
		for _, e := range sourceErrors(err) {
			fmt.Fprintf(stderr, "meetnoc classify: %v\n", e)
		}
		return 1
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(coll); err != nil {
		fmt.Fprintf(stderr, "meetnoc classify: %v\n", err)
		return 1
	}
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc classify: %v\n", err)
		return 1
	}
	mfs = slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool { return !classifyMetric(mf.GetName()) })

	switch o.format {
	case classifyFormatTable:
		err = writeClassifyTable(stdout, mfs)
	default:
		enc := expfmt.NewEncoder(stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err = enc.Encode(mf); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc classify: %v\n", err)
		return 1
	}
	for _, st := range coll.Status() {
		fmt.Fprintln(stderr, classifySummary(o.capture, st))
	}
	return 0
}

// classifySections are the parts of a config that classify uses: the rest (SNMP
// credentials read from files that exist only on the NOC host, DNS, …) may be
// broken or absent on the machine a capture is analysed on.
var classifySections = []string{"ssids", "nat64_prefixes"}

// classifyConfig is the config file's SSIDs and NAT64 prefixes (or the built-in
// default: none, and 64:ff9b::/96) with one pcap source: the capture. Problems
// in other sections of the file are ignored (and logged at info level).
func classifyConfig(o *classifyOptions, logger *slog.Logger) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if o.configFile == "" {
		cfg, err = config.LoadBytes([]byte("{}\n"), "built-in default configuration")
	} else {
		cfg, err = loadClassifyConfig(o.configFile, logger)
	}
	if err != nil {
		return nil, err
	}
	typ := traffic.SourceTypePcap
	if o.sflow {
		typ = traffic.SourceTypePcapSFlow
	}
	c := *cfg
	c.Traffic.Sources = []config.TrafficSource{{
		Name: classifySourceName, Type: typ, Path: o.capture,
		Speed: traffic.SpeedFast, UntaggedSSID: o.untaggedSSID,
	}}
	return &c, nil
}

// loadClassifyConfig loads file whole, so that its problems in the sections
// classify uses are reported with their lines; when every problem is elsewhere,
// it loads those sections alone.
func loadClassifyConfig(file string, logger *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err == nil {
		return cfg, nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil, err
	}
	var relevant []string
	for _, e := range errs {
		if e.Path == "" || slices.ContainsFunc(classifySections, func(s string) bool {
			return e.Path == s || strings.HasPrefix(e.Path, s+".") || strings.HasPrefix(e.Path, s+"[")
		}) {
			relevant = append(relevant, e.Error())
		}
	}
	if len(relevant) > 0 {
		return nil, fmt.Errorf("%s: %d error(s):\n%s", file, len(relevant), strings.Join(relevant, "\n"))
	}
	logger.Info("configuration problems outside the sections classify uses are ignored",
		"file", file, "sections", strings.Join(classifySections, ","), "problems", len(errs), "first", errs[0].Error())
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	keep := &yaml.Node{Kind: yaml.MappingNode}
	if len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if slices.Contains(classifySections, m.Content[i].Value) {
				keep.Content = append(keep.Content, m.Content[i], m.Content[i+1])
			}
		}
	}
	part, err := yaml.Marshal(keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return config.LoadBytes(part, file)
}

// sourceErrors takes RunOnce's joined "source: error" apart and drops the
// source name: the source is the capture, and its errors name the file.
func sourceErrors(err error) []error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		if u := errors.Unwrap(e); u != nil && strings.HasPrefix(e.Error(), classifySourceName+": ") {
			e = u
		}
		out = append(out, e)
	}
	return out
}

// classifyMetric reports whether a metric family is one classify prints: the
// traffic, DHCP and RA counts, not the capture source's own health.
func classifyMetric(name string) bool {
	return strings.HasPrefix(name, "meetnoc_traffic_") || strings.HasPrefix(name, "meetnoc_dhcp_") ||
		name == "meetnoc_router_advertisements_total"
}

// classifySummary is the line on stderr that says what was read.
func classifySummary(capture string, st traffic.SourceStatus) string {
	var b strings.Builder
	if st.Type == traffic.SourceTypePcapSFlow {
		fmt.Fprintf(&b, "%s: %d sFlow datagrams, %d sampled headers", capture, st.Datagrams, st.Packets)
		if st.Malformed > 0 {
			fmt.Fprintf(&b, ", %d malformed datagrams", st.Malformed)
		}
		if st.LostDatagrams > 0 {
			fmt.Fprintf(&b, ", %d datagrams lost before the capture (sequence gaps)", st.LostDatagrams)
		}
	} else {
		fmt.Fprintf(&b, "%s: %d frames", capture, st.Packets)
	}
	if st.Dropped > 0 && st.Type == traffic.SourceTypePcap {
		fmt.Fprintf(&b, ", %d record cut off by the end of the file", st.Dropped)
	}
	return b.String()
}

// sample is one series of a gathered family.
type sample struct {
	labels map[string]string
	value  float64
}

func samplesOf(mfs []*dto.MetricFamily, name string) []sample {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		out := make([]sample, 0, len(mf.GetMetric()))
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value = m.GetGauge().GetValue()
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// Label orders of the table: families and directions as DESIGN.md lists them.
var (
	familyOrder    = []string{"ipv4", "ipv6", "nat64", "other"}
	directionOrder = []string{"up", "down", "other"}
)

// ssidOrder sorts SSID names alphabetically with "unknown" last.
func ssidOrder(a, b string) int {
	if (a == traffic.UnknownSSID) != (b == traffic.UnknownSSID) {
		if a == traffic.UnknownSSID {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

// textTable is a table for people: text columns left-aligned, numbers right.
type textTable struct {
	title  string
	header []string
	right  []bool // per column: right-aligned
	rows   [][]string
}

func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *textTable) write(w io.Writer) {
	fmt.Fprintf(w, "%s\n", t.title)
	if len(t.rows) == 0 {
		fmt.Fprintf(w, "  none\n\n")
		return
	}
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range append([][]string{t.header}, t.rows...) {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			b.WriteString("  ")
			if t.right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintln(w)
}

// writeClassifyTable prints the counts for people: traffic by SSID, family and
// direction with each row's share of all bytes, the IPv6 share of IP bytes per
// SSID, unique clients, then DHCP and Router Advertisements. Rows of zeros are
// left out.
func writeClassifyTable(w io.Writer, mfs []*dto.MetricFamily) error {
	type key struct{ ssid, family, direction string }
	packets := map[key]float64{}
	bytes := map[key]float64{}
	var ssids []string
	var total, totalPackets float64
	for _, s := range samplesOf(mfs, "meetnoc_traffic_packets_total") {
		packets[key{s.labels["ssid"], s.labels["family"], s.labels["direction"]}] = s.value
		totalPackets += s.value
	}
	for _, s := range samplesOf(mfs, "meetnoc_traffic_bytes_total") {
		k := key{s.labels["ssid"], s.labels["family"], s.labels["direction"]}
		bytes[k] = s.value
		total += s.value
		if !slices.Contains(ssids, k.ssid) {
			ssids = append(ssids, k.ssid)
		}
	}
	slices.SortFunc(ssids, ssidOrder)

	traffic := &textTable{title: "Traffic", header: []string{"SSID", "FAMILY", "DIRECTION", "PACKETS", "BYTES", "SHARE OF BYTES"},
		right: []bool{false, false, false, true, true, true}}
	for _, ssid := range ssids {
		for _, f := range familyOrder {
			for _, d := range directionOrder {
				k := key{ssid, f, d}
				if packets[k] == 0 && bytes[k] == 0 {
					continue
				}
				traffic.add(ssid, f, d, count(packets[k]), count(bytes[k]), percent(bytes[k], total))
			}
		}
	}
	traffic.add("total", "", "", count(totalPackets), count(total), percent(total, total))
	traffic.write(w)

	// The headline: how much of each SSID's IP traffic is IPv6 (native or NAT64).
	share := &textTable{title: "IPv6 share of IP bytes", header: []string{"SSID", "IPV6", "NAT64", "IPV6+NAT64"},
		right: []bool{false, true, true, true}}
	for _, ssid := range ssids {
		var v4, v6, nat64 float64
		for _, d := range directionOrder {
			v4 += bytes[key{ssid, "ipv4", d}]
			v6 += bytes[key{ssid, "ipv6", d}]
			nat64 += bytes[key{ssid, "nat64", d}]
		}
		if ip := v4 + v6 + nat64; ip > 0 {
			share.add(ssid, percent(v6, ip), percent(nat64, ip), percent(v6+nat64, ip))
		}
	}
	share.write(w)

	if clients := samplesOf(mfs, "meetnoc_traffic_clients"); len(clients) > 0 {
		byKey := map[[2]string]float64{}
		for _, s := range clients {
			byKey[[2]string{s.labels["ssid"], s.labels["family"]}] = s.value
		}
		t := &textTable{title: "Unique clients (HyperLogLog estimate)", header: []string{"SSID", "IPV4", "IPV6", "NAT64"},
			right: []bool{false, true, true, true}}
		for _, ssid := range ssids {
			v4, v6, n64 := byKey[[2]string{ssid, "ipv4"}], byKey[[2]string{ssid, "ipv6"}], byKey[[2]string{ssid, "nat64"}]
			if v4+v6+n64 > 0 {
				t.add(ssid, count(v4), count(v6), count(n64))
			}
		}
		t.write(w)
	}

	// DHCP: DISCOVERs (and those asking for option 108), OFFERs by server.
	discovers := perSSID(samplesOf(mfs, "meetnoc_dhcp_discovers_total"), nil)
	asking108 := perSSID(samplesOf(mfs, "meetnoc_dhcp_ipv6_only_preferred_total"), nil)
	offers := samplesOf(mfs, "meetnoc_dhcp_offers_total")
	offersAll := perSSID(offers, nil)
	offers108 := perSSID(offers, map[string]string{"ipv6_only": "true"})
	offersRogue := perSSID(offers, map[string]string{"allowed": "false"})
	dhcp := &textTable{title: "DHCPv4", header: []string{"SSID", "DISCOVERS", "ASKING FOR 108", "", "OFFERS", "WITH 108", "FROM UNKNOWN SERVERS"},
		right: []bool{false, true, true, true, true, true, true}}
	for _, ssid := range ssids {
		if discovers[ssid]+offersAll[ssid] > 0 {
			dhcp.add(ssid, count(discovers[ssid]), count(asking108[ssid]), "("+percent(asking108[ssid], discovers[ssid])+")",
				count(offersAll[ssid]), count(offers108[ssid]), count(offersRogue[ssid]))
		}
	}
	dhcp.write(w)

	// Router Advertisements: by sender and PREF64.
	ras := samplesOf(mfs, "meetnoc_router_advertisements_total")
	raAll := perSSID(ras, nil)
	raRogue := perSSID(ras, map[string]string{"allowed": "false"})
	raMatch := perSSID(ras, map[string]string{"pref64": "match"})
	raMismatch := perSSID(ras, map[string]string{"pref64": "mismatch"})
	raAbsent := perSSID(ras, map[string]string{"pref64": "absent"})
	ra := &textTable{title: "Router Advertisements", header: []string{"SSID", "RAS", "FROM UNKNOWN ROUTERS", "PREF64 MATCH", "PREF64 MISMATCH", "NO PREF64"},
		right: []bool{false, true, true, true, true, true}}
	for _, ssid := range ssids {
		if raAll[ssid] > 0 {
			ra.add(ssid, count(raAll[ssid]), count(raRogue[ssid]), count(raMatch[ssid]), count(raMismatch[ssid]), count(raAbsent[ssid]))
		}
	}
	ra.write(w)
	return nil
}

// perSSID sums samples by their ssid label, keeping those whose labels include
// every pair of match.
func perSSID(samples []sample, match map[string]string) map[string]float64 {
	out := map[string]float64{}
next:
	for _, s := range samples {
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		out[s.labels["ssid"]] += s.value
	}
	return out
}

// count prints a counter value with thousands separators; counts of sampled
// traffic are whole numbers too (samples × rate).
func count(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func percent(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*part/whole, 'f', 1, 64) + " %"
}
