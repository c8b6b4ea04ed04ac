package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/common/model"
)

// Options says which Prometheus and which stretch of time a report covers.
type Options struct {
	URL      string // Prometheus's base URL
	From, To time.Time
	Title    string
	// Location is the venue's time zone, in which days and hours of day are
	// counted; nil means the local one.
	Location *time.Location
	// Client makes the HTTP requests; nil means a default client.
	Client *http.Client
	// Progress, if set, is called after each group of queries finishes, from
	// one goroutine at a time.
	Progress func(done, total int, what string)
}

// The metrics the report reads (DESIGN.md; the daily client gauges come from
// collectors/traffic).
const (
	metricBytes         = "meetnoc_traffic_bytes_total"
	metricDailyActive   = "meetnoc_traffic_daily_active_clients"
	metricDailyIPv6     = "meetnoc_traffic_daily_ipv6_active_clients"
	metricSSIDClients   = "meetnoc_ssid_clients"
	metricDiscovers     = "meetnoc_dhcp_discovers_total"
	metricOption108     = "meetnoc_dhcp_ipv6_only_preferred_total"
	metricOffers        = "meetnoc_dhcp_offers_total"
	metricRAs           = "meetnoc_router_advertisements_total"
	metricAPUp          = "meetnoc_ap_up"
	metricSNMPPolls     = "meetnoc_snmp_polls_total"
	metricDNSProbes     = "meetnoc_dns_probes_total"
	metricDNSSuccess    = "meetnoc_dns_probe_success"
	metricDNS64Expected = "meetnoc_dns64_prefix_expected"
	metricNAT64Probes   = "meetnoc_nat64_probes_total"
	metricBuildInfo     = "meetnoc_build_info"
)

const (
	// unknownSSID is traffic with no or an unmapped VLAN tag: in the overall
	// figures, not listed as an SSID.
	unknownSSID = "unknown"
	overallSSID = "all"
	// rateWindow is the bit rates' averaging, as the definitions say.
	rateWindow = 5 * time.Minute
	// minIncidentWindow spans two scrapes at intervals up to a minute.
	minIncidentWindow = 2 * time.Minute
	// dailyRolloverMargin is left out at the start of a day's daily client
	// gauges: a scrape at midnight may still see the day before's count.
	dailyRolloverMargin = time.Minute
	// Points per series of a range query (Prometheus refuses more than
	// 11,000), and of a chart.
	maxSeriesPoints = 10000
	maxChartPoints  = 1000
)

// absence says, for each section, the metric whose absence leaves it empty
// and the likely reason, in the order Absent lists them.
var absence = []struct{ section, metric, reason string }{
	{"traffic", metricBytes, "no traffic source configured"},
	{"unique clients", metricDailyActive, "no traffic source configured, or a meetnoc without daily client counts"},
	{"peak clients", metricSSIDClients, "no wireless controller polled"},
	{"option 108", metricDiscovers, "no traffic source configured"},
	{"option 108 offers", metricOffers, "no traffic source configured"},
	{"rogue RA", metricRAs, "no traffic source configured"},
	{"rogue DHCP", metricOffers, "no traffic source configured"},
	{"AP availability", metricAPUp, "no wireless controller polled"},
	{"SNMP availability", metricSNMPPolls, "no SNMP targets"},
	{"DNS", metricDNSProbes, "no DNS probes"},
	{"DNS64", metricDNS64Expected, "no DNS64 probes, or no resolver synthesized an address"},
	{"NAT64", metricNAT64Probes, "no NAT64 probes"},
	{"gaps", metricBuildInfo, "no meetnoc was scraped in this period"},
}

