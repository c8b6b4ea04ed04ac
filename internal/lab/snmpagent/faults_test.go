package snmpagent

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// ifDescrLines are the first n rows of the test MIB's ifDescr column.
func ifDescrLines(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("1.3.6.1.2.1.2.2.1.2.%d = %s", i, canon(gosnmp.OctetString, fmt.Sprintf("GigabitEthernet1/0/%d", i))))
	}
	return out
}

// bulkRequest is an SNMPv2c GETBULK of ifDescr with max-repetitions 25.
func bulkRequest(t testing.TB, version gosnmp.SnmpVersion) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: version, Community: "public"}
	msg, err := g.SnmpEncodePacket(gosnmp.GetBulkRequest, []gosnmp.SnmpPDU{{Name: oidIfDescr.String(), Type: gosnmp.Null}}, 0, 25)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// checkCut checks a GETBULK response cut short to fit limit octets: it fits,
// it is a prefix of the column, and the next row would not have fitted.
func checkCut(t testing.TB, resp []byte, vars []gosnmp.SnmpPDU, limit int) {
	t.Helper()
	n := len(vars)
	if n == 0 || n >= 25 {
		t.Fatalf("%d varbinds in a response limited to %d octets", n, limit)
	}
	if len(resp) > limit {
		t.Errorf("response of %d octets, limit %d", len(resp), limit)
	}
	expect(t, "cut GETBULK", vars, ifDescrLines(n)...)
	next := value{tag: byte(gosnmp.OctetString), kind: kindString, str: fmt.Sprintf("GigabitEthernet1/0/%d", n+1)}
	next.n = len(next.str)
	if extra := varBindLen(oidIfDescr.Append(uint32(n+1)), &next); len(resp)+extra <= limit {
		t.Errorf("response of %d octets with %d varbinds: the next one (%d octets) would have fitted in %d", len(resp), n, extra, limit)
	}
}

func TestTooBigOver(t *testing.T) {
	f := &Faults{}
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}, Faults: f})

	f.SetTooBigOver(300)
	resp := exchange(t, a.Addr(), bulkRequest(t, gosnmp.Version2c), time.Second)
	p := decodePlain(t, resp)
	if p.Error != gosnmp.NoError {
		t.Errorf("cut GETBULK: error-status %s", p.Error)
	}
	checkCut(t, resp, p.Variables, 300)
	if s := a.Stats(); s.Truncated != 1 {
		t.Errorf("Truncated = %d, want 1", s.Truncated)
	}

	f.SetTooBigOver(200)
	g := client(t, a.Addr(), nil)
	res, err := g.Get([]string{oidSysDescr.String(), oidLast.String()}) // 200 octets of string
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig || res.ErrorIndex != 0 || len(res.Variables) != 0 {
		t.Errorf("GET too big for 200 octets: %s index %d with %d varbinds; want tooBig, 0, none", res.Error, res.ErrorIndex, len(res.Variables))
	}
	res, err = g.GetNext([]string{"1.3.6.1.4.1.99999.8.1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig {
		t.Errorf("GETNEXT too big: error-status %s, want tooBig", res.Error)
	}
	// A GETBULK whose first varbind does not fit is tooBig too.
	res, err = g.GetBulk([]string{"1.3.6.1.4.1.99999.8.1"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig || len(res.Variables) != 0 {
		t.Errorf("GETBULK with nothing that fits: %s with %d varbinds, want tooBig, none", res.Error, len(res.Variables))
	}
	// SNMPv1 echoes the request in its tooBig.
	g1 := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Version = gosnmp.Version1 })
	res, err = g1.Get([]string{oidLast.String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.TooBig {
		t.Errorf("v1 GET too big: error-status %s, want tooBig", res.Error)
	}
	expect(t, "v1 tooBig varbinds", res.Variables, oidLast.String()+" = Null ")

	f.SetTooBigOver(0)
	resp = exchange(t, a.Addr(), bulkRequest(t, gosnmp.Version2c), time.Second)
	expect(t, "GETBULK without the fault", decodePlain(t, resp).Variables, ifDescrLines(25)...)
	if s := a.Stats(); s.TooBig != 4 {
		t.Errorf("TooBig = %d, want 4", s.TooBig)
	}
}

// TestMaxMessageSize: with the smallest message size SNMP allows, GETBULK
// responses are cut short, and walks still see the whole MIB.
func TestMaxMessageSize(t *testing.T) {
	tree := testTree()
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}, Users: testUsers, MaxMessageSize: 484})
	resp := exchange(t, a.Addr(), bulkRequest(t, gosnmp.Version2c), time.Second)
	checkCut(t, resp, decodePlain(t, resp).Variables, 484)

	for _, configure := range []func(*gosnmp.GoSNMP){nil, v3(testUser(t, "md5-des"), gosnmp.AuthPriv), v3(testUser(t, "sha512-aes256"), gosnmp.AuthPriv)} {
		g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) {
			if configure != nil {
				configure(g)
			}
			g.MaxRepetitions = 50
		})
		before := a.Stats().Truncated
		pdus, err := g.BulkWalkAll(".1.3")
		if err != nil {
			t.Fatal(err)
		}
		expect(t, fmt.Sprintf("%s walk", g.Version), pdus, treeStrings(tree, nil)...)
		if a.Stats().Truncated == before {
			t.Errorf("%s walk: no response was cut short", g.Version)
		}
	}
}

