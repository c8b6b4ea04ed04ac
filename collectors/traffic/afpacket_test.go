//go:build linux

package traffic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

func TestAFPacketRingGeometry(t *testing.T) {
	const page = 4096
	tests := []struct {
		ringSize, workers, snaplen int
		want                       ringGeometry
		err                        string
	}{
		// The defaults: 64 MiB over 4 workers in 1 MiB blocks.
		{64 << 20, 4, 2048, ringGeometry{blockSize: 1 << 20, numBlocks: 16, frameSize: 4096}, ""},
		// 4 MiB for one worker: 1 MiB blocks would be only 4, so 512 KiB.
		{4 << 20, 1, 2048, ringGeometry{blockSize: 512 << 10, numBlocks: 8, frameSize: 4096}, ""},
		// Jumbo snap length: frames of 16 KiB.
		{256 << 20, 2, 9216, ringGeometry{blockSize: 1 << 20, numBlocks: 128, frameSize: 16384}, ""},
		// A share that is not a multiple of the block size is rounded down.
		{(8 << 20) + 5000, 1, 128, ringGeometry{blockSize: 1 << 20, numBlocks: 8, frameSize: 4096}, ""},
		// Blocks never get smaller than a frame.
		{32 << 10, 1, 65535, ringGeometry{}, "too small"},
		{0, 1, 2048, ringGeometry{}, "too small"},
		{64 << 20, 1, 0, ringGeometry{}, "snaplen"},
	}
	for _, tt := range tests {
		got, err := newRingGeometry(tt.ringSize, tt.workers, tt.snaplen, page)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("newRingGeometry(%d, %d, %d) error = %v, want one saying %q", tt.ringSize, tt.workers, tt.snaplen, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("newRingGeometry(%d, %d, %d) = %+v, %v; want %+v", tt.ringSize, tt.workers, tt.snaplen, got, err, tt.want)
			continue
		}
		// What the kernel demands of a V3 ring.
		if got.blockSize%page != 0 || got.blockSize%got.frameSize != 0 || got.frameSize < tt.snaplen+afpFrameOverhead {
			t.Errorf("newRingGeometry(%d, %d, %d) = %+v: not a valid ring for this snap length", tt.ringSize, tt.workers, tt.snaplen, got)
		}
		if total := got.blockSize * got.numBlocks * tt.workers; total > tt.ringSize {
			t.Errorf("newRingGeometry(%d, %d, %d): rings take %d bytes, more than ring_size", tt.ringSize, tt.workers, tt.snaplen, total)
		}
	}
}

