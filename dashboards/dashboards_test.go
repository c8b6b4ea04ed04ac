package dashboards

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/alerts"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/internal/labrun"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The dashboards, by file, and their UIDs: links and bookmarks point at the
// UIDs, so they must never change.
var wantUIDs = map[string]string{
	"overview.json":   "meetnoc-overview",
	"wireless.json":   "meetnoc-wireless",
	"ipv6-nat64.json": "meetnoc-ipv6",
	"dns.json":        "meetnoc-dns",
	"switches.json":   "meetnoc-switches",
	"meetnoc.json":    "meetnoc-self",
}

func load(t *testing.T) []Dashboard {
	t.Helper()
	ds, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestLoad(t *testing.T) {
	ds := load(t)
	got := map[string]string{}
	titles := map[string]bool{}
	for _, d := range ds {
		got[d.File] = d.UID
		if titles[d.Title] {
			t.Errorf("%s: title %q used twice", d.File, d.Title)
		}
		titles[d.Title] = true
		if d.SchemaVersion < 36 {
			t.Errorf("%s: schemaVersion %d, want ≥ 36 (datasource objects, $__rate_interval)", d.File, d.SchemaVersion)
		}
		if !contains(d.Tags, "meetnoc") {
			t.Errorf("%s: no tag meetnoc (the dashboards' links list the meetnoc tag)", d.File)
		}
		if len(d.Panels) < 6 {
			t.Errorf("%s: %d panels", d.File, len(d.Panels))
		}
		if len(d.Queries(nil)) == 0 {
			t.Errorf("%s: no queries", d.File)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantUIDs) {
		t.Errorf("dashboards %v, want %v", got, wantUIDs)
	}
}

// The overview has what the NOC looks at first.
func TestOverviewPanels(t *testing.T) {
	for _, d := range load(t) {
		if d.UID != "meetnoc-overview" {
			continue
		}
		exprs := ""
		for _, q := range d.Queries(nil) {
			exprs += q.Expr + "\n"
		}
		for _, want := range []string{"meetnoc_ssid_clients", "meetnoc_ap_up", `family=~"ipv6|nat64"`, `family=~"nat64"`,
			"[1h:15s]", "meetnoc_dns_probe_success", "meetnoc_nat64_probe_success", `ALERTS{alertstate="firing"}`, "meetnoc_interface_speed_bytes"} {
			if !strings.Contains(exprs, want) {
				t.Errorf("overview queries lack %s", want)
			}
		}
		return
	}
	t.Fatal("no overview")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validUnits are the Grafana unit IDs the dashboards may use: a subset of
// those dashboard-linter's panel-units-rule accepts (Grafana's
// valueFormats/categories.ts).
var validUnits = map[string]bool{
	"none": true, "short": true, "percent": true, "percentunit": true,
	"bytes": true, "decbytes": true, "bits": true, "decbits": true,
	"Bps": true, "binBps": true, "bps": true, "binbps": true, "pps": true,
	"ns": true, "µs": true, "ms": true, "s": true, "m": true, "h": true, "d": true,
	"dtdurations": true, "dateTimeFromNow": true, "dateTimeAsIso": true,
	"cps": true, "ops": true, "reqps": true, "rps": true, "bool": true, "bool_yes_no": true, "bool_on_off": true,
}

// unitPanels are the panel types panel-units-rule checks, and bar gauges.
var unitPanels = map[string]bool{"stat": true, "singlestat": true, "graph": true, "table": true, "timeseries": true, "gauge": true, "bargauge": true}

// queryPanels are the panel types that show queries (not rows or text).
var queryPanels = map[string]bool{"stat": true, "graph": true, "table": true, "timeseries": true, "gauge": true,
	"bargauge": true, "heatmap": true, "piechart": true, "state-timeline": true, "status-history": true, "barchart": true}

var (
	templateQueryRE = regexp.MustCompile(`^(label_values|label_names|metrics|query_result)\((.*)\)$`)
	labelNameRE     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	varRefRE        = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::[^}]+)?\}|\[\[(\w+)(?::\w+)?\]\]`)
	legendLabelRE   = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
)

func isDatasourceVar(uid string) bool { return uid == "$datasource" || uid == "${datasource}" }

// lint applies grafana/dashboard-linter's rules that need only the JSON,
// returning one line per problem, named after the rule.
func lint(d Dashboard) []string {
	var probs []string
	add := func(rule, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("%s: %s: %s", rule, d.UID, fmt.Sprintf(format, args...)))
	}
	if d.UID == "" || d.Title == "" {
		add("dashboard", "no uid or title")
	}

	// template-datasource-rule: one datasource variable, named datasource,
	// for Prometheus.
	var dsVars []Variable
	for _, v := range d.Variables {
		if v.Type == "datasource" {
			dsVars = append(dsVars, v)
		}
	}
	if len(dsVars) != 1 || dsVars[0].Name != "datasource" || dsVars[0].Query != "prometheus" || dsVars[0].Label != "Data source" {
		add("template-datasource-rule", "want one datasource variable named datasource, labelled \"Data source\", query prometheus; have %+v", dsVars)
	}
	names := map[string]bool{}
	for _, v := range d.Variables {
		if names[v.Name] {
			add("template", "variable %s defined twice", v.Name)
		}
		names[v.Name] = true
		if v.Type != "query" {
			continue
		}
		if !isDatasourceVar(v.Datasource.UID) {
			add("template-datasource-rule", "variable %s: datasource %q, want ${datasource}", v.Name, v.Datasource.UID)
		}
		// template-on-time-change-reload-rule
		if v.Refresh != 2 {
			add("template-on-time-change-reload-rule", "variable %s: refresh %d, want 2 (on time range change)", v.Name, v.Refresh)
		}
		// template-label-promql-rule
		m := templateQueryRE.FindStringSubmatch(v.Query)
		if m == nil {
			add("template-label-promql-rule", "variable %s: query %q is not label_values(…), label_names(…), metrics(…) or query_result(…)", v.Name, v.Query)
			continue
		}
		if m[1] == "label_values" {
			sel, label, err := d.LabelValues(v, nil)
			if err != nil || !labelNameRE.MatchString(label) {
				add("template-label-promql-rule", "variable %s: label %q in %q", v.Name, label, v.Query)
			}
			if sel != "" {
				if sc, err := scan(sel); err != nil || len(sc.selectors) != 1 {
					add("template-label-promql-rule", "variable %s: %q is not one series selector (%v)", v.Name, sel, err)
				}
			}
		}
		// template-job-rule and template-instance-rule, for the dashboards
		// that have those variables.
		if v.Name == "job" || v.Name == "instance" {
			wantLabel := strings.ToUpper(v.Name[:1]) + v.Name[1:]
			if v.Label != wantLabel || !v.Multi || v.AllValue != ".+" {
				add("template-"+v.Name+"-rule", "variable %s: label %q (want %q), multi %v (want true), allValue %q (want .+)", v.Name, v.Label, wantLabel, v.Multi, v.AllValue)
			}
		}
	}

	ids := map[int]bool{}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		where := fmt.Sprintf("panel %q", p.Title)
		if ids[p.ID] {
			add("panel", "%s: id %d used twice", where, p.ID)
		}
		ids[p.ID] = true
		// Query names its panel by title: one title, one panel.
		if titles[p.Title] {
			add("panel", "%s: title used twice", where)
		}
		titles[p.Title] = true
		// panel-title-description-rule
		if strings.TrimSpace(p.Title) == "" || strings.TrimSpace(p.Description) == "" {
			add("panel-title-description-rule", "%s (id %d): no title or no description", where, p.ID)
		}
		// panel-datasource-rule
		if !isDatasourceVar(p.Datasource.UID) || p.Datasource.Type != "prometheus" {
			add("panel-datasource-rule", "%s: datasource %+v, want {prometheus ${datasource}}", where, p.Datasource)
		}
		// panel-units-rule
		if unitPanels[p.Type] && !validUnits[p.Unit] {
			add("panel-units-rule", "%s: unit %q", where, p.Unit)
		}
		// panel-no-targets-rule
		if queryPanels[p.Type] {
			n := 0
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) != "" {
					n++
				}
			}
			if n == 0 {
				add("panel-no-targets-rule", "%s: no queries", where)
			}
		} else {
			add("panel", "%s: type %q is not one the lint knows", where, p.Type)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			tw := fmt.Sprintf("%s target %s", where, tg.RefID)
			if tg.RefID == "" || refs[tg.RefID] {
				add("panel", "%s: refId empty or used twice", tw)
			}
			refs[tg.RefID] = true
			if !isDatasourceVar(tg.Datasource.UID) {
				add("panel-datasource-rule", "%s: datasource %+v", tw, tg.Datasource)
			}
			for _, m := range varRefRE.FindAllStringSubmatch(tg.Expr, -1) {
				name := m[1] + m[2] + m[3]
				if _, builtin := DefaultBuiltins.value(name); !builtin && !names[name] {
					add("target-variable", "%s: $%s is no variable of this dashboard", tw, name)
				}
			}
			// target-promql-rule, as far as the scanner sees: promtool
			// parses every query in TestQueriesAgainstLab.
			sc, err := scan(tg.Expr)
			if err != nil {
				add("target-promql-rule", "%s: %v in %q", tw, err, tg.Expr)
				continue
			}
			for _, s := range sc.selectors {
				// target-rate-interval-rule, strict: every rate, irate and
				// increase over $__rate_interval.
				if (s.call == "rate" || s.call == "irate" || s.call == "increase") && s.rng != "$__rate_interval" && s.rng != "${__rate_interval}" {
					add("target-rate-interval-rule", "%s: %s(%s[%s]) should use $__rate_interval", tw, s.call, s.name(), s.rng)
				}
				// target-job-rule and target-instance-rule, where the
				// dashboard has those variables.
				for _, l := range []string{"job", "instance"} {
					if !names[l] {
						continue
					}
					ok := false
					for _, m := range s.matchers {
						ok = ok || m.label == l && m.op == "=~" && (m.value == "$"+l || m.value == "${"+l+"}")
					}
					if !ok {
						add("target-"+l+"-rule", "%s: %s has no %s=~\"$%s\"", tw, s.name(), l, l)
					}
				}
			}
		}
	}
	return probs
}

func TestLint(t *testing.T) {
	for _, d := range load(t) {
		for _, p := range lint(d) {
			t.Error(p)
		}
	}
}

// The lint finds what each rule is about: a dashboard breaking every rule.
func TestLintCatchesProblems(t *testing.T) {
	bad := `{
  "uid": "bad", "title": "bad", "schemaVersion": 39,
  "templating": {"list": [
    {"name": "ds", "type": "datasource", "query": "prometheus"},
    {"name": "ssid", "type": "query", "datasource": {"type": "prometheus", "uid": "prom"}, "query": "values(x, ssid)", "refresh": 1},
    {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"}, "query": "label_values(up, job)", "refresh": 2, "label": "Job", "multi": false}
  ]},
  "panels": [
    {"id": 1, "type": "timeseries", "title": "a", "datasource": {"type": "prometheus", "uid": "prom"},
     "fieldConfig": {"defaults": {"unit": "furlongs"}},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                  "expr": "rate(meetnoc_snmp_polls_total{ssid=~\"$ssid\"}[5m]) + $nope"}]},
    {"id": 2, "type": "stat", "title": "b", "description": "b", "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "fieldConfig": {"defaults": {"unit": "short"}}, "targets": []},
    {"id": 3, "type": "stat", "title": "c", "description": "c", "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "fieldConfig": {"defaults": {"unit": "short"}},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": "sum(rate(x{job=~\"$job\"}[1m])"}]}
  ]
}`
	d, err := Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lint(d), "\n")
	for _, rule := range []string{"template-datasource-rule", "template-on-time-change-reload-rule", "template-label-promql-rule",
		"template-job-rule", "panel-title-description-rule", "panel-datasource-rule", "panel-units-rule", "panel-no-targets-rule",
		"target-rate-interval-rule", "target-job-rule", "target-promql-rule", "target-variable"} {
		if !strings.Contains(got, rule+":") {
			t.Errorf("lint missed %s in:\n%s", rule, got)
		}
	}
}

func TestScan(t *testing.T) {
	sc, err := scan(`histogram_quantile(0.9, sum by (le, resolver) (rate(a_bucket{check=~"x|y",r!='q'}[$__rate_interval])))
		/ on (resolver) group_left (ssid) (b > 0) + sum(c) without (d) - {__name__="e"}[5m] offset 1m + time()`)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(sc.selectors, sc.grouping)
	want := `[{a_bucket [{check =~ x|y} {r != q}] $__rate_interval rate} {b []  } {c []  sum} { [{__name__ = e}] 5m }] [le resolver resolver ssid d]`
	if got != want {
		t.Errorf("scan:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{`rate(x[5m]`, `x{a="b"`, `sum by (a) x`, `x{a=}`} {
		if _, err := scan(bad); err == nil {
			t.Errorf("scan(%q): no error", bad)
		}
	}
}

func TestInterpolate(t *testing.T) {
	d := Dashboard{Variables: []Variable{
		{Name: "datasource", Type: "datasource"},
		{Name: "single", Type: "query"},
		{Name: "multi", Type: "query", Multi: true, IncludeAll: true},
		{Name: "job", Type: "query", Multi: true, IncludeAll: true, AllValue: ".+"},
	}}
	b := Builtins{RateInterval: 4 * time.Second, Interval: 500 * time.Millisecond, Range: 24 * time.Hour}
	for _, c := range []struct {
		expr string
		vars map[string][]string
		want string
	}{
		{`x{a="$single"}`, map[string][]string{"single": {`it's`}}, `x{a="it\\'s"}`},
		{`x{a=~"$multi"}`, map[string][]string{"multi": {"ietf-ap-01"}}, `x{a=~"ietf-ap-01"}`},
		{`x{a=~"${multi}"}`, map[string][]string{"multi": {"a.b", "c|d"}}, `x{a=~"(a\\.b|c\\|d)"}`},
		{`x{a=~"[[multi]]"}`, map[string][]string{"multi": {`a\b`}}, `x{a=~"a\\\\b"}`},
		{`x{a=~"$multi",j=~"$job"}`, map[string][]string{"multi": {AllValue}}, `x{a=~".*",j=~".+"}`},
		{`rate(x[$__rate_interval]) [$__range:$__interval] $__range_s $__interval_ms`, nil, `rate(x[4s]) [24h:500ms] 86400 500`},
		{`$unknown ${multi:csv}`, map[string][]string{"multi": {"p"}}, `$unknown p`},
	} {
		if got := d.Interpolate(c.expr, c.vars, b); got != c.want {
			t.Errorf("Interpolate(%s, %v) = %s, want %s", c.expr, c.vars, got, c.want)
		}
	}
	d.Panels = []Panel{{Title: "p", Datasource: Datasource{"prometheus", "${datasource}"},
		Targets: []Target{{RefID: "A", Expr: `up{job=~"$job"}`}}}}
	qs := d.Queries(map[string][]string{"datasource": {"prom"}, "job": {"meetnoc"}})
	if len(qs) != 1 || qs[0].Expr != `up{job=~"meetnoc"}` || qs[0].Datasource != "prom" || qs[0].Panel != "p" {
		t.Errorf("Queries: %+v", qs)
	}
}

