package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// pollOnce polls a one-target collector and returns its snapshot.
func pollOnce(t *testing.T, c *Collector, name string) (*snapshot, error) {
	t.Helper()
	err := c.Poll(context.Background(), name)
	return snapshotOf(t, c, name), err
}

func TestPollTruncatedBulkAndTooBigGet(t *testing.T) {
	tr := ifTree(150)
	p := &config.Profile{Name: "scalars", TargetLabel: "target"}
	for i := 1; i <= 40; i++ {
		oid := fmt.Sprintf("1.3.6.1.4.1.99999.1.%d.0", i)
		if i <= 38 { // the last two are missing: noSuchObject
			tr.set(oid, gosnmp.Gauge32, uint(i))
		}
		p.Scalars = append(p.Scalars, config.ProfileMetric{
			Name: fmt.Sprintf("test_scalar_%d", i), Help: "A scalar.", Type: "gauge", OID: oid})
	}
	a := startAgent(t, tr.freeze())
	// Every answer must fit 400 bytes: GETs of 32 OIDs are tooBig and must be
	// split, GETBULK answers are cut short and the walk must go on.
	a.faults.SetTooBigOver(400)
	cfg := testConfig(targetConf("sw1", a.Addr(), "test_if", "scalars"))
	cfg.Profiles["scalars"] = p
	c := newCollector(t, cfg)
	s, err := pollOnce(t, c, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	got := series(s.samples)
	for i := 1; i <= 40; i++ {
		v, ok := got[fmt.Sprintf(`test_scalar_%d{target="sw1"}`, i)]
		if i <= 38 && (!ok || v != float64(i)) {
			t.Errorf("scalar %d = %v, %v; want %d", i, v, ok, i)
		}
		if i > 38 && ok {
			t.Errorf("scalar %d exported though the agent has none", i)
		}
	}
	for _, i := range []int{1, 77, 150} {
		key := fmt.Sprintf(`meetnoc_interface_receive_bytes_total{alias="port %d",interface="Gi1/0/%d",target="sw1"}`, i, i)
		if got[key] != float64(i)*1e12 {
			t.Errorf("%s = %v, want %v", key, got[key], float64(i)*1e12)
		}
	}
	if want := 1 + 38 + 150*4; len(s.samples) != want {
		t.Errorf("%d samples, want %d", len(s.samples), want)
	}
	st := a.Stats()
	if st.TooBig == 0 || st.Truncated == 0 {
		t.Errorf("agent stats %+v: want tooBig GETs and truncated GETBULKs, or the test tests nothing", st)
	}
	if s.maxRep != 25 {
		t.Errorf("max-repetitions %d: truncated answers are no reason to back off", s.maxRep)
	}
}

// tooBigProxy stands between poller and lab agent and answers tooBig to every
// GETBULK that asks for more than limit variables, as some agents do instead
// of trimming the answer.
type tooBigProxy struct {
	conn    *net.UDPConn
	tooBigs atomic.Int64
}

func startTooBigProxy(t *testing.T, agentAddr string, limit int) *tooBigProxy {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	upAddr, err := net.ResolveUDPAddr("udp", agentAddr)
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, upAddr)
	if err != nil {
		t.Fatal(err)
	}
	p := &tooBigProxy{conn: conn}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		up.Close()
		<-done
	})
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Transport: "udp", MaxOids: gosnmp.MaxOids, Context: context.Background()}
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		resp := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			req, err := dec.SnmpDecodePacket(buf[:n])
			if err == nil && req.PDUType == gosnmp.GetBulkRequest && int(req.MaxRepetitions)*len(req.Variables) > limit {
				p.tooBigs.Add(1)
				out := &gosnmp.SnmpPacket{
					Version: gosnmp.Version2c, Community: req.Community, PDUType: gosnmp.GetResponse,
					RequestID: req.RequestID, Error: gosnmp.TooBig, Variables: req.Variables,
				}
				if b, err := out.MarshalMsg(); err == nil {
					_, _ = conn.WriteToUDP(b, from)
				}
				continue
			}
			if _, err := up.Write(buf[:n]); err != nil {
				continue
			}
			_ = up.SetReadDeadline(time.Now().Add(time.Second))
			m, err := up.Read(resp)
			if err != nil {
				continue
			}
			_, _ = conn.WriteToUDP(resp[:m], from)
		}
	}()
	return p
}

