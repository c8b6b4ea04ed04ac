// Package dashboards holds meetnoc's Grafana dashboards (the *.json files
// beside it, embedded) and reads them far enough to check and run their
// queries: the lint test here applies grafana/dashboard-linter's rules to
// them, and the end-to-end test runs every query, its template variables
// filled in the way Grafana fills them, against a real Prometheus.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Files holds the dashboards' JSON, as Grafana's file provider reads them
// (provisioning/dashboards.yml points at their installed copy).
//
//go:embed *.json
var Files embed.FS

// Datasource is a panel's, target's or variable's data source reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Dashboard is one dashboard: the fields the tests and the end-to-end run
// read, the JSON itself in Raw.
type Dashboard struct {
	File          string
	UID           string
	Title         string
	Description   string
	Tags          []string
	SchemaVersion int
	Panels        []Panel
	Variables     []Variable
	Raw           map[string]any
}

// Panel is one panel (rows' nested panels flattened into the list).
type Panel struct {
	ID          int
	Type        string
	Title       string
	Description string
	Datasource  Datasource
	// Unit is fieldConfig.defaults.unit.
	Unit string
	// TimeFrom is a relative time override ("now/d": today so far).
	TimeFrom string
	Targets  []Target
}

// Target is one query of a panel.
type Target struct {
	RefID        string
	Expr         string
	LegendFormat string
	Instant      bool
	Format       string
	Datasource   Datasource
}

// Variable is a template variable.
type Variable struct {
	Name       string
	Label      string
	Type       string
	Query      string
	Datasource Datasource
	Multi      bool
	IncludeAll bool
	AllValue   string
	Refresh    int
}

// Query is a target's expression with the template variables filled in.
type Query struct {
	Dashboard string // dashboard UID
	PanelID   int
	Panel     string // panel title
	RefID     string
	Expr      string
	// Datasource is the target's data source UID, variables filled in
	// ("${datasource}" when vars has no "datasource").
	Datasource string
	// Instant is whether Grafana runs it as an instant query (tables, bar
	// gauges); range queries otherwise.
	Instant bool
}

// Builtins are the values of Grafana's global variables used in queries.
type Builtins struct {
	RateInterval time.Duration // $__rate_interval
	Interval     time.Duration // $__interval
	Range        time.Duration // $__range
}

// DefaultBuiltins is what Queries fills in: a 15 s scrape interval's
// $__rate_interval (four scrapes), and a one-hour view.
var DefaultBuiltins = Builtins{RateInterval: time.Minute, Interval: 15 * time.Second, Range: time.Hour}

// AllValue is the value that selects a variable's "All" option in vars.
const AllValue = "$__all"

// Load reads every embedded dashboard, sorted by file name.
func Load() ([]Dashboard, error) {
	names, err := fs.Glob(Files, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Dashboard, 0, len(names))
	for _, name := range names {
		b, err := Files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		d, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", name, err)
		}
		d.File = path.Base(name)
		out = append(out, d)
	}
	return out, nil
}

type jsonDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Description   string         `json:"description"`
	Tags          []string       `json:"tags"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []jsonPanel    `json:"panels"`
	Templating    jsonTemplating `json:"templating"`
}

type jsonTemplating struct {
	List []jsonVariable `json:"list"`
}

type jsonPanel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *Datasource `json:"datasource"`
	TimeFrom    string      `json:"timeFrom"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID        string      `json:"refId"`
		Expr         string      `json:"expr"`
		LegendFormat string      `json:"legendFormat"`
		Instant      bool        `json:"instant"`
		Format       string      `json:"format"`
		Datasource   *Datasource `json:"datasource"`
	} `json:"targets"`
	Panels []jsonPanel `json:"panels"` // a collapsed row's
}