func TestProvisioning(t *testing.T) {
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "provisioning/dashboards.yml", &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" ||
		dash.Providers[0].Options.Path != "/usr/share/meetnoc/dashboards" {
		t.Errorf("provisioning/dashboards.yml: %+v, want one file provider at /usr/share/meetnoc/dashboards", dash)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL, Access string
		} `yaml:"datasources"`
	}
	readYAML(t, "provisioning/datasources.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" ||
		ds.Datasources[0].URL == "" || ds.Datasources[0].Access != "proxy" {
		t.Errorf("provisioning/datasources.yml: %+v, want one Prometheus data source", ds)
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// labSeries is what the lab's daemon exports, and what Prometheus adds.
type labSeries struct {
	types map[string]string              // series name → counter, gauge, summary, untyped, recording, synthetic
	sets  map[string][]map[string]string // series name → label sets; absent: labels unknown (any)
}

func (l labSeries) add(name, typ string, labels map[string]string) {
	l.types[name] = typ
	l.sets[name] = append(l.sets[name], labels)
}

func labMetrics(t *testing.T, exposition string) labSeries {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	l := labSeries{types: map[string]string{}, sets: map[string][]map[string]string{}}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			with := func(k, v string) map[string]string {
				c := map[string]string{k: v}
				for a, b := range labels {
					c[a] = b
				}
				return c
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				l.add(name, "counter", labels)
			case dto.MetricType_GAUGE:
				l.add(name, "gauge", labels)
			case dto.MetricType_HISTOGRAM:
				for _, b := range m.GetHistogram().GetBucket() {
					l.add(name+"_bucket", "counter", with("le", fmt.Sprint(b.GetUpperBound())))
				}
				l.add(name+"_bucket", "counter", with("le", "+Inf"))
				l.add(name+"_sum", "counter", labels)
				l.add(name+"_count", "counter", labels)
			case dto.MetricType_SUMMARY:
				for _, q := range m.GetSummary().GetQuantile() {
					l.add(name, "summary", with("quantile", fmt.Sprint(q.GetQuantile())))
				}
				l.add(name+"_sum", "counter", labels)
				l.add(name+"_count", "counter", labels)
			default:
				l.add(name, "untyped", labels)
			}
		}
	}
	// What Prometheus makes itself: every scrape's up and scrape_*, and the
	// alerts' ALERTS series, whose labels are the alerts'.
	for _, n := range []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"} {
		l.types[n] = "synthetic"
		l.sets[n] = []map[string]string{{"job": "meetnoc", "instance": "lab"}}
	}
	l.types["ALERTS"], l.types["ALERTS_FOR_STATE"] = "synthetic", "synthetic"
	return l
}