// TestManagerMaxSize: an SNMPv3 manager's msgMaxSize limits the response,
// encrypted or not.
func TestManagerMaxSize(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Users: testUsers})
	const limit = 600
	for _, name := range []string{"noauth", "sha", "md5-des", "sha-aes", "sha512-aes256"} {
		t.Run(name, func(t *testing.T) {
			u := testUser(t, name)
			enc := &gosnmp.GoSNMP{}
			v3(u, levelOf(u))(enc)
			sp := enc.SecurityParameters.(*gosnmp.UsmSecurityParameters)
			sp.AuthoritativeEngineID = string(a.EngineID())
			sp.AuthoritativeEngineBoots = a.EngineBoots()
			if err := sp.InitSecurityKeys(); err != nil {
				t.Fatal(err)
			}
			msg, err := enc.SnmpEncodePacket(gosnmp.GetBulkRequest, []gosnmp.SnmpPDU{{Name: oidIfDescr.String(), Type: gosnmp.Null}}, 0, 25)
			if err != nil {
				t.Fatal(err)
			}
			// gosnmp always asks for 65535 octets; make it ask for limit.
			at := globalData(t, msg).maxSize
			if msg[at] != tagInteger || msg[at+1] != 3 {
				t.Fatalf("unexpected msgMaxSize encoding in %x", msg)
			}
			msg[at+2], msg[at+3], msg[at+4] = 0, limit>>8, limit&0xff
			if levelOf(u)&gosnmp.AuthNoPriv != 0 {
				resign(t, a, msg, u)
			}
			resp := exchange(t, a.Addr(), msg, time.Second)
			if resp == nil {
				t.Fatal("no answer")
			}
			dec := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: levelOf(u), SecurityParameters: sp}
			p, err := dec.SnmpDecodePacket(resp)
			if err != nil {
				t.Fatal(err)
			}
			if p.PDUType != gosnmp.GetResponse {
				t.Fatalf("got a %s", p.PDUType)
			}
			n := len(p.Variables)
			if len(resp) > limit || n == 0 || n >= 25 {
				t.Errorf("%d octets with %d varbinds for msgMaxSize %d", len(resp), n, limit)
			}
			expect(t, "cut GETBULK", p.Variables, ifDescrLines(n)...)
		})
	}
}

func TestEndWalkAt(t *testing.T) {
	f := &Faults{}
	tree := testTree()
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}, Faults: f})
	g := client(t, a.Addr(), nil)
	g1 := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Version = gosnmp.Version1 })

	f.SetEndWalkAt(oidIfDescr.Append(5))
	pdus, err := g.BulkWalkAll(oidIfDescr.String())
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "walk of ifDescr ending at row 5", pdus, ifDescrLines(5)...)
	pdus, err = g1.WalkAll(oidIfDescr.String())
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "v1 walk of ifDescr ending at row 5", pdus, ifDescrLines(5)...)

	res, err := g.Get([]string{oidIfDescr.Append(6).String(), oidSysDescr.String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Variables[0].Type != gosnmp.NoSuchInstance || res.Variables[1].Type != gosnmp.OctetString {
		t.Errorf("GET past the end: %s, %s", pduString(res.Variables[0]), pduString(res.Variables[1]))
	}
	res, err = g.GetNext([]string{oidIfDescr.Append(5).String()})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "GETNEXT at the end", res.Variables, "1.3.6.1.2.1.2.2.1.2.5 = EndOfMibView ")
	res, err = g1.GetNext([]string{oidIfDescr.Append(5).String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.NoSuchName {
		t.Errorf("v1 GETNEXT at the end: error-status %s, want noSuchName", res.Error)
	}

	f.SetEndWalkAt(nil)
	pdus, err = g.BulkWalkAll(".1.3")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "walk after the fault", pdus, treeStrings(tree, nil)...)
}

func TestDropAndDelay(t *testing.T) {
	f := &Faults{}
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}, Faults: f})
	fast := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Timeout = 150 * time.Millisecond })

	f.SetDrop(true)
	if _, err := fast.Get([]string{oidSysDescr.String()}); err == nil || err.Error() != errTimeout {
		t.Errorf("dropping agent: err = %v, want %q", err, errTimeout)
	}
	if s := a.Stats(); s.Dropped != 1 || s.Responses != 0 {
		t.Errorf("stats = %+v, want one dropped", s)
	}
	f.SetDrop(false)
	if _, err := fast.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("after the drop fault: %v", err)
	}

	const delay = 300 * time.Millisecond
	f.SetDelay(delay)
	if _, err := fast.Get([]string{oidSysDescr.String()}); err == nil || err.Error() != errTimeout {
		t.Errorf("slow agent, impatient manager: err = %v, want %q", err, errTimeout)
	}
	patient := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Timeout = 3 * time.Second })
	start := time.Now()
	if _, err := patient.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("slow agent, patient manager: %v", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("answer took %v, want at least %v", took, delay)
	}
	f.Reset()
	start = time.Now()
	if _, err := patient.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	if took := time.Since(start); took >= delay {
		t.Errorf("answer took %v after Reset", took)
	}
}

