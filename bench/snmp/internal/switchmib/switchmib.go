// Package switchmib builds the MIB of a simulated access switch with any number of
// interfaces, for the SNMP benchmark: the system group, ifNumber, ifTable and
// ifXTable, with counters that move with the clock.
//
// internal/lab models its switches the same way but keeps that model unexported
// (its switches have a fixed shape: 48+2 ports, 52 ports); this is the smallest
// bench-side equivalent, built from the lab's exported agent pieces
// (snmpagent.Tree, snmpagent.ValueFunc). It serves two uses: the 1,000 live agents
// of the scale run, and a frozen .snmprec recording of an 800-interface switch
// for snmpsimd.
package switchmib

import (
	"fmt"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// Object identifiers of the parts served.
var (
	oidSystem   = snmpagent.MustParseOID("1.3.6.1.2.1.1")
	oidIfNumber = snmpagent.MustParseOID("1.3.6.1.2.1.2.1.0")
	oidIfEntry  = snmpagent.MustParseOID("1.3.6.1.2.1.2.2.1")
	oidIfXEntry = snmpagent.MustParseOID("1.3.6.1.2.1.31.1.1.1")
)

// bootAge is how long the switch has been up when the clock starts: counters
// then hold realistic, large values from the first poll.
const bootAge = 3 * 24 * time.Hour

const (
	ifTypeEthernet = 6
	ifUp, ifDown   = 1, 2
)

// port is one interface.
type port struct {
	index              uint32
	name, descr, alias string
	mbps               uint64
	mac                []byte
	adminUp, operUp    bool
	inRate, outRate    uint64 // octets per second
	inPkt, outPkt      uint64 // mean packet size, octets
	errEvery           uint64 // one input error per this many seconds; 0: none
	discardEvery       uint64 // one output discard per this many seconds; 0: none
}

// ports lays out n interfaces as a stack of Catalyst-like members: 48 gigabit
// access ports then two 10G uplinks per member, until n are placed. Which ports
// are up, their aliases and their traffic come from a fixed pseudo-random
// sequence seeded by seed, so that every run serves the same switch.
func ports(n int, seed uint64) []*port {
	rnd := seed*0x9E3779B97F4A7C15 + 1
	next := func() uint64 { // splitmix64
		rnd += 0x9E3779B97F4A7C15
		z := rnd
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		return z ^ z>>31
	}
	out := make([]*port, 0, n)
	for member := 1; len(out) < n; member++ {
		base := uint32(10000 + 500*(member-1))
		for p := 1; p <= 50 && len(out) < n; p++ {
			r := next()
			pt := &port{adminUp: true, inPkt: 400 + r%800, outPkt: 600 + r>>10%900}
			if p <= 48 {
				pt.index = base + 100 + uint32(p)
				pt.name, pt.descr = fmt.Sprintf("Gi%d/0/%d", member, p), fmt.Sprintf("GigabitEthernet%d/0/%d", member, p)
				pt.mbps = 1000
				switch r % 20 {
				case 0: // shut down by the NOC
					pt.adminUp = false
					pt.alias = "unused"
				case 1, 2, 3: // nothing plugged in
				default:
					pt.operUp = true
					pt.alias = fmt.Sprintf("AP hall %d-%02d", member, p)
					pt.inRate, pt.outRate = 1_000+r>>20%2_000_000, 5_000+r>>40%6_000_000
				}
				if r>>8%50 == 0 {
					pt.errEvery = 300 + r>>16%3000
				}
			} else {
				u := p - 48
				pt.index = base + 150 + uint32(u)
				pt.name, pt.descr = fmt.Sprintf("Te%d/0/%d", member, u), fmt.Sprintf("TenGigabitEthernet%d/0/%d", member, u)
				pt.mbps = 10_000
				pt.operUp = true
				pt.alias = fmt.Sprintf("uplink core%d", u)
				pt.inRate, pt.outRate = 20_000_000+r%40_000_000, 5_000_000+r>>32%10_000_000
				pt.discardEvery = 60 + r>>24%600
			}
			pt.mac = []byte{0x02, 0x00, 0x5e, byte(member), byte(pt.index >> 8), byte(pt.index)}
			out = append(out, pt)
		}
	}
	return out
}

// New builds the MIB of switch name with n interfaces. Every value is computed
// from clock at request time: counters grow, sysUpTime advances.
func New(name string, n int, seed uint64, clock func() time.Time) *snmpagent.Tree {
	boot := clock().Add(-bootAge)
	secs := func() uint64 { return uint64(clock().Sub(boot) / time.Second) }
	t := &snmpagent.Tree{}
	static := snmpagent.Static

	t.Set(oidSystem.Append(1, 0), static(gosnmp.OctetString, "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8, RELEASE SOFTWARE (fc1) [meetnoc bench]"))
	t.Set(oidSystem.Append(2, 0), static(gosnmp.ObjectIdentifier, "1.3.6.1.4.1.9.1.1208"))
	t.Set(oidSystem.Append(3, 0), func() (gosnmp.Asn1BER, any) {
		return gosnmp.TimeTicks, uint32(clock().Sub(boot) / (10 * time.Millisecond))
	})
	t.Set(oidSystem.Append(4, 0), static(gosnmp.OctetString, "noc@meeting.example"))
	t.Set(oidSystem.Append(5, 0), static(gosnmp.OctetString, name))
	t.Set(oidSystem.Append(6, 0), static(gosnmp.OctetString, "meetnoc benchmark"))
	t.Set(oidSystem.Append(7, 0), static(gosnmp.Integer, 2))

	ps := ports(n, seed)
	t.Set(oidIfNumber, static(gosnmp.Integer, len(ps)))
	for _, p := range ps {
		addRow(t, p, secs)
	}
	return t.Freeze()
}

func addRow(t *snmpagent.Tree, p *port, secs func() uint64) {
	static := snmpagent.Static
	rate := func(r uint64) uint64 {
		if !p.operUp {
			return 0
		}
		return r
	}
	in, out := rate(p.inRate), rate(p.outRate)
	c64 := func(f func(s uint64) uint64) snmpagent.ValueFunc {
		return func() (gosnmp.Asn1BER, any) { return gosnmp.Counter64, f(secs()) }
	}
	c32 := func(f func(s uint64) uint64) snmpagent.ValueFunc {
		return func() (gosnmp.Asn1BER, any) { return gosnmp.Counter32, uint32(f(secs())) }
	}
	inOctets := func(s uint64) uint64 { return in * s }
	outOctets := func(s uint64) uint64 { return out * s }
	// Unicast, multicast and broadcast packets are fixed fractions of the octets.
	pkts := func(octets func(uint64) uint64, size, share uint64) func(uint64) uint64 {
		return func(s uint64) uint64 { return octets(s) / size / share }
	}
	every := func(period uint64) func(uint64) uint64 {
		return func(s uint64) uint64 {
			if period == 0 || !p.operUp {
				return 0
			}
			return s / period
		}
	}
	zero := func(uint64) uint64 { return 0 }
	admin, oper := ifDown, ifDown
	if p.adminUp {
		admin = ifUp
	}
	if p.operUp {
		oper = ifUp
	}
	speed := p.mbps
	if !p.operUp && speed <= 1000 {
		speed = 10 // IOS reports a copper port without link at its lowest speed
	}

	e, x, i := oidIfEntry, oidIfXEntry, p.index
	t.Set(e.Append(1, i), static(gosnmp.Integer, int(i)))
	t.Set(e.Append(2, i), static(gosnmp.OctetString, p.descr))
	t.Set(e.Append(3, i), static(gosnmp.Integer, ifTypeEthernet))
	t.Set(e.Append(4, i), static(gosnmp.Integer, 1500))
	t.Set(e.Append(5, i), static(gosnmp.Gauge32, uint32(min(speed*1_000_000, 4294967295))))
	t.Set(e.Append(6, i), static(gosnmp.OctetString, p.mac))
	t.Set(e.Append(7, i), static(gosnmp.Integer, admin))
	t.Set(e.Append(8, i), static(gosnmp.Integer, oper))
	t.Set(e.Append(9, i), static(gosnmp.TimeTicks, uint32(0)))
	t.Set(e.Append(10, i), c32(inOctets))
	t.Set(e.Append(11, i), c32(pkts(inOctets, p.inPkt, 1)))
	t.Set(e.Append(13, i), c32(zero))
	t.Set(e.Append(14, i), c32(every(p.errEvery)))
	t.Set(e.Append(15, i), c32(zero))
	t.Set(e.Append(16, i), c32(outOctets))
	t.Set(e.Append(17, i), c32(pkts(outOctets, p.outPkt, 1)))
	t.Set(e.Append(19, i), c32(every(p.discardEvery)))
	t.Set(e.Append(20, i), c32(zero))

	t.Set(x.Append(1, i), static(gosnmp.OctetString, p.name))
	t.Set(x.Append(2, i), c32(pkts(inOctets, p.inPkt, 60)))
	t.Set(x.Append(3, i), c32(pkts(inOctets, p.inPkt, 400)))
	t.Set(x.Append(4, i), c32(pkts(outOctets, p.outPkt, 60)))
	t.Set(x.Append(5, i), c32(pkts(outOctets, p.outPkt, 400)))
	t.Set(x.Append(6, i), c64(inOctets))
	t.Set(x.Append(7, i), c64(pkts(inOctets, p.inPkt, 1)))
	t.Set(x.Append(8, i), c64(pkts(inOctets, p.inPkt, 60)))
	t.Set(x.Append(9, i), c64(pkts(inOctets, p.inPkt, 400)))
	t.Set(x.Append(10, i), c64(outOctets))
	t.Set(x.Append(11, i), c64(pkts(outOctets, p.outPkt, 1)))
	t.Set(x.Append(12, i), c64(pkts(outOctets, p.outPkt, 60)))
	t.Set(x.Append(13, i), c64(pkts(outOctets, p.outPkt, 400)))
	t.Set(x.Append(14, i), static(gosnmp.Integer, 1))
	t.Set(x.Append(15, i), static(gosnmp.Gauge32, uint32(speed)))
	t.Set(x.Append(16, i), static(gosnmp.Integer, 2))
	t.Set(x.Append(17, i), static(gosnmp.Integer, 1))
	t.Set(x.Append(18, i), static(gosnmp.OctetString, p.alias))
	t.Set(x.Append(19, i), static(gosnmp.TimeTicks, uint32(0)))
}
