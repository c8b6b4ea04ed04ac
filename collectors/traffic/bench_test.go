package traffic

// The benchmarks of issue 3, point 7 (bench/traffic/run.sh runs them; goals and
// results in docs/benchmarks.md): the header walk over the meeting mix of
// internal/packetgen/meetingmix, hot (a few frames cycled, all in cache) and cold
// (1M distinct frames in one buffer, ~1 GB, walked in order as a capture ring is),
// through the Classifier alone and through a Worker as the engine builds it;
// sFlow datagrams of that mix as switches send them; and the pcap source replaying
// a capture of it, which is `meetnoc classify` without the output.

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/packetgen/meetingmix"
)

const (
	benchColdFrames    = 1_000_000
	benchCaptureFrames = 200_000 // ~200 MB of pcap, whole frames
	benchHotFrames     = 256
	// benchPublishEvery is the pcap source's batch: a Worker benchmark hands its
	// counts over as often as the source does, so that its per-packet cost
	// includes that share.
	benchPublishEvery = pcapBatch

	benchSFlowDatagrams = 1024 // distinct datagrams, cycled
	benchSFlowSamples   = 7    // flow samples per datagram: 7 × 128-byte headers fill a 1500-byte MTU
	benchSFlowRate      = 512
	benchSFlowHeader    = 128
)

// benchFrames is a frame set laid out as a capture ring holds frames: one after
// the other in one buffer.
type benchFrames struct {
	buf   []byte
	ends  []int // ends[i] is where frame i ends in buf; frame 0 starts at 0
	bytes int64
}

func (f *benchFrames) frame(i int) []byte {
	start := 0
	if i > 0 {
		start = f.ends[i-1]
	}
	return f.buf[start:f.ends[i]]
}

var benchSets struct {
	once      sync.Once
	cfg       *config.Config
	hot, cold *benchFrames
	err       error
}

// benchMix returns the meeting mix's config and its frame sets, built once per
// test binary: the cold set takes a few seconds and 1 GB.
func benchMix(b *testing.B) (cfg *config.Config, hot, cold *benchFrames) {
	b.Helper()
	benchSets.once.Do(func() {
		mix := meetingmix.Mix(1, true)
		if benchSets.cfg, benchSets.err = meetingmix.Config(mix); benchSets.err != nil {
			return
		}
		var stream *meetingmix.Stream
		if stream, benchSets.err = meetingmix.NewStream(mix); benchSets.err != nil {
			return
		}
		benchSets.cold = &benchFrames{buf: make([]byte, 0, 1100*benchColdFrames), ends: make([]int, 0, benchColdFrames)}
		for range benchColdFrames {
			f := stream.Next()
			benchSets.cold.buf = append(benchSets.cold.buf, f.Bytes...)
			benchSets.cold.ends = append(benchSets.cold.ends, len(benchSets.cold.buf))
		}
		benchSets.cold.bytes = int64(len(benchSets.cold.buf))
		// The hot set: the first frames of the same stream, copied apart.
		hot := &benchFrames{ends: benchSets.cold.ends[:benchHotFrames:benchHotFrames]}
		hot.buf = append([]byte(nil), benchSets.cold.buf[:hot.ends[benchHotFrames-1]]...)
		hot.bytes = int64(len(hot.buf))
		benchSets.hot = hot
	})
	if benchSets.err != nil {
		b.Fatal(benchSets.err)
	}
	return benchSets.cfg, benchSets.hot, benchSets.cold
}

// benchSource lets a benchmark get a Worker from the engine, built exactly as
// for a capture source (decoders, client sketches and all).
type benchSource struct{}

func (benchSource) run(context.Context) error { return nil }

func benchWorker(b *testing.B, cfg *config.Config) *Worker {
	b.Helper()
	const typ = "benchmark"
	var env sourceEnv
	newSourceFuncs[typ] = func(e sourceEnv) (source, error) { env = e; return benchSource{}, nil }
	defer delete(newSourceFuncs, typ)
	c := *cfg
	c.Traffic.Sources = []config.TrafficSource{{Name: typ, Type: typ}}
	if _, err := New(&c, nil, Options{}); err != nil {
		b.Fatal(err)
	}
	return env.newWorker()
}

