package snmpagent

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// snmprecTypes maps the numeric tags of snmpsim's .snmprec format (the BER
// tag's class and number added up) to value types.
var snmprecTypes = map[string]gosnmp.Asn1BER{
	"2":   gosnmp.Integer,
	"4":   gosnmp.OctetString,
	"5":   gosnmp.Null,
	"6":   gosnmp.ObjectIdentifier,
	"64":  gosnmp.IPAddress,
	"65":  gosnmp.Counter32,
	"66":  gosnmp.Gauge32,
	"67":  gosnmp.TimeTicks,
	"68":  gosnmp.Opaque,
	"70":  gosnmp.Counter64,
	"128": gosnmp.NoSuchObject,
	"129": gosnmp.NoSuchInstance,
	"130": gosnmp.EndOfMibView,
}

// LoadSnmprec reads an snmpsim recording (.snmprec) into a frozen Tree.
func LoadSnmprec(path string) (*Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseSnmprec(f, path)
}

// ParseSnmprec reads the snmpsim .snmprec format into a frozen Tree; name
// prefixes error messages ("name:LINE: ...").
//
// A line is OID|TAG|VALUE; blank lines and lines starting with # are
// skipped. TAG is the numeric type (see snmprecTypes), optionally followed
// by x (VALUE is hex) or e (VALUE has Python string escapes), optionally
// followed by :MODULE, an snmpsim variation module. Of the modules, numeric
// is emulated for a linear value: initial, plus rate per second since the
// recording was loaded, within min and max (or wrapping, with wrap). Any
// other module, and numeric with options shaping the curve (function, scale,
// offset, deviation, atime), serves its value= or hexvalue= option, or
// numeric's initial=, or for a numeric type a VALUE that is a plain number,
// as a static value; a record with none of those is an error.
func ParseSnmprec(r io.Reader, name string) (*Tree, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	t := &Tree{}
	loaded := time.Now()
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		oid, vf, err := parseSnmprecLine(text, loaded)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		t.Set(oid, vf)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t.Freeze(), nil
}

func parseSnmprecLine(text string, loaded time.Time) (OID, ValueFunc, error) {
	oidText, rest, ok1 := strings.Cut(text, "|")
	tagText, val, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("want OID|TAG|VALUE, got %q", text)
	}
	oid, err := ParseOID(oidText)
	if err != nil {
		return nil, nil, err
	}
	if len(oid) < 2 || oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, nil, fmt.Errorf("OID %s cannot be encoded (RFC 2578 7.1.3)", oid)
	}
	tagText, module, hasModule := strings.Cut(tagText, ":")
	var encoding byte
	if n := len(tagText); n > 0 && (tagText[n-1] == 'x' || tagText[n-1] == 'e') {
		tagText, encoding = tagText[:n-1], tagText[n-1]
	}
	typ, ok := snmprecTypes[tagText]
	if !ok {
		if hasModule && tagText == "" {
			return nil, nil, fmt.Errorf("variation module %q over a subtree cannot be emulated", module)
		}
		return nil, nil, fmt.Errorf("unknown type tag %q", tagText)
	}
	if !hasModule {
		v, err := snmprecValue(typ, encoding, val)
		if err != nil {
			return nil, nil, err
		}
		return oid, Static(typ, v), nil
	}
	vf, err := snmprecVariation(typ, encoding, module, val, loaded)
	if err != nil {
		return nil, nil, fmt.Errorf("variation module %q: %w", module, err)
	}
	return oid, vf, nil
}

// snmprecValue parses a static value the way snmpsim's SnmprecRecord does.
func snmprecValue(typ gosnmp.Asn1BER, encoding byte, text string) (any, error) {
	if encoding != 0 {
		var b []byte
		var err error
		if encoding == 'x' {
			b, err = hex.DecodeString(text)
		} else {
			b, err = unescapePython(text)
		}
		if err != nil {
			return nil, fmt.Errorf("%s value %q: %w", typ, text, err)
		}
		switch typ {
		case gosnmp.OctetString, gosnmp.Opaque:
			return b, nil
		case gosnmp.IPAddress:
			if len(b) != 4 {
				return nil, fmt.Errorf("IpAddress value %q: %d octets, want 4", text, len(b))
			}
			return netip.AddrFrom4([4]byte(b)).String(), nil
		}
		return nil, fmt.Errorf("%s value %q: encoding %q applies to strings only", typ, text, encoding)
	}
	switch typ {
	case gosnmp.Integer:
		i, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("INTEGER value %q: %w", text, numErr(err))
		}
		return int(i), nil
	case gosnmp.OctetString, gosnmp.Opaque:
		return text, nil
	case gosnmp.ObjectIdentifier:
		oid, err := ParseOID(text)
		if err != nil {
			return nil, err
		}
		return oid.String(), nil
	case gosnmp.IPAddress:
		a, err := netip.ParseAddr(text)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("IpAddress value %q is not an IPv4 address", text)
		}
		return a.String(), nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		u, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s value %q: %w", typ, text, numErr(err))
		}
		return uint32(u), nil
	case gosnmp.Counter64:
		u, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("Counter64 value %q: %w", text, numErr(err))
		}
		return u, nil
	}
	return nil, nil // Null and the exceptions carry no value
}

