package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func figPtr(v float64) *float64 { return &v }

// The venue of the hand-made report: Madrid is UTC+1 in March, so venue
// times differ from UTC and a test catches a time shown in the wrong zone.
const renderTestZone = "Europe/Madrid"

// renderGap is the fixture's gap: meetnoc down on Tuesday, 13:00–14:00 UTC.
var renderGap = Gap{Start: time.Date(2026, 3, 17, 13, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 17, 14, 0, 0, 0, time.UTC)}

// renderSeries makes a series over the meeting at 5-minute steps whose
// values come from value; nil inside the gap.
func renderSeries(chart, name, unit string, from, to time.Time, value func(t time.Time) float64) TimeSeries {
	const step = 300
	s := TimeSeries{Chart: chart, Name: name, Unit: unit, Start: from, Step: step}
	for t := from; !t.After(to); t = t.Add(step * time.Second) {
		if !t.Before(renderGap.Start) && t.Before(renderGap.End) {
			s.Values = append(s.Values, nil)
			continue
		}
		s.Values = append(s.Values, figPtr(value(t)))
	}
	return s
}

// renderTestReport is a meeting as Collect would describe it, made by hand:
// three SSIDs, a gap, the DNS64 metrics absent, a comparison with the
// previous meeting.
func renderTestReport() *Report {
	from := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	to := time.Date(2026, 3, 20, 18, 0, 0, 0, time.UTC)
	peakAt := time.Date(2026, 3, 17, 9, 35, 0, 0, time.UTC) // 10:35 in Madrid
	daily := func(t time.Time) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		return math.Max(0, math.Sin((h-6)/14*math.Pi))
	}
	r := &Report{
		Title:      "IETF 125 Shenzhen",
		From:       from,
		To:         to,
		Generated:  time.Date(2026, 3, 21, 9, 0, 0, 0, time.UTC),
		Prometheus: "http://127.0.0.1:9090",
		Step:       300,
		Timezone:   renderTestZone,

		IPv6BytesShare: figPtr(0.7234),
		Overall: SSIDFigures{
			SSID:                   "all",
			BytesByFamily:          map[string]float64{"ipv4": 2.5e12, "ipv6": 5e12, "nat64": 1.5e12},
			BytesByDirection:       map[string]float64{"up": 2e12, "down": 7e12},
			IPv6BytesShare:         figPtr(0.7234),
			IPv6BytesShareInternet: figPtr(0.5512),
			NAT64Share:             figPtr(0.2311),
			UniqueClients:          figPtr(2345.4),
			UniqueClientsDay:       "2026-03-17",
			PeakClients:            figPtr(1890),
			PeakClientsAt:          peakAt,
			IPv6ActiveShare:        figPtr(0.9123),
			Option108RequestShare:  figPtr(0.4567),
			Option108OfferShare:    figPtr(0.3012),
			IPv4AddressesSaved:     figPtr(569),
			PeakUpBitsPerSecond:    figPtr(412.5e6),
			PeakUpAt:               peakAt,
			PeakDownBitsPerSecond:  figPtr(1.234e9),
			PeakDownAt:             peakAt.Add(time.Hour),
		},
		SSIDs: []SSIDFigures{
			{SSID: "eduroam", BytesByFamily: map[string]float64{"ipv4": 1e12, "ipv6": 1e12}, IPv6BytesShare: figPtr(0.5),
				IPv6BytesShareInternet: figPtr(0.5), NAT64Share: figPtr(0), UniqueClients: figPtr(300), PeakClients: figPtr(210), PeakClientsAt: peakAt,
				IPv6ActiveShare: figPtr(0.61), PeakUpBitsPerSecond: figPtr(5e7), PeakDownBitsPerSecond: figPtr(2e8)},
			{SSID: "ietf", BytesByFamily: map[string]float64{"ipv4": 1.5e12, "ipv6": 3e12, "nat64": 0.5e12}, IPv6BytesShare: figPtr(0.7),
				IPv6BytesShareInternet: figPtr(0.6), NAT64Share: figPtr(0.142857), UniqueClients: figPtr(1500), PeakClients: figPtr(1200), PeakClientsAt: peakAt,
				IPv6ActiveShare: figPtr(0.95), Option108RequestShare: figPtr(0.41), Option108OfferShare: figPtr(0.0), IPv4AddressesSaved: figPtr(0),
				PeakUpBitsPerSecond: figPtr(3e8), PeakDownBitsPerSecond: figPtr(9e8)},
			{SSID: "ietf-v6ONLY", BytesByFamily: map[string]float64{"ipv6": 1e12, "nat64": 1e12}, IPv6BytesShare: figPtr(1),
				IPv6BytesShareInternet: figPtr(0.5), NAT64Share: figPtr(0.5), UniqueClients: figPtr(545), PeakClients: figPtr(480), PeakClientsAt: peakAt,
				IPv6ActiveShare: figPtr(1), Option108RequestShare: figPtr(0.88), Option108OfferShare: figPtr(1), IPv4AddressesSaved: figPtr(422),
				PeakUpBitsPerSecond: figPtr(1e8), PeakDownBitsPerSecond: figPtr(3e8)},
		},
		Health: Health{
			APAvailability: figPtr(0.9876),
			APs: []Availability{
				{Name: "ap-plenary-3", Group: "wlc1", Availability: figPtr(0.8123)},
				{Name: "ap-lobby-1", Group: "wlc1", Availability: figPtr(0.999)},
				{Name: "ap-room-12", Group: "wlc2", Availability: figPtr(1)},
			},
			SNMPAvailability: figPtr(0.9991),
			SNMPTargets:      []Availability{{Name: "core1", Availability: figPtr(0.9982)}, {Name: "wlc1", Availability: figPtr(1)}},
			DNS:              []Availability{{Name: "resolver1", Availability: figPtr(0.9995)}, {Name: "resolver2", Availability: nil}},
			NAT64:            []Availability{{Name: "ipv4only.arpa", Availability: figPtr(0.997)}},
			RogueRA: []Incident{{SSID: "ietf", Start: time.Date(2026, 3, 16, 10, 2, 0, 0, time.UTC),
				End: time.Date(2026, 3, 16, 10, 47, 0, 0, time.UTC), Packets: 91}},
			Alerts: []AlertEpisode{{Name: "MeetnocNAT64ProbeFailing", Severity: "critical", Labels: map[string]string{"target": "ipv4only.arpa"},
				Start: time.Date(2026, 3, 18, 7, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 18, 7, 25, 0, 0, time.UTC)}},
		},
		Gaps:        []Gap{renderGap},
		Absent:      []string{"dns64: no meetnoc_dns64_prefix_expected (no resolver does DNS64 checks)"},
		Definitions: Definitions,
		Previous: &PreviousReport{Title: "IETF 124 Montreal", From: time.Date(2025, 11, 1, 8, 0, 0, 0, time.UTC),
			To: time.Date(2025, 11, 7, 18, 0, 0, 0, time.UTC)},
		Changes: []Change{
			{Figure: "overall.ipv6_bytes_share", Now: figPtr(0.7234), Previous: figPtr(0.6534), Delta: figPtr(0.07)},
			{Figure: "overall.peak_clients", Now: figPtr(1890), Previous: figPtr(2000), Delta: figPtr(-110)},
			{Figure: "overall.option108_request_share", Now: figPtr(0.4567), Previous: nil},
		},
	}
	start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	for d := range 7 {
		day := start.AddDate(0, 0, d)
		p := Period{Label: day.Format("2006-01-02"), Start: day, End: day.AddDate(0, 0, 1),
			Bytes: figPtr(1e12 + float64(d)*1e11), IPv6BytesShare: figPtr(0.7 + float64(d)/100), PeakClients: figPtr(1500 + float64(d)*50), UniqueClients: figPtr(2000 + float64(d))}
		if d == 0 {
			p.UniqueClients = nil // the daily sketches started on Sunday
		}
		r.Days = append(r.Days, p)
	}
	for h := range 24 {
		r.HoursOfDay = append(r.HoursOfDay, Period{Label: time.Date(0, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04"),
			Bytes: figPtr(float64(h) * 1e10), IPv6BytesShare: figPtr(0.7), PeakClients: figPtr(float64(h * 70))})
	}
	for i, ssid := range []string{"eduroam", "ietf", "ietf-v6ONLY"} {
		base := []float64{0.5, 0.7, 1}[i]
		r.Series = append(r.Series,
			renderSeries("ipv6_share", ssid, "ratio", from, to, func(t time.Time) float64 { return base - 0.05*daily(t) }),
			renderSeries("clients", ssid, "clients", from, to, func(t time.Time) float64 { return float64(100*(i+1)) * daily(t) }),
			renderSeries("option108", ssid, "ratio", from, to, func(t time.Time) float64 { return []float64{0, 0.41, 0.88}[i] }),
		)
	}
	for i, fam := range []string{"ipv4", "ipv6", "nat64"} {
		r.Series = append(r.Series, renderSeries("family_mix", fam, "bps", from, to, func(t time.Time) float64 { return float64(i+1) * 2e8 * daily(t) }))
	}
	return r
}

