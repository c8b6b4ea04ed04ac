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
	"strconv"
	"strings"
	"time"
)

// scrapeResult is one GET /metrics.
type scrapeResult struct {
	Latency time.Duration
	CPU     time.Duration // the daemon's CPU time during the scrape
	Bytes   int
}

type scaleResult struct {
	Devices, Interfaces int
	Interval            time.Duration
	IntervalCPU         []float64 // % of one core, per interval
	MeanCPU             float64
	PollingCPU          float64 // MeanCPU without the scrapes' CPU time
	RSSPolling          uint64  // VmRSS at steady state, before the first scrape
	RSS, HWM            uint64  // at the end
	Scrapes             []scrapeResult
	PlainScrape         time.Duration // one GET /metrics without gzip
	Series              int
	Up                  int
	Polls               map[string]float64
	Overruns            float64
}

func scaleMain(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	pid := fs.Int("pid", 0, "PID of `meetnoc run`")
	base := fs.String("url", "", "base URL of its web server, e.g. http://127.0.0.1:9723")
	interval := fs.Duration("interval", 30*time.Second, "the configured poll interval")
	warmup := fs.Duration("warmup", 45*time.Second, "time from ready to the start of the measurement: every target polled at least once")
	intervals := fs.Int("intervals", 6, "intervals to measure CPU over")
	scrapes := fs.Int("scrapes", 20, "GET /metrics to time in all (one per interval during the CPU measurement, the rest after it)")
	devices := fs.Int("devices", 1000, "number of targets (for the report)")
	interfaces := fs.Int("interfaces", 48, "interfaces per target (for the report)")
	jsonOut := fs.String("json", "", "also write the raw results here")
	_ = fs.Parse(args)
	if *pid == 0 || *base == "" {
		fs.Usage()
		return errors.New("missing flags")
	}
	ctx := context.Background()
	res := &scaleResult{Devices: *devices, Interfaces: *interfaces, Interval: *interval}

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

	var last []byte
	scrape := func() error {
		c0, err := cpuTime(*pid)
		if err != nil {
			return err
		}
		start := time.Now()
		body, err := get(ctx, *base+"/metrics")
		lat := time.Since(start)
		if err != nil {
			return err
		}
		c1, err := cpuTime(*pid)
		if err != nil {
			return err
		}
		res.Scrapes = append(res.Scrapes, scrapeResult{Latency: lat, CPU: c1 - c0, Bytes: len(body)})
		last = body
		return nil
	}

	fmt.Fprintf(os.Stderr, "harness: measuring CPU over %d intervals of %s\n", *intervals, *interval)
	var totalCPU, scrapeCPU, totalTime time.Duration
	for range *intervals {
		c0, err := cpuTime(*pid)
		if err != nil {
			return err
		}
		t0 := time.Now()
		time.Sleep(*interval / 2)
		if len(res.Scrapes) < *scrapes {
			if err := scrape(); err != nil {
				return err
			}
			scrapeCPU += res.Scrapes[len(res.Scrapes)-1].CPU
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
	res.PollingCPU = 100 * float64(totalCPU-scrapeCPU) / float64(totalTime)

	fmt.Fprintf(os.Stderr, "harness: timing %d more scrapes of /metrics\n", *scrapes-len(res.Scrapes))
	for len(res.Scrapes) < *scrapes {
		time.Sleep(2 * time.Second)
		if err := scrape(); err != nil {
			return err
		}
	}
	// One more without compression, to tell the cost of gzip from the rest.
	start := time.Now()
	if _, err := fetch(ctx, *base+"/metrics", false); err != nil {
		return err
	}
	res.PlainScrape = time.Since(start)
	if res.RSS, res.HWM, err = memory(*pid); err != nil {
		return err
	}
	res.Series, res.Up, res.Polls, res.Overruns = summarize(last)

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
func summarize(out []byte) (series, up int, polls map[string]float64, overruns float64) {
	polls = map[string]float64{}
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
		}
	}
	return series, up, polls, overruns
}

func (r *scaleResult) print() {
	lats := make([]time.Duration, len(r.Scrapes))
	var maxLat time.Duration
	for i, s := range r.Scrapes {
		lats[i] = s.Latency
		maxLat = max(maxLat, s.Latency)
	}
	med := median(lats)
	per := make([]string, len(r.IntervalCPU))
	maxCPU := 0.0
	for i, c := range r.IntervalCPU {
		per[i] = fmt.Sprintf("%.1f", c)
		maxCPU = math.Max(maxCPU, c)
	}
	var bytes int
	if n := len(r.Scrapes); n > 0 {
		bytes = r.Scrapes[n-1].Bytes
	}
	fmt.Printf("### Scale: one `meetnoc run`, %d switches × %d interfaces every %s\n\n", r.Devices, r.Interfaces, r.Interval)
	fmt.Println("| measure | result | goal |")
	fmt.Println("|---|---:|---|")
	fmt.Printf("| CPU, mean over %d intervals of %s (with one /metrics scrape per interval, as one Prometheus would) | **%.1f %%** of one core | < 25 %% %s |\n",
		len(r.IntervalCPU), r.Interval, r.MeanCPU, verdict(r.MeanCPU < 25))
	fmt.Printf("| CPU per interval | %s %% (max %.1f %%) | |\n", strings.Join(per, ", "), maxCPU)
	fmt.Printf("| CPU without the scrapes (polling alone) | %.1f %% of one core | |\n", r.PollingCPU)
	fmt.Printf("| peak RSS (VmHWM, whole run) | **%.0f MB** | < 150 MB %s |\n", mb(r.HWM), verdict(mb(r.HWM) < 150))
	fmt.Printf("| RSS at steady state before the first scrape | %.0f MB | |\n", mb(r.RSSPolling))
	fmt.Printf("| RSS at the end | %.0f MB | |\n", mb(r.RSS))
	fmt.Printf("| GET /metrics latency, median / max of %d | **%.0f ms** / %.0f ms | < 100 ms %s |\n",
		len(r.Scrapes), ms(med), ms(maxLat), verdict(med < 100*time.Millisecond && maxLat < 100*time.Millisecond))
	fmt.Printf("| GET /metrics without gzip (one scrape, for comparison) | %.0f ms | |\n", ms(r.PlainScrape))
	var scrapeCPU time.Duration
	for _, s := range r.Scrapes {
		scrapeCPU += s.CPU
	}
	if len(r.Scrapes) > 0 {
		fmt.Printf("| CPU time per /metrics scrape (mean) | %.0f ms | |\n", ms(scrapeCPU/time.Duration(len(r.Scrapes))))
	}
	fmt.Printf("| /metrics size | %d series, %.1f MB uncompressed | |\n", r.Series, float64(bytes)/1e6)
	fmt.Printf("| targets up at the last scrape | %d of %d | all |\n", r.Up, r.Devices)
	fmt.Printf("| polls so far: ok / timeout / auth / error; overruns | %.0f / %.0f / %.0f / %.0f; %.0f | no failures |\n",
		r.Polls["ok"], r.Polls["timeout"], r.Polls["auth"], r.Polls["error"], r.Overruns)
	fmt.Println()
}

func mb(b uint64) float64 { return float64(b) / 1e6 }