func TestBulkBackOffOnTooBig(t *testing.T) {
	a := startAgent(t, ifTree(40).freeze())
	proxy := startTooBigProxy(t, a.Addr(), 20)
	c := newCollector(t, testConfig(targetConf("sw1", proxy.conn.LocalAddr().String(), "test_if")))
	s, err := pollOnce(t, c, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	// Six columns: 25 → 12 → 6 → 3 repetitions, 18 variables ≤ 20.
	if s.maxRep != 3 || proxy.tooBigs.Load() != 3 {
		t.Errorf("max-repetitions %d after %d tooBigs, want 3 after 3", s.maxRep, proxy.tooBigs.Load())
	}
	if len(s.samples) != 1+40*4 {
		t.Errorf("%d samples, want %d", len(s.samples), 1+40*4)
	}
	// The working value is remembered: the next poll meets no tooBig.
	if _, err := pollOnce(t, c, "sw1"); err != nil {
		t.Fatal(err)
	}
	if n := proxy.tooBigs.Load(); n != 3 {
		t.Errorf("%d tooBigs after the second poll, want still 3", n)
	}
	if st := statusOf(t, c, "sw1"); st.MaxRepetitions != 3 || st.UsesGetNext {
		t.Errorf("status says max-repetitions %d, GETNEXT %v", st.MaxRepetitions, st.UsesGetNext)
	}
}

func TestWalkStateCreepsBackUp(t *testing.T) {
	w := newWalkState(25)
	w.backOff(25)
	if w.maxRep != 12 {
		t.Fatalf("after back-off: %d, want 12", w.maxRep)
	}
	var seen []uint32
	for range 4 * creepAfter {
		w.endPoll(false)
		seen = append(seen, w.maxRep)
	}
	// A quarter more every creepAfter clean polls, staying below the value
	// that failed until that is forgotten.
	if got := fmt.Sprint(seen[creepAfter-1], seen[2*creepAfter-1], seen[3*creepAfter-1], seen[4*creepAfter-1]); got != "15 18 22 24" {
		t.Errorf("crept %s, want 15 18 22 24", got)
	}
	for range ceilingFor {
		w.endPoll(false)
	}
	if w.maxRep != 25 {
		t.Errorf("after %d clean polls: %d, want the configured 25", ceilingFor, w.maxRep)
	}
	w.backOff(3)
	w.endPoll(true)
	if w.maxRep != 1 || w.clean != 0 {
		t.Errorf("back-off from 3: %d (clean %d), want 1 (0)", w.maxRep, w.clean)
	}
}

func TestGetNextFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failure snmpagent.BulkFailure
	}{
		{"genErr", snmpagent.BulkGenErr},
		{"no answer", snmpagent.BulkDropped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startAgent(t, ifTree(12).freeze())
			c := newCollector(t, testConfig(targetConf("sw1", a.Addr(), "test_if")))
			healthy, err := pollOnce(t, c, "sw1")
			if err != nil {
				t.Fatal(err)
			}
			a.faults.SetBulkBroken(tc.failure)
			s, err := pollOnce(t, c, "sw1")
			if err != nil {
				t.Fatalf("poll with broken GETBULK: %v", err)
			}
			diffSeries(t, series(s.samples), series(healthy.samples))
			st := statusOf(t, c, "sw1")
			if !st.UsesGetNext || !st.Up || !strings.HasPrefix(st.LastError, "walked with GETNEXT: ") {
				t.Errorf("status: GETNEXT %v, up %v, note %q", st.UsesGetNext, st.Up, st.LastError)
			}
			// Later polls go straight to GETNEXT.
			bulks := a.Stats().GetBulk
			start := time.Now()
			s, err = pollOnce(t, c, "sw1")
			if err != nil {
				t.Fatal(err)
			}
			if a.Stats().GetBulk != bulks || time.Since(start) > 150*time.Millisecond {
				t.Errorf("second poll sent %d GETBULKs and took %v", a.Stats().GetBulk-bulks, time.Since(start))
			}
			diffSeries(t, series(s.samples), series(healthy.samples))
		})
	}
}

