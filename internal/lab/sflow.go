package lab

// The lab's sFlow exporter: like real access switches, each of the four sends
// sFlow v5 to the daemon, sampling 1 in N of the frames its ports receive —
// clients' traffic from the AP ports, traffic to them from the uplinks — with
// the SSID's VLAN in an extended switch record (the tag itself is stripped, as
// switches sample it). The traffic is the ports' own (the same flows the SNMP
// counters integrate), so sFlow's estimate and ifHCInOctets agree; the frames
// are drawn from internal/packetgen's meeting mix: on ietf mostly IPv6 with
// NAT64 for IPv4 destinations, on ietf-dual-stack and eduroam about 60 % IPv6.
// Clients ask DHCP for option 108 and ietf's server offers it; the router's RAs
// carry ietf's PREF64; and one minute in fifteen a misconfigured laptop on
// ietf-dual-stack floods RAs of its own.
//
// Sampling is systematic rather than random: every kind of frame has an
// accumulator per switch that gains rate × time / N and emits a sample per
// whole unit. The counts a collector derives are then the model's, within one
// sample, and the test of the mix does not depend on luck.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/meetnoc/meetnoc/internal/packetgen"
)

// DefaultSFlowSampling is the access switches' sampling rate, 1 in 512: what a
// NOC configures on 1G access ports.
const DefaultSFlowSampling = 512

const (
	// sflowHeaderSize is the sampled header length. 128 is the common
	// default, but it cuts a DHCP message before its options (a DISCOVER's
	// parameter request list starts at byte 282): a NOC that wants to see
	// option 108 through sFlow configures its switches for more, as the lab's
	// are. An RA with SLLA, PIO and PREF64 (126 bytes) fits either way.
	sflowHeaderSize = 320
	// sflowTick is how often the switches sample and send.
	sflowTick = 250 * time.Millisecond
	// sflowMaxTick caps the time one tick covers, so that a process that was
	// stopped (a laptop asleep) does not send minutes of samples at once.
	sflowMaxTick = 2 * time.Second
	// sflowMaxDatagram is the most an agent puts in a datagram: under a
	// 1500-byte MTU with IP and UDP headers.
	sflowMaxDatagram = 1400
	// sflowCounterInterval is the switches' counter polling interval.
	sflowCounterInterval = 20 * time.Second

	// dhcpPerClientHour: phones sleep and wake, laptops roam between rooms at
	// every session change; each time they DISCOVER anew.
	dhcpPerClientHour = 12
	// Router Advertisements per VLAN: unsolicited every 200 s, and solicited
	// ones (multicast) for every joining client, at most one per 3 s
	// (RFC 4861 MIN_DELAY_BETWEEN_RAS).
	raUnsolicitedEvery = 200.0
	raMinDelay         = 3.0
	// rogueRAsPerSecond: the misconfigured laptop answers every Router
	// Solicitation and repeats itself every 50 ms: a flood.
	rogueRAsPerSecond = 20
	// arpPerClientMinute: clients refresh their gateway's ARP entry.
	arpPerClientMinute = 1
)

// rogueWindow is when the misconfigured laptop runs: one minute in fifteen, at
// :07, :22, :37 and :52 (away from the AP outage at :10).
var rogueWindow = outage{
	period: int64(15 * time.Minute / time.Millisecond),
	offset: int64(7 * time.Minute / time.Millisecond),
	length: int64(time.Minute / time.Millisecond),
}

// Who sends the lab's RAs and DHCP answers.
var (
	// routerLinkLocal is the gateways' link-local address (configured as
	// fe80::1 on every client VLAN, as NOCs do); routerMAC is core1's SVI MAC:
	// core1 is the active gateway.
	routerLinkLocal = netip.MustParseAddr("fe80::1")
	routerMAC       = net.HardwareAddr(portMAC(1, 0))
	// labNAT64 is the NAT64 prefix, advertised on ietf only.
	labNAT64 = netip.MustParsePrefix("64:ff9b::/96")
	// roguePREF64 is what the misconfigured laptop advertises: a NAT64 prefix
	// that is not the network's.
	roguePREF64 = netip.MustParsePrefix("64:ff9b:1::/96")
	// rogueSSID and rogueSwitch: where the laptop sits (Meeting rooms).
	rogueSSID   = "ietf-dual-stack"
	rogueSwitch = 3
)

