package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