func TestWalkEndsEarly(t *testing.T) {
	a := startAgent(t, ifTree(5).freeze())
	// The agent's MIB "ends" at ifOperStatus.2: the rest of ifTable and all of
	// ifXTable are beyond it.
	a.faults.SetEndWalkAt(snmpagent.MustParseOID(oidIfOperStatus + ".2"))
	c := newCollector(t, testConfig(targetConf("sw1", a.Addr(), "test_if")))
	s, err := pollOnce(t, c, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	// ifName is gone, so ifDescr (before the end) names the interfaces.
	diffSeries(t, series(s.samples), map[string]float64{
		`test_sys_uptime_seconds{target="sw1"}`:                                         1234.56,
		`meetnoc_interface_up{alias="1",interface="GigabitEthernet1/0/1",target="sw1"}`: 0,
		`meetnoc_interface_up{alias="2",interface="GigabitEthernet1/0/2",target="sw1"}`: 1,
	})
}

func TestTimeouts(t *testing.T) {
	a := startAgent(t, ifTree(2).freeze())
	cfg := testConfig(targetConf("sw1", a.Addr(), "test_if"))
	cfg.SNMP.Timeout = 100 * time.Millisecond
	cfg.SNMP.Auths["wrong"] = &config.Auth{Version: "2c", Community: "private"}
	wrong := targetConf("wrong", a.Addr(), "test_if")
	wrong.Auth = "wrong"
	retries := 1
	wrong.Retries = &retries
	cfg.SNMP.Targets = append(cfg.SNMP.Targets, wrong)
	c := newCollector(t, cfg)
	want := "no response from " + a.Addr() + " within 100ms × 1 try; agent down, wrong address, or wrong community/credentials?"

	check := func(name, why, want string) {
		t.Helper()
		err := c.Poll(context.Background(), name)
		st := statusOf(t, c, name)
		if err == nil || st.LastResult != resultTimeout || st.LastError != want {
			t.Errorf("%s: err %v, result %q, message %q; want timeout %q", why, err, st.LastResult, st.LastError, want)
		}
	}
	a.faults.SetDrop(true)
	check("sw1", "dropped", want)
	a.faults.SetDrop(false)
	a.faults.SetDelay(300 * time.Millisecond)
	check("sw1", "slow", want)
	a.faults.SetDelay(0)
	time.Sleep(350 * time.Millisecond) // let the late answer go by
	check("wrong", "wrong community", strings.Replace(want, "100ms × 1 try", "100ms × 2 tries", 1))
	if err := c.Poll(context.Background(), "sw1"); err != nil {
		t.Errorf("healthy again: %v", err)
	}
	if st := statusOf(t, c, "sw1"); st.ConsecutiveFailures != 0 || !st.Up || st.LastError != "" {
		t.Errorf("after recovery: %+v", st)
	}
}

func TestAgentDown(t *testing.T) {
	// A port nothing listens on: the kernel answers port unreachable.
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	c := newCollector(t, testConfig(targetConf("sw1", addr, "test_if")))
	err = c.Poll(context.Background(), "sw1")
	var pe *pollError
	if !errors.As(err, &pe) || pe.result != resultTimeout || !strings.Contains(pe.msg, "no response from "+addr) {
		t.Errorf("poll of a closed port: %v", err)
	}
}

func TestIPv6(t *testing.T) {
	tr := ifTree(1)
	faults := &snmpagent.Faults{}
	ag, err := snmpagent.Listen(snmpagent.Config{Addr: "[::1]:0", MIB: tr.freeze(), Communities: []string{"public"}, Faults: faults})
	if err != nil {
		testenv.Missing(t, "no IPv6 loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ag.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if !strings.HasPrefix(ag.Addr(), "[::1]:") {
		t.Fatalf("agent address %q", ag.Addr())
	}
	c := newCollector(t, testConfig(targetConf("v6", ag.Addr(), "test_if")))
	s, err := pollOnce(t, c, "v6")
	if err != nil {
		t.Fatal(err)
	}
	if got := series(s.samples)[`meetnoc_interface_receive_bytes_total{alias="port 1",interface="Gi1/0/1",target="v6"}`]; got != 1e12 {
		t.Errorf("receive bytes over IPv6 = %v, want 1e12", got)
	}
}

func TestAgentRestart(t *testing.T) {
	var up ticker
	up.v.Store(50000) // 8m20s
	tr := ifTree(1)
	tr.setFunc(sysUpTimeOID, up.value)
	a := startAgent(t, tr.freeze(), snmpagent.User{Name: "noc", AuthProtocol: gosnmp.SHA, AuthPassphrase: "auth-pass-1234"})
	cfg := testConfig(targetConf("sw1", a.Addr(), "test_if"))
	c := newCollector(t, cfg)
	if _, err := pollOnce(t, c, "sw1"); err != nil {
		t.Fatal(err)
	}
	up.v.Store(60000)
	if s, _ := pollOnce(t, c, "sw1"); s.restarts != 0 {
		t.Fatalf("restart counted while sysUpTime went up")
	}
	up.v.Store(100)
	s, err := pollOnce(t, c, "sw1")
	if err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, c, "sw1")
	if s.restarts != 1 || st.AgentRestarts != 1 || !st.Up {
		t.Errorf("restarts %d (status %d), up %v; want 1", s.restarts, st.AgentRestarts, st.Up)
	}
	if !strings.Contains(st.LastError, "agent restarted: sysUpTime.0 went back from 10m0s to 1s") {
		t.Errorf("status message %q does not tell of the restart", st.LastError)
	}
	up.v.Store(200)
	if s, _ := pollOnce(t, c, "sw1"); s.restarts != 1 {
		t.Errorf("%d restarts after a normal poll, want still 1", s.restarts)
	}
}

// TestSNMPv3AgentRestart: after a restart the agent's engine boots and time
// start again; the poller's next request fails the time window check, and it
// must resynchronise rather than fail.
func TestSNMPv3AgentRestart(t *testing.T) {
	tr := ifTree(1)
	var started atomic.Pointer[agent]
	tr.setFunc(sysUpTimeOID, func() (gosnmp.Asn1BER, any) {
		if a := started.Load(); a != nil {
			return a.UpTime()()
		}
		return gosnmp.TimeTicks, uint32(0)
	})
	a := startAgent(t, tr.freeze(), snmpagent.User{Name: "noc", AuthProtocol: gosnmp.SHA, AuthPassphrase: "auth-pass-1234",
		PrivProtocol: gosnmp.AES, PrivPassphrase: "priv-pass-1234"})
	started.Store(a)
	cfg := testConfig(targetConf("sw1", a.Addr(), "test_if"))
	cfg.SNMP.Auths["v3"] = &config.Auth{Version: "3", Username: "noc", SecurityLevel: "authPriv",
		AuthProtocol: "SHA", AuthPassword: "auth-pass-1234", PrivProtocol: "AES", PrivPassword: "priv-pass-1234"}
	cfg.SNMP.Targets[0].Auth = "v3"
	c := newCollector(t, cfg)
	time.Sleep(30 * time.Millisecond) // let sysUpTime tick
	if _, err := pollOnce(t, c, "sw1"); err != nil {
		t.Fatal(err)
	}
	a.Restart()
	s, err := pollOnce(t, c, "sw1")
	if err != nil {
		t.Fatalf("poll after the agent restarted: %v", err)
	}
	if s.restarts != 1 {
		t.Errorf("%d restarts, want 1", s.restarts)
	}
	if n := a.Stats().NotInTimeWindows; n == 0 {
		t.Errorf("the agent reported no notInTimeWindow: the test did not test resynchronisation")
	}
}

func TestFallbackFetching(t *testing.T) {
	t.Run("a few rows without HC counters", func(t *testing.T) {
		tr := &tree{}
		tr.set(sysUpTimeOID, gosnmp.TimeTicks, uint32(1))
		for i := 1; i <= 10; i++ {
			idx := fmt.Sprint(i)
			tr.set(oidIfName+"."+idx, gosnmp.OctetString, []byte("if"+idx))
			tr.set(oidIfInOctets+"."+idx, gosnmp.Counter32, uint32(i))
			if i != 3 && i != 7 {
				tr.set(oidIfHCInOctets+"."+idx, gosnmp.Counter64, uint64(i)<<33)
			}
		}
		a := startAgent(t, tr.freeze())
		c := newCollector(t, testConfig(targetConf("sw1", a.Addr(), "test_if")))
		s, err := pollOnce(t, c, "sw1")
		if err != nil {
			t.Fatal(err)
		}
		got := series(s.samples)
		for i := 1; i <= 10; i++ {
			want := float64(uint64(i) << 33)
			if i == 3 || i == 7 {
				want = float64(i) // the 32-bit counter, only where HC is missing
			}
			key := fmt.Sprintf(`meetnoc_interface_receive_bytes_total{alias="%d",interface="if%d",target="sw1"}`, i, i)
			if got[key] != want {
				t.Errorf("%s = %v, want %v", key, got[key], want)
			}
		}
		// The two 32-bit cells came by one GET, not by walking ifInOctets.
		if st := a.Stats(); st.Get != 2 {
			t.Errorf("%d GETs, want 2 (scalars, then the two fallback cells)", st.Get)
		}
	})
	t.Run("no ifXTable at all", func(t *testing.T) {
		tr := &tree{}
		tr.set(sysUpTimeOID, gosnmp.TimeTicks, uint32(1))
		for i := 1; i <= 10; i++ {
			idx := fmt.Sprint(i)
			tr.set(oidIfDescr+"."+idx, gosnmp.OctetString, []byte("eth"+idx))
			tr.set(oidIfInOctets+"."+idx, gosnmp.Counter32, uint32(i))
		}
		a := startAgent(t, tr.freeze())
		c := newCollector(t, testConfig(targetConf("sw1", a.Addr(), "test_if")))
		s, err := pollOnce(t, c, "sw1")
		if err != nil {
			t.Fatal(err)
		}
		got := series(s.samples)
		if len(got) != 1+10 || got[`meetnoc_interface_receive_bytes_total{alias="7",interface="eth7",target="sw1"}`] != 7 {
			t.Errorf("got %v", got)
		}
		if st := a.Stats(); st.Get != 1 {
			t.Errorf("%d GETs, want 1: columns missing everywhere are walked", st.Get)
		}
	})
}

// loopingMIB is an agent bug: after one OID it goes back to an earlier one,
// so a walk that trusted it would never end.
type loopingMIB struct {
	*snmpagent.Tree
	at, back snmpagent.OID
}

func (m loopingMIB) Next(oid snmpagent.OID) (snmpagent.OID, snmpagent.ValueFunc, bool) {
	if slices.Equal(oid, m.at) {
		v, _ := m.Tree.Get(m.back)
		return m.back, v, true
	}
	return m.Tree.Next(oid)
}

func TestNonIncreasingOIDs(t *testing.T) {
	tr := ifTree(20).freeze()
	a := startAgent(t, loopingMIB{Tree: tr,
		at: snmpagent.MustParseOID(oidIfInErrors + ".12"), back: snmpagent.MustParseOID(oidIfInErrors + ".2")})
	c := newCollector(t, testConfig(targetConf("sw1", a.Addr(), "test_if")))
	done := make(chan error)
	go func() { done <- c.Poll(context.Background(), "sw1") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the walk of a looping agent does not end")
	}
	s := snapshotOf(t, c, "sw1")
	got := series(s.samples)
	// The column ends where the agent went back; the other columns are whole.
	if n := withPrefix(got, "meetnoc_interface_receive_errors_total"); n != 12 {
		t.Errorf("%d error counters, want 12 (rows 1 to 12)", n)
	}
	if n := withPrefix(got, "meetnoc_interface_up"); n != 20 {
		t.Errorf("%d oper status series, want 20", n)
	}
	if !s.getNext {
		t.Error("out-of-order GETBULK answers did not switch the target to GETNEXT")
	}
}

// garbageAgent answers every request with what mangle makes of the lab
// agent's answer.
func garbageAgent(t *testing.T, agentAddr string, mangle func([]byte) []byte) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	upAddr, _ := net.ResolveUDPAddr("udp", agentAddr)
	up, err := net.DialUDP("udp", nil, upAddr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); up.Close(); <-done })
	go func() {
		defer close(done)
		buf, resp := make([]byte, 65536), make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if _, err := up.Write(buf[:n]); err != nil {
				continue
			}
			_ = up.SetReadDeadline(time.Now().Add(time.Second))
			m, err := up.Read(resp)
			if err != nil {
				continue
			}
			_, _ = conn.WriteToUDP(mangle(resp[:m]), from)
		}
	}()
	return conn.LocalAddr().String()
}

