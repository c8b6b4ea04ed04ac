package snmpagent

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// recordingsDir is ../shared/testdata/snmprec beside the repository.
func recordingsDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(testenv.SharedTestdata(t), "snmprec")
}

// The shared recordings and how many records each holds (grep -c of the files).
var recordings = map[string]int{
	"arubaos.snmprec":       27280,
	"ios_2960x.snmprec":     10842,
	"linux_icecast.snmprec": 1279,
}

// fileRecords reads a recording plainly, as the oracle for the parser: OID,
// and the value as canon renders it, for the tags the recordings use.
func fileRecords(t testing.TB, path string) (oids []string, values map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]gosnmp.Asn1BER{"2": gosnmp.Integer, "4": gosnmp.OctetString, "6": gosnmp.ObjectIdentifier,
		"64": gosnmp.IPAddress, "65": gosnmp.Counter32, "66": gosnmp.Gauge32, "67": gosnmp.TimeTicks, "70": gosnmp.Counter64}
	values = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 3)
		if len(f) != 3 {
			t.Fatalf("%s: unexpected line %q", path, sc.Text())
		}
		var v string
		switch f[1] {
		case "4x":
			b, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			v = canon(gosnmp.OctetString, b)
		case "2", "65", "66", "67", "70":
			v = types[f[1]].String() + " " + f[2]
		default:
			typ, ok := types[f[1]]
			if !ok {
				t.Fatalf("%s: tag %q not in the oracle", path, f[1])
			}
			v = canon(typ, f[2])
		}
		oids = append(oids, f[0])
		values[f[0]] = v
	}
	return oids, values
}

func TestLoadSharedRecordings(t *testing.T) {
	dir := recordingsDir(t)
	for name, records := range recordings {
		tree, err := LoadSnmprec(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if tree.Len() != records {
			t.Errorf("%s: %d variables, want %d", name, tree.Len(), records)
		}
	}

	spot := []struct {
		file, oid string
		want      string
	}{
		{"arubaos.snmprec", "1.3.6.1.2.1.1.1.0", canon(gosnmp.OctetString, "ArubaOS Version 6.4.4.4-4.2.3.1")},
		{"arubaos.snmprec", "1.3.6.1.2.1.1.2.0", "ObjectIdentifier 1.3.6.1.4.1.14823.1.1.9999"},
		{"arubaos.snmprec", "1.3.6.1.2.1.4.20.1.1.172.31.200.111", "IPAddress 172.31.200.111"},
		{"ios_2960x.snmprec", "1.3.6.1.2.1.31.1.1.1.6.10101", "Counter64 398132500"},
		{"ios_2960x.snmprec", "1.3.6.1.2.1.31.1.1.1.1.10101", canon(gosnmp.OctetString, "Gi1/0/1")},
		{"ios_2960x.snmprec", "1.3.6.1.2.1.1.3.0", "TimeTicks 718475737"},
		{"ios_2960x.snmprec", "1.3.6.1.2.1.47.1.1.1.1.6.1", "Integer -1"},
		{"linux_icecast.snmprec", "1.3.6.1.2.1.2.2.1.6.2", canon(gosnmp.OctetString, []byte{0xd6, 0x0e, 0x32, 0x94, 0xe0, 0xa0})},
	}
	for _, s := range spot {
		tree, err := LoadSnmprec(filepath.Join(dir, s.file))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := tree.Get(MustParseOID(s.oid))
		if !ok {
			t.Errorf("%s: no %s", s.file, s.oid)
			continue
		}
		if got := canon(f()); got != s.want {
			t.Errorf("%s %s = %s, want %s", s.file, s.oid, got, s.want)
		}
	}
}

// TestServeRecordings walks each recording through the agent with gosnmp
// and compares every value with the file.
func TestServeRecordings(t *testing.T) {
	dir := recordingsDir(t)
	for name := range recordings {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			tree, err := LoadSnmprec(path)
			if err != nil {
				t.Fatal(err)
			}
			a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}})
			g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) { g.MaxRepetitions = 50 })
			pdus, err := g.BulkWalkAll(".1.3")
			if err != nil {
				t.Fatal(err)
			}
			_, values := fileRecords(t, path)
			if len(pdus) != len(values) {
				t.Errorf("walk returned %d varbinds, the file holds %d", len(pdus), len(values))
			}
			for _, p := range pdus {
				oid := strings.TrimPrefix(p.Name, ".")
				if got, want := canon(p.Type, p.Value), values[oid]; got != want {
					t.Errorf("%s = %s, file says %s", oid, got, want)
				}
			}
		})
	}
}

func TestParseSnmprecErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"1.3.6.1.2.1.1.1.0|4", `lab.snmprec:4: want OID|TAG|VALUE, got "1.3.6.1.2.1.1.1.0|4"`},
		{"1.3.6.x|2|5", `lab.snmprec:4: OID "1.3.6.x": sub-identifier "x": not a number`},
		{"5.3|2|1", `lab.snmprec:4: OID 5.3 cannot be encoded (RFC 2578 7.1.3)`},
		{"1.3.6.1|2|abc", `lab.snmprec:4: INTEGER value "abc": invalid syntax`},
		{"1.3.6.1|2|2147483648", `lab.snmprec:4: INTEGER value "2147483648": value out of range`},
		{"1.3.6.1|99|1", `lab.snmprec:4: unknown type tag "99"`},
		{"1.3.6.1|4x|zz", `lab.snmprec:4: OctetString value "zz": encoding/hex: invalid byte: U+007A 'z'`},
		{"1.3.6.1|2x|01", `lab.snmprec:4: Integer value "01": encoding 'x' applies to strings only`},
		{"1.3.6.1|65|4294967296", `lab.snmprec:4: Counter32 value "4294967296": value out of range`},
		{"1.3.6.1|64|1.2.3", `lab.snmprec:4: IpAddress value "1.2.3" is not an IPv4 address`},
		{"1.3.6.1|64x|0102", `lab.snmprec:4: IpAddress value "0102": 2 octets, want 4`},
		{`1.3.6.1|4e|bad\q`, `lab.snmprec:4: OctetString value "bad\\q": unknown escape \q`},
		{"1.3.6.1|65:delay|wait=100", `lab.snmprec:4: variation module "delay": cannot be emulated, and "wait=100" holds no static Counter32 value`},
		{"1.3.6.1|4:sql|snmprec", `lab.snmprec:4: variation module "sql": cannot be emulated, and "snmprec" holds no static OctetString value`},
		{"1.3.6.1.2.1.2|:multiplex|dir=variation/multiplex,period=10.0", `lab.snmprec:4: variation module "multiplex" over a subtree cannot be emulated`},
		{"1.3.6.1|65:numeric|rate=fast", `lab.snmprec:4: variation module "numeric": option rate="fast" is not a non-negative number`},
	} {
		text := "# a recording\n\n1.3.6.1.2.1.1.1.0|4|fine\n" + tc.line + "\n1.3.6.1.2.1.1.2.0|6|1.3.6.1\n"
		_, err := ParseSnmprec(strings.NewReader(text), "lab.snmprec")
		if err == nil || err.Error() != tc.want {
			t.Errorf("line %q:\n got %v\nwant %s", tc.line, err, tc.want)
		}
	}
}

