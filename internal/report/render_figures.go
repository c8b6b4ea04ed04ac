package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// notMeasured is what the report says for a nil figure: never a zero.
const notMeasured = "not measured"

// renderer formats a report's figures for people: percent with one decimal,
// bit rates and byte counts with SI prefixes, times in the venue's zone.
type renderer struct {
	r   *Report
	loc *time.Location
}

func newRenderer(r *Report) renderer {
	loc := time.UTC
	if r.Timezone != "" {
		if l, err := time.LoadLocation(r.Timezone); err == nil {
			loc = l
		}
	}
	return renderer{r: r, loc: loc}
}

func (f renderer) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format("Mon 2 Jan 2006 15:04 MST")
}

func (f renderer) day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format("2 Jan 2006")
}

// clock is a time within the meeting, where the year goes without saying.
func (f renderer) clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format("Mon 2 Jan 15:04")
}

func (f renderer) definition(key string) string {
	if d, ok := f.r.Definitions[key]; ok && d != "" {
		return d
	}
	return Definitions[key]
}

// figureKind is how a figure is formatted, by its JSON name.
func figureKind(key string) string {
	switch {
	case strings.Contains(key, "_share"), strings.HasSuffix(key, "availability"):
		return "ratio"
	case strings.HasSuffix(key, "_bps"):
		return "bps"
	case strings.HasPrefix(key, "bytes"):
		return "bytes"
	default:
		return "count"
	}
}

func formatKind(k string, v *float64) string {
	switch k {
	case "ratio":
		return formatPercent(v)
	case "bps":
		return formatBitRate(v)
	case "bytes":
		return formatBytes(v)
	default:
		return formatCount(v)
	}
}

// isMeasured is false for a nil figure, and for NaN or ±Inf, which PromQL
// gives for 0/0 and which mean nothing measured either.
func isMeasured(v *float64) bool { return v != nil && finite(*v) }

