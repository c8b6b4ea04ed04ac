package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scrapeResult is one GET /metrics, timed as Prometheus sees it, and what it
// cost the daemon.
type scrapeResult struct {
	Gzip      bool
	Latency   time.Duration // request sent → last byte of the body as sent (gzipped or not)
	CPU       time.Duration // the daemon's CPU time, all threads, over the scrape's window
	Window    time.Duration // that window: from just before the request to just after the last byte
	Baseline  time.Duration // what polling alone spends in as long: the rate over the quiet window before, × Window
	WireBytes int
	TextBytes int
	Series    int
}

// cost is the CPU time the scrape itself took: the daemon's CPU during it
// less what polling spends meanwhile anyway.
func (s scrapeResult) cost() time.Duration { return s.CPU - s.Baseline }

type scaleResult struct {
	Devices, Interfaces int
	Interval            time.Duration
	Quiet               time.Duration // the quiet window before each scrape
	IntervalCPU         []float64     // % of one core, per interval
	MeanCPU             float64
	ScrapesCPU          float64 // the scrapes' cost in the measured intervals, % of one core
	PollingCPU          float64 // MeanCPU less ScrapesCPU
	RSSPolling          uint64  // VmRSS at steady state, before the first scrape
	RSS, HWM            uint64  // at the end
	Scrapes             []scrapeResult
	Plain               []scrapeResult // identity (no gzip)
	Series              int
	Up                  int
	Polls               map[string]float64
	Overruns            float64
	GoMem               map[string]float64 // go_memstats_* at the last scrape
}

// scaler scrapes one daemon.
type scaler struct {
	pid   int
	url   string
	quiet time.Duration
	size  [2]int // the last body's size, without and with gzip
}

// scrape measures the daemon's polling CPU over a quiet window of s.quiet,
// then does one GET /metrics timed to its last byte as sent (gzipped when gzip
// is set, asked for explicitly, so that nothing inflates it during the timing),
// then decodes and counts it.
func (s *scaler) scrape(ctx context.Context, gzip bool) (scrapeResult, []byte, error) {
	q0, err := threadCPU(s.pid)
	if err != nil {
		return scrapeResult{}, nil, err
	}
	tq0 := time.Now()
	time.Sleep(s.quiet)
	q1, err := threadCPU(s.pid)
	if err != nil {
		return scrapeResult{}, nil, err
	}
	tq1 := time.Now()
	k := 0
	if gzip {
		k = 1
	}
	hint := s.size[k] + s.size[k]/8
	start := time.Now()
	r, err := fetchSized(ctx, s.url+"/metrics", gzip, hint)
	lat := time.Since(start)
	if err != nil {
		return scrapeResult{}, nil, err
	}
	c1, err := threadCPU(s.pid)
	if err != nil {
		return scrapeResult{}, nil, err
	}
	window := time.Since(tq1)
	s.size[k] = len(r.raw)
	if r.gzipped != gzip {
		return scrapeResult{}, nil, fmt.Errorf("GET /metrics: asked for gzip %v, got Content-Encoding gzip %v", gzip, r.gzipped)
	}
	text, err := r.text()
	if err != nil {
		return scrapeResult{}, nil, err
	}
	if s.size[0] == 0 {
		s.size[0] = len(text) // the first identity scrape's size hint
	}
	rate := float64(q1-q0) / float64(tq1.Sub(tq0))
	return scrapeResult{
		Gzip: gzip, Latency: lat, CPU: c1 - q1, Window: window,
		Baseline:  time.Duration(rate * float64(window)),
		WireBytes: len(r.raw), TextBytes: len(text), Series: seriesIn(text),
	}, text, nil
}

