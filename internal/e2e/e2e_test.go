// Package e2e tests what the NOC sees end to end: the lab, the daemon
// monitoring it, and Debian's Prometheus scraping the daemon with the shipped
// alert rules; every dashboard query against that Prometheus; and the lab
// broken in turn, with the right alerts going pending, firing and clearing.
package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/alerts"
	"github.com/meetnoc/meetnoc/dashboards"
	"github.com/meetnoc/meetnoc/internal/lab"
	"github.com/meetnoc/meetnoc/internal/labrun"
	"github.com/meetnoc/meetnoc/internal/report"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// testFor is the `for:` every alert gets here. The shipped values (minutes)
// are tested by promtool's rule tests; here they would only make the test
// wait. Long enough that an alert is seen pending before it fires.
const testFor = 6 * time.Second

// rulesFor writes the shipped rule files into dir with every `for:` longer
// than testFor cut to it, and returns their paths and which alerts have a
// `for:` at all (those are seen pending before they fire).
func rulesFor(t *testing.T, dir string) (paths []string, waits map[string]bool) {
	t.Helper()
	waits = map[string]bool{}
	for _, name := range alerts.RuleFiles() {
		b, err := alerts.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []map[string]any `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range doc.Groups {
			rules, _ := g["rules"].([]any)
			for _, r := range rules {
				rule := r.(map[string]any)
				f, _ := rule["for"].(string)
				d, err := model.ParseDuration(f)
				if name, ok := rule["alert"].(string); ok && err == nil {
					waits[name] = d > 0
				}
				if time.Duration(d) > testFor {
					rule["for"] = testFor.String()
				}
			}
		}
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	if len(paths) == 0 {
		t.Fatal("no rule files in package alerts")
	}
	return paths, waits
}

// noc is the running lab, daemon and Prometheus.
type noc struct {
	lab   *labrun.Lab
	prom  *testenv.Prometheus
	waits map[string]bool // alerts with a `for:`, seen pending before firing
	start time.Time       // before the lab started: the report's --from
}

func startNOC(t *testing.T) *noc {
	start := time.Now()
	t.Helper()
	testenv.Require(t, "prometheus")
	// 10:30 on a meeting day, in session: the rooms are full.
	base := time.Date(2026, 3, 16, 10, 30, 0, 0, time.Local)
	started := time.Now()
	// Polls every 2 s, with a timeout (500 ms, one retry) that cannot make a
	// poll of a dead agent overrun its interval, as the shipped 30 s and 5 s
	// cannot either.
	opts := labrun.Options{Calm: true, Now: func() time.Time { return base.Add(time.Since(started)) },
		Interval: 2 * time.Second, Timeout: 500 * time.Millisecond}
	if lab.NAT64Available() == nil {
		opts.NAT64Netns = fmt.Sprintf("meetnoc-test-e2e-%d", os.Getpid())
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("the lab's NAT64 is needed for the NAT64 alerts: %v", lab.NAT64Available())
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, err := labrun.Start(ctx, t.TempDir(), opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := l.WaitWarm(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	rules, waits := rulesFor(t, t.TempDir())
	prom := testenv.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [%s]
scrape_configs:
  - job_name: meetnoc
    static_configs: [{targets: [%q]}]
`, strings.Join(quoteAll(rules), ", "), l.Addr))
	n := &noc{lab: l, prom: prom, waits: waits, start: start}
	n.waitQuery(t, 30*time.Second, `up{job="meetnoc"} == 1`)
	return n
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// waitQuery waits until q returns at least one series.
func (n *noc) waitQuery(t *testing.T, limit time.Duration, q string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s, err := n.prom.Series(q)
		if err == nil && len(s) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s returned nothing within %s (%v)", q, limit, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// active returns the alerts pending or firing now, by name.
func (n *noc) active(t *testing.T) map[string][]testenv.Alert {
	t.Helper()
	as, err := n.prom.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]testenv.Alert{}
	for _, a := range as {
		out[a.Name()] = append(out[a.Name()], a)
	}
	return out
}

