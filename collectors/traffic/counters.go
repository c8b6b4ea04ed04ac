package traffic

import "github.com/prometheus/client_golang/prometheus"

// Cell is one [ssid][family][direction] counter pair.
type Cell struct {
	Packets uint64
	Bytes   uint64
}

// Counters are one worker's traffic counts, indexed by SSID index, family and
// direction. A Counters is written by one goroutine only, with plain additions:
// no locks or atomics per packet. Summing happens at scrape time on copies the
// worker hands over (see Add), so the hot path never synchronises.
type Counters struct {
	cells [][NumFamilies][NumDirections]Cell
}

// Cell returns the counts of one SSID index, family and direction.
func (c *Counters) Cell(ssid int, f Family, d Direction) Cell {
	return c.cells[ssid][f][d]
}

// Add adds o's counts to c. Both must come from the same classifier's
// NewCounters, and o must not be written to while Add runs.
func (c *Counters) Add(o *Counters) {
	for s := range o.cells {
		for f := range o.cells[s] {
			for d := range o.cells[s][f] {
				c.cells[s][f][d].Packets += o.cells[s][f][d].Packets
				c.cells[s][f][d].Bytes += o.cells[s][f][d].Bytes
			}
		}
	}
}

// CopyFrom overwrites c with o's counts without allocating, e.g. for a worker
// publishing a snapshot between batches.
func (c *Counters) CopyFrom(o *Counters) { copy(c.cells, o.cells) }

// Reset zeroes all counts.
func (c *Counters) Reset() { clear(c.cells) }

// Label values, exactly as DESIGN.md's metric table names them.
var (
	familyLabels    = [NumFamilies]string{FamilyIPv4: "ipv4", FamilyIPv6: "ipv6", FamilyNAT64: "nat64", FamilyOther: "other"}
	directionLabels = [NumDirections]string{DirectionUp: "up", DirectionDown: "down", DirectionOther: "other"}
)

// String returns the family label value.
func (f Family) String() string {
	if int(f) < len(familyLabels) {
		return familyLabels[f]
	}
	return "invalid"
}

// String returns the direction label value.
func (d Direction) String() string {
	if int(d) < len(directionLabels) {
		return directionLabels[d]
	}
	return "invalid"
}

var (
	bytesDesc = prometheus.NewDesc("meetnoc_traffic_bytes_total",
		"Bytes of traffic seen, by SSID, address family and direction: original frame lengths times the sampling rate.",
		[]string{"ssid", "family", "direction"}, nil)
	packetsDesc = prometheus.NewDesc("meetnoc_traffic_packets_total",
		"Packets of traffic seen, by SSID, address family and direction, times the sampling rate.",
		[]string{"ssid", "family", "direction"}, nil)
)

// collectCounters exports summed counts as meetnoc_traffic_bytes_total and
// meetnoc_traffic_packets_total. Every SSID × family × direction series is
// exported, zeros included, so that rate() works from the first scrape.
func collectCounters(ch chan<- prometheus.Metric, names []string, total *Counters) {
	for s := range total.cells {
		for f := range total.cells[s] {
			for d, cell := range total.cells[s][f] {
				fl, dl := familyLabels[f], directionLabels[d]
				ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(cell.Bytes), names[s], fl, dl)
				ch <- prometheus.MustNewConstMetric(packetsDesc, prometheus.CounterValue, float64(cell.Packets), names[s], fl, dl)
			}
		}
	}
}