func scaleMain(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	pid := fs.Int("pid", 0, "PID of `meetnoc run`")
	base := fs.String("url", "", "base URL of its web server, e.g. http://127.0.0.1:9723")
	interval := fs.Duration("interval", 30*time.Second, "the configured poll interval")
	warmup := fs.Duration("warmup", 45*time.Second, "time from ready to the start of the measurement: every target polled at least once")
	intervals := fs.Int("intervals", 6, "intervals to measure CPU over")
	scrapes := fs.Int("scrapes", 20, "gzip GET /metrics to time in all (one per interval during the CPU measurement, the rest after it)")
	plain := fs.Int("plain", 3, "GET /metrics without gzip to time after those")
	quiet := fs.Duration("quiet", 2*time.Second, "window without a scrape before each scrape, to measure polling's CPU rate")
	devices := fs.Int("devices", 1000, "number of targets (for the report)")
	interfaces := fs.Int("interfaces", 48, "interfaces per target (for the report)")
	jsonOut := fs.String("json", "", "also write the raw results here")
	_ = fs.Parse(args)
	if *pid == 0 || *base == "" {
		fs.Usage()
		return errors.New("missing flags")
	}
	if *quiet*2 > *interval {
		return errors.New("-quiet must be at most half of -interval")
	}
	ctx := context.Background()
	res := &scaleResult{Devices: *devices, Interfaces: *interfaces, Interval: *interval, Quiet: *quiet}
	sc := &scaler{pid: *pid, url: *base, quiet: *quiet}

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := get(ctx, *base+"/-/ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("meetnoc did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "harness: meetnoc ready; warming up for %s\n", *warmup)
	time.Sleep(*warmup)
	var err error
	if res.RSSPolling, _, err = memory(*pid); err != nil {
		return err
	}

	// One scrape not counted, so that the harness knows how big a buffer to
	// read the next ones into.
	if _, _, err := sc.scrape(ctx, true); err != nil {
		return err
	}

	var last []byte
	scrape := func(gzip bool) error {
		r, text, err := sc.scrape(ctx, gzip)
		if err != nil {
			return err
		}
		if gzip {
			res.Scrapes = append(res.Scrapes, r)
			last = text
		} else {
			res.Plain = append(res.Plain, r)
		}
		return nil
	}

	fmt.Fprintf(os.Stderr, "harness: measuring CPU over %d intervals of %s\n", *intervals, *interval)
	var totalCPU, scrapeCost, totalTime time.Duration
	for range *intervals {
		c0, err := cpuTime(*pid)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if len(res.Scrapes) < *scrapes {
			// The scrape falls in the middle of the interval, its quiet
			// window just before.
			time.Sleep(*interval/2 - *quiet)
			if err := scrape(true); err != nil {
				return err
			}
			scrapeCost += res.Scrapes[len(res.Scrapes)-1].cost()
		}
		time.Sleep(time.Until(t0.Add(*interval)))
		c1, err := cpuTime(*pid)
		if err != nil {
			return err
		}
		el := time.Since(t0)
		res.IntervalCPU = append(res.IntervalCPU, 100*float64(c1-c0)/float64(el))
		totalCPU += c1 - c0
		totalTime += el
	}
	res.MeanCPU = 100 * float64(totalCPU) / float64(totalTime)
	res.ScrapesCPU = 100 * float64(scrapeCost) / float64(totalTime)
	res.PollingCPU = res.MeanCPU - res.ScrapesCPU

	fmt.Fprintf(os.Stderr, "harness: timing %d more gzip scrapes and %d without gzip, %s apart\n", *scrapes-len(res.Scrapes), *plain, *quiet)
	for len(res.Scrapes) < *scrapes {
		if err := scrape(true); err != nil {
			return err
		}
	}
	for range *plain {
		if err := scrape(false); err != nil {
			return err
		}
	}
	if res.RSS, res.HWM, err = memory(*pid); err != nil {
		return err
	}
	res.Series, res.Up, res.Polls, res.Overruns, res.GoMem = summarize(last)

	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	res.print()
	return nil
}

