package snmpagent

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"

	"github.com/gosnmp/gosnmp"
)

// The agent encodes its responses itself rather than through gosnmp's
// SnmpPacket.MarshalMsg: that marshaller allocates several buffers per
// varbind and cannot tell a message's size before building it, while a
// GETBULK response has to be cut to fit a size limit varbind by varbind.
// Everything here is plain BER (X.690) as SNMP uses it (RFC 3417): definite
// lengths, minimal integers.

const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagOID         = 0x06
	tagSequence    = 0x30
)

// lengthLen is the size of a BER definite length field for n content octets.
func lengthLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffff:
		return 4
	default:
		return 5
	}
}

// tlvLen is the size of a whole TLV with n content octets.
func tlvLen(n int) int { return 1 + lengthLen(n) + n }

func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendHeader(b []byte, tag byte, n int) []byte {
	return appendLength(append(b, tag), n)
}

// intLen is the content size of v as a minimal two's complement integer.
func intLen(v int64) int {
	n := 1
	for v > 127 || v < -128 {
		v >>= 8
		n++
	}
	return n
}

func appendInt(b []byte, tag byte, v int64) []byte {
	n := intLen(v)
	b = append(b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// uintLen is the content size of an unsigned value, with the leading zero
// octet BER needs when the top bit is set.
func uintLen(v uint64) int {
	n := 1
	for v > 127 {
		v >>= 8
		n++
	}
	return n
}

func appendUint(b []byte, tag byte, v uint64) []byte {
	n := uintLen(v)
	b = append(b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i))) // a shift by 64 yields the leading zero
	}
	return b
}

func base128Len(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendBase128(b []byte, v uint64) []byte {
	for i := base128Len(v) - 1; i > 0; i-- {
		b = append(b, byte(v>>(7*i))|0x80)
	}
	return append(b, byte(v&0x7f))
}

// oidFirst is the first encoded sub-identifier, which packs the first two arcs.
// BER cannot encode an OID of fewer than two arcs; the missing arcs read as 0.
func oidFirst(oid []uint32) uint64 {
	var a, b uint64
	if len(oid) > 0 {
		a = uint64(oid[0])
	}
	if len(oid) > 1 {
		b = uint64(oid[1])
	}
	return a*40 + b
}

func oidLen(oid []uint32) int {
	n := base128Len(oidFirst(oid))
	for i := 2; i < len(oid); i++ {
		n += base128Len(uint64(oid[i]))
	}
	return n
}

func appendOID(b []byte, oid []uint32) []byte {
	b = appendHeader(b, tagOID, oidLen(oid))
	b = appendBase128(b, oidFirst(oid))
	for i := 2; i < len(oid); i++ {
		b = appendBase128(b, uint64(oid[i]))
	}
	return b
}

// appendParseOID parses dotted OID text onto dst without allocating.
func appendParseOID(dst []uint32, s string) ([]uint32, error) {
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
	}
	if s == "" {
		return dst, fmt.Errorf("empty OID")
	}
	var v uint64
	digits := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 {
				return dst, fmt.Errorf("OID %q: empty sub-identifier", s)
			}
			dst = append(dst, uint32(v))
			v, digits = 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return dst, fmt.Errorf("OID %q: %q is not a digit", s, c)
		}
		v = v*10 + uint64(c-'0')
		if v > math.MaxUint32 {
			return dst, fmt.Errorf("OID %q: sub-identifier out of range", s)
		}
		digits++
	}
	return dst, nil
}

// value is a variable's value ready to encode: its tag, its content size,
// and the content in whichever field its kind uses.
type value struct {
	tag   byte
	n     int
	kind  valueKind
	i     int64
	u     uint64
	bytes []byte
	str   string
	oid   []uint32
	ip    [4]byte
	float [8]byte
}

type valueKind uint8

const (
	kindEmpty valueKind = iota // Null and the exceptions: no content
	kindInt
	kindUint
	kindBytes
	kindString
	kindOID
	kindIP
	kindOpaqueFloat
)

