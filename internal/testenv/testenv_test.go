package testenv

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func get(t *testing.T, g *gosnmp.GoSNMP, oid string) gosnmp.SnmpPDU {
	t.Helper()
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	res, err := g.Get([]string{oid})
	if err != nil {
		t.Fatalf("GET %s from %s: %v", oid, g.Target, err)
	}
	if len(res.Variables) != 1 {
		t.Fatalf("GET %s: %d variables", oid, len(res.Variables))
	}
	return res.Variables[0]
}

func v2c(addr, community string) *gosnmp.GoSNMP {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := net.LookupPort("udp", port)
	return &gosnmp.GoSNMP{Target: host, Port: uint16(p), Community: community,
		Version: gosnmp.Version2c, Timeout: 2 * time.Second, Retries: 1}
}

func TestSnmpdV2cV3AndRestart(t *testing.T) {
	users := []SnmpUser{
		{Name: "noc-sha", AuthProtocol: "SHA", AuthPassword: "auth-secret-1", PrivProtocol: "AES", PrivPassword: "priv-secret-1"},
		{Name: "noc-sha256", AuthProtocol: "SHA256", AuthPassword: "auth-secret-2", PrivProtocol: "AES", PrivPassword: "priv-secret-2"},
	}
	s := StartSnmpd(t, SnmpdOptions{Community: "c0mmunity", Users: users, IPv6: ipv6Loopback(), SysName: "core-test-1"})

	if got := get(t, v2c(s.Addr(), "c0mmunity"), "1.3.6.1.2.1.1.5.0"); string(got.Value.([]byte)) != "core-test-1" {
		t.Errorf("sysName over v2c = %q, want core-test-1", got.Value)
	}
	for _, u := range users {
		g := v2c(s.Addr(), "")
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags, g.SecurityParameters = u.gosnmpParams()
		if got := get(t, g, "1.3.6.1.2.1.1.5.0"); string(got.Value.([]byte)) != "core-test-1" {
			t.Errorf("sysName over v3 %s/%s = %q", u.AuthProtocol, u.PrivProtocol, got.Value)
		}
	}
	if ipv6Loopback() {
		if got := get(t, v2c(s.Addr6(), "c0mmunity"), "1.3.6.1.2.1.1.6.0"); string(got.Value.([]byte)) != "loopback" {
			t.Errorf("sysLocation over [::1] = %q", got.Value)
		}
	}

	// A wrong community gets no answer at all from net-snmp.
	bad := v2c(s.Addr(), "wrong")
	bad.Timeout, bad.Retries = 300*time.Millisecond, 0
	if err := bad.Connect(); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Get([]string{"1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("a wrong community got an answer")
	}
	bad.Conn.Close()

	const (
		snmpEngineID    = "1.3.6.1.6.3.10.2.1.1.0"
		snmpEngineBoots = "1.3.6.1.6.3.10.2.1.2.0"
	)
	time.Sleep(1100 * time.Millisecond) // let sysUpTime pass 100 ticks
	before := get(t, v2c(s.Addr(), "c0mmunity"), "1.3.6.1.2.1.1.3.0").Value.(uint32)
	engineBefore := get(t, v2c(s.Addr(), "c0mmunity"), snmpEngineID).Value.([]byte)
	bootsBefore := get(t, v2c(s.Addr(), "c0mmunity"), snmpEngineBoots).Value.(int)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	after := get(t, v2c(s.Addr(), "c0mmunity"), "1.3.6.1.2.1.1.3.0").Value.(uint32)
	if before < 100 || after >= before {
		t.Errorf("sysUpTime %d before restart, %d after: it should go back", before, after)
	}
	// Like a rebooted device: the same engine, one boot more.
	if e := get(t, v2c(s.Addr(), "c0mmunity"), snmpEngineID).Value.([]byte); string(e) != string(engineBefore) {
		t.Errorf("engine ID changed over a restart: %x, then %x", engineBefore, e)
	}
	if b := get(t, v2c(s.Addr(), "c0mmunity"), snmpEngineBoots).Value.(int); b != bootsBefore+1 {
		t.Errorf("engine boots %d before restart, %d after", bootsBefore, b)
	}

	s.Stop()
	down := v2c(s.Addr(), "c0mmunity")
	down.Timeout, down.Retries = 300*time.Millisecond, 0
	if err := down.Connect(); err != nil {
		t.Fatal(err)
	}
	defer down.Conn.Close()
	if _, err := down.Get([]string{"1.3.6.1.2.1.1.3.0"}); err == nil {
		t.Error("a stopped snmpd still answers")
	}
}

func TestSnmpsimServesSharedRecording(t *testing.T) {
	rec := SharedSnmprec(t, "ios_2960x")
	want, ok := ReadSnmprec(t, rec).Get("1.3.6.1.2.1.1.1.0")
	if !ok {
		t.Fatal("the recording has no sysDescr.0")
	}
	if !strings.HasPrefix(want.String(), "Cisco IOS Software, C2960X") {
		t.Fatalf("recording's sysDescr decodes to %q", want.String())
	}
	sim := StartSnmpsim(t, SharedTestdata(t)+"/snmprec")
	if got := sim.Communities; len(got) < 3 {
		t.Errorf("communities %v: want one per shared recording", got)
	}
	got := get(t, v2c(sim.Addr(), "ios_2960x"), "1.3.6.1.2.1.1.1.0")
	if string(got.Value.([]byte)) != want.String() {
		t.Errorf("sysDescr = %q, want %q", got.Value, want.String())
	}
}

func TestLintMetrics(t *testing.T) {
	good := "# HELP meetnoc_snmp_up 1 when the last poll succeeded.\n# TYPE meetnoc_snmp_up gauge\nmeetnoc_snmp_up{target=\"core1\"} 1\n"
	if p := LintMetrics(t, []byte(good)); len(p) != 0 {
		t.Errorf("clean exposition: problems %v", p)
	}
	// A counter without _total and a unit in bits: promtool must complain.
	bad := "# HELP link_bits Speed.\n# TYPE link_bits counter\nlink_bits 1\n"
	if p := LintMetrics(t, []byte(bad)); len(p) == 0 {
		t.Error("promtool found nothing wrong with a counter named link_bits")
	}
}

func TestFreePorts(t *testing.T) {
	u, tcp := FreeUDPPort(t), FreeTCPPort(t)
	if u <= 0 || u > 65535 || tcp <= 0 || tcp > 65535 {
		t.Fatalf("ports %d, %d", u, tcp)
	}
	c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(u)))
	if err != nil {
		t.Fatalf("the free UDP port %d cannot be bound: %v", u, err)
	}
	c.Close()
}
