package report

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// weekMeeting is a realistic week of a meeting at Prometheus's usual 15 s
// scrape interval: three SSIDs and unknown traffic, 40 APs on two
// controllers, 7 SNMP targets, one resolver with 5 checks.
func weekMeeting() *meeting {
	m := testMeeting()
	m.from = time.Date(2026, 7, 18, 0, 0, 0, 0, venue)
	m.days = 7
	m.interval = 15 * time.Second
	m.gapFrom, m.gapTo = m.day(2, 14, 0), m.day(2, 15, 0)
	eduroam := m.ssids[1]
	eduroam.name = "eduroam"
	eduroam.clients = map[string]float64{"wlc1": 120, "wlc2": 80}
	eduroam.peakClients = map[string]float64{"wlc1": 400, "wlc2": 300}
	eduroam.peakAt = m.day(3, 11, 0)
	m.ssids = append(m.ssids[:2], eduroam, m.ssids[2])
	for i := range m.ssids {
		m.ssids[i].unique = []float64{800, 900, 950, 1000, 1000, 900, 400}
		m.ssids[i].ipv6Active = []float64{600, 700, 700, 750, 760, 700, 300}
	}
	m.aps = nil
	for i := range 40 {
		m.aps = append(m.aps, meetingAP{controller: fmt.Sprintf("wlc%d", i%2+1), name: fmt.Sprintf("ap-%02d", i+1)})
	}
	m.aps[7].downFrom, m.aps[7].downTo = m.day(1, 10, 0), m.day(1, 12, 0)
	m.targets = []string{"sw1", "sw2", "sw3", "sw4", "sw5", "wlc1", "wlc2"}
	m.resolvers = []meetingResolver{{name: "r1", checks: []string{"dns64", "www-a", "www-aaaa", "v4only-aaaa", "nxdomain"}, dns64: true}}
	return m
}

// BenchmarkCollectWeek times a report of a week at 15 s resolution (issue 6:
// under 30 s), as `meetnoc report` makes it: Collect, then the three files
// with their charts (WriteDir); bench/report/run.sh runs it. Loading the
// history into Prometheus is set-up, not timed.
func BenchmarkCollectWeek(b *testing.B) {
	m := weekMeeting()
	start := time.Now()
	prom := loadHistory(b, m)
	b.Logf("history: %d samples per series, loaded into Prometheus in %s", m.samples(), time.Since(start).Round(time.Second))
	out := filepath.Join(b.TempDir(), "report")
	var slowest, writing time.Duration
	for b.Loop() {
		t0 := time.Now()
		r, err := Collect(context.Background(), Options{URL: prom.URL, From: m.from, To: m.to(), Location: venue})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := WriteDir(out, r); err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		slowest, writing = max(slowest, took), max(writing, time.Since(t1))
		if took > 30*time.Second {
			b.Errorf("the report took %s, more than 30 s", took)
		}
		if r.IPv6BytesShare == nil || len(r.Health.APs) != 40 || len(r.SSIDs) != 3 || len(r.Gaps) != 1 || r.Step != 660 {
			b.Fatalf("week report: share %v, %d APs, %d SSIDs, gaps %v, step %v", r.IPv6BytesShare, len(r.Health.APs), len(r.SSIDs), r.Gaps, r.Step)
		}
	}
	b.ReportMetric(slowest.Seconds(), "s/slowest")
	b.ReportMetric(writing.Seconds(), "s/write-slowest")
}