func TestParseSnmprecValues(t *testing.T) {
	text := strings.Join([]string{
		`1.3.6.1.2.1.1.1.0|4|  text with |pipes| inside  `,
		`1.3.6.1.2.1.1.4.0|4e|a\nb\x41\\`,
		`1.3.6.1.2.1.1.5.0|4|`,
		`1.3.6.1.2.1.1.6.0|68x|0a0b`,
		`1.3.6.1.2.1.1.7.0|5|`,
		`1.3.6.1.2.1.1.8.0|129|`,
		`1.3.6.1.2.1.2.2.1.2.1|4:delay|value=eth0,wait=100`,
		`1.3.6.1.2.1.2.2.1.6.1|4:delay|hexvalue=00127962f940,wait=800`,
		`1.3.6.1.2.1.2.2.1.7.1|2:error|op=get,status=authorizationError,value=1`,
		`1.3.6.1.2.1.2.2.1.8.1|2:writecache|value=42,vlist=lt:40:wrongvalue`,
		`1.3.6.1.2.1.2.2.1.13.1|65:numeric|scale=0.6,offset=1,deviation=1,function=cos,cumulative=1,initial=77`,
		`1.3.6.1.2.1.2.2.1.14.1|66:delay|12345`,
		`1.3.6.1.2.1.1.2.0|6|.1.3.6.1.4.1.8072`,
		`1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1208`, // a later record of one OID wins
	}, "\r\n")
	tree, err := ParseSnmprec(strings.NewReader(text), "values.snmprec")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ oid, want string }{
		{"1.3.6.1.2.1.1.1.0", canon(gosnmp.OctetString, "  text with |pipes| inside")}, // snmpsim strips lines, not values
		{"1.3.6.1.2.1.1.4.0", canon(gosnmp.OctetString, "a\nbA\\")},
		{"1.3.6.1.2.1.1.5.0", "OctetString "},
		{"1.3.6.1.2.1.1.6.0", "Opaque 0a0b"},
		{"1.3.6.1.2.1.1.7.0", "Null "},
		{"1.3.6.1.2.1.1.8.0", "NoSuchInstance "},
		{"1.3.6.1.2.1.2.2.1.2.1", canon(gosnmp.OctetString, "eth0")},
		{"1.3.6.1.2.1.2.2.1.6.1", "OctetString 00127962f940"},
		{"1.3.6.1.2.1.2.2.1.7.1", "Integer 1"},
		{"1.3.6.1.2.1.2.2.1.8.1", "Integer 42"},
		{"1.3.6.1.2.1.2.2.1.13.1", "Counter32 77"},
		{"1.3.6.1.2.1.2.2.1.14.1", "Gauge32 12345"},
		{"1.3.6.1.2.1.1.2.0", "ObjectIdentifier 1.3.6.1.4.1.9.1.1208"},
	} {
		f, ok := tree.Get(MustParseOID(c.oid))
		if !ok {
			t.Errorf("no %s", c.oid)
			continue
		}
		if got := canon(f()); got != c.want {
			t.Errorf("%s = %s, want %s", c.oid, got, c.want)
		}
	}
	if tree.Len() != 13 {
		t.Errorf("%d variables, want 13", tree.Len())
	}
}

// TestNumericVariation: snmpsim's numeric module moves counters.
func TestNumericVariation(t *testing.T) {
	text := strings.Join([]string{
		`1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=10000,initial=5`,
		`1.3.6.1.2.1.2.2.1.10.2|65:numeric|initial=4294967290,rate=10000,wrap=1`,
		`1.3.6.1.2.1.2.2.1.10.3|65:numeric|initial=4294967290,rate=10000`,
		`1.3.6.1.2.1.31.1.1.1.6.1|70:numeric|initial=18446744073709551000,rate=100`,
		`1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=100000000`,
		`1.3.6.1.2.1.2.2.1.7.1|2:numeric|rate=0,initial=1`,
	}, "\n")
	tree, err := ParseSnmprec(strings.NewReader(text), "numeric.snmprec")
	if err != nil {
		t.Fatal(err)
	}
	read := func(oid string) uint64 {
		f, ok := tree.Get(MustParseOID(oid))
		if !ok {
			t.Fatalf("no %s", oid)
		}
		_, v := f()
		return gosnmp.ToBigInt(v).Uint64()
	}
	first := read("1.3.6.1.2.1.2.2.1.10.1")
	if first < 5 || first > 5+10000 {
		t.Errorf("counter starts at %d, want about 5", first)
	}
	if v := read("1.3.6.1.2.1.31.1.1.1.6.1"); v < 18446744073709551000 {
		t.Errorf("Counter64 lost precision: %d", v)
	}
	time.Sleep(20 * time.Millisecond)
	if later := read("1.3.6.1.2.1.2.2.1.10.1"); later < first+100 {
		t.Errorf("counter moved from %d to %d in 20ms at 10000/s", first, later)
	}
	if v := read("1.3.6.1.2.1.2.2.1.10.2"); v > 1000 {
		t.Errorf("wrapping counter at %d, want wrapped past 2^32-1", v)
	}
	if v := read("1.3.6.1.2.1.2.2.1.10.3"); v != 4294967295 {
		t.Errorf("capped counter at %d, want 4294967295", v)
	}
	if v := read("1.3.6.1.2.1.1.3.0"); v < 100000000 {
		t.Errorf("TimeTicks at %d", v)
	}
	if v := read("1.3.6.1.2.1.2.2.1.7.1"); v != 1 {
		t.Errorf("rate 0 integer at %d, want 1", v)
	}
}