// numErr drops strconv's repetition of the input from its errors.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// unescapePython undoes the escapes snmpsim writes for the e encoding: those
// of a Python string literal.
func unescapePython(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(s) {
			return nil, errors.New("trailing backslash")
		}
		switch s[i] {
		case '\\', '\'', '"':
			out = append(out, s[i])
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, 10)
		case 'r':
			out = append(out, 13)
		case 't':
			out = append(out, 9)
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New(`short \x escape`)
			}
			b, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil {
				return nil, fmt.Errorf(`bad \x escape %q`, s[i-1:i+3])
			}
			out = append(out, b[0])
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return out, nil
}

// splitComposite splits like snmpsim's mltsplit: by the separator tripled or
// doubled if the text holds that, so that values can contain a single one.
func splitComposite(s string, sep string) []string {
	for _, n := range []int{3, 2, 1} {
		if composite := strings.Repeat(sep, n); strings.Contains(s, composite) {
			return strings.Split(s, composite)
		}
	}
	return []string{s}
}

// snmprecVariation turns a record with a variation module into a value.
func snmprecVariation(typ gosnmp.Asn1BER, encoding byte, module, text string, loaded time.Time) (ValueFunc, error) {
	opts := map[string]string{}
	for _, kv := range splitComposite(text, ",") {
		parts := splitComposite(kv, "=")
		if len(parts) != 2 {
			opts = nil // not an option list: perhaps a plain value
			break
		}
		opts[parts[0]] = parts[1]
	}
	if module == "numeric" && opts != nil {
		if vf, ok, err := numericVariation(typ, opts, loaded); ok || err != nil {
			return vf, err
		}
	}
	for _, key := range []string{"value", "hexvalue", "initial"} {
		s, ok := opts[key]
		if !ok || (key == "initial" && module != "numeric") {
			continue
		}
		enc := encoding
		if key == "hexvalue" {
			enc = 'x'
		}
		v, err := snmprecValue(typ, enc, s)
		if err != nil {
			return nil, err
		}
		return Static(typ, v), nil
	}
	// A string type would take any text, a module's options or a command
	// line (subprocess) included, so only the options above give its value.
	if typ != gosnmp.OctetString && typ != gosnmp.Opaque {
		if v, err := snmprecValue(typ, encoding, text); err == nil {
			return Static(typ, v), nil
		}
	}
	return nil, fmt.Errorf("cannot be emulated, and %q holds no static %s value", text, typ)
}

// numericVariation emulates snmpsim's numeric module for linear values; ok
// is false for options it does not emulate.
func numericVariation(typ gosnmp.Asn1BER, opts map[string]string, loaded time.Time) (ValueFunc, bool, error) {
	var limit uint64 = math.MaxUint32
	switch typ {
	case gosnmp.Counter64:
		limit = math.MaxUint64
	case gosnmp.Integer:
		limit = math.MaxInt32
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
	default:
		return nil, false, fmt.Errorf("numeric does not apply to %s", typ)
	}
	num := func(key string, def float64) (float64, error) {
		s, ok := opts[key]
		if !ok {
			return def, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("option %s=%q is not a non-negative number", key, s)
		}
		return f, nil
	}
	for key := range opts {
		switch key {
		case "initial", "rate", "min", "max", "wrap", "cumulative":
		default:
			return nil, false, nil
		}
	}
	lo, err := num("min", 0)
	if err != nil {
		return nil, false, err
	}
	hi, err := num("max", float64(limit))
	if err != nil {
		return nil, false, err
	}
	initial, err := num("initial", lo)
	if err != nil {
		return nil, false, err
	}
	rate, err := num("rate", 1)
	if err != nil {
		return nil, false, err
	}
	// Integral options keep full 64-bit precision; rates may be fractional.
	exact := func(key string, f float64) uint64 {
		if u, err := strconv.ParseUint(opts[key], 10, 64); err == nil {
			return min(u, limit)
		}
		if f >= float64(limit) {
			return limit
		}
		return uint64(f)
	}
	floor, ceiling, start := exact("min", lo), exact("max", hi), exact("initial", initial)
	_, wrap := opts["wrap"]
	if ceiling < floor {
		return nil, false, fmt.Errorf("max %d below min %d", ceiling, floor)
	}
	return func() (gosnmp.Asn1BER, any) {
		v := start + uint64(rate*time.Since(loaded).Seconds())
		if v < start { // overflowed uint64
			v = math.MaxUint64
		}
		switch {
		case v < floor:
			v = floor
		case v > ceiling && wrap && ceiling > 0:
			v = v%ceiling + floor
		case v > ceiling:
			v = ceiling
		}
		switch typ {
		case gosnmp.Counter64:
			return typ, v
		case gosnmp.Integer:
			return typ, int(v)
		}
		return typ, uint32(v)
	}, true, nil
}