// prepare converts a MIB value to its encoding. oidBuf is scratch for OID
// values given as text; the returned value may point into it.
func prepare(t gosnmp.Asn1BER, v any, oidBuf []uint32) (value, []uint32, error) {
	out := value{tag: byte(t)}
	switch t {
	case gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		out.kind = kindEmpty
	case gosnmp.Integer:
		i, ok := asInt64(v)
		if !ok {
			return out, oidBuf, fmt.Errorf("INTEGER value %v (%T) is not an integer", v, v)
		}
		out.kind, out.i, out.n = kindInt, i, intLen(i)
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Uinteger32:
		u, ok := asUint64(v)
		if !ok || u > math.MaxUint32 {
			return out, oidBuf, fmt.Errorf("%s value %v (%T) is not an unsigned 32-bit integer", t, v, v)
		}
		out.kind, out.u, out.n = kindUint, u, uintLen(u)
	case gosnmp.Counter64:
		u, ok := asUint64(v)
		if !ok {
			return out, oidBuf, fmt.Errorf("Counter64 value %v (%T) is not an unsigned integer", v, v)
		}
		out.kind, out.u, out.n = kindUint, u, uintLen(u)
	case gosnmp.OctetString, gosnmp.Opaque, gosnmp.BitString:
		switch x := v.(type) {
		case []byte:
			out.kind, out.bytes, out.n = kindBytes, x, len(x)
		case string:
			out.kind, out.str, out.n = kindString, x, len(x)
		default:
			return out, oidBuf, fmt.Errorf("%s value %v (%T) is neither []byte nor string", t, v, v)
		}
	case gosnmp.ObjectIdentifier:
		var err error
		switch x := v.(type) {
		case string:
			start := len(oidBuf)
			oidBuf, err = appendParseOID(oidBuf, x)
			if err != nil {
				return out, oidBuf, err
			}
			out.oid = oidBuf[start:]
		case OID:
			out.oid = x
		case []uint32:
			out.oid = x
		default:
			return out, oidBuf, fmt.Errorf("OBJECT IDENTIFIER value %v (%T) is neither a string nor an OID", v, v)
		}
		out.kind, out.n = kindOID, oidLen(out.oid)
	case gosnmp.IPAddress:
		var a netip.Addr
		switch x := v.(type) {
		case string:
			a, _ = netip.ParseAddr(x)
		case netip.Addr:
			a = x
		case net.IP:
			a, _ = netip.AddrFromSlice(x)
		case []byte:
			a, _ = netip.AddrFromSlice(x)
		}
		a = a.Unmap()
		if !a.Is4() {
			return out, oidBuf, fmt.Errorf("IpAddress value %v (%T) is not an IPv4 address", v, v)
		}
		out.kind, out.ip, out.n = kindIP, a.As4(), 4
	case gosnmp.OpaqueFloat:
		f, ok := v.(float32)
		if !ok {
			return out, oidBuf, fmt.Errorf("OpaqueFloat value %v (%T) is not a float32", v, v)
		}
		// Opaque wrapping the float (net-snmp's encoding, draft-perkins-opaque).
		out.tag, out.kind, out.n = byte(gosnmp.Opaque), kindOpaqueFloat, 7
		binary.BigEndian.PutUint32(out.float[:], math.Float32bits(f))
		out.u = uint64(gosnmp.OpaqueFloat)
	case gosnmp.OpaqueDouble:
		f, ok := v.(float64)
		if !ok {
			return out, oidBuf, fmt.Errorf("OpaqueDouble value %v (%T) is not a float64", v, v)
		}
		out.tag, out.kind, out.n = byte(gosnmp.Opaque), kindOpaqueFloat, 11
		binary.BigEndian.PutUint64(out.float[:], math.Float64bits(f))
		out.u = uint64(gosnmp.OpaqueDouble)
	default:
		return out, oidBuf, fmt.Errorf("unsupported value type %s", t)
	}
	return out, oidBuf, nil
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		return int64(x), x <= math.MaxInt64
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

func asUint64(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// varBindLen is the size of an encoded varbind.
func varBindLen(name []uint32, v *value) int {
	return tlvLen(tlvLen(oidLen(name)) + tlvLen(v.n))
}

func appendVarBind(b []byte, name []uint32, v *value) []byte {
	b = appendHeader(b, tagSequence, tlvLen(oidLen(name))+tlvLen(v.n))
	b = appendOID(b, name)
	switch v.kind {
	case kindInt:
		return appendInt(b, v.tag, v.i)
	case kindUint:
		return appendUint(b, v.tag, v.u)
	}
	b = appendHeader(b, v.tag, v.n)
	switch v.kind {
	case kindBytes:
		b = append(b, v.bytes...)
	case kindString:
		b = append(b, v.str...)
	case kindOID:
		b = appendBase128(b, oidFirst(v.oid))
		for i := 2; i < len(v.oid); i++ {
			b = appendBase128(b, uint64(v.oid[i]))
		}
	case kindIP:
		b = append(b, v.ip[:]...)
	case kindOpaqueFloat:
		size := v.n - 3
		b = append(b, 0x9f, byte(v.u), byte(size))
		b = append(b, v.float[:size]...)
	}
	return b
}

// A berReader walks BER-encoded input without allocating. Its methods
// report malformed or truncated input through ok.
type berReader struct {
	b   []byte
	off int
}

// next reads one TLV header and returns its tag and the content bounds;
// the reader moves past the whole TLV.
func (r *berReader) next() (tag byte, start, end int, ok bool) {
	b := r.b
	if r.off+2 > len(b) {
		return 0, 0, 0, false
	}
	tag = b[r.off]
	l := int(b[r.off+1])
	start = r.off + 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || start+k > len(b) {
			return 0, 0, 0, false
		}
		l = 0
		for _, c := range b[start : start+k] {
			l = l<<8 | int(c)
		}
		start += k
	}
	end = start + l
	if l < 0 || end > len(b) {
		return 0, 0, 0, false
	}
	r.off = end
	return tag, start, end, true
}

// enter reads a constructed TLV with the given tag and narrows the reader to
// its content.
func (r *berReader) enter(want byte) bool {
	tag, start, end, ok := r.next()
	if !ok || tag != want {
		return false
	}
	r.b, r.off = r.b[:end], start
	return true
}

func (r *berReader) int(want byte) (int64, bool) {
	tag, start, end, ok := r.next()
	if !ok || tag != want || end == start || end-start > 8 {
		return 0, false
	}
	v := int64(int8(r.b[start])) // sign-extend the first octet
	for _, c := range r.b[start+1 : end] {
		v = v<<8 | int64(c)
	}
	return v, true
}

func (r *berReader) octets() (content []byte, start int, ok bool) {
	tag, start, end, ok := r.next()
	if !ok || tag != tagOctetString {
		return nil, 0, false
	}
	return r.b[start:end], start, true
}
