package snmp

import (
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// maxLabelBytes bounds every label value taken from an agent: a runaway
// description must not blow up the series' size.
const maxLabelBytes = 128

// cell is one fetched value, as gosnmp decoded it: OctetString → []byte,
// Integer → int, Counter32/Gauge32 → uint, TimeTicks/Uinteger32 → uint32,
// Counter64 → uint64, IPAddress/ObjectIdentifier → string, Opaque floats →
// float32/float64.
type cell struct {
	typ gosnmp.Asn1BER
	val any
}

// usable tells whether a varbind carries a value at all.
func usable(t gosnmp.Asn1BER) bool {
	switch t {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null, gosnmp.UnknownType:
		return false
	}
	return true
}

// numericValue reads a cell as a number. Numbers sent as text (UCD's laLoad
// "0.25") count; anything else that is not a number does not.
func numericValue(c cell) (float64, bool) {
	switch v := c.val.(type) {
	case int:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case int64:
		return float64(v), true
	case float32:
		return float64(v), true
	case float64:
		return v, true
	case []byte:
		if c.typ != gosnmp.OctetString {
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
		if err != nil || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// integerValue reads a cell as an integer, for value maps.
func integerValue(c cell) (int64, bool) {
	switch v := c.val.(type) {
	case int:
		return int64(v), true
	case uint:
		if uint64(v) > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case int64:
		return v, true
	case []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// rawText is a cell's value as a value map key: decimal for numbers, text for
// strings.
func rawText(c cell) string {
	if n, ok := integerValue(c); ok {
		if _, isBytes := c.val.([]byte); !isBytes {
			return strconv.FormatInt(n, 10)
		}
	}
	return cellText(c)
}

// cellText renders a cell as label text.
func cellText(c cell) string {
	switch v := c.val.(type) {
	case []byte:
		return sanitizeText(v)
	case string:
		if c.typ == gosnmp.ObjectIdentifier {
			v = strings.TrimPrefix(v, ".")
		}
		return sanitizeString(v)
	case int:
		return strconv.Itoa(v)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return ""
}

// formatCell renders a label's cell in the label's format.
func formatCell(c cell, lp *labelPlan) string {
	if lp.valueMap != nil {
		if v, ok := lp.valueMap[rawText(c)]; ok {
			return sanitizeString(v)
		}
	}
	b, isBytes := c.val.([]byte)
	switch lp.format {
	case formatMAC:
		if isBytes && len(b) > 0 {
			return truncate(colonHex(b))
		}
	case formatHex:
		if isBytes {
			return truncate(hex.EncodeToString(b))
		}
	case formatIPAddr:
		if isBytes {
			if a, ok := netip.AddrFromSlice(b); ok {
				return a.Unmap().String()
			}
		}
	}
	return cellText(c)
}

// decodeIndex renders the sub-identifiers of a row index in a format: a table
// indexed by an AP's MAC gives the MAC, one indexed by a string the string.
func decodeIndex(index string, lp *labelPlan) string {
	if lp.valueMap != nil {
		if v, ok := lp.valueMap[index]; ok {
			return sanitizeString(v)
		}
	}
	if lp.format == formatIndex || lp.format == formatInt && !strings.Contains(index, ".") {
		return index
	}
	var buf [64]uint32
	subs, ok := parseIndex(index, buf[:0])
	if !ok {
		return index
	}
	switch lp.format {
	case formatMAC:
		if b, ok := octets(subs); ok && len(b) == 6 {
			return colonHex(b)
		}
	case formatHex:
		if b, ok := octets(subs); ok {
			return truncate(hex.EncodeToString(b))
		}
	case formatIPAddr:
		b, ok := octets(subs)
		if ok && (len(b) == 5 && b[0] == 4 || len(b) == 17 && b[0] == 16) {
			b = b[1:] // length-prefixed, as InetAddress indices are
		}
		if a, okAddr := netip.AddrFromSlice(b); ok && okAddr {
			return a.String()
		}
	case formatText:
		if b, ok := octets(subs); ok {
			if len(b) > 0 && int(b[0]) == len(b)-1 {
				b = b[1:] // a variable-length string index carries its length first
			}
			return sanitizeText(b)
		}
	}
	return index
}

// parseIndex splits a dotted index into sub-identifiers, appending to buf.
func parseIndex(index string, buf []uint32) ([]uint32, bool) {
	var n uint64
	digits := 0
	for i := 0; i <= len(index); i++ {
		if i == len(index) || index[i] == '.' {
			if digits == 0 || len(buf) == cap(buf) {
				return nil, false
			}
			buf = append(buf, uint32(n))
			n, digits = 0, 0
			continue
		}
		c := index[i]
		if c < '0' || c > '9' {
			return nil, false
		}
		n = n*10 + uint64(c-'0')
		digits++
		if n > math.MaxUint32 {
			return nil, false
		}
	}
	return buf, true
}

// octets turns sub-identifiers that are all bytes into bytes.
func octets(subs []uint32) ([]byte, bool) {
	b := make([]byte, len(subs))
	for i, s := range subs {
		if s > 255 {
			return nil, false
		}
		b[i] = byte(s)
	}
	return b, true
}

// indexPrefix is the first n sub-identifiers of a dotted index, or the whole
// index if it has fewer.
func indexPrefix(index string, n int) string {
	for i := 0; i < len(index); i++ {
		if index[i] == '.' {
			n--
			if n == 0 {
				return index[:i]
			}
		}
	}
	return index
}

func colonHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// sanitizeText decodes an OCTET STRING as label text: UTF-8, with invalid and
// unprintable bytes (NULs, control characters) dropped, surrounding space
// trimmed, and at most maxLabelBytes long, cut on a character boundary. Names are
// never rendered as hex: a NOC volunteer must be able to read an AP's name.
func sanitizeText(b []byte) string {
	clean := len(b) <= maxLabelBytes
	for i := 0; clean && i < len(b); i++ {
		clean = b[i] >= 0x20 && b[i] < 0x7f
	}
	if clean && (len(b) == 0 || b[0] != ' ' && b[len(b)-1] != ' ') {
		return string(b)
	}
	out := make([]byte, 0, min(len(b), maxLabelBytes+utf8.UTFMax))
	for i := 0; i < len(b) && len(out) <= maxLabelBytes+utf8.UTFMax; {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r) {
			i += max(size, 1)
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return truncate(strings.TrimSpace(string(out)))
}

// sanitizeString is sanitizeText for text that is already a string.
func sanitizeString(s string) string {
	clean := len(s) <= maxLabelBytes
	for i := 0; clean && i < len(s); i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f
	}
	if clean && (len(s) == 0 || s[0] != ' ' && s[len(s)-1] != ' ') {
		return s
	}
	return sanitizeText([]byte(s))
}

// truncate cuts s to maxLabelBytes on a UTF-8 character boundary.
func truncate(s string) string {
	if len(s) <= maxLabelBytes {
		return s
	}
	cut := maxLabelBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ")
}