// Collect computes the report's figures for [opts.From, opts.To] from
// Prometheus: every field but Previous and Changes. Its queries run a few at a
// time; the first that fails ends Collect with an error naming the query and
// the server.
func Collect(ctx context.Context, opts Options) (*Report, error) {
	if opts.URL == "" {
		return nil, errors.New("report: no Prometheus URL")
	}
	if !opts.To.After(opts.From) {
		return nil, fmt.Errorf("report: the end %s is not after the start %s", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	client, err := api.NewClient(api.Config{Address: opts.URL, Client: opts.Client})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", opts.URL, err)
	}
	rng := opts.To.Sub(opts.From)
	c := &collection{
		opts:      opts,
		q:         &querier{client: client, url: opts.URL, sem: make(chan struct{}, maxConcurrentQueries)},
		rng:       promDuration(rng),
		step:      chooseStep(rng, maxSeriesPoints),
		chartStep: chooseStep(rng, maxChartPoints),
		days:      venueDays(opts.From, opts.To, opts.Location),
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return c.assemble(), nil
}

// collection is one Collect: the query results, each task writing its own
// fields, then assembled into the Report.
type collection struct {
	opts            Options
	q               *querier
	rng             string // the whole range as a PromQL duration
	step, chartStep time.Duration
	days            []Period

	// present tells, per metric of absence, whether its queries found any
	// series in the range.
	present                          map[string]bool
	rogueRAPresent, rogueDHCPPresent bool

	bytes                model.Vector // by ssid, family, direction
	discovers, option108 model.Vector // by ssid
	offers               model.Vector // allowed, by ssid, ipv6_only
	clients, bitRates    model.Matrix // at step
	dayBytes             []model.Vector
	dayActive, dayIPv6   []model.Vector
	hourBytes            model.Matrix // by family, at 1 h

	aps, snmp, dns, nat64       model.Vector
	dns64Expected, dns64Probed  model.Matrix
	rogueRA, rogueDHCP          []Incident
	alerts                      []AlertEpisode
	buildInfo                   model.Matrix // raw samples
	chartShare, chartShareAll   model.Matrix
	chartClients, chartFamilies model.Matrix
	chart108, chart108All       model.Matrix
}

type task struct {
	what string
	run  func(ctx context.Context) error
}

func (c *collection) tasks() []task {
	return []task{
		{"traffic totals", c.queryTraffic},
		{"DHCP totals", c.queryDHCP},
		{"clients", c.queryClients},
		{"bit rates", c.queryBitRates},
		{"days", c.queryDays},
		{"hours of day", c.queryHours},
		{"AP, SNMP, DNS and NAT64 availability", c.queryAvailability},
		{"DNS64", c.queryDNS64},
		{"rogue RAs", func(ctx context.Context) (err error) {
			c.rogueRA, c.rogueRAPresent, err = c.queryIncidents(ctx, metricRAs)
			return err
		}},
		{"rogue DHCP servers", func(ctx context.Context) (err error) {
			c.rogueDHCP, c.rogueDHCPPresent, err = c.queryIncidents(ctx, metricOffers)
			return err
		}},
		{"alerts", c.queryAlerts},
		{"gaps", c.queryGaps},
		{"charts", c.queryCharts},
	}
}

// run runs the tasks concurrently (the querier bounds the queries in flight),
// reports progress as each finishes, and stops at the first error.
func (c *collection) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tasks := c.tasks()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		firstErr error
	)
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel(err)
				}
				return
			}
			done++
			if c.opts.Progress != nil && firstErr == nil {
				c.opts.Progress(done, len(tasks), t.what)
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// stepMatrix runs a range query over the report's range.
func (c *collection) stepMatrix(ctx context.Context, query string, step time.Duration) (model.Matrix, error) {
	return c.q.matrix(ctx, query, c.opts.From, c.opts.To, step)
}

// Totals are increase() over the whole range at its end: PromQL handles the
// counter resets of daemon restarts.
func (c *collection) queryTraffic(ctx context.Context) (err error) {
	c.bytes, err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid, family, direction) (increase(%s{family!="other"}[%s]))`, metricBytes, c.rng), c.opts.To)
	return err
}

func (c *collection) queryDHCP(ctx context.Context) (err error) {
	if c.discovers, err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid) (increase(%s[%s]))`, metricDiscovers, c.rng), c.opts.To); err != nil {
		return err
	}
	if c.option108, err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid) (increase(%s[%s]))`, metricOption108, c.rng), c.opts.To); err != nil {
		return err
	}
	c.offers, err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid, ipv6_only) (increase(%s{allowed="true"}[%s]))`, metricOffers, c.rng), c.opts.To)
	return err
}

// Peaks come from range queries at the report's step: the peak is the highest
// value at a step time.
func (c *collection) queryClients(ctx context.Context) (err error) {
	c.clients, err = c.stepMatrix(ctx, fmt.Sprintf(`sum by (ssid) (%s)`, metricSSIDClients), c.step)
	return err
}

