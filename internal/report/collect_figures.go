package report

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"time"

	"github.com/prometheus/common/model"
)

// assemble turns the query results into the Report.
func (c *collection) assemble() *Report {
	loc := c.opts.Location
	r := &Report{
		Title:       c.opts.Title,
		From:        c.opts.From,
		To:          c.opts.To,
		Generated:   time.Now().In(loc),
		Prometheus:  c.opts.URL,
		Step:        c.chartStep.Seconds(), // the figures' own queries are at c.step
		Timezone:    zoneName(c.opts.From, loc),
		Definitions: maps.Clone(Definitions),
		Absent:      []string{},
	}
	c.present = map[string]bool{
		metricBytes:         len(c.bytes) > 0,
		metricSSIDClients:   len(c.clients) > 0,
		metricDiscovers:     len(c.discovers) > 0,
		metricOffers:        len(c.offers) > 0 || c.rogueDHCPPresent,
		metricRAs:           c.rogueRAPresent,
		metricAPUp:          len(c.aps) > 0,
		metricSNMPPolls:     len(c.snmp) > 0,
		metricDNSProbes:     len(c.dns) > 0,
		metricDNS64Expected: len(c.dns64Expected) > 0,
		metricNAT64Probes:   len(c.nat64) > 0,
		metricBuildInfo:     len(c.buildInfo) > 0,
	}
	for _, v := range c.dayActive {
		c.present[metricDailyActive] = c.present[metricDailyActive] || len(v) > 0
	}
	for _, a := range absence {
		if !c.present[a.metric] {
			r.Absent = append(r.Absent, fmt.Sprintf("%s: no %s (%s)", a.section, a.metric, a.reason))
		}
	}

	r.Gaps = c.gaps()
	// Nothing was measured in a gap: step values there are Prometheus's
	// lookback repeating the last sample, not data.
	for _, m := range []model.Matrix{c.clients, c.bitRates, c.dns64Expected, c.dns64Probed,
		c.chartShare, c.chartShareAll, c.chartClients, c.chartFamilies, c.chart108, c.chart108All} {
		dropGaps(m, r.Gaps)
	}

	figures := c.ssidFigures()
	r.Overall = *figures[overallSSID]
	r.IPv6BytesShare = r.Overall.IPv6BytesShare
	r.SSIDs = []SSIDFigures{}
	for _, ssid := range keysSorted(figures) {
		if ssid != overallSSID && ssid != unknownSSID {
			r.SSIDs = append(r.SSIDs, *figures[ssid])
		}
	}
	r.Days = c.dayFigures()
	r.HoursOfDay = c.hourFigures()
	r.Health = c.health()
	r.Series = c.series()
	return r
}

// zoneName names the venue's time zone: its IANA name, or for the
// unnamed local zone its abbreviation at the start ("CET").
func zoneName(t time.Time, loc *time.Location) string {
	if name := loc.String(); name != "Local" {
		return name
	}
	name, _ := t.In(loc).Zone()
	return name
}

