package snmpagent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

var testUsers = []User{
	{Name: "noauth"},
	{Name: "md5", AuthProtocol: gosnmp.MD5, AuthPassphrase: "md5-passphrase"},
	{Name: "sha", AuthProtocol: gosnmp.SHA, AuthPassphrase: "sha-passphrase"},
	{Name: "sha224", AuthProtocol: gosnmp.SHA224, AuthPassphrase: "sha224-passphrase"},
	{Name: "sha256", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "sha256-passphrase"},
	{Name: "sha384", AuthProtocol: gosnmp.SHA384, AuthPassphrase: "sha384-passphrase"},
	{Name: "sha512", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "sha512-passphrase"},
	{Name: "md5-des", AuthProtocol: gosnmp.MD5, AuthPassphrase: "md5-passphrase", PrivProtocol: gosnmp.DES, PrivPassphrase: "des-passphrase"},
	{Name: "sha-des", AuthProtocol: gosnmp.SHA, AuthPassphrase: "sha-passphrase", PrivProtocol: gosnmp.DES, PrivPassphrase: "des-passphrase"},
	{Name: "sha-aes", AuthProtocol: gosnmp.SHA, AuthPassphrase: "sha-passphrase", PrivProtocol: gosnmp.AES, PrivPassphrase: "aes-passphrase"},
	{Name: "sha256-aes192", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "sha256-passphrase", PrivProtocol: gosnmp.AES192, PrivPassphrase: "aes192-passphrase"},
	{Name: "sha256-aes256", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "sha256-passphrase", PrivProtocol: gosnmp.AES256, PrivPassphrase: "aes256-passphrase"},
	{Name: "sha512-aes256", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "sha512-passphrase", PrivProtocol: gosnmp.AES256, PrivPassphrase: "aes256-passphrase"},
	{Name: "sha-aes192c", AuthProtocol: gosnmp.SHA, AuthPassphrase: "sha-passphrase", PrivProtocol: gosnmp.AES192C, PrivPassphrase: "aes192c-passphrase"},
	{Name: "sha-aes256c", AuthProtocol: gosnmp.SHA, AuthPassphrase: "sha-passphrase", PrivProtocol: gosnmp.AES256C, PrivPassphrase: "aes256c-passphrase"},
}

func levelOf(u User) gosnmp.SnmpV3MsgFlags {
	switch {
	case u.PrivProtocol > gosnmp.NoPriv:
		return gosnmp.AuthPriv
	case u.AuthProtocol > gosnmp.NoAuth:
		return gosnmp.AuthNoPriv
	}
	return gosnmp.NoAuthNoPriv
}

