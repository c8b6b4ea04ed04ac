package traffic

import "encoding/binary"

// This file decodes the few DHCPv4 fields the NOC counts (DESIGN.md: DISCOVERs
// asking for option 108, OFFERs by server and option 108). It reads the frame in
// place into a fixed-size value: no allocation, so that a DHCP storm at the start
// of a session costs no more garbage than any other traffic.

// DHCPv4 message types (option 53, RFC 2132 §9.6) and option codes used here.
const (
	dhcpDiscover = 1
	dhcpOffer    = 2

	dhcpOptPad              = 0
	dhcpOptOverload         = 52
	dhcpOptMessageType      = 53
	dhcpOptServerID         = 54
	dhcpOptParamRequestList = 55
	dhcpOptIPv6OnlyPref     = 108 // RFC 8925
	dhcpOptEnd              = 255

	udpHeaderLen = 8
	// BOOTP's fixed part (RFC 2131 §2): op … file, then the magic cookie.
	dhcpFixedLen   = 236
	dhcpCookieOff  = dhcpFixedLen
	dhcpOptionsOff = dhcpFixedLen + 4
	dhcpMagic      = 0x63825363

	dhcpChaddrOff = 28
	dhcpSnameOff  = 44
	dhcpSnameLen  = 64
	dhcpFileOff   = 108
	dhcpFileLen   = 128
)

// dhcpMessage is what decodeDHCPv4 reads out of one frame. Every field is a
// value, so a dhcpMessage on the caller's stack stays there.
type dhcpMessage struct {
	op      uint8 // BOOTREQUEST 1, BOOTREPLY 2
	msgType uint8 // option 53; 0 when absent (plain BOOTP)

	// requests108: the Parameter Request List (55) holds 108, i.e. the client
	// can go IPv6-only (RFC 8925 §3.2).
	requests108 bool
	// has108: option 108 is present, i.e. in an OFFER the server tells the
	// client to go IPv6-only for v6OnlyWait seconds (RFC 8925 §3.3).
	has108     bool
	v6OnlyWait uint32

	hasServerID bool
	serverID    [4]byte // option 54

	srcIP  [4]byte // IPv4 source address of the packet (a relay's, for relayed replies)
	chaddr [6]byte // client hardware address when htype is Ethernet (1) with hlen 6
	srcMAC [6]byte // Ethernet source of the frame: the sender on this link
}

// decodeDHCPv4 decodes the DHCPv4 message in the UDP datagram at
// frame[r.L4Offset:] into m. It reports false when the bytes are not a DHCP
// message (too short for the fixed part, no magic cookie): the classifier flags
// every UDP packet to or from ports 67/68, and not all of those are DHCP. The
// options begin 282 bytes into an untagged frame, so a frame cut shorter — an
// sFlow sampled header of the common 128 bytes — cannot be told DISCOVER from
// REQUEST and is not counted; sFlow agents need a header size of about 350
// bytes for the DHCP counts.
//
// Options are walked with a bounds check on every read. An option cut off by
// the end of the frame (snap length, sFlow's 128-byte headers) ends the walk;
// what came before it stands. Option overload (52, RFC 2132 §9.3) is honoured:
// the file and then the sname field are walked as further option space, in the
// order RFC 2131 §4.1 gives. Split options (RFC 3396) need no concatenation for
// what is read here: 108 in any part of a split Parameter Request List is found.
func decodeDHCPv4(frame []byte, r Result, m *dhcpMessage) bool {
	l3, l4 := r.L3Offset, r.L4Offset
	if l3 < 0 || l4 < l3+ipv4MinHdrLen || len(frame) < l4+udpHeaderLen {
		return false
	}
	end := len(frame)
	// The UDP length bounds the message when the frame holds all of it: an
	// Ethernet frame may carry padding after a short datagram.
	if ul := int(binary.BigEndian.Uint16(frame[l4+4 : l4+6])); ul >= udpHeaderLen && l4+ul < end {
		end = l4 + ul
	}
	b := frame[l4+udpHeaderLen : end]
	if len(b) < dhcpOptionsOff || binary.BigEndian.Uint32(b[dhcpCookieOff:]) != dhcpMagic {
		return false
	}
	*m = dhcpMessage{op: b[0]}
	copy(m.srcIP[:], frame[l3+12:l3+16])
	if len(frame) >= ethHeaderLen {
		copy(m.srcMAC[:], frame[6:12])
	}
	if b[1] == 1 && b[2] == 6 { // htype Ethernet, hlen 6
		copy(m.chaddr[:], b[dhcpChaddrOff:dhcpChaddrOff+6])
	}
	overload := m.walkOptions(b[dhcpOptionsOff:])
	// Overload is only honoured from the options field itself; an overload
	// option inside file or sname would be a loop in disguise.
	if overload&1 != 0 {
		m.walkOptions(b[dhcpFileOff : dhcpFileOff+dhcpFileLen])
	}
	if overload&2 != 0 {
		m.walkOptions(b[dhcpSnameOff : dhcpSnameOff+dhcpSnameLen])
	}
	return true
}

// walkOptions reads the options in b up to End or the end of b, and returns the
// overload option's value (0 when absent).
func (m *dhcpMessage) walkOptions(b []byte) (overload uint8) {
	for i := 0; i < len(b); {
		code := b[i]
		if code == dhcpOptPad {
			i++
			continue
		}
		if code == dhcpOptEnd || i+2 > len(b) {
			return overload
		}
		n := int(b[i+1])
		v := i + 2
		if v+n > len(b) {
			return overload // cut off
		}
		val := b[v : v+n]
		switch code {
		case dhcpOptMessageType:
			if n >= 1 {
				m.msgType = val[0]
			}
		case dhcpOptServerID:
			if n == 4 {
				m.hasServerID = true
				copy(m.serverID[:], val)
			}
		case dhcpOptParamRequestList:
			for _, c := range val {
				if c == dhcpOptIPv6OnlyPref {
					m.requests108 = true
				}
			}
		case dhcpOptIPv6OnlyPref:
			m.has108 = true
			if n == 4 {
				m.v6OnlyWait = binary.BigEndian.Uint32(val)
			}
		case dhcpOptOverload:
			if n >= 1 {
				overload = val[0]
			}
		}
		i = v + n
	}
	return overload
}
