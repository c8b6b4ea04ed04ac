//go:build linux

package traffic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
		// What the kernel (and gopacket's option check) demand of a V3 ring.
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

func afpacketTestEnv(t *testing.T, cfg *config.Config, iface string, workers int, sampling uint32) (sourceEnv, *afpacketWorkers) {
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
			w := newWorker(cl, decoder, afpClientWindow)
			ws.mu.Lock()
			ws.workers = append(ws.workers, w)
			ws.mu.Unlock()
			return w
		},
	}, ws
}

// liveNet is a network namespace of the test's own with a veth pair, cap0 (the
// capture side) and snd0 (the sender's). Nothing outside it is touched.
type liveNet struct {
	name string
	ip   string
}

var liveNetSeq atomic.Int32

func newLiveNet(t *testing.T) *liveNet {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the live AF_PACKET test creates a network namespace and a veth pair: it needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW); CI runs it as root")
	}
	ip, err := testenv.LookPath("ip")
	if err != nil {
		testenv.Missing(t, "ip not found in PATH, /usr/sbin or /usr/bin: install it with `apt-get install iproute2`")
	}
	n := &liveNet{ip: ip, name: fmt.Sprintf("meetnoc-afp-%d-%d", os.Getpid(), liveNetSeq.Add(1))}
	n.cmd(t, "netns", "add", n.name)
	t.Cleanup(func() {
		if out, err := exec.Command(n.ip, "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
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
	n.cmd(t, "-n", n.name, "link", "add", "cap0", "mtu", "9000", "type", "veth", "peer", "name", "snd0", "mtu", "9000")
	n.cmd(t, "-n", n.name, "link", "set", "cap0", "up")
	n.cmd(t, "-n", n.name, "link", "set", "snd0", "up")
	return n
}

func (n *liveNet) cmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// goIn runs fn on an OS thread of its own that has entered the namespace. The
// thread stays locked, so it ends with the goroutine instead of going back to
// the scheduler in the wrong namespace. Sockets opened there stay in the
// namespace wherever they are used later.
func (n *liveNet) goIn(fn func() error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return errc
}

func (n *liveNet) do(t *testing.T, fn func() error) {
	t.Helper()
	if err := <-n.goIn(fn); err != nil {
		t.Fatal(err)
	}
}

// send transmits frames on snd0 through a raw AF_PACKET socket, so they arrive
// on cap0 as received frames: the kernel takes their outer VLAN tag off as a
// NIC would, and the source has to put it back.
func (n *liveNet) send(t *testing.T, frames [][]byte) {
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

func (n *liveNet) capture(t *testing.T, env sourceEnv) *capture {
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
	c.errc = n.goIn(func() error { return src.run(ctx) })
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
func (c *capture) stop(t *testing.T) {
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
			if got := clients.estimate(s, f); math.Round(got) != float64(n) {
				t.Errorf("ssid=%s family=%s: %.2f unique clients, want %d", name, f, got, n)
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

	// Frames read where they lie in the ring allocate nothing. (A frame whose
	// VLAN tag the kernel took off costs 2–3 allocations inside gopacket, which
	// copies it to put the tag back: logged, not asserted.)
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
			t.Logf("VLAN tag taken off by the kernel: %v: %.3f allocations per frame", tagged, perFrame)
			// The test's own goroutines allocate a little meanwhile.
			if !tagged && perFrame > 0.05 {
				t.Errorf("%.3f allocations per untagged frame, want 0", perFrame)
			}
		}
	})

	t.Run("no CAP_NET_RAW", func(t *testing.T) {
		env, _ := afpacketTestEnv(t, cfg, "cap0", 2, 1)
		src, err := newAFPacketSource(env)
		if err != nil {
			t.Fatal(err)
		}
		// Capabilities belong to a thread: drop CAP_NET_RAW from this locked
		// thread's effective set only; it ends with the goroutine.
		err = <-n.goIn(func() error {
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
		n.cmd(t, "-n", n.name, "link", "del", "cap0")
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