func testUser(t testing.TB, name string) User {
	t.Helper()
	for _, u := range testUsers {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no test user %q", name)
	return User{}
}

func expect(t testing.TB, what string, got []gosnmp.SnmpPDU, want ...string) {
	t.Helper()
	var lines []string
	for _, p := range got {
		lines = append(lines, pduString(p))
	}
	if slices.Equal(lines, want) {
		return
	}
	i := 0
	for i < len(lines) && i < len(want) && lines[i] == want[i] {
		i++
	}
	var got1, want1 string
	if i < len(lines) {
		got1 = lines[i]
	}
	if i < len(want) {
		want1 = want[i]
	}
	t.Errorf("%s: %d varbinds, want %d; first difference at %d:\ngot  %q\nwant %q", what, len(lines), len(want), i, got1, want1)
}

// TestGoSNMPManagers runs GET, GETNEXT and a GETBULK walk of the whole MIB
// with gosnmp as every kind of manager, over IPv4 and IPv6: what comes back
// is exactly what the MIB holds, types included.
func TestGoSNMPManagers(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(listen, func(t *testing.T) {
			if strings.HasPrefix(listen, "[") {
				testenv.RequireIPv6(t)
			}
			tree := testTree()
			a := startAgent(t, Config{Addr: listen, MIB: tree, Communities: []string{"public"}, Users: testUsers})
			managers := []struct {
				name      string
				configure func(*gosnmp.GoSNMP)
			}{{"v2c", nil}}
			for _, u := range testUsers {
				managers = append(managers, struct {
					name      string
					configure func(*gosnmp.GoSNMP)
				}{"v3-" + u.Name, v3(u, levelOf(u))})
			}
			wholeTree := treeStrings(tree, nil)
			for _, m := range managers {
				t.Run(m.name, func(t *testing.T) {
					g := client(t, a.Addr(), m.configure)
					res, err := g.Get([]string{
						oidSysDescr.String(), oidSysObjectID.String(), oidIfHCIn.Append(7).String(),
						"1.3.6.1.4.1.99999.1.0", "1.3.6.1.2.1.1.99.0", oidIfDescr.Append(999).String(),
					})
					if err != nil {
						t.Fatalf("Get: %v", err)
					}
					if res.Error != gosnmp.NoError {
						t.Fatalf("Get: error-status %s", res.Error)
					}
					expect(t, "Get", res.Variables,
						"1.3.6.1.2.1.1.1.0 = "+canon(gosnmp.OctetString, "meetnoc test agent, Version 1.0"),
						"1.3.6.1.2.1.1.2.0 = ObjectIdentifier 1.3.6.1.4.1.8072.3.2.10",
						"1.3.6.1.2.1.31.1.1.1.6.7 = Counter64 1099511627783",
						"1.3.6.1.4.1.99999.1.0 = Integer -5",
						"1.3.6.1.2.1.1.99.0 = NoSuchObject ",
						"1.3.6.1.2.1.2.2.1.2.999 = NoSuchInstance ",
					)

					res, err = g.GetNext([]string{oidIfDescr.String(), "1.3.6.1.4.1.99999.8.1", oidLast.String()})
					if err != nil {
						t.Fatalf("GetNext: %v", err)
					}
					expect(t, "GetNext", res.Variables,
						"1.3.6.1.2.1.2.2.1.2.1 = "+canon(gosnmp.OctetString, "GigabitEthernet1/0/1"),
						"1.3.6.1.4.1.99999.9.0 = "+canon(gosnmp.OctetString, strings.Repeat("x", 200)),
						"1.3.6.1.4.1.99999.9.0 = EndOfMibView ",
					)

					pdus, err := g.BulkWalkAll(".1.3")
					if err != nil {
						t.Fatalf("BulkWalkAll: %v", err)
					}
					expect(t, "BulkWalkAll", pdus, wholeTree...)
				})
			}
		})
	}
}

