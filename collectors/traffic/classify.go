// Package traffic classifies Ethernet frames by SSID, address family and direction
// (DESIGN.md, "Classification rules (traffic)") and counts them per worker without
// locks or allocations; the counts are summed at scrape time.
//
// This file is the header walk every capture source feeds: afpacket frames, sFlow
// sampled headers and pcap records all go through Classifier.Classify.
package traffic

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Family is the address family label of a frame.
type Family uint8

// Families, in label order.
const (
	FamilyIPv4 Family = iota
	FamilyIPv6
	FamilyNAT64
	FamilyOther
	NumFamilies = 4
)

// Direction says whether a frame was sent by a client of its SSID (up), to one
// (down), or neither (other).
type Direction uint8

// Directions, in label order.
const (
	DirectionUp Direction = iota
	DirectionDown
	DirectionOther
	NumDirections = 3
)

// Payload names what a deeper decoder should look at. The header walk only
// recognises it; decoding DHCP options or RA options is left to the rare-path code.
type Payload uint8

const (
	// PayloadNone: nothing the deeper decoders care about.
	PayloadNone Payload = iota
	// PayloadDHCPv4: IPv4 UDP with source or destination port 67 or 68, first fragment.
	PayloadDHCPv4
	// PayloadRouterAdvertisement: IPv6 whose next header is ICMPv6 with type 134.
	PayloadRouterAdvertisement
)

// UnknownSSID is the ssid label of frames of no configured VLAN; its index is 0.
const UnknownSSID = "unknown"

// Ethertypes and protocol numbers the walk looks at.
const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86DD
	etherType8021Q  = 0x8100
	etherType8021AD = 0x88A8
	etherTypeQinQ   = 0x9100 // pre-standard QinQ TPID still sent by some switches

	ethHeaderLen  = 14
	vlanTagLen    = 4
	ipv4MinHdrLen = 20
	ipv6HdrLen    = 40

	protoUDP    = 17
	protoICMPv6 = 58

	icmpv6RouterAdvertisement = 134
)

// Result is what Classify found out about one frame.
type Result struct {
	SSID      int // index into SSIDNames; 0 is UnknownSSID
	Family    Family
	Direction Direction
	Payload   Payload
	// VLAN is the outermost VLAN ID, 0 when the frame is untagged (or priority-tagged)
	// or the tag is truncated.
	VLAN uint16
	// L3Offset is where the IP header starts in the frame, L4Offset where the
	// transport header starts; both are 0 when not reached. A deeper decoder
	// starts there instead of walking the headers again.
	L3Offset, L4Offset int
}

// prefix4 and prefix6 are netip.Prefix pre-masked into integers so that a
// membership test is a mask and a compare.
type prefix4 struct{ addr, mask uint32 }

type prefix6 struct{ hi, lo, maskHi, maskLo uint64 }

type prefixSet struct {
	v4 []prefix4
	v6 []prefix6
}

func (s *prefixSet) add(p netip.Prefix) {
	p = p.Masked()
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		s.v4 = append(s.v4, prefix4{addr: binary.BigEndian.Uint32(b[:]), mask: mask32(p.Bits())})
		return
	}
	b := a.As16()
	hiMask, loMask := mask128(p.Bits())
	s.v6 = append(s.v6, prefix6{
		hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]),
		maskHi: hiMask, maskLo: loMask,
	})
}

func (s *prefixSet) has4(a uint32) bool {
	for _, p := range s.v4 {
		if a&p.mask == p.addr {
			return true
		}
	}
	return false
}

func (s *prefixSet) has6(hi, lo uint64) bool {
	for _, p := range s.v6 {
		if hi&p.maskHi == p.hi && lo&p.maskLo == p.lo {
			return true
		}
	}
	return false
}