func TestAFPacketCaptureFilter(t *testing.T) {
	disassemble := func(raw []bpf.RawInstruction) string {
		insts, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatalf("filter %v does not disassemble", raw)
		}
		var b strings.Builder
		for _, in := range insts {
			fmt.Fprintf(&b, "%v; ", in)
		}
		return b.String()
	}
	all, err := captureFilter(2048, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := disassemble(all), "ret #2048; "; got != want {
		t.Errorf("unsampled filter = %q, want %q", got, want)
	}
	sampled, err := captureFilter(1500, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := disassemble(sampled), "ld #rand; mod #100; jneq #0,1; ret #1500; ret #0; "; got != want {
		t.Errorf("1:100 filter = %q, want %q", got, want)
	}
	// The snap length part runs in any BPF machine; only the random load is
	// Linux's own (the live test samples for real).
	vm, err := bpf.NewVM([]bpf.Instruction{bpf.RetConstant{Val: 2048}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := vm.Run(make([]byte, 9000)); err != nil || n != 2048 {
		t.Errorf("snap length filter keeps %d bytes of a 9000-byte frame (%v), want 2048", n, err)
	}
}

func TestAFPacketFanoutIDs(t *testing.T) {
	a, b, c := &afpacketSource{}, &afpacketSource{}, &afpacketSource{}
	idA := fanoutIDs.reserve(a, "mirror")
	defer fanoutIDs.release(a)
	if again := fanoutIDs.reserve(a, "mirror"); again != idA {
		t.Errorf("the same source got group %d, then %d", idA, again)
	}
	// Another source of the same name (a reload overlapping the old run) must
	// not share the old one's group.
	idB := fanoutIDs.reserve(b, "mirror")
	defer fanoutIDs.release(b)
	if idB == idA {
		t.Errorf("two running sources share fanout group %d", idA)
	}
	idC := fanoutIDs.reserve(c, "uplink")
	if idC == idA || idC == idB {
		t.Errorf("source %q got group %d, already taken", "uplink", idC)
	}
	fanoutIDs.release(c)
	// Derived from the name: stable across restarts.
	if again := fanoutIDs.reserve(c, "uplink"); again != idC {
		t.Errorf("source %q got group %d after a restart, %d before", "uplink", again, idC)
	}
	fanoutIDs.release(c)
}

func TestAFPacketErrors(t *testing.T) {
	err := openError("eth1", unix.EPERM)
	if !strings.Contains(err.Error(), "CAP_NET_RAW") || !errors.Is(err, unix.EPERM) {
		t.Errorf("openError(EPERM) = %v, want it to name CAP_NET_RAW and wrap EPERM", err)
	}

	env, _ := afpacketTestEnv(t, afpacketTestConfig(), "meetnoc-none0", 1, 1)
	src, err := newAFPacketSource(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = src.run(ctx)
	if err == nil || !strings.Contains(err.Error(), `interface "meetnoc-none0" not found`) {
		t.Errorf("run on a missing interface = %v, want an error naming it", err)
	}

	env.cfg.Interface = ""
	if _, err := newAFPacketSource(env); err == nil {
		t.Error("newAFPacketSource without an interface succeeded")
	}
	env.cfg.Interface, env.cfg.RingSize = "eth1", 1<<10
	if _, err := newAFPacketSource(env); err == nil || !strings.Contains(err.Error(), "ring_size") {
		t.Errorf("newAFPacketSource with a 1 KiB ring = %v, want a ring_size error", err)
	}
}

// SSIDs of the live test: two tagged client VLANs and an untagged NOC network.
func afpacketTestConfig() *config.Config {
	return &config.Config{
		SSIDs: []config.SSID{
			{Name: "ietf", VLANs: []uint16{100}, ClientPrefixes: []netip.Prefix{
				netip.MustParsePrefix("10.100.0.0/16"), netip.MustParsePrefix("2001:db8:100::/56")},
				Routers: []string{packetgen.LinkLocal(afpRouterMAC).String()}},
			{Name: "ietf-dual-stack", VLANs: []uint16{200}, ClientPrefixes: []netip.Prefix{
				netip.MustParsePrefix("10.200.0.0/16"), netip.MustParsePrefix("2001:db8:200::/56")},
				DHCPServers: []netip.Addr{netip.MustParseAddr("198.51.100.67")}},
			{Name: "noc", VLANs: []uint16{300}, ClientPrefixes: []netip.Prefix{
				netip.MustParsePrefix("192.0.2.0/24")}},
		},
		NAT64Prefixes: []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96")},
	}
}

// afpacketWorkers are the workers a test source was given.
type afpacketWorkers struct {
	mu      sync.Mutex
	workers []*Worker
}

// afpacketTotals is what a test source's workers published, summed.
type afpacketTotals struct {
	counters  *Counters
	events    *Events
	clients   *clientCounts
	perWorker []uint64 // packets counted by each worker
}

// sum adds up what the workers published; call it after run returned.
func (ws *afpacketWorkers) sum(c *Classifier) afpacketTotals {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := len(c.SSIDNames())
	t := afpacketTotals{counters: c.NewCounters(), events: newEvents(n), clients: newClientCounts(n, afpClientWindow)}
	for _, w := range ws.workers {
		one := c.NewCounters()
		w.addAllTo(one, t.events, t.clients)
		t.counters.Add(one)
		var packets uint64
		for s := range one.cells {
			for f := range one.cells[s] {
				for d := range one.cells[s][f] {
					packets += one.cells[s][f][d].Packets
				}
			}
		}
		t.perWorker = append(t.perWorker, packets)
	}
	return t
}

const afpClientWindow = 5 * time.Minute

func afpacketTestEnv(t testing.TB, cfg *config.Config, iface string, workers int, sampling uint32) (sourceEnv, *afpacketWorkers) {
	t.Helper()
	cl, err := NewClassifier(cfg, "noc")
	if err != nil {
		t.Fatal(err)
	}
	decoder, err := newPayloadDecoder(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := &afpacketWorkers{}
	return sourceEnv{
		cfg: config.TrafficSource{Name: "mirror", Type: SourceTypeAFPacket, Interface: iface, UntaggedSSID: "noc",
			RingSize: 4 << 20 * workers, Workers: workers, Sampling: sampling, Snaplen: 2048},
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
		stats:  &sourceStats{},
		newWorker: func() *Worker {
			w := newWorker(cl, decoder, afpClientWindow, nil)
			ws.mu.Lock()
			ws.workers = append(ws.workers, w)
			ws.mu.Unlock()
			return w
		},
	}, ws
}

// liveNet is a network namespace of the test's own with a veth pair, cap0 (the
// capture side) and snd0 (the sender's). Nothing outside it is touched.
type liveNet struct{ *testenv.Netns }

func newLiveNet(t testing.TB) *liveNet {
	t.Helper()
	n := &liveNet{testenv.NewNetns(t, "the live AF_PACKET test (a namespace and a veth pair: CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW)")}
	// No IPv6 on the new links: their link-local addresses would send DAD,
	// router solicitations and MLD reports, frames the counts do not expect.
	n.do(t, func() error {
		for _, p := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"} {
			if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	n.IP("link", "add", "cap0", "mtu", "9000", "type", "veth", "peer", "name", "snd0", "mtu", "9000")
	n.IP("link", "set", "cap0", "up")
	n.IP("link", "set", "snd0", "up")
	return n
}

func (n *liveNet) do(t testing.TB, fn func() error) {
	t.Helper()
	if err := <-n.Go(fn); err != nil {
		t.Fatal(err)
	}
}

// send transmits frames on snd0 through a raw AF_PACKET socket, so they arrive
// on cap0 as received frames: the kernel takes their outer VLAN tag off as a
// NIC would, and the source has to put it back.
func (n *liveNet) send(t testing.TB, frames [][]byte) {
	t.Helper()
	n.do(t, func() error {
		ifi, err := net.InterfaceByName("snd0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: send only
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for i, f := range frames {
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return fmt.Errorf("sending frame %d (%d bytes): %w", i, len(f), err)
			}
			// Stay well inside the receive backlog (netdev_max_backlog, 1000).
			if i%200 == 199 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		return nil
	})
}

// capture is a running afpacket source in the namespace.
type capture struct {
	src    *afpacketSource
	stats  *sourceStats
	cancel context.CancelFunc
	errc   <-chan error
}

func (n *liveNet) capture(t testing.TB, env sourceEnv) *capture {
	t.Helper()
	s, err := newAFPacketSource(env)
	if err != nil {
		t.Fatal(err)
	}
	src := s.(*afpacketSource)
	ready := make(chan struct{})
	src.capturing = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	c := &capture{src: src, stats: env.stats, cancel: cancel}
	c.errc = n.Go(func() error { return src.run(ctx) })
	select {
	case <-ready:
	case err := <-c.errc:
		cancel()
		t.Fatalf("afpacket source ended before capturing: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("afpacket source did not start capturing within 10 s")
	}
	t.Cleanup(cancel)
	return c
}

// stop cancels the capture and checks that run returns nil within a second.
func (c *capture) stop(t testing.TB) {
	t.Helper()
	start := time.Now()
	c.cancel()
	select {
	case err := <-c.errc:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("run took %v to end after cancel, want < 1 s", d)
		}
		t.Logf("run ended %v after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end within 5 s of cancel")
	}
}

// waitPackets waits until the source has taken in want frames, then a little
// longer so that any extra frame (a duplicate from two fanout members) shows.
func (c *capture) waitPackets(t *testing.T, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.stats.packets.Load() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * afpPollTimeout)
	if got := c.stats.packets.Load(); got != want {
		t.Errorf("source took in %d frames, want %d", got, want)
	}
}

// waitQuiet waits until the source's frame count has not moved for a second.
func (c *capture) waitQuiet() uint64 {
	last, still := c.stats.packets.Load(), 0
	for still < 10 {
		time.Sleep(100 * time.Millisecond)
		if n := c.stats.packets.Load(); n != last {
			last, still = n, 0
			continue
		}
		still++
	}
	return last
}

// liveFrames is a set of frames with the counts each must produce.
type liveFrames struct {
	frames [][]byte
	want   map[afpKey]Cell
}

type afpKey struct {
	ssid string
	f    Family
	d    Direction
}

func (lf *liveFrames) add(ssid string, f Family, d Direction, frame []byte) {
	lf.frames = append(lf.frames, frame)
	if lf.want == nil {
		lf.want = map[afpKey]Cell{}
	}
	c := lf.want[afpKey{ssid, f, d}]
	c.Packets++
	c.Bytes += uint64(len(frame))
	lf.want[afpKey{ssid, f, d}] = c
}

var (
	afpClientMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}
	afpRouterMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0xfe, 0x01}
)

// meetingFrames is every kind of frame the source must count right, each kind
// several times with changing ports so that the flows spread over the workers.
func meetingFrames() *liveFrames {
	var lf liveFrames
	up, down := packetgen.Tagged(afpClientMAC, afpRouterMAC, 100), packetgen.Tagged(afpRouterMAC, afpClientMAC, 100)
	up200, down200 := packetgen.Tagged(afpClientMAC, afpRouterMAC, 200), packetgen.Tagged(afpRouterMAC, afpClientMAC, 200)
	server4 := netip.MustParseAddr("198.51.100.7")
	nat64 := packetgen.NAT64Address(netip.MustParsePrefix("64:ff9b::/96"), server4)
	a := netip.MustParseAddr
	for i := range 40 {
		port := uint16(40000 + i)
		// IPv4 up on ietf (802.1Q 100).
		lf.add("ietf", FamilyIPv4, DirectionUp, packetgen.Packet{Link: up, Src: a("10.100.1.10"), Dst: server4,
			Protocol: packetgen.TCP, SrcPort: port, DstPort: 443, Payload: 300}.Frame())
		// IPv4 down on ietf-dual-stack (802.1Q 200), UDP.
		lf.add("ietf-dual-stack", FamilyIPv4, DirectionDown, packetgen.Packet{Link: down200, Src: server4, Dst: a("10.200.3.4"),
			Protocol: packetgen.UDP, SrcPort: 443, DstPort: port, Payload: 900}.Frame())
		// IPv6 up on ietf-dual-stack.
		lf.add("ietf-dual-stack", FamilyIPv6, DirectionUp, packetgen.Packet{Link: up200, Src: a("2001:db8:200::10"), Dst: a("2001:db8:ffff::1"),
			Protocol: packetgen.TCP, SrcPort: port, DstPort: 443, Payload: 600}.Frame())
		// NAT64 both ways on ietf.
		lf.add("ietf", FamilyNAT64, DirectionUp, packetgen.Packet{Link: up, Src: a("2001:db8:100::20"), Dst: nat64,
			Protocol: packetgen.TCP, SrcPort: port, DstPort: 443, Payload: 1200}.Frame())
		lf.add("ietf", FamilyNAT64, DirectionDown, packetgen.Packet{Link: down, Src: nat64, Dst: a("2001:db8:100::20"),
			Protocol: packetgen.TCP, SrcPort: 443, DstPort: port, Payload: 1400}.Frame())
		if i%4 == 0 {
			// QinQ: 802.1ad service tag 100 outside a customer tag: the outer
			// tag decides, and both tags count in the bytes.
			lf.add("ietf", FamilyIPv6, DirectionDown, packetgen.Packet{Link: packetgen.QinQ(afpRouterMAC, afpClientMAC, 100, 999),
				Src: a("2001:db8:ffff::2"), Dst: a("2001:db8:100::30"), Protocol: packetgen.UDP, SrcPort: port, DstPort: 53, Payload: 200}.Frame())
			// Pre-standard QinQ TPID 0x9100, which the kernel leaves in the frame.
			lf.add("ietf-dual-stack", FamilyIPv4, DirectionUp, packetgen.Packet{
				Link: packetgen.Link{Src: afpClientMAC, Dst: afpRouterMAC, VLANs: []uint16{200, 7}, OuterTPID: packetgen.TPIDQinQ},
				Src:  a("10.200.9.9"), Dst: server4, Protocol: packetgen.UDP, SrcPort: port, DstPort: 53, Payload: 40}.Frame())
			// Untagged: the NOC SSID.
			lf.add("noc", FamilyIPv4, DirectionUp, packetgen.Packet{Link: packetgen.Untagged(afpClientMAC, afpRouterMAC),
				Src: a("192.0.2.5"), Dst: a("203.0.113.1"), Protocol: packetgen.TCP, SrcPort: port, DstPort: 22, Payload: 100}.Frame())
			// A VLAN no SSID has.
			lf.add(UnknownSSID, FamilyIPv4, DirectionOther, packetgen.Packet{Link: packetgen.Tagged(afpClientMAC, afpRouterMAC, 4000),
				Src: a("10.100.1.10"), Dst: server4, Protocol: packetgen.UDP, SrcPort: port, DstPort: 123, Payload: 48}.Frame())
			// A jumbo frame, longer than the snap length: its full length counts.
			lf.add("ietf-dual-stack", FamilyIPv6, DirectionDown, packetgen.Packet{Link: down200, Src: a("2001:db8:ffff::1"), Dst: a("2001:db8:200::10"),
				Protocol: packetgen.UDP, SrcPort: 443, DstPort: port, Payload: 8900}.Frame())
		}
		if i%10 == 0 {
			// DHCP (half of it with option 108) and RAs with the right PREF64,
			// 4 of each; see checkEvents.
			xid := uint32(0x1000 + i)
			lf.add("ietf-dual-stack", FamilyIPv4, DirectionOther, packetgen.DHCPDiscover{Link: packetgen.Tagged(afpClientMAC, nil, 200),
				Xid: xid, IPv6OnlyPreferred: i%20 == 0}.Frame())
			lf.add("ietf-dual-stack", FamilyIPv4, DirectionOther, packetgen.DHCPOffer{Link: packetgen.Tagged(afpRouterMAC, nil, 200),
				Client: afpClientMAC, Xid: xid, Server: a("198.51.100.67"), Offered: a("10.200.5.5"),
				IPv6OnlyPreferred: i%20 == 0, V6OnlyWait: 1800}.Frame())
			lf.add("ietf", FamilyIPv6, DirectionOther, packetgen.RouterAdvertisement{Link: packetgen.Tagged(afpRouterMAC, nil, 100),
				Src: packetgen.LinkLocal(afpRouterMAC), Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/64")},
				PREF64: netip.MustParsePrefix("64:ff9b::/96"), SourceLinkLayer: true}.Frame())
			lf.add("noc", FamilyOther, DirectionOther, packetgen.ARPRequest(packetgen.Untagged(afpClientMAC, packetgen.BroadcastMAC),
				a("192.0.2.5"), a("192.0.2.1")))
		}
	}
	return &lf
}

// checkCounts compares every SSID × family × direction cell with want, scaled
// by weight.
func checkCounts(t *testing.T, c *Classifier, got *Counters, want map[afpKey]Cell, weight uint64) {
	t.Helper()
	for s, name := range c.SSIDNames() {
		for f := range Family(NumFamilies) {
			for d := range Direction(NumDirections) {
				w := want[afpKey{name, f, d}]
				w.Packets *= weight
				w.Bytes *= weight
				if g := got.Cell(s, f, d); g != w {
					t.Errorf("ssid=%s family=%s direction=%s: %d packets, %d bytes; want %d, %d", name, f, d, g.Packets, g.Bytes, w.Packets, w.Bytes)
				}
			}
		}
	}
}

// checkEvents checks the DHCP and RA counts of meetingFrames: 4 DISCOVERs and 4
// OFFERs from the allowed server on ietf-dual-stack, half of each with option
// 108, and 4 RAs from the allowed router on ietf with the configured PREF64.
func checkEvents(t *testing.T, c *Classifier, ev *Events) {
	t.Helper()
	want := newEvents(len(c.SSIDNames()))
	for s, name := range c.SSIDNames() {
		switch name {
		case "ietf-dual-stack":
			e := &want.ssids[s]
			e.discovers, e.discovers108 = 4, 2
			e.offers[1][0], e.offers[1][1] = 2, 2
		case "ietf":
			want.ssids[s].ras[1][pref64Match] = 4
		}
	}
	for s, name := range c.SSIDNames() {
		if got := ev.ssids[s]; got != want.ssids[s] {
			t.Errorf("ssid=%s: DHCP/RA events %+v, want %+v", name, got, want.ssids[s])
		}
	}
}

// checkClients checks that the one client MAC of meetingFrames is counted once
// in every SSID and family it sent from, and nowhere else.
func checkClients(t *testing.T, c *Classifier, clients *clientCounts, want map[afpKey]Cell) {
	t.Helper()
	for s, name := range c.SSIDNames() {
		for f := range Family(clientFamilies) {
			n := 0
			if want[afpKey{name, f, DirectionUp}].Packets > 0 {
				n = 1
			}
			if got := clients.recent.estimate(s, f); math.Round(got) != float64(n) {
				t.Errorf("ssid=%s family=%s: %.2f unique clients, want %d", name, f, got, n)
			}
			if got := clients.day.estimate(s, f); math.Round(got) != float64(n) {
				t.Errorf("ssid=%s family=%s: %.2f unique clients today, want %d", name, f, got, n)
			}
		}
	}
}

func TestAFPacketLive(t *testing.T) {
	n := newLiveNet(t)
	cfg := afpacketTestConfig()
	cl, err := NewClassifier(cfg, "noc")
	if err != nil {
		t.Fatal(err)
	}
	lf := meetingFrames()

	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			env, ws := afpacketTestEnv(t, cfg, "cap0", workers, 1)
			c := n.capture(t, env)
			n.send(t, lf.frames)
			c.waitPackets(t, uint64(len(lf.frames)))
			c.stop(t)
			sum := ws.sum(cl)
			perWorker := sum.perWorker
			checkCounts(t, cl, sum.counters, lf.want, 1)
			checkEvents(t, cl, sum.events)
			checkClients(t, cl, sum.clients, lf.want)
			if len(perWorker) != workers {
				t.Fatalf("%d workers ran, want %d", len(perWorker), workers)
			}
			for i, p := range perWorker {
				// 40 flows of each kind: the chance that the hash puts them all
				// on one of two workers is nil.
				if p == 0 {
					t.Errorf("worker %d of %d counted nothing: the fanout did not spread the flows", i, workers)
				}
			}
			if d := env.stats.dropped.Load(); d != 0 {
				t.Errorf("%d frames dropped", d)
			}
			if env.stats.lastPacketNs.Load() == 0 {
				t.Error("lastPacketNs was not set")
			}
			t.Logf("%d frames over %d workers: %v", len(lf.frames), workers, perWorker)
		})
	}

	t.Run("sampling=1:4", func(t *testing.T) {
		const sent, rate = 4000, 4
		env, ws := afpacketTestEnv(t, cfg, "cap0", 2, rate)
		c := n.capture(t, env)
		frames := make([][]byte, sent)
		var one liveFrames
		for i := range frames {
			frames[i] = packetgen.Packet{Link: packetgen.Tagged(afpClientMAC, afpRouterMAC, 100),
				Src: netip.MustParseAddr("2001:db8:100::20"), Dst: netip.MustParseAddr("2001:db8:ffff::1"),
				Protocol: packetgen.UDP, SrcPort: uint16(10000 + i), DstPort: 443, Payload: 150}.Frame()
			if i == 0 {
				one.add("ietf", FamilyIPv6, DirectionUp, frames[0])
			}
		}
		n.send(t, frames)
		kept := c.waitQuiet()
		c.stop(t)
		got := ws.sum(cl).counters
		want := map[afpKey]Cell{{"ietf", FamilyIPv6, DirectionUp}: {
			Packets: kept, Bytes: kept * one.want[afpKey{"ietf", FamilyIPv6, DirectionUp}].Bytes}}
		// Every kept frame counts 4 times, and nothing else is counted.
		checkCounts(t, cl, got, want, rate)
		// kept is binomial(4000, 1/4): mean 1000, standard deviation 27.4. Six
		// deviations either side fail a correct filter once in 10⁹ runs.
		mean := float64(sent) / rate
		sd := math.Sqrt(float64(sent) * (1.0 / rate) * (1 - 1.0/rate))
		if math.Abs(float64(kept)-mean) > 6*sd {
			t.Errorf("1:%d sampling kept %d of %d frames, want %.0f ± %.0f", rate, kept, sent, mean, 6*sd)
		}
		t.Logf("1:%d sampling kept %d of %d frames (%.1f σ from the mean)", rate, kept, sent, (float64(kept)-mean)/sd)
	})

	// Frames are read where they lie in the ring, and a tag the kernel took off
	// is put back in place: neither allocates.
	t.Run("allocations", func(t *testing.T) {
		const sent = 20000
		for _, tagged := range []bool{false, true} {
			env, _ := afpacketTestEnv(t, cfg, "cap0", 1, 1)
			c := n.capture(t, env)
			l := packetgen.Untagged(afpClientMAC, afpRouterMAC)
			if tagged {
				l = packetgen.Tagged(afpClientMAC, afpRouterMAC, 300)
			}
			frames := make([][]byte, sent)
			for i := range frames {
				frames[i] = packetgen.Packet{Link: l, Src: netip.MustParseAddr("192.0.2.5"), Dst: netip.MustParseAddr("203.0.113.1"),
					Protocol: packetgen.UDP, SrcPort: uint16(i), DstPort: 53, Payload: 50}.Frame()
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n.send(t, frames)
			c.waitPackets(t, sent)
			runtime.ReadMemStats(&after)
			c.stop(t)
			perFrame := float64(after.Mallocs-before.Mallocs) / sent
			t.Logf("VLAN tag taken off by the kernel: %v: %.4f allocations per frame", tagged, perFrame)
			// The test's own goroutines (the sender, the waits) allocate a
			// little meanwhile: a few hundred at most, against one per frame
			// if the per-packet path allocated.
			if perFrame > 0.01 {
				t.Errorf("tagged=%v: %.4f allocations per frame, want 0", tagged, perFrame)
			}
		}
	})

	// The path the counts above cover: veth, like a NIC, takes the outer tag
	// off received frames (802.1Q and 802.1ad) and reports it beside the frame,
	// and the frame lies far enough behind its header for the tag to go back.
	t.Run("tag reported beside the frame", func(t *testing.T) {
		frames := [][]byte{
			packetgen.Packet{Link: packetgen.Tagged(afpClientMAC, afpRouterMAC, 100), Src: netip.MustParseAddr("10.100.1.10"),
				Dst: netip.MustParseAddr("198.51.100.7"), Protocol: packetgen.UDP, SrcPort: 1, DstPort: 53, Payload: 10}.Frame(),
			packetgen.Packet{Link: packetgen.QinQ(afpRouterMAC, afpClientMAC, 200, 999), Src: netip.MustParseAddr("2001:db8:ffff::2"),
				Dst: netip.MustParseAddr("2001:db8:200::30"), Protocol: packetgen.UDP, SrcPort: 2, DstPort: 53, Payload: 10}.Frame(),
		}
		type seen struct {
			status, tci  uint32
			tpid, mac    uint16
			snap, length uint32
		}
		var got []seen
		ring := ringGeometry{blockSize: 64 << 10, numBlocks: 4, frameSize: 4096}
		accept, err := captureFilter(2048, 1)
		if err != nil {
			t.Fatal(err)
		}
		n.do(t, func() error {
			ifi, err := net.InterfaceByName("cap0")
			if err != nil {
				return err
			}
			r, err := openRing(ifi.Index, ring, accept)
			if err != nil {
				return err
			}
			defer r.close()
			errc := n.Go(func() error {
				// Sent from a thread of its own, as n.send would.
				ifi, err := net.InterfaceByName("snd0")
				if err != nil {
					return err
				}
				fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				for _, f := range frames {
					if err := unix.Sendto(fd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
						return err
					}
				}
				return nil
			})
			if err := <-errc; err != nil {
				return err
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(got) < len(frames) && time.Now().Before(deadline) {
				b, err := r.next(afpPollTimeout)
				if err != nil {
					return err
				}
				if b == nil {
					continue
				}
				ne := binary.NativeEndian
				off := int(ne.Uint32(b[tpFirstPktOff:]))
				for range ne.Uint32(b[tpNumPktsOff:]) {
					h := b[off:]
					got = append(got, seen{status: ne.Uint32(h[tp3StatusOff:]), tci: ne.Uint32(h[tp3VLANTCIOff:]),
						tpid: ne.Uint16(h[tp3VLANTPIDOff:]), mac: ne.Uint16(h[tp3MacOff:]),
						snap: ne.Uint32(h[tp3SnaplenOff:]), length: ne.Uint32(h[tp3LenOff:])})
					off += int(ne.Uint32(h[tp3NextOff:]))
				}
				r.release(b)
			}
			return nil
		})
		if len(got) != len(frames) {
			t.Fatalf("read %d frames from the ring, want %d", len(got), len(frames))
		}
		for i, want := range []struct {
			tpid uint16
			vid  uint32
		}{{0x8100, 100}, {0x88a8, 200}} {
			g := got[i]
			if g.status&unix.TP_STATUS_VLAN_VALID == 0 || g.status&unix.TP_STATUS_VLAN_TPID_VALID == 0 ||
				g.tpid != want.tpid || g.tci&0xfff != want.vid {
				t.Errorf("frame %d: status %#x, TPID %#x, TCI %#x; want the kernel to report tag %#x/%d beside the frame",
					i, g.status, g.tpid, g.tci, want.tpid, want.vid)
			}
			if int(g.length) != len(frames[i])-vlanTagLen || g.snap != g.length {
				t.Errorf("frame %d: %d bytes in the ring, %d on the wire; want %d, without the outer tag", i, g.snap, g.length, len(frames[i])-vlanTagLen)
			}
			// tpacket3_hdr, sockaddr_ll (68 bytes) and PACKET_RESERVE's 4 bytes.
			if g.mac < 68+tpVLANHeadroom {
				t.Errorf("frame %d lies %d bytes behind its header: no headroom for the tag", i, g.mac)
			}
		}
		t.Logf("what the kernel reported: %+v", got)
	})

	t.Run("no CAP_NET_RAW", func(t *testing.T) {
		env, _ := afpacketTestEnv(t, cfg, "cap0", 2, 1)
		src, err := newAFPacketSource(env)
		if err != nil {
			t.Fatal(err)
		}
		// Capabilities belong to a thread: drop CAP_NET_RAW from this locked
		// thread's effective set only; it ends with the goroutine.
		err = <-n.Go(func() error {
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				return err
			}
			data[0].Effective &^= 1 << unix.CAP_NET_RAW
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return src.run(ctx)
		})
		if err == nil || !strings.Contains(err.Error(), "needs CAP_NET_RAW") || !errors.Is(err, unix.EPERM) {
			t.Errorf("run without CAP_NET_RAW = %v, want an EPERM error saying it needs CAP_NET_RAW", err)
		}
	})

	// Last: it removes cap0.
	t.Run("link removed", func(t *testing.T) {
		env, _ := afpacketTestEnv(t, cfg, "cap0", 2, 1)
		c := n.capture(t, env)
		// Timed from when the deletion is done: `ip link del` returns after the
		// kernel has unregistered the link and told its sockets.
		n.IP("link", "del", "cap0")
		start := time.Now()
		select {
		case err := <-c.errc:
			if err == nil || !strings.Contains(err.Error(), "stopped") {
				t.Errorf("run after the link went away = %v, want an error saying capture stopped", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("run took %v to end after the link went away, want < 1 s", d)
			}
			t.Logf("run ended %v after the link went away: %v", time.Since(start).Round(time.Millisecond), err)
		case <-time.After(5 * time.Second):
			t.Fatal("run did not end within 5 s of the link going away")
		}
	})
}

// tpFrame is one frame of a synthetic TPACKET_V3 block: what the kernel puts
// in the ring and its header fields.
type tpFrame struct {
	data   []byte // the bytes in the ring: outer tag taken off, cut to the snap length
	wire   uint32 // tp_len
	status uint32 // tp_status beyond TP_STATUS_USER
	tci    uint32
	tpid   uint16
}

// tpMAC is where the kernel puts a frame with a 14-byte MAC header behind its
// tpacket3_hdr with PACKET_RESERVE 4: TPACKET_ALIGN(68 + 16) + 4 − 14, as the
// live test sees it.
const tpMAC = 86

// tpFill is what the synthetic kernel leaves in the space between a header and
// its frame, so that a test sees what the walk wrote there.
const tpFill = 0xee

// buildBlock lays frames out in a block of size bytes as the kernel does.
func buildBlock(size int, frames []tpFrame) []byte {
	b := make([]byte, size)
	ne := binary.NativeEndian
	ne.PutUint32(b[tpBlockStatusOff:], unix.TP_STATUS_USER)
	ne.PutUint32(b[tpNumPktsOff:], uint32(len(frames)))
	ne.PutUint32(b[tpFirstPktOff:], tpBlockHdrLen)
	off := tpBlockHdrLen
	for i, f := range frames {
		next := (tpMAC + len(f.data) + 7) &^ 7
		h := b[off:]
		if i < len(frames)-1 {
			ne.PutUint32(h[tp3NextOff:], uint32(next))
		}
		ne.PutUint32(h[tp3SnaplenOff:], uint32(len(f.data)))
		ne.PutUint32(h[tp3LenOff:], f.wire)
		ne.PutUint32(h[tp3StatusOff:], unix.TP_STATUS_USER|f.status)
		ne.PutUint16(h[tp3MacOff:], tpMAC)
		ne.PutUint32(h[tp3VLANTCIOff:], f.tci)
		ne.PutUint16(h[tp3VLANTPIDOff:], f.tpid)
		for j := tp3HdrLen; j < tpMAC; j++ {
			h[j] = tpFill
		}
		copy(h[tpMAC:], f.data)
		off += next
	}
	ne.PutUint32(b[20:], uint32(off)) // blk_len
	return b
}

// frameOffsets are where buildBlock put each frame's header.
func frameOffsets(frames []tpFrame) []int {
	offs := make([]int, len(frames))
	off := tpBlockHdrLen
	for i, f := range frames {
		offs[i] = off
		off += (tpMAC + len(f.data) + 7) &^ 7
	}
	return offs
}

// stripTag is frame as the kernel puts it in the ring after taking its outer
// tag off, with the tag's fields as the kernel reports them.
func stripTag(frame []byte) (rest []byte, tpid uint16, tci uint32) {
	rest = append(append([]byte{}, frame[:12]...), frame[16:]...)
	return rest, binary.BigEndian.Uint16(frame[12:14]), uint32(binary.BigEndian.Uint16(frame[14:16]))
}

func walkTestWorker(t testing.TB) *Worker {
	t.Helper()
	cfg := afpacketTestConfig()
	cl, err := NewClassifier(cfg, "noc")
	if err != nil {
		t.Fatal(err)
	}
	d, err := newPayloadDecoder(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newWorker(cl, d, afpClientWindow, nil)
}

func TestAFPacketWalkBlock(t *testing.T) {
	a := netip.MustParseAddr
	server4 := a("198.51.100.7")
	packet := func(l packetgen.Link, src, dst netip.Addr, payload int) []byte {
		return packetgen.Packet{Link: l, Src: src, Dst: dst, Protocol: packetgen.UDP, SrcPort: 5000, DstPort: 53, Payload: payload}.Frame()
	}
	tagged100 := packet(packetgen.Tagged(afpClientMAC, afpRouterMAC, 100), a("10.100.1.10"), server4, 100)
	qinq := packet(packetgen.QinQ(afpRouterMAC, afpClientMAC, 100, 999), a("2001:db8:ffff::2"), a("2001:db8:100::30"), 200)
	tagged200 := packet(packetgen.Tagged(afpClientMAC, afpRouterMAC, 200), a("2001:db8:200::10"), a("2001:db8:ffff::1"), 300)
	untagged := packet(packetgen.Untagged(afpClientMAC, afpRouterMAC), a("192.0.2.5"), a("203.0.113.1"), 50)
	priority := packet(packetgen.Tagged(afpClientMAC, afpRouterMAC, 0), a("192.0.2.5"), a("203.0.113.1"), 60)
	binary.BigEndian.PutUint16(priority[14:], 5<<13) // PCP 5, VLAN 0
	jumbo := packet(packetgen.Tagged(afpRouterMAC, afpClientMAC, 200), a("2001:db8:ffff::1"), a("2001:db8:200::10"), 8900)
	const snap = 2048

	// Each case: the frame as on the wire (what tshark shows), and how the
	// kernel hands it over.
	type tc struct {
		name   string
		wire   []byte // the frame on the wire
		want   []byte // what the classifier must see: wire cut to the snap length
		ring   tpFrame
		inband bool // the kernel left the tag in the frame
	}
	var cases []tc
	add := func(name string, wire []byte, fix func(*tpFrame)) {
		rest, tpid, tci := stripTag(wire)
		f := tpFrame{data: rest, wire: uint32(len(rest)), status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: tci, tpid: tpid}
		if len(f.data) > snap-vlanTagLen {
			// The snap length applies to the frame without its tag; putting
			// the tag back makes it 4 bytes longer.
			f.data = f.data[:snap-vlanTagLen]
		}
		want := wire
		if fix != nil {
			fix(&f)
		}
		if len(want) > len(f.data)+vlanTagLen {
			want = want[:len(f.data)+vlanTagLen]
		}
		cases = append(cases, tc{name: name, wire: wire, want: want, ring: f})
	}
	add("802.1Q", tagged100, nil)
	add("802.1ad outside 802.1Q", qinq, nil)
	add("no TPID reported (before 3.14)", tagged200, func(f *tpFrame) { f.status, f.tpid = unix.TP_STATUS_VLAN_VALID, 0 })
	add("TCI without status bits (before 3.0)", tagged100, func(f *tpFrame) { f.status, f.tpid = 0, 0 })
	add("priority tag", priority, nil)
	add("jumbo, cut to the snap length", jumbo, nil)
	cases = append(cases,
		tc{name: "untagged", wire: untagged, want: untagged, ring: tpFrame{data: untagged, wire: uint32(len(untagged))}, inband: true},
		tc{name: "tag left in the frame", wire: tagged200, want: tagged200, ring: tpFrame{data: tagged200, wire: uint32(len(tagged200))}, inband: true},
	)
	// A tagged frame cut before the MAC addresses end: no room to put the tag
	// behind them (libpcap leaves it off too), and the length stays the kernel's.
	cut, _, cutTCI := stripTag(tagged100)
	cases = append(cases, tc{name: "snap length below the MAC addresses", wire: cut[:10], want: cut[:10], inband: true,
		ring: tpFrame{data: cut[:10], wire: uint32(len(cut)), status: unix.TP_STATUS_VLAN_VALID, tci: cutTCI, tpid: 0x8100}})

	frames := make([]tpFrame, len(cases))
	for i, c := range cases {
		frames[i] = c.ring
	}
	block := buildBlock(64<<10, frames)
	w := walkTestWorker(t)
	n, ok := walkBlock(block, w, 3)
	if !ok || n != uint64(len(cases)) {
		t.Fatalf("walkBlock = %d, %v; want %d, true", n, ok, len(cases))
	}

	// The oracle: the classifier over the frames as on the wire, with tshark's
	// frame.len (the tag included), weighted 3 like the walk.
	cl := w.Classifier()
	want := cl.NewCounters()
	for i, c := range cases {
		wireLen := int(c.ring.wire)
		if !c.inband {
			wireLen += vlanTagLen
		}
		if c.name == "snap length below the MAC addresses" {
			wireLen = int(c.ring.wire)
		} else if wireLen != len(c.wire) {
			t.Fatalf("case %q: wire length %d, frame %d bytes", c.name, wireLen, len(c.wire))
		}
		cl.Classify(c.want, wireLen, 3, want)

		// The frame as the classifier saw it lies in the block, tag restored.
		off := frameOffsets(frames)[i]
		start := off + tpMAC
		if !c.inband {
			start -= vlanTagLen
		}
		if got := block[start : start+len(c.want)]; string(got) != string(c.want) {
			t.Errorf("case %q: the frame in the block is\n%x\nwant\n%x", c.name, got, c.want)
		}
		// Nothing before it was touched: not the header, not the space
		// between header and frame.
		for j := off + tp3HdrLen; j < start; j++ {
			if block[j] != tpFill {
				t.Errorf("case %q: byte %d before the frame changed to %#x", c.name, j-off, block[j])
				break
			}
		}
		if got := binary.NativeEndian.Uint32(block[off+tp3LenOff:]); got != c.ring.wire {
			t.Errorf("case %q: tp_len changed to %d", c.name, got)
		}
	}
	for s, name := range cl.SSIDNames() {
		for f := range Family(NumFamilies) {
			for d := range Direction(NumDirections) {
				if g, e := w.counters.Cell(s, f, d), want.Cell(s, f, d); g != e {
					t.Errorf("ssid=%s family=%s direction=%s: %+v, want %+v", name, f, d, g, e)
				}
			}
		}
	}
	// Spot checks against the oracle being wrong the same way: the 802.1Q frame
	// counts in ietf with its tag's bytes, the priority-tagged one in noc.
	ietf, noc := 1, 3
	if cl.SSIDNames()[ietf] != "ietf" || cl.SSIDNames()[noc] != "noc" {
		t.Fatalf("SSID order %v", cl.SSIDNames())
	}
	if got := w.counters.Cell(ietf, FamilyIPv4, DirectionUp); got.Packets != 2*3 || got.Bytes != 2*3*uint64(len(tagged100)) {
		t.Errorf("ietf ipv4 up = %+v, want 6 packets of %d bytes", got, len(tagged100))
	}
	if got := w.counters.Cell(noc, FamilyIPv4, DirectionUp); got.Packets != 2*3 || got.Bytes != 3*uint64(len(priority)+len(untagged)) {
		t.Errorf("noc ipv4 up = %+v, want the priority-tagged and the untagged frame, 3 times each", got)
	}

	// An empty block (the kernel hands one over when the ring was frozen).
	if n, ok := walkBlock(buildBlock(4096, nil), w, 1); n != 0 || !ok {
		t.Errorf("walkBlock(empty) = %d, %v; want 0, true", n, ok)
	}
}

// TestAFPacketWalkBlockLies feeds walkBlock blocks whose headers point outside
// the block, backwards, or into themselves: it must stop there, having
// classified the frames before, without a panic and without writing outside
// the block.
func TestAFPacketWalkBlockLies(t *testing.T) {
	frame := packetgen.Packet{Link: packetgen.Tagged(afpClientMAC, afpRouterMAC, 100), Src: netip.MustParseAddr("10.100.1.10"),
		Dst: netip.MustParseAddr("198.51.100.7"), Protocol: packetgen.UDP, SrcPort: 1, DstPort: 53, Payload: 100}.Frame()
	rest, tpid, tci := stripTag(frame)
	three := []tpFrame{
		{data: rest, wire: uint32(len(rest)), status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: tci, tpid: tpid},
		{data: rest, wire: uint32(len(rest)), status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: tci, tpid: tpid},
		{data: rest, wire: uint32(len(rest)), status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: tci, tpid: tpid},
	}
	const size = 4096
	offs := frameOffsets(three)
	ne := binary.NativeEndian
	u32 := func(at int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { ne.PutUint32(b[at:], v); return b }
	}
	u16 := func(at int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { ne.PutUint16(b[at:], v); return b }
	}
	second, last := offs[1], offs[2]
	tests := []struct {
		name  string
		lie   func([]byte) []byte
		n     uint64
		valid bool
	}{
		{"truthful", func(b []byte) []byte { return b }, 3, true},
		{"empty block", func(b []byte) []byte { return b[:0] }, 0, false},
		{"block shorter than its header", func(b []byte) []byte { return b[:tpBlockHdrLen-1] }, 0, false},
		{"more frames than there are", u32(tpNumPktsOff, 1000), 3, false},
		{"more frames than fit", u32(tpNumPktsOff, 0xffffffff), 3, false},
		{"first frame inside the block header", u32(tpFirstPktOff, 8), 0, false},
		{"first frame at 0", u32(tpFirstPktOff, 0), 0, false},
		{"first frame past the end", u32(tpFirstPktOff, size), 0, false},
		{"first header across the end", u32(tpFirstPktOff, size-tp3HdrLen+1), 0, false},
		{"first frame at 2³²−1", u32(tpFirstPktOff, 0xffffffff), 0, false},
		{"frame inside its header", u16(second+tp3MacOff, 10), 1, false},
		{"frame at 0 from its header", u16(second+tp3MacOff, 0), 1, false},
		{"untagged frame inside its header", func(b []byte) []byte {
			ne.PutUint32(b[second+tp3StatusOff:], unix.TP_STATUS_USER)
			ne.PutUint32(b[second+tp3VLANTCIOff:], 0)
			ne.PutUint16(b[second+tp3MacOff:], 8)
			return b
		}, 1, false},
		{"no room to put the tag back", u16(second+tp3MacOff, tp3HdrLen+2), 1, false},
		{"frame past the end", u16(second+tp3MacOff, 0xffff), 1, false},
		{"snap length past the end", u32(second+tp3SnaplenOff, size), 1, false},
		{"snap length 2³²−1", u32(second+tp3SnaplenOff, 0xffffffff), 1, false},
		{"next frame at 0", u32(offs[0]+tp3NextOff, 0), 1, false},
		{"next frame inside this one", u32(offs[0]+tp3NextOff, 8), 1, false},
		{"next frame past the end", u32(offs[0]+tp3NextOff, size), 1, false},
		{"next frame at 2³²−1", u32(offs[0]+tp3NextOff, 0xffffffff), 1, false},
		{"last header cut off", func(b []byte) []byte { return b[:last+tp3HdrLen-1] }, 2, false},
		{"last frame cut off", func(b []byte) []byte { return b[:last+tpMAC+10] }, 2, false},
	}
	w := walkTestWorker(t)
	for _, tt := range tests {
		// The block sits between guard bytes, which must stay as they are.
		buf := make([]byte, 64+size+64)
		for i := range buf {
			buf[i] = 0x5a
		}
		copy(buf[64:], buildBlock(size, three))
		block := tt.lie(buf[64 : 64+size : 64+size])
		block = block[:len(block):len(block)]
		var (
			n     uint64
			valid bool
		)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: walkBlock panicked: %v", tt.name, p)
				}
			}()
			n, valid = walkBlock(block, w, 1)
		}()
		if n != tt.n || valid != tt.valid {
			t.Errorf("%s: walkBlock = %d, %v; want %d, %v", tt.name, n, valid, tt.n, tt.valid)
		}
		for i, c := range append(buf[:64:64], buf[64+size:]...) {
			if c != 0x5a {
				t.Errorf("%s: guard byte %d outside the block changed", tt.name, i)
				break
			}
		}
	}

	// Random header words in otherwise well-formed blocks: never a panic.
	rnd := newTestRand(3)
	for i := range 20000 {
		b := buildBlock(size, three)
		for range 1 + rnd.next()%4 {
			at := int(rnd.next() % (size - 4))
			if rnd.next()%2 == 0 {
				at = offs[rnd.next()%3] + int(rnd.next()%tp3HdrLen)&^1
			} else if rnd.next()%2 == 0 {
				at = int(rnd.next()%tpBlockHdrLen) &^ 3
			}
			switch rnd.next() % 3 {
			case 0:
				ne.PutUint32(b[at:], uint32(rnd.next()))
			case 1:
				ne.PutUint16(b[at:], uint16(rnd.next()))
			default:
				ne.PutUint32(b[at:], uint32(rnd.next()%(2*size)))
			}
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("random block %d: walkBlock panicked: %v", i, p)
				}
			}()
			walkBlock(b[:size-int(rnd.next()%64)], w, 1)
		}()
	}
}