// recordingRules are the names recorded in the shipped rule files.
func recordingRules(t *testing.T) []string {
	rules, err := alerts.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rules {
		if r.Record != "" {
			names = append(names, r.Record)
		}
	}
	return names
}

// nat64Metrics are the NAT64 probe's metric names as the daemon declares
// them: the lab has a NAT64 only as root with TAYGA, in a network namespace
// of its own that the end-to-end test (which runs these queries against it)
// owns, so this test's lab has none, and takes their names from the source.
func nat64Metrics(t *testing.T) []string {
	files, _ := filepath.Glob("../probes/nat64/*.go")
	re := regexp.MustCompile(`(?:NewDesc\(\s*|Name:\s*)"(meetnoc_nat64_\w+)"`)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			names = append(names, string(m[1]))
		}
	}
	if len(names) == 0 {
		t.Fatal("no meetnoc_nat64_ metrics declared in ../probes/nat64")
	}
	return names
}

// matches reports whether a lab series' labels satisfy the matcher; job and
// instance come from Prometheus's scrape config and match anything.
func (m matcher) matches(labels map[string]string) (bool, error) {
	if m.label == "job" || m.label == "instance" || m.label == "__name__" {
		return true, nil
	}
	v := labels[m.label]
	switch m.op {
	case "=":
		return v == m.value, nil
	case "!=":
		return v != m.value, nil
	}
	re, err := regexp.Compile("^(?:" + m.value + ")$")
	if err != nil {
		return false, err
	}
	return re.MatchString(v) == (m.op == "=~"), nil
}