// renderString renders r with write.
func renderString(t *testing.T, write func(*bytes.Buffer, *Report) error, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeHTML(b *bytes.Buffer, r *Report) error     { return WriteHTML(b, r) }
func writeMarkdown(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }

// A report survives report.json: what --previous reads is what was written.
func TestRenderJSONRoundTrip(t *testing.T) {
	r := renderTestReport()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "{\n  \"title\": \"IETF 125 Shenzhen\",\n") {
		t.Errorf("not indented by 2:\n%.80s", b.String())
	}
	// The top-level headline, nulls for figures not measured.
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["ipv6_bytes_share"] != 0.7234 {
		t.Errorf("ipv6_bytes_share = %v", raw["ipv6_bytes_share"])
	}
	if v, ok := raw["ssids"].([]any)[0].(map[string]any)["option108_request_share"]; !ok || v != nil {
		t.Errorf("eduroam's option108_request_share = %v, %v; want null", v, ok)
	}
	got, err := ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// Times come back in a fixed zone; compare instants, then the rest.
	if !got.From.Equal(r.From) || !got.Overall.PeakClientsAt.Equal(r.Overall.PeakClientsAt) {
		t.Errorf("times changed: %v %v", got.From, got.Overall.PeakClientsAt)
	}
	var again bytes.Buffer
	if err := WriteJSON(&again, got); err != nil {
		t.Fatal(err)
	}
	if again.String() != b.String() {
		t.Error("report.json read back and written again differs")
	}
	if !seriesEqual(got.Series, r.Series) {
		t.Error("series changed in the round trip")
	}
	nils := 0
	for _, v := range got.Series[0].Values {
		if v == nil {
			nils++
		}
	}
	if nils != 12 { // the hour-long gap at 5-minute steps
		t.Errorf("%d null values after the round trip, want 12", nils)
	}
}

