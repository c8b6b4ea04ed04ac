package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// device is one agent both tools poll.
type device struct {
	Name, Agent, Label string
	Polls              int
}

type deviceFlags []device

func (d *deviceFlags) String() string { return fmt.Sprint(*d) }

// Set parses "name|host:port|polls|label".
func (d *deviceFlags) Set(s string) error {
	f := strings.SplitN(s, "|", 4)
	if len(f) != 4 {
		return fmt.Errorf("want name|host:port|polls|label, got %q", s)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 1 {
		return fmt.Errorf("bad poll count %q", f[2])
	}
	*d = append(*d, device{Name: f[0], Agent: f[1], Polls: n, Label: f[3]})
	return nil
}

// toolResult is one tool's measurement on one device.
type toolResult struct {
	Tool      string
	Polls     int
	CPU       time.Duration // over all measured polls
	Walls     []time.Duration
	Counts    relayCounts // over all measured polls
	Series    int         // sample lines in one poll's output
	Bytes     int         // size of one poll's output, uncompressed
	WireBytes int         // ... and as sent, gzipped
	Failures  int
}

func (r *toolResult) perPoll(v uint64) float64 { return float64(v) / float64(r.Polls) }

func (r *toolResult) cpuPerPoll() time.Duration { return r.CPU / time.Duration(r.Polls) }

// cpuPerVarbind is in microseconds.
func (r *toolResult) cpuPerVarbind() float64 {
	if r.Counts.Varbinds == 0 {
		return 0
	}
	return float64(r.CPU.Microseconds()) / float64(r.Counts.Varbinds)
}

func (r *toolResult) packets() float64 { return r.perPoll(r.Counts.Requests + r.Counts.Responses) }

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// A poller is one of the two tools, as a running process.
type poller interface {
	name() string
	pid() int
	// poll does one full poll of dev and reads what the tool exposes for
	// it, gzipped as Prometheus asks for it; the caller times it.
	poll(ctx context.Context, dev device) (response, error)
	// check tells whether a poll's output (decoded) is a full one.
	check(text []byte) error
	stop()
}

var client = &http.Client{Timeout: 2 * time.Minute}

// response is a body as it came over the wire, and how it is encoded.
type response struct {
	raw     []byte
	gzipped bool // Content-Encoding: gzip
}

// text is the body decoded: inflated when it came gzipped (checking its CRC
// and length, so a broken stream fails the run).
func (r response) text() ([]byte, error) {
	if !r.gzipped {
		return r.raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.raw))
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	return out, nil
}

// fetch GETs u in the text format. With gzip set it asks for gzip itself, as
// Prometheus does: Go's transport then hands over the compressed bytes as they
// came (it inflates only what it asked for on its own), so that timing fetch
// times the server's work and the transfer, not the harness inflating; call
// text afterwards, outside any timed section. Without gzip it asks for the
// identity encoding.
func fetch(ctx context.Context, u string, gzip bool) (response, error) {
	return fetchSized(ctx, u, gzip, 0)
}

// fetchSized is fetch reading into a buffer of sizeHint bytes to begin with,
// so that a large body is not copied over and over as the buffer grows while
// the clock runs.
func fetchSized(ctx context.Context, u string, gzip bool, sizeHint int) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	} else {
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	buf := bytes.NewBuffer(make([]byte, 0, max(sizeHint, 512)))
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return response{}, err
	}
	r := response{raw: buf.Bytes(), gzipped: resp.Header.Get("Content-Encoding") == "gzip"}
	if resp.StatusCode != http.StatusOK {
		text, _ := r.text()
		return r, fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, text)
	}
	if r.gzipped && !gzip {
		return r, fmt.Errorf("GET %s: gzip-encoded answer to a request for identity", u)
	}
	return r, nil
}

// get fetches u where its timing does not matter (readiness, /poll's JSON)
// and decodes the body.
func get(ctx context.Context, u string) ([]byte, error) {
	r, err := fetch(ctx, u, true)
	if err != nil {
		return nil, err
	}
	return r.text()
}

