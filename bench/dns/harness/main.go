// Command harness is meetnoc's DNS benchmark (bench/dns/run.sh; method and
// results in docs/benchmarks.md): CPU per probe and probes per second of
// meetnoc's probes/dns Prober and of Prometheus' blackbox_exporter (Debian's
// prometheus-blackbox-exporter, dns module, /probe over keep-alive HTTP), in
// alternating rounds against one unbound, each tool in a process of its own.
//
//	harness compare -exporter /usr/bin/prometheus-blackbox-exporter -workdir DIR
//	harness prober -config FILE   (the meetnoc side; run by compare)
//
// The unbound is internal/testenv's (StartUnbound: offline auth-zones, the dns64
// module, a random loopback port), the one meetnoc's own tests run against.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
	dnsprobe "github.com/meetnoc/meetnoc/probes/dns"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harness compare|prober [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compare":
		err = compare(os.Args[2:])
	case "prober":
		err = proberMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

// The check both tools run: ipv4only.arpa AAAA, which DNS64 synthesizes from
// 192.0.0.170 and .171 (RFC 7050) — meetnoc's dns64 check as in
// configs/example.yml, blackbox_exporter's module asking for the same answer.
const (
	queryName = "ipv4only.arpa."
	wantAAAA  = "64:ff9b::c000:aa"
)

// ---- the meetnoc side: a process of its own, driven over stdin ----

// proberMain loads a meetnoc config (dns: only) and, for every line
// "run INTERVAL DURATION" on stdin, builds a Prober with that interval, runs it
// for DURATION, and answers "done PROBES OK CPU_SECONDS WALL_SECONDS": the
// probes completed, those that succeeded, and the process's CPU time
// (getrusage, user + system, every thread) while the Prober ran.
func proberMain(args []string) error {
	fs := flag.NewFlagSet("prober", flag.ExitOnError)
	cfgPath := fs.String("config", "", "meetnoc config with the dns: section")
	_ = fs.Parse(args)
	base, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var interval, duration time.Duration
		f := strings.Fields(in.Text())
		if len(f) != 3 || f[0] != "run" {
			return fmt.Errorf("prober: bad command %q", in.Text())
		}
		if interval, err = time.ParseDuration(f[1]); err != nil {
			return err
		}
		if duration, err = time.ParseDuration(f[2]); err != nil {
			return err
		}
		cfg := *base
		cfg.DNS.Interval = interval
		p, err := dnsprobe.New(&cfg, logger, dnsprobe.Options{})
		if err != nil {
			return err
		}
		// The CPU of the running Prober only, as blackbox_exporter's is measured
		// over a turn of a process that runs the whole time: not New, not the
		// teardown, not the count (a scrape, which the daemon does once per
		// scrape interval, not per probe).
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		cpu0 := selfCPU()
		t0 := time.Now()
		go func() { done <- p.Run(ctx) }()
		time.Sleep(duration)
		cpu, wall := selfCPU()-cpu0, time.Since(t0)
		cancel()
		if err := <-done; err != nil {
			return err
		}
		total, ok, err := countProbes(p)
		if err != nil {
			return err
		}
		fmt.Printf("done %.0f %.0f %.6f %.6f\n", total, ok, cpu, wall.Seconds())
	}
	return in.Err()
}

// countProbes sums meetnoc_dns_probes_total, as a scrape would see it.
func countProbes(p *dnsprobe.Prober) (total, ok float64, err error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(p); err != nil {
		return 0, 0, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != "meetnoc_dns_probes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			total += v
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == dnsprobe.ResultOK {
					ok += v
				}
			}
		}
	}
	return total, ok, nil
}

// selfCPU is this process's user + system CPU time in seconds (microseconds'
// resolution, unlike /proc's clock ticks).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// ---- the comparison ----

type result struct {
	Tool      string  `json:"tool"`
	Round     int     `json:"round"`
	Probes    float64 `json:"probes"`
	OK        float64 `json:"ok"`
	Wall      float64 `json:"wall_s"`
	CPU       float64 `json:"cpu_s"`      // the tool's process
	CPUStat   float64 `json:"cpu_stat_s"` // the same from /proc/PID/stat (meetnoc; cross-check)
	UnboundCP float64 `json:"unbound_cpu_s"`
	// Context switches of the tool's threads (voluntary and not), a measure
	// of how often it went to sleep and was woken.
	Switches float64 `json:"context_switches"`
}