type jsonVariable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource json.RawMessage `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Refresh    int             `json:"refresh"`
}

// Parse reads one dashboard's JSON.
func Parse(b []byte) (Dashboard, error) {
	var jd jsonDashboard
	if err := json.Unmarshal(b, &jd); err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{UID: jd.UID, Title: jd.Title, Description: jd.Description, Tags: jd.Tags, SchemaVersion: jd.SchemaVersion}
	if err := json.Unmarshal(b, &d.Raw); err != nil {
		return Dashboard{}, err
	}
	var flatten func([]jsonPanel)
	flatten = func(ps []jsonPanel) {
		for _, jp := range ps {
			p := Panel{ID: jp.ID, Type: jp.Type, Title: jp.Title, Description: jp.Description,
				Unit: jp.FieldConfig.Defaults.Unit, TimeFrom: jp.TimeFrom}
			if jp.Datasource != nil {
				p.Datasource = *jp.Datasource
			}
			for _, jt := range jp.Targets {
				t := Target{RefID: jt.RefID, Expr: jt.Expr, LegendFormat: jt.LegendFormat, Instant: jt.Instant, Format: jt.Format}
				if jt.Datasource != nil {
					t.Datasource = *jt.Datasource
				}
				p.Targets = append(p.Targets, t)
			}
			d.Panels = append(d.Panels, p)
			flatten(jp.Panels)
		}
	}
	flatten(jd.Panels)
	for _, jv := range jd.Templating.List {
		v := Variable{Name: jv.Name, Label: jv.Label, Type: jv.Type, Multi: jv.Multi, IncludeAll: jv.IncludeAll,
			AllValue: jv.AllValue, Refresh: jv.Refresh}
		// Grafana writes a query either as a string or, from its Prometheus
		// variable editor, as {"query": "…"}; a datasource either as an
		// object or, in old dashboards, as a name.
		if err := unmarshalStringOr(jv.Query, &v.Query, "query"); err != nil {
			return Dashboard{}, fmt.Errorf("variable %s: query: %w", jv.Name, err)
		}
		if len(jv.Datasource) > 0 && string(jv.Datasource) != "null" {
			if err := json.Unmarshal(jv.Datasource, &v.Datasource); err != nil {
				var name string
				if json.Unmarshal(jv.Datasource, &name) != nil {
					return Dashboard{}, fmt.Errorf("variable %s: datasource: %w", jv.Name, err)
				}
				v.Datasource.UID = name
			}
		}
		d.Variables = append(d.Variables, v)
	}
	return d, nil
}

func unmarshalStringOr(raw json.RawMessage, s *string, field string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if json.Unmarshal(raw, s) == nil {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	*s, _ = obj[field].(string)
	return nil
}

// Variable returns the variable called name.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// Queries returns every target's expression with vars and DefaultBuiltins
// filled in, in panel order. vars maps a variable's name to its selected
// values; a variable absent from vars, or selected as AllValue, is "All".
func (d Dashboard) Queries(vars map[string][]string) []Query {
	return d.QueriesWith(vars, DefaultBuiltins)
}

// QueriesWith is Queries with the given built-in variables.
func (d Dashboard) QueriesWith(vars map[string][]string, b Builtins) []Query {
	var out []Query
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				continue
			}
			ds := t.Datasource.UID
			if ds == "" {
				ds = p.Datasource.UID
			}
			out = append(out, Query{
				Dashboard: d.UID, PanelID: p.ID, Panel: p.Title, RefID: t.RefID,
				Expr:       d.Interpolate(t.Expr, vars, b),
				Datasource: d.interpolate(ds, vars, b, false),
				Instant:    t.Instant,
			})
		}
	}
	return out
}

// LabelValues splits a `label_values(selector, label)` variable query into
// its series selector (variables filled in, "" for the one-argument form)
// and label: what Grafana asks Prometheus's /api/v1/label/<label>/values
// with match[]=selector.
func (d Dashboard) LabelValues(v Variable, vars map[string][]string) (selector, label string, err error) {
	m := labelValuesRE.FindStringSubmatch(strings.TrimSpace(v.Query))
	if m == nil {
		return "", "", fmt.Errorf("variable %s: %q is not label_values(…)", v.Name, v.Query)
	}
	args := m[1]
	i := strings.LastIndex(args, ",")
	if i < 0 {
		return "", strings.TrimSpace(args), nil
	}
	return d.Interpolate(strings.TrimSpace(args[:i]), vars, DefaultBuiltins), strings.TrimSpace(args[i+1:]), nil
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*)\)$`)

// variableRE is Grafana's variable syntax: $name, [[name]] or [[name:format]],
// ${name} or ${name:format}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}`)

// Interpolate fills Grafana's variables into expr as its Prometheus data
// source does: a single-valued variable as is (backslashes and quotes
// escaped), a multi-value or include-All one regex-escaped, several values as
// (a|b), All as the variable's allValue or else ".*" (Grafana joins every
// option's value, which matches the same series), built-ins from b. Unknown
// names stay as written.
func (d Dashboard) Interpolate(expr string, vars map[string][]string, b Builtins) string {
	return d.interpolate(expr, vars, b, true)
}

func (d Dashboard) interpolate(expr string, vars map[string][]string, b Builtins, escape bool) string {
	return variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := variableRE.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[4]
		if s, ok := b.value(name); ok {
			return s
		}
		v, ok := d.Variable(name)
		if !ok {
			return m
		}
		values, given := vars[name]
		if v.Type == "datasource" {
			if !given || len(values) == 0 {
				return m
			}
			return values[0]
		}
		if !given || len(values) == 0 || (len(values) == 1 && values[0] == AllValue) {
			if v.AllValue != "" {
				return v.AllValue
			}
			return ".*"
		}
		if !escape {
			return strings.Join(values, ",")
		}
		if !v.Multi && !v.IncludeAll {
			return regularEscape(values[0])
		}
		esc := make([]string, len(values))
		for i, s := range values {
			esc[i] = regexEscape(s)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
}

func (b Builtins) value(name string) (string, bool) {
	switch name {
	case "__rate_interval":
		return promDuration(b.RateInterval), true
	case "__interval":
		return promDuration(b.Interval), true
	case "__interval_ms":
		return strconv.FormatInt(b.Interval.Milliseconds(), 10), true
	case "__range":
		return promDuration(b.Range), true
	case "__range_s":
		return strconv.FormatInt(int64(b.Range/time.Second), 10), true
	case "__range_ms":
		return strconv.FormatInt(b.Range.Milliseconds(), 10), true
	}
	return "", false
}

// promDuration writes d as Prometheus reads it, in its largest whole unit:
// "1h", "1m", "15s", "500ms".
func promDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d >= u.unit && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// regularEscape is Grafana's prometheusRegularEscape: the value goes into a
// PromQL string as is.
func regularEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\\'`).Replace(s)
}

// regexEscape is Grafana's prometheusSpecialRegexEscape: the value goes into
// a regex inside a PromQL string, so a metacharacter gets a backslash that is
// itself escaped for the string.
func regexEscape(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\\\`)
		case strings.ContainsRune(`$^*{}[]'+?.()|`, r):
			sb.WriteString(`\\`)
			sb.WriteRune(r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
