package snmp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// gather scrapes c through a registry, as /metrics does, and renders every
// series as "name{a="x",b="y"}" → value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			b.WriteByte('{')
			for i, l := range m.GetLabel() {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=%q", l.GetName(), l.GetValue())
			}
			b.WriteByte('}')
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[b.String()] = v
		}
	}
	return out
}

// withPrefix counts the series whose name starts with prefix.
func withPrefix(series map[string]float64, prefix string) int {
	n := 0
	for k := range series {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func TestCollectAndCompare(t *testing.T) {
	a := startAgent(t, ifTree(2).freeze())
	tg := targetConf("sw1", a.Addr(), "test_if")
	tg.Labels = map[string]string{"role": "access", "room": "Hall A"}
	c := newCollector(t, testConfig(tg))

	// Before the first poll: the counters, at zero, and the target's info.
	want := fmt.Sprintf(`
# HELP meetnoc_snmp_polls_total Polls of the SNMP target by result: ok, timeout (no answer), auth (SNMPv3 credentials rejected) or error.
# TYPE meetnoc_snmp_polls_total counter
meetnoc_snmp_polls_total{result="auth",target="sw1"} 0
meetnoc_snmp_polls_total{result="error",target="sw1"} 0
meetnoc_snmp_polls_total{result="ok",target="sw1"} 0
meetnoc_snmp_polls_total{result="timeout",target="sw1"} 0
# HELP meetnoc_snmp_target_info Configuration of an SNMP target: its address, profiles and own labels; always 1.
# TYPE meetnoc_snmp_target_info gauge
meetnoc_snmp_target_info{address=%q,profiles="test_if",role="access",room="Hall A",target="sw1"} 1
`, a.Addr())
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "meetnoc_snmp_polls_total", "meetnoc_snmp_target_info", "meetnoc_snmp_up", "meetnoc_interface_up"); err != nil {
		t.Error(err)
	}

	if err := c.Poll(context.Background(), "sw1"); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP meetnoc_interface_receive_bytes_total Bytes received.
# TYPE meetnoc_interface_receive_bytes_total counter
meetnoc_interface_receive_bytes_total{alias="port 1",interface="Gi1/0/1",target="sw1"} 1e+12
meetnoc_interface_receive_bytes_total{alias="port 2",interface="Gi1/0/2",target="sw1"} 2e+12
# HELP meetnoc_interface_receive_errors_total Receive errors.
# TYPE meetnoc_interface_receive_errors_total counter
meetnoc_interface_receive_errors_total{alias="port 1",interface="Gi1/0/1",target="sw1"} 1
meetnoc_interface_receive_errors_total{alias="port 2",interface="Gi1/0/2",target="sw1"} 2
# HELP meetnoc_interface_speed_bytes Speed.
# TYPE meetnoc_interface_speed_bytes gauge
meetnoc_interface_speed_bytes{alias="port 1",interface="Gi1/0/1",target="sw1"} 1.25e+08
meetnoc_interface_speed_bytes{alias="port 2",interface="Gi1/0/2",target="sw1"} 1.25e+08
# HELP meetnoc_interface_up Oper status up.
# TYPE meetnoc_interface_up gauge
meetnoc_interface_up{alias="port 1",interface="Gi1/0/1",target="sw1"} 0
meetnoc_interface_up{alias="port 2",interface="Gi1/0/2",target="sw1"} 1
# HELP meetnoc_snmp_agent_restarts_total Times the target's sysUpTime.0 went backwards: its agent or the device restarted.
# TYPE meetnoc_snmp_agent_restarts_total counter
meetnoc_snmp_agent_restarts_total{target="sw1"} 0
# HELP meetnoc_snmp_max_repetitions GETBULK max-repetitions the target is walked with after automatic back-off; 0 while it is walked with GETNEXT.
# TYPE meetnoc_snmp_max_repetitions gauge
meetnoc_snmp_max_repetitions{target="sw1"} 25
# HELP meetnoc_snmp_poll_overruns_total Polls of the SNMP target that took longer than its interval.
# TYPE meetnoc_snmp_poll_overruns_total counter
meetnoc_snmp_poll_overruns_total{target="sw1"} 0
# HELP meetnoc_snmp_polls_total Polls of the SNMP target by result: ok, timeout (no answer), auth (SNMPv3 credentials rejected) or error.
# TYPE meetnoc_snmp_polls_total counter
meetnoc_snmp_polls_total{result="auth",target="sw1"} 0
meetnoc_snmp_polls_total{result="error",target="sw1"} 0
meetnoc_snmp_polls_total{result="ok",target="sw1"} 1
meetnoc_snmp_polls_total{result="timeout",target="sw1"} 0
# HELP meetnoc_snmp_up Whether the last poll of the SNMP target succeeded (1) or failed (0).
# TYPE meetnoc_snmp_up gauge
meetnoc_snmp_up{target="sw1"} 1
# HELP test_sys_uptime_seconds Agent uptime.
# TYPE test_sys_uptime_seconds gauge
test_sys_uptime_seconds{target="sw1"} 1234.56
`
	names := []string{
		"meetnoc_interface_receive_bytes_total", "meetnoc_interface_receive_errors_total",
		"meetnoc_interface_speed_bytes", "meetnoc_interface_up", "meetnoc_snmp_agent_restarts_total",
		"meetnoc_snmp_max_repetitions", "meetnoc_snmp_poll_overruns_total", "meetnoc_snmp_polls_total",
		"meetnoc_snmp_up", "test_sys_uptime_seconds",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	got := gather(t, c)
	s := snapshotOf(t, c, "sw1")
	if got[`meetnoc_snmp_varbinds{target="sw1"}`] != float64(s.varbinds) || s.varbinds < 1+6*2 {
		t.Errorf("varbinds %v (snapshot %d), want at least %d", got[`meetnoc_snmp_varbinds{target="sw1"}`], s.varbinds, 1+6*2)
	}
	if req := got[`meetnoc_snmp_requests_total{target="sw1"}`]; req < 2 || req != float64(a.Stats().Received) {
		t.Errorf("requests_total %v, the agent received %d", req, a.Stats().Received)
	}
	if d := got[`meetnoc_snmp_poll_duration_seconds{target="sw1"}`]; d <= 0 || d > 1 {
		t.Errorf("poll duration %v s", d)
	}
	if ts := got[`meetnoc_snmp_last_success_timestamp_seconds{target="sw1"}`]; time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last success %v is not now", ts)
	}
}

// wlcTree is a controller with the named APs (one radio each, two clients
// per radio) and one WLAN.
func wlcTree(aps ...string) *snmpagent.Tree {
	tr := &tree{}
	tr.set(sysUpTimeOID, gosnmp.TimeTicks, uint32(1000))
	for i, name := range aps {
		mac := fmt.Sprintf("0.26.30.0.0.%d", i+1)
		tr.set(oidAPName+"."+mac, gosnmp.OctetString, []byte(name))
		tr.set(oidAPStatus+"."+mac, gosnmp.Integer, 1)
		tr.set(oidRadioClients+"."+mac+".0", gosnmp.Gauge32, uint32(2))
	}
	tr.set(oidEssSSID+".1", gosnmp.OctetString, []byte("ietf"))
	tr.set(oidEssClients+".1", gosnmp.Counter32, uint32(2*len(aps)))
	return tr.freeze()
}

func TestFailedPollDropsSeries(t *testing.T) {
	a := startAgent(t, wlcTree("a1", "a2"))
	b := startAgent(t, ifTree(3).freeze())
	cfg := testConfig(targetConf("wlc1", a.Addr(), "test_wlc"), targetConf("sw1", b.Addr(), "test_if"))
	cfg.SNMP.Timeout = 100 * time.Millisecond
	c := newCollector(t, cfg)
	ctx := context.Background()
	for _, name := range []string{"wlc1", "sw1"} {
		if err := c.Poll(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	got := gather(t, c)
	if got[`meetnoc_ap_up{ap="a2",controller="wlc1"}`] != 1 || got[`meetnoc_ssid_clients{controller="wlc1",ssid="ietf"}`] != 4 {
		t.Fatalf("before: %v", got)
	}

	// a2 vanishes while the controller answers: held at 0.
	a.SetMIB(wlcTree("a1"))
	if err := c.Poll(ctx, "wlc1"); err != nil {
		t.Fatal(err)
	}
	got = gather(t, c)
	if v, ok := got[`meetnoc_ap_up{ap="a2",controller="wlc1"}`]; !ok || v != 0 {
		t.Errorf("vanished AP: %v, %v; want held at 0", v, ok)
	}
	if _, ok := got[`meetnoc_ap_clients{ap="a2",controller="wlc1"}`]; ok {
		t.Errorf("the vanished AP's client count is still exported")
	}

	// The controller stops answering: all its data goes at once, the
	// poller's own series stay, and the other target is untouched.
	a.faults.SetDrop(true)
	if err := c.Poll(ctx, "wlc1"); err == nil {
		t.Fatal("poll of a dropping agent succeeded")
	}
	got = gather(t, c)
	if n := withPrefix(got, "meetnoc_ap_") + withPrefix(got, "meetnoc_ssid_"); n != 0 {
		t.Errorf("%d data series of the failed target remain", n)
	}
	for key, want := range map[string]float64{
		`meetnoc_snmp_up{target="wlc1"}`:                           0,
		`meetnoc_snmp_polls_total{result="timeout",target="wlc1"}`: 1,
		`meetnoc_snmp_polls_total{result="ok",target="wlc1"}`:      2,
		`meetnoc_snmp_up{target="sw1"}`:                            1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for _, key := range []string{`meetnoc_snmp_last_success_timestamp_seconds{target="wlc1"}`, `meetnoc_snmp_poll_duration_seconds{target="wlc1"}`} {
		if _, ok := got[key]; !ok {
			t.Errorf("%s vanished with the data", key)
		}
	}
	if n := withPrefix(got, "meetnoc_interface_"); n != 3*4 {
		t.Errorf("the healthy target has %d interface series, want 12", n)
	}
	st := statusOf(t, c, "wlc1")
	if st.Up || st.LastResult != resultTimeout || st.ConsecutiveFailures != 1 || st.Samples != 0 || st.LastSuccess.IsZero() {
		t.Errorf("status after failure: %+v", st)
	}

	// Back: the AP that vanished before is still held (its hold time runs
	// from when it was last seen).
	a.faults.SetDrop(false)
	if err := c.Poll(ctx, "wlc1"); err != nil {
		t.Fatal(err)
	}
	got = gather(t, c)
	if v, ok := got[`meetnoc_ap_up{ap="a2",controller="wlc1"}`]; !ok || v != 0 {
		t.Errorf("after recovery the vanished AP is %v, %v; want held at 0", v, ok)
	}
}

func TestCollectAndLint(t *testing.T) {
	a := startAgent(t, wlcTree("hall-a-01", "hall-b-01"))
	b := startAgent(t, ifTree(4).freeze())
	dead := startAgent(t, ifTree(1).freeze())
	dead.faults.SetDrop(true)
	tg := targetConf("sw1", b.Addr(), "test_if")
	tg.Labels = map[string]string{"role": "access"}
	cfg := testConfig(targetConf("wlc1", a.Addr(), "test_wlc"), tg, targetConf("dead", dead.Addr(), "test_if"))
	cfg.SNMP.Timeout = 50 * time.Millisecond
	c := newCollector(t, cfg)
	for _, name := range []string{"wlc1", "sw1", "dead"} {
		_ = c.Poll(context.Background(), name)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(c); n < 30 {
		t.Errorf("only %d series: the lint had little to check", n)
	}
}

func TestNewErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*config.Config)
		want string
	}{
		"label collides with target label": {func(c *config.Config) {
			c.Profiles["test_if"].Tables[0].Labels[0].Name = "target"
		}, `label "target" collides with the profile's target label`},
		"constant label collides": {func(c *config.Config) {
			c.Profiles["test_if"].Tables[0].Metrics[0].Labels = map[string]string{"interface": "x"}
		}, `constant label "interface" collides`},
		"families disagree on help": {func(c *config.Config) {
			p := ifProfile()
			p.Name = "other"
			p.Tables[0].Metrics[0].Help = "Something else."
			c.Profiles["other"] = p
			c.SNMP.Targets = append(c.SNMP.Targets, targetConf("sw2", "127.0.0.1:1", "other"))
		}, `differs from "Bytes received."`},
		"families disagree on labels": {func(c *config.Config) {
			p := wlcProfile()
			p.Name = "other"
			p.TargetLabel = "target"
			c.Profiles["other"] = p
			c.SNMP.Targets = append(c.SNMP.Targets, targetConf("wlc2", "127.0.0.1:1", "other", "test_wlc"))
		}, "differ from [ap"},
		"reserved name": {func(c *config.Config) {
			c.Profiles["test_if"].Scalars[0].Name = "meetnoc_snmp_up"
		}, "reserved"},
		"unknown profile": {func(c *config.Config) {
			c.SNMP.Targets[0].Profiles = []string{"nope"}
		}, `unknown profile "nope"`},
		"unknown auth": {func(c *config.Config) {
			c.SNMP.Targets[0].Auth = "nope"
		}, `unknown auth "nope"`},
		"incomplete auth": {func(c *config.Config) {
			c.SNMP.Auths["public"] = &config.Auth{Version: "3", Username: "u", SecurityLevel: "authPriv", AuthProtocol: "SHA", AuthPassword: "x"}
		}, "needs priv_protocol"},
		"duplicate target": {func(c *config.Config) {
			c.SNMP.Targets = append(c.SNMP.Targets, targetConf("sw1", "127.0.0.1:2", "test_if"))
		}, `target "sw1" defined twice`},
		"info label collides": {func(c *config.Config) {
			c.SNMP.Targets[0].Labels = map[string]string{"address": "x"}
		}, `label "address" collides`},
		"bad address": {func(c *config.Config) {
			c.SNMP.Targets[0].Address = "127.0.0.1:x"
		}, "bad port"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(targetConf("sw1", "127.0.0.1:161", "test_if"))
			tc.edit(cfg)
			_, err := New(cfg, testLogger(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	a := startAgent(t, ifTree(2).freeze())
	cfg := testConfig(targetConf("keep", a.Addr(), "test_if"), targetConf("drop", a.Addr(), "test_if"),
		targetConf("change", a.Addr(), "test_if"))
	c := newCollector(t, cfg)
	for _, name := range []string{"keep", "drop", "change"} {
		if err := c.Poll(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	kept := snapshotOf(t, c, "keep")

	// A new config object with the same content for "keep", as a reload
	// builds it, another interval for "change", no "drop", and a new target.
	next := testConfig(targetConf("keep", a.Addr(), "test_if"), targetConf("change", a.Addr(), "test_if"),
		targetConf("new", a.Addr(), "test_if"))
	next.SNMP.Targets[1].Interval = 5 * time.Second
	next.Profiles["test_if"].File = "/etc/meetnoc/profiles.d/moved.yml" // moved, not changed
	if err := c.Apply(next); err != nil {
		t.Fatal(err)
	}
	if snapshotOf(t, c, "keep") != kept {
		t.Error("the unchanged target lost its snapshot")
	}
	if snapshotOf(t, c, "change") != nil {
		t.Error("the changed target kept its old snapshot")
	}
	got := gather(t, c)
	if n := withPrefix(got, `meetnoc_interface_up{alias="port 1",interface="Gi1/0/1",target="drop"}`); n != 0 {
		t.Error("the removed target's series remain")
	}
	for k := range got {
		if strings.Contains(k, `target="drop"`) {
			t.Errorf("series of the removed target: %s", k)
		}
	}
	if _, ok := got[`meetnoc_interface_up{alias="port 1",interface="Gi1/0/1",target="keep"}`]; !ok {
		t.Error("the kept target's series are gone")
	}
	if err := c.Poll(context.Background(), "drop"); err == nil {
		t.Error("Poll of a removed target succeeded")
	}

	// A bad config changes nothing.
	bad := testConfig(targetConf("keep", a.Addr(), "nope"))
	if err := c.Apply(bad); err == nil {
		t.Fatal("Apply of a bad config succeeded")
	}
	if names := statusNames(c); names != "change keep new" {
		t.Errorf("targets after a rejected config: %s", names)
	}

	// A changed auth secret is a change.
	changed := testConfig(targetConf("keep", a.Addr(), "test_if"))
	changed.SNMP.Auths["public"].Community = "other"
	if err := c.Apply(changed); err != nil {
		t.Fatal(err)
	}
	if snapshotOf(t, c, "keep") == kept {
		t.Error("a target whose community changed kept running")
	}
}

func statusNames(c *Collector) string {
	var names []string
	for _, s := range c.Status() {
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

// TestScheduling runs two targets every 200 ms, one of them dead: the healthy
// one keeps its pace, the dead one is retried with back-off, overruns are
// counted, and Run returns promptly when cancelled, mid-request included.
func TestScheduling(t *testing.T) {
	healthy := startAgent(t, ifTree(4).freeze())
	dead := startAgent(t, ifTree(4).freeze())
	dead.faults.SetDrop(true)
	slow := startAgent(t, ifTree(1).freeze())
	slow.faults.SetDelay(60 * time.Millisecond)
	cfg := testConfig(targetConf("healthy", healthy.Addr(), "test_if"), targetConf("dead", dead.Addr(), "test_if"),
		targetConf("slow", slow.Addr(), "test_if"))
	cfg.SNMP.Interval = 200 * time.Millisecond
	cfg.SNMP.Timeout = 150 * time.Millisecond
	cfg.SNMP.Targets[2].Interval = 100 * time.Millisecond // GET and two walk requests take 180 ms
	cfg.SNMP.Targets[2].Timeout = time.Second
	c := newCollector(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() {
		defer wg.Done()
		runErr = c.Run(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	// The first polls spread over the first interval; then every 200 ms
	// ± 10 %. Six polls take 1.2 s at most; allow for a loaded machine.
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for {
		s := snapshotOf(t, c, "healthy")
		if s != nil && s.polls[resultIndex(resultOK)] >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy target: %d polls in %v", s.polls[0], time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if elapsed > 2*time.Second {
		t.Errorf("six polls of the healthy target took %v; the dead one held it up?", elapsed)
	}
	st := statusOf(t, c, "dead")
	if st.Up || st.LastResult != resultTimeout || st.ConsecutiveFailures < 1 {
		t.Errorf("dead target: %+v", st)
	}
	// Backed off: no more polls than 1 + elapsed / interval.
	if d := snapshotOf(t, c, "dead"); d.polls[resultIndex(resultTimeout)] > 4 {
		t.Errorf("dead target polled %d times in %v: no back-off", d.polls[resultIndex(resultTimeout)], elapsed)
	}
	if h := statusOf(t, c, "healthy"); h.NextPoll.Before(h.LastPoll) || h.NextPoll.Sub(h.LastPoll) > 300*time.Millisecond {
		t.Errorf("healthy target: last poll %v, next %v", h.LastPoll, h.NextPoll)
	}
	if s := snapshotOf(t, c, "slow"); s == nil || s.overruns == 0 || s.overruns != s.polls[resultIndex(resultOK)] {
		t.Errorf("slow target: %+v; want every poll counted as an overrun", s)
	}

	// Removing a target while running stops it and its series.
	if err := c.Apply(testConfig(targetConf("healthy", healthy.Addr(), "test_if"))); err != nil {
		t.Fatal(err)
	}
	// Different interval now: restarted, but still polled.
	if err := c.Apply(func() *config.Config {
		cc := testConfig(targetConf("healthy", healthy.Addr(), "test_if"))
		cc.SNMP.Interval = 100 * time.Millisecond
		return cc
	}()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(3 * time.Second)
	for snapshotOf(t, c, "healthy") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the restarted target never polled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for k := range gather(t, c) {
		if strings.Contains(k, `target="dead"`) || strings.Contains(k, `target="slow"`) {
			t.Errorf("series of a removed target: %s", k)
		}
	}

	// Cancel while a poll of the dead target waits on its timeout.
	if err := c.Apply(func() *config.Config {
		cc := testConfig(targetConf("dead", dead.Addr(), "test_if"))
		cc.SNMP.Interval = 10 * time.Millisecond
		cc.SNMP.Timeout = 10 * time.Second
		return cc
	}()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stopped := time.Now()
	cancel()
	wg.Wait()
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	if runErr != nil {
		t.Errorf("Run: %v", runErr)
	}
}

func TestBackoffDelay(t *testing.T) {
	tg := &target{ts: &targetSettings{Interval: time.Second, Jitter: 0.1}}
	for _, tc := range []struct {
		failures int
		mult     float64
	}{{0, 1}, {1, 1}, {2, 2}, {3, 4}, {4, 5}, {50, 5}} {
		for range 100 {
			d := tg.delay(tc.failures)
			lo := time.Duration(tc.mult * 0.9 * float64(time.Second))
			hi := time.Duration(tc.mult * 1.1 * float64(time.Second))
			if d < lo || d > hi {
				t.Fatalf("delay after %d failures: %v, want %v to %v", tc.failures, d, lo, hi)
			}
		}
	}
	tg.ts.Jitter = 0
	if d := tg.delay(0); d != time.Second {
		t.Errorf("without jitter: %v", d)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2)
	ctx := context.Background()
	_ = l.acquire(ctx)
	_ = l.acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.acquire(short); err == nil {
		t.Fatal("a third slot of two")
	}
	got := make(chan struct{})
	go func() { _ = l.acquire(ctx); close(got) }()
	l.setLimit(3) // a reload raises max_concurrency: the waiter gets in
	select {
	case <-got:
	case <-time.After(time.Second):
		t.Fatal("raising the limit did not let a waiter in")
	}
	l.setLimit(1)
	l.release()
	l.release()
	got = make(chan struct{})
	go func() { _ = l.acquire(ctx); close(got) }()
	select {
	case <-got:
		t.Fatal("in over a lowered limit")
	case <-time.After(20 * time.Millisecond):
	}
	l.release()
	<-got
}