// describe lists alerts for a failure message.
func describe(m map[string][]testenv.Alert) string {
	var lines []string
	for name, as := range m {
		for _, a := range as {
			lines = append(lines, fmt.Sprintf("%s %s %v", name, a.State, a.Labels))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// expectAlert waits until the alert named name, with labels including want,
// fires (seen pending first, if it has a `for:`), and returns it.
func (n *noc) expectAlert(t *testing.T, limit time.Duration, name string, want map[string]string) testenv.Alert {
	t.Helper()
	deadline := time.Now().Add(limit)
	sawPending := false
	for {
		for _, a := range n.active(t)[name] {
			if !hasLabels(a.Labels, want) {
				continue
			}
			switch a.State {
			case "pending":
				sawPending = true
			case "firing":
				if !sawPending && n.waits[name] {
					t.Errorf("%s %v fired without being seen pending first (for: %s)", name, want, testFor)
				}
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %v not firing within %s; active:\n%s", name, want, limit, describe(n.active(t)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// expectClear waits until no alert named name with labels including want is
// pending or firing.
func (n *noc) expectClear(t *testing.T, limit time.Duration, name string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		still := false
		for _, a := range n.active(t)[name] {
			still = still || hasLabels(a.Labels, want)
		}
		if !still {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %v still active %s after the lab healed; active:\n%s", name, want, limit, describe(n.active(t)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// TestNOC is one lab, one daemon and one Prometheus for every step: starting
// them is most of the cost, and the steps run in the order a NOC lives them.
func TestNOC(t *testing.T) {
	n := startNOC(t)
	// Rates need two scrapes, the rules a few evaluations on top.
	time.Sleep(5 * time.Second)

	t.Run("dashboards", func(t *testing.T) { checkDashboards(t, n.prom) })
	t.Run("healthy", func(t *testing.T) { checkHealthy(t, n) })
	if t.Failed() {
		return
	}
	t.Run("faults", func(t *testing.T) { checkFaults(t, n) })
	// Last: the report over everything above, healthy stretch and faults.
	t.Run("report", func(t *testing.T) { checkReport(t, n) })
}

// checkHealthy: a calm lab in session fires no alert, over a window long
// enough for any alert to get from pending to firing.
func checkHealthy(t *testing.T, n *noc) {
	deadline := time.Now().Add(testFor + 5*time.Second)
	for time.Now().Before(deadline) {
		if active := n.active(t); len(active) > 0 {
			t.Fatalf("alerts active on the healthy lab:\n%s", describe(active))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// dashboardQueries returns every query of every dashboard, its template
// variables filled in as Grafana would on opening it: each variable's first
// value among those Prometheus has, in the order the dashboard defines them.
func dashboardQueries(t *testing.T, prom *testenv.Prometheus) []dashboards.Query {
	t.Helper()
	ds, err := dashboards.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Scrapes here are every second: Grafana's $__rate_interval would be
	// four of them.
	builtins := dashboards.Builtins{RateInterval: 5 * time.Second, Interval: time.Second, Range: time.Minute}
	var out []dashboards.Query
	for _, d := range ds {
		vars := map[string][]string{}
		for _, v := range d.Variables {
			if v.Type != "query" {
				continue
			}
			match, label, err := d.LabelValues(v, vars)
			if err != nil {
				t.Errorf("%s: %v", d.Title, err)
				continue
			}
			if match == "" {
				match = `{__name__=~".+"}`
			}
			values, err := prom.LabelValues(match, label)
			if err != nil || len(values) == 0 {
				t.Errorf("%s: variable %s, label_values(%s, %s): %d values, %v", d.Title, v.Name, match, label, len(values), err)
				continue
			}
			slices.Sort(values)
			vars[v.Name] = values[:1]
		}
		out = append(out, d.QueriesWith(vars, builtins)...)
	}
	return out
}

// showsAlerts: a query of the firing alerts, empty while nothing fires.
func showsAlerts(q dashboards.Query) bool { return strings.Contains(q.Expr, "ALERTS") }

// checkDashboards runs every dashboard query and requires data from each,
// but for the list of firing alerts, which checkFaults checks while one
// fires.
func checkDashboards(t *testing.T, prom *testenv.Prometheus) {
	qs := dashboardQueries(t, prom)
	if len(qs) < 50 {
		t.Errorf("only %d dashboard queries", len(qs))
	}
	for _, q := range qs {
		series, err := prom.Series(q.Expr)
		switch {
		case err != nil:
			t.Errorf("%s / %s: %v", q.Dashboard, q.Panel, err)
		case len(series) == 0 && !showsAlerts(q):
			t.Errorf("%s / %s: no data for %s", q.Dashboard, q.Panel, q.Expr)
		}
	}
}

// fault is one way the lab breaks: what the NOC must be told, and nothing
// else.
type fault struct {
	name         string
	break_, heal func() error
	// alert is the alert that must go pending, then fire, with labels
	// including labels; also lists every other alert allowed to be active
	// meanwhile (consequences of the same fault).
	alert  string
	labels map[string]string
	also   []string
	nat64  bool // needs the lab's NAT64
}

// checkFaults breaks the lab one way at a time: the fault's alert goes
// pending and fires, no unrelated alert fires, the dashboards' alert list
// shows it, and everything clears when the lab heals.
func checkFaults(t *testing.T, n *noc) {
	network := n.lab.Network
	faults := []fault{{
		name:   "AP down",
		break_: func() error { return network.SetAPDown("ietf-ap-05", true) },
		heal:   func() error { return network.SetAPDown("ietf-ap-05", false) },
		alert:  "MeetnocAPDown", labels: map[string]string{"ap": "ietf-ap-05", "controller": "wlc1", "severity": "warning"},
	}, {
		name:   "switch down",
		break_: func() error { network.Faults("access2").SetDrop(true); return nil },
		heal:   func() error { network.Faults("access2").SetDrop(false); return nil },
		alert:  "MeetnocSNMPTargetDown", labels: map[string]string{"target": "access2"},
	}, {
		name:   "DNS64 not synthesizing",
		break_: func() error { network.SetDNSFault(lab.DNSNoSynthesis); return nil },
		heal:   func() error { network.SetDNSFault(lab.DNSScheduled); return nil },
		alert:  "MeetnocDNS64NotSynthesizing", labels: map[string]string{"resolver": "lab-dns64"},
		also: []string{"MeetnocDNSCheckFailing"},
	}, {
		name:   "DNS64 wrong prefix",
		break_: func() error { network.SetDNSFault(lab.DNSWrongPrefix); return nil },
		heal:   func() error { network.SetDNSFault(lab.DNSScheduled); return nil },
		alert:  "MeetnocDNS64WrongPrefix", labels: map[string]string{"resolver": "lab-dns64", "prefix": "64:ff9b:1::/96"},
		also: []string{"MeetnocDNSCheckFailing"},
	}, {
		name:   "rogue RA",
		break_: func() error { network.SetRogueRA(true); return nil },
		heal:   func() error { network.SetRogueRA(false); return nil },
		alert:  "MeetnocRogueRouterAdvertisement", labels: map[string]string{"ssid": "ietf-dual-stack", "severity": "critical"},
	}, {
		name:   "NAT64 stopped",
		break_: func() error { network.SetNAT64Fault(lab.NAT64Stopped); return nil },
		heal:   func() error { network.SetNAT64Fault(lab.NAT64Scheduled); return nil },
		alert:  "MeetnocNAT64Failing", labels: map[string]string{"target": "www-v4only"},
		nat64: true,
	}}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			if f.nat64 && network.NAT64Netns() == "" {
				testenv.Missing(t, "the lab has no NAT64 here: %v", lab.NAT64Available())
			}
			if err := f.break_(); err != nil {
				t.Fatal(err)
			}
			healed := false
			defer func() {
				if !healed {
					f.heal()
				}
			}()
			a := n.expectAlert(t, 60*time.Second, f.alert, f.labels)
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if a.Annotations[k] == "" {
					t.Errorf("%s fired without %s", f.alert, k)
				}
			}
			allowed := append([]string{f.alert}, f.also...)
			for name, as := range n.active(t) {
				if !slices.Contains(allowed, name) {
					t.Errorf("%s also made %s active: %v", f.name, name, as[0].Labels)
				}
			}
			// The overview's list of firing alerts shows it.
			shown := false
			for _, q := range dashboardQueries(t, n.prom) {
				if !showsAlerts(q) {
					continue
				}
				series, err := n.prom.Series(q.Expr)
				if err != nil {
					t.Errorf("%s / %s: %v", q.Dashboard, q.Panel, err)
				}
				shown = shown || len(series) > 0
			}
			if !shown {
				t.Errorf("no dashboard panel of firing alerts shows %s", f.alert)
			}
			if err := f.heal(); err != nil {
				t.Fatal(err)
			}
			healed = true
			for _, name := range allowed {
				n.expectClear(t, 150*time.Second, name, nil)
			}
		})
	}
}

// checkReport makes the post-meeting report over the test's own "meeting" and
// checks its figures against the lab's configured mix (internal/lab's
// wlanMix: ietf 55 % IPv6, 40 % NAT64, 5 % IPv4, 80 % of DISCOVERs asking for
// option 108 and granted it; ietf-dual-stack 60 % IPv6, 70 % asking; eduroam
// 58 % IPv6, 60 % asking) and against what the faults did.
func checkReport(t *testing.T, n *noc) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := report.Collect(ctx, report.Options{
		URL: n.prom.URL, From: n.start, To: time.Now(), Title: "meetnoc lab", Location: time.Local,
	})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got *float64, want, tol float64) {
		t.Helper()
		if got == nil || *got < want-tol || *got > want+tol {
			t.Errorf("%s = %s, want %.2f ± %.2f", what, show(got), want, tol)
		}
	}
	ssid := map[string]report.SSIDFigures{}
	for _, s := range r.SSIDs {
		ssid[s.SSID] = s
	}
	for _, c := range []struct {
		name                  string
		v6, internet, request float64
		offer                 float64
	}{
		{"ietf", 0.95, 0.55, 0.8, 0.8},
		{"ietf-dual-stack", 0.60, 0.60, 0.7, 0},
		{"eduroam", 0.58, 0.58, 0.6, 0},
	} {
		s, ok := ssid[c.name]
		if !ok {
			t.Errorf("no figures for SSID %s (have %v)", c.name, r.SSIDs)
			continue
		}
		near(c.name+" IPv6 share of bytes", s.IPv6BytesShare, c.v6, 0.06)
		near(c.name+" IPv6 share, Internet side", s.IPv6BytesShareInternet, c.internet, 0.06)
		// DISCOVERs are few in minutes of a session, and each sampled one
		// counts for the sampling rate: the tolerance is three standard
		// deviations of a binomial share of the samples.
		if s.DHCPDiscovers == nil || *s.DHCPDiscovers < 1 {
			t.Errorf("%s: DISCOVERs %s, want some", c.name, show(s.DHCPDiscovers))
		} else {
			near(c.name+" option 108 requests", s.Option108RequestShare, c.request, binomialTol(c.request, *s.DHCPDiscovers/lab.DefaultSFlowSampling))
		}
		if s.DHCPOffers != nil && *s.DHCPOffers >= 1 {
			near(c.name+" option 108 offers", s.Option108OfferShare, c.offer, binomialTol(c.offer, *s.DHCPOffers/lab.DefaultSFlowSampling))
		}
		for what, v := range map[string]*float64{"peak clients": s.PeakClients, "unique clients": s.UniqueClients, "peak down": s.PeakDownBitsPerSecond} {
			if v == nil || *v <= 0 {
				t.Errorf("%s %s = %s, want some", c.name, what, show(v))
			}
		}
	}
	near("ietf NAT64 share of IPv6", ssid["ietf"].NAT64Share, 40.0/95, 0.06)
	if r.IPv6BytesShare == nil || r.Overall.IPv6BytesShare == nil || *r.IPv6BytesShare != *r.Overall.IPv6BytesShare {
		t.Errorf("top-level ipv6_bytes_share %s, overall %s", show(r.IPv6BytesShare), show(r.Overall.IPv6BytesShare))
	}
	if len(r.Gaps) > 0 || len(r.Absent) > 0 {
		t.Errorf("gaps %v, absent %v: the daemon ran throughout with every source", r.Gaps, r.Absent)
	}

	// What the faults did shows in the health section.
	h := r.Health
	if h.APAvailability == nil || *h.APAvailability >= 1 || *h.APAvailability < 0.9 {
		t.Errorf("AP availability %s: ietf-ap-05 was down for seconds", show(h.APAvailability))
	}
	if !hasIncident(h.RogueRA, "ietf-dual-stack") {
		t.Errorf("no rogue RA incident on ietf-dual-stack: %v", h.RogueRA)
	}
	fired := map[string]bool{}
	for _, a := range h.Alerts {
		fired[a.Name] = true
	}
	for _, want := range []string{"MeetnocAPDown", "MeetnocSNMPTargetDown", "MeetnocRogueRouterAdvertisement", "MeetnocDNS64NotSynthesizing"} {
		if !fired[want] {
			t.Errorf("alert timeline lacks %s: %v", want, h.Alerts)
		}
	}
	for _, a := range h.SNMPTargets {
		if a.Name == "access2" && (a.Availability == nil || *a.Availability >= 1) {
			t.Errorf("access2 availability %s: its agent was stopped", show(a.Availability))
		}
	}

	// MEETNOC_E2E_REPORT keeps the report to look at (a directory to write).
	out := os.Getenv("MEETNOC_E2E_REPORT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "report")
	}
	if err := report.WriteDir(out, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Files {
		if fi, err := os.Stat(filepath.Join(out, f.Name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}

// binomialTol is three standard deviations of the share of n trials that
// succeed with probability p (at least one trial), plus 0.02.
func binomialTol(p, n float64) float64 { return 3*math.Sqrt(p*(1-p)/max(n, 1)) + 0.02 }

func hasIncident(is []report.Incident, ssid string) bool {
	for _, i := range is {
		if i.SSID == ssid && i.Packets > 0 {
			return true
		}
	}
	return false
}

func show(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%.3f", *v)
}