// testRand is a small deterministic generator (splitmix64), so that the random
// blocks are the same on every run.
type testRand struct{ s uint64 }

func newTestRand(seed uint64) *testRand { return &testRand{s: seed} }

func (r *testRand) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// walkBenchBlock is a block full of small frames, all tagged or all untagged,
// as the kernel hands them over, and how many frames it holds.
func walkBenchBlock(tb testing.TB, size int, tagged bool) ([]byte, int) {
	tb.Helper()
	var frames []tpFrame
	used := tpBlockHdrLen
	for i := 0; ; i++ {
		l := packetgen.Untagged(afpClientMAC, afpRouterMAC)
		if tagged {
			l = packetgen.Tagged(afpClientMAC, afpRouterMAC, 100)
		}
		src := netip.MustParseAddr("10.100.1.10")
		if !tagged {
			src = netip.MustParseAddr("192.0.2.5")
		}
		wire := packetgen.Packet{Link: l, Src: src, Dst: netip.MustParseAddr("198.51.100.7"),
			Protocol: packetgen.UDP, SrcPort: uint16(1000 + i), DstPort: 443, Payload: 22}.Frame()
		f := tpFrame{data: wire, wire: uint32(len(wire))}
		if tagged {
			rest, tpid, tci := stripTag(wire)
			f = tpFrame{data: rest, wire: uint32(len(rest)), status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, tci: tci, tpid: tpid}
		}
		step := (tpMAC + len(f.data) + 7) &^ 7
		if used+step > size {
			break
		}
		used += step
		frames = append(frames, f)
	}
	return buildBlock(size, frames), len(frames)
}

