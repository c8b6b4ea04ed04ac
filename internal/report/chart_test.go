package report

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Madrid, whatever the host has installed

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// A missing value ends a line: the runs between them are drawn apart, a lone
// value as a dot.
func TestChartRuns(t *testing.T) {
	start := time.Unix(1000, 0)
	s := TimeSeries{Start: start, Step: 60, Values: []*float64{figPtr(1), nil, figPtr(2), figPtr(3), nil, nil, figPtr(4)}}
	want := []plotter.XYs{{{X: 1000, Y: 1}}, {{X: 1120, Y: 2}, {X: 1180, Y: 3}}, {{X: 1360, Y: 4}}}
	if got := chartRuns(s); !reflect.DeepEqual(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	if got := chartRuns(TimeSeries{Start: start, Step: 60, Values: []*float64{nil, nil}}); len(got) != 0 {
		t.Errorf("runs of no values: %v", got)
	}
}

// Ticks fall on the venue's midnights and round hours, labelled in its zone.
func TestChartTimeTicks(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	week := timeTicker{loc: madrid}.Ticks(chartSeconds(time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)), chartSeconds(time.Date(2026, 3, 20, 18, 0, 0, 0, time.UTC)))
	var labels []string
	for _, tk := range week {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, ", "); got != "Sun 15 Mar, Mon 16 Mar, Tue 17 Mar, Wed 18 Mar, Thu 19 Mar, Fri 20 Mar" {
		t.Errorf("a week's ticks: %s", got)
	}
	if first := time.Unix(int64(week[0].Value), 0).UTC(); !first.Equal(time.Date(2026, 3, 14, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("first tick at %v, want Madrid's midnight, 23:00 UTC", first)
	}
	// Over the change to summer time (29 March 2026, 02:00 → 03:00), hours
	// stay round on the venue's clock.
	day := timeTicker{loc: madrid}.Ticks(chartSeconds(time.Date(2026, 3, 28, 20, 0, 0, 0, time.UTC)), chartSeconds(time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC)))
	labels = nil
	for _, tk := range day {
		labels = append(labels, tk.Label)
		if tt := time.Unix(int64(tk.Value), 0).In(madrid); tt.Minute() != 0 {
			t.Errorf("tick at %v", tt)
		}
	}
	if got := strings.Join(labels, ", "); got != "22:00, 00:00, 04:00, 06:00, 08:00" {
		t.Errorf("ticks over the DST change: %s", got)
	}
}

// Bit rates on the axis read as 300M, not 3e+08.
func TestChartSITicks(t *testing.T) {
	var labels []string
	for _, tk := range (siTicker{}).Ticks(0, 6e8) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0 300M 600M" {
		t.Errorf("labels %q", got)
	}
}

// A long SSID name is shortened to fit the legend, not cut off by the edge.
func TestChartLegendFits(t *testing.T) {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(chartFont, 9)
	w := vg.Points(60)
	if got := fitLabel(l.TextStyle, "ietf", w); got != "ietf" {
		t.Errorf("short name: %q", got)
	}
	got := fitLabel(l.TextStyle, "ietf-legacy-ipv4-for-the-plenary-room", w)
	if !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "ietf-") || l.TextStyle.Width(got) > w {
		t.Errorf("long name: %q (%v wide)", got, l.TextStyle.Width(got))
	}
}

// NaN (PromQL's 0/0) is not a figure.
func TestRenderNaN(t *testing.T) {
	if got := formatPercent(figPtr(math.NaN())); got != notMeasured {
		t.Errorf("NaN: %q", got)
	}
}
