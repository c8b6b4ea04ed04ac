package traffic

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// sflowHarness runs an sflow source on loopback with a real UDP socket.
type sflowHarness struct {
	t       *testing.T
	c       *Classifier
	stats   *sourceStats
	addr    netip.AddrPort
	logs    *testenv.SyncBuffer
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	workers []*Worker
}

// startSFlow starts a listener on listen (port 0: a random one) accepting
// agents, classifying with testConfig.
func startSFlow(t *testing.T, listen string, agents ...string) *sflowHarness {
	t.Helper()
	c, err := NewClassifier(testConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	h := &sflowHarness{t: t, c: c, stats: &sourceStats{}, logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	cfg := config.TrafficSource{Name: "switches", Type: SourceTypeSFlow, Listen: listen}
	for _, a := range agents {
		cfg.Agents = append(cfg.Agents, netip.MustParsePrefix(a))
	}
	env := sourceEnv{
		cfg:    cfg,
		logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		now:    time.Now,
		stats:  h.stats,
		newWorker: func() *Worker {
			w := newTestWorker(t, c)
			h.mu.Lock()
			h.workers = append(h.workers, w)
			h.mu.Unlock()
			return w
		},
	}
	src, err := newSFlowSource(env)
	if err != nil {
		t.Fatal(err)
	}
	bound := make(chan netip.AddrPort, 1)
	src.(*sflowListenSource).bound = func(a netip.AddrPort) { bound <- a }
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- src.run(ctx) }()
	select {
	case h.addr = <-bound:
	case err := <-h.done:
		t.Fatalf("listener on %s: %v", listen, err)
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not bind")
	}
	t.Cleanup(func() { h.stop() })
	return h
}

// send sends datagrams to the listener from a socket bound to from (port 0).
func (h *sflowHarness) send(from string, dgrams ...[]byte) {
	h.t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from)))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	to := h.addr
	if to.Addr().IsUnspecified() {
		// A dual-stack listener: reach it over the sender's own loopback.
		lo := netip.IPv6Loopback()
		if conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is4() {
			lo = netip.MustParseAddr("127.0.0.1")
		}
		to = netip.AddrPortFrom(lo, to.Port())
	}
	for _, d := range dgrams {
		if _, err := conn.WriteToUDPAddrPort(d, to); err != nil {
			h.t.Fatal(err)
		}
		// Loopback does not drop, but a burst can outrun the reader's socket
		// buffer on a loaded machine: pace a little.
		time.Sleep(50 * time.Microsecond)
	}
}

// wait waits until the listener has taken n datagrams (of any result).
func (h *sflowHarness) wait(n uint64) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := h.stats.datagrams.Load() + h.stats.malformed.Load() + h.stats.foreign.Load()
		if got >= n {
			if got > n {
				h.t.Fatalf("%d datagrams taken, want %d", got, n)
			}
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d datagrams taken after 10 s", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop stops the listener and returns what its workers counted.
func (h *sflowHarness) stop() *Counters {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("listener: %v", err)
		}
		h.done <- nil // a second stop returns at once
	case <-time.After(5 * time.Second):
		h.t.Fatal("listener did not stop within 5 s")
	}
	total := h.c.NewCounters()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.workers {
		w.addTo(total)
	}
	return total
}