// checkAgainstLab checks one query with its variables filled in: every
// series it selects exists in the lab with the labels and values it asks
// for, counters only under rate/irate/increase and gauges never
// (target-counter-agg-rule), and the labels it groups by and names in its
// legend exist.
func checkAgainstLab(l labSeries, q Query, legend string) []string {
	var probs []string
	add := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("%s / %q %s: %s", q.Dashboard, q.Panel, q.RefID, fmt.Sprintf(format, args...)))
	}
	sc, err := scan(q.Expr)
	if err != nil {
		add("%v", err)
		return probs
	}
	known := map[string]bool{"job": true, "instance": true}
	anyLabels := false
	for _, s := range sc.selectors {
		name := s.name()
		typ, ok := l.types[name]
		if !ok {
			add("%s: not in the lab's metrics, not recorded by ../alerts/*.rules.yml", name)
			continue
		}
		switch {
		case typ == "counter" && (s.rng == "" || (s.call != "rate" && s.call != "irate" && s.call != "increase")):
			add("target-counter-agg-rule: counter %s not under rate, irate or increase", name)
		case typ != "counter" && (s.call == "rate" || s.call == "irate" || s.call == "increase"):
			add("target-counter-agg-rule: %s %s under %s", typ, name, s.call)
		}
		sets, ok := l.sets[name]
		if !ok {
			anyLabels = true
			continue
		}
		for _, set := range sets {
			for k := range set {
				known[k] = true
			}
		}
		selected := 0
		for _, set := range sets {
			all := true
			for _, m := range s.matchers {
				ok, err := m.matches(set)
				if err != nil {
					add("%s: matcher %s%s%q: %v", name, m.label, m.op, m.value, err)
					return probs
				}
				all = all && ok
			}
			if all {
				selected++
			}
		}
		for _, m := range s.matchers {
			if _, ok := sets[0][m.label]; !ok && m.label != "job" && m.label != "instance" && m.label != "__name__" {
				add("%s has no label %s", name, m.label)
			}
		}
		if selected == 0 {
			add("%s%v selects no series of the lab", name, s.matchers)
		}
	}
	if anyLabels {
		return probs
	}
	for _, g := range sc.grouping {
		if !known[g] && g != "le" {
			add("groups by %s, a label none of its series has", g)
		}
	}
	for _, m := range legendLabelRE.FindAllStringSubmatch(legend, -1) {
		if !known[m[1]] {
			add("legend names {{%s}}, a label none of its series has", m[1])
		}
	}
	return probs
}