func mask32(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

func mask128(bits int) (hi, lo uint64) {
	switch {
	case bits <= 0:
		return 0, 0
	case bits <= 64:
		return ^uint64(0) << (64 - bits), 0
	case bits >= 128:
		return ^uint64(0), ^uint64(0)
	default:
		return ^uint64(0), ^uint64(0) << (128 - bits)
	}
}

// Classifier holds the lookup tables built from one config. It is immutable and
// safe to share between any number of capture workers.
type Classifier struct {
	names    []string     // SSID index → name; names[0] is UnknownSSID
	clients  []prefixSet  // SSID index → client prefixes; clients[0] is empty
	nat64    prefixSet    // only v6 entries are used
	vlans    [4096]uint16 // VLAN ID → SSID index; 0 is unknown
	untagged uint16       // SSID index of untagged frames
}

// NewClassifier builds the tables from cfg. untaggedSSID names the SSID of frames
// without a VLAN tag (TrafficSource.UntaggedSSID); empty means they count as unknown.
func NewClassifier(cfg *config.Config, untaggedSSID string) (*Classifier, error) {
	c := &Classifier{
		names:   make([]string, 1, len(cfg.SSIDs)+1),
		clients: make([]prefixSet, 1, len(cfg.SSIDs)+1),
	}
	c.names[0] = UnknownSSID
	for _, s := range cfg.SSIDs {
		if s.Name == UnknownSSID {
			return nil, fmt.Errorf("SSID name %q is reserved for traffic of no configured VLAN", UnknownSSID)
		}
		for _, n := range c.names[1:] {
			if n == s.Name {
				return nil, fmt.Errorf("SSID %q configured twice", s.Name)
			}
		}
		idx := uint16(len(c.names))
		var ps prefixSet
		for _, p := range s.ClientPrefixes {
			if !p.IsValid() {
				return nil, fmt.Errorf("SSID %q: invalid client prefix", s.Name)
			}
			ps.add(p)
		}
		for _, v := range s.VLANs {
			if v == 0 || v >= 4095 {
				return nil, fmt.Errorf("SSID %q: VLAN %d is outside 1–4094", s.Name, v)
			}
			if prev := c.vlans[v]; prev != 0 {
				return nil, fmt.Errorf("SSID %q: VLAN %d already belongs to SSID %q", s.Name, v, c.names[prev])
			}
			c.vlans[v] = idx
		}
		c.names = append(c.names, s.Name)
		c.clients = append(c.clients, ps)
		if s.Name == untaggedSSID {
			c.untagged = idx
		}
	}
	if untaggedSSID != "" && c.untagged == 0 {
		return nil, fmt.Errorf("untagged SSID %q is not configured", untaggedSSID)
	}
	for _, p := range cfg.NAT64Prefixes {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return nil, fmt.Errorf("NAT64 prefix %v is not an IPv6 prefix", p)
		}
		c.nat64.add(p)
	}
	return c, nil
}

// SSIDNames returns the ssid label of each SSID index; index 0 is UnknownSSID.
// The slice is shared: do not modify it.
func (c *Classifier) SSIDNames() []string { return c.names }

// NewCounters returns zeroed counters sized for this classifier, one per worker.
func (c *Classifier) NewCounters() *Counters {
	return &Counters{cells: make([][NumFamilies][NumDirections]Cell, len(c.names))}
}

// Classify walks the headers of one frame and adds it to into: packets += weight,
// bytes += wireLen × weight, where wireLen is the frame's original length on the
// wire (pcap's orig_len, sFlow's frame length; tshark's frame.len) and weight the
// sampling rate (1 for unsampled captures). frame may be truncated to any snap
// length: the frame is classified as far as its bytes go. into must come from this
// classifier's NewCounters and belong to the calling goroutine alone.
//
// Direction is decided by the SSID's own client prefixes only: a frame of the
// unknown SSID is always DirectionOther, and a frame whose source and destination
// are both clients (client to client) counts as up.
func (c *Classifier) Classify(frame []byte, wireLen int, weight uint64, into *Counters) Result {
	return c.ClassifyInVLAN(frame, 0, wireLen, weight, into)
}

// ClassifyInVLAN is Classify for a frame that arrived on a known VLAN but whose
// bytes may no longer carry the tag: a switch samples frames for sFlow after
// stripping it, and names the VLAN in the sample's extended switch record. A tag
// in the frame itself still wins; vlan 0 means none is known.
func (c *Classifier) ClassifyInVLAN(frame []byte, vlan uint16, wireLen int, weight uint64, into *Counters) Result {
	r := c.walk(frame, vlan)
	cell := &into.cells[r.SSID][r.Family][r.Direction]
	cell.Packets += weight
	if wireLen > 0 {
		cell.Bytes += uint64(wireLen) * weight
	}
	return r
}

