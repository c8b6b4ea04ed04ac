package report

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
	"github.com/prometheus/client_golang/api"
)

var venue = time.FixedZone("CET", 3600)

// testMeeting is two days at one sample a minute: an hour's gap on day 1, a
// counter reset, an AP down, rogue RAs and OFFERs, a DNS64 outage, an alert.
func testMeeting() *meeting {
	m := &meeting{
		from:     time.Date(2026, 3, 16, 0, 0, 0, 0, venue),
		days:     2,
		interval: time.Minute,
		loc:      venue,
		targets:  []string{"sw1", "wlc1"},
		resolvers: []meetingResolver{
			{name: "r1", checks: []string{"dns64", "www-aaaa"}, dns64: true},
			{name: "r2", checks: []string{"www-aaaa"}},
		},
		natTarget: "www-v4only",
	}
	m.gapFrom, m.gapTo = m.day(0, 14, 0), m.day(0, 15, 0)
	m.ssids = []meetingSSID{{
		name: "ietf",
		bytesPerSecond: map[string]map[string]float64{
			"ipv4": {"up": 100, "down": 400}, "ipv6": {"up": 300, "down": 1200}, "nat64": {"up": 50, "down": 200},
		},
		discovers: 10, option108: 7, offers108: 7, offersV4: 3,
		unique: []float64{800, 900}, ipv6Active: []float64{600, 700},
		clients:     map[string]float64{"wlc1": 60, "wlc2": 40},
		peakClients: map[string]float64{"wlc1": 300, "wlc2": 200},
		peakAt:      m.day(1, 10, 30),
	}, {
		name: "ietf-dual-stack",
		bytesPerSecond: map[string]map[string]float64{
			"ipv4": {"up": 200, "down": 800}, "ipv6": {"up": 100, "down": 400}, "nat64": {"up": 0, "down": 0},
		},
		discovers: 6, option108: 3, offers108: 0, offersV4: 6,
		unique: []float64{300, 350}, ipv6Active: []float64{100, 140},
		clients:     map[string]float64{"wlc1": 50},
		peakClients: map[string]float64{"wlc1": 80},
		peakAt:      m.day(0, 16, 0),
	}, {
		name: "unknown",
		bytesPerSecond: map[string]map[string]float64{
			"ipv4": {"up": 20, "down": 20}, "ipv6": {"up": 10, "down": 10}, "nat64": {"up": 0, "down": 0},
		},
		discovers: 2, option108: 0, offers108: 0, offersV4: 2,
		unique: []float64{20, 10}, ipv6Active: []float64{0, 0},
	}}
	m.aps = []meetingAP{
		{controller: "wlc1", name: "ap-01"}, {controller: "wlc1", name: "ap-02"},
		{controller: "wlc1", name: "ap-03", downFrom: m.day(0, 10, 0), downTo: m.day(0, 12, 0)},
		{controller: "wlc1", name: "ap-04"}, {controller: "wlc2", name: "ap-05"},
	}
	return m
}

// quietMeeting is a day with meetnoc polling APs only: every other section's
// metrics are absent.
func quietMeeting() *meeting {
	return &meeting{
		from: time.Date(2026, 3, 26, 0, 0, 0, 0, venue), days: 1, interval: time.Minute, loc: venue,
		aps: []meetingAP{{controller: "wlc1", name: "ap-01"}, {controller: "wlc1", name: "ap-02"}},
	}
}

// sumIntervals adds f over the intervals ending at samples in (from, to]:
// what increase() over [from, to] is when samples lie on both ends.
func (m *meeting) sumIntervals(f func(k int) float64, from, to time.Time) float64 {
	var sum float64
	for k := 1; k < m.samples(); k++ {
		if t := m.at(k); t.After(from) && !t.After(to) {
			sum += f(k)
		}
	}
	return sum
}

func (m *meeting) bytes(s meetingSSID, family, direction string, from, to time.Time) float64 {
	rate := s.bytesPerSecond[family][direction]
	return m.sumIntervals(func(k int) float64 { return m.perInterval(rate) * m.trafficFactor(k) }, from, to)
}

