package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Prometheus is a Prometheus server (Debian's prometheus package) started for a test.
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL  string
	proc *process
}

// StartPrometheus runs prometheus with the given configuration (prometheus.yml text)
// on a random loopback port and a temporary TSDB, waits until it is ready, and stops
// it at the end of the test.
func StartPrometheus(t testing.TB, config string) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus")[0]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreeTCPPort(t)
	out := &SyncBuffer{}
	p, err := startProcess("prometheus", out, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--log.level=warn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	logOnFailure(t, "prometheus", out)
	prom := &Prometheus{URL: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("prometheus exited: %v\n%s", p.err, out.String())
		}
		if resp, err := http.Get(prom.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return prom
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 20 s\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Query runs an instant PromQL query whose result is a single number; ok is false
// for an error, an empty result or more than one series.
func (p *Prometheus) Query(q string) (value float64, ok bool, err error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	if body.Status != "success" {
		return 0, false, fmt.Errorf("query %q: %s", q, body.Error)
	}
	if len(body.Data.Result) != 1 {
		return 0, false, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil, err
}