// wlanTraffic is an SSID's traffic mix in the lab: shares of data packets by
// family, and DHCP behaviour.
type wlanTraffic struct {
	ipv6, nat64, ipv4 float64
	// ask108 is the share of DISCOVERs asking for option 108; offer108 makes
	// the server grant it; pref64 is advertised in RAs.
	ask108   float64
	offer108 bool
	pref64   netip.Prefix
}

// wlanMix is each SSID's mix. On ietf the clients that go IPv6-only reach IPv4
// through NAT64; what IPv4 remains comes from the clients that ignore 108.
var wlanMix = map[string]wlanTraffic{
	"ietf":            {ipv6: 55, nat64: 40, ipv4: 5, ask108: 0.8, offer108: true, pref64: labNAT64},
	"ietf-dual-stack": {ipv6: 60, ipv4: 40, ask108: 0.7},
	"eduroam":         {ipv6: 58, ipv4: 42, ask108: 0.6},
}

// wlanAddressing is SSID i's client prefixes and DHCP server in the lab:
// documentation and shared address space only.
func wlanAddressing(i int, wl WLAN) (v6, v4 netip.Prefix, dhcp netip.Addr) {
	v6 = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%d::/64", wl.VLAN))
	v4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(i * 64), 0}), 18)
	dhcp = netip.AddrFrom4([4]byte{100, 64, byte(i * 64), 1})
	return v6, v4, dhcp
}

// sflowAgent is access switch num's agent address: its loopback, from which
// it also sends when the host allows binding it (Linux answers all of
// 127.0.0.0/8).
func sflowAgent(num int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 1, byte(num)}) }

// sflowExporter is the access switches' sFlow agents.
type sflowExporter struct {
	clock     func() time.Time
	day       *Day
	wlc       *wlc
	faults    *faultPlan
	sampling  uint32
	collector netip.AddrPort
	logger    *slog.Logger
	switches  []*sflowSwitch
	// send delivers one switch's datagram; the sockets by default, a test's
	// capture otherwise.
	send func(sw *sflowSwitch, b []byte)
}

// sflowSwitch is one access switch's agent.
type sflowSwitch struct {
	num     int
	dev     *deviceModel
	agent   netip.Addr
	conn    *net.UDPConn
	aps     []int     // indexes into the controller's APs
	apPorts []*ifPort // Gi1/0/1 onwards, one per AP
	uplinks []*ifPort
	gen     *packetgen.Generator

	sequence   uint32            // datagrams
	lastUptime uint32            // to notice a reboot
	samples    map[uint32]uint32 // flow sample sequence per data source (ifIndex)
	pools      map[uint32]uint32 // sample pools per data source
	counterSeq uint32
	counterAge time.Duration

	// acc are the sampling accumulators, per kind of frame (per SSID where
	// the rate is).
	acc struct {
		up, down, rogue float64
		dhcp, ra, arp   []float64
	}
	rng     *rand.Rand
	pending []packetgen.Sample
}