func formatPercent(v *float64) string {
	if !isMeasured(v) {
		return notMeasured
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func formatBitRate(v *float64) string {
	if !isMeasured(v) {
		return notMeasured
	}
	return siValue(*v, "bit/s")
}

func formatBytes(v *float64) string {
	if !isMeasured(v) {
		return notMeasured
	}
	return siValue(*v, "B")
}

// siValue is v with an SI prefix and three significant digits: "1.23 Gbit/s".
func siValue(v float64, unit string) string {
	prefixes := []string{"", "k", "M", "G", "T", "P", "E"}
	i := 0
	for math.Abs(v) >= 999.5 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	prec := 0
	switch a := math.Abs(v); {
	case i == 0:
	case a < 9.995:
		prec = 2
	case a < 99.95:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + prefixes[i] + unit
}

func formatCount(v *float64) string {
	if !isMeasured(v) {
		return notMeasured
	}
	return groupThousands(math.Round(*v))
}

// groupThousands writes 12345 as "12,345".
func groupThousands(v float64) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', 0, 64)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatDelta is a change: percentage points for shares.
func formatDelta(k string, d float64) string {
	sign := "+"
	if d < 0 {
		sign = "−"
	}
	a := math.Abs(d)
	switch k {
	case "ratio":
		return sign + strconv.FormatFloat(a*100, 'f', 1, 64) + " pp"
	case "bps":
		return sign + siValue(a, "bit/s")
	case "bytes":
		return sign + siValue(a, "B")
	default:
		return sign + groupThousands(math.Round(a))
	}
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%d h %02d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// change finds the Change of a figure: "overall.KEY", or a top-level "KEY".
func (f renderer) change(key string) (Change, bool) {
	for _, c := range f.r.Changes {
		if c.Figure == "overall."+key || c.Figure == key {
			return c, true
		}
	}
	return Change{}, false
}

func (f renderer) describeChange(c Change, k string) string {
	switch {
	case c.Delta != nil:
		return formatDelta(k, *c.Delta) + " (was " + formatKind(k, c.Previous) + ")"
	case c.Previous == nil:
		return "not measured last time"
	default:
		return "was " + formatKind(k, c.Previous)
	}
}

func (f renderer) headlines() []headlineView {
	o := f.r.Overall
	share := f.r.IPv6BytesShare
	if share == nil {
		share = o.IPv6BytesShare
	}
	hs := []headlineView{
		{Key: "ipv6_bytes_share", Name: "IPv6 share of bytes, client side"},
		{Key: "ipv6_bytes_share_internet", Name: "IPv6 share of bytes, Internet side"},
		{Key: "nat64_share", Name: "NAT64 share of IPv6 bytes"},
		{Key: "unique_clients", Name: "Unique clients, busiest day"},
		{Key: "peak_clients", Name: "Peak concurrent clients"},
		{Key: "ipv6_active_client_share", Name: "IPv6-active clients"},
		{Key: "option108_request_share", Name: "DISCOVERs asking for option 108"},
		{Key: "option108_offer_share", Name: "OFFERs with option 108"},
		{Key: "ipv4_addresses_saved", Name: "IPv4 addresses saved at the peak"},
		{Key: "peak_up_bps", Name: "Peak upstream"},
		{Key: "peak_down_bps", Name: "Peak downstream"},
	}
	values := map[string]*float64{
		"ipv6_bytes_share":          share,
		"ipv6_bytes_share_internet": o.IPv6BytesShareInternet,
		"nat64_share":               o.NAT64Share,
		"unique_clients":            o.UniqueClients,
		"peak_clients":              o.PeakClients,
		"ipv6_active_client_share":  o.IPv6ActiveShare,
		"option108_request_share":   o.Option108RequestShare,
		"option108_offer_share":     o.Option108OfferShare,
		"ipv4_addresses_saved":      o.IPv4AddressesSaved,
		"peak_up_bps":               o.PeakUpBitsPerSecond,
		"peak_down_bps":             o.PeakDownBitsPerSecond,
	}
	for i := range hs {
		h := &hs[i]
		v := values[h.Key]
		k := figureKind(h.Key)
		h.Value, h.Measured = formatKind(k, v), v != nil
		h.Definition = f.definition(h.Key)
		if v != nil {
			switch h.Key {
			case "unique_clients":
				if o.UniqueClientsDay != "" {
					h.Detail = "on " + o.UniqueClientsDay
				}
			case "peak_clients":
				h.Detail = f.at(o.PeakClientsAt)
			case "peak_up_bps":
				h.Detail = f.at(o.PeakUpAt)
			case "peak_down_bps":
				h.Detail = f.at(o.PeakDownAt)
			}
		}
		if f.r.Previous != nil || len(f.r.Changes) > 0 {
			h.Change = "no comparison"
			if c, ok := f.change(h.Key); ok {
				h.Change = f.describeChange(c, k)
			}
		}
	}
	return hs
}

func (f renderer) at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "at " + f.clock(t)
}

// absentFor picks the Report.Absent notes about a section: those that start
// with one of its names ("traffic: …") or name one of its metrics.
func (f renderer) absentFor(names []string, metrics []string) []string {
	var out []string
	for _, a := range f.r.Absent {
		prefix, _, _ := strings.Cut(a, ":")
		prefix = strings.ToLower(strings.TrimSpace(prefix))
		match := false
		for _, n := range names {
			if prefix == n {
				match = true
			}
		}
		for _, m := range metrics {
			if containsWord(a, m) {
				match = true
			}
		}
		if match {
			out = append(out, a)
		}
	}
	return out
}

// containsWord reports whether s contains the metric name m not as part of a
// longer name (meetnoc_dns64… is not meetnoc_dns…).
func containsWord(s, m string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], m)
		if j < 0 {
			return false
		}
		end := i + j + len(m)
		if end == len(s) || !isNameByte(s[end]) {
			if i+j == 0 || !isNameByte(s[i+j-1]) {
				return true
			}
		}
		i = i + j + 1
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var (
	trafficMetrics = []string{"meetnoc_traffic_bytes_total"}
	clientMetrics  = []string{"meetnoc_ssid_clients", "meetnoc_traffic_daily_clients", "meetnoc_traffic_daily_active_clients",
		"meetnoc_traffic_daily_ipv6_active_clients", "meetnoc_traffic_active_clients", "meetnoc_traffic_ipv6_active_clients"}
	dhcpMetrics = []string{"meetnoc_dhcp_discovers_total", "meetnoc_dhcp_ipv6_only_preferred_total", "meetnoc_dhcp_offers_total"}
)

func (f renderer) sections() []sectionView {
	var out []sectionView
	out = append(out, f.ssidSections()...)
	out = append(out, f.periodSections()...)
	out = append(out, f.healthSections()...)
	out = append(out, f.gapSection())
	if f.r.Previous != nil || len(f.r.Changes) > 0 {
		out = append(out, f.changesSection())
	}
	return out
}

func (f renderer) ssidSections() []sectionView {
	ssids := append([]SSIDFigures(nil), f.r.SSIDs...)
	sort.SliceStable(ssids, func(i, j int) bool { return ssids[i].SSID < ssids[j].SSID })
	all := f.r.Overall
	all.SSID = "all SSIDs"
	if all.IPv6BytesShare == nil {
		all.IPv6BytesShare = f.r.IPv6BytesShare
	}

	traffic := tableView{
		Caption: "Traffic per SSID",
		Head:    []string{"SSID", "Bytes", "IPv6 share (client side)", "IPv6 share (Internet side)", "NAT64 share", "Peak up", "Peak down"},
		Numeric: []bool{false, true, true, true, true, true, true},
		Empty:   "No SSID measured.",
	}
	clients := tableView{
		Caption: "Clients and DHCP per SSID",
		Head:    []string{"SSID", "Unique clients (busiest day)", "Peak clients", "Peak at", "IPv6-active", "Option 108 requested", "Option 108 offered", "IPv4 saved"},
		Numeric: []bool{false, true, true, false, true, true, true, true},
		Empty:   "No SSID measured.",
	}
	add := func(s SSIDFigures, total bool) {
		traffic.Rows = append(traffic.Rows, rowView{Total: total, Cells: []string{
			s.SSID, formatBytes(sumBytes(s.BytesByFamily)), formatPercent(s.IPv6BytesShare), formatPercent(s.IPv6BytesShareInternet),
			formatPercent(s.NAT64Share), formatBitRate(s.PeakUpBitsPerSecond), formatBitRate(s.PeakDownBitsPerSecond),
		}})
		peakAt := ""
		if s.PeakClients != nil {
			peakAt = f.clock(s.PeakClientsAt)
		}
		clients.Rows = append(clients.Rows, rowView{Total: total, Cells: []string{
			s.SSID, formatCount(s.UniqueClients), formatCount(s.PeakClients), peakAt, formatPercent(s.IPv6ActiveShare),
			formatPercent(s.Option108RequestShare), formatPercent(s.Option108OfferShare), formatCount(s.IPv4AddressesSaved),
		}})
	}
	for _, s := range ssids {
		add(s, false)
	}
	add(all, true)
	return []sectionView{{
		ID: "ssids", Title: "Per SSID", Level: 2,
		Absent: f.absentFor([]string{"traffic", "clients", "dhcp", "option108", "ssids"}, concatNames(trafficMetrics, clientMetrics, dhcpMetrics)),
		Definitions: []string{
			"Bytes are the clients' bytes in both directions (IPv4, IPv6 and NAT64). The columns are the headline figures, per SSID; the last row is all SSIDs together.",
		},
		Tables: []tableView{traffic, clients},
	}}
}

// sumBytes is the total of the IPv4, IPv6 and NAT64 bytes; nil when none were
// counted, so that a missing traffic source is not shown as 0 B.
func sumBytes(m map[string]float64) *float64 {
	if len(m) == 0 {
		return nil
	}
	var t float64
	for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
		t += m[fam]
	}
	return &t
}

func concatNames(ls ...[]string) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

func (f renderer) periodSections() []sectionView {
	days := tableView{
		Caption: "Per venue day",
		Head:    []string{"Day", "Bytes", "IPv6 share", "Peak clients", "Unique clients"},
		Numeric: []bool{false, true, true, true, true},
		Empty:   "No days in the period.",
	}
	for _, p := range f.r.Days {
		days.Rows = append(days.Rows, rowView{Cells: []string{p.Label, formatBytes(p.Bytes), formatPercent(p.IPv6BytesShare), formatCount(p.PeakClients), formatCount(p.UniqueClients)}})
	}
	hours := tableView{
		Caption: "Per hour of day, all days together",
		Head:    []string{"Hour", "Bytes", "IPv6 share", "Peak clients"},
		Numeric: []bool{false, true, true, true},
		Empty:   "No hours in the period.",
	}
	for _, p := range f.r.HoursOfDay {
		hours.Rows = append(hours.Rows, rowView{Cells: []string{p.Label, formatBytes(p.Bytes), formatPercent(p.IPv6BytesShare), formatCount(p.PeakClients)}})
	}
	absent := f.absentFor([]string{"traffic", "clients", "days", "hours"}, concatNames(trafficMetrics, clientMetrics))
	return []sectionView{
		{ID: "days", Title: "Per day", Level: 2, Absent: absent, Tables: []tableView{days},
			Definitions: []string{"Days are the venue's (" + f.loc.String() + "), midnight to midnight."}},
		{ID: "hours", Title: "Per hour of day", Level: 2, Absent: absent, Tables: []tableView{hours},
			Definitions: []string{"Each hour of the venue's day, over all days of the meeting: when the network is busy and how IPv6 fares then."}},
	}
}

// maxAvailabilityRows bounds the AP table: a meeting has hundreds of APs, and
// the ones that matter are the least available, which come first.
const maxAvailabilityRows = 25

func (f renderer) availabilityTable(caption, nameHead string, as []Availability, groupHead string) tableView {
	t := tableView{Caption: caption, Empty: "None measured."}
	if groupHead != "" {
		t.Head = []string{nameHead, groupHead, "Availability"}
		t.Numeric = []bool{false, false, true}
	} else {
		t.Head = []string{nameHead, "Availability"}
		t.Numeric = []bool{false, true}
	}
	for i, a := range as {
		if i == maxAvailabilityRows && len(as) > maxAvailabilityRows+5 {
			rest := as[i:]
			lowest := (*float64)(nil)
			for _, r := range rest {
				if r.Availability != nil && (lowest == nil || *r.Availability < *lowest) {
					v := *r.Availability
					lowest = &v
				}
			}
			t.More = fmt.Sprintf("… and %d more", len(rest))
			if lowest != nil {
				t.More += ", each at least " + formatPercent(lowest)
			}
			t.More += " (all of them in report.json)."
			break
		}
		cells := []string{a.Name}
		if groupHead != "" {
			cells = append(cells, a.Group)
		}
		t.Rows = append(t.Rows, rowView{Cells: append(cells, formatPercent(a.Availability))})
	}
	return t
}

func (f renderer) incidentTable(caption string, is []Incident, packets string) tableView {
	t := tableView{
		Caption: caption,
		Head:    []string{"SSID", "From", "To", "Duration", packets},
		Numeric: []bool{false, false, false, true, true},
		Empty:   "None seen during the meeting.",
	}
	for _, i := range is {
		p := i.Packets
		t.Rows = append(t.Rows, rowView{Cells: []string{i.SSID, f.clock(i.Start), f.clock(i.End), formatDuration(i.End.Sub(i.Start)), formatCount(&p)}})
	}
	return t
}

func (f renderer) healthSections() []sectionView {
	h := f.r.Health
	aps := sectionView{ID: "aps", Title: "Access points", Level: 3,
		Definitions: []string{f.definition("ap_availability")},
		Absent:      f.absentFor([]string{"ap", "aps", "access points"}, []string{"meetnoc_ap_up"}),
		Figures:     []figureView{{"AP availability", formatPercent(h.APAvailability)}},
		Tables:      []tableView{f.availabilityTable("Access points, least available first", "AP", h.APs, "Controller")},
	}
	snmp := sectionView{ID: "snmp", Title: "SNMP targets", Level: 3,
		Definitions: []string{f.definition("snmp_availability")},
		Absent:      f.absentFor([]string{"snmp"}, []string{"meetnoc_snmp_polls_total", "meetnoc_snmp_up"}),
		Figures:     []figureView{{"SNMP availability", formatPercent(h.SNMPAvailability)}},
		Tables:      []tableView{f.availabilityTable("SNMP targets", "Target", h.SNMPTargets, "")},
	}
	dns := sectionView{ID: "dns", Title: "DNS resolvers", Level: 3,
		Definitions: []string{f.definition("dns_availability")},
		Absent:      f.absentFor([]string{"dns"}, []string{"meetnoc_dns_probes_total", "meetnoc_dns_probe_success"}),
		Tables:      []tableView{f.availabilityTable("DNS probes per resolver", "Resolver", h.DNS, "")},
	}
	dns64 := sectionView{ID: "dns64", Title: "DNS64", Level: 3,
		Definitions: []string{f.definition("dns64_availability")},
		Absent:      f.absentFor([]string{"dns64"}, []string{"meetnoc_dns64_prefix_expected"}),
		Tables:      []tableView{f.availabilityTable("DNS64 probes per resolver", "Resolver", h.DNS64, "")},
	}
	nat64 := sectionView{ID: "nat64", Title: "NAT64", Level: 3,
		Definitions: []string{f.definition("nat64_availability")},
		Absent:      f.absentFor([]string{"nat64"}, []string{"meetnoc_nat64_probes_total", "meetnoc_nat64_probe_success"}),
		Tables:      []tableView{f.availabilityTable("NAT64 probes per target", "Target", h.NAT64, "")},
	}
	ra := sectionView{ID: "rogue-ra", Title: "Rogue router advertisements", Level: 3,
		Definitions: []string{f.definition("rogue_ra")},
		Absent:      f.absentFor([]string{"rogue_ra", "rogue ra", "ra"}, []string{"meetnoc_router_advertisements_total"}),
		Tables:      []tableView{f.incidentTable("Rogue RA incidents", h.RogueRA, "RAs")},
	}
	dhcp := sectionView{ID: "rogue-dhcp", Title: "Rogue DHCP servers", Level: 3,
		Definitions: []string{f.definition("rogue_dhcp")},
		Absent:      f.absentFor([]string{"rogue_dhcp", "rogue dhcp"}, []string{"meetnoc_dhcp_offers_total"}),
		Tables:      []tableView{f.incidentTable("Rogue DHCP incidents", h.RogueDHCP, "OFFERs")},
	}
	alerts := tableView{
		Caption: "Alert timeline",
		Head:    []string{"Alert", "Severity", "Labels", "From", "To", "Duration"},
		Numeric: []bool{false, false, false, false, false, true},
		Empty:   "No alert fired during the meeting.",
	}
	for _, a := range h.Alerts {
		alerts.Rows = append(alerts.Rows, rowView{Cells: []string{a.Name, a.Severity, formatLabels(a.Labels), f.clock(a.Start), f.clock(a.End), formatDuration(a.End.Sub(a.Start))}})
	}
	al := sectionView{ID: "alerts", Title: "Alerts", Level: 3,
		Definitions: []string{f.definition("alerts")},
		Absent:      f.absentFor([]string{"alerts"}, []string{"ALERTS"}),
		Tables:      []tableView{alerts},
	}
	head := sectionView{ID: "health", Title: "Network health", Level: 2}
	return []sectionView{head, aps, snmp, dns, dns64, nat64, ra, dhcp, al}
}

func formatLabels(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + ls[k]
	}
	return strings.Join(parts, " ")
}

