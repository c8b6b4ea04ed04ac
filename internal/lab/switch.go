package lab

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// switchUptime is how long a switch from NewSwitchMIB has been up when it is
// built: its counters hold days of traffic from the first request, as on gear
// in service, and a recording of it taken at once is not all zeros.
const switchUptime = 72 * time.Hour

// NewSwitchMIB builds the MIB of an access switch named name with the given
// number of interfaces, from the model of the lab's access switches: the system
// group of a Catalyst 2960-X, ifNumber, and every ifTable and ifXTable column of
// each interface, all computed from clock at request time. Counters are the
// integral of the meeting day's curves (see meetingday.go) since the switch
// booted, three days before clock's time at the call, so they never go back, and
// equal clocks give equal values.
//
// The switch is a stack of members, each with 48 gigabit copper ports
// (Gi1/0/1…48, ifIndex 10101…, as IOS numbers them) and then two 10G uplinks
// (Te1/0/1, Te1/0/2: "uplink core1", "uplink core2") that carry what the
// member's ports do; members are added until there are interfaces ports, so 48
// gives one member without uplinks and 800 gives 16 full members. No SVI: ifNumber
// is exactly interfaces. What each copper port carries is drawn from a
// sequence seeded by name, so every switch differs and the same name always
// gives the same switch, in the mix of the lab's access switches: about 60 % APs
// (aliased "AP room …" following the sessions, or "AP hall …" following the
// breaks, some of the busiest with output discards), desks, 100 Mbit/s printers
// and video encoders, one port in 20 shut down by the NOC ("unused") and two in
// 20 with nothing plugged in (down at 10 Mbit/s, no alias); one connected port
// in 50 that carries traffic counts an input error every 5 to 55 minutes.
//
// NewSwitchMIB panics if interfaces is negative.
func NewSwitchMIB(name string, interfaces int, clock func() time.Time) *snmpagent.Tree {
	if interfaces < 0 {
		panic(fmt.Sprintf("lab: switch %s with %d interfaces", name, interfaces))
	}
	_, offset := clock().Zone()
	day := NewDay(time.Duration(offset) * time.Second)
	d := newDevice(name, clock, day)
	d.boot.Store(clock().Add(-switchUptime).UnixMilli())
	tree := newBuilder()
	addSystem(tree, d, accessSystem(fmt.Sprintf("generated switch, %d interfaces (meetnoc lab)", interfaces)))
	addIfMIB(tree, d, switchPorts(day, name, interfaces))
	return tree.Freeze()
}

// switchPorts lays out n ports of a NewSwitchMIB switch.
func switchPorts(day *Day, name string, n int) []*ifPort {
	h := fnv.New64a()
	h.Write([]byte(name))
	state := h.Sum64()
	// portMAC's device byte lands in 0x30…0xff, apart from the lab network's devices.
	devNum := 0x10 + int(state%0xd0)
	ports := make([]*ifPort, 0, n)
	for member := 1; len(ports) < n; member++ {
		var downs, ups []flow
		for port := range min(48, n-len(ports)) {
			p := accessPort(devNum, member, port+1)
			state += golden
			carry(day, p, member, mix64(state))
			downs, ups = append(downs, p.out), append(ups, p.in)
			ports = append(ports, p)
		}
		ports = append(ports, accessUplinks(devNum, member, min(2, n-len(ports)), sumFlows(downs...), sumFlows(ups...))...)
	}
	return ports
}

// carry connects access port p of stack member member to what r (a random
// number) picks, and sets its alias and traffic.
func carry(day *Day, p *ifPort, member int, r uint64) {
	label := func(what string) string { return fmt.Sprintf("%s %d-%02d", what, member, p.index%100) }
	// rate is a peak rate from lo to lo+spread bytes per second.
	rate := func(lo, spread uint64) uint64 { return lo + (r>>20)%spread }
	switch k := r % 20; {
	case k == 0:
		p.alias, p.connected, p.adminDown = "unused", true, true
		return
	case k <= 2: // nothing plugged in
		return
	case k <= 14:
		c, where := day.inSessions, "AP room"
		if (r>>8)%3 == 0 {
			c, where = day.inHalls, "AP hall"
		}
		down := rate(500_000, 2_500_000)
		p.alias = label(where)
		p.out, p.in = flow{{down, c}}, flow{{down / 4, c}}
		if c == day.inSessions && (r>>12)%4 == 0 {
			p.outDiscards = flow{{1, day.inSessions}} // its queue overflows now and then in sessions
		}
	case k <= 17:
		down := rate(20_000, 280_000)
		p.alias = label("desk")
		p.out, p.in = flow{{down, day.level}}, flow{{down / 5, day.level}}
	case k == 18:
		p.alias, p.mbps = label("printer"), 100
		p.out, p.in = flow{{2_000, day.flat}}, flow{{300, day.flat}}
	default:
		p.alias = label("video encoder")
		p.out, p.in = flow{{20_000, day.session}}, flow{{750_000, day.session}}
	}
	p.connected = true
	if (r>>32)%50 == 0 {
		p.inErrorEvery = int64((5*time.Minute + time.Duration((r>>40)%3000)*time.Second) / time.Millisecond)
	}
}

// golden and mix64 make SplitMix64: adding golden to a state and mixing it
// gives a fixed, well-spread sequence of numbers from a seed.
const golden = 0x9E3779B97F4A7C15

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}