func TestMalformedAnswers(t *testing.T) {
	a := startAgent(t, ifTree(3).freeze())
	for name, mangle := range map[string]func([]byte) []byte{
		"cut in half": func(b []byte) []byte { return b[:len(b)/2] },
		"garbage":     func(b []byte) []byte { return []byte("\x30\x82\xff\xff\x02\x01\x01not snmp at all") },
		"header only": func(b []byte) []byte { return b[:5] },
		"empty":       func(b []byte) []byte { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			addr := garbageAgent(t, a.Addr(), mangle)
			cfg := testConfig(targetConf("sw1", addr, "test_if"))
			cfg.SNMP.Timeout = 100 * time.Millisecond
			c := newCollector(t, cfg)
			err := c.Poll(context.Background(), "sw1")
			st := statusOf(t, c, "sw1")
			if err == nil || st.Up || st.LastResult != resultError || !strings.Contains(st.LastError, "malformed answer from "+addr) || st.Samples != 0 {
				t.Errorf("poll of a mangling agent: err %v, status %+v", err, st)
			}
		})
	}
}

func TestPollDeadline(t *testing.T) {
	a := startAgent(t, ifTree(30).freeze())
	a.faults.SetDelay(20 * time.Millisecond) // each answer in time, but a walk of many
	tg := targetConf("sw1", a.Addr(), "test_if")
	tg.UseGetNext = true
	tg.Interval = 20 * time.Millisecond
	tg.Timeout = 30 * time.Millisecond
	c := newCollector(t, testConfig(tg))
	start := time.Now()
	err := c.Poll(context.Background(), "sw1")
	took := time.Since(start)
	st := statusOf(t, c, "sw1")
	if err == nil || st.LastResult != resultTimeout || !strings.Contains(st.LastError, "did not finish within 120ms") {
		t.Errorf("err %v, result %q, message %q", err, st.LastResult, st.LastError)
	}
	if took > time.Second {
		t.Errorf("the poll ran %v past its deadline of 120ms", took)
	}
	if s := snapshotOf(t, c, "sw1"); s.overruns != 1 {
		t.Errorf("%d overruns, want 1", s.overruns)
	}
}

