// Command switchrec writes the recording (.snmprec, the snmpsim format) of a
// simulated switch with any number of interfaces (lab.NewSwitchMIB, the lab's
// access-switch model) at one fixed moment, for the SNMP benchmark: the
// 800-interface switch that snmpsimd serves to meetnoc and snmp_exporter alike.
//
//	switchrec -interfaces 800 -out /tmp/x/public.snmprec
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab"
	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

func main() {
	n := flag.Int("interfaces", 800, "number of interfaces")
	name := flag.String("name", "bench-sw800", "sysName of the switch")
	out := flag.String("out", "", "file to write (required)")
	flag.Parse()
	if *out == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *name, *n); err != nil {
		fmt.Fprintln(os.Stderr, "switchrec:", err)
		os.Exit(1)
	}
}

func write(path, name string, n int) error {
	// A fixed clock: a recording is one moment of the switch.
	at := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	tree := lab.NewSwitchMIB(name, n, func() time.Time { return at })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	lines := 0
	// The tree is sorted; snmpsim wants its records in OID order too.
	for oid, v, ok := tree.Next(snmpagent.OID{}); ok; oid, v, ok = tree.Next(oid) {
		typ, val := v()
		tag, text, err := record(typ, val)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", oid, err)
		}
		fmt.Fprintf(w, "%s|%s|%s\n", oid, tag, text)
		lines++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "switchrec: %s: %d interfaces, %d variables\n", path, n, lines)
	return nil
}

// record renders a value as an snmprec tag and value: the BER type number, with
// an "x" suffix where the value is hex (octet strings that are not plain text).
func record(typ gosnmp.Asn1BER, val any) (tag, text string, err error) {
	switch typ {
	case gosnmp.OctetString:
		var b []byte
		switch v := val.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			return "", "", fmt.Errorf("octet string of type %T", val)
		}
		if printable(b) {
			return "4", string(b), nil
		}
		return "4x", hex.EncodeToString(b), nil
	case gosnmp.Integer:
		return "2", fmt.Sprint(val), nil
	case gosnmp.ObjectIdentifier:
		return "6", fmt.Sprint(val), nil
	case gosnmp.Counter32:
		return "65", fmt.Sprint(val), nil
	case gosnmp.Gauge32:
		return "66", fmt.Sprint(val), nil
	case gosnmp.TimeTicks:
		return "67", fmt.Sprint(val), nil
	case gosnmp.Counter64:
		return "70", fmt.Sprint(val), nil
	}
	return "", "", fmt.Errorf("type %v not supported", typ)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '|' {
			return false
		}
	}
	return true
}