// gaps are the stretches between two samples of meetnoc_build_info (of any
// daemon) longer than twice the step and three typical scrape intervals, and
// the stretches at the ends of the range without samples.
func (c *collection) gaps() []Gap {
	gaps := []Gap{}
	if !c.present[metricBuildInfo] {
		return gaps
	}
	seen := map[model.Time]bool{}
	var times []model.Time
	for _, s := range c.buildInfo {
		for _, p := range s.Values {
			if !seen[p.Timestamp] {
				seen[p.Timestamp] = true
				times = append(times, p.Timestamp)
			}
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	threshold := max(2*c.step, 3*medianSpacing(times))
	loc := c.opts.Location
	add := func(start, end time.Time) {
		if end.Sub(start) > threshold {
			gaps = append(gaps, Gap{Start: start.In(loc), End: end.In(loc)})
		}
	}
	if len(times) == 0 {
		add(c.opts.From, c.opts.To)
		return gaps
	}
	add(c.opts.From, times[0].Time())
	for i := 1; i < len(times); i++ {
		add(times[i-1].Time(), times[i].Time())
	}
	add(times[len(times)-1].Time(), c.opts.To)
	return gaps
}

func inGap(t time.Time, gaps []Gap) bool {
	for _, g := range gaps {
		if t.After(g.Start) && t.Before(g.End) {
			return true
		}
	}
	return false
}

// dropGaps removes the values strictly inside a gap.
func dropGaps(m model.Matrix, gaps []Gap) {
	if len(gaps) == 0 {
		return
	}
	for _, s := range m {
		kept := s.Values[:0]
		for _, p := range s.Values {
			if !inGap(p.Timestamp.Time(), gaps) {
				kept = append(kept, p)
			}
		}
		s.Values = kept
	}
}

// ssidFigures computes each SSID's figures and the overall ones (SSID "all",
// every SSID's including "unknown").
func (c *collection) ssidFigures() map[string]*SSIDFigures {
	figures := map[string]*SSIDFigures{}
	get := func(ssid string) *SSIDFigures {
		f, ok := figures[ssid]
		if !ok {
			f = &SSIDFigures{SSID: ssid}
			figures[ssid] = f
		}
		return f
	}
	all := get(overallSSID)
	loc := c.opts.Location

	// Bytes and the shares computed from them.
	for _, s := range c.bytes {
		for _, f := range []*SSIDFigures{get(string(s.Metric["ssid"])), all} {
			if f.BytesByFamily == nil {
				f.BytesByFamily, f.BytesByDirection = map[string]float64{}, map[string]float64{}
			}
			f.BytesByFamily[string(s.Metric["family"])] += float64(s.Value)
			f.BytesByDirection[string(s.Metric["direction"])] += float64(s.Value)
		}
	}
	for _, f := range figures {
		if f.BytesByFamily == nil {
			continue
		}
		v4, v6, nat64 := f.BytesByFamily["ipv4"], f.BytesByFamily["ipv6"], f.BytesByFamily["nat64"]
		f.IPv6BytesShare = shareOf(v6+nat64, v4+v6+nat64)
		f.IPv6BytesShareInternet = shareOf(v6, v4+v6+nat64)
		f.NAT64Share = shareOf(nat64, v6+nat64)
	}

	// Unique clients: each SSID's busiest day, and that day's IPv6-active share.
	type daily struct {
		day          int
		active, ipv6 float64
		ipv6Seen     bool // a meetnoc may export one gauge and not the other
	}
	busiest := map[string]daily{}
	for i := range c.days {
		counts := map[string]daily{}
		for _, s := range c.dayActive[i] {
			for _, ssid := range []string{string(s.Metric["ssid"]), overallSSID} {
				d := counts[ssid]
				d.day, d.active = i, d.active+float64(s.Value)
				counts[ssid] = d
			}
		}
		for _, s := range c.dayIPv6[i] {
			for _, ssid := range []string{string(s.Metric["ssid"]), overallSSID} {
				if d, ok := counts[ssid]; ok {
					d.ipv6, d.ipv6Seen = d.ipv6+float64(s.Value), true
					counts[ssid] = d
				}
			}
		}
		for ssid, d := range counts {
			if b, ok := busiest[ssid]; !ok || d.active > b.active {
				busiest[ssid] = d
			}
		}
	}
	for ssid, b := range busiest {
		f := get(ssid)
		f.UniqueClients = floatPtr(b.active)
		f.UniqueClientsDay = c.days[b.day].Label
		if b.ipv6Seen {
			f.IPv6ActiveShare = shareOf(b.ipv6, b.active)
		}
	}

	// Peak clients, associated at once.
	for _, s := range c.clients {
		var p peak
		for _, v := range s.Values {
			p.add(float64(v.Value), v.Timestamp.Time())
		}
		if p.ok {
			f := get(string(s.Metric["ssid"]))
			f.PeakClients, f.PeakClientsAt = p.number(), p.at.In(loc)
		}
	}
	if len(c.clients) > 0 {
		var p peak
		for _, v := range sumByTime(c.clients) {
			p.add(float64(v.Value), v.Timestamp.Time())
		}
		if p.ok {
			all.PeakClients, all.PeakClientsAt = p.number(), p.at.In(loc)
		}
	}

	// Option 108.
	requests, offers := map[string][2]float64{}, map[string][2]float64{} // [option 108, all]
	for _, s := range c.option108 {
		for _, ssid := range []string{string(s.Metric["ssid"]), overallSSID} {
			v := requests[ssid]
			v[0] += float64(s.Value)
			requests[ssid] = v
		}
	}
	for _, s := range c.discovers {
		for _, ssid := range []string{string(s.Metric["ssid"]), overallSSID} {
			v := requests[ssid]
			v[1] += float64(s.Value)
			requests[ssid] = v
		}
	}
	for _, s := range c.offers {
		for _, ssid := range []string{string(s.Metric["ssid"]), overallSSID} {
			v := offers[ssid]
			if s.Metric["ipv6_only"] == "true" {
				v[0] += float64(s.Value)
			}
			v[1] += float64(s.Value)
			offers[ssid] = v
		}
	}
	for ssid, v := range requests {
		f := get(ssid)
		f.DHCPDiscovers = floatPtr(v[1])
		f.Option108RequestShare = shareOf(v[0], v[1])
	}
	for ssid, v := range offers {
		f := get(ssid)
		f.DHCPOffers = floatPtr(v[1])
		f.Option108OfferShare = shareOf(v[0], v[1])
		if f.Option108OfferShare != nil && f.PeakClients != nil {
			f.IPv4AddressesSaved = floatPtr(*f.PeakClients * *f.Option108OfferShare)
		}
	}

	// Peak bit rates up and down.
	byDirection := map[string][]*model.SampleStream{}
	for _, s := range c.bitRates {
		ssid, direction := string(s.Metric["ssid"]), string(s.Metric["direction"])
		byDirection[direction] = append(byDirection[direction], s)
		var p peak
		for _, v := range s.Values {
			p.add(float64(v.Value), v.Timestamp.Time())
		}
		setPeakRate(get(ssid), direction, p, loc)
	}
	for direction, streams := range byDirection {
		var p peak
		for _, v := range sumByTime(streams) {
			p.add(float64(v.Value), v.Timestamp.Time())
		}
		setPeakRate(all, direction, p, loc)
	}
	return figures
}

func setPeakRate(f *SSIDFigures, direction string, p peak, loc *time.Location) {
	if !p.ok {
		return
	}
	switch direction {
	case "up":
		f.PeakUpBitsPerSecond, f.PeakUpAt = p.number(), p.at.In(loc)
	case "down":
		f.PeakDownBitsPerSecond, f.PeakDownAt = p.number(), p.at.In(loc)
	}
}

// familyBytes is the total and the client-side IPv6 share of a by-family
// result.
func familyBytes(families map[string]float64) (total, share *float64) {
	if len(families) == 0 {
		return nil, nil
	}
	v4, v6, nat64 := families["ipv4"], families["ipv6"], families["nat64"]
	return floatPtr(v4 + v6 + nat64), shareOf(v6+nat64, v4+v6+nat64)
}

func (c *collection) dayFigures() []Period {
	overall := sumByTime(c.clients)
	days := make([]Period, len(c.days))
	for i, d := range c.days {
		days[i] = d
		families := map[string]float64{}
		for _, s := range c.dayBytes[i] {
			families[string(s.Metric["family"])] += float64(s.Value)
		}
		days[i].Bytes, days[i].IPv6BytesShare = familyBytes(families)
		var p peak
		for _, v := range overall {
			if t := v.Timestamp.Time(); !t.Before(d.Start) && t.Before(d.End) {
				p.add(float64(v.Value), t)
			}
		}
		days[i].PeakClients = p.number()
		if len(c.dayActive[i]) > 0 {
			var n float64
			for _, s := range c.dayActive[i] {
				n += float64(s.Value)
			}
			days[i].UniqueClients = floatPtr(n)
		}
	}
	return days
}

// hourFigures sums each hour of day's bytes over the days and takes the
// largest number of clients in it on any day.
func (c *collection) hourFigures() []Period {
	families := make([]map[string]float64, 24)
	for _, s := range c.hourBytes {
		for _, v := range s.Values {
			h := v.Timestamp.Time().Add(-time.Hour).In(c.opts.Location).Hour()
			if families[h] == nil {
				families[h] = map[string]float64{}
			}
			families[h][string(s.Metric["family"])] += float64(v.Value)
		}
	}
	peaks := make([]peak, 24)
	for _, v := range sumByTime(c.clients) {
		t := v.Timestamp.Time()
		peaks[t.In(c.opts.Location).Hour()].add(float64(v.Value), t)
	}
	hours := make([]Period, 24)
	for h := range hours {
		hours[h].Label = fmt.Sprintf("%02d:00", h)
		hours[h].Bytes, hours[h].IPv6BytesShare = familyBytes(families[h])
		hours[h].PeakClients = peaks[h].number()
	}
	return hours
}

func (c *collection) health() Health {
	h := Health{Alerts: c.alerts}
	if c.present[metricAPUp] {
		h.APs = []Availability{}
		for _, s := range c.aps {
			h.APs = append(h.APs, Availability{Name: string(s.Metric["ap"]), Group: string(s.Metric["controller"]), Availability: sampleNumber(s.Value)})
		}
		sortLeastAvailable(h.APs)
		h.APAvailability = meanAvailability(h.APs)
	}
	if c.present[metricSNMPPolls] {
		h.SNMPTargets = successShares(c.snmp, "target", "ok")
		sortLeastAvailable(h.SNMPTargets)
		h.SNMPAvailability = meanAvailability(h.SNMPTargets)
	}
	if c.present[metricDNSProbes] {
		h.DNS = successShares(c.dns, "resolver", "ok")
	}
	if c.present[metricNAT64Probes] {
		// A refused connection came from the destination: the path works.
		h.NAT64 = successShares(c.nat64, "target", "ok", "refused")
	}
	if c.present[metricDNS64Expected] {
		h.DNS64 = c.dns64()
	}
	h.RogueRA = nilIfAbsent(c.rogueRA, c.present[metricRAs])
	h.RogueDHCP = nilIfAbsent(c.rogueDHCP, c.present[metricOffers])
	return h
}

func nilIfAbsent(incidents []Incident, present bool) []Incident {
	if !present {
		return nil
	}
	return incidents
}

// successShares is, per value of the label by, the share of a counter's
// increase whose result is one of ok, sorted by name.
func successShares(v model.Vector, by string, ok ...string) []Availability {
	type counts struct{ ok, all float64 }
	per := map[string]counts{}
	for _, s := range v {
		name := string(s.Metric[model.LabelName(by)])
		n := per[name]
		n.all += float64(s.Value)
		for _, r := range ok {
			if string(s.Metric["result"]) == r {
				n.ok += float64(s.Value)
			}
		}
		per[name] = n
	}
	out := []Availability{}
	for _, name := range keysSorted(per) {
		out = append(out, Availability{Name: name, Availability: shareOf(per[name].ok, per[name].all)})
	}
	return out
}

// dns64 is, per resolver that ever had a DNS64 prefix, the share of the step
// times at which it was probed that its prefix was the expected one.
func (c *collection) dns64() []Availability {
	probed := map[string]map[model.Time]bool{}
	for _, s := range c.dns64Probed {
		times := map[model.Time]bool{}
		for _, p := range s.Values {
			times[p.Timestamp] = true
		}
		probed[string(s.Metric["resolver"])] = times
	}
	out := []Availability{}
	for _, s := range c.dns64Expected {
		resolver := string(s.Metric["resolver"])
		expected := map[model.Time]bool{}
		for _, p := range s.Values {
			expected[p.Timestamp] = p.Value == 1
		}
		var good float64
		for t := range probed[resolver] {
			if expected[t] {
				good++
			}
		}
		out = append(out, Availability{Name: resolver, Availability: shareOf(good, float64(len(probed[resolver])))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortLeastAvailable(a []Availability) {
	sort.SliceStable(a, func(i, j int) bool {
		x, y := orderValue(a[i].Availability), orderValue(a[j].Availability)
		if x != y {
			return x < y
		}
		if a[i].Group != a[j].Group {
			return a[i].Group < a[j].Group
		}
		return a[i].Name < a[j].Name
	})
}

// orderValue orders unknown availability first: it is the least reassuring.
func orderValue(f *float64) float64 {
	if f == nil {
		return math.Inf(-1)
	}
	return *f
}

func meanAvailability(a []Availability) *float64 {
	var sum, n float64
	for _, x := range a {
		if x.Availability != nil {
			sum += *x.Availability
			n++
		}
	}
	return shareOf(sum, n)
}

// series builds the charts' lines, in the order of Charts.
func (c *collection) series() []TimeSeries {
	var out []TimeSeries
	add := func(chart, unit string, m model.Matrix, name func(model.Metric) string, skip func(string) bool) {
		lines := map[string]*model.SampleStream{}
		for _, s := range m {
			n := name(s.Metric)
			if !skip(n) {
				lines[n] = s
			}
		}
		for _, n := range keysSorted(lines) {
			out = append(out, c.timeSeries(chart, n, unit, lines[n].Values))
		}
	}
	bySSID := func(m model.Metric) string { return string(m["ssid"]) }
	all := func(model.Metric) string { return overallSSID }
	noUnknown := func(ssid string) bool { return ssid == unknownSSID }
	none := func(string) bool { return false }

	add("ipv6_share", "ratio", c.chartShare, bySSID, noUnknown)
	add("ipv6_share", "ratio", c.chartShareAll, all, none)
	add("clients", "clients", c.chartClients, bySSID, noUnknown)
	families := map[string]bool{"ipv4": true, "ipv6": true, "nat64": true}
	add("family_mix", "bps", c.chartFamilies, func(m model.Metric) string { return string(m["family"]) },
		func(f string) bool { return !families[f] })
	add("option108", "ratio", c.chart108, bySSID, noUnknown)
	add("option108", "ratio", c.chart108All, all, none)
	if out == nil {
		out = []TimeSeries{}
	}
	return out
}

// timeSeries places a range query's values on the chart's step grid, nil where
// there is none.
func (c *collection) timeSeries(chart, name, unit string, values []model.SamplePair) TimeSeries {
	n := int(c.opts.To.Sub(c.opts.From)/c.chartStep) + 1
	ts := TimeSeries{
		Chart: chart, Name: name, Unit: unit,
		Start:  c.opts.From.In(c.opts.Location),
		Step:   c.chartStep.Seconds(),
		Values: make([]*float64, n),
	}
	for _, p := range values {
		i := int((p.Timestamp.Time().Sub(c.opts.From) + c.chartStep/2) / c.chartStep)
		if i >= 0 && i < n {
			ts.Values[i] = sampleNumber(p.Value)
		}
	}
	return ts
}
