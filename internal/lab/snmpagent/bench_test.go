package snmpagent

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// benchTree is a 48-port switch's ifXTable with moving counters, as the lab
// serves it.
func benchTree() *Tree {
	t := &Tree{}
	start := time.Now()
	ifX := MustParseOID("1.3.6.1.2.1.31.1.1.1")
	for i := uint32(1); i <= 48; i++ {
		rate := uint64(i) * 1000
		t.Set(ifX.Append(1, i), Static(gosnmp.OctetString, fmt.Sprintf("Gi1/0/%d", i)))
		t.Set(ifX.Append(6, i), func() (gosnmp.Asn1BER, any) {
			return gosnmp.Counter64, uint64(time.Since(start).Microseconds()) * rate
		})
		t.Set(ifX.Append(10, i), func() (gosnmp.Asn1BER, any) {
			return gosnmp.Counter64, uint64(time.Since(start).Microseconds()) * rate / 2
		})
		t.Set(ifX.Append(15, i), Static(gosnmp.Gauge32, uint32(1000)))
		t.Set(ifX.Append(18, i), Static(gosnmp.OctetString, fmt.Sprintf("to AP %d", i)))
	}
	return t.Freeze()
}

// BenchmarkGetBulk measures the agent answering a GETBULK of ifHCInOctets
// with max-repetitions 25: in process ("handler", the agent's own cost) and
// over loopback UDP, for SNMPv2c and SNMPv3 authPriv (SHA, AES).
func BenchmarkGetBulk(b *testing.B) {
	u := User{Name: "noc", AuthProtocol: gosnmp.SHA, AuthPassphrase: "noc-auth-passphrase", PrivProtocol: gosnmp.AES, PrivPassphrase: "noc-priv-passphrase"}
	a := startAgent(b, Config{MIB: benchTree(), Communities: []string{"public"}, Users: []User{u}})
	column := MustParseOID("1.3.6.1.2.1.31.1.1.1.6")

	v2 := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}
	v2req, err := v2.SnmpEncodePacket(gosnmp.GetBulkRequest, []gosnmp.SnmpPDU{{Name: column.String(), Type: gosnmp.Null}}, 0, 25)
	if err != nil {
		b.Fatal(err)
	}
	v3enc := &gosnmp.GoSNMP{}
	v3(u, gosnmp.AuthPriv)(v3enc)
	sp := v3enc.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots = string(a.EngineID()), a.EngineBoots()
	if err := sp.InitSecurityKeys(); err != nil {
		b.Fatal(err)
	}
	v3enc.ContextEngineID = string(a.EngineID())
	v3req, err := v3enc.SnmpEncodePacket(gosnmp.GetBulkRequest, []gosnmp.SnmpPDU{{Name: column.String(), Type: gosnmp.Null}}, 0, 25)
	if err != nil {
		b.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		req  []byte
	}{{"v2c", v2req}, {"v3-authPriv", v3req}} {
		b.Run(tc.name+"/handler", func(b *testing.B) {
			s := new(scratch)
			pkt := make([]byte, len(tc.req))
			b.ReportAllocs()
			for b.Loop() {
				copy(pkt, tc.req) // the agent zeroes the MAC in place
				if out := a.answer(pkt, s); len(out) == 0 {
					b.Fatal("no answer")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*25), "ns/varbind")
		})
		b.Run(tc.name+"/udp", func(b *testing.B) {
			c, err := net.Dial("udp", a.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 65535)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(tc.req); err != nil {
					b.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Check once that the answers are what they should be.
	s := new(scratch)
	p := decodePlain(b, a.answer(append([]byte(nil), v2req...), s))
	if len(p.Variables) != 25 || p.Variables[24].Name != "."+column.Append(25).String() {
		b.Fatalf("GETBULK answered with %d varbinds", len(p.Variables))
	}
}
