package snmpagent

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Test OIDs.
var (
	oidSysDescr    = MustParseOID("1.3.6.1.2.1.1.1.0")
	oidSysObjectID = MustParseOID("1.3.6.1.2.1.1.2.0")
	oidSysUpTime   = MustParseOID("1.3.6.1.2.1.1.3.0")
	oidIfDescr     = MustParseOID("1.3.6.1.2.1.2.2.1.2")
	oidIfSpeed     = MustParseOID("1.3.6.1.2.1.2.2.1.5")
	oidIfInOctets  = MustParseOID("1.3.6.1.2.1.2.2.1.10")
	oidIfHCIn      = MustParseOID("1.3.6.1.2.1.31.1.1.1.6")
	oidLast        = MustParseOID("1.3.6.1.4.1.99999.9.0")
)

const testRows = 30

// testTree is a MIB with every value type the agent serves, edge values
// included, and a table of testRows rows.
func testTree() *Tree {
	t := &Tree{}
	set := func(oid string, typ gosnmp.Asn1BER, v any) { t.Set(MustParseOID(oid), Static(typ, v)) }
	set("1.3.6.1.2.1.1.1.0", gosnmp.OctetString, "meetnoc test agent, Version 1.0")
	set("1.3.6.1.2.1.1.2.0", gosnmp.ObjectIdentifier, "1.3.6.1.4.1.8072.3.2.10")
	set("1.3.6.1.2.1.1.3.0", gosnmp.TimeTicks, uint32(123456))
	set("1.3.6.1.2.1.1.4.0", gosnmp.OctetString, []byte{0x00, 0xff, 0x80, 0x0a, 0x7f})
	set("1.3.6.1.2.1.1.5.0", gosnmp.OctetString, "")
	set("1.3.6.1.2.1.1.7.0", gosnmp.Integer, 72)
	set("1.3.6.1.2.1.2.1.0", gosnmp.Integer, testRows)
	for i := uint32(1); i <= testRows; i++ {
		t.Set(oidIfDescr.Append(i), Static(gosnmp.OctetString, fmt.Sprintf("GigabitEthernet1/0/%d", i)))
		t.Set(oidIfSpeed.Append(i), Static(gosnmp.Gauge32, uint32(1_000_000_000)))
		t.Set(oidIfInOctets.Append(i), Static(gosnmp.Counter32, uint32(i)*0x01010101))
		t.Set(oidIfHCIn.Append(i), Static(gosnmp.Counter64, uint64(1)<<40+uint64(i)))
	}
	set("1.3.6.1.2.1.4.20.1.1.192.0.2.1", gosnmp.IPAddress, "192.0.2.1")
	set("1.3.6.1.4.1.99999.1.0", gosnmp.Integer, -5)
	set("1.3.6.1.4.1.99999.2.0", gosnmp.Integer, math.MinInt32)
	set("1.3.6.1.4.1.99999.3.0", gosnmp.Integer, math.MaxInt32)
	set("1.3.6.1.4.1.99999.4.0", gosnmp.Counter32, uint32(math.MaxUint32))
	set("1.3.6.1.4.1.99999.5.0", gosnmp.Counter64, uint64(math.MaxUint64))
	set("1.3.6.1.4.1.99999.6.0", gosnmp.Gauge32, uint32(0))
	set("1.3.6.1.4.1.99999.7.0", gosnmp.Opaque, []byte{0x01, 0x02, 0x03})
	set("1.3.6.1.4.1.99999.8.0", gosnmp.ObjectIdentifier, "0.0")
	set("1.3.6.1.4.1.99999.8.1", gosnmp.Null, nil)
	set(oidLast.String(), gosnmp.OctetString, strings.Repeat("x", 200)) // long: two-octet lengths
	return t.Freeze()
}

// canon renders a value for comparison, whether it came from a MIB or from
// gosnmp's decoder.
func canon(t gosnmp.Asn1BER, v any) string {
	var s string
	switch t {
	case gosnmp.OctetString, gosnmp.Opaque:
		switch x := v.(type) {
		case []byte:
			s = fmt.Sprintf("%x", x)
		case string:
			s = fmt.Sprintf("%x", x)
		}
	case gosnmp.ObjectIdentifier:
		s = strings.TrimPrefix(v.(string), ".")
	case gosnmp.IPAddress:
		s = v.(string)
	case gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
	default:
		s = gosnmp.ToBigInt(v).String()
	}
	return fmt.Sprintf("%s %s", t, s)
}

// pduString renders a varbind gosnmp decoded.
func pduString(p gosnmp.SnmpPDU) string {
	return strings.TrimPrefix(p.Name, ".") + " = " + canon(p.Type, p.Value)
}

// treeStrings renders the variables of a tree in order, as pduString does;
// skip leaves some out.
func treeStrings(t *Tree, skip func(OID, gosnmp.Asn1BER) bool) []string {
	var out []string
	for _, v := range t.vars {
		typ, val := v.value()
		if skip != nil && skip(v.oid, typ) {
			continue
		}
		out = append(out, v.oid.String()+" = "+canon(typ, val))
	}
	return out
}

// startAgent starts an agent and stops it when the test ends.
func startAgent(t testing.TB, cfg Config) *Agent {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	a, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return a
}

// client is a gosnmp manager for the agent at addr; configure adjusts it
// before it connects.
func client(t testing.TB, addr string, configure func(*gosnmp.GoSNMP)) *gosnmp.GoSNMP {
	t.Helper()
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	g := &gosnmp.GoSNMP{
		Target:         host,
		Port:           uint16(port),
		Version:        gosnmp.Version2c,
		Community:      "public",
		Timeout:        2 * time.Second,
		Retries:        0,
		MaxRepetitions: 10,
	}
	if configure != nil {
		configure(g)
	}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// v3 configures a gosnmp manager as a USM user at the given level.
func v3(u User, level gosnmp.SnmpV3MsgFlags) func(*gosnmp.GoSNMP) {
	return func(g *gosnmp.GoSNMP) {
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = level
		auth, priv := u.AuthProtocol, u.PrivProtocol
		if auth == 0 {
			auth = gosnmp.NoAuth
		}
		if priv == 0 {
			priv = gosnmp.NoPriv
		}
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 u.Name,
			AuthenticationProtocol:   auth,
			AuthenticationPassphrase: u.AuthPassphrase,
			PrivacyProtocol:          priv,
			PrivacyPassphrase:        u.PrivPassphrase,
		}
	}
}

// exchange sends one datagram to the agent and returns its answer, or nil
// after timeout.
func exchange(t testing.TB, addr string, msg []byte, timeout time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil
		}
		t.Fatal(err)
	}
	return buf[:n]
}

// decodePlain decodes an SNMPv1/v2c message, or an SNMPv3 one sent noAuthNoPriv.
func decodePlain(t testing.TB, msg []byte) *gosnmp.SnmpPacket {
	t.Helper()
	d := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	r := berReader{b: msg}
	if !r.enter(tagSequence) {
		t.Fatalf("not a message: %x", msg)
	}
	if version, _ := r.int(tagInteger); version == int64(gosnmp.Version3) {
		d = &gosnmp.GoSNMP{
			Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.NoAuthNoPriv,
			SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "decoder"},
		}
	}
	p, err := d.SnmpDecodePacket(msg)
	if err != nil {
		t.Fatalf("decoding %x: %v", msg, err)
	}
	return p
}
