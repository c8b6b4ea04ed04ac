package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templates embed.FS

var (
	htmlTemplate = htmltemplate.Must(htmltemplate.New("report.html.tmpl").ParseFS(templates, "templates/report.html.tmpl"))
	mdTemplate   = texttemplate.Must(texttemplate.New("report.md.tmpl").Funcs(texttemplate.FuncMap{
		"cell": mdCell,
	}).ParseFS(templates, "templates/report.md.tmpl"))
)

// WriteJSON writes r as report.json: indented, every figure, nulls for what
// was not measured.
func WriteJSON(w io.Writer, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report as JSON: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// jsonRequired are the keys every report.json has; a file without them is not
// one (a Grafana export, a Prometheus answer, another tool's JSON).
var jsonRequired = []string{"title", "from", "to", "generated", "ipv6_bytes_share", "overall", "ssids", "definitions"}

// ReadJSON reads a report.json that WriteJSON wrote, e.g. the previous
// meeting's for --previous. It rejects JSON that is not a meetnoc report.
func ReadJSON(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("not a meetnoc report.json: %w", err)
	}
	var missing []string
	for _, k := range jsonRequired {
		if _, ok := keys[k]; !ok {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not a meetnoc report.json: no %s", strings.Join(missing, ", "))
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a meetnoc report.json: %w", err)
	}
	if r.From.IsZero() || r.To.IsZero() || !r.To.After(r.From) {
		return nil, fmt.Errorf("not a meetnoc report.json: period %s to %s is not a time range", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	return &r, nil
}

// WriteHTML writes report.html: one self-contained page (inline CSS and SVG
// charts, no scripts, nothing loaded from elsewhere) that prints on A4.
func WriteHTML(w io.Writer, r *Report) error {
	pg, err := newPage(r, true)
	if err != nil {
		return err
	}
	return execute(w, func(b *bytes.Buffer) error { return htmlTemplate.Execute(b, pg) })
}

// WriteMarkdown writes report.md: the figures and tables of report.html, for
// a mailing-list post; the charts are only in the HTML.
func WriteMarkdown(w io.Writer, r *Report) error {
	pg, err := newPage(r, false)
	if err != nil {
		return err
	}
	return execute(w, func(b *bytes.Buffer) error { return mdTemplate.Execute(b, pg) })
}

// execute renders into memory first so that a template error leaves nothing
// half-written in w.
func execute(w io.Writer, render func(*bytes.Buffer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	_, err := b.WriteTo(w)
	return err
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "|", `\|`)
}

// page is the report as the templates show it: every figure already
// formatted for people, so that the HTML and the Markdown say the same.
type page struct {
	Title      string
	Period     string
	Timezone   string
	Generated  string
	Prometheus string
	Step       string
	Absent     []string
	Previous   string // the report compared with, when there is one
	Compare    bool   // headline figures show their change
	Headlines  []headlineView
	Charts     []chartView
	Sections   []sectionView
}

type headlineView struct {
	Key        string // JSON name
	Name       string
	Value      string
	Detail     string // when or on which day, for peaks
	Change     string // since Previous
	Definition string
	Measured   bool
}

type chartView struct {
	ID, Title string
	SVG       htmltemplate.HTML
	NoData    string
}

// sectionView is a titled part of the report: definitions, notes on what was
// not measured, figures and tables.
type sectionView struct {
	ID, Title   string
	Level       int // 2 or 3
	Definitions []string
	Absent      []string
	Figures     []figureView
	Tables      []tableView
}

type figureView struct{ Name, Value string }

type tableView struct {
	Caption string
	Head    []string
	Rows    []rowView
	Empty   string // said when there are no rows
	More    string // said below rows left out
	Numeric []bool // per column: right-aligned
}

type rowView struct {
	Cells []string
	Total bool
}

func newPage(r *Report, withCharts bool) (*page, error) {
	if r == nil {
		return nil, errors.New("no report to write")
	}
	f := newRenderer(r)
	pg := &page{
		Title:      r.Title,
		Period:     f.when(r.From) + " to " + f.when(r.To),
		Timezone:   f.loc.String(),
		Generated:  f.when(r.Generated),
		Prometheus: r.Prometheus,
		Absent:     r.Absent,
	}
	if pg.Title == "" {
		pg.Title = "Network report"
	}
	if r.Step > 0 {
		pg.Step = formatDuration(time.Duration(r.Step * float64(time.Second)))
	}
	if r.Previous != nil {
		pg.Previous = fmt.Sprintf("%s (%s to %s)", r.Previous.Title, f.day(r.Previous.From), f.day(r.Previous.To))
	}
	pg.Compare = r.Previous != nil || len(r.Changes) > 0
	pg.Headlines = f.headlines()
	if withCharts {
		charts, err := drawCharts(r, f.loc)
		if err != nil {
			return nil, err
		}
		for _, c := range charts {
			pg.Charts = append(pg.Charts, chartView{ID: c.ID, Title: c.Title, SVG: htmltemplate.HTML(c.SVG), NoData: c.NoData})
		}
	}
	pg.Sections = f.sections()
	return pg, nil
}