// newSFlowExporter builds the agents of m's access switches, sampling 1 in
// sampling and sending to collector. Nothing is bound or sent yet.
func newSFlowExporter(m *model, clock func() time.Time, sampling uint32, collector netip.AddrPort, logger *slog.Logger) (*sflowExporter, error) {
	e := &sflowExporter{clock: clock, day: m.day, wlc: m.wlc, faults: m.faults, sampling: sampling, collector: collector, logger: logger}
	e.send = e.sendUDP
	var ssids []packetgen.SSIDMix
	for i, wl := range WLANs {
		v6, v4, dhcp := wlanAddressing(i, wl)
		mix := wlanMix[wl.SSID]
		ssids = append(ssids, packetgen.SSIDMix{
			Name: wl.SSID, VLAN: uint16(wl.VLAN), ClientPrefix6: v6, ClientPrefix4: v4,
			IPv6: mix.ipv6, NAT64: mix.nat64, IPv4: mix.ipv4, Up: 0.5,
			RouterMAC: routerMAC, RouterLinkLocal: routerLinkLocal, PREF64: mix.pref64,
			DHCPServer: dhcp, RequestIPv6Only: mix.ask108, OfferIPv6Only: mix.offer108,
		})
	}
	for num := 1; num <= 4; num++ {
		dev := m.device(fmt.Sprintf("access%d", num))
		sw := &sflowSwitch{
			num: num, dev: dev, agent: sflowAgent(num),
			uplinks: []*ifPort{dev.uplink(1), dev.uplink(2)},
			samples: map[uint32]uint32{}, pools: map[uint32]uint32{},
			rng: rand.New(rand.NewPCG(uint64(num), 0x5f10)),
		}
		for i := range apsPerSwitch {
			sw.aps = append(sw.aps, (num-1)*apsPerSwitch+i)
			sw.apPorts = append(sw.apPorts, dev.port(fmt.Sprintf("Gi1/0/%d", i+1)))
		}
		// Each switch has its own clients: numbers from (num-1)·4096.
		own := make([]packetgen.SSIDMix, len(ssids))
		copy(own, ssids)
		for i := range own {
			own[i].FirstClient = (num - 1) << 12
		}
		gen, err := packetgen.NewGenerator(packetgen.Mix{SSIDs: own, NAT64Prefix: labNAT64, Seed: uint64(num)})
		if err != nil {
			return nil, err
		}
		sw.gen = gen
		// Start each accumulator at a random phase, as agents start their
		// skip counters at random.
		sw.acc.up, sw.acc.down, sw.acc.rogue = sw.rng.Float64(), sw.rng.Float64(), sw.rng.Float64()
		for range WLANs {
			sw.acc.dhcp = append(sw.acc.dhcp, sw.rng.Float64())
			sw.acc.ra = append(sw.acc.ra, sw.rng.Float64())
			sw.acc.arp = append(sw.acc.arp, sw.rng.Float64())
		}
		e.switches = append(e.switches, sw)
	}
	return e, nil
}

// open binds each switch's socket: at its agent address where the host
// allows, otherwise at any address of the collector's family.
func (e *sflowExporter) open() error {
	for _, sw := range e.switches {
		local := netip.AddrPortFrom(sw.agent, 0)
		if e.collector.Addr().Is6() && !e.collector.Addr().Is4In6() {
			local = netip.AddrPortFrom(netip.IPv6Loopback(), 0)
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
		if err != nil {
			conn, err = net.ListenUDP("udp", &net.UDPAddr{})
		}
		if err != nil {
			e.close()
			return fmt.Errorf("sFlow agent of access%d: %w", sw.num, err)
		}
		sw.conn = conn
	}
	return nil
}

func (e *sflowExporter) close() {
	for _, sw := range e.switches {
		if sw.conn != nil {
			sw.conn.Close()
			sw.conn = nil
		}
	}
}

func (e *sflowExporter) sendUDP(sw *sflowSwitch, b []byte) {
	// Unconnected: a collector that is not (yet) listening costs an ICMP
	// error the socket never reports, as for a real switch.
	if _, err := sw.conn.WriteToUDPAddrPort(b, e.collector); err != nil && !errors.Is(err, net.ErrClosed) {
		e.logger.Debug("sFlow datagram not sent", "agent", sw.agent, "err", err)
	}
}

// run samples and sends every sflowTick until ctx ends. Time between ticks
// is measured on the wall clock, while what is sampled follows the lab clock:
// a test clock stopped at 13:30 keeps sending 13:30's traffic.
func (e *sflowExporter) run(ctx context.Context) {
	defer e.close()
	t := time.NewTicker(sflowTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			e.tick(min(now.Sub(last), sflowMaxTick))
			last = now
		}
	}
}

// take adds n to an accumulator and returns the whole samples it holds.
func take(acc *float64, n float64) int {
	*acc += n
	k := int(*acc)
	*acc -= float64(k)
	return k
}

// rateAt is the flow's rate at venue time ms, bytes per second.
func (f flow) rateAt(ms int64) float64 {
	var r float64
	for _, t := range f {
		r += float64(t.rate) * float64(t.c.value(ms)) / 1000
	}
	return r
}

