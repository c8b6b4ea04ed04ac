package traffic

import "encoding/binary"

// This file decodes the parts of an ICMPv6 Router Advertisement the NOC cares
// about: who sent it (source address, Ethernet source, source link-layer address
// option), which prefixes it hands out, and its PREF64 options (RFC 8781), which
// tell IPv6-only clients the NAT64 prefix. Fixed-size arrays instead of slices
// keep a decoded RA on the caller's stack.

// ND option types (RFC 4861 §4.6, RFC 8781 §4) and RA layout.
const (
	ndOptSourceLinkLayer = 1
	ndOptPrefixInfo      = 3
	ndOptPREF64          = 38

	// ICMPv6 type, code, checksum; then hop limit, flags, router lifetime,
	// reachable time, retransmit timer (RFC 4861 §4.2).
	raFixedLen = 16

	// maxRAPrefixes and maxRAPref64 bound what one decode keeps. Real RAs carry
	// one to a few of each; an RA with more is abnormal, and its excess is only
	// counted (see raMessage.morePrefixes, morePref64).
	maxRAPrefixes = 8
	maxRAPref64   = 4
)

// raPrefix is a prefix from a Prefix Information option or a PREF64 option.
// addr is masked to bits.
type raPrefix struct {
	addr [16]byte
	bits uint8
}

// pref64Option is one PREF64 option. An option whose Length is not 2 or whose
// PLC is not one RFC 8781 §4 defines is kept with valid false: receivers ignore
// it (RFC 8781 §4), but the router that sent it is misconfigured, and the NOC
// wants to see that rather than nothing.
type pref64Option struct {
	prefix raPrefix
	// lifetime in seconds: the 13-bit scaled lifetime × 8. 0 withdraws the prefix.
	lifetime uint16
	plc      uint8
	valid    bool
}

// raMessage is what decodeRA reads out of one frame.
type raMessage struct {
	srcIP          [16]byte
	srcMAC         [6]byte // Ethernet source of the frame
	slla           [6]byte // source link-layer address option, when hasSLLA
	hasSLLA        bool
	hopLimit       uint8 // of the IPv6 header: hosts ignore RAs with anything but 255
	routerLifetime uint16

	prefixes     [maxRAPrefixes]raPrefix
	nPrefixes    int
	morePrefixes int // Prefix Information options beyond maxRAPrefixes

	pref64     [maxRAPref64]pref64Option
	nPref64    int
	morePref64 int // PREF64 options beyond maxRAPref64

	// truncated: the options did not end cleanly — cut off by the end of the
	// frame (snap length; sFlow headers are often 128 bytes, which ends an RA
	// after its first option or two), or an option of length 0, which RFC 4861
	// §4.6 says makes receivers discard the packet. The options before the
	// break were read; a PREF64 option after it is not seen.
	truncated bool
}

// plcBits maps a PREF64 Prefix Length Code to the prefix length (RFC 8781 §4);
// 0 marks the codes 6 and 7, which are invalid.
var plcBits = [8]uint8{96, 64, 56, 48, 40, 32, 0, 0}

// decodeRA decodes the Router Advertisement whose ICMPv6 header is at
// frame[r.L4Offset:] and whose IPv6 header is at frame[r.L3Offset:] into m. It
// reports false when the bytes are no RA (wrong type or code, fixed part cut off).
func decodeRA(frame []byte, r Result, m *raMessage) bool {
	l3, l4 := r.L3Offset, r.L4Offset
	if l3 < 0 || l4 < l3+ipv6HdrLen || len(frame) < l4+raFixedLen {
		return false
	}
	if frame[l4] != icmpv6RouterAdvertisement || frame[l4+1] != 0 {
		return false
	}
	end := len(frame)
	// The IPv6 payload length bounds the options when the frame holds them all:
	// a short RA may be followed by Ethernet padding.
	if pl := int(binary.BigEndian.Uint16(frame[l3+4 : l3+6])); l3+ipv6HdrLen+pl < end {
		end = l3 + ipv6HdrLen + pl
	}
	if end < l4+raFixedLen {
		return false
	}
	*m = raMessage{
		hopLimit:       frame[l3+7],
		routerLifetime: binary.BigEndian.Uint16(frame[l4+6 : l4+8]),
	}
	copy(m.srcIP[:], frame[l3+8:l3+24])
	if len(frame) >= ethHeaderLen {
		copy(m.srcMAC[:], frame[6:12])
	}
	b := frame[l4+raFixedLen : end]
	for i := 0; i < len(b); {
		if i+2 > len(b) {
			m.truncated = true
			break
		}
		typ, n := b[i], int(b[i+1])*8
		if n == 0 || i+n > len(b) {
			m.truncated = true
			break
		}
		opt := b[i : i+n]
		switch typ {
		case ndOptSourceLinkLayer:
			// Length 1 (8 octets) holds an Ethernet address; other link
			// layers' addresses are not ours to read.
			if n == 8 {
				m.hasSLLA = true
				copy(m.slla[:], opt[2:8])
			}
		case ndOptPrefixInfo:
			if n != 32 {
				break // RFC 4861 §4.6.2: length 4
			}
			if m.nPrefixes == maxRAPrefixes {
				m.morePrefixes++
				break
			}
			p := &m.prefixes[m.nPrefixes]
			p.bits = min(opt[2], 128)
			copy(p.addr[:], opt[16:32])
			maskPrefix(&p.addr, int(p.bits))
			m.nPrefixes++
		case ndOptPREF64:
			if m.nPref64 == maxRAPref64 {
				m.morePref64++
				break
			}
			m.pref64[m.nPref64] = decodePREF64(opt)
			m.nPref64++
		}
		i += n
	}
	return true
}

// decodePREF64 decodes one PREF64 option (type, length and all).
func decodePREF64(opt []byte) pref64Option {
	var o pref64Option
	if len(opt) != 16 {
		return o // RFC 8781 §4: Length must be 2
	}
	v := binary.BigEndian.Uint16(opt[2:4])
	o.lifetime = (v >> 3) * 8
	o.plc = uint8(v & 7)
	bits := plcBits[o.plc]
	if bits == 0 {
		return o
	}
	o.valid = true
	o.prefix.bits = bits
	copy(o.prefix.addr[:12], opt[4:16])
	maskPrefix(&o.prefix.addr, int(bits))
	return o
}

// maskPrefix zeroes every bit of a after the first bits.
func maskPrefix(a *[16]byte, bits int) {
	for i := range a {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			a[i] &= ^byte(0xff >> bits)
			bits = 0
		default:
			a[i] = 0
		}
	}
}