// The per-packet path, the walk included, allocates nothing.
func TestAFPacketWalkBlockAllocs(t *testing.T) {
	for _, tagged := range []bool{false, true} {
		tmpl, n := walkBenchBlock(t, 64<<10, tagged)
		block := make([]byte, len(tmpl))
		w := walkTestWorker(t)
		allocs := testing.AllocsPerRun(100, func() {
			copy(block, tmpl) // the walk put the tags back in place: start afresh
			if got, ok := walkBlock(block, w, 1); !ok || got != uint64(n) {
				t.Fatalf("walkBlock = %d, %v; want %d, true", got, ok, n)
			}
		})
		if allocs != 0 {
			t.Errorf("tagged=%v: %.1f allocations per block of %d frames, want 0", tagged, allocs, n)
		}
	}
}

func BenchmarkAFPacketWalkBlock(b *testing.B) {
	for _, tagged := range []bool{false, true} {
		b.Run(fmt.Sprintf("tagged=%v", tagged), func(b *testing.B) {
			tmpl, n := walkBenchBlock(b, 1<<20, tagged)
			block := make([]byte, len(tmpl))
			w := walkTestWorker(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				copy(block, tmpl)
				b.StartTimer()
				walkBlock(block, w, 1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/frame")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds()/1e6, "Mpps")
		})
	}
}

// BenchmarkAFPacketLive floods the veth pair with small 802.1Q-tagged frames,
// whose tags the kernel takes off and the source puts back, from one sender
// thread (one sendto per frame) and captures them with one worker. The rate is
// bounded by the sender, so it is a lower bound of what one worker takes in.
func BenchmarkAFPacketLive(b *testing.B) {
	n := newLiveNet(b)
	env, _ := afpacketTestEnv(b, afpacketTestConfig(), "cap0", 1, 1)
	env.cfg.RingSize = 64 << 20
	c := n.capture(b, env)
	frames := make([][]byte, 1024)
	for i := range frames {
		frames[i] = packetgen.Packet{Link: packetgen.Tagged(afpClientMAC, afpRouterMAC, 100), Src: netip.MustParseAddr("10.100.1.10"),
			Dst: netip.MustParseAddr("198.51.100.7"), Protocol: packetgen.UDP, SrcPort: uint16(1000 + i), DstPort: 443, Payload: 18}.Frame()
	}
	var mallocs [2]runtime.MemStats
	runtime.ReadMemStats(&mallocs[0])
	b.ResetTimer()
	start := time.Now()
	n.do(b, func() error {
		ifi, err := net.InterfaceByName("snd0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for i := range b.N {
			// ENOBUFS: the sender outran the receive backlog; the frame is lost
			// before the ring and not counted anywhere.
			if err := unix.Sendto(fd, frames[i%len(frames)], 0, to); err != nil && !errors.Is(err, unix.ENOBUFS) {
				return err
			}
		}
		return nil
	})
	sent := time.Since(start)
	taken := c.waitQuiet()
	b.StopTimer()
	runtime.ReadMemStats(&mallocs[1])
	c.stop(b)
	// waitQuiet waited a second after the last frame.
	elapsed := max(sent, b.Elapsed()-time.Second)
	b.ReportMetric(float64(taken)/elapsed.Seconds()/1e6, "Mpps")
	b.ReportMetric(float64(b.N)/sent.Seconds()/1e6, "sent-Mpps")
	b.ReportMetric(float64(taken)/float64(b.N), "taken/sent")
	b.ReportMetric(float64(env.stats.dropped.Load()), "ring-drops")
	if taken > 0 {
		b.ReportMetric(float64(mallocs[1].Mallocs-mallocs[0].Mallocs)/float64(taken), "mallocs/frame")
	}
}