// walk is the header walk proper. Every read is guarded by a length check, so a
// truncated or malformed frame yields a partial result, never a panic.
func (c *Classifier) walk(b []byte, vlan uint16) Result {
	r := Result{SSID: int(c.untagged), Family: FamilyOther, Direction: DirectionOther}
	if vlan > 0 && vlan < 4095 {
		r.VLAN, r.SSID = vlan, int(c.vlans[vlan])
	}
	if len(b) < ethHeaderLen {
		return r
	}
	etherType := binary.BigEndian.Uint16(b[12:14])
	off := ethHeaderLen
	outer := true
	for etherType == etherType8021Q || etherType == etherType8021AD || etherType == etherTypeQinQ {
		if len(b) < off+vlanTagLen {
			if outer {
				// Tagged, but the VLAN ID is cut off: the SSID cannot be known.
				r.SSID = 0
			}
			return r
		}
		if outer {
			// VLAN 0 is a priority tag (802.1p) without VLAN membership: the
			// frame belongs to the untagged SSID.
			if vid := binary.BigEndian.Uint16(b[off:off+2]) & 0x0fff; vid != 0 {
				r.VLAN = vid
				r.SSID = int(c.vlans[vid])
			}
			outer = false
		}
		etherType = binary.BigEndian.Uint16(b[off+2 : off+4])
		off += vlanTagLen
	}
	switch etherType {
	case etherTypeIPv4:
		r.Family = FamilyIPv4
		c.walkIPv4(b, off, &r)
	case etherTypeIPv6:
		r.Family = FamilyIPv6
		c.walkIPv6(b, off, &r)
	}
	return r
}

func (c *Classifier) walkIPv4(b []byte, off int, r *Result) {
	r.L3Offset = off
	clients := &c.clients[r.SSID]
	if len(b) < off+16 {
		return
	}
	if clients.has4(binary.BigEndian.Uint32(b[off+12 : off+16])) {
		r.Direction = DirectionUp
	} else if len(b) >= off+20 && clients.has4(binary.BigEndian.Uint32(b[off+16:off+20])) {
		r.Direction = DirectionDown
	}
	if len(b) < off+ipv4MinHdrLen {
		return
	}
	ihl := int(b[off]&0x0f) * 4
	fragOffset := binary.BigEndian.Uint16(b[off+6:off+8]) & 0x1fff
	if ihl < ipv4MinHdrLen || fragOffset != 0 {
		// Bad header length, or a non-first fragment: no transport header here.
		return
	}
	l4 := off + ihl
	if b[off+9] != protoUDP || len(b) < l4+4 {
		return
	}
	r.L4Offset = l4
	src := binary.BigEndian.Uint16(b[l4 : l4+2])
	dst := binary.BigEndian.Uint16(b[l4+2 : l4+4])
	if isDHCPv4Port(src) || isDHCPv4Port(dst) {
		r.Payload = PayloadDHCPv4
	}
}

func isDHCPv4Port(p uint16) bool { return p == 67 || p == 68 }

func (c *Classifier) walkIPv6(b []byte, off int, r *Result) {
	r.L3Offset = off
	clients := &c.clients[r.SSID]
	if len(b) < off+24 {
		return
	}
	srcHi := binary.BigEndian.Uint64(b[off+8 : off+16])
	srcLo := binary.BigEndian.Uint64(b[off+16 : off+24])
	haveDst := len(b) >= off+40
	var dstHi, dstLo uint64
	if haveDst {
		dstHi = binary.BigEndian.Uint64(b[off+24 : off+32])
		dstLo = binary.BigEndian.Uint64(b[off+32 : off+40])
	}
	if c.nat64.has6(srcHi, srcLo) || (haveDst && c.nat64.has6(dstHi, dstLo)) {
		r.Family = FamilyNAT64
	}
	if clients.has6(srcHi, srcLo) {
		r.Direction = DirectionUp
	} else if haveDst && clients.has6(dstHi, dstLo) {
		r.Direction = DirectionDown
	}
	if !haveDst {
		return
	}
	// Only an ICMPv6 header right after the fixed header is recognised: RAs carry
	// no extension headers in practice (RFC 4861 senders), and walking them all
	// is the deeper decoder's business.
	l4 := off + ipv6HdrLen
	if b[off+6] != protoICMPv6 || len(b) < l4+1 {
		return
	}
	r.L4Offset = l4
	if b[l4] == icmpv6RouterAdvertisement {
		r.Payload = PayloadRouterAdvertisement
	}
}