// TestGetBulkOrder checks the varbind order of RFC 3416 4.2.3: non-repeaters
// first, then the repeaters round by round, endOfMibView for a repeater past
// the end, and no further rounds once all of them are there.
func TestGetBulkOrder(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}})
	g := client(t, a.Addr(), nil)

	res, err := g.GetBulk([]string{"1.3.6.1.2.1.1.1", oidIfDescr.String(), oidIfHCIn.String()}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	want = append(want, "1.3.6.1.2.1.1.1.0 = "+canon(gosnmp.OctetString, "meetnoc test agent, Version 1.0"))
	for i := 1; i <= 3; i++ {
		want = append(want,
			fmt.Sprintf("1.3.6.1.2.1.2.2.1.2.%d = %s", i, canon(gosnmp.OctetString, fmt.Sprintf("GigabitEthernet1/0/%d", i))),
			fmt.Sprintf("1.3.6.1.2.1.31.1.1.1.6.%d = Counter64 %d", i, uint64(1)<<40+uint64(i)))
	}
	expect(t, "GetBulk of two columns", res.Variables, want...)

	res, err = g.GetBulk([]string{"1.3.6.1.4.1.99999.8.0", "1.3.6.1.4.1.99999.9"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	last := "1.3.6.1.4.1.99999.9.0 = " + canon(gosnmp.OctetString, strings.Repeat("x", 200))
	expect(t, "GetBulk to the end of the MIB", res.Variables,
		"1.3.6.1.4.1.99999.8.1 = Null ", last,
		last, "1.3.6.1.4.1.99999.9.0 = EndOfMibView ",
		"1.3.6.1.4.1.99999.9.0 = EndOfMibView ", "1.3.6.1.4.1.99999.9.0 = EndOfMibView ",
	)

	res, err = g.GetBulk([]string{oidSysDescr.String(), oidSysObjectID.String()}, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "GetBulk of non-repeaters only", res.Variables,
		"1.3.6.1.2.1.1.2.0 = ObjectIdentifier 1.3.6.1.4.1.8072.3.2.10",
		"1.3.6.1.2.1.1.3.0 = TimeTicks 123456")
}

// TestSNMPv1 checks the v1 error semantics: noSuchName with the index of the
// varbind, no Counter64 (RFC 3584), GetBulk dropped.
func TestSNMPv1(t *testing.T) {
	tree := testTree()
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}})
	g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Version = gosnmp.Version1 })

	res, err := g.Get([]string{oidSysDescr.String(), "1.3.6.1.2.1.1.99.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NoSuchName || res.ErrorIndex != 2 {
		t.Errorf("Get of a missing variable: error-status %s, index %d; want noSuchName, 2", res.Error, res.ErrorIndex)
	}
	expect(t, "noSuchName response varbinds", res.Variables, "1.3.6.1.2.1.1.1.0 = Null ", "1.3.6.1.2.1.1.99.0 = Null ")

	res, err = g.Get([]string{oidIfHCIn.Append(1).String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NoSuchName || res.ErrorIndex != 1 {
		t.Errorf("Get of a Counter64: error-status %s, index %d; want noSuchName, 1", res.Error, res.ErrorIndex)
	}

	res, err = g.GetNext([]string{oidLast.String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NoSuchName || res.ErrorIndex != 1 {
		t.Errorf("GetNext past the end: error-status %s, index %d; want noSuchName, 1", res.Error, res.ErrorIndex)
	}

	pdus, err := g.WalkAll(".1.3")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "v1 walk", pdus, treeStrings(tree, func(_ OID, t gosnmp.Asn1BER) bool { return t == gosnmp.Counter64 })...)

	// gosnmp refuses to send GetBulk in v1; build it as v2c and relabel it.
	enc := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}
	msg, err := enc.SnmpEncodePacket(gosnmp.GetBulkRequest, []gosnmp.SnmpPDU{{Name: oidIfDescr.String(), Type: gosnmp.Null}}, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if msg[2] != tagInteger || msg[4] != byte(gosnmp.Version2c) {
		t.Fatalf("unexpected encoding %x", msg)
	}
	msg[4] = byte(gosnmp.Version1)
	if resp := exchange(t, a.Addr(), msg, 200*time.Millisecond); resp != nil {
		t.Errorf("GetBulk in SNMPv1 was answered: %x", resp)
	}
	if s := a.Stats(); s.ParseErrors != 1 {
		t.Errorf("ParseErrors = %d, want 1 (the v1 GetBulk)", s.ParseErrors)
	}
}

// TestSet: a read-only agent answers SET as net-snmp does for a read-only
// community: noAccess, or noSuchName in v1.
func TestSet(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}})
	set := []gosnmp.SnmpPDU{{Name: "1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: "renamed"}}
	for _, tc := range []struct {
		version gosnmp.SnmpVersion
		want    gosnmp.SNMPError
	}{{gosnmp.Version2c, gosnmp.NoAccess}, {gosnmp.Version1, gosnmp.NoSuchName}} {
		g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Version = tc.version })
		res, err := g.Set(set)
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != tc.want || res.ErrorIndex != 1 {
			t.Errorf("%s SET: error-status %s, index %d; want %s, 1", tc.version, res.Error, res.ErrorIndex, tc.want)
		}
		expect(t, "SET echo", res.Variables, "1.3.6.1.2.1.1.5.0 = "+canon(gosnmp.OctetString, "renamed"))
	}
	if s := a.Stats(); s.Set != 2 || s.Requests() != 2 || s.Responses != 2 {
		t.Errorf("stats = %+v, want 2 SETs answered", s)
	}
}