// seriesEqual compares series by instant and value (times come back from
// JSON in a fixed zone, which reflect.DeepEqual tells apart).
func seriesEqual(a, b []TimeSeries) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Chart != y.Chart || x.Name != y.Name || x.Unit != y.Unit || !x.Start.Equal(y.Start) || x.Step != y.Step || !reflect.DeepEqual(x.Values, y.Values) {
			return false
		}
	}
	return true
}

func TestRenderReadJSONErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "not a meetnoc report.json"},
		{"not JSON", "<html></html>", "not a meetnoc report.json"},
		{"array", `[{"title": "x"}]`, "not a meetnoc report.json"},
		{"Prometheus answer", `{"status":"success","data":{"resultType":"vector","result":[]}}`, `no "title", "from", "to"`},
		{"wrong type", `{"title":"x","from":"2026-03-14T08:00:00Z","to":"2026-03-20T18:00:00Z","generated":"2026-03-21T00:00:00Z",
			"ipv6_bytes_share":"most","overall":{},"ssids":[],"definitions":{}}`, "not a meetnoc report.json: json: cannot unmarshal string"},
		{"no period", `{"title":"x","from":"0001-01-01T00:00:00Z","to":"0001-01-01T00:00:00Z","generated":"2026-03-21T00:00:00Z",
			"ipv6_bytes_share":null,"overall":{},"ssids":[],"definitions":{}}`, "is not a time range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadJSON(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadJSON = %v, %v; want an error with %q", r, err, tc.want)
			}
		})
	}
}

