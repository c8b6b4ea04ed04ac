package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	plottext "gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart geometry: A4's printable width is about 7 in; the legend gets a strip
// of its own on the right so it never hides a line.
const (
	chartWidth  = 7 * vg.Inch
	chartHeight = 2.8 * vg.Inch
	legendWidth = 1.45 * vg.Inch
)

// chartPalette is Okabe and Ito's colour-blind-safe palette (without its
// yellow, which vanishes on white paper). Lines past its end repeat a colour
// with a dash pattern.
var chartPalette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
}

var chartDashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}}

// gapColor shades the stretches with no data from meetnoc (Report.Gaps).
var gapColor = color.RGBA{0xDD, 0xDD, 0xDD, 0xFF}

var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// chart is one drawn chart, or the reason it could not be drawn.
type chartSVG struct {
	ID, Title string
	SVG       []byte // an <svg> element, without XML prologue; nil when NoData is set
	NoData    string
}

// drawCharts draws every chart of Charts from r.Series. A chart without a
// series says so rather than showing empty axes.
func drawCharts(r *Report, loc *time.Location) ([]chartSVG, error) {
	var out []chartSVG
	for _, c := range Charts {
		var series []TimeSeries
		for _, s := range r.Series {
			if s.Chart == c.ID {
				series = append(series, s)
			}
		}
		ch := chartSVG{ID: c.ID, Title: c.Title}
		if !chartHasValue(series) {
			ch.NoData = "No data: not measured during the meeting."
			out = append(out, ch)
			continue
		}
		svg, err := drawChart(c.Title, series, r.Gaps, r.From, r.To, loc)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", c.ID, err)
		}
		ch.SVG = svg
		out = append(out, ch)
	}
	return out, nil
}