func (f renderer) gapSection() sectionView {
	t := tableView{
		Caption: "Stretches with no data",
		Head:    []string{"From", "To", "Duration"},
		Numeric: []bool{false, false, true},
		Empty:   "None: meetnoc's data covers the whole period.",
	}
	for _, g := range f.r.Gaps {
		t.Rows = append(t.Rows, rowView{Cells: []string{f.clock(g.Start), f.clock(g.End), formatDuration(g.End.Sub(g.Start))}})
	}
	return sectionView{ID: "gaps", Title: "Gaps in the data", Level: 2,
		Definitions: []string{"Times with no data from meetnoc at all (it was down or not scraped). They are not filled in: the charts leave them empty, shaded grey, and the figures cover only the time measured."},
		Tables:      []tableView{t},
	}
}

func (f renderer) changesSection() sectionView {
	t := tableView{
		Caption: "Changes since the previous meeting",
		Head:    []string{"Figure", "Now", "Previous", "Change"},
		Numeric: []bool{false, true, true, true},
		Empty:   "No figures to compare.",
	}
	for _, c := range f.r.Changes {
		name := c.Figure
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		k := figureKind(name)
		d := "not comparable"
		if c.Delta != nil {
			d = formatDelta(k, *c.Delta)
		}
		t.Rows = append(t.Rows, rowView{Cells: []string{c.Figure, formatKind(k, c.Now), formatKind(k, c.Previous), d}})
	}
	var defs []string
	if f.r.Previous != nil {
		defs = append(defs, fmt.Sprintf("Compared with %s (%s to %s). Shares change in percentage points (pp).", f.r.Previous.Title, f.day(f.r.Previous.From), f.day(f.r.Previous.To)))
	}
	return sectionView{ID: "changes", Title: "Changes since the previous meeting", Level: 2, Definitions: defs, Tables: []tableView{t}}
}
