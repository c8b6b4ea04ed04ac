package lab

import (
	"fmt"
	"time"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// Roles of the lab's devices, as in their targets' role label.
const (
	RoleCore   = "core"
	RoleAccess = "access"
	RoleWLC    = "wlc"
)

// Credentials of the lab's agents. It is a lab: they are public.
const (
	Community        = "public"
	V3User           = "noc"
	V3AuthPassphrase = "lab-auth-pass" // SHA-256
	V3PrivPassphrase = "lab-priv-pass" // AES-128
)

// Names of the auths in the generated config.
const (
	AuthV2c = "public_v2"
	AuthV3  = "noc_v3"
)

// Traffic per client on the network at the peak of the day, bytes per second:
// about 0.5 Mbit/s down and a quarter of that up, averaged over the attendees.
const (
	clientDown = 60_000
	clientUp   = 15_000
)

// deviceModel is one simulated device: what it serves and how it is reached.
type deviceModel struct {
	*device
	role     string
	room     string
	v3       bool // SNMPv3 authPriv; otherwise v2c
	profiles []string
	engineID []byte
	ports    []*ifPort
	mib      snmpagent.MIB
}

// model is the whole simulated meeting network, without any sockets: every value
// is a function of the clock.
type model struct {
	day     *Day
	devices []*deviceModel // in the order of their ports: core1, core2, wlc1, access1…access4
	wlc     *wlc
	faults  *faultPlan
}

// newModel builds the network. The venue's UTC offset is the clock's at this moment.
func newModel(clock func() time.Time) *model {
	_, offset := clock().Zone()
	day := NewDay(time.Duration(offset) * time.Second)
	m := &model{day: day, faults: &faultPlan{}}

	aps := buildAPs()
	apDown, apUp := apFlows(day, aps)

	// Access switches: ten APs each, a few wired ports, two uplinks.
	var access []*deviceModel
	for s := range 4 {
		first := s * apsPerSwitch
		access = append(access, newAccessSwitch(m, s+1, clock, aps[first:first+apsPerSwitch], apDown[first:first+apsPerSwitch], apUp[first:first+apsPerSwitch]))
	}

	w := newWLCModel(m, clock, aps)
	cores := []*deviceModel{newCoreSwitch(m, 1, clock, access, w), newCoreSwitch(m, 2, clock, access, w)}

	m.devices = append(append(cores, w), access...)
	return m
}

// device returns the device named name, or nil.
func (m *model) device(name string) *deviceModel {
	for _, d := range m.devices {
		if d.name == name {
			return d
		}
	}
	return nil
}

// apFlows is each AP's traffic towards its clients (down) and from them (up).
// An AP's share of the attendees depends on whether people sit in sessions or
// walk the halls, as its client count does; while the failing AP is lost its
// traffic goes to its room's other APs.
func apFlows(day *Day, aps []accessPoint) (down, up []flow) {
	var sumS, sumH int64
	for _, ap := range aps {
		sumS += apWeights[ap.kind].session
		sumH += apWeights[ap.kind].halls
	}
	sessUp, sessLost := day.inSessions.masked(apOutage, false), day.inSessions.masked(apOutage, true)
	hallsUp, hallsLost := day.inHalls.masked(apOutage, false), day.inHalls.masked(apOutage, true)

	shares := make([]flow, len(aps)) // clients at full level, ×1000
	for i, ap := range aps {
		k := apWeights[ap.kind]
		s, h := uint64(PeakAttendees*1000*k.session/sumS), uint64(PeakAttendees*1000*k.halls/sumH)
		if i+1 == failingAP {
			shares[i] = flow{{s, sessUp}, {h, hallsUp}}
		} else {
			shares[i] = flow{{s, day.inSessions}, {h, day.inHalls}}
		}
	}
	lost := aps[failingAP-1]
	var peers []int
	for i, ap := range aps {
		if i+1 != failingAP && ap.room == lost.room {
			peers = append(peers, i)
		}
	}
	k := apWeights[lost.kind]
	s, h := uint64(PeakAttendees*1000*k.session/sumS), uint64(PeakAttendees*1000*k.halls/sumH)
	for _, i := range peers {
		shares[i] = append(shares[i], term{s / uint64(len(peers)), sessLost}, term{h / uint64(len(peers)), hallsLost})
	}
	for _, sh := range shares {
		down = append(down, sh.scaled(clientDown, 1000))
		up = append(up, sh.scaled(clientUp, 1000))
	}
	return down, up
}

// portMAC is a port's (or a device's, port 0) locally administered MAC address.
func portMAC(devNum int, index uint32) []byte {
	return []byte{0x02, 0x00, 0x5e, byte(0x20 + devNum), byte(index >> 8), byte(index)}
}

// engineID is an RFC 3411 snmpEngineID in the MAC format under Cisco's enterprise
// number, as Cisco devices build theirs.
func engineID(devNum int) []byte {
	return append([]byte{0x80, 0x00, 0x00, 0x09, 0x03}, portMAC(devNum, 0)...)
}

// wired is an access port with something other than an AP on it.
type wired struct {
	port      int
	alias     string
	state     string // "up", "down" (nothing plugged in) or "shutdown"
	down, up  flow   // towards the device, from it
	errorsIn  time.Duration
	errorsOut time.Duration
}

// accessWired are the wired ports of each access switch, beyond its APs.
func accessWired(day *Day, num int) []wired {
	lvl := func(rate uint64) flow { return flow{{rate, day.level}} }
	flat := func(rate uint64) flow { return flow{{rate, day.flat}} }
	sess := func(rate uint64) flow { return flow{{rate, day.session}} }
	switch num {
	case 1:
		return []wired{
			{port: 41, alias: "registration desk 1", state: "up", down: lvl(40_000), up: lvl(8_000)},
			{port: 42, alias: "registration desk 2", state: "up", down: lvl(40_000), up: lvl(8_000)},
			{port: 43, alias: "registration badge printer", state: "up", down: flat(2_000), up: flat(300)},
			{port: 47, alias: "Plenary video encoder", state: "up", down: sess(20_000), up: sess(750_000)},
			{port: 48, alias: "Plenary audio mixer", state: "down"},
		}
	case 2:
		return []wired{
			{port: 41, alias: "Ballroom A video encoder", state: "up", down: sess(20_000), up: sess(750_000)},
			{port: 42, alias: "Ballroom B video encoder", state: "up", down: sess(20_000), up: sess(750_000), errorsOut: 41 * time.Minute},
			{port: 45, alias: "spare AP drop Ballroom B", state: "down"},
		}
	case 3:
		return []wired{
			{port: 41, alias: "Room 101 podium", state: "up", down: lvl(30_000), up: lvl(5_000)},
			{port: 42, alias: "Room 102 podium", state: "up", down: lvl(30_000), up: lvl(5_000)},
			{port: 43, alias: "Room 103 podium", state: "shutdown"},
			{port: 44, alias: "Room 104 podium", state: "up", down: lvl(30_000), up: lvl(5_000)},
		}
	default:
		return []wired{
			{port: 41, alias: "NOC", state: "up", down: sumFlows(flat(150_000), lvl(300_000)), up: sumFlows(flat(50_000), lvl(100_000))},
			{port: 42, alias: "NOC monitoring server", state: "up", down: sumFlows(flat(400_000), lvl(200_000)), up: flat(120_000)},
			{port: 43, alias: "terminal room printer", state: "down"},
			{port: 44, alias: "terminal room wired 1", state: "up", down: lvl(250_000), up: lvl(50_000)},
			{port: 45, alias: "terminal room wired 2", state: "up", down: lvl(250_000), up: lvl(50_000)},
		}
	}
}

// accessAreas names the area each access switch serves: its targets' room label.
var accessAreas = []string{"Plenary", "Ballrooms", "Meeting rooms", "Lobby"}

// newAccessSwitch builds access switch num (1-based), modelled on a Catalyst
// 2960-X: 48 copper ports, two 10G uplinks, a management SVI.
func newAccessSwitch(m *model, num int, clock func() time.Time, aps []accessPoint, apDown, apUp []flow) *deviceModel {
	devNum := 3 + num
	d := &deviceModel{
		device:   newDevice(fmt.Sprintf("access%d", num), clock, m.day),
		role:     RoleAccess,
		room:     accessAreas[num-1],
		profiles: []string{"if_mib"},
		engineID: engineID(devNum),
	}
	gi := func(port int) *ifPort { return accessPort(devNum, 1, port) }
	mgmt := &ifPort{
		index: 10, name: "Vl10", descr: "Vlan10", alias: "management", ifType: ifTypePropVirtual,
		mtu: 1500, mbps: 1000, mac: portMAC(devNum, 10), connected: true,
		in: flow{{600, m.day.flat}}, out: flow{{900, m.day.flat}}, inPacket: 200, outPacket: 300,
	}
	ports := []*ifPort{mgmt}
	edge := make(map[int]*ifPort)
	for i, ap := range aps {
		p := gi(i + 1)
		p.alias = "AP " + ap.name
		p.connected = true
		p.out, p.in = apDown[i], apUp[i]
		if ap.room == "Plenary" {
			// The plenary's APs are the busiest: their queues overflow now and then in sessions.
			p.outDiscards = flow{{1, m.day.inSessions}}
		}
		if ap.name == fmt.Sprintf("ietf-ap-%02d", failingAP) {
			p.outage = &apOutage
		}
		edge[i+1] = p
	}
	if num == 3 {
		edge[4].inErrorEvery = int64(6 * time.Minute / time.Millisecond) // a bad patch cable: CRC errors
	}
	for _, w := range accessWired(m.day, num) {
		p := gi(w.port)
		p.alias = w.alias
		p.connected = w.state != "down"
		p.adminDown = w.state == "shutdown"
		if p.connected && !p.adminDown {
			p.out, p.in = w.down, w.up
		}
		p.inErrorEvery = int64(w.errorsIn / time.Millisecond)
		p.outErrorEvery = int64(w.errorsOut / time.Millisecond)
		edge[w.port] = p
	}
	var downs, ups []flow
	for port := 1; port <= 48; port++ {
		p := edge[port]
		if p == nil {
			p = gi(port) // nothing plugged in
		}
		downs, ups = append(downs, p.out), append(ups, p.in)
		ports = append(ports, p)
	}
	ports = append(ports, accessUplinks(devNum, 1, 2, sumFlows(downs...), sumFlows(ups...))...)
	d.ports = ports
	tree := newBuilder()
	addSystem(tree, d.device, accessSystem(fmt.Sprintf("IDF-%d, %s (meetnoc lab)", num, accessAreas[num-1])))
	addIfMIB(tree, d.device, ports)
	d.mib = tree.Freeze()
	return d
}

// accessSystem is the system group of a Catalyst 2960-X at location.
func accessSystem(location string) system {
	return system{
		descr:    "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8, RELEASE SOFTWARE (fc1)",
		objectID: "1.3.6.1.4.1.9.1.1208", // cat29xxStack
		location: location,
		services: 2,
	}
}

// stackBase is the ifIndex base of a Catalyst stack member (1-based): IOS numbers
// member m's ports from 10000 + 500·(m−1), gigabit ports at +100, uplinks at +200.
func stackBase(member int) uint32 { return uint32(10000 + 500*(member-1)) }

// accessPort is gigabit copper port (1-based) of stack member member of an
// access switch, with nothing plugged in: the caller connects it.
func accessPort(devNum, member, port int) *ifPort {
	idx := stackBase(member) + 100 + uint32(port)
	return &ifPort{
		index: idx, name: fmt.Sprintf("Gi%d/0/%d", member, port), descr: fmt.Sprintf("GigabitEthernet%d/0/%d", member, port),
		ifType: ifTypeEthernet, mtu: 1500, mbps: 1000, mac: portMAC(devNum, idx),
		inPacket: 500, outPacket: 1100,
	}
}

// accessUplinks are the first n 10G uplinks of stack member member, to core1,
// core2…; down and up are what the member's ports send towards their devices
// and receive from them. The uplinks share that load, as a port channel would.
func accessUplinks(devNum, member, n int, down, up flow) []*ifPort {
	var out []*ifPort
	for u := 1; u <= n; u++ {
		idx := stackBase(member) + 200 + uint32(u)
		out = append(out, &ifPort{
			index: idx, name: fmt.Sprintf("Te%d/0/%d", member, u), descr: fmt.Sprintf("TenGigabitEthernet%d/0/%d", member, u),
			alias: fmt.Sprintf("uplink core%d", u), ifType: ifTypeEthernet, mtu: 1500, mbps: 10_000,
			mac: portMAC(devNum, idx), connected: true,
			in: down.scaled(1, uint64(n)), out: up.scaled(1, uint64(n)), inPacket: 1100, outPacket: 500,
		})
	}
	return out
}

// uplink returns an access switch's uplink to core n.
func (d *deviceModel) uplink(core int) *ifPort {
	return d.port(fmt.Sprintf("Te1/0/%d", core))
}

// port returns the port named name (ifName), or nil.
func (d *deviceModel) port(name string) *ifPort {
	for _, p := range d.ports {
		if p.name == name {
			return p
		}
	}
	return nil
}

// newWLCModel builds the wireless controller, modelled on a Cisco 5520 running
// AireOS. Its APs switch client traffic locally (FlexConnect), so the
// controller's own ports carry CAPWAP control and RADIUS, which grow with the
// number of clients.
func newWLCModel(m *model, clock func() time.Time, aps []accessPoint) *deviceModel {
	const devNum = 3
	d := &deviceModel{
		device:   newDevice("wlc1", clock, m.day),
		role:     RoleWLC,
		room:     "NOC",
		v3:       true,
		profiles: []string{"if_mib", "cisco_wlc"},
		engineID: engineID(devNum),
	}
	w := newWLC(d.device, aps, m.faults)
	m.wlc = w
	for n := uint32(1); n <= 2; n++ {
		d.ports = append(d.ports, &ifPort{
			index: n, name: fmt.Sprintf("Port %d", n), descr: fmt.Sprintf("Unit: 0 Slot: 0 Port: %d 10G", n),
			alias: fmt.Sprintf("uplink core%d", n), ifType: ifTypeEthernet, mtu: 1500, mbps: 10_000,
			mac: portMAC(devNum, n), connected: true,
			in:       sumFlows(flow{{5_000, m.day.flat}}, flow{{PeakAttendees * 60, m.day.level}}),
			out:      sumFlows(flow{{8_000, m.day.flat}}, flow{{PeakAttendees * 90, m.day.level}}),
			inPacket: 400, outPacket: 450,
		})
	}
	tree := newBuilder()
	addSystem(tree, d.device, system{
		descr:    "Cisco Controller",
		objectID: "1.3.6.1.4.1.9.1.2170", // cisco5520WLC
		location: "NOC rack 1 (meetnoc lab)",
		services: 2,
	})
	addIfMIB(tree, d.device, d.ports)
	w.addAireOS(tree)
	d.mib = &wlcMIB{tree: tree.Freeze(), w: w}
	return d
}

// newCoreSwitch builds core switch num (1 or 2), modelled on a Catalyst 3850-48XS:
// 48 10G ports, four 40G ports, the client VLANs' gateways. core1 is the active
// gateway (HSRP) and carries 60 % of the transit; core2 the rest.
func newCoreSwitch(m *model, num int, clock func() time.Time, access []*deviceModel, wlc *deviceModel) *deviceModel {
	devNum := num
	d := &deviceModel{
		device:   newDevice(fmt.Sprintf("core%d", num), clock, m.day),
		role:     RoleCore,
		room:     "NOC",
		v3:       true,
		profiles: []string{"if_mib"},
		engineID: engineID(devNum),
	}
	lvl := func(rate uint64) flow { return flow{{rate, m.day.level}} }
	flat := func(rate uint64) flow { return flow{{rate, m.day.flat}} }
	port := func(idx uint32, name, descr string, mbps uint64) *ifPort {
		return &ifPort{
			index: idx, name: name, descr: descr, ifType: ifTypeEthernet, mtu: 9198, mbps: mbps,
			mac: portMAC(devNum, idx), inPacket: 900, outPacket: 900,
		}
	}
	var ports []*ifPort
	var toClients, fromClients []flow // what the whole access layer sends down and up
	te := make([]*ifPort, 49)
	for n := 1; n <= 48; n++ {
		te[n] = port(uint32(n), fmt.Sprintf("Te1/0/%d", n), fmt.Sprintf("TenGigabitEthernet1/0/%d", n), 10_000)
	}
	for i, a := range access {
		p, up := te[i+1], a.uplink(num)
		p.alias = fmt.Sprintf("%s %s", a.name, up.name)
		p.connected = true
		p.in, p.out = up.out, up.in
		for u := 1; u <= 2; u++ {
			toClients, fromClients = append(toClients, a.uplink(u).in), append(fromClients, a.uplink(u).out)
		}
	}
	wlcPort := wlc.port(fmt.Sprintf("Port %d", num))
	te[5].alias = fmt.Sprintf("wlc1 %s", wlcPort.name)
	te[5].connected = true
	te[5].in, te[5].out = wlcPort.out, wlcPort.in
	te[6].alias, te[6].connected = "NOC servers", true
	te[6].in, te[6].out = sumFlows(flat(300_000), lvl(100_000)), sumFlows(flat(1_000_000), lvl(500_000))
	te[7].alias, te[7].connected = "services: DNS, DHCP, RADIUS", true
	te[7].in, te[7].out = sumFlows(flat(20_000), lvl(200_000)), sumFlows(flat(20_000), lvl(150_000))
	ports = append(ports, te[1:]...)

	down, up := sumFlows(toClients...), sumFlows(fromClients...)
	share := uint64(60)
	if num == 2 {
		share = 40
	}
	fo := make([]*ifPort, 5)
	for n := 1; n <= 4; n++ {
		fo[n] = port(uint32(48+n), fmt.Sprintf("Fo1/1/%d", n), fmt.Sprintf("FortyGigabitEthernet1/1/%d", n), 40_000)
	}
	// Transit from both cores adds up to what the clients send and receive.
	fo[1].alias = []string{"", "transit AS64496 (upstream-a)", "transit AS64497 (upstream-b)"}[num]
	fo[1].connected = true
	fo[1].in, fo[1].out = down.scaled(share, 100), up.scaled(share, 100)
	fo[1].inPacket, fo[1].outPacket = 1200, 600
	if num == 1 {
		fo[1].inErrorEvery = int64(53 * time.Minute / time.Millisecond) // tired optics
	}
	other := 3 - num
	fo[2].alias = fmt.Sprintf("core%d Fo1/1/2", other)
	fo[2].connected = true
	fo[2].in, fo[2].out = sumFlows(flat(30_000), lvl(200_000)), sumFlows(flat(30_000), lvl(200_000))
	ports = append(ports, fo[1:]...)

	ports = append(ports, &ifPort{index: 53, name: "Nu0", descr: "Null0", ifType: ifTypeOther, mtu: 1500, mbps: 10_000, connected: true})
	svi := func(idx uint32, vlan int, alias string, in, out flow) *ifPort {
		return &ifPort{
			index: idx, name: fmt.Sprintf("Vl%d", vlan), descr: fmt.Sprintf("Vlan%d", vlan), alias: alias,
			ifType: ifTypePropVirtual, mtu: 1500, mbps: 1000, mac: portMAC(devNum, 0), connected: true,
			in: in, out: out, inPacket: 600, outPacket: 1000,
		}
	}
	ports = append(ports, svi(54, 10, "management", flat(4_000), flat(6_000)))
	for i, wl := range WLANs {
		in, out := flat(200), flat(200) // the standby gateway sees only hellos
		if num == 1 {
			in, out = up.scaled(uint64(wl.share), 1000), down.scaled(uint64(wl.share), 1000)
		}
		ports = append(ports, svi(uint32(55+i), wl.VLAN, "clients "+wl.SSID, in, out))
	}
	d.ports = ports

	tree := newBuilder()
	addSystem(tree, d.device, system{
		descr:    "Cisco IOS Software [Amsterdam], Catalyst L3 Switch Software (CAT3K_CAA-UNIVERSALK9-M), Version 17.3.8a, RELEASE SOFTWARE (fc1)",
		objectID: "1.3.6.1.4.1.9.1.1745", // cat38xxstack
		location: fmt.Sprintf("NOC rack %d (meetnoc lab)", num),
		services: 6,
	})
	addIfMIB(tree, d.device, ports)
	d.mib = tree.Freeze()
	return d
}
