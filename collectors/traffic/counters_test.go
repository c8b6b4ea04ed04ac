package traffic

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLabelValues(t *testing.T) {
	// DESIGN.md's metric table: family ∈ ipv4/ipv6/nat64/other, direction ∈ up/down/other.
	var fams, dirs []string
	for f := range Family(NumFamilies) {
		fams = append(fams, f.String())
	}
	for d := range Direction(NumDirections) {
		dirs = append(dirs, d.String())
	}
	if got := strings.Join(fams, ","); got != "ipv4,ipv6,nat64,other" {
		t.Errorf("families = %s", got)
	}
	if got := strings.Join(dirs, ","); got != "up,down,other" {
		t.Errorf("directions = %s", got)
	}
}

// TestWorkersSummed: several workers classify concurrently, each into its own
// counters; a scrape sums what they handed over.
func TestWorkersSummed(t *testing.T) {
	c := newTestClassifier(t, "")
	up := frame{tags: []uint16{200}, src: "100.65.0.1", dst: "192.0.2.1"}.build(t)
	arp := frame{etherType: 0x0806}.build(t)
	const workers, perWorker = 4, 1000
	coll := runMemorySource(t, testConfig(), workers, func(w *Worker) {
		for i := range perWorker {
			w.Frame(up, 100, 1, 0)
			if i%10 == 0 {
				w.Frame(arp, 60, 1, 0)
			}
		}
	})
	if problems, err := testutil.CollectAndLint(coll); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	// 3 SSID indexes (unknown, ietf, ietf-dual-stack) × 4 families × 3 directions × 2 metrics.
	if n := testutil.CollectAndCount(coll, "meetnoc_traffic_bytes_total", "meetnoc_traffic_packets_total"); n != 3*4*3*2 {
		t.Fatalf("%d series, want 72", n)
	}
	want := `
# HELP meetnoc_traffic_packets_total Packets of traffic seen, by SSID, address family and direction, times the sampling rate.
# TYPE meetnoc_traffic_packets_total counter
meetnoc_traffic_packets_total{direction="down",family="ipv4",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="down",family="ipv4",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="down",family="ipv4",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="down",family="ipv6",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="down",family="ipv6",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="down",family="ipv6",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="down",family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="down",family="nat64",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="down",family="nat64",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="down",family="other",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="down",family="other",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="down",family="other",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv4",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv4",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv4",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv6",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv6",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="other",family="ipv6",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="other",family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="other",family="nat64",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="other",family="nat64",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="other",family="other",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="other",family="other",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="other",family="other",ssid="unknown"} 400
meetnoc_traffic_packets_total{direction="up",family="ipv4",ssid="ietf-dual-stack"} 4000
meetnoc_traffic_packets_total{direction="up",family="ipv4",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="up",family="ipv4",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="up",family="ipv6",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="up",family="ipv6",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="up",family="ipv6",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="up",family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="up",family="nat64",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="up",family="nat64",ssid="unknown"} 0
meetnoc_traffic_packets_total{direction="up",family="other",ssid="ietf-dual-stack"} 0
meetnoc_traffic_packets_total{direction="up",family="other",ssid="ietf"} 0
meetnoc_traffic_packets_total{direction="up",family="other",ssid="unknown"} 0
`
	if err := testutil.CollectAndCompare(coll, strings.NewReader(want), "meetnoc_traffic_packets_total"); err != nil {
		t.Fatal(err)
	}
	part := c.NewCounters()
	c.Classify(up, 100, 1, part)
	snap := c.NewCounters()
	snap.CopyFrom(part)
	if got := snap.Cell(2, FamilyIPv4, DirectionUp); got.Packets != 1 {
		t.Fatalf("snapshot = %+v, want 1 packet", got)
	}
	snap.Reset()
	if got := sumAll(snap); got != (Cell{}) {
		t.Fatalf("after Reset: %+v", got)
	}
}
