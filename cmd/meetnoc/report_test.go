package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-03-14T08:00:00+01:00": time.Date(2026, 3, 14, 7, 0, 0, 0, time.UTC),
		"2026-03-14T07:00:00Z":      time.Date(2026, 3, 14, 7, 0, 0, 0, time.UTC),
		"1773471600":                time.Date(2026, 3, 14, 7, 0, 0, 0, time.UTC),
		"1773471600.5":              time.Date(2026, 3, 14, 7, 0, 0, 5e8, time.UTC),
	} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-03-14", "14/03/2026 08:00"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

// An unreachable Prometheus: exit 1, a message naming the URL and the query,
// and nothing at --out.
func TestReportPrometheusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nobody listens there now
	out := filepath.Join(t.TempDir(), "report")
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", "--prometheus.url=" + url, "--from=2026-03-14T08:00:00Z", "--to=2026-03-20T18:00:00Z", "--out=" + out}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, url) || !strings.Contains(msg, "meetnoc_") {
		t.Errorf("the error names neither the URL %s nor the query:\n%s", url, msg)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--out exists after a failure: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestReportBadArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from=soon", "--to=2026-03-20T18:00:00Z"}, "--from"},
		{[]string{"--from=2026-03-20T18:00:00Z", "--to=2026-03-14T08:00:00Z"}, "is not after"},
		{[]string{"--from=1773471600", "--to=1773990000", "--timezone=Mars/Olympus"}, "--timezone"},
		{[]string{"--from=1773471600", "--to=1773990000", "--previous=/no/such/report.json"}, "--previous"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"report", "--prometheus.url=http://127.0.0.1:1", "--out=" + t.TempDir() + "/r"}, c.args...)
		if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// The command end to end: a real Prometheus scrapes a stand-in for meetnoc
// (fixed counters and gauges, the traffic growing between scrapes), then
// `meetnoc report` writes the three files, and a second run with --previous
// compares its headline figures with the first's.
func TestReportCommand(t *testing.T) {
	var scrapes atomic.Int64
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := float64(scrapes.Add(1))
		fmt.Fprintf(w, "meetnoc_build_info{version=\"test\"} 1\n")
		for _, s := range []struct {
			ssid, family string
			share        float64
		}{{"ietf", "ipv6", 0.6}, {"ietf", "nat64", 0.3}, {"ietf", "ipv4", 0.1}} {
			for _, dir := range []string{"up", "down"} {
				fmt.Fprintf(w, "meetnoc_traffic_bytes_total{ssid=%q,family=%q,direction=%q} %g\n", s.ssid, s.family, dir, n*1e6*s.share)
			}
		}
		fmt.Fprintf(w, "meetnoc_ssid_clients{controller=\"wlc1\",ssid=\"ietf\"} 120\n")
		fmt.Fprintf(w, "meetnoc_ap_up{controller=\"wlc1\",ap=\"ap-01\"} 1\n")
	}))
	defer exporter.Close()
	prom := testenv.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: meetnoc
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(exporter.URL, "http://")))
	from := time.Now()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if v, ok, _ := prom.Query(`count_over_time(meetnoc_build_info[1m])`); ok && v >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the stand-in 5 times within 20 s")
		}
	}
	to := time.Now()

	dir := t.TempDir()
	report := func(out string, extra ...string) map[string]any {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"report", "--prometheus.url=" + prom.URL, "--title=IETF test",
			"--from=" + from.Format(time.RFC3339Nano), fmt.Sprintf("--to=%d", to.Unix()+1), "--out=" + out, "--timezone=UTC"}, extra...)
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("meetnoc report exited %d:\n%s", code, stderr.String())
		}
		for _, f := range []string{"report.html", "report.md", "report.json"} {
			if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %v", f, err)
			}
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var j map[string]any
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	first := report(filepath.Join(dir, "first"))
	// The stand-in's traffic is 90 % IPv6 on the client side (NAT64 included).
	if share, ok := first["ipv6_bytes_share"].(float64); !ok || share < 0.899 || share > 0.901 {
		t.Errorf("ipv6_bytes_share %v, want 0.9", first["ipv6_bytes_share"])
	}
	second := report(filepath.Join(dir, "second"), "--previous="+filepath.Join(dir, "first", "report.json"))
	changes, _ := second["changes"].([]any)
	found := false
	for _, c := range changes {
		c := c.(map[string]any)
		if c["figure"] == "overall.ipv6_bytes_share" && c["previous"] != nil && c["delta"] != nil {
			found = true
		}
	}
	if !found {
		t.Errorf("no change of overall.ipv6_bytes_share in the --previous run: %v", changes)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "second", "report.html"))
	if !strings.Contains(string(html), "IETF test") {
		t.Error("report.html lacks the title")
	}
}