// startProcess starts a child that dies with the harness.
func startProcess(name string, args []string, stdout, stderr io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, cmd.Start()
}

func stopProcess(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// meetnocPoller is bench/snmp/poller: the daemon, its SNMP collector polling
// on request.
type meetnocPoller struct {
	cmd  *exec.Cmd
	base string
}

func startMeetnoc(bin, cfgFile string) (*meetnocPoller, error) {
	pr, pw := io.Pipe()
	cmd, err := startProcess(bin, []string{"-config.file", cfgFile}, pw, os.Stderr)
	if err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(pr)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &meetnocPoller{cmd: cmd, base: "http://" + a}, nil
	case <-time.After(20 * time.Second):
		stopProcess(cmd)
		return nil, errors.New("meetnoc poller did not start")
	}
}

func (m *meetnocPoller) name() string { return "meetnoc" }
func (m *meetnocPoller) pid() int     { return m.cmd.Process.Pid }
func (m *meetnocPoller) stop()        { stopProcess(m.cmd) }

// poll polls, then scrapes /metrics once: meetnoc's poll and its exposition
// are separate steps, and Prometheus scrapes once per poll interval.
func (m *meetnocPoller) poll(ctx context.Context, dev device) (response, error) {
	body, err := get(ctx, m.base+"/poll?target="+url.QueryEscape(dev.Name))
	if err != nil {
		return response{}, err
	}
	var res struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return response{}, err
	}
	if res.Error != "" {
		return response{}, errors.New(res.Error)
	}
	return fetch(ctx, m.base+"/metrics", true)
}

// check wants the target up and its interface series there.
func (m *meetnocPoller) check(text []byte) error {
	up := false
	for line := range strings.Lines(string(text)) {
		if strings.HasPrefix(line, "meetnoc_snmp_up{") && strings.HasSuffix(line, "} 1\n") {
			up = true
			break
		}
	}
	if !up || !strings.Contains(string(text), "\nmeetnoc_interface_up{") {
		return fmt.Errorf("meetnoc output lacks an up target with interfaces: %.300s", text)
	}
	return nil
}