func TestCollectExactFigures(t *testing.T) {
	m, quiet := testMeeting(), quietMeeting()
	prom := loadHistory(t, m, quiet)
	from, to := m.from, m.to()
	var progress []string
	r, err := Collect(context.Background(), Options{
		URL: prom.URL, From: from, To: to, Title: "IETF 125", Location: venue,
		Progress: func(done, total int, what string) {
			progress = append(progress, what)
			if done != len(progress) || total != 13 {
				t.Errorf("progress %d/%d (%s) after %d calls, want n/13", done, total, what, len(progress))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 13 {
		t.Errorf("progress was reported %d times, want once per query group (13): %v", len(progress), progress)
	}

	// Report-level fields.
	if r.Title != "IETF 125" || !r.From.Equal(from) || !r.To.Equal(to) || r.Prometheus != prom.URL || r.Timezone != "CET" {
		t.Errorf("header: %q %s %s %q %q", r.Title, r.From, r.To, r.Prometheus, r.Timezone)
	}
	// The figures' queries are at 48 h / 10,000 = 17.3 s, rounded up to 30 s;
	// the charts' at 172.8 s, rounded up to 3 min.
	if r.Step != 180 {
		t.Errorf("step %v s, want the charts' 180", r.Step)
	}
	if len(r.Definitions) != len(Definitions) || r.Previous != nil || r.Changes != nil {
		t.Errorf("definitions %d, previous %v, changes %v", len(r.Definitions), r.Previous, r.Changes)
	}
	if len(r.Absent) != 0 {
		t.Errorf("absent %q, want none", r.Absent)
	}
	if want := []Gap{{Start: m.gapFrom, End: m.gapTo}}; len(r.Gaps) != 1 || !r.Gaps[0].Start.Equal(m.gapFrom) || !r.Gaps[0].End.Equal(m.gapTo) {
		t.Errorf("gaps %v, want %v", r.Gaps, want)
	}

	// Per-SSID figures, and overall (every SSID, "unknown" too).
	var names []string
	for _, f := range r.SSIDs {
		names = append(names, f.SSID)
	}
	if !slices.Equal(names, []string{"ietf", "ietf-dual-stack"}) {
		t.Fatalf("SSIDs %q, want ietf and ietf-dual-stack (unknown left out)", names)
	}
	type totals struct {
		family, direction                       map[string]float64
		discovers, option108, offers108, offers float64
		unique, ipv6                            []float64
		peak                                    float64
		peakAt                                  time.Time
	}
	whole := func(n float64) float64 { return n * float64(m.samples()-1) }
	sum := func(ss []meetingSSID) totals {
		tt := totals{family: map[string]float64{}, direction: map[string]float64{}, unique: make([]float64, m.days), ipv6: make([]float64, m.days)}
		for _, s := range ss {
			for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
				for _, dir := range []string{"up", "down"} {
					b := m.bytes(s, fam, dir, from, to)
					tt.family[fam] += b
					tt.direction[dir] += b
				}
			}
			tt.discovers += whole(s.discovers)
			tt.option108 += whole(s.option108)
			tt.offers108 += whole(s.offers108)
			tt.offers += whole(s.offers108 + s.offersV4)
			for d := range m.days {
				tt.unique[d] += s.unique[d]
				tt.ipv6[d] += s.ipv6Active[d]
			}
		}
		return tt
	}
	check := func(got SSIDFigures, ss []meetingSSID, peak float64, peakAt time.Time) {
		t.Helper()
		want := sum(ss)
		name := got.SSID
		if !maps2Equal(got.BytesByFamily, want.family) || !maps2Equal(got.BytesByDirection, want.direction) {
			t.Errorf("%s: bytes by family %v by direction %v, want %v %v", name, got.BytesByFamily, got.BytesByDirection, want.family, want.direction)
		}
		v4, v6, nat64 := want.family["ipv4"], want.family["ipv6"], want.family["nat64"]
		expect(t, name+" ipv6_bytes_share", got.IPv6BytesShare, (v6+nat64)/(v4+v6+nat64), 1e-12)
		expect(t, name+" ipv6_bytes_share_internet", got.IPv6BytesShareInternet, v6/(v4+v6+nat64), 1e-12)
		if v6+nat64 > 0 {
			expect(t, name+" nat64_share", got.NAT64Share, nat64/(v6+nat64), 1e-12)
		}
		busiest := 0
		for d := range m.days {
			if want.unique[d] > want.unique[busiest] {
				busiest = d
			}
		}
		expect(t, name+" unique_clients", got.UniqueClients, want.unique[busiest], 0)
		if day := m.day(busiest, 0, 0).Format("2006-01-02"); got.UniqueClientsDay != day {
			t.Errorf("%s: unique clients day %q, want %q", name, got.UniqueClientsDay, day)
		}
		expect(t, name+" ipv6_active_client_share", got.IPv6ActiveShare, want.ipv6[busiest]/want.unique[busiest], 1e-12)
		expect(t, name+" peak_clients", got.PeakClients, peak, 0)
		if !got.PeakClientsAt.Equal(peakAt) {
			t.Errorf("%s: peak clients at %s, want %s", name, got.PeakClientsAt, peakAt)
		}
		expect(t, name+" dhcp_discovers", got.DHCPDiscovers, want.discovers, 1e-9)
		expect(t, name+" dhcp_offers", got.DHCPOffers, want.offers, 1e-9)
		expect(t, name+" option108_request_share", got.Option108RequestShare, want.option108/want.discovers, 1e-12)
		expect(t, name+" option108_offer_share", got.Option108OfferShare, want.offers108/want.offers, 1e-12)
		expect(t, name+" ipv4_addresses_saved", got.IPv4AddressesSaved, peak*want.offers108/want.offers, 1e-9)

		// The bit rates peak in day 2's plenary hour (factor 5): rate()'s
		// 5-minute window lies in it from 10:04:30 (its samples from 10:00)
		// to 11:00:30 (its samples up to 11:00).
		var up, down float64
		for _, s := range ss {
			for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
				up += s.bytesPerSecond[fam]["up"] * 5 * 8
				down += s.bytesPerSecond[fam]["down"] * 5 * 8
			}
		}
		expect(t, name+" peak_up_bps", got.PeakUpBitsPerSecond, up, 1e-9)
		expect(t, name+" peak_down_bps", got.PeakDownBitsPerSecond, down, 1e-9)
		lo, hi := m.day(1, 10, 4).Add(30*time.Second), m.day(1, 11, 0).Add(30*time.Second)
		for _, at := range []time.Time{got.PeakUpAt, got.PeakDownAt} {
			if at.Before(lo) || at.After(hi) {
				t.Errorf("%s: peak bit rate at %s, want within [%s, %s]", name, at, lo, hi)
			}
		}
	}
	ietf, dual := m.ssids[0], m.ssids[1]
	check(r.SSIDs[0], m.ssids[:1], 500, ietf.peakAt)
	check(r.SSIDs[1], m.ssids[1:2], 80, dual.peakAt)
	if r.Overall.SSID != "all" {
		t.Errorf("overall SSID %q", r.Overall.SSID)
	}
	check(r.Overall, m.ssids, 550, ietf.peakAt) // both SSIDs' baseline + ietf's peak
	if r.IPv6BytesShare == nil || r.Overall.IPv6BytesShare == nil || *r.IPv6BytesShare != *r.Overall.IPv6BytesShare {
		t.Errorf("top-level ipv6_bytes_share %v, overall %v", r.IPv6BytesShare, r.Overall.IPv6BytesShare)
	}

	// Days and hours of day.
	if len(r.Days) != 2 {
		t.Fatalf("%d days, want 2", len(r.Days))
	}
	dayPeaks := []float64{100 + 80, 550} // day 1: dual-stack's peak at 16:00 over ietf's baseline
	for d, got := range r.Days {
		start, end := m.day(d, 0, 0), m.day(d+1, 0, 0)
		if got.Label != start.Format("2006-01-02") || !got.Start.Equal(start) || !got.End.Equal(end) {
			t.Errorf("day %d: %q %s–%s", d, got.Label, got.Start, got.End)
		}
		var v4, v6 float64
		for _, s := range m.ssids {
			for _, dir := range []string{"up", "down"} {
				v4 += m.bytes(s, "ipv4", dir, start, end)
				v6 += m.bytes(s, "ipv6", dir, start, end) + m.bytes(s, "nat64", dir, start, end)
			}
		}
		expect(t, got.Label+" bytes", got.Bytes, v4+v6, 0)
		expect(t, got.Label+" ipv6_bytes_share", got.IPv6BytesShare, v6/(v4+v6), 1e-12)
		expect(t, got.Label+" peak_clients", got.PeakClients, dayPeaks[d], 0)
		expect(t, got.Label+" unique_clients", got.UniqueClients, ietf.unique[d]+dual.unique[d]+m.ssids[2].unique[d], 0)
	}
	if len(r.HoursOfDay) != 24 {
		t.Fatalf("%d hours of day, want 24", len(r.HoursOfDay))
	}
	for h, got := range r.HoursOfDay {
		var v4, v6 float64
		for d := range m.days {
			start := m.day(d, h, 0)
			for _, s := range m.ssids {
				for _, dir := range []string{"up", "down"} {
					v4 += m.bytes(s, "ipv4", dir, start, start.Add(time.Hour))
					v6 += m.bytes(s, "ipv6", dir, start, start.Add(time.Hour)) + m.bytes(s, "nat64", dir, start, start.Add(time.Hour))
				}
			}
		}
		peak := 150.0
		switch h {
		case 10:
			peak = 550
		case 16:
			peak = 180
		}
		if got.Label != time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04") {
			t.Errorf("hour %d labelled %q", h, got.Label)
		}
		expect(t, got.Label+" bytes", got.Bytes, v4+v6, 0)
		expect(t, got.Label+" ipv6_bytes_share", got.IPv6BytesShare, v6/(v4+v6), 1e-12)
		expect(t, got.Label+" peak_clients", got.PeakClients, peak, 0)
	}

	// A meeting that starts and ends off the hour: its first and last hours
	// are counted for the part inside it, not left unmeasured.
	pFrom, pTo := m.day(0, 8, 30), m.day(1, 17, 15)
	pr, err := Collect(context.Background(), Options{URL: prom.URL, From: pFrom, To: pTo, Location: venue})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int{8, 12, 17} {
		var want float64
		for d := range 2 {
			a, b := m.day(d, h, 0), m.day(d, h+1, 0)
			a, b = maxTime(a, pFrom), minTime(b, pTo)
			if !b.After(a) {
				continue
			}
			for _, s := range m.ssids {
				for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
					for _, dir := range []string{"up", "down"} {
						want += m.bytes(s, fam, dir, a, b)
					}
				}
			}
		}
		expect(t, fmt.Sprintf("partial meeting, hour %02d:00 bytes", h), pr.HoursOfDay[h].Bytes, want, 1e-9)
	}

	// Health.
	h := r.Health
	samples := 0 // ap_up samples written: the gap has none
	down := 0
	for k := 0; k < m.samples(); k++ {
		if m.written(k) {
			samples++
			if t := m.at(k); !t.Before(m.aps[2].downFrom) && t.Before(m.aps[2].downTo) {
				down++
			}
		}
	}
	ap3 := float64(samples-down) / float64(samples)
	if len(h.APs) != 5 || h.APs[0].Name != "ap-03" || h.APs[0].Group != "wlc1" {
		t.Fatalf("APs %+v, want ap-03 (wlc1) first of 5", h.APs)
	}
	expect(t, "ap-03", h.APs[0].Availability, ap3, 1e-12)
	for _, a := range h.APs[1:] {
		expect(t, a.Name, a.Availability, 1, 0)
	}
	expect(t, "ap_availability", h.APAvailability, (4+ap3)/5, 1e-12)

	intervals := float64(m.samples() - 1)
	failed := func(f func(int) bool) float64 {
		return m.sumIntervals(func(k int) float64 {
			if f(k) {
				return 1
			}
			return 0
		}, from, to)
	}
	sw1 := (intervals - failed(snmpFails)) / intervals
	if len(h.SNMPTargets) != 2 || h.SNMPTargets[0].Name != "sw1" || h.SNMPTargets[1].Name != "wlc1" {
		t.Fatalf("SNMP targets %+v", h.SNMPTargets)
	}
	expect(t, "snmp sw1", h.SNMPTargets[0].Availability, sw1, 1e-12)
	expect(t, "snmp wlc1", h.SNMPTargets[1].Availability, 1, 0)
	expect(t, "snmp_availability", h.SNMPAvailability, (sw1+1)/2, 1e-12)

	if len(h.DNS) != 2 || h.DNS[0].Name != "r1" || h.DNS[1].Name != "r2" {
		t.Fatalf("DNS %+v", h.DNS)
	}
	expect(t, "dns r1", h.DNS[0].Availability, (2*intervals-failed(dnsTimesOut))/(2*intervals), 1e-12)
	expect(t, "dns r2", h.DNS[1].Availability, 1, 0)

	// DNS64 over step times, as Prometheus sees the prefix gauge: the latest
	// sample within the 5-minute lookback (backfilled data has no staleness
	// markers); its absence is a failure.
	var probed, good float64
	for at := from; !at.After(to); at = at.Add(30 * time.Second) {
		if at.After(m.gapFrom) && at.Before(m.gapTo) {
			continue
		}
		probed++
		latest, ok := 0.0, false
		for k := 0; k < m.samples(); k++ {
			if s := m.at(k); m.written(k) && !s.After(at) && !s.Before(at.Add(-5*time.Minute)) {
				if v, present := m.dns64Expected(k); present {
					latest, ok = v, true
				}
			}
		}
		if ok && latest == 1 {
			good++
		}
	}
	if len(h.DNS64) != 1 || h.DNS64[0].Name != "r1" {
		t.Fatalf("DNS64 %+v, want r1 only (r2 never had a prefix)", h.DNS64)
	}
	expect(t, "dns64 r1", h.DNS64[0].Availability, good/probed, 1e-12)
	if good/probed > 1-150/probed {
		t.Errorf("dns64: %v of %v step times good: the outage was not seen", good, probed)
	}

	if len(h.NAT64) != 1 || h.NAT64[0].Name != m.natTarget {
		t.Fatalf("NAT64 %+v", h.NAT64)
	}
	expect(t, "nat64", h.NAT64[0].Availability, (intervals-failed(nat64TimesOut))/intervals, 1e-12)

	// Incidents: the step windows (2 min) that saw rogue packets run from the
	// first that holds a whole rogue interval to the last; the incident spans
	// them, so it starts a scrape before the packets and ends one after.
	wantRA := Incident{SSID: "ietf", Start: m.day(0, 19, 59), End: m.day(0, 20, 6), Packets: 5 * rogueRAPerMinute}
	if len(h.RogueRA) != 1 || !sameIncident(h.RogueRA[0], wantRA) {
		t.Errorf("rogue RA %+v, want %+v", h.RogueRA, wantRA)
	}
	wantDHCP := Incident{SSID: "ietf-dual-stack", Start: m.day(1, 8, 59), End: m.day(1, 9, 11), Packets: 10 * rogueDHCPPerMinute}
	if len(h.RogueDHCP) != 1 || !sameIncident(h.RogueDHCP[0], wantDHCP) {
		t.Errorf("rogue DHCP %+v, want %+v", h.RogueDHCP, wantDHCP)
	}
	if len(h.Alerts) != 1 {
		t.Fatalf("alerts %+v, want the one firing episode (not the pending one)", h.Alerts)
	}
	a := h.Alerts[0]
	if a.Name != "NAT64Down" || a.Severity != "critical" || len(a.Labels) != 1 || a.Labels["target"] != m.natTarget ||
		!a.Start.Equal(m.day(1, 6, 0)) || !a.End.Equal(m.day(1, 6, 20)) {
		t.Errorf("alert %+v, want NAT64Down firing 06:00–06:20 on day 2", a)
	}

	// The charts: every line of each, nil in the gap.
	lines := map[string][]string{}
	for _, s := range r.Series {
		lines[s.Chart] = append(lines[s.Chart], s.Name)
		if s.Step != 180 || !s.Start.Equal(from) || len(s.Values) != int(to.Sub(from)/(3*time.Minute))+1 {
			t.Errorf("%s/%s: step %v start %s %d values", s.Chart, s.Name, s.Step, s.Start, len(s.Values))
		}
		// Strictly inside the gap, nothing: not the last sample repeated for
		// Prometheus's 5-minute lookback, nor a rate.
		for i, v := range s.Values {
			if at := from.Add(time.Duration(i) * 3 * time.Minute); at.After(m.gapFrom) && at.Before(m.gapTo) && v != nil {
				t.Errorf("%s/%s: %v at %s in the gap, want nil", s.Chart, s.Name, *v, at)
			}
		}
		if s.Values[int(m.day(0, 13, 0).Sub(from)/(3*time.Minute))] == nil {
			t.Errorf("%s/%s: nil at 13:00, before the gap", s.Chart, s.Name)
		}
	}
	wantLines := map[string][]string{
		"ipv6_share": {"ietf", "ietf-dual-stack", "all"},
		"clients":    {"ietf", "ietf-dual-stack"},
		"family_mix": {"ipv4", "ipv6", "nat64"},
		"option108":  {"ietf", "ietf-dual-stack", "all"},
	}
	for _, c := range Charts {
		if !slices.Equal(lines[c.ID], wantLines[c.ID]) {
			t.Errorf("chart %s: lines %q, want %q", c.ID, lines[c.ID], wantLines[c.ID])
		}
	}
	point := func(chart, name string, at time.Time) *float64 {
		for _, s := range r.Series {
			if s.Chart == chart && s.Name == name {
				return s.Values[int(at.Sub(from)/(3*time.Minute))]
			}
		}
		return nil
	}
	v4, v6 := 500.0, 1750.0 // ietf bytes per second: ipv4, ipv6 + nat64
	expect(t, "chart ipv6_share ietf", point("ipv6_share", "ietf", m.day(0, 12, 0)), v6/(v4+v6), 1e-9)
	expect(t, "chart clients ietf", point("clients", "ietf", ietf.peakAt), 500, 0)
	expect(t, "chart clients ietf-dual-stack", point("clients", "ietf-dual-stack", m.day(0, 12, 0)), 50, 0)
	expect(t, "chart family_mix ipv4", point("family_mix", "ipv4", m.day(0, 3, 0)), (500+1000+40)*8, 1e-9)
	expect(t, "chart option108 ietf", point("option108", "ietf", m.day(1, 3, 0)), 0.7, 1e-9)
	expect(t, "chart option108 all", point("option108", "all", m.day(1, 3, 0)), 10.0/18, 1e-9)

	t.Run("query fails", func(t *testing.T) {
		q := &querier{client: mustClient(t, prom.URL), url: prom.URL, sem: make(chan struct{}, 1)}
		_, err := q.vector(context.Background(), "sum(", to)
		if err == nil || !strings.HasPrefix(err.Error(), "query sum( at "+prom.URL+": bad_data: ") {
			t.Errorf("error %v, want Prometheus's bad_data naming the query and the URL", err)
		}
		// Not Prometheus's API: a 404 page.
		url := prom.URL + "/nothing-here"
		_, err = Collect(context.Background(), Options{URL: url, From: from, To: to, Location: venue, Client: http.DefaultClient})
		if err == nil || !strings.Contains(err.Error(), " at "+url+": HTTP 404 ") {
			t.Errorf("error %v, want one naming the query, the URL and the HTTP status", err)
		}
	})

	t.Run("absent sections", func(t *testing.T) {
		r, err := Collect(context.Background(), Options{URL: prom.URL, From: quiet.from, To: quiet.to(), Location: venue})
		if err != nil {
			t.Fatal(err)
		}
		if r.IPv6BytesShare != nil || r.Overall.BytesByFamily != nil || r.Overall.PeakClients != nil ||
			r.Overall.UniqueClients != nil || r.Overall.Option108RequestShare != nil || r.Overall.PeakUpBitsPerSecond != nil || len(r.SSIDs) != 0 {
			t.Errorf("figures without metrics: %+v", r.Overall)
		}
		h := r.Health
		if h.SNMPAvailability != nil || h.SNMPTargets != nil || h.DNS != nil || h.DNS64 != nil || h.NAT64 != nil || h.RogueRA != nil || h.RogueDHCP != nil {
			t.Errorf("health without metrics: %+v", h)
		}
		expect(t, "ap_availability", h.APAvailability, 1, 0)
		if len(r.Days) != 1 || r.Days[0].Bytes != nil || r.Days[0].UniqueClients != nil || r.Days[0].PeakClients != nil {
			t.Errorf("days %+v", r.Days)
		}
		for _, want := range []string{
			"traffic: no meetnoc_traffic_bytes_total (no traffic source configured)",
			"peak clients: no meetnoc_ssid_clients (no wireless controller polled)",
			"SNMP availability: no meetnoc_snmp_polls_total (no SNMP targets)",
			"DNS: no meetnoc_dns_probes_total (no DNS probes)",
			"NAT64: no meetnoc_nat64_probes_total (no NAT64 probes)",
			"rogue RA: no meetnoc_router_advertisements_total (no traffic source configured)",
		} {
			if !slices.Contains(r.Absent, want) {
				t.Errorf("absent %q lacks %q", r.Absent, want)
			}
		}
		for _, a := range r.Absent {
			if strings.Contains(a, "meetnoc_ap_up") || strings.Contains(a, "meetnoc_build_info") {
				t.Errorf("absent %q, but the metric is there", a)
			}
		}
		if len(r.Gaps) != 0 {
			t.Errorf("gaps %v, want none", r.Gaps)
		}
	})
}