// tick samples dt of traffic at the lab clock's time on every switch and
// sends the datagrams.
func (e *sflowExporter) tick(dt time.Duration) {
	now := e.clock()
	ms := e.day.venueMillis(now)
	st := e.wlc.stateAt(now)
	sec := dt.Seconds()
	rate := float64(e.sampling)

	shares := make([]float64, len(WLANs))
	for i, wl := range WLANs {
		shares[i] = float64(wl.share)
	}
	// Clients of each SSID on the whole network: RAs are flooded VLAN-wide.
	total := apportion(st.total, shares)
	rogue := e.faults.scheduled() && rogueWindow.active(ms) || e.faults.rogue.Load()

	for _, sw := range e.switches {
		var clients int
		for _, i := range sw.aps {
			clients += st.apClients(i)
		}
		perSSID := apportion(clients, shares)
		for i, n := range perSSID {
			sw.gen.SetClients(i, n)
		}
		bootMs, nowMs := sw.dev.times()
		uptime := uint32(nowMs - bootMs)
		if uptime < sw.lastUptime {
			// The switch rebooted: its agent numbers everything afresh.
			sw.sequence, sw.counterSeq = 0, 0
			clear(sw.samples)
			clear(sw.pools)
		}
		sw.lastUptime = uptime

		var down, up float64
		for _, p := range sw.apPorts {
			down += p.out.rateAt(ms)
			up += p.in.rateAt(ms)
		}
		for range take(&sw.acc.down, down*sec/packetgen.MeanFrameLenDown/rate) {
			f := sw.gen.NextDirected(false)
			e.sample(sw, f, sw.uplink(), sw.apPort())
		}
		for range take(&sw.acc.up, up*sec/packetgen.MeanFrameLenUp/rate) {
			f := sw.gen.NextDirected(true)
			e.sample(sw, f, sw.apPort(), sw.uplink())
		}
		for i := range WLANs {
			for range take(&sw.acc.dhcp[i], float64(perSSID[i])*dhcpPerClientHour/3600*sec/rate) {
				d, o := sw.gen.DHCPExchange(i)
				e.sample(sw, d, sw.apPort(), sw.uplink())
				e.sample(sw, o, sw.uplink(), sw.apPort())
			}
			raRate := 1/raUnsolicitedEvery + min(1/raMinDelay, float64(total[i])*dhcpPerClientHour/3600)
			for range take(&sw.acc.ra[i], raRate*sec/rate) {
				e.sample(sw, sw.gen.RouterAdvertisement(i), sw.uplink(), sw.apPort())
			}
			for range take(&sw.acc.arp[i], float64(perSSID[i])*arpPerClientMinute/60*sec/rate) {
				e.sample(sw, sw.gen.ARP(i), sw.apPort(), sw.uplink())
			}
		}
		if rogue {
			i := wlanIndex(rogueSSID)
			for range take(&sw.acc.rogue, rogueRAsPerSecond*sec/rate) {
				// The laptop's own switch samples the RA on its access port;
				// the others as it floods in from their uplinks.
				in := sw.uplink()
				if sw.num == rogueSwitch {
					in = sw.apPort()
				}
				e.sample(sw, sw.gen.RogueRouterAdvertisement(i, roguePREF64), in, sw.apPort())
			}
		}
		sw.counterAge += dt
		if sw.counterAge >= sflowCounterInterval {
			sw.counterAge = 0
			e.counters(sw, bootMs, nowMs)
		}
		e.flush(sw, uptime)
	}
}

func wlanIndex(ssid string) int {
	for i, wl := range WLANs {
		if wl.SSID == ssid {
			return i
		}
	}
	panic("lab: no SSID " + ssid)
}

// uplink is the uplink a frame from the core arrives on: the two share the
// load, as a port channel does.
func (sw *sflowSwitch) uplink() *ifPort { return sw.uplinks[sw.rng.IntN(len(sw.uplinks))] }

// apPort is the port of the AP of a client: any of the switch's APs, which
// all carry every SSID.
func (sw *sflowSwitch) apPort() *ifPort { return sw.apPorts[sw.rng.IntN(len(sw.apPorts))] }