// reportPerPacket reports the packet rate and the allocations per packet: the Go
// runtime's count of heap allocations over the whole timed loop, so that an
// allocation on a rare path (a DHCP or RA decode, a warning) counts too.
func reportPerPacket(b *testing.B, packets int64, mallocsBefore uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
	b.ReportMetric(float64(packets)/sec/1e6, "Mpps")
	allocs := float64(ms.Mallocs - mallocsBefore)
	b.ReportMetric(allocs/float64(packets), "allocs/packet")
	// The same per million packets: a rare allocation (a rogue device's warning
	// being formatted) shows as a readable number instead of 0.0000000.
	b.ReportMetric(allocs/float64(packets)*1e6, "allocs/Mpacket")
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkHeaderWalk: one op is one pass over the frame set; ns/packet, Mpps
// and allocs/packet are per frame, MB/s counts the frames' bytes.
//
//	go test -run '^$' -bench HeaderWalk -benchmem ./collectors/traffic/
func BenchmarkHeaderWalk(b *testing.B) {
	cfg, hot, cold := benchMix(b)
	for _, set := range []struct {
		name   string
		frames *benchFrames
	}{{"hot", hot}, {"cold", cold}} {
		b.Run("Classify/"+set.name, func(b *testing.B) {
			c, err := NewClassifier(cfg, "")
			if err != nil {
				b.Fatal(err)
			}
			counters := c.NewCounters()
			fs := set.frames
			n := len(fs.ends)
			b.SetBytes(fs.bytes)
			b.ReportAllocs()
			var packets int64
			m := mallocs()
			for b.Loop() {
				start := 0
				for _, end := range fs.ends {
					fr := fs.buf[start:end]
					c.Classify(fr, len(fr), 1, counters)
					start = end
				}
				packets += int64(n)
			}
			reportPerPacket(b, packets, m)
			benchCheckCounted(b, counters, packets)
		})
		b.Run("Worker/"+set.name, func(b *testing.B) {
			w := benchWorker(b, cfg)
			fs := set.frames
			b.SetBytes(fs.bytes)
			b.ReportAllocs()
			clock := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
			var packets int64
			m := mallocs()
			for b.Loop() {
				start, batch := 0, 0
				for _, end := range fs.ends {
					fr := fs.buf[start:end]
					w.Frame(fr, len(fr), 1, 0)
					start = end
					if batch++; batch == benchPublishEvery {
						// The capture's clock: 50,000 frames a second.
						clock = clock.Add(benchPublishEvery * meetingmix.FrameGap)
						w.Publish(clock)
						batch = 0
					}
				}
				packets += int64(len(fs.ends))
			}
			reportPerPacket(b, packets, m)
			w.Flush(clock)
			benchCheckCounted(b, w.counters, packets)
		})
	}
}

// benchCheckCounted fails a benchmark whose counters did not see every packet:
// a loop the compiler or a bug emptied would otherwise look fast.
func benchCheckCounted(b *testing.B, c *Counters, packets int64) {
	b.Helper()
	var total uint64
	for i := range c.cells {
		for f := range c.cells[i] {
			for d := range c.cells[i][f] {
				total += c.cells[i][f][d].Packets
			}
		}
	}
	if total != uint64(packets) {
		b.Fatalf("counted %d packets, classified %d", total, packets)
	}
}

// benchSFlowDatagramSet returns sFlow datagrams of the meeting mix as a switch
// exports them: untagged frames sampled 1 in 512 with their VLAN in an extended
// switch record, 128-byte headers, 7 flow samples a datagram, and every 16th
// datagram also carrying a counter sample.
func benchSFlowDatagramSet(b *testing.B) (cfg *config.Config, dgrams [][]byte) {
	b.Helper()
	mix := meetingmix.Mix(2, false)
	cfg, err := meetingmix.Config(mix)
	if err != nil {
		b.Fatal(err)
	}
	stream, err := meetingmix.NewStream(mix)
	if err != nil {
		b.Fatal(err)
	}
	agent := netip.MustParseAddr("192.0.2.10")
	var flowSeq uint32
	for i := range benchSFlowDatagrams {
		d := packetgen.Datagram{Agent: agent, Sequence: uint32(i + 1), Uptime: uint32(i * 10)}
		for range benchSFlowSamples {
			f := stream.Next()
			flowSeq++
			d.Samples = append(d.Samples, packetgen.FlowSample{
				Sequence: flowSeq, SourceIndex: 7, SamplingRate: benchSFlowRate, SamplePool: flowSeq * benchSFlowRate,
				Input: 7, Output: 49,
				Records: []packetgen.Record{
					packetgen.ExtendedSwitch{SrcVLAN: uint32(f.VLAN), DstVLAN: uint32(f.VLAN)},
					packetgen.SampledEthernet(f.Bytes, benchSFlowHeader),
				},
			})
		}
		if i%16 == 0 {
			d.Samples = append(d.Samples, packetgen.CounterSample{Sequence: uint32(i/16 + 1), SourceIndex: 7,
				Records: []packetgen.Record{packetgen.IfCounters{Index: 7, Type: 6, Speed: 10_000_000_000, Direction: 1, Status: 3}}})
		}
		dgrams = append(dgrams, d.Encode())
	}
	return cfg, dgrams
}

// BenchmarkSFlow: one op is one datagram of 7 flow samples; samples/s is what
// one core classifies.
//
//	go test -run '^$' -bench SFlow -benchmem ./collectors/traffic/
func BenchmarkSFlow(b *testing.B) {
	cfg, dgrams := benchSFlowDatagramSet(b)
	var size int64
	for _, d := range dgrams {
		size += int64(len(d))
	}
	report := func(b *testing.B, datagrams, samples int64, m uint64) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		sec := b.Elapsed().Seconds()
		b.ReportMetric(float64(datagrams)/sec, "datagrams/s")
		b.ReportMetric(float64(samples)/sec, "samples/s")
		b.ReportMetric(float64(ms.Mallocs-m)/float64(samples), "allocs/sample")
	}
	b.Run("ClassifySFlow", func(b *testing.B) {
		c, err := NewClassifier(cfg, "")
		if err != nil {
			b.Fatal(err)
		}
		counters := c.NewCounters()
		b.SetBytes(size / int64(len(dgrams)))
		b.ReportAllocs()
		var datagrams, samples int64
		m := mallocs()
		for b.Loop() {
			d, err := ClassifySFlow(c, dgrams[datagrams%benchSFlowDatagrams], counters)
			if err != nil {
				b.Fatal(err)
			}
			datagrams++
			samples += int64(d.FlowSamples)
		}
		report(b, datagrams, samples, m)
		benchCheckCounted(b, counters, samples*benchSFlowRate)
	})
	// As the sFlow listener handles a datagram: walk it, every Ethernet header
	// through the Worker (weight = sampling rate, VLAN from the switch record),
	// track the agent's sequence numbers, hand the counts over.
	b.Run("Worker", func(b *testing.B) {
		w := benchWorker(b, cfg)
		seq := NewSequenceTracker(sflowMaxSources)
		fn := func(h SampledHeader) {
			if h.Protocol != SFlowHeaderProtocolEthernet {
				return
			}
			var vlan uint16
			if h.ExtendedSwitch && h.SrcVLAN < 4095 {
				vlan = uint16(h.SrcVLAN)
			}
			w.Frame(h.Header, int(h.FrameLength), uint64(max(h.SamplingRate, 1)), vlan)
		}
		b.SetBytes(size / int64(len(dgrams)))
		b.ReportAllocs()
		var datagrams, samples int64
		m := mallocs()
		for b.Loop() {
			d, err := WalkSFlow(dgrams[datagrams%benchSFlowDatagrams], fn)
			if err != nil {
				b.Fatal(err)
			}
			seq.Observe(d)
			// The listener's clock is the wall clock, read once a datagram.
			w.Publish(time.Now())
			datagrams++
			samples += int64(d.FlowSamples)
		}
		report(b, datagrams, samples, m)
		w.Flush(time.Now())
		benchCheckCounted(b, w.counters, samples*benchSFlowRate)
	})
}