// fill picks values for a dashboard's variables from the lab: the first
// (pick 1) or first two (pick 2) of each label_values query, in order, so a
// variable depending on another sees its value; pick 0 selects All. job and
// instance come from Prometheus, not the lab: the scrape job meetnoc and the
// daemon's address.
func fill(t *testing.T, d Dashboard, l labSeries, addr string, pick int) map[string][]string {
	vars := map[string][]string{"datasource": {"prometheus"}}
	for _, v := range d.Variables {
		if v.Type != "query" {
			continue
		}
		if pick == 0 {
			vars[v.Name] = []string{AllValue}
			continue
		}
		sel, label, err := d.LabelValues(v, vars)
		if err != nil {
			t.Error(err)
			continue
		}
		switch label {
		case "job":
			vars[v.Name] = []string{"meetnoc"}
			continue
		case "instance":
			vars[v.Name] = []string{addr}
			continue
		}
		sc, err := scan(sel)
		if err != nil || len(sc.selectors) != 1 {
			t.Errorf("%s: variable %s: %q: %v", d.UID, v.Name, sel, err)
			continue
		}
		s := sc.selectors[0]
		seen := map[string]bool{}
		for _, set := range l.sets[s.name()] {
			ok := true
			for _, m := range s.matchers {
				match, err := m.matches(set)
				ok = ok && match && err == nil
			}
			if val, has := set[label]; ok && has {
				seen[val] = true
			}
		}
		var values []string
		for val := range seen {
			values = append(values, val)
		}
		sort.Strings(values)
		if len(values) == 0 {
			t.Errorf("%s: variable %s: %s has no values in the lab", d.UID, v.Name, v.Query)
			continue
		}
		if len(values) > pick {
			values = values[:pick]
		}
		vars[v.Name] = values
	}
	return vars
}

