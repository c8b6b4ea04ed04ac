package traffic

import (
	"strings"
	"sync"
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

// TestWorkersSummed: several workers classify concurrently into their own
// Counters; the scrape sums them once the workers have handed them over.
func TestWorkersSummed(t *testing.T) {
	c := newTestClassifier(t, "")
	up := frame{tags: []uint16{200}, src: "100.65.0.1", dst: "192.0.2.1"}.build(t)
	arp := frame{etherType: 0x0806}.build(t)
	const workers, perWorker = 4, 1000
	parts := make([]*Counters, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = c.NewCounters()
		wg.Go(func() {
			for i := range perWorker {
				c.Classify(up, 100, 1, parts[w])
				if i%10 == 0 {
					c.Classify(arp, 60, 1, parts[w])
				}
			}
		})
	}
	wg.Wait()
	coll := NewCollector(c, func(into *Counters) {
		for _, p := range parts {
			into.Add(p)
		}
	})
	if problems, err := testutil.CollectAndLint(coll); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	// 3 SSID indexes (unknown, ietf, ietf-dual-stack) × 4 families × 3 directions × 2 metrics.
	if n := testutil.CollectAndCount(coll); n != 3*4*3*2 {
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
	total := c.NewCounters()
	for _, p := range parts {
		total.Add(p)
	}
	if got, want := total.Cell(2, FamilyIPv4, DirectionUp), (Cell{Packets: 4000, Bytes: 400000}); got != want {
		t.Fatalf("summed up = %+v, want %+v", got, want)
	}
	if got, want := total.Cell(0, FamilyOther, DirectionOther), (Cell{Packets: 400, Bytes: 400 * 60}); got != want {
		t.Fatalf("summed arp = %+v, want %+v", got, want)
	}
	snap := c.NewCounters()
	snap.CopyFrom(parts[0])
	if got := snap.Cell(2, FamilyIPv4, DirectionUp); got.Packets != perWorker {
		t.Fatalf("snapshot = %+v, want %d packets", got, perWorker)
	}
	snap.Reset()
	if got := sumAll(snap); got != (Cell{}) {
		t.Fatalf("after Reset: %+v", got)
	}
}