// htmlDoc parses page; html.Parse accepts anything, so well-formedness is
// checked by the tokenizer: every element closed in order, no stray end tag.
func htmlDoc(t *testing.T, page string) *html.Node {
	t.Helper()
	void := map[string]bool{"meta": true, "br": true, "img": true, "link": true, "input": true, "hr": true}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	inSVG := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		name, _ := z.TagName()
		tag := string(name)
		switch tt {
		case html.StartTagToken:
			if tag == "svg" {
				inSVG++
			}
			if !void[tag] || inSVG > 0 {
				stack = append(stack, tag)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tag {
				t.Fatalf("</%s> closes %v", tag, stack)
			}
			stack = stack[:len(stack)-1]
			if tag == "svg" {
				inSVG--
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walkNodes(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walkNodes(c, f)
	}
}

func nodeAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walkNodes(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && nodeAttr(n, "id") == id {
			found = n
		}
	})
	return found
}

func nodeText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	walkNodes(n, func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ') // cells apart
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

// The page is one self-contained, well-formed document: nothing in it can
// make a browser fetch anything.
func TestRenderHTMLSelfContained(t *testing.T) {
	page := renderString(t, writeHTML, renderTestReport())
	doc := htmlDoc(t, page)
	walkNodes(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script", "link", "iframe", "object", "embed", "img", "image", "use", "base":
			t.Errorf("<%s> in the page", n.Data)
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if k == "src" || k == "href" || k == "srcset" || k == "xlink:href" || k == "action" || k == "poster" || strings.HasPrefix(k, "on") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	})
	for _, bad := range []string{"@import", "url(", "@font-face", "<script", "javascript:"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The only "http" in the page: the report's own Prometheus, as text, and
	// the SVG namespaces, which name and load nothing.
	rest := strings.NewReplacer("http://127.0.0.1:9090", "", `xmlns="http://www.w3.org/2000/svg"`, "",
		`xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
	if i := strings.Index(rest, "http"); i >= 0 {
		t.Errorf("page refers to %q", rest[i:min(len(rest), i+60)])
	}
}

// The headline figures, formatted for people, with their definitions and
// their change since the previous meeting.
func TestRenderHTMLFigures(t *testing.T) {
	doc := htmlDoc(t, renderString(t, writeHTML, renderTestReport()))
	for _, tc := range []struct{ key, value, change string }{
		{"ipv6_bytes_share", "72.3%", "+7.0 pp (was 65.3%)"},
		{"ipv6_bytes_share_internet", "55.1%", "no comparison"},
		{"nat64_share", "23.1%", ""},
		{"unique_clients", "2,345 on 2026-03-17", ""},
		{"peak_clients", "1,890 at Tue 17 Mar 10:35", "−110 (was 2,000)"},
		{"ipv6_active_client_share", "91.2%", ""},
		{"option108_request_share", "45.7%", "not measured last time"},
		{"option108_offer_share", "30.1%", ""},
		{"ipv4_addresses_saved", "569", ""},
		{"peak_up_bps", "412 Mbit/s at Tue 17 Mar 10:35", ""},
		{"peak_down_bps", "1.23 Gbit/s at Tue 17 Mar 11:35", ""},
	} {
		tr := byID(doc, "fig-"+tc.key)
		if tr == nil {
			t.Errorf("no headline row for %s", tc.key)
			continue
		}
		got := nodeText(tr)
		for _, want := range []string{tc.value, tc.change, Definitions[tc.key]} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q lacks %q", tc.key, got, want)
			}
		}
	}
	// Tables: per SSID ("unknown" is Collect's to leave out), days, hours,
	// health.
	for id, wants := range map[string][]string{
		"ssids":      {"eduroam 2.00 TB 50.0% 50.0% 0.0% 50.0 Mbit/s 200 Mbit/s", "ietf-v6ONLY 2.00 TB 100.0%", "all SSIDs 9.00 TB 72.3% 55.1% 23.1% 412 Mbit/s 1.23 Gbit/s", "ietf 1,500 1,200 Tue 17 Mar 10:35 95.0% 41.0% 0.0% 0"},
		"days":       {"2026-03-14 1.00 TB 70.0% 1,500 not measured", "2026-03-20 1.60 TB 76.0% 1,800 2,006"},
		"hours":      {"00:00 0 B 70.0% 0", "23:00 230 GB 70.0% 1,610"},
		"aps":        {"AP availability: 98.8%", "ap-plenary-3 wlc1 81.2%", Definitions["ap_availability"]},
		"snmp":       {"SNMP availability: 99.9%", "core1 99.8%"},
		"dns":        {"resolver1 100.0%", "resolver2 not measured"},
		"dns64":      {"Not measured: dns64: no meetnoc_dns64_prefix_expected"},
		"nat64":      {"ipv4only.arpa 99.7%"},
		"rogue-ra":   {"ietf Mon 16 Mar 11:02 Mon 16 Mar 11:47 45 min 91"},
		"rogue-dhcp": {"None seen during the meeting."},
		"alerts":     {"MeetnocNAT64ProbeFailing critical target=ipv4only.arpa Wed 18 Mar 08:00 Wed 18 Mar 08:25 25 min"},
		"gaps":       {"Tue 17 Mar 14:00 Tue 17 Mar 15:00 1 h 00 min"},
		"changes":    {"IETF 124 Montreal", "overall.peak_clients 1,890 2,000 −110", "overall.option108_request_share 45.7% not measured not comparable"},
	} {
		sec := byID(doc, id)
		if sec == nil {
			t.Errorf("no section %s", id)
			continue
		}
		got := nodeText(sec)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("section %s lacks %q:\n%s", id, want, got)
			}
		}
	}
	if sec := byID(doc, "dns64"); sec != nil && strings.Contains(nodeText(sec), "None measured") {
		t.Error("the absent DNS64 section also says \"None measured\"")
	}
}

// A report of a network without a traffic source: its figures say "not
// measured", never 0, and the charts say they have no data.
func TestRenderHTMLNotMeasured(t *testing.T) {
	r := renderTestReport()
	r.IPv6BytesShare = nil
	r.Overall = SSIDFigures{SSID: "all", PeakClients: figPtr(1890), PeakClientsAt: r.Overall.PeakClientsAt}
	r.SSIDs = nil
	r.Series = nil
	r.Absent = []string{"traffic: no meetnoc_traffic_bytes_total (no traffic source configured)"}
	r.Changes, r.Previous = nil, nil
	page := renderString(t, writeHTML, r)
	doc := htmlDoc(t, page)
	for _, key := range []string{"ipv6_bytes_share", "nat64_share", "unique_clients", "peak_down_bps", "option108_offer_share"} {
		if got := nodeText(byID(doc, "fig-"+key)); !strings.Contains(got, "not measured") || strings.Contains(got, "0.0%") {
			t.Errorf("%s: %q", key, got)
		}
	}
	if got := nodeText(byID(doc, "fig-peak_clients")); !strings.Contains(got, "1,890") {
		t.Errorf("peak clients: %q", got)
	}
	if got := nodeText(byID(doc, "ssids")); !strings.Contains(got, "no meetnoc_traffic_bytes_total") || strings.Contains(got, "0 B") {
		t.Errorf("per-SSID section: %q", got)
	}
	if got := nodeText(byID(doc, "headline")); strings.Contains(got, "Change") {
		t.Error("a change column without a previous report")
	}
	for _, c := range Charts {
		fig := byID(doc, "chart-"+c.ID)
		if fig == nil || !strings.Contains(nodeText(fig), "No data") || strings.Contains(renderNode(t, fig), "<svg") {
			t.Errorf("chart %s without data: %q", c.ID, nodeText(fig))
		}
	}
}

func renderNode(t *testing.T, n *html.Node) string {
	var b bytes.Buffer
	if err := html.Render(&b, n); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var fillGap = regexp.MustCompile(`fill:#DDDDDD\b`)

// Every chart is an inline SVG with its lines drawn, broken at the gap, the
// gap shaded, and a legend.
func TestRenderHTMLCharts(t *testing.T) {
	r := renderTestReport()
	doc := htmlDoc(t, renderString(t, writeHTML, r))
	for _, c := range Charts {
		fig := byID(doc, "chart-"+c.ID)
		if fig == nil {
			t.Errorf("no chart %s", c.ID)
			continue
		}
		svg := renderNode(t, fig)
		if !strings.Contains(svg, "<svg") {
			t.Errorf("chart %s has no <svg>", c.ID)
			continue
		}
		// Each of the chart's series: one line before the gap, one after, and
		// its legend swatch, all in its colour.
		var names []string
		for _, s := range r.Series {
			if s.Chart == c.ID {
				names = append(names, s.Name)
			}
		}
		for i, name := range names {
			col := chartPalette[i]
			stroke := regexp.MustCompile(`<path d="M[^"]*"[^>]*stroke:#` + hexColor(col) + `\b`)
			if n := len(stroke.FindAllString(svg, -1)); n != 3 {
				t.Errorf("chart %s, %s: %d paths in its colour, want 2 segments and a legend swatch", c.ID, name, n)
			}
			if !strings.Contains(svg, ">"+name+"</text>") {
				t.Errorf("chart %s: no legend entry %q", c.ID, name)
			}
		}
		// The gap, shaded, and its legend swatch.
		if n := len(fillGap.FindAllString(svg, -1)); n != 2 {
			t.Errorf("chart %s: %d grey fills, want the gap and its legend swatch", c.ID, n)
		}
		if !strings.Contains(svg, ">no data (gap)</text>") {
			t.Errorf("chart %s: the gap is not in the legend", c.ID)
		}
		if !strings.Contains(svg, "time (Europe/Madrid)") {
			t.Errorf("chart %s: the time axis does not name the venue's zone", c.ID)
		}
	}
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("%02X%02X%02X", c.R, c.G, c.B) }

// The mailing-list version: every headline figure and table, plain Markdown.
func TestRenderMarkdown(t *testing.T) {
	md := renderString(t, writeMarkdown, renderTestReport())
	for _, want := range []string{
		"# IETF 125 Shenzhen\n",
		"Sat 14 Mar 2026 09:00 CET to Fri 20 Mar 2026 19:00 CET (Europe/Madrid)",
		"Charts: see report.html.",
		"| Figure | All SSIDs | Change | Definition |",
		"| IPv6 share of bytes, client side | 72.3% | +7.0 pp (was 65.3%) | " + Definitions["ipv6_bytes_share"] + " |",
		"| IPv6 share of bytes, Internet side | 55.1% | no comparison |",
		"| NAT64 share of IPv6 bytes | 23.1% |",
		"| Unique clients, busiest day | 2,345 (on 2026-03-17) |",
		"| Peak concurrent clients | 1,890 (at Tue 17 Mar 10:35) | −110 (was 2,000) |",
		"| IPv6-active clients | 91.2% |",
		"| DISCOVERs asking for option 108 | 45.7% | not measured last time |",
		"| OFFERs with option 108 | 30.1% |",
		"| IPv4 addresses saved at the peak | 569 |",
		"| Peak upstream | 412 Mbit/s (at Tue 17 Mar 10:35) |",
		"| Peak downstream | 1.23 Gbit/s (at Tue 17 Mar 11:35) |",
		"| SSID | Bytes | IPv6 share (client side) | IPv6 share (Internet side) | NAT64 share | Peak up | Peak down |\n|---|--:|--:|--:|--:|--:|--:|\n| eduroam | 2.00 TB | 50.0% | 50.0% | 0.0% | 50.0 Mbit/s | 200 Mbit/s |",
		"| **all SSIDs** | **9.00 TB** | **72.3%** |",
		"| ietf | 1,500 | 1,200 | Tue 17 Mar 10:35 | 95.0% | 41.0% | 0.0% | 0 |",
		"| 2026-03-14 | 1.00 TB | 70.0% | 1,500 | not measured |",
		"| 23:00 | 230 GB | 70.0% | 1,610 |",
		"AP availability: **98.8%**",
		"| ap-plenary-3 | wlc1 | 81.2% |",
		"SNMP availability: **99.9%**",
		"| resolver2 | not measured |",
		"- dns64: no meetnoc_dns64_prefix_expected (no resolver does DNS64 checks)",
		"| ipv4only.arpa | 99.7% |",
		"| ietf | Mon 16 Mar 11:02 | Mon 16 Mar 11:47 | 45 min | 91 |",
		"Rogue DHCP incidents: None seen during the meeting.",
		"| MeetnocNAT64ProbeFailing | critical | target=ipv4only.arpa | Wed 18 Mar 08:00 | Wed 18 Mar 08:25 | 25 min |",
		"| Tue 17 Mar 14:00 | Tue 17 Mar 15:00 | 1 h 00 min |",
		"| overall.ipv6_bytes_share | 72.3% | 65.3% | +7.0 pp |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, bad := range []string{"<", "{{", "<no value>"} {
		if strings.Contains(md, bad) {
			t.Errorf("report.md contains %q", bad)
		}
	}
	if dir := os.Getenv("MEETNOC_REPORT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
	}
}

// A cell with a pipe stays one cell.
func TestRenderMarkdownEscapes(t *testing.T) {
	r := renderTestReport()
	r.SSIDs[0].SSID = "a|b"
	md := renderString(t, writeMarkdown, r)
	if !strings.Contains(md, `| a\|b | 2.00 TB |`) {
		t.Error("a pipe in an SSID name is not escaped")
	}
}

func TestRenderFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{formatPercent(figPtr(0.72345)), "72.3%"},
		{formatPercent(figPtr(1)), "100.0%"},
		{formatPercent(nil), "not measured"},
		{formatBitRate(figPtr(999)), "999 bit/s"},
		{formatBitRate(figPtr(999.6)), "1.00 kbit/s"},
		{formatBitRate(figPtr(12.34e6)), "12.3 Mbit/s"},
		{formatBitRate(figPtr(1.234e9)), "1.23 Gbit/s"},
		{formatBitRate(nil), "not measured"},
		{formatBytes(figPtr(9e12)), "9.00 TB"},
		{formatCount(figPtr(1234567.4)), "1,234,567"},
		{formatCount(figPtr(0)), "0"},
		{formatDelta("ratio", -0.0123), "−1.2 pp"},
		{formatDelta("count", 1200), "+1,200"},
		{formatDelta("bps", 2.5e8), "+250 Mbit/s"},
		{formatDuration(45 * time.Second), "45 s"},
		{formatDuration(90 * time.Minute), "1 h 30 min"},
		{formatDuration(50 * time.Hour), "2 d 2 h"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// Hundreds of APs: the least available are listed, the rest summed up.
func TestRenderHTMLManyAPs(t *testing.T) {
	r := renderTestReport()
	r.Health.APs = nil
	for i := range 40 {
		r.Health.APs = append(r.Health.APs, Availability{Name: fmt.Sprintf("ap%02d", i), Group: "wlc1", Availability: figPtr(0.9 + float64(i)/400)})
	}
	got := nodeText(byID(htmlDoc(t, renderString(t, writeHTML, r)), "aps"))
	if !strings.Contains(got, "ap24 wlc1 96.0%") || strings.Contains(got, "ap25") {
		t.Errorf("AP rows: %s", got)
	}
	if !strings.Contains(got, "… and 15 more, each at least 96.2% (all of them in report.json).") {
		t.Errorf("no summary of the rest: %s", got)
	}
}
