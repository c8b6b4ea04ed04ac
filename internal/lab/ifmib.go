package lab

import (
	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// Object identifiers of the MIB-2 parts every lab device serves.
var (
	oidSystem   = snmpagent.MustParseOID("1.3.6.1.2.1.1")
	oidIfNumber = snmpagent.MustParseOID("1.3.6.1.2.1.2.1.0")
	oidIfEntry  = snmpagent.MustParseOID("1.3.6.1.2.1.2.2.1")
	oidIfXEntry = snmpagent.MustParseOID("1.3.6.1.2.1.31.1.1.1")
)

// IANAifType values used by the lab.
const (
	ifTypeOther       = 1
	ifTypeEthernet    = 6
	ifTypePropVirtual = 53
)

// ifStatus values of ifAdminStatus and ifOperStatus.
const (
	ifUp   = 1
	ifDown = 2
)

// Contact is every lab device's sysContact.
const Contact = "noc@meeting.example"

// system is a device's SNMPv2-MIB system group.
type system struct {
	descr    string
	objectID string // sysObjectID, dotted
	location string
	services int
}

// builder fills a Tree and refuses to set one OID twice: Freeze would quietly
// keep the last, hiding a modelling mistake.
type builder struct {
	tree *snmpagent.Tree
	seen map[string]struct{}
}

func newBuilder() *builder {
	return &builder{tree: &snmpagent.Tree{}, seen: make(map[string]struct{})}
}

// Set adds the variable at oid; it panics if oid is already set.
func (b *builder) Set(oid snmpagent.OID, v snmpagent.ValueFunc) {
	k := oid.String()
	if _, dup := b.seen[k]; dup {
		panic("lab: OID set twice: " + k)
	}
	b.seen[k] = struct{}{}
	b.tree.Set(oid, v)
}

// Freeze returns the finished tree.
func (b *builder) Freeze() *snmpagent.Tree { return b.tree.Freeze() }

// addSystem adds the system group; sysUpTime counts from the device's boot.
func addSystem(t *builder, d *device, s system) {
	t.Set(oidSystem.Append(1, 0), snmpagent.Static(gosnmp.OctetString, s.descr))
	t.Set(oidSystem.Append(2, 0), snmpagent.Static(gosnmp.ObjectIdentifier, s.objectID))
	t.Set(oidSystem.Append(3, 0), func() (gosnmp.Asn1BER, any) { return gosnmp.TimeTicks, d.uptime() })
	t.Set(oidSystem.Append(4, 0), snmpagent.Static(gosnmp.OctetString, Contact))
	t.Set(oidSystem.Append(5, 0), snmpagent.Static(gosnmp.OctetString, d.name))
	t.Set(oidSystem.Append(6, 0), snmpagent.Static(gosnmp.OctetString, s.location))
	t.Set(oidSystem.Append(7, 0), snmpagent.Static(gosnmp.Integer, s.services))
}

// ifPort is one interface of a lab device, with the traffic it carries.
type ifPort struct {
	index  uint32
	name   string // ifName, "Gi1/0/1"
	descr  string // ifDescr, "GigabitEthernet1/0/1"
	alias  string // ifAlias, what the NOC wrote on it
	ifType int
	mtu    int
	mbps   uint64 // speed when up, Mbit/s
	mac    []byte // ifPhysAddress; nil for none

	adminDown bool    // shut down by the NOC
	connected bool    // a cable and a live device at the other end
	outage    *outage // the link drops in these windows (the failing AP's port)

	in, out flow // octets received and sent
	// inPacket and outPacket are mean packet sizes, turning octets into packets.
	inPacket, outPacket uint64
	// inErrorEvery and outErrorEvery space rare errors, ms; 0 means none.
	inErrorEvery, outErrorEvery int64
	// inDiscards and outDiscards are discards per second at full rate.
	inDiscards, outDiscards flow
}

// up reports ifOperStatus up at venue time nowMs.
func (p *ifPort) up(nowMs int64) bool {
	return !p.adminDown && p.connected && (p.outage == nil || !p.outage.active(nowMs))
}

// speed is the interface speed in Mbit/s: IOS reports a copper port that has no
// link at 10 Mbit/s, its lowest auto-negotiation speed.
func (p *ifPort) speed(nowMs int64) uint64 {
	if p.ifType == ifTypeEthernet && !p.up(nowMs) && p.mbps <= 1000 {
		return 10
	}
	return p.mbps
}

// lastChange is ifLastChange: links have been in their state since the device
// booted, except the failing AP's port, which changes with its outages.
func (p *ifPort) lastChange(bootMs, nowMs int64) uint32 {
	if p.outage == nil {
		return 0
	}
	return ticks(bootMs, p.outage.lastChange(nowMs))
}

// counter names one of a port's counters.
type counter int

const (
	inOctets counter = iota
	outOctets
	inUcast
	inMcast
	inBcast
	outUcast
	outMcast
	outBcast
	inErrors
	outErrors
	inDiscards
	outDiscards
)

// count is one counter of the port between boot and now (venue ms). Each is
// computed on its own: a walk asks for one column at a time.
func (p *ifPort) count(c counter, bootMs, nowMs int64) uint64 {
	switch c {
	case inOctets:
		return p.in.count(bootMs, nowMs)
	case outOctets:
		return p.out.count(bootMs, nowMs)
	case inUcast, inMcast, inBcast:
		return packets(c-inUcast, p.in.count(bootMs, nowMs), p.inPacket)
	case outUcast, outMcast, outBcast:
		return packets(c-outUcast, p.out.count(bootMs, nowMs), p.outPacket)
	case inErrors:
		return every(p.inErrorEvery, bootMs, nowMs)
	case outErrors:
		return every(p.outErrorEvery, bootMs, nowMs)
	case inDiscards:
		return p.inDiscards.count(bootMs, nowMs)
	case outDiscards:
		return p.outDiscards.count(bootMs, nowMs)
	}
	return 0
}

// every counts events that happen once per period ms since boot.
func every(period, bootMs, nowMs int64) uint64 {
	if period <= 0 || nowMs <= bootMs {
		return 0
	}
	return uint64((nowMs - bootMs) / period)
}

// packets turns octets into unicast (kind 0), multicast (1) or broadcast (2)
// packets of a mean size; each is a fixed fraction of the octets, so each is
// monotonic too.
func packets(kind counter, octets, size uint64) uint64 {
	if size == 0 {
		return 0
	}
	return octets / (size * [...]uint64{1, 60, 400}[kind])
}

// addIfMIB adds ifNumber, ifTable and ifXTable for ports.
func addIfMIB(t *builder, d *device, ports []*ifPort) {
	t.Set(oidIfNumber, snmpagent.Static(gosnmp.Integer, len(ports)))
	for _, p := range ports {
		addIfRow(t, d, p)
	}
}

func addIfRow(t *builder, d *device, p *ifPort) {
	p32 := func(c counter) snmpagent.ValueFunc {
		return func() (gosnmp.Asn1BER, any) {
			boot, now := d.times()
			return gosnmp.Counter32, uint32(p.count(c, boot, now)) // wraps as a 32-bit counter does
		}
	}
	p64 := func(c counter) snmpagent.ValueFunc {
		return func() (gosnmp.Asn1BER, any) {
			boot, now := d.times()
			return gosnmp.Counter64, p.count(c, boot, now)
		}
	}
	zero32 := snmpagent.Static(gosnmp.Counter32, uint32(0))
	status := func() (gosnmp.Asn1BER, any) {
		_, now := d.times()
		if p.up(now) {
			return gosnmp.Integer, ifUp
		}
		return gosnmp.Integer, ifDown
	}
	admin := ifUp
	if p.adminDown {
		admin = ifDown
	}
	mac := p.mac
	if mac == nil {
		mac = []byte{}
	}
	physical := 2 // false
	if p.ifType == ifTypeEthernet {
		physical = 1
	}

	i := p.index
	e, x := oidIfEntry, oidIfXEntry
	t.Set(e.Append(1, i), snmpagent.Static(gosnmp.Integer, int(i)))
	t.Set(e.Append(2, i), snmpagent.Static(gosnmp.OctetString, p.descr))
	t.Set(e.Append(3, i), snmpagent.Static(gosnmp.Integer, p.ifType))
	t.Set(e.Append(4, i), snmpagent.Static(gosnmp.Integer, p.mtu))
	t.Set(e.Append(5, i), func() (gosnmp.Asn1BER, any) {
		_, now := d.times()
		// ifSpeed is a Gauge32 in bit/s; faster links report its maximum (RFC 2863).
		return gosnmp.Gauge32, uint32(min(p.speed(now)*1_000_000, 4294967295))
	})
	t.Set(e.Append(6, i), snmpagent.Static(gosnmp.OctetString, mac))
	t.Set(e.Append(7, i), snmpagent.Static(gosnmp.Integer, admin))
	t.Set(e.Append(8, i), status)
	t.Set(e.Append(9, i), func() (gosnmp.Asn1BER, any) {
		boot, now := d.times()
		return gosnmp.TimeTicks, p.lastChange(boot, now)
	})
	t.Set(e.Append(10, i), p32(inOctets))
	t.Set(e.Append(11, i), p32(inUcast))
	t.Set(e.Append(13, i), p32(inDiscards))
	t.Set(e.Append(14, i), p32(inErrors))
	t.Set(e.Append(15, i), zero32) // ifInUnknownProtos
	t.Set(e.Append(16, i), p32(outOctets))
	t.Set(e.Append(17, i), p32(outUcast))
	t.Set(e.Append(19, i), p32(outDiscards))
	t.Set(e.Append(20, i), p32(outErrors))

	t.Set(x.Append(1, i), snmpagent.Static(gosnmp.OctetString, p.name))
	t.Set(x.Append(2, i), p32(inMcast))
	t.Set(x.Append(3, i), p32(inBcast))
	t.Set(x.Append(4, i), p32(outMcast))
	t.Set(x.Append(5, i), p32(outBcast))
	t.Set(x.Append(6, i), p64(inOctets))
	t.Set(x.Append(7, i), p64(inUcast))
	t.Set(x.Append(8, i), p64(inMcast))
	t.Set(x.Append(9, i), p64(inBcast))
	t.Set(x.Append(10, i), p64(outOctets))
	t.Set(x.Append(11, i), p64(outUcast))
	t.Set(x.Append(12, i), p64(outMcast))
	t.Set(x.Append(13, i), p64(outBcast))
	t.Set(x.Append(14, i), snmpagent.Static(gosnmp.Integer, physical)) // ifLinkUpDownTrapEnable: on for ports
	t.Set(x.Append(15, i), func() (gosnmp.Asn1BER, any) {
		_, now := d.times()
		return gosnmp.Gauge32, uint32(p.speed(now))
	})
	t.Set(x.Append(16, i), snmpagent.Static(gosnmp.Integer, 2)) // ifPromiscuousMode false
	t.Set(x.Append(17, i), snmpagent.Static(gosnmp.Integer, physical))
	t.Set(x.Append(18, i), snmpagent.Static(gosnmp.OctetString, p.alias))
	t.Set(x.Append(19, i), snmpagent.Static(gosnmp.TimeTicks, uint32(0)))
}
