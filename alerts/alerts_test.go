package alerts

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/internal/labrun"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The promtool test-file schema (Prometheus 2.42), as far as these tests read it.
type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

const runbookPrefix = "https://github.com/meetnoc/meetnoc/blob/main/docs/runbooks.md#"

// loadRules returns the rules by file.
func loadRules(t *testing.T) map[string][]Rule {
	t.Helper()
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Rule{}
	for _, r := range rules {
		out[r.File] = append(out[r.File], r)
	}
	return out
}

func loadTests(t *testing.T) map[string]testFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("tests", "*.test.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no tests/*.test.yml: %v", err)
	}
	out := map[string]testFile{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f testFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = f
	}
	return out
}

func TestRuleFiles(t *testing.T) {
	want := []string{"dns.rules.yml", "meetnoc.rules.yml", "snmp.rules.yml", "traffic.rules.yml", "wireless.rules.yml"}
	if got := RuleFiles(); !slices.Equal(got, want) {
		t.Errorf("RuleFiles() = %q, want %q", got, want)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.Promtool(t)
	for _, name := range RuleFiles() {
		out, err := exec.Command(promtool, "check", "rules", name).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", name, err, out)
		}
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := testenv.Promtool(t)
	for path, f := range loadTests(t) {
		if len(f.RuleFiles) == 0 {
			t.Errorf("%s: no rule_files", path)
		}
		for _, rf := range f.RuleFiles {
			if !slices.Contains(RuleFiles(), filepath.Base(rf)) || filepath.Dir(rf) != ".." {
				t.Errorf("%s: rule file %q is not one of ../%q", path, rf, RuleFiles())
			}
		}
		out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
		if err != nil {
			t.Errorf("promtool test rules %s: %v\n%s", path, err, out)
		}
	}
}

// slug is GitHub's anchor for a Markdown heading: lowercase, spaces to '-',
// punctuation other than '-' and '_' dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	sc := bufio.NewScanner(f)
	inCode := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if !inCode && (strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ")) {
			anchors[slug(strings.TrimLeft(line, "# "))] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"MeetnocAPDown":                 "meetnocapdown",
		"Conventions: uplinks, trunks":  "conventions-uplinks-trunks",
		"DNS64 (and NAT64) at 2 a.m.":   "dns64-and-nat64-at-2-am",
		"  MeetnocSNMPPollOverrun  ":    "meetnocsnmppolloverrun",
		"snake_case and kebab-case too": "snake_case-and-kebab-case-too",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAlertConventions(t *testing.T) {
	anchors := runbookAnchors(t)
	seen := map[string]string{}
	for file, rules := range loadRules(t) {
		for _, r := range rules {
			if r.Alert == "" {
				continue
			}
			where := file + ": " + r.Alert
			if prev, dup := seen[r.Alert]; dup {
				t.Errorf("%s: alert name also in %s", where, prev)
			}
			seen[r.Alert] = file
			if !strings.HasPrefix(r.Alert, "Meetnoc") {
				t.Errorf("%s: alert names start with Meetnoc (Alertmanager's inhibitions match on it)", where)
			}
			if r.For == nil || *r.For == "" {
				t.Errorf("%s: no for:", where)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", where, a)
				}
			}
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, runbookPrefix)
			switch {
			case !ok:
				t.Errorf("%s: runbook_url %q does not start with %s", where, url, runbookPrefix)
			case !anchors[anchor]:
				t.Errorf("%s: runbook_url anchor #%s is no heading of docs/runbooks.md", where, anchor)
			}
			if !strings.Contains(r.Annotations["summary"], "$labels.") {
				t.Errorf("%s: the summary names nothing from $labels", where)
			}
		}
	}
	if len(seen) < 30 {
		t.Errorf("%d alerts, want at least the 30 of issue 5", len(seen))
	}
}

var recordingName = regexp.MustCompile(`^[a-z][a-z0-9_]*:meetnoc_[a-z0-9_]+:[a-z0-9_]+$`)

func TestRecordingRuleNames(t *testing.T) {
	n := 0
	for file, rules := range loadRules(t) {
		for _, r := range rules {
			if r.Record == "" {
				continue
			}
			n++
			if !recordingName.MatchString(r.Record) {
				t.Errorf("%s: recording rule %q is not level:metric:operations", file, r.Record)
			}
		}
	}
	for _, want := range []string{"ssid:meetnoc_traffic_ipv6_bytes:ratio_rate5m", "ssid:meetnoc_traffic_ipv6_clients:ratio"} {
		found := false
		for _, rules := range loadRules(t) {
			for _, r := range rules {
				found = found || r.Record == want
			}
		}
		if !found {
			t.Errorf("no recording rule %s", want)
		}
	}
	if n == 0 {
		t.Error("no recording rules")
	}
}