// listenerMix is a packetgen mix on testConfig's SSIDs: untagged frames, as
// switches sample them, with the VLAN for the extended switch record.
func listenerMix(t *testing.T, seed uint64) *packetgen.Generator {
	t.Helper()
	ssid := func(name string, vlan uint16, v4 string, v6share, nat64, v4share float64) packetgen.SSIDMix {
		router := net.HardwareAddr{0x02, 0, 0x5e, 0, 0, byte(vlan)}
		return packetgen.SSIDMix{
			Name: name, VLAN: vlan,
			ClientPrefix6: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(vlan)}), 64),
			ClientPrefix4: netip.MustParsePrefix(v4),
			IPv6:          v6share, NAT64: nat64, IPv4: v4share, Up: 0.3, Clients: 200,
			RouterMAC: router, RouterLinkLocal: packetgen.LinkLocal(router),
			DHCPServer: netip.MustParsePrefix(v4).Addr().Next(),
		}
	}
	g, err := packetgen.NewGenerator(packetgen.Mix{Seed: seed, SSIDs: []packetgen.SSIDMix{
		ssid("ietf", 100, "100.64.0.0/18", 55, 40, 5),
		ssid("ietf-dual-stack", 200, "100.65.0.0/18", 60, 0, 40),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sampled is one frame as the test sampled it.
type sampled struct {
	frame []byte
	vlan  uint16
	rate  uint32
}

// switchDatagrams builds n datagrams of agent as a switch sends them: up to
// seven flow samples (compact or expanded, rates from 1 to 4096, an unknown
// record now and then) and a counter sample, with a counter-only datagram and
// an unknown sample in between. It returns the frames sampled.
func switchDatagrams(t *testing.T, agent netip.Addr, n int, seed uint64) ([][]byte, []sampled) {
	t.Helper()
	g := listenerMix(t, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	rates := []uint32{1, 256, 512, 1024, 4096}
	var out [][]byte
	var frames []sampled
	seq := map[uint32]uint32{}
	for i := range n {
		d := packetgen.Datagram{Agent: agent, Sequence: uint32(i + 1), Uptime: uint32(1000 * (i + 1))}
		switch {
		case i%10 == 3:
			d.Samples = append(d.Samples, packetgen.CounterSample{Sequence: uint32(i), SourceIndex: 1, Records: []packetgen.Record{packetgen.IfCounters{Index: 1}}},
				packetgen.CounterSample{Expanded: true, Sequence: uint32(i), SourceIndex: 2, Records: []packetgen.Record{packetgen.IfCounters{Index: 2}}})
		default:
			for range 1 + rng.IntN(7) {
				f := g.Next()
				port := uint32(1 + rng.IntN(4))
				seq[port]++
				rate := rates[rng.IntN(len(rates))]
				records := []packetgen.Record{packetgen.ExtendedSwitch{SrcVLAN: uint32(f.VLAN), DstVLAN: uint32(f.VLAN)}, packetgen.SampledEthernet(f.Bytes, 128)}
				if rng.IntN(4) == 0 {
					records = append([]packetgen.Record{packetgen.UnknownRecord{Format: 1002, Data: []byte{1, 2, 3, 4, 5, 6}}}, records...)
				}
				d.Samples = append(d.Samples, packetgen.FlowSample{Expanded: port == 4, Sequence: seq[port], SourceIndex: port,
					SamplingRate: rate, SamplePool: seq[port] * rate, Input: port, Output: 49, Records: records})
				frames = append(frames, sampled{f.Bytes, f.VLAN, rate})
			}
			d.Samples = append(d.Samples, packetgen.CounterSample{Sequence: uint32(i), SourceIndex: 1, Records: []packetgen.Record{packetgen.IfCounters{Index: 1}}})
			if i%7 == 5 {
				d.Samples = append(d.Samples, packetgen.UnknownSample{Format: 4300<<12 | 9, Data: []byte{7, 7, 7}})
			}
		}
		out = append(out, d.Encode())
	}
	return out, frames
}

// checkWeighting compares the listener's counts with the sampled frames:
// packets = Σ rate and bytes = Σ frame length (with FCS) × rate, in total and
// per SSID, family and direction as the classifier puts each frame.
func checkWeighting(t *testing.T, c *Classifier, got *Counters, frames []sampled) {
	t.Helper()
	want := c.NewCounters()
	var packets, bytes uint64
	for _, f := range frames {
		packets += uint64(f.rate)
		bytes += uint64(len(f.frame)+4) * uint64(f.rate)
		c.ClassifyInVLAN(f.frame[:min(128, len(f.frame))], f.vlan, len(f.frame)+4, uint64(f.rate), want)
	}
	if total := sumAll(got); total.Packets != packets || total.Bytes != bytes {
		t.Errorf("counted %+v, want %d packets, %d bytes", total, packets, bytes)
	}
	for s := range c.SSIDNames() {
		for fam := range Family(NumFamilies) {
			for dir := range Direction(NumDirections) {
				if g, w := got.Cell(s, fam, dir), want.Cell(s, fam, dir); g != w {
					t.Errorf("%s/%s/%s: %+v, want %+v", c.SSIDNames()[s], fam, dir, g, w)
				}
			}
		}
	}
}

// TestSFlowListenerWeighting: datagrams of a switch over real UDP, on IPv4,
// IPv6 and a dual-stack socket, are counted exactly; counter samples, unknown
// samples and unknown records are skipped, counter-only datagrams are fine.
func TestSFlowListenerWeighting(t *testing.T) {
	for _, tc := range []struct {
		listen string
		from   []string
		agents []string
	}{
		{"127.0.0.1:0", []string{"127.0.0.1:0"}, []string{"127.0.0.0/8"}},
		{"[::1]:0", []string{"[::1]:0"}, []string{"::1/128"}},
		{"[::]:0", []string{"127.0.0.1:0", "[::1]:0"}, []string{"127.0.0.1/32", "::1/128"}},
		{"127.0.0.1:0", []string{"127.0.0.1:0"}, nil}, // no agents: all accepted
	} {
		t.Run(tc.listen, func(t *testing.T) {
			if strings.Contains(tc.listen, "::") {
				testenv.RequireIPv6(t)
			}
			h := startSFlow(t, tc.listen, tc.agents...)
			var all []sampled
			var sent uint64
			for i, from := range tc.from {
				dgrams, frames := switchDatagrams(t, netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), 40, uint64(i+1))
				h.send(from, dgrams...)
				all = append(all, frames...)
				sent += uint64(len(dgrams))
			}
			h.wait(sent)
			got := h.stop()
			checkWeighting(t, h.c, got, all)
			if d, m, f := h.stats.datagrams.Load(), h.stats.malformed.Load(), h.stats.foreign.Load(); d != sent || m != 0 || f != 0 {
				t.Errorf("datagrams ok %d, malformed %d, foreign %d; want %d, 0, 0", d, m, f, sent)
			}
			if p := h.stats.packets.Load(); p != uint64(len(all)) {
				t.Errorf("packets %d, want the %d sampled headers", p, len(all))
			}
			if l, d := h.stats.lostDatagrams.Load(), h.stats.dropped.Load(); l != 0 || d != 0 {
				t.Errorf("lost datagrams %d, dropped samples %d; want none", l, d)
			}
			if a := h.stats.agents.Load(); a != int64(len(tc.from)) {
				t.Errorf("agents %d, want %d", a, len(tc.from))
			}
			if h.stats.lastPacketNs.Load() == 0 {
				t.Error("no last packet time")
			}
		})
	}
}

// TestSFlowListenerForeignAgents: the UDP source decides, not the agent
// address in the datagram. From 127.0.0.1 everything is dropped; from
// 127.0.0.2 it counts, although the datagrams name agent 192.0.2.10.
func TestSFlowListenerForeignAgents(t *testing.T) {
	h := startSFlow(t, "127.0.0.1:0", "127.0.0.2/32")
	dgrams, frames := switchDatagrams(t, netip.MustParseAddr("192.0.2.10"), 20, 3)
	h.send("127.0.0.1:0", dgrams...)
	h.wait(20)
	if f := h.stats.foreign.Load(); f != 20 {
		t.Errorf("foreign %d, want 20", f)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"sFlow datagrams from a sender outside agents: are dropped\" from=127.0.0.1"); n != 1 {
		t.Errorf("%d warnings about the foreign sender, want 1 (rate-limited):\n%s", n, h.logs.String())
	}
	h.send("127.0.0.2:0", dgrams...)
	h.wait(40)
	got := h.stop()
	checkWeighting(t, h.c, got, frames)
	if d, f, a := h.stats.datagrams.Load(), h.stats.foreign.Load(), h.stats.agents.Load(); d != 20 || f != 20 || a != 1 {
		t.Errorf("ok %d, foreign %d, agents %d; want 20, 20, 1", d, f, a)
	}
}

// lossDatagram is a datagram of agent with the given sequence number and flow
// samples of data source 7 (compact) and 70007 (expanded) from their
// sequence numbers, with their drops counters.
func lossDatagram(agent netip.Addr, seq, uptime uint32, frame []byte, samples ...[3]uint32) []byte {
	d := packetgen.Datagram{Agent: agent, Sequence: seq, Uptime: uptime}
	for _, s := range samples {
		source, sequence, drops := s[0], s[1], s[2]
		d.Samples = append(d.Samples, packetgen.FlowSample{Expanded: source > 0xffffff, Sequence: sequence, SourceIndex: source,
			SamplingRate: 100, Drops: drops, Records: []packetgen.Record{packetgen.SampledEthernet(frame, 128)}})
	}
	return d.Encode()
}

// TestSFlowListenerLosses: datagram sequence gaps count lost datagrams; flow
// sample sequence gaps per data source count lost samples, and the growth of
// the agents' own drops counters adds to them; a restart sets new baselines.
func TestSFlowListenerLosses(t *testing.T) {
	h := startSFlow(t, "127.0.0.1:0", "127.0.0.0/8")
	agent := netip.MustParseAddr("192.0.2.10")
	other := netip.MustParseAddr("2001:db8::a")
	frame := listenerMix(t, 1).Data(0).Bytes
	const big = 70007 + 1<<24 // an expanded sample's source index beyond 24 bits
	dgrams := [][]byte{
		lossDatagram(agent, 1, 1000, frame, [3]uint32{7, 1, 5}, [3]uint32{7, 2, 5}, [3]uint32{big, 10, 0}), // baselines
		lossDatagram(agent, 2, 2000, frame, [3]uint32{7, 3, 5}, [3]uint32{big, 11, 0}),                     // nothing lost
		// datagrams 3 and 4 lost: they held samples 4–6 of source 7 and 12 of big
		lossDatagram(agent, 5, 5000, frame, [3]uint32{7, 7, 9}, [3]uint32{big, 13, 1}), // 3 + 1 lost, drops +4 and +1
		lossDatagram(other, 1, 100, frame, [3]uint32{7, 50, 0}),                        // another agent: its own numbering
		lossDatagram(other, 2, 200, frame, [3]uint32{7, 52, 2}),                        // 1 lost, drops +2
		lossDatagram(agent, 5, 5000, frame, [3]uint32{7, 7, 9}),                        // a duplicate: nothing
		lossDatagram(agent, 1, 10, frame, [3]uint32{7, 1, 0}, [3]uint32{big, 1, 0}),    // restart: new baselines
		lossDatagram(agent, 3, 30, frame, [3]uint32{7, 4, 1}),                          // datagram 2 and samples 2, 3 lost; drops +1
	}
	h.send("127.0.0.1:0", dgrams...)
	h.wait(uint64(len(dgrams)))
	got := h.stop()
	if l := h.stats.lostDatagrams.Load(); l != 2+1 {
		t.Errorf("lost datagrams %d, want 3", l)
	}
	const lostSamples, agentDrops = 3 + 1 + 1 + 2, 4 + 1 + 2 + 1
	if d, a := h.stats.dropped.Load(), h.stats.agentDrops.Load(); d != lostSamples+agentDrops || a != agentDrops {
		t.Errorf("dropped %d (agents' %d), want %d (agents' %d)", d, a, lostSamples+agentDrops, agentDrops)
	}
	// Every sample that arrived counts, the duplicate too: it was sampled, and
	// telling a duplicate from a restart is not worth a per-sample lookup.
	if p := sumAll(got).Packets; p != 13*100 {
		t.Errorf("%d packets, want 1300", p)
	}
	if a := h.stats.agents.Load(); a != 2 {
		t.Errorf("agents %d, want 2", a)
	}
}

// TestSFlowListenerMalformed: a datagram whose second sample runs past its end
// counts its first sample and is counted malformed; one that is not sFlow at
// all is malformed and in no sequence; the datagrams after them count; the
// warning names the sender once.
func TestSFlowListenerMalformed(t *testing.T) {
	h := startSFlow(t, "127.0.0.1:0")
	agent := netip.MustParseAddr("192.0.2.10")
	frame := listenerMix(t, 1).Data(1).Bytes
	cut := lossDatagram(agent, 2, 2000, frame, [3]uint32{7, 2, 0}, [3]uint32{7, 3, 0})
	cut = cut[:len(cut)-4]
	garbage := []byte("GET / HTTP/1.1\r\n\r\n")
	dgrams := [][]byte{
		lossDatagram(agent, 1, 1000, frame, [3]uint32{7, 1, 0}),
		cut,
		garbage,
		lossDatagram(agent, 3, 3000, frame, [3]uint32{7, 4, 0}),
	}
	h.send("127.0.0.1:0", dgrams...)
	h.wait(4)
	got := h.stop()
	if d, m, l := h.stats.datagrams.Load(), h.stats.malformed.Load(), h.stats.lostDatagrams.Load(); d != 2 || m != 2 || l != 0 {
		t.Errorf("ok %d, malformed %d, lost datagrams %d; want 2, 2, 0", d, m, l)
	}
	// Sample 3, cut off, never arrived.
	if d := h.stats.dropped.Load(); d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
	if p, c := h.stats.packets.Load(), sumAll(got); p != 3 || c.Packets != 300 || c.Bytes != 300*uint64(len(frame)+4) {
		t.Errorf("packets %d, counted %+v; want 3 headers, 300 packets", p, c)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "level=WARN msg=\"malformed sFlow datagram"); n != 1 || !strings.Contains(logs, "from=127.0.0.1 agent=192.0.2.10") {
		t.Errorf("%d malformed warnings, want 1 naming from=127.0.0.1 agent=192.0.2.10:\n%s", n, logs)
	}
	if n := strings.Count(logs, "level=DEBUG msg=\"malformed sFlow datagram"); n != 2 {
		t.Errorf("%d debug lines, want 2", n)
	}
}

// TestSFlowListenerPortInUse: a port that cannot be bound is an error from run,
// for the engine to show and retry.
func TestSFlowListenerPortInUse(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	src, err := newSFlowSource(sourceEnv{
		cfg:    config.TrafficSource{Name: "s", Type: SourceTypeSFlow, Listen: busy.LocalAddr().String()},
		logger: slog.New(slog.DiscardHandler), now: time.Now, stats: &sourceStats{},
		newWorker: func() *Worker { t.Error("a worker for a source that did not start"); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- src.run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("run on a busy port: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run on a busy port did not return")
	}
	if _, err := newSFlowSource(sourceEnv{cfg: config.TrafficSource{Listen: ":6343"}}); err == nil {
		t.Error("listen address :6343 accepted")
	}
}

// TestSFlowListenerIdlePublish: the first datagram is handed over at once, the
// second, right behind it, is not (hand-overs are 100 ms apart); with nothing
// arriving after it, the read deadline hands it over.
func TestSFlowListenerIdlePublish(t *testing.T) {
	h := startSFlow(t, "127.0.0.1:0")
	frame := listenerMix(t, 1).Data(0).Bytes
	agent := netip.MustParseAddr("192.0.2.1")
	h.send("127.0.0.1:0", lossDatagram(agent, 1, 1, frame, [3]uint32{7, 1, 0}), lossDatagram(agent, 2, 2, frame, [3]uint32{7, 2, 0}))
	h.wait(2)
	deadline := time.Now().Add(2 * sflowIdle)
	for {
		total := h.c.NewCounters()
		h.mu.Lock()
		for _, w := range h.workers {
			w.addTo(total)
		}
		h.mu.Unlock()
		if sumAll(total).Packets == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not published %v after the datagram: %+v", 2*sflowIdle, sumAll(total))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSFlowListenerAllocs: a datagram of a known agent and known data sources
// costs no allocation.
func TestSFlowListenerAllocs(t *testing.T) {
	c, err := NewClassifier(testConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	env := sourceEnv{logger: slog.New(slog.DiscardHandler), now: time.Now, stats: &sourceStats{}, newWorker: func() *Worker { return newTestWorker(t, c) }}
	l := newSFlowListener(env, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	dgrams, _ := switchDatagrams(t, netip.MustParseAddr("192.0.2.10"), 10, 5)
	from := netip.MustParseAddr("127.0.0.1")
	now := time.Now()
	for _, d := range dgrams {
		l.datagram(d, from, now)
	}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		l.datagram(dgrams[i%len(dgrams)], from, now)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocs per datagram, want 0", allocs)
	}
	// Nor does a datagram from a foreign sender, once warned about.
	l.agents = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	l.datagram(dgrams[0], from, now)
	if allocs := testing.AllocsPerRun(200, func() { l.datagram(dgrams[0], from, now) }); allocs != 0 {
		t.Errorf("%v allocs per foreign datagram, want 0", allocs)
	}
}

// BenchmarkSFlowListener is the listener's per-datagram path without the
// socket: walk, classify, sequence and loss accounting, stats.
func BenchmarkSFlowListener(b *testing.B) {
	c, err := NewClassifier(testConfig(), "")
	if err != nil {
		b.Fatal(err)
	}
	env := sourceEnv{logger: slog.New(slog.DiscardHandler), now: time.Now, stats: &sourceStats{}, newWorker: func() *Worker { return newTestWorker(b, c) }}
	l := newSFlowListener(env, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	g := listenerMix(&testing.T{}, 1)
	var dgrams [][]byte
	for i := range 64 {
		d := packetgen.Datagram{Agent: netip.MustParseAddr("192.0.2.10"), Sequence: uint32(i + 1)}
		for j := range 7 {
			f := g.Next()
			d.Samples = append(d.Samples, packetgen.FlowSample{Sequence: uint32(7*i + j + 1), SourceIndex: 1, SamplingRate: 1024,
				Records: []packetgen.Record{packetgen.ExtendedSwitch{SrcVLAN: uint32(f.VLAN)}, packetgen.SampledEthernet(f.Bytes, 128)}})
		}
		dgrams = append(dgrams, d.Encode())
	}
	from, now := netip.MustParseAddr("127.0.0.1"), time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.datagram(dgrams[i%len(dgrams)], from, now)
		i++
	}
	b.ReportMetric(float64(b.N*7)/b.Elapsed().Seconds(), "samples/s")
}
