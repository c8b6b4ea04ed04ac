package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/meetnoc/meetnoc/internal/lab"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// running is a daemon under test, monitoring the lab network.
type running struct {
	d       *Daemon
	base    string
	cfgFile string
	stop    context.CancelFunc
	done    chan error
}

// labConfig starts the lab network and writes its config, polling every second,
// with extraTargets (YAML list items) appended to its targets.
func labConfig(t *testing.T, ctx context.Context, extraTargets ...string) string {
	t.Helper()
	// The lab's clock runs from 10:00 on a meeting day: sessions are on, and the AP
	// that fails at :10, :25, :40 and :55 is up for the next ten minutes, whatever
	// the wall clock says, so that counts of APs do not depend on when tests run.
	return labConfigAt(t, ctx, time.Date(2026, 11, 22, 10, 0, 0, 0, time.Local), extraTargets...)
}

// labConfigAt is labConfig with the lab's clock starting at base.
func labConfigAt(t *testing.T, ctx context.Context, base time.Time, extraTargets ...string) string {
	t.Helper()
	started := time.Now()
	cfgFile, _ := labConfigWith(t, ctx, lab.Options{Now: func() time.Time { return base.Add(time.Since(started)) }}, extraTargets...)
	return cfgFile
}

// labConfigWith starts a lab network with opts (on 127.0.0.1) and writes its
// config, made to poll and probe every second, with extraTargets appended to
// its SNMP targets.
func labConfigWith(t *testing.T, ctx context.Context, opts lab.Options, extraTargets ...string) (string, *lab.Network) {
	t.Helper()
	opts.Host = "127.0.0.1"
	network, err := lab.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { network.Close() })

	// The lab polls every 10 s; tests want to see several polls quickly.
	cfgText := string(lab.Quicken(network.ConfigYAML(), time.Second, 500*time.Millisecond))
	for _, extra := range extraTargets {
		cfgText += "    - " + extra + "\n"
	}
	cfgFile := filepath.Join(t.TempDir(), "meetnoc.yml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgFile, network
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startDaemon runs a daemon on the lab network's config, with extraTargets (YAML
// list items) appended to its targets.
func startDaemon(t *testing.T, extraTargets ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return runDaemon(t, ctx, labConfig(t, ctx, extraTargets...), testLogger())
}

// runDaemon runs a daemon on cfgFile until the test ends.
func runDaemon(t *testing.T, ctx context.Context, cfgFile string, logger *slog.Logger) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	d, err := New(Options{ConfigFile: cfgFile, Logger: logger, Listener: ln, WebConfig: &web.FlagConfig{WebConfigFile: &empty}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	r := &running{d: d, base: "http://" + ln.Addr().String(), cfgFile: cfgFile, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-r.done
	})
	r.waitFor(t, "/-/ready", "ready", 5*time.Second)
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (r *running) post(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Post(r.base+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitFor polls path until its body contains want, bounded by limit.
func (r *running) waitFor(t *testing.T, path, want string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, body := r.get(t, path)
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not show %q within %s; last body:\n%s", path, want, limit, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDaemonServesTheLab(t *testing.T) {
	r := startDaemon(t)

	if code, body := r.get(t, "/-/healthy"); code != 200 || !strings.Contains(body, "healthy") {
		t.Errorf("/-/healthy: %d %q", code, body)
	}
	// Every lab device gets polled and shows up.
	metrics := r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="wlc1"} 1`, 15*time.Second)
	for _, dev := range []string{"core1", "core2", "access1", "access4"} {
		metrics = r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="`+dev+`"} 1`, 15*time.Second)
	}
	for _, want := range []string{
		"meetnoc_build_info{",
		"meetnoc_config_last_reload_successful 1",
		`meetnoc_interface_receive_bytes_total{alias="`,
		`meetnoc_ap_up{ap="ietf-ap-01",controller="wlc1"}`,
		`meetnoc_ssid_clients{controller="wlc1",ssid="ietf"}`,
		`meetnoc_snmp_polls_total{result="ok",target="core1"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The whole exposition, registry and pre-rendered SNMP chunks together,
	// passes promtool's linter; so do the registry and the SNMP collector's
	// Collect on their own.
	testenv.CheckMetrics(t, []byte(metrics))
	if problems, err := testutil.GatherAndLint(r.d.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	if problems, err := testutil.CollectAndLint(r.d.snmp); err != nil || len(problems) > 0 {
		t.Errorf("lint of the SNMP collector: %v %v", err, problems)
	}

	// The status page: one row per target, readable without external assets.
	code, page := r.get(t, "/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	for _, want := range []string{"<b>core1</b>", "<b>wlc1</b>", "if_mib, cisco_wlc", "<title>meetnoc"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script") {
		t.Error("status page refers to external assets or runs scripts")
	}

	// The config page masks secrets.
	_, shown := r.get(t, "/config")
	if !strings.Contains(shown, "<secret>") || strings.Contains(shown, "lab-auth-pass") || strings.Contains(shown, "lab-priv-pass") {
		t.Errorf("/config does not mask secrets:\n%s", shown)
	}
	if code, _ := r.get(t, "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}
}

// A dead target comes first on the status page, with the agent's error in words.
func TestStatusPageShowsProblemsFirst(t *testing.T) {
	port := testenv.FreeUDPPort(t) // nothing listens there: the kernel answers port unreachable
	r := startDaemon(t, fmt.Sprintf(`{name: zz-dead, address: "127.0.0.1:%d", auth: public_v2, profiles: [if_mib]}`, port))
	r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="zz-dead"} 0`, 15*time.Second)
	_, page := r.get(t, "/")
	first := strings.Index(page, "<tr class=")
	if first < 0 || !strings.HasPrefix(page[first:], `<tr class="down">`) || !strings.Contains(page[first:first+400], "<b>zz-dead</b>") {
		t.Errorf("the dead target is not the first row:\n%s", page[max(first, 0):])
	}
	if !strings.Contains(page, "no response from 127.0.0.1:") || !strings.Contains(page, "1 down") {
		t.Errorf("status page does not explain the failure:\n%s", page)
	}
}

func TestReload(t *testing.T) {
	r := startDaemon(t)
	r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="core1"} 1`, 15*time.Second)
	good, err := os.ReadFile(r.cfgFile)
	if err != nil {
		t.Fatal(err)
	}

	// A bad file is refused whole: the running config stays, polling goes on.
	broken := strings.Replace(string(good), "snmp:", "snmp:\n  intervall: 5s", 1)
	os.WriteFile(r.cfgFile, []byte(broken), 0o600)
	code, body := r.post(t, "/-/reload")
	if code != http.StatusBadRequest || !strings.Contains(body, `snmp.intervall: unknown key (did you mean "interval"?)`) {
		t.Errorf("bad reload: %d %q", code, body)
	}
	metrics := r.waitFor(t, "/metrics", "meetnoc_config_last_reload_successful 0", time.Second)
	if !strings.Contains(metrics, `meetnoc_config_reloads_total{result="failure"} 1`) {
		t.Error("failed reload not counted")
	}
	if _, page := r.get(t, "/"); !strings.Contains(page, "FAILED, running config kept") {
		t.Error("status page does not show the failed reload")
	}
	before := r.d.snmp.Status()
	time.Sleep(1500 * time.Millisecond)
	after := r.d.snmp.Status()
	if len(after) != len(before) || !after[0].LastPoll.After(before[0].LastPoll) {
		t.Errorf("polling stopped after a failed reload: %v → %v", before[0].LastPoll, after[0].LastPoll)
	}

	// A good file with one target fewer, by SIGHUP: access4's series vanish.
	fixed := regexp.MustCompile(`(?m)^    - name: access4\n(      .*\n)*`).ReplaceAllString(string(good), "")
	if fixed == string(good) {
		t.Fatal("test setup: could not remove access4 from the lab config")
	}
	os.WriteFile(r.cfgFile, []byte(fixed), 0o600)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	metrics = r.waitFor(t, "/metrics", "meetnoc_config_last_reload_successful 1", 5*time.Second)
	if strings.Contains(metrics, `target="access4"`) {
		t.Error("access4 still exported after it was removed from the config")
	}
	if !strings.Contains(metrics, `meetnoc_snmp_up{target="core1"} 1`) {
		t.Error("core1 lost its data across the reload")
	}
}

func TestShutdownIsQuick(t *testing.T) {
	r := startDaemon(t)
	r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="core1"} 1`, 15*time.Second)
	start := time.Now()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
		r.done <- err // for the cleanup
	case <-time.After(6 * time.Second):
		t.Fatal("daemon did not stop within 6 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
}