// summarize reads the daemon's own view from a scrape: series, targets up,
// polls by result, overruns.
func summarize(out []byte) (series, up int, polls map[string]float64, overruns float64, goMem map[string]float64) {
	polls, goMem = map[string]float64{}, map[string]float64{}
	for line := range bytes.Lines(out) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		series++
		i := strings.LastIndexByte(s, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(s[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(s[:i], "{")
		switch name {
		case "meetnoc_snmp_up":
			if v == 1 {
				up++
			}
		case "meetnoc_snmp_polls_total":
			if _, r, ok := strings.Cut(labels, `result="`); ok {
				r, _, _ = strings.Cut(r, `"`)
				polls[r] += v
			}
		case "meetnoc_snmp_poll_overruns_total":
			overruns += v
		case "go_memstats_heap_alloc_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes", "go_memstats_sys_bytes":
			goMem[name] = v
		}
	}
	return series, up, polls, overruns, goMem
}

// latencies is the median and the maximum latency of scrapes.
func latencies(ss []scrapeResult) (med, maxLat time.Duration) {
	lats := make([]time.Duration, len(ss))
	for i, s := range ss {
		lats[i] = s.Latency
	}
	if len(lats) == 0 {
		return 0, 0
	}
	return median(lats), slices.Max(lats)
}

// costs is the mean and the median CPU cost of scrapes.
func costs(ss []scrapeResult) (mean, med time.Duration) {
	c := make([]time.Duration, len(ss))
	var sum time.Duration
	for i, s := range ss {
		c[i] = s.cost()
		sum += c[i]
	}
	if len(c) == 0 {
		return 0, 0
	}
	return sum / time.Duration(len(c)), median(c)
}

func (r *scaleResult) print() {
	per := make([]string, len(r.IntervalCPU))
	maxCPU := 0.0
	for i, c := range r.IntervalCPU {
		per[i] = fmt.Sprintf("%.1f", c)
		maxCPU = math.Max(maxCPU, c)
	}
	med, maxLat := latencies(r.Scrapes)
	pmed, pmax := latencies(r.Plain)
	cmean, cmed := costs(r.Scrapes)
	pcmean, _ := costs(r.Plain)
	var wire, text int
	if n := len(r.Scrapes); n > 0 {
		wire, text = r.Scrapes[n-1].WireBytes, r.Scrapes[n-1].TextBytes
	}
	fmt.Printf("### Scale: one `meetnoc run`, %d switches × %d interfaces every %s\n\n", r.Devices, r.Interfaces, r.Interval)
	fmt.Printf("Scrapes ask for gzip as Prometheus does (`Accept-Encoding: gzip`, set explicitly, so the harness reads the compressed bytes as sent and inflates them after the timing). A scrape's CPU cost is the daemon's CPU time (all threads, /proc/PID/task/*/schedstat) from request to last byte, less what polling spent in as long at its rate over the %s before the scrape.\n\n", r.Quiet)
	fmt.Println("| measure | result | goal |")
	fmt.Println("|---|---:|---|")
	fmt.Printf("| CPU, mean over %d intervals of %s (with one gzip /metrics scrape per interval, as one Prometheus would) | **%.1f %%** of one core | < 25 %% %s |\n",
		len(r.IntervalCPU), r.Interval, r.MeanCPU, verdict(r.MeanCPU < 25))
	fmt.Printf("| CPU per interval | %s %% (max %.1f %%) | |\n", strings.Join(per, ", "), maxCPU)
	fmt.Printf("| of which the scrapes (their cost) / polling alone | %.2f %% / %.1f %% of one core | |\n", r.ScrapesCPU, r.PollingCPU)
	fmt.Printf("| peak RSS (VmHWM, whole run) | **%.0f MB** | < 150 MB %s |\n", mb(r.HWM), verdict(mb(r.HWM) < 150))
	fmt.Printf("| RSS at steady state before the first scrape / at the end | %.0f MB / %.0f MB | |\n", mb(r.RSSPolling), mb(r.RSS))
	if len(r.GoMem) > 0 {
		fmt.Printf("| Go heap at the last scrape: live (heap_alloc) / in use (heap_inuse) / next GC goal / runtime total (sys) | %.0f / %.0f / %.0f / %.0f MB | |\n",
			r.GoMem["go_memstats_heap_alloc_bytes"]/1e6, r.GoMem["go_memstats_heap_inuse_bytes"]/1e6, r.GoMem["go_memstats_next_gc_bytes"]/1e6, r.GoMem["go_memstats_sys_bytes"]/1e6)
	}
	fmt.Printf("| GET /metrics with gzip, to the last byte: median / max of %d | **%.1f ms** / %.1f ms | < 100 ms %s |\n",
		len(r.Scrapes), ms(med), ms(maxLat), verdict(len(r.Scrapes) > 0 && med < 100*time.Millisecond && maxLat < 100*time.Millisecond))
	fmt.Printf("| CPU cost of a gzip scrape: mean / median | %.1f ms / %.1f ms | |\n", ms(cmean), ms(cmed))
	if len(r.Plain) > 0 {
		fmt.Printf("| GET /metrics without gzip (identity), to the last byte: median / max of %d | %.0f ms / %.0f ms | |\n", len(r.Plain), ms(pmed), ms(pmax))
		fmt.Printf("| CPU cost of an identity scrape: mean | %.0f ms | |\n", ms(pcmean))
	}
	fmt.Printf("| /metrics size | %d series; %.1f MB of text, %.1f MB gzipped | |\n", r.Series, float64(text)/1e6, float64(wire)/1e6)
	fmt.Printf("| targets up at the last scrape | %d of %d | all |\n", r.Up, r.Devices)
	fmt.Printf("| polls so far: ok / timeout / auth / error; overruns | %.0f / %.0f / %.0f / %.0f; %.0f | no failures |\n",
		r.Polls["ok"], r.Polls["timeout"], r.Polls["auth"], r.Polls["error"], r.Overruns)
	fmt.Println()
}

func mb(b uint64) float64 { return float64(b) / 1e6 }
