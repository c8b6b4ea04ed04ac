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
	return startPrometheus(t, config, "")
}

// StartPrometheusOn is StartPrometheus on an existing TSDB directory, e.g. blocks
// made by `promtool tsdb create-blocks-from openmetrics`. Retention is unlimited
// in practice (100 years), so that history from a past date is kept, not deleted
// at start-up.
func StartPrometheusOn(t testing.TB, config, dataDir string) *Prometheus {
	t.Helper()
	return startPrometheus(t, config, dataDir)
}

func startPrometheus(t testing.TB, config, dataDir string) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus")[0]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config.file=" + filepath.Join(dir, "prometheus.yml")}
	if dataDir == "" {
		args = append(args, "--storage.tsdb.path="+filepath.Join(dir, "data"))
	} else {
		args = append(args, "--storage.tsdb.path="+dataDir, "--storage.tsdb.retention.time=100y")
	}
	port := FreeTCPPort(t)
	out := &SyncBuffer{}
	p, err := startProcess("prometheus", out, bin, append(args,
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--log.level=warn")...)
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
	series, err := p.Series(q)
	if err != nil || len(series) != 1 {
		return 0, false, err
	}
	return series[0].Value, true, nil
}

// Alert is one entry of Prometheus's /api/v1/alerts.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending or firing
	ActiveAt    time.Time         `json:"activeAt"`
}

// Name is the alert's alertname.
func (a Alert) Name() string { return a.Labels["alertname"] }

// Alerts returns the alerts that are pending or firing now.
func (p *Prometheus) Alerts() ([]Alert, error) {
	var data struct{ Alerts []Alert }
	if err := p.api("/api/v1/alerts", &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// Series runs an instant query and returns its result's series: labels and
// value. A query that is not an instant vector is an error.
func (p *Prometheus) Series(q string) ([]Sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.api("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: a %s, not a vector", q, data.ResultType)
	}
	out := make([]Sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", q, s, err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Sample is one series of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// LabelValues returns the values of a label over the series matching match
// (a series selector), as Grafana's label_values(match, label) does.
func (p *Prometheus) LabelValues(match, label string) ([]string, error) {
	var values []string
	err := p.api("/api/v1/label/"+url.PathEscape(label)+"/values?match[]="+url.QueryEscape(match), &values)
	return values, err
}

// api GETs a Prometheus HTTP API path and decodes its data into data.
func (p *Prometheus) api(path string, data any) error {
	resp, err := http.Get(p.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s", body.Error)
	}
	return json.Unmarshal(body.Data, data)
}