// BenchmarkCaptureFile is `meetnoc classify` without its output: the engine's
// pcap source replays a capture of the meeting mix (200,000 frames read from the
// page cache) through a Worker, whole frames (~200 MB) or cut to 128 bytes as
// `tcpdump -s 128` captures them (~30 MB). One op is one replay of the file; its
// profile shows how the time splits between reading and classifying.
//
//	go test -run '^$' -bench CaptureFile -cpuprofile cpu.out ./collectors/traffic/
func BenchmarkCaptureFile(b *testing.B) {
	cfg, _, cold := benchMix(b)
	for _, capture := range []struct {
		name    string
		snaplen int
	}{{"whole", 65535}, {"snap128", 128}} {
		b.Run(capture.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "meeting.pcap")
			size := benchWriteCapture(b, path, cold, capture.snaplen)
			c := *cfg
			c.Traffic.Sources = []config.TrafficSource{{Name: "capture", Type: SourceTypePcap, Path: path, Speed: SpeedFast}}
			b.SetBytes(size)
			b.ReportAllocs()
			var packets int64
			m := mallocs()
			for b.Loop() {
				coll, err := New(&c, nil, Options{ClientWindow: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				if err := coll.RunOnce(context.Background()); err != nil {
					b.Fatal(err)
				}
				packets += benchCaptureFrames
			}
			reportPerPacket(b, packets, m)
		})
	}
}

// benchWriteCapture writes the first benchCaptureFrames frames of fs as a pcap
// file, each cut to snaplen bytes, and returns the file's size.
func benchWriteCapture(b *testing.B, path string, fs *benchFrames, snaplen int) int64 {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	ts := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	for i := range benchCaptureFrames {
		fr := fs.frame(i)
		data := fr[:min(len(fr), snaplen)]
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * meetingmix.FrameGap), CaptureLength: len(data), Length: len(fr)}
		if err := pw.WritePacket(ci, data); err != nil {
			b.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}