// TestEveryRuleTested checks that every alert has a promtool case where it
// fires and one where it stays silent (an alert_rule_test with no
// exp_alerts), and that every recording rule is queried by a promql_expr_test.
func TestEveryRuleTested(t *testing.T) {
	firing, silent, queried := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var exprs []string
	for _, f := range loadTests(t) {
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) == 0 {
					silent[a.Alertname] = true
				} else {
					firing[a.Alertname] = true
				}
			}
			for _, e := range tc.PromQLExprTest {
				exprs = append(exprs, e.Expr)
			}
		}
	}
	for file, rules := range loadRules(t) {
		for _, r := range rules {
			switch {
			case r.Alert != "":
				if !firing[r.Alert] {
					t.Errorf("%s: %s has no test case where it fires", file, r.Alert)
				}
				if !silent[r.Alert] {
					t.Errorf("%s: %s has no test case where it stays silent", file, r.Alert)
				}
			case r.Record != "":
				for _, e := range exprs {
					queried[r.Record] = queried[r.Record] || regexp.MustCompile(`(^|[^a-z_:])`+regexp.QuoteMeta(r.Record)+`($|[^a-z0-9_:])`).MatchString(e)
				}
				if !queried[r.Record] {
					t.Errorf("%s: recording rule %s is in no promql_expr_test", file, r.Record)
				}
			}
		}
	}
}

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping label
// lists, keywords, numbers and function names are taken out.
func metricNames(expr string) []string {
	var names []string
	keywords := map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"inf": true, "nan": true,
		// aggregation operators, which may come before their by/without clause
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	}
	grouping := map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, closing byte) int { // index just past the closing byte, strings skipped
		for i < len(expr) && expr[i] != closing {
			if expr[i] == '"' || expr[i] == '\'' || expr[i] == '`' {
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '#':
			i = skipTo(i, '\n')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++ // a number or a duration: 0.67, 1e9, 15m
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			switch {
			case grouping[strings.ToLower(word)]:
				if k < len(expr) && expr[k] == '(' {
					k = skipTo(k+1, ')')
				}
				i = k
				continue
			case keywords[strings.ToLower(word)]:
			case k < len(expr) && expr[k] == '(':
				// a function call
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`sum without (family, direction) (increase(meetnoc_traffic_bytes_total{family="nat64",x=~"a}b"}[10m])) == 0
  and on (ssid) meetnoc_traffic_ipv6_active_clients >= 2e1
  and on (ssid) ssid:meetnoc_traffic_ipv6_clients:ratio offset 30m < 0.67 * up
  unless ignoring (le) histogram_quantile(0.9, rate(meetnoc_dns_probe_duration_seconds_bucket[5m]))`)
	want := []string{"meetnoc_traffic_bytes_total", "meetnoc_traffic_ipv6_active_clients", "ssid:meetnoc_traffic_ipv6_clients:ratio", "up", "meetnoc_dns_probe_duration_seconds_bucket"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

// eventOnly are metrics the rules read that a calm lab does not export, and why.
var eventOnly = map[string]string{
	"meetnoc_nat64_probe_success":      "only with a NAT64 to probe: the lab makes one in a network namespace, as root (labrun.Options.NAT64Netns)",
	"meetnoc_nat64_ipv4_probe_success": "only with a NAT64 to probe, as meetnoc_nat64_probe_success",
}

// TestMetricsExistInLab checks every metric a rule or an annotation's query
// reads against what the daemon exports while monitoring the lab in session
// hours: a misspelt metric would make an alert that can never fire.
func TestMetricsExistInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the lab")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := time.Date(2026, 3, 16, 10, 30, 0, 0, time.Local) // session I of a meeting day
	started := time.Now()
	l, err := labrun.Start(ctx, t.TempDir(), labrun.Options{Calm: true, Now: func() time.Time { return base.Add(time.Since(started)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.WaitWarm(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	body, err := l.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			exported[line[:i]] = true
		}
	}
	recorded := map[string]bool{}
	rules := loadRules(t)
	for _, rs := range rules {
		for _, r := range rs {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	queryMetric := regexp.MustCompile(`\bmeetnoc_[a-z0-9_]+|\b[a-z_]+:meetnoc_[a-z0-9_]+:[a-z0-9_]+`)
	for file, rs := range rules {
		for _, r := range rs {
			names := metricNames(r.Expr)
			if len(names) == 0 {
				t.Errorf("%s %s%s: no metric found in %q", file, r.Alert, r.Record, r.Expr)
			}
			for _, a := range r.Annotations {
				names = append(names, queryMetric.FindAllString(a, -1)...)
			}
			for _, n := range names {
				switch {
				case exported[n], recorded[n], n == "up", n == "ALERTS":
				case eventOnly[n] != "":
					t.Logf("%s %s%s: %s not in the lab's output: %s", file, r.Alert, r.Record, n, eventOnly[n])
				default:
					t.Errorf("%s %s%s: metric %s is not in the lab's output", file, r.Alert, r.Record, n)
				}
			}
		}
	}
}

// TestAlertmanagerExample validates alertmanager.example.yml with amtool,
// checks its routing, and checks that each inhibition names existing alerts
// and labels that both its source and target alerts carry (the labels of the
// promtool tests' expected alerts; job and instance come from the scrape).
func TestAlertmanagerExample(t *testing.T) {
	const file = "alertmanager.example.yml"
	amtool, err := testenv.LookPath("amtool")
	if err != nil {
		testenv.Missing(t, "amtool not found in PATH, /usr/sbin or /usr/bin: install it with `apt-get install prometheus-alertmanager`")
	}
	if out, err := exec.Command(amtool, "check-config", file).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	for severity, want := range map[string]string{"critical": "noc-pager,noc-chat", "warning": "noc-chat"} {
		out, err := exec.Command(amtool, "config", "routes", "test", "--config.file="+file,
			"severity="+severity, "alertname=MeetnocAPDown", "controller=wlc1", "ap=ietf-ap-07").Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("a %s alert goes to %q (%v), want %q", severity, got, err, want)
		}
	}

	labels := map[string]map[string]bool{} // alert → label names in the tests
	for _, f := range loadTests(t) {
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTest {
				for _, exp := range a.ExpAlerts {
					ls, _ := exp["exp_labels"].(map[string]any)
					if labels[a.Alertname] == nil {
						labels[a.Alertname] = map[string]bool{}
					}
					for k := range ls {
						labels[a.Alertname][k] = true
					}
				}
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	matcher := regexp.MustCompile(`^(\w+)(=~|!~|!=|=)"(.*)"$`)
	// matching returns the alerts whose names the alertname matchers select.
	matching := func(ms []string) []string {
		var out []string
	alerts:
		for name := range labels {
			for _, m := range ms {
				p := matcher.FindStringSubmatch(m)
				if p == nil {
					t.Fatalf("matcher %q: not label op \"value\"", m)
				}
				if p[1] != "alertname" {
					continue
				}
				re := regexp.MustCompile("^(?:" + p[3] + ")$")
				ok := map[string]bool{"=": name == p[3], "!=": name != p[3], "=~": re.MatchString(name), "!~": !re.MatchString(name)}[p[2]]
				if !ok {
					continue alerts
				}
			}
			out = append(out, name)
		}
		return out
	}
	if len(cfg.InhibitRules) == 0 {
		t.Fatal("no inhibit_rules")
	}
	for i, r := range cfg.InhibitRules {
		sources, targets := matching(r.SourceMatchers), matching(r.TargetMatchers)
		if len(sources) == 0 || len(targets) == 0 {
			t.Errorf("inhibit rule %d: sources %q, targets %q: a side matches no alert", i, sources, targets)
		}
		for _, l := range r.Equal {
			if l == "job" || l == "instance" {
				continue
			}
			for _, a := range append(sources, targets...) {
				if !labels[a][l] {
					t.Errorf("inhibit rule %d: %s has no label %s to be equal on", i, a, l)
				}
			}
		}
	}
	for _, must := range []struct{ source, target, equal string }{
		{"MeetnocControllerDown", "MeetnocAPDown", "controller"},
		{"MeetnocSNMPTargetDown", "MeetnocInterfaceErrors", "target"},
		{"MeetnocDown", "MeetnocDNSResolverFailing", "instance"},
	} {
		found := false
		for _, r := range cfg.InhibitRules {
			found = found || slices.Contains(matching(r.SourceMatchers), must.source) &&
				slices.Contains(matching(r.TargetMatchers), must.target) && slices.Contains(r.Equal, must.equal)
		}
		if !found {
			t.Errorf("no inhibition of %s by %s on equal %s", must.target, must.source, must.equal)
		}
	}
}