func TestWrongCommunity(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public", "lab"}})
	g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) {
		g.Community = "private"
		g.Timeout = 200 * time.Millisecond
	})
	_, err := g.Get([]string{oidSysDescr.String()})
	if err == nil || err.Error() != "request timeout (after 0 retries): max retries exceeded" {
		t.Errorf("wrong community: err = %v, want gosnmp's timeout", err)
	}
	if s := a.Stats(); s.BadCommunities != 1 || s.Dropped != 1 || s.Responses != 0 {
		t.Errorf("stats = %+v, want one bad community dropped", s)
	}
	// The second community works.
	g = client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Community = "lab" })
	if _, err := g.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("community lab: %v", err)
	}
}

// TestMIBChanges: SetMIB swaps what is served; Restart moves Started.
func TestMIBChanges(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}})
	g := client(t, a.Addr(), nil)
	started := a.Started()
	time.Sleep(20 * time.Millisecond)
	other := &Tree{}
	other.Set(oidSysUpTime, a.UpTime())
	a.SetMIB(other.Freeze())
	a.Restart()
	if !a.Started().After(started) || a.EngineBoots() != 2 {
		t.Errorf("after Restart: Started %v (was %v), boots %d", a.Started(), started, a.EngineBoots())
	}
	res, err := g.Get([]string{oidSysUpTime.String(), oidSysDescr.String()})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Variables[0]; v.Type != gosnmp.TimeTicks || v.Value.(uint32) > 100 {
		t.Errorf("sysUpTime right after a restart = %s", pduString(v))
	}
	if v := res.Variables[1]; v.Type != gosnmp.NoSuchObject {
		t.Errorf("sysDescr after SetMIB = %s, want noSuchObject", pduString(v))
	}
	a.SetMIB(nil)
	res, err = g.GetNext([]string{"1.3"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "empty MIB", res.Variables, "1.3 = EndOfMibView ")
}

// TestManyAgents runs 1,000 agents, each with its own socket, from ServeAll,
// and asks every one of them.
func TestManyAgents(t *testing.T) {
	const n = 1000
	tree := testTree()
	agents := make([]*Agent, n)
	for i := range agents {
		a, err := Listen(Config{Addr: "127.0.0.1:0", MIB: tree, Communities: []string{"public"}})
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeAll(ctx, agents...) }()

	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}
	req, err := g.SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: oidSysDescr.String(), Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		resp := exchange(t, a.Addr(), req, 2*time.Second)
		if resp == nil {
			t.Fatalf("agent %s did not answer", a.Addr())
		}
		expect(t, a.Addr(), decodePlain(t, resp).Variables,
			"1.3.6.1.2.1.1.1.0 = "+canon(gosnmp.OctetString, "meetnoc test agent, Version 1.0"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, a := range agents {
		ids[string(a.EngineID())] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct engine IDs among %d agents", len(ids), n)
	}
}

func TestListenErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Communities: []string{"public"}}, "snmpagent: no listen address"},
		{Config{Addr: "127.0.0.1:0"}, "snmpagent: neither communities nor users: the agent would answer nothing"},
		{Config{Addr: "127.0.0.1:0", Communities: []string{"public"}, MaxMessageSize: 400}, "snmpagent: MaxMessageSize 400 is below the SNMP minimum of 484"},
		{Config{Addr: "127.0.0.1:0", Communities: []string{"public"}, EngineID: []byte{1, 2, 3}}, "snmpagent: engine ID of 3 octets, want 5 to 32 (RFC 3411)"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "x", PrivProtocol: gosnmp.AES, PrivPassphrase: "12345678"}}}, `snmpagent: user "x": privacy without authentication`},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "x", AuthProtocol: gosnmp.SHA, AuthPassphrase: "short"}}}, `snmpagent: user "x": authentication passphrase shorter than 8 characters`},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "x"}, {Name: "x"}}}, `snmpagent: user "x" configured twice`},
	} {
		a, err := Listen(tc.cfg)
		if err == nil {
			a.Close()
			t.Errorf("Listen(%+v) succeeded, want %q", tc.cfg, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Listen: %q, want %q", err, tc.want)
		}
	}
}