// exporterPoller is Prometheus' snmp_exporter: a scrape of /snmp is a poll.
type exporterPoller struct {
	cmd    *exec.Cmd
	base   string
	module string
	relay  map[string]string // device name → address of its relay
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startExporter(bin, cfgFile, module, logFile string, relays map[string]string) (*exporterPoller, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd, err := startProcess(bin, []string{"--config.file=" + cfgFile, "--web.listen-address=" + addr}, log, log)
	if err != nil {
		return nil, err
	}
	e := &exporterPoller{cmd: cmd, base: "http://" + addr, module: module, relay: relays}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := get(context.Background(), e.base+"/"); err == nil {
			return e, nil
		}
		if time.Now().After(deadline) {
			stopProcess(cmd)
			return nil, fmt.Errorf("snmp_exporter did not start; see %s", logFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *exporterPoller) name() string { return "snmp_exporter" }
func (e *exporterPoller) pid() int     { return e.cmd.Process.Pid }
func (e *exporterPoller) stop()        { stopProcess(e.cmd) }

func (e *exporterPoller) poll(ctx context.Context, dev device) (response, error) {
	return fetch(ctx, e.base+"/snmp?module="+url.QueryEscape(e.module)+"&target="+url.QueryEscape(e.relay[dev.Name]), true)
}

// check wants every walked column: 0.21 answers 200 with what it has when the
// walk fails half way.
func (e *exporterPoller) check(text []byte) error {
	if !strings.Contains(string(text), "\nifHighSpeed{") {
		return fmt.Errorf("snmp_exporter output lacks ifHighSpeed: %.300s", text)
	}
	return nil
}

// seriesIn counts the sample lines of a text exposition.
func seriesIn(out []byte) int {
	n := 0
	for line := range strings.Lines(string(out)) {
		if line != "" && line[0] != '#' && strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

func compareMain(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	var devices deviceFlags
	fs.Var(&devices, "device", "an agent to poll: name|host:port|polls|label (repeatable)")
	pollerBin := fs.String("poller", "", "bench/snmp/poller binary")
	exporterBin := fs.String("exporter", "/usr/bin/prometheus-snmp-exporter", "snmp_exporter binary")
	exporterCfg := fs.String("exporter.config", "", "snmp.yml for snmp_exporter")
	module := fs.String("module", "if_mib", "snmp_exporter module and meetnoc profile")
	community := fs.String("community", "public", "SNMP v2c community of the agents")
	warmup := fs.Int("warmup", 3, "polls per tool before measuring")
	workdir := fs.String("workdir", "", "directory for generated files and logs")
	jsonOut := fs.String("json", "", "also write the raw results here")
	_ = fs.Parse(args)
	if len(devices) == 0 || *pollerBin == "" || *exporterCfg == "" || *workdir == "" {
		fs.Usage()
		return errors.New("missing flags")
	}
	ctx := context.Background()
	type deviceResult struct {
		Device  device
		Results []*toolResult // meetnoc, snmp_exporter
	}
	var all []deviceResult
	for _, dev := range devices {
		res, err := compareDevice(ctx, dev, *pollerBin, *exporterBin, *exporterCfg, *module, *community, *workdir, *warmup)
		if err != nil {
			return fmt.Errorf("%s: %w", dev.Name, err)
		}
		all = append(all, deviceResult{dev, res})
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}

	fmt.Println("### meetnoc and snmp_exporter 0.21 on the same agents")
	fmt.Println()
	fmt.Println("Per full if_mib poll. meetnoc's poll is a poll on request (`GET /poll`: the daemon's SNMP collector, `Collector.Poll`) plus one scrape of the daemon's own `/metrics` handler (bench/snmp/poller builds the daemon with `daemon.New`); snmp_exporter's poll is its scrape. Both scrapes ask for gzip, as Prometheus does. Packets and varbinds counted by the harness's UDP relay; CPU is user+system time of the tool's process from /proc/PID/stat over all polls.")
	fmt.Println()
	fmt.Println("| agent | tool | polls | wall/poll (median) | SNMP requests/poll (GET + GETNEXT + GETBULK) | responses/poll | UDP payload/poll | varbinds/poll | CPU/poll | CPU/varbind | series out | output text / gzip |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, d := range all {
		for _, r := range d.Results {
			fmt.Printf("| %s | %s | %d | %.1f ms | %.1f (%.1f + %.1f + %.1f) | %.1f | %.1f kB | %.0f | %.2f ms | %.2f µs | %d | %.0f / %.0f kB |\n",
				d.Device.Label, r.Tool, r.Polls, ms(median(r.Walls)), r.perPoll(r.Counts.Requests),
				r.perPoll(r.Counts.Gets), r.perPoll(r.Counts.GetNexts), r.perPoll(r.Counts.GetBulks), r.perPoll(r.Counts.Responses),
				r.perPoll(r.Counts.RequestBytes+r.Counts.ResponseBytes)/1000, r.perPoll(r.Counts.Varbinds),
				ms(r.cpuPerPoll()), r.cpuPerVarbind(), r.Series, float64(r.Bytes)/1000, float64(r.WireBytes)/1000)
		}
	}
	fmt.Println()
	fmt.Println("| agent | CPU/varbind meetnoc ÷ snmp_exporter (goal ≤ 0.50) | CPU/poll ratio | packets/poll ratio (goal ≤ 1) | wall/poll ratio |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, d := range all {
		m, e := d.Results[0], d.Results[1]
		cpuRatio := m.cpuPerVarbind() / e.cpuPerVarbind()
		pktRatio := m.packets() / e.packets()
		fmt.Printf("| %s | **%.2f** %s | %.2f | **%.2f** %s | %.2f |\n", d.Device.Label,
			cpuRatio, verdict(cpuRatio <= 0.5), float64(m.cpuPerPoll())/float64(e.cpuPerPoll()),
			pktRatio, verdict(pktRatio <= 1), float64(median(m.Walls))/float64(median(e.Walls)))
	}
	fmt.Println()
	return nil
}

func verdict(met bool) string {
	if met {
		return "(met)"
	}
	return "(**missed**)"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// compareDevice measures both tools on one agent, each in a fresh process that
// knows only this agent (meetnoc's /metrics would otherwise carry every target
// polled before).
func compareDevice(ctx context.Context, dev device, pollerBin, exporterBin, exporterCfg, module, community, workdir string, warmup int) ([]*toolResult, error) {
	mRelay, err := newRelay(dev.Agent)
	if err != nil {
		return nil, err
	}
	defer mRelay.Close()
	eRelay, err := newRelay(dev.Agent)
	if err != nil {
		return nil, err
	}
	defer eRelay.Close()

	cfgFile := filepath.Join(workdir, "meetnoc-"+dev.Name+".yml")
	cfg := fmt.Sprintf(`# Generated by bench/snmp/harness: meetnoc's side of the comparison.
snmp:
  timeout: 5s
  retries: 1
  max_repetitions: 25
  auths:
    bench: {version: "2c", community: %q}
  targets:
    - {name: %s, address: %q, auth: bench, profiles: [%s]}
`, community, dev.Name, mRelay.Addr(), module)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	m, err := startMeetnoc(pollerBin, cfgFile)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	e, err := startExporter(exporterBin, exporterCfg, module, filepath.Join(workdir, "snmp_exporter.log"), map[string]string{dev.Name: eRelay.Addr()})
	if err != nil {
		return nil, err
	}
	defer e.stop()

	tools := []poller{m, e}
	relays := []*relay{mRelay, eRelay}
	results := []*toolResult{{Tool: m.name(), Polls: dev.Polls}, {Tool: e.name(), Polls: dev.Polls}}
	for range warmup {
		for _, t := range tools {
			r, err := t.poll(ctx, dev)
			if err == nil {
				var text []byte
				if text, err = r.text(); err == nil {
					err = t.check(text)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%s warm-up poll: %w", t.name(), err)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "harness: %s: %d polls per tool, interleaved\n", dev.Name, dev.Polls)
	startCounts := []relayCounts{mRelay.counts(), eRelay.counts()}
	startCPU := make([]time.Duration, 2)
	for i, t := range tools {
		if startCPU[i], err = cpuTime(t.pid()); err != nil {
			return nil, err
		}
	}
	for i := range dev.Polls {
		// Alternate who goes first, so that drifts in machine load hit both.
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			start := time.Now()
			r, err := tools[k].poll(ctx, dev)
			wall := time.Since(start)
			// Inflating and checking are the harness's work, outside the timing.
			var out []byte
			if err == nil {
				if out, err = r.text(); err == nil {
					err = tools[k].check(out)
				}
			}
			if err != nil {
				results[k].Failures++
				fmt.Fprintf(os.Stderr, "harness: %s: %s poll %d failed: %v\n", dev.Name, tools[k].name(), i, err)
				continue
			}
			results[k].Walls = append(results[k].Walls, wall)
			results[k].Series, results[k].Bytes, results[k].WireBytes = seriesIn(out), len(out), len(r.raw)
		}
	}
	for i, t := range tools {
		end, err := cpuTime(t.pid())
		if err != nil {
			return nil, err
		}
		results[i].CPU = end - startCPU[i]
		// Answers in flight have arrived: every poll waited for its last one.
		results[i].Counts = relays[i].counts().sub(startCounts[i])
		if results[i].Failures > 0 {
			return nil, fmt.Errorf("%s: %d of %d polls failed", t.name(), results[i].Failures, dev.Polls)
		}
		if results[i].Counts.Undecodable > 0 {
			return nil, fmt.Errorf("%s: %d answers the relay could not decode", t.name(), results[i].Counts.Undecodable)
		}
	}
	return results, nil
}