// TestAgentDiesMidPoll: an agent that stops answering in the middle of a walk
// fails the poll as a timeout, and does not leave the target walking with
// GETNEXT or a lowered max-repetitions once it is back.
func TestAgentDiesMidPoll(t *testing.T) {
	tr := ifTree(40)
	var faults atomic.Pointer[snmpagent.Faults]
	tr.setFunc(oidIfHCInOctets+".5", func() (gosnmp.Asn1BER, any) {
		if f := faults.Load(); f != nil {
			f.SetDrop(true) // the agent dies right after answering this
		}
		return gosnmp.Counter64, uint64(5)
	})
	a := startAgent(t, tr.freeze())
	cfg := testConfig(targetConf("sw1", a.Addr(), "test_if"))
	cfg.SNMP.Timeout = 50 * time.Millisecond
	c := newCollector(t, cfg)
	faults.Store(a.faults)
	err := c.Poll(context.Background(), "sw1")
	st := statusOf(t, c, "sw1")
	if err == nil || st.LastResult != resultTimeout || !strings.Contains(st.LastError, "though it answered earlier requests of this poll") {
		t.Fatalf("err %v, result %q, message %q", err, st.LastResult, st.LastError)
	}
	if st.UsesGetNext || st.MaxRepetitions != 25 || st.Samples != 0 {
		t.Errorf("after the agent died: GETNEXT %v, max-repetitions %d, %d samples", st.UsesGetNext, st.MaxRepetitions, st.Samples)
	}
	faults.Store(nil)
	a.faults.SetDrop(false)
	if err := c.Poll(context.Background(), "sw1"); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, c, "sw1"); st.UsesGetNext || st.MaxRepetitions != 25 || st.Samples != 1+40*4 {
		t.Errorf("back again: GETNEXT %v, max-repetitions %d, %d samples", st.UsesGetNext, st.MaxRepetitions, st.Samples)
	}
}