func (r result) cpuPerProbe() float64      { return r.CPU / r.Probes }
func (r result) rate() float64             { return r.Probes / r.Wall }
func (r result) unboundPerProbe() float64  { return r.UnboundCP / r.Probes }
func (r result) switchesPerProbe() float64 { return r.Switches / r.Probes }

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	exporter := fs.String("exporter", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	workdir := fs.String("workdir", "", "directory for configs and logs (required)")
	rounds := fs.Int("rounds", 5, "alternating rounds")
	window := fs.Duration("window", 6*time.Second, "length of each tool's turn in a round")
	resolvers := fs.Int("resolvers", 4, "meetnoc: resolvers (each its own socket), all the same unbound")
	checks := fs.Int("checks", 64, "meetnoc: checks per resolver")
	fastInterval := fs.Duration("fast.interval", time.Millisecond, "meetnoc, fast: interval of each probe")
	pacedRates := fs.String("paced.rates", "1000,100", "paced turns: probes per second in all, both tools alike (sets meetnoc's interval and the clients' pace); comma-separated")
	clients := fs.Int("clients", 4, "blackbox_exporter: concurrent keep-alive HTTP clients")
	jsonOut := fs.String("json", "", "also write every round as JSON here")
	_ = fs.Parse(args)
	if *workdir == "" {
		return errors.New("-workdir is required")
	}
	var rates []float64
	for _, f := range strings.Split(*pacedRates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-paced.rates: %q is not a rate", f)
		}
		rates = append(rates, r)
	}
	probes := *resolvers * *checks

	t := newTB(*workdir)
	defer t.cleanup()
	// Stopped from outside (run.sh's timeout, Ctrl-C): stop unbound and the
	// tools too, not leave them running.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		t.cleanup()
		fmt.Fprintf(os.Stderr, "harness: stopped by %s\n", s)
		os.Exit(1)
	}()
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	if t.failed {
		return errors.New("unbound did not start")
	}
	unboundPID, err := childPID("unbound")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "harness: unbound on %s (pid %d)\n", u.Addr(), unboundPID)

	// meetnoc, in a process of its own.
	cfgPath := filepath.Join(*workdir, "meetnoc-dns.yml")
	if err := os.WriteFile(cfgPath, []byte(meetnocConfig(u.Addr(), *resolvers, *checks)), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pcmd := exec.Command(self, "prober", "-config", cfgPath)
	pin, err := pcmd.StdinPipe()
	if err != nil {
		return err
	}
	pout, err := pcmd.StdoutPipe()
	if err != nil {
		return err
	}
	plog, err := os.Create(filepath.Join(*workdir, "prober.log"))
	if err != nil {
		return err
	}
	pcmd.Stderr = plog
	if err := pcmd.Start(); err != nil {
		return err
	}
	t.Cleanup(func() { pin.Close(); _ = pcmd.Process.Kill(); _ = pcmd.Wait() })
	preader := bufio.NewScanner(pout)
	runMeetnoc := func(tool string, interval, d time.Duration, round int) (result, error) {
		s0, u0, c0 := procCPU(pcmd.Process.Pid), procCPU(unboundPID), contextSwitches(pcmd.Process.Pid)
		if _, err := fmt.Fprintf(pin, "run %s %s\n", interval, d); err != nil {
			return result{}, err
		}
		if !preader.Scan() {
			return result{}, fmt.Errorf("meetnoc prober ended: %v (see prober.log)", preader.Err())
		}
		r := result{Tool: tool, Round: round}
		var word string
		if _, err := fmt.Sscan(preader.Text(), &word, &r.Probes, &r.OK, &r.CPU, &r.Wall); err != nil || word != "done" {
			return result{}, fmt.Errorf("prober answered %q", preader.Text())
		}
		r.CPUStat, r.UnboundCP = procCPU(pcmd.Process.Pid)-s0, procCPU(unboundPID)-u0
		r.Switches = contextSwitches(pcmd.Process.Pid) - c0
		return r, nil
	}

	// blackbox_exporter.
	bbConfig := filepath.Join(*workdir, "blackbox.yml")
	if err := os.WriteFile(bbConfig, []byte(blackboxConfig), 0o644); err != nil {
		return err
	}
	bbAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreeTCPPort(t)))
	bblog, err := os.Create(filepath.Join(*workdir, "blackbox_exporter.log"))
	if err != nil {
		return err
	}
	bcmd := exec.Command(*exporter, "--config.file="+bbConfig, "--web.listen-address="+bbAddr)
	bcmd.Stdout, bcmd.Stderr = bblog, bblog
	if err := bcmd.Start(); err != nil {
		return err
	}
	t.Cleanup(func() { _ = bcmd.Process.Signal(syscall.SIGTERM); _ = bcmd.Wait() })
	probeURL := "http://" + bbAddr + "/probe?module=dns&target=" + u.Addr()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, DisableCompression: true}, Timeout: 5 * time.Second}
	if err := waitHTTP(hc, probeURL, 10*time.Second); err != nil {
		return err
	}
	// runBlackbox drives the exporter for d: as fast as the clients go, or
	// (every > 0) each client one probe every `every`.
	runBlackbox := func(tool string, every, d time.Duration, round int) (result, error) {
		s0, u0, c0 := procCPU(bcmd.Process.Pid), procCPU(unboundPID), contextSwitches(bcmd.Process.Pid)
		t0 := time.Now()
		var total, ok atomic.Int64
		var firstErr error
		var errOnce sync.Once
		var wg sync.WaitGroup
		deadline := t0.Add(d)
		for range *clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var tick <-chan time.Time
				if every > 0 {
					tk := time.NewTicker(every)
					defer tk.Stop()
					tick = tk.C
				}
				for time.Now().Before(deadline) {
					if tick != nil {
						<-tick
					}
					success, err := probeOnce(hc, probeURL)
					if err != nil {
						errOnce.Do(func() { firstErr = err })
						return
					}
					total.Add(1)
					if success {
						ok.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		r := result{Tool: tool, Round: round, Wall: time.Since(t0).Seconds()}
		r.CPU, r.UnboundCP = procCPU(bcmd.Process.Pid)-s0, procCPU(unboundPID)-u0
		r.CPUStat = r.CPU
		r.Switches = contextSwitches(bcmd.Process.Pid) - c0
		r.Probes, r.OK = float64(total.Load()), float64(ok.Load())
		return r, firstErr
	}

	tools := []string{"meetnoc (fast)", "blackbox_exporter (fast)"}
	type pace struct{ meetnoc, blackbox time.Duration } // meetnoc's interval, each client's period
	paces := map[string]pace{}
	for _, r := range rates {
		m, b := fmt.Sprintf("meetnoc (paced %.0f/s)", r), fmt.Sprintf("blackbox_exporter (paced %.0f/s)", r)
		tools = append(tools, m, b)
		paces[m] = pace{meetnoc: time.Duration(float64(probes) / r * float64(time.Second))}
		paces[b] = pace{blackbox: time.Duration(float64(*clients) / r * float64(time.Second))}
	}
	turn := func(tool string, d time.Duration, round int) (result, error) {
		switch {
		case tool == "meetnoc (fast)":
			return runMeetnoc(tool, *fastInterval, d, round)
		case tool == "blackbox_exporter (fast)":
			return runBlackbox(tool, 0, d, round)
		case paces[tool].meetnoc > 0:
			return runMeetnoc(tool, paces[tool].meetnoc, d, round)
		default:
			return runBlackbox(tool, paces[tool].blackbox, d, round)
		}
	}
	// Warm-up: unbound's cache, both processes' first sockets and heaps.
	for _, tool := range tools {
		if _, err := turn(tool, time.Second, 0); err != nil {
			return fmt.Errorf("warm-up %s: %w", tool, err)
		}
	}
	var all []result
	for round := 1; round <= *rounds; round++ {
		for i := range tools {
			// The order rotates, so that no tool always follows the same one.
			tool := tools[(round-1+i)%len(tools)]
			r, err := turn(tool, *window, round)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, tool, err)
			}
			fmt.Fprintf(os.Stderr, "harness: round %d %-26s %8.0f probes/s %7.1f µs CPU/probe (ok %.0f/%.0f) %.1f context switches/probe; unbound %.1f µs/probe\n",
				round, tool, r.rate(), 1e6*r.cpuPerProbe(), r.OK, r.Probes, r.switchesPerProbe(), 1e6*r.unboundPerProbe())
			all = append(all, r)
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	report(os.Stdout, all, tools, reportParams{
		rounds: *rounds, window: *window, resolvers: *resolvers, checks: *checks,
		fastInterval: *fastInterval, clients: *clients, rates: rates,
	})
	return nil
}

type reportParams struct {
	rounds, resolvers, checks, clients int
	window, fastInterval               time.Duration
	rates                              []float64
}

func report(w io.Writer, all []result, tools []string, p reportParams) {
	med := func(tool string, f func(result) float64) float64 {
		var v []float64
		for _, r := range all {
			if r.Tool == tool {
				v = append(v, f(r))
			}
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	each := func(tool string, f func(result) float64, format string) string {
		var s []string
		for _, r := range all {
			if r.Tool == tool {
				s = append(s, fmt.Sprintf(format, f(r)))
			}
		}
		return strings.Join(s, ", ")
	}
	us := func(f func(result) float64) func(result) float64 { return func(r result) float64 { return 1e6 * f(r) } }
	okShare := func(r result) float64 { return 100 * r.OK / r.Probes }

	fmt.Fprintf(w, "### meetnoc and blackbox_exporter on the same unbound\n\n")
	fmt.Fprintf(w, "%d rounds of %s per tool, the order rotating; one warm-up second each before. ", p.rounds, p.window)
	fmt.Fprintf(w, "meetnoc: probes/dns's Prober in a process of its own, %d resolvers (one socket each, all the same unbound) × %d checks (`ipv4only.arpa` AAAA, `dns64: true`) = %d probes, each every %s (fast) or, paced, at an interval that makes %s probes/s in all; CPU from getrusage in that process while the Prober runs (not New, teardown or the final count, as blackbox_exporter's process runs throughout). ",
		p.resolvers, p.checks, p.resolvers*p.checks, p.fastInterval, rateList(p.rates))
	fmt.Fprintf(w, "blackbox_exporter: `/probe?module=dns&target=127.0.0.1:PORT` from %d concurrent keep-alive HTTP clients, as fast as they go (fast) or each on a ticker for the same %s probes/s in all (paced); CPU of the exporter's process from /proc/PID/stat. unbound's CPU is not in either; it is shown apart.\n\n", p.clients, rateList(p.rates))
	fmt.Fprintln(w, "| tool | probes/s (median) | CPU per probe (median) | CPU per probe, each round | context switches per probe (median) | succeeded | unbound CPU per query (median) |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|")
	for _, tool := range tools {
		fmt.Fprintf(w, "| %s | %.0f | **%.1f µs** | %s µs | %.2f | %.2f %% | %.1f µs |\n", tool,
			med(tool, result.rate), med(tool, us(result.cpuPerProbe)), each(tool, us(result.cpuPerProbe), "%.1f"),
			med(tool, result.switchesPerProbe), med(tool, okShare), med(tool, us(result.unboundPerProbe)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| goal: meetnoc ≥ 20× less CPU per probe than blackbox_exporter | blackbox ÷ meetnoc (medians) | per round | |")
	fmt.Fprintln(w, "|---|---:|---|---|")
	for i := 0; i < len(tools); i += 2 {
		pair := [2]string{tools[i], tools[i+1]}
		m, bb := med(pair[0], us(result.cpuPerProbe)), med(pair[1], us(result.cpuPerProbe))
		var per []string
		for round := 1; round <= p.rounds; round++ {
			var a, b float64
			for _, r := range all {
				if r.Round == round && r.Tool == pair[0] {
					a = r.cpuPerProbe()
				}
				if r.Round == round && r.Tool == pair[1] {
					b = r.cpuPerProbe()
				}
			}
			if a > 0 {
				per = append(per, fmt.Sprintf("%.1f×", b/a))
			}
		}
		verdict := "met"
		if bb/m < 20 {
			verdict = "**missed**"
		}
		fmt.Fprintf(w, "| %s against %s | **%.1f×** | %s | %s |\n", pair[0], pair[1], bb/m, strings.Join(per, ", "), verdict)
	}
	fmt.Fprintln(w)
	var cross []string
	for i := 0; i < len(tools); i += 2 {
		cross = append(cross, fmt.Sprintf("%.1f µs (%s)", med(tools[i], us(func(r result) float64 { return r.CPUStat / r.Probes })), strings.TrimSuffix(strings.TrimPrefix(tools[i], "meetnoc ("), ")")))
	}
	fmt.Fprintf(w, "meetnoc's CPU from /proc/PID/stat (clock ticks) as a cross-check of getrusage, medians per probe: %s.\n\n", strings.Join(cross, ", "))
}

func rateList(rates []float64) string {
	s := make([]string, len(rates))
	for i, r := range rates {
		s[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strings.Join(s, " or ")
}

func meetnocConfig(addr string, resolvers, checks int) string {
	var b strings.Builder
	b.WriteString("nat64_prefixes: [64:ff9b::/96]\ndns:\n  interval: 1s\n  timeout: 2s\n  resolvers:\n")
	for i := range resolvers {
		fmt.Fprintf(&b, "    - {name: r%d, address: %q}\n", i, addr)
	}
	b.WriteString("  checks:\n")
	for i := range checks {
		fmt.Fprintf(&b, "    - {name: dns64-%02d, query: %s, type: AAAA, dns64: true}\n", i, queryName)
	}
	return b.String()
}

// The same check in blackbox_exporter's terms: NOERROR and an AAAA answer
// synthesized from 192.0.0.170.
const blackboxConfig = `modules:
  dns:
    prober: dns
    timeout: 2s
    dns:
      query_name: ` + queryName + `
      query_type: AAAA
      transport_protocol: udp
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_none_matches_regexp: ["` + wantAAAA + `"]
`

// probeOnce asks blackbox_exporter for one probe and reads the whole answer,
// keeping the connection for the next.
func probeOnce(hc *http.Client, url string) (bool, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.Contains(string(body), "\nprobe_success 1\n"), nil
}

func waitHTTP(hc *http.Client, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := probeOnce(hc, url)
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("blackbox_exporter did not answer a successful probe within %s (ok %v, %v)", within, ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procCPU is a process's user + system time in seconds from /proc/PID/stat
// (clock ticks of 10 ms).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	// utime and stime are fields 14 and 15 of the line; f[0] is field 3.
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// contextSwitches sums the voluntary and involuntary context switches of a
// process's threads (/proc/PID/task/*/status; a Go process's threads live as
// long as it does, so none is lost in a round).
func contextSwitches(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n float64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				x, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				n += x
			}
		}
	}
	return n
}

// childPID finds this process's child with the given command name.
func childPID(comm string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if s[open+1:end] == comm && len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %q", comm)
}

// tb lets a program use internal/testenv, which takes a testing.TB: the methods
// testenv calls are implemented; the embedded nil interface is never called.
type tb struct {
	testing.TB
	dir      string
	n        int
	mu       sync.Mutex
	cleanups []func()
	once     sync.Once
	failed   bool
}

func newTB(dir string) *tb { return &tb{dir: dir} }

func (t *tb) Helper()                 {}
func (t *tb) Failed() bool            { return t.failed }
func (t *tb) Cleanup(f func())        { t.cleanups = append(t.cleanups, f) }
func (t *tb) Logf(f string, a ...any) { fmt.Fprintf(os.Stderr, "harness: "+f+"\n", a...) }
func (t *tb) Log(a ...any)            { fmt.Fprintln(os.Stderr, append([]any{"harness:"}, a...)...) }
func (t *tb) TempDir() string {
	t.n++
	d := filepath.Join(t.dir, fmt.Sprintf("testenv-%d", t.n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
func (t *tb) Fatal(a ...any) { t.Fatalf("%s", fmt.Sprint(a...)) }
func (t *tb) Fatalf(f string, a ...any) {
	t.failed = true
	fmt.Fprintf(os.Stderr, "harness: "+f+"\n", a...)
	t.cleanup()
	os.Exit(1)
}
func (t *tb) Skipf(f string, a ...any) { t.Fatalf(f, a...) }

// cleanup runs the cleanups once, last registered first, whether the run ends
// normally, fails or is stopped by a signal.
func (t *tb) cleanup() {
	t.once.Do(func() {
		t.mu.Lock()
		fs := t.cleanups
		t.mu.Unlock()
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
	})
}