// Every query, with its variables filled in from the lab (one value, two
// values, All), selects metrics the lab's daemon exports with labels and
// values it has, aggregates counters the way dashboard-linter wants, and
// parses — checked by promtool, which parses recording rules with
// Prometheus's own parser.
func TestQueriesAgainstLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	// Session hours in the lab's venue time, so traffic flows.
	base := time.Date(2026, 3, 16, 10, 30, 0, 0, time.Local)
	started := time.Now()
	lab, err := labrun.Start(ctx, t.TempDir(), labrun.Options{Calm: true, Now: func() time.Time { return base.Add(time.Since(started)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lab.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := lab.WaitWarm(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// WaitWarm waits for some targets; the checks below want every target's
	// interfaces, so wait for each target's first successful poll.
	body, err := lab.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var polled []string
	for _, set := range labMetrics(t, body).sets["meetnoc_snmp_target_info"] {
		polled = append(polled, fmt.Sprintf("meetnoc_snmp_up{target=%q} 1", set["target"]))
	}
	if err := lab.WaitFor(ctx, 20*time.Second, "/metrics", polled...); err != nil {
		t.Fatal(err)
	}
	if body, err = lab.Get(ctx, "/metrics"); err != nil {
		t.Fatal(err)
	}
	l := labMetrics(t, body)
	for _, r := range recordingRules(t) {
		l.types[r] = "recording"
	}
	for _, n := range nat64Metrics(t) {
		if _, ok := l.types[n]; !ok {
			l.types[n] = "gauge"
			if strings.HasSuffix(n, "_total") {
				l.types[n] = "counter"
			}
		}
	}

	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	var groups []group
	for _, d := range load(t) {
		legends := map[string]string{}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				legends[fmt.Sprint(p.ID, tg.RefID)] = tg.LegendFormat
			}
		}
		for pick, run := range []string{"all", "one value", "two values"} {
			vars := fill(t, d, l, lab.Addr, pick)
			for _, q := range d.Queries(vars) {
				if pick == 1 {
					for _, p := range checkAgainstLab(l, q, legends[fmt.Sprint(q.PanelID, q.RefID)]) {
						t.Error(p)
					}
				}
				groups = append(groups, group{
					Name:  fmt.Sprintf("%s / %s %s (%s) #%d", d.UID, q.Panel, q.RefID, run, len(groups)),
					Rules: []rule{{Record: fmt.Sprintf("dashboards:query_%d", len(groups)), Expr: q.Expr}},
				})
			}
			for _, v := range d.Variables {
				if sel, _, err := d.LabelValues(v, vars); err == nil && sel != "" {
					groups = append(groups, group{
						Name:  fmt.Sprintf("%s / variable %s (%s) #%d", d.UID, v.Name, run, len(groups)),
						Rules: []rule{{Record: fmt.Sprintf("dashboards:variable_%d", len(groups)), Expr: sel}},
					})
				}
			}
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "queries.rules.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Promtool(t), "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on every query: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte(fmt.Sprintf("SUCCESS: %d rules found", len(groups)))) {
		t.Errorf("promtool did not check %d queries:\n%s", len(groups), out)
	}
}