func TestCollectUnreachable(t *testing.T) {
	url := "http://127.0.0.1:" + strconv.Itoa(testenv.FreeTCPPort(t))
	_, err := Collect(context.Background(), Options{URL: url, From: time.Unix(0, 0), To: time.Unix(3600, 0), Location: time.UTC})
	if err == nil {
		t.Fatal("Collect from a closed port succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, " at "+url+": ") || !(strings.HasPrefix(msg, "query ") || strings.HasPrefix(msg, "query_range ")) ||
		!strings.Contains(msg, "meetnoc_") && !strings.Contains(msg, "ALERTS") {
		t.Errorf("error %q does not name the query and %s", msg, url)
	}
}

func TestChooseStep(t *testing.T) {
	for _, c := range []struct {
		r      time.Duration
		points int
		want   time.Duration
	}{
		{time.Hour, 10000, 15 * time.Second},
		{48 * time.Hour, 10000, 30 * time.Second},             // 17.3 s
		{7 * 24 * time.Hour, 10000, 2 * time.Minute},          // 60.5 s
		{7 * 24 * time.Hour, 1000, 11 * time.Minute},          // 604.8 s
		{100 * 24 * time.Hour, 10000, 15 * time.Minute},       // 864 s
		{24*time.Hour + time.Second, 10000, 15 * time.Second}, // 8.6 s
	} {
		got := chooseStep(c.r, c.points)
		if got != c.want {
			t.Errorf("chooseStep(%s, %d) = %s, want %s", c.r, c.points, got, c.want)
		}
		if c.r/got > time.Duration(c.points) {
			t.Errorf("chooseStep(%s, %d) = %s: %d points", c.r, c.points, got, c.r/got)
		}
	}
}

func expect(t *testing.T, what string, got *float64, want, tolerance float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil, want %v", what, want)
		return
	}
	if d := math.Abs(*got - want); d > tolerance*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: %v, want %v", what, *got, want)
	}
}

func maps2Equal(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

func sameIncident(a, b Incident) bool {
	return a.SSID == b.SSID && a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Packets == b.Packets
}

func mustClient(t *testing.T, url string) api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