func chartHasValue(series []TimeSeries) bool {
	for _, s := range series {
		for _, v := range s.Values {
			if v != nil && finite(*v) {
				return true
			}
		}
	}
	return false
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// drawChart draws series (all of one unit) over [from, to] as SVG. A nil
// value breaks its line: each run of values is a line of its own, and a lone
// value a dot, so nothing is drawn across missing data. gaps are shaded.
func drawChart(title string, series []TimeSeries, gaps []Gap, from, to time.Time, loc *time.Location) ([]byte, error) {
	p := plot.New()
	setFonts(p)
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Min, p.X.Max = chartSeconds(from), chartSeconds(to)
	p.X.Label.Text = "time (" + loc.String() + ")"
	p.X.Tick.Marker = timeTicker{loc: loc}
	p.Add(plotter.NewGrid())

	unit := series[0].Unit
	switch unit {
	case "ratio":
		p.Y.Min, p.Y.Max = 0, 1
		p.Y.Label.Text = "share (%)"
		p.Y.Tick.Marker = plot.ConstantTicks(percentTicks())
	case "bps":
		p.Y.Min = 0
		p.Y.Label.Text = "bit/s"
		p.Y.Tick.Marker = siTicker{}
	default:
		p.Y.Min = 0
		p.Y.Label.Text = unit
		p.Y.Tick.Marker = siTicker{}
	}

	legend := plot.NewLegend()
	legend.TextStyle.Font = font.From(chartFont, 9)
	legend.Top, legend.Left = true, true
	legend.ThumbnailWidth = vg.Points(18)
	legend.Padding = vg.Points(2.5)

	if shade := newGapShade(gaps, p.X.Min, p.X.Max); len(shade.spans) > 0 {
		p.Add(shade)
		legend.Add("no data (gap)", shade)
	}
	for i, s := range series {
		style := draw.LineStyle{
			Color:  chartPalette[i%len(chartPalette)],
			Width:  vg.Points(1.5),
			Dashes: chartDashes[(i/len(chartPalette))%len(chartDashes)],
		}
		var thumb plot.Thumbnailer
		for _, run := range chartRuns(s) {
			if len(run) == 1 {
				sc, err := plotter.NewScatter(run)
				if err != nil {
					return nil, err
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
				p.Add(sc)
				continue
			}
			l, err := plotter.NewLine(run)
			if err != nil {
				return nil, err
			}
			l.LineStyle = style
			p.Add(l)
			if thumb == nil {
				thumb = l
			}
		}
		if thumb == nil {
			thumb = &plotter.Line{LineStyle: style}
		}
		legend.Add(fitLabel(legend.TextStyle, s.Name, legendWidth-legend.ThumbnailWidth-vg.Points(14)), thumb)
	}

	c := vgsvg.New(chartWidth, chartHeight)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legendArea := draw.Crop(dc, chartWidth-legendWidth+vg.Points(8), 0, 0, -vg.Points(24))
	legend.Draw(legendArea)

	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return inlineSVG(buf.Bytes(), title), nil
}

// inlineSVG turns vgsvg's stand-alone document into an element to put in
// HTML: without the XML declaration and comment, scaled by CSS, labelled.
func inlineSVG(doc []byte, label string) []byte {
	s := string(doc)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg ", `<svg role="img" aria-label="`+escapeAttr(label)+`" `, 1)
	return []byte(s)
}

func escapeAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fitLabel shortens name with an ellipsis to fit width, so that a long SSID
// name is not cut off at the edge of the chart.
func fitLabel(sty plottext.Style, name string, width vg.Length) string {
	if sty.Width(name) <= width {
		return name
	}
	r := []rune(name)
	for len(r) > 1 && sty.Width(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func setFonts(p *plot.Plot) {
	p.Title.TextStyle.Font = font.From(chartFont, 11)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(chartFont, 9)
		a.Tick.Label.Font = font.From(chartFont, 8)
	}
}

func chartSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// runs splits a series at its missing values into runs of consecutive points.
func chartRuns(s TimeSeries) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	start := chartSeconds(s.Start)
	for i, v := range s.Values {
		if v == nil || !finite(*v) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: start + float64(i)*s.Step, Y: *v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// gapShade shades stretches of time over the full height of the plot.
type gapShade struct {
	spans [][2]float64 // Unix seconds, clipped to the plot
}

func newGapShade(gaps []Gap, min, max float64) gapShade {
	var g gapShade
	for _, gap := range gaps {
		a, b := math.Max(chartSeconds(gap.Start), min), math.Min(chartSeconds(gap.End), max)
		if b > a {
			g.spans = append(g.spans, [2]float64{a, b})
		}
	}
	return g
}

// minGapWidth keeps a short gap visible on a week-long axis.
const minGapWidth = 2 * vg.Millimeter

func (g gapShade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, s := range g.spans {
		x0, x1 := trX(s[0]), trX(s[1])
		if w := x1 - x0; w < minGapWidth {
			x0 -= (minGapWidth - w) / 2
			x1 = x0 + minGapWidth
		}
		c.FillPolygon(gapColor, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}

// Thumbnail draws the legend's swatch.
func (g gapShade) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(gapColor, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
}

func percentTicks() []plot.Tick {
	var ts []plot.Tick
	for i := 0; i <= 10; i++ {
		t := plot.Tick{Value: float64(i) / 10}
		if i%2 == 0 {
			t.Label = fmt.Sprintf("%d%%", i*10)
		}
		ts = append(ts, t)
	}
	return ts
}

// siTicker labels plot.DefaultTicks with SI prefixes (1.5k, 20M), so that
// bit rates and client counts read at a glance.
type siTicker struct{}

func (siTicker) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = siShort(ts[i].Value)
		}
	}
	return ts
}

func siShort(v float64) string {
	prefixes := []string{"", "k", "M", "G", "T", "P"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".") + prefixes[i]
}

// timeTicker puts ticks on round times of the venue's clock (midnight, every
// few hours) rather than on round numbers of Unix seconds.
type timeTicker struct{ loc *time.Location }

var tickSteps = []time.Duration{
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

func (t timeTicker) Ticks(min, max float64) []plot.Tick {
	span := time.Duration((max - min) * 1e9)
	const maxMajor = 8
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= maxMajor {
			step = s
			break
		}
	}
	days := 1
	if step == 24*time.Hour {
		for span/(time.Duration(days)*24*time.Hour) > maxMajor {
			days++
		}
	}
	layout := "15:04"
	switch {
	case step >= 24*time.Hour:
		layout = "Mon 2 Jan"
	case span > 24*time.Hour:
		layout = "Mon 15:04"
	}
	lo := time.Unix(0, int64(min*1e9)).In(t.loc)
	// Walk the venue's wall clock from the midnight before min, so ticks stay
	// on round local times across a DST change.
	day := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, t.loc)
	var ticks []plot.Tick
	for d := day; chartSeconds(d) <= max; d = d.AddDate(0, 0, days) {
		if step >= 24*time.Hour {
			if v := chartSeconds(d); v >= min {
				ticks = append(ticks, plot.Tick{Value: v, Label: d.Format(layout)})
			}
			continue
		}
		for off := time.Duration(0); off < 24*time.Hour; off += step {
			h, m := int(off/time.Hour), int(off%time.Hour/time.Minute)
			tt := time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, t.loc)
			v := chartSeconds(tt)
			if tt.Hour() != h || v < min || v > max { // skipped by a DST change, or off the axis
				continue
			}
			label := tt.Format(layout)
			if layout == "Mon 15:04" && h == 0 && m == 0 {
				label = tt.Format("Mon 2 Jan")
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}
