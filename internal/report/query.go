package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/common/model"
)

// maxConcurrentQueries bounds the queries in flight: enough to overlap
// Prometheus's work with the transfers, few enough not to load a production
// server that is also scraping and evaluating rules.
const maxConcurrentQueries = 4

// querier runs PromQL against one Prometheus's HTTP API and names the query
// and the server in every error, so that a failed report says what to look at.
// It decodes the API's JSON itself into prometheus/common/model's types:
// client_golang's api/prometheus/v1 would bring json-iterator into the module
// for three endpoints.
type querier struct {
	client api.Client
	url    string
	sem    chan struct{}
}

func (q *querier) acquire(ctx context.Context) error {
	select {
	case q.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (q *querier) release() { <-q.sem }

// vector runs an instant query at ts whose result is an instant vector.
func (q *querier) vector(ctx context.Context, query string, ts time.Time) (model.Vector, error) {
	var vec model.Vector
	err := q.query(ctx, "/api/v1/query", query, url.Values{"time": {formatTime(ts)}}, model.ValVector, &vec)
	if err != nil {
		return nil, fmt.Errorf("query %s at %s: %w", query, q.url, err)
	}
	return vec, nil
}

// samples runs an instant query of a range selector (metric[range]) at ts: the
// raw samples, with their own timestamps.
func (q *querier) samples(ctx context.Context, query string, ts time.Time) (model.Matrix, error) {
	var m model.Matrix
	err := q.query(ctx, "/api/v1/query", query, url.Values{"time": {formatTime(ts)}}, model.ValMatrix, &m)
	if err != nil {
		return nil, fmt.Errorf("query %s at %s: %w", query, q.url, err)
	}
	return m, nil
}

// matrix runs a range query from start to end (both included) at step.
func (q *querier) matrix(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	var m model.Matrix
	err := q.query(ctx, "/api/v1/query_range", query, url.Values{
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}, model.ValMatrix, &m)
	if err != nil {
		return nil, fmt.Errorf("query_range %s at %s: %w", query, q.url, err)
	}
	return m, nil
}

// query POSTs a query (a form, as Prometheus accepts for long queries) and
// decodes a result of the type want into result.
func (q *querier) query(ctx context.Context, endpoint, query string, form url.Values, want model.ValueType, result any) error {
	form.Set("query", query)
	var data struct {
		ResultType model.ValueType `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := q.call(ctx, http.MethodPost, endpoint, form, &data); err != nil {
		return err
	}
	if data.ResultType != want {
		return fmt.Errorf("a %s, not a %s", data.ResultType, want)
	}
	return json.Unmarshal(data.Result, result)
}

// call makes one API request and decodes its data, or returns Prometheus's
// error.
func (q *querier) call(ctx context.Context, method, endpoint string, params url.Values, data any) error {
	if err := q.acquire(ctx); err != nil {
		return err
	}
	defer q.release()
	u := q.client.URL(endpoint, nil)
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else {
		u.RawQuery = params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, raw, err := q.client.Do(ctx, req)
	if err != nil {
		return err
	}
	var envelope struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("HTTP %s: not a Prometheus API answer: %w", resp.Status, err)
	}
	if envelope.Status != "success" {
		return fmt.Errorf("%s: %s", envelope.ErrorType, envelope.Error)
	}
	return json.Unmarshal(envelope.Data, data)
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// chooseStep is the resolution at which a range of length r is queried in
// about points points: never finer than 15 s (the usual scrape interval), in
// whole 15 s below a minute and in whole minutes above, so that step times are
// round.
func chooseStep(r time.Duration, points int) time.Duration {
	s := (r + time.Duration(points) - 1) / time.Duration(points)
	switch {
	case s <= 15*time.Second:
		return 15 * time.Second
	case s <= time.Minute:
		return roundUp(s, 15*time.Second)
	default:
		return roundUp(s, time.Minute)
	}
}

func roundUp(d, unit time.Duration) time.Duration {
	return (d + unit - 1) / unit * unit
}

// promDuration writes d as a PromQL duration, in milliseconds unless whole
// seconds.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// sampleNumber is a result value, or nil when PromQL's answer is not a number
// (a ratio of zeros).
func sampleNumber(v model.SampleValue) *float64 {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func floatPtr(f float64) *float64 { return &f }

// shareOf is a/b, nil when b is zero (nothing to divide: not measured, not 0).
func shareOf(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	return floatPtr(a / b)
}

// peak is the largest value of a step series and the time it was first
// reached; ok is false for a series without values.
type peak struct {
	value float64
	at    time.Time
	ok    bool
}

func (p *peak) add(v float64, at time.Time) {
	if !p.ok || v > p.value {
		*p = peak{value: v, at: at, ok: true}
	}
}

func (p peak) number() *float64 {
	if !p.ok {
		return nil
	}
	return floatPtr(p.value)
}

// sumByTime adds up the series of a matrix at each timestamp, as PromQL's sum
// without labels would: a timestamp where no series has a value has none.
func sumByTime(streams []*model.SampleStream) []model.SamplePair {
	sums := map[model.Time]model.SampleValue{}
	for _, s := range streams {
		for _, p := range s.Values {
			sums[p.Timestamp] += p.Value
		}
	}
	out := make([]model.SamplePair, 0, len(sums))
	for t, v := range sums {
		out = append(out, model.SamplePair{Timestamp: t, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out
}

func keysSorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