func (c *collection) queryBitRates(ctx context.Context) (err error) {
	c.bitRates, err = c.stepMatrix(ctx, fmt.Sprintf(`sum by (ssid, direction) (rate(%s[%s])) * 8`, metricBytes, promDuration(rateWindow)), c.step)
	return err
}

// queryDays asks, per venue day, for its bytes and its unique clients. The
// daily client gauges count up from the venue's midnight, so a day's count is
// their largest value within the day; the first minute is left out, in case a
// scrape just after midnight still carries the previous day's count. A daemon
// restarted during the day starts counting again, so its day's figure is a
// lower bound.
func (c *collection) queryDays(ctx context.Context) error {
	n := len(c.days)
	c.dayBytes, c.dayActive, c.dayIPv6 = make([]model.Vector, n), make([]model.Vector, n), make([]model.Vector, n)
	for i, d := range c.days {
		var err error
		q := fmt.Sprintf(`sum by (family) (increase(%s{family!="other"}[%s]))`, metricBytes, promDuration(d.End.Sub(d.Start)))
		if c.dayBytes[i], err = c.q.vector(ctx, q, d.End); err != nil {
			return err
		}
		start := d.Start
		if midnight := startOfDay(d.Start, c.opts.Location); !start.After(midnight) {
			start = start.Add(dailyRolloverMargin)
		}
		end := d.End.Add(-time.Millisecond) // the next day's midnight is not this day's
		if !end.After(start) {
			continue
		}
		window := promDuration(end.Sub(start))
		if c.dayActive[i], err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid) (max_over_time(%s[%s]))`, metricDailyActive, window), end); err != nil {
			return err
		}
		if c.dayIPv6[i], err = c.q.vector(ctx, fmt.Sprintf(`sum by (ssid) (max_over_time(%s[%s]))`, metricDailyIPv6, window), end); err != nil {
			return err
		}
	}
	return nil
}

// queryHours asks for each venue hour's bytes: the whole hours with one range
// query at the end of each, and the partial hours at the ends of the meeting
// (a meeting from 08:30 has half of its 08:00 hour) with an instant query over
// just their part. Each value is stamped at its hour's end.
func (c *collection) queryHours(ctx context.Context) (err error) {
	query := func(window time.Duration) string {
		return fmt.Sprintf(`sum by (family) (increase(%s{family!="other"}[%s]))`, metricBytes, promDuration(window))
	}
	from, to := c.opts.From, c.opts.To
	start := from.In(c.opts.Location)
	start = time.Date(start.Year(), start.Month(), start.Day(), start.Hour(), 0, 0, 0, c.opts.Location)
	firstEnd := start.Add(time.Hour) // the end of the hour From is in
	partial := func(a, b, stamp time.Time) error {
		if !b.After(a) {
			return nil
		}
		v, err := c.q.vector(ctx, query(b.Sub(a)), b)
		if err != nil {
			return err
		}
		for _, s := range v {
			c.hourBytes = append(c.hourBytes, &model.SampleStream{Metric: s.Metric,
				Values: []model.SamplePair{{Timestamp: model.TimeFromUnixNano(stamp.UnixNano()), Value: s.Value}}})
		}
		return nil
	}
	if !firstEnd.Before(to) {
		return partial(from, to, firstEnd) // the meeting lies within one hour
	}
	if !from.Equal(start) {
		if err := partial(from, firstEnd, firstEnd); err != nil {
			return err
		}
	} else {
		firstEnd = start // From is on the hour: its hour is whole
	}
	// The whole hours end at firstEnd+1h … lastEnd.
	lastEnd := firstEnd.Add(to.Sub(firstEnd).Truncate(time.Hour))
	if lastEnd.After(firstEnd) {
		whole, err := c.q.matrix(ctx, query(time.Hour), firstEnd.Add(time.Hour), lastEnd, time.Hour)
		if err != nil {
			return err
		}
		c.hourBytes = append(c.hourBytes, whole...)
	}
	return partial(lastEnd, to, lastEnd.Add(time.Hour))
}

func (c *collection) queryAvailability(ctx context.Context) (err error) {
	if c.aps, err = c.q.vector(ctx, fmt.Sprintf(`avg by (controller, ap) (avg_over_time(%s[%s]))`, metricAPUp, c.rng), c.opts.To); err != nil {
		return err
	}
	if c.snmp, err = c.q.vector(ctx, fmt.Sprintf(`sum by (target, result) (increase(%s[%s]))`, metricSNMPPolls, c.rng), c.opts.To); err != nil {
		return err
	}
	if c.dns, err = c.q.vector(ctx, fmt.Sprintf(`sum by (resolver, result) (increase(%s[%s]))`, metricDNSProbes, c.rng), c.opts.To); err != nil {
		return err
	}
	c.nat64, err = c.q.vector(ctx, fmt.Sprintf(`sum by (target, result) (increase(%s{path="nat64"}[%s]))`, metricNAT64Probes, c.rng), c.opts.To)
	return err
}

// DNS64 availability is over step times: those at which the resolver was
// probed, and of them those at which its DNS64 prefix was the expected one. A
// prefix that vanished (no synthesis) counts as a failure.
func (c *collection) queryDNS64(ctx context.Context) (err error) {
	if c.dns64Expected, err = c.stepMatrix(ctx, fmt.Sprintf(`max by (resolver) (%s)`, metricDNS64Expected), c.step); err != nil {
		return err
	}
	c.dns64Probed, err = c.stepMatrix(ctx, fmt.Sprintf(`count by (resolver) (%s)`, metricDNSSuccess), c.step)
	return err
}

// queryIncidents finds the stretches of step times at which a counter of
// packets from servers not allowed grew. Its window is twice the step (at least
// 2 minutes), so that it spans two scrapes and overlapping windows miss no
// increase between scrapes; an incident therefore lies within [Start, End],
// precise to a window. Its packets are the increase over exactly that.
// present tells whether the counter has series (the daemon exports zeros).
func (c *collection) queryIncidents(ctx context.Context, metric string) (incidents []Incident, present bool, err error) {
	window := max(2*c.step, minIncidentWindow)
	m, err := c.stepMatrix(ctx, fmt.Sprintf(`sum by (ssid) (increase(%s{allowed="false"}[%s]))`, metric, promDuration(window)), c.step)
	if err != nil {
		return nil, false, err
	}
	incidents = []Incident{}
	for _, s := range m {
		ssid := string(s.Metric["ssid"])
		var positive []model.SamplePair
		for _, p := range s.Values {
			if p.Value > 0 {
				positive = append(positive, p)
			}
		}
		for _, run := range stepRuns(positive, c.step) {
			start, end := run[0].Timestamp.Time().Add(-window), run[len(run)-1].Timestamp.Time()
			// The packets are counted over the whole window, which may begin
			// before the report; the incident is reported within the report.
			q := fmt.Sprintf(`sum(increase(%s{allowed="false", ssid=%q}[%s]))`, metric, ssid, promDuration(end.Sub(start)))
			v, err := c.q.vector(ctx, q, end)
			if err != nil {
				return nil, false, err
			}
			in := Incident{SSID: ssid, Start: start.In(c.opts.Location), End: end.In(c.opts.Location)}
			if start.Before(c.opts.From) {
				in.Start = c.opts.From.In(c.opts.Location)
			}
			if len(v) == 1 {
				in.Packets = float64(v[0].Value)
			}
			incidents = append(incidents, in)
		}
	}
	sort.Slice(incidents, func(i, j int) bool {
		if !incidents[i].Start.Equal(incidents[j].Start) {
			return incidents[i].Start.Before(incidents[j].Start)
		}
		return incidents[i].SSID < incidents[j].SSID
	})
	return incidents, len(m) > 0, nil
}

// medianSpacing is the median time between consecutive sorted times (0 for
// fewer than two).
func medianSpacing(times []model.Time) time.Duration {
	if len(times) < 2 {
		return 0
	}
	d := make([]time.Duration, len(times)-1)
	for i := range d {
		d[i] = times[i+1].Sub(times[i])
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// stepRuns splits step values into runs of consecutive steps.
func stepRuns(values []model.SamplePair, step time.Duration) [][]model.SamplePair {
	var out [][]model.SamplePair
	start := 0
	for i := 1; i <= len(values); i++ {
		if i == len(values) || values[i].Timestamp.Sub(values[i-1].Timestamp) > step {
			out = append(out, values[start:i])
			start = i
		}
	}
	if len(values) == 0 {
		return nil
	}
	return out
}

// queryAlerts reads the firing alerts' episodes from ALERTS's raw samples (one
// per rule evaluation while firing), not from step values: an alert that fired
// for a few seconds between two steps is still in the timeline, and an
// episode starts at its first sample and ends at its last. Samples further
// apart than a step, or twice the rule's evaluation interval (the series'
// median spacing), are two episodes.
func (c *collection) queryAlerts(ctx context.Context) error {
	m, err := c.q.samples(ctx, fmt.Sprintf(`ALERTS{alertstate="firing"}[%s]`, c.rng), c.opts.To)
	if err != nil {
		return err
	}
	c.alerts = []AlertEpisode{}
	for _, s := range m {
		labels := map[string]string{}
		for k, v := range s.Metric {
			switch k {
			case model.MetricNameLabel, model.AlertNameLabel, "alertstate", "severity":
			default:
				labels[string(k)] = string(v)
			}
		}
		times := make([]model.Time, len(s.Values))
		for i, v := range s.Values {
			times[i] = v.Timestamp
		}
		for _, run := range stepRuns(s.Values, max(c.step, 2*medianSpacing(times))) {
			c.alerts = append(c.alerts, AlertEpisode{
				Name:     string(s.Metric[model.AlertNameLabel]),
				Severity: string(s.Metric["severity"]),
				Labels:   maps.Clone(labels),
				Start:    run[0].Timestamp.Time().In(c.opts.Location),
				End:      run[len(run)-1].Timestamp.Time().In(c.opts.Location),
			})
		}
	}
	sort.Slice(c.alerts, func(i, j int) bool {
		a, b := c.alerts[i], c.alerts[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		return a.Name < b.Name
	})
	return nil
}

func unixTime(seconds float64) time.Time {
	return time.UnixMilli(int64(seconds*1000 + 0.5))
}

// Gaps come from meetnoc_build_info's raw samples: their own timestamps say
// exactly when data stopped and resumed, where step values would stretch each
// last sample by Prometheus's lookback (5 minutes).
func (c *collection) queryGaps(ctx context.Context) (err error) {
	c.buildInfo, err = c.q.samples(ctx, fmt.Sprintf(`%s[%s]`, metricBuildInfo, c.rng), c.opts.To)
	return err
}

// The charts are at a coarser step (about 1,000 points); their rates are over
// at least the step, so that every byte between two points is counted.
func (c *collection) queryCharts(ctx context.Context) (err error) {
	r := func(q string) (model.Matrix, error) { return c.stepMatrix(ctx, q, c.chartStep) }
	w := promDuration(max(c.chartStep, rateWindow))
	share := `sum by (ssid) (rate(%[1]s{family=~"ipv6|nat64"}[%[2]s])) / sum by (ssid) (rate(%[1]s{family=~"ipv4|ipv6|nat64"}[%[2]s]))`
	if c.chartShare, err = r(fmt.Sprintf(share, metricBytes, w)); err != nil {
		return err
	}
	shareAll := `sum(rate(%[1]s{family=~"ipv6|nat64"}[%[2]s])) / sum(rate(%[1]s{family=~"ipv4|ipv6|nat64"}[%[2]s]))`
	if c.chartShareAll, err = r(fmt.Sprintf(shareAll, metricBytes, w)); err != nil {
		return err
	}
	if c.chartClients, err = r(fmt.Sprintf(`sum by (ssid) (%s)`, metricSSIDClients)); err != nil {
		return err
	}
	if c.chartFamilies, err = r(fmt.Sprintf(`sum by (family) (rate(%s{family!="other"}[%s])) * 8`, metricBytes, w)); err != nil {
		return err
	}
	opt108 := `sum by (ssid) (rate(%s[%s])) / sum by (ssid) (rate(%s[%[2]s]))`
	if c.chart108, err = r(fmt.Sprintf(opt108, metricOption108, w, metricDiscovers)); err != nil {
		return err
	}
	c.chart108All, err = r(fmt.Sprintf(`sum(rate(%s[%s])) / sum(rate(%s[%[2]s]))`, metricOption108, w, metricDiscovers))
	return err
}

// venueDays are the venue's calendar days that overlap [from, to), clipped to it.
func venueDays(from, to time.Time, loc *time.Location) []Period {
	var days []Period
	for d := startOfDay(from, loc); d.Before(to); {
		next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		start, end := d, next
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			days = append(days, Period{Label: d.Format("2006-01-02"), Start: start.In(loc), End: end.In(loc)})
		}
		d = next
	}
	return days
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}
