package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics with the given Accept-Encoding ("" leaves Go's
// transport to ask for gzip and decode it itself) and returns the raw body.
func scrape(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp, body
}

// families parses a text exposition into canonical text per family: HELP,
// TYPE, and the series sorted. Families whose values move between two scrapes
// of an idle daemon (Go runtime, process, the handler's own counters) keep
// only their series' names and labels.
func families(t *testing.T, text []byte) map[string]string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]string{}
	for name, mf := range mfs {
		volatile := strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_")
		var lines []string
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&b, "%s=%q,", l.GetName(), l.GetValue())
			}
			if !volatile {
				fmt.Fprintf(&b, " %v", value(m))
			}
			lines = append(lines, b.String())
		}
		slices.Sort(lines)
		out[name] = fmt.Sprintf("# HELP %s\n# TYPE %s\n%s", mf.GetHelp(), mf.GetType(), strings.Join(lines, "\n"))
	}
	return out
}

func value(m *dto.Metric) any {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Summary != nil:
		return m.GetSummary().String()
	case m.Histogram != nil:
		return m.GetHistogram().String()
	}
	return nil
}

// /metrics says the same with and without gzip, and its gzip is one member
// that compress/gzip reads raw, as Prometheus and curl --compressed read it.
// The daemon is not running: its targets are polled once by hand, so that
// the SNMP series stand still between the scrapes.
func TestMetricsWithAndWithoutGzip(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := New(Options{ConfigFile: labConfig(t, ctx), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range d.snmp.Status() {
		if err := d.snmp.Poll(ctx, st.Name); err != nil {
			t.Fatalf("polling %s: %v", st.Name, err)
		}
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)

	resp, raw := scrape(t, srv.URL, "gzip")
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q with Accept-Encoding: gzip", ce)
	}
	br := bytes.NewReader(raw) // an io.ByteReader: gzip reads no further than it must
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	zr.Multistream(false) // one member, not several concatenated
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	if br.Len() > 0 {
		t.Errorf("%d bytes after the first gzip member", br.Len())
	}
	if len(raw) > len(unzipped)/4 {
		t.Errorf("gzip body of %d bytes for %d bytes of text: not compressed?", len(raw), len(unzipped))
	}

	resp, plain := scrape(t, srv.URL, "identity")
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding %q with Accept-Encoding: identity", ce)
	}
	_, auto := scrape(t, srv.URL, "") // Go's transport: gzip, decoded for us

	want := families(t, plain)
	for what, body := range map[string][]byte{"gzip": unzipped, "transparent gzip": auto} {
		got := families(t, body)
		for name := range want {
			if got[name] != want[name] {
				t.Errorf("%s: family %s differs:\n%s\nwithout gzip:\n%s", what, name, got[name], want[name])
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: family %s only with gzip", what, name)
			}
		}
	}
	for _, name := range []string{"meetnoc_build_info", "meetnoc_snmp_up", "meetnoc_interface_receive_bytes_total", "meetnoc_ap_up", "go_goroutines", "promhttp_metric_handler_requests_total"} {
		if want[name] == "" {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(want["meetnoc_snmp_up"], `target="core1", 1`) {
		t.Errorf("core1 not up:\n%s", want["meetnoc_snmp_up"])
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate, br": true, "deflate, GZIP;q=0.5": true, "*": true,
		"": false, "identity": false, "gzip;q=0": false, "br, gzip; q=0.0": false, "x-gzip2": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