// sample queues a flow sample of frame f, received on in and sent out of out;
// the data source is the input port, as for ingress sampling.
func (e *sflowExporter) sample(sw *sflowSwitch, f packetgen.Frame, in, out *ifPort) {
	sw.samples[in.index]++
	sw.pools[in.index] += e.sampling
	sw.pending = append(sw.pending, packetgen.FlowSample{
		Sequence: sw.samples[in.index], SourceIndex: in.index,
		SamplingRate: e.sampling, SamplePool: sw.pools[in.index],
		Input: in.index, Output: out.index,
		Records: []packetgen.Record{
			packetgen.ExtendedSwitch{SrcVLAN: uint32(f.VLAN), DstVLAN: uint32(f.VLAN)},
			packetgen.SampledEthernet(f.Bytes, sflowHeaderSize),
		},
	})
}

// counters queues the uplinks' counter samples, from the same counters the
// switch's SNMP agent serves.
func (e *sflowExporter) counters(sw *sflowSwitch, bootMs, nowMs int64) {
	for _, p := range sw.uplinks {
		sw.counterSeq++
		sw.pending = append(sw.pending, packetgen.CounterSample{
			Sequence: sw.counterSeq, SourceIndex: p.index,
			Records: []packetgen.Record{packetgen.IfCounters{
				Index: p.index, Type: uint32(p.ifType), Speed: p.speed(nowMs) * 1_000_000, Direction: 1, Status: 3,
				InOctets: p.count(inOctets, bootMs, nowMs), InUcast: uint32(p.count(inUcast, bootMs, nowMs)),
				InMulticast: uint32(p.count(inMcast, bootMs, nowMs)), InBroadcast: uint32(p.count(inBcast, bootMs, nowMs)),
				InDiscards: uint32(p.count(inDiscards, bootMs, nowMs)), InErrors: uint32(p.count(inErrors, bootMs, nowMs)),
				OutOctets: p.count(outOctets, bootMs, nowMs), OutUcast: uint32(p.count(outUcast, bootMs, nowMs)),
				OutMulticast: uint32(p.count(outMcast, bootMs, nowMs)), OutBroadcast: uint32(p.count(outBcast, bootMs, nowMs)),
				OutDiscards: uint32(p.count(outDiscards, bootMs, nowMs)), OutErrors: uint32(p.count(outErrors, bootMs, nowMs)),
				Promiscuous: 2,
			}},
		})
	}
}

// flush sends the queued samples in as few datagrams of at most
// sflowMaxDatagram bytes as they go in order.
func (e *sflowExporter) flush(sw *sflowSwitch, uptime uint32) {
	d := packetgen.Datagram{Agent: sw.agent, Uptime: uptime}
	size := d.HeaderLen()
	send := func() {
		sw.sequence++
		d.Sequence = sw.sequence
		e.send(sw, d.Encode())
		d.Samples, size = d.Samples[:0], d.HeaderLen()
	}
	for _, s := range sw.pending {
		n := packetgen.SampleLen(s)
		if len(d.Samples) > 0 && size+n > sflowMaxDatagram {
			send()
		}
		d.Samples = append(d.Samples, s)
		size += n
	}
	if len(d.Samples) > 0 {
		send()
	}
	clear(sw.pending) // the frames go with the samples
	sw.pending = sw.pending[:0]
}

// sflowCollectorAddr is where the switches send: opts.SFlowCollector, or the
// port after the agents' on opts.Host, or a free port there.
func sflowCollectorAddr(opts Options, devices int) (netip.AddrPort, error) {
	if opts.SFlowCollector != "" {
		ap, err := netip.ParseAddrPort(opts.SFlowCollector)
		if err != nil {
			return ap, fmt.Errorf("lab: sFlow collector %q: %w", opts.SFlowCollector, err)
		}
		return ap, nil
	}
	host, err := netip.ParseAddr(opts.Host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("lab: host %q: %w", opts.Host, err)
	}
	if opts.BasePort != 0 {
		return netip.AddrPortFrom(host, uint16(opts.BasePort+devices)), nil
	}
	// A port that was free a moment ago; the daemon binds it when it starts.
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("lab: no free UDP port for sFlow on %s: %w", host, err)
	}
	defer c.Close()
	return netip.AddrPortFrom(host, uint16(c.LocalAddr().(*net.UDPAddr).Port)), nil
}

// sflowListen is the sFlow listen address of the lab config for agents from
// basePort on host.
func sflowListen(host string, basePort, devices int) string {
	return net.JoinHostPort(host, strconv.Itoa(basePort+devices))
}