func TestBulkBroken(t *testing.T) {
	f := &Faults{}
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}, Faults: f})
	g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Timeout = 200 * time.Millisecond })

	f.SetBulkBroken(BulkDropped)
	if _, err := g.GetBulk([]string{oidIfDescr.String()}, 0, 10); err == nil || err.Error() != errTimeout {
		t.Errorf("dropped GETBULK: err = %v, want %q", err, errTimeout)
	}
	if _, err := g.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("GET with GETBULK broken: %v", err)
	}
	pdus, err := g.WalkAll(oidIfDescr.String()) // the GETNEXT fallback
	if err != nil || len(pdus) != testRows {
		t.Errorf("GETNEXT walk with GETBULK broken: %d rows, %v", len(pdus), err)
	}

	f.SetBulkBroken(BulkGenErr)
	res, err := g.GetBulk([]string{oidIfDescr.String()}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.GenErr || res.ErrorIndex != 0 {
		t.Errorf("GETBULK: error-status %s, index %d; want genErr, 0", res.Error, res.ErrorIndex)
	}
	expect(t, "genErr varbinds", res.Variables, oidIfDescr.String()+" = Null ")
	// Note for pollers: gosnmp's BulkWalk ends quietly on an error-status,
	// without an error and without varbinds.
	if pdus, err := g.BulkWalkAll(oidIfDescr.String()); err != nil || len(pdus) != 0 {
		t.Errorf("gosnmp BulkWalkAll on genErr: %d varbinds, %v; want none and no error", len(pdus), err)
	}

	f.SetBulkBroken(BulkWorks)
	if _, err := g.GetBulk([]string{oidIfDescr.String()}, 0, 10); err != nil {
		t.Errorf("repaired GETBULK: %v", err)
	}
}

// TestBadValue: a value the MIB cannot encode fails its request with genErr
// and the varbind's index; a panicking MIB fails only its request.
func TestBadValue(t *testing.T) {
	tree := testTree()
	bad := &Tree{}
	for _, v := range tree.vars {
		bad.Set(v.oid, v.value)
	}
	bad.Set(MustParseOID("1.3.6.1.2.1.1.6.0"), Static(gosnmp.Counter32, "not a number"))
	bad.Set(MustParseOID("1.3.6.1.2.1.1.8.0"), func() (gosnmp.Asn1BER, any) { panic("broken MIB") })
	a := startAgent(t, Config{MIB: bad.Freeze(), Communities: []string{"public"}})
	g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.Timeout = 200 * time.Millisecond })
	res, err := g.Get([]string{oidSysDescr.String(), "1.3.6.1.2.1.1.6.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.GenErr || res.ErrorIndex != 2 {
		t.Errorf("bad value: error-status %s, index %d; want genErr, 2", res.Error, res.ErrorIndex)
	}
	if _, err := g.Get([]string{"1.3.6.1.2.1.1.8.0"}); err == nil {
		t.Error("a panicking MIB function was answered")
	}
	if _, err := g.Get([]string{oidSysDescr.String()}); err != nil {
		t.Errorf("the agent did not survive a panicking MIB function: %v", err)
	}
}

func TestFaultsNil(t *testing.T) {
	var f *Faults
	if f.Drop() || f.Delay() != 0 || f.BulkBroken() != BulkWorks || f.EndWalkAt() != nil || f.TooBigOver() != 0 {
		t.Error("a nil *Faults injects faults")
	}
}

func TestParseErrors(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Communities: []string{"public"}, Users: testUsers})
	good := bulkRequest(t, gosnmp.Version2c)
	cut := good[:len(good)-3]
	v9 := append([]byte(nil), good...)
	v9[4] = 9
	long := binary.BigEndian.AppendUint16(append([]byte(nil), good...), 0)
	for _, msg := range [][]byte{{}, {0x30}, cut, v9, long, []byte("GET / HTTP/1.0\r\n\r\n")} {
		if resp := exchange(t, a.Addr(), msg, 100*time.Millisecond); resp != nil {
			t.Errorf("answered %x with %x", msg, resp)
		}
	}
	if s := a.Stats(); s.ParseErrors != 6 || s.Dropped != 6 {
		t.Errorf("stats = %+v, want 6 parse errors", s)
	}
}
