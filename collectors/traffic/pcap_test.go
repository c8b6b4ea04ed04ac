package traffic

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// pcapRun is a pcap source run outside the engine: its workers, stats and log.
type pcapRun struct {
	c     *Classifier
	stats *sourceStats
	logs  *bytes.Buffer

	mu      sync.Mutex
	workers []*Worker
}

func newPcapRun(t testing.TB) *pcapRun {
	t.Helper()
	return &pcapRun{c: newTestClassifier(t, ""), stats: &sourceStats{}, logs: &bytes.Buffer{}}
}

// source builds the pcap source of src (type pcap unless set).
func (p *pcapRun) source(t testing.TB, src config.TrafficSource) (source, error) {
	t.Helper()
	if src.Type == "" {
		src.Type = SourceTypePcap
	}
	src.Name = "replay"
	return newPcapSource(sourceEnv{
		cfg:    src,
		logger: slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		now:    time.Now,
		stats:  p.stats,
		newWorker: func() *Worker {
			w := newTestWorker(t, p.c)
			p.mu.Lock()
			p.workers = append(p.workers, w)
			p.mu.Unlock()
			return w
		},
	})
}

// run replays path to its end.
func (p *pcapRun) run(t testing.TB, ctx context.Context, src config.TrafficSource) error {
	t.Helper()
	s, err := p.source(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return s.run(ctx)
}

// published sums what the workers handed over to scrapes.
func (p *pcapRun) published() *Counters {
	total := p.c.NewCounters()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		w.addTo(total)
	}
	return total
}

func (p *pcapRun) clientsAt(t testing.TB) time.Time {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.workers) != 1 {
		t.Fatalf("%d workers, want 1", len(p.workers))
	}
	w := p.workers[0]
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap.clientsAt
}

var (
	pcapClientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x10, 0x01}
	pcapRouterMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x10, 0xfe}
	pcapEpoch     = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
)

// replayMix is one frame of each kind the source must pass through untouched,
// with the cell each lands in under testConfig.
type mixFrame struct {
	rec  testenv.CaptureRecord
	ssid int
	fam  Family
	dir  Direction
}

func replayMix(t testing.TB) []mixFrame {
	t.Helper()
	v100 := packetgen.Tagged(pcapClientMAC, pcapRouterMAC, 100)
	v200 := packetgen.Tagged(pcapRouterMAC, pcapClientMAC, 200)
	client6 := netip.MustParseAddr("2001:db8:100::5")
	client4 := netip.MustParseAddr("100.64.1.5")
	pkt := func(l packetgen.Link, src, dst netip.Addr, payload int) []byte {
		return packetgen.Packet{Link: l, Src: src, Dst: dst, Protocol: packetgen.TCP, SrcPort: 50000, DstPort: 443, Payload: payload}.Frame()
	}
	jumbo := pkt(v100, client4, netip.MustParseAddr("192.0.2.80"), 9000-18-20-20)
	if len(jumbo) != 9000 {
		t.Fatalf("jumbo frame is %d bytes", len(jumbo))
	}
	cut := pkt(v100, client4, netip.MustParseAddr("192.0.2.81"), 1400)
	frames := []mixFrame{
		{rec: testenv.CaptureRecord{Data: pkt(v100, client6, netip.MustParseAddr("2001:db8:ffff::1"), 1000)}, ssid: 1, fam: FamilyIPv6, dir: DirectionUp},
		{rec: testenv.CaptureRecord{Data: pkt(v200, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("100.65.0.9"), 200)}, ssid: 2, fam: FamilyIPv4, dir: DirectionDown},
		{rec: testenv.CaptureRecord{Data: pkt(v100, client6, netip.MustParseAddr("64:ff9b::c000:201"), 300)}, ssid: 1, fam: FamilyNAT64, dir: DirectionUp},
		{rec: testenv.CaptureRecord{Data: packetgen.ARPRequest(packetgen.Untagged(pcapClientMAC, packetgen.BroadcastMAC), client4, netip.MustParseAddr("100.64.0.1"))}, ssid: 0, fam: FamilyOther, dir: DirectionOther},
		{rec: testenv.CaptureRecord{Data: jumbo}, ssid: 1, fam: FamilyIPv4, dir: DirectionUp},
		// Cut to 96 bytes as tcpdump -s 96 would: counted by its original length.
		{rec: testenv.CaptureRecord{Data: cut[:96], WireLen: len(cut)}, ssid: 1, fam: FamilyIPv4, dir: DirectionUp},
	}
	for i := range frames {
		frames[i].rec.Time = pcapEpoch.Add(time.Duration(i) * 1500 * time.Microsecond)
	}
	return frames
}

func records(mix []mixFrame) []testenv.CaptureRecord {
	out := make([]testenv.CaptureRecord, len(mix))
	for i, m := range mix {
		out[i] = m.rec
	}
	return out
}

// wantCounts adds mix up into counters the way the classifier should.
func wantCounts(c *Classifier, mix []mixFrame, times uint64) *Counters {
	want := c.NewCounters()
	for _, m := range mix {
		wire := m.rec.WireLen
		if wire == 0 {
			wire = len(m.rec.Data)
		}
		cell := &want.cells[m.ssid][m.fam][m.dir]
		cell.Packets += times
		cell.Bytes += uint64(wire) * times
	}
	return want
}

func compareCounters(t testing.TB, got, want *Counters) {
	t.Helper()
	for s := range want.cells {
		for f := range want.cells[s] {
			for d := range want.cells[s][f] {
				if g, w := got.cells[s][f][d], want.cells[s][f][d]; g != w {
					t.Errorf("ssid %d %v %v: %+v, want %+v", s, Family(f), Direction(d), g, w)
				}
			}
		}
	}
}

func gzipFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPcapSourceFormats: pcap, pcapng and gzip-compressed pcap replay into the
// same counts, by original length, and the worker's clock ends at the last
// record's timestamp (the unique-client window follows the capture).
func TestPcapSourceFormats(t *testing.T) {
	dir := t.TempDir()
	mix := replayMix(t)
	testenv.WriteCapture(t, filepath.Join(dir, "mix.pcap"), testenv.FormatPcap, 0, records(mix))
	testenv.WriteCapture(t, filepath.Join(dir, "mix.pcapng"), testenv.FormatPcapng, 0, records(mix))
	gzipFile(t, filepath.Join(dir, "mix.pcap"), filepath.Join(dir, "mix.pcap.gz"))
	bigEndianNanos(t, filepath.Join(dir, "mix.pcap"), filepath.Join(dir, "mix-be-ns.pcap"))
	// mix.pcap and mix-be-ns.pcap are read through the mapping (pcap_mmap.go),
	// the others through pcapgo.
	for _, name := range []string{"mix.pcap", "mix-be-ns.pcap", "mix.pcapng", "mix.pcap.gz"} {
		t.Run(name, func(t *testing.T) {
			p := newPcapRun(t)
			if err := p.run(t, context.Background(), config.TrafficSource{Path: filepath.Join(dir, name)}); err != nil {
				t.Fatal(err)
			}
			compareCounters(t, p.published(), wantCounts(p.c, mix, 1))
			if got := p.stats.packets.Load(); got != uint64(len(mix)) {
				t.Errorf("stats.packets = %d, want %d", got, len(mix))
			}
			if got := p.stats.dropped.Load(); got != 0 {
				t.Errorf("stats.dropped = %d, want 0", got)
			}
			if p.stats.lastPacketNs.Load() == 0 {
				t.Error("stats.lastPacketNs not set")
			}
			if got, want := p.clientsAt(t), mix[len(mix)-1].rec.Time; !got.Equal(want) {
				t.Errorf("worker clock at the end = %v, want the last record's timestamp %v", got, want)
			}
		})
	}
}

// bigEndianNanos rewrites a little-endian microsecond pcap file as a big-endian
// nanosecond one (as written on a big-endian host by tcpdump --nano).
func bigEndianNanos(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	le, be := binary.LittleEndian, binary.BigEndian
	if le.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("%s is not a little-endian microsecond pcap file", src)
	}
	be.PutUint32(b[0:], 0xa1b23c4d)
	be.PutUint16(b[4:], le.Uint16(b[4:]))
	be.PutUint16(b[6:], le.Uint16(b[6:]))
	for i := 8; i < 24; i += 4 {
		be.PutUint32(b[i:], le.Uint32(b[i:]))
	}
	for off := 24; off < len(b); {
		h := b[off : off+16]
		sec, usec, caplen, length := le.Uint32(h), le.Uint32(h[4:]), le.Uint32(h[8:]), le.Uint32(h[12:])
		be.PutUint32(h, sec)
		be.PutUint32(h[4:], usec*1000)
		be.PutUint32(h[8:], caplen)
		be.PutUint32(h[12:], length)
		off += 16 + int(caplen)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPcapSourceManyBatches: a replay longer than one batch hands every record
// over, and its allocations do not grow with the number of records.
func TestPcapSourceManyBatches(t *testing.T) {
	dir := t.TempDir()
	mix := replayMix(t)
	write := func(name string, n int) string {
		var recs []testenv.CaptureRecord
		for i := range n {
			r := mix[i%len(mix)].rec
			r.Time = pcapEpoch.Add(time.Duration(i) * time.Millisecond)
			recs = append(recs, r)
		}
		path := filepath.Join(dir, name)
		testenv.WriteCapture(t, path, testenv.FormatPcapng, 0, recs)
		return path
	}
	n := 3*pcapBatch + 7*len(mix) // not a multiple of the batch
	big := write("big.pcapng", n)
	p := newPcapRun(t)
	if err := p.run(t, context.Background(), config.TrafficSource{Path: big}); err != nil {
		t.Fatal(err)
	}
	compareCounters(t, p.published(), wantCounts(p.c, mix, uint64(n/len(mix))))
	if got := p.stats.packets.Load(); got != uint64(n) {
		t.Errorf("stats.packets = %d, want %d", got, n)
	}

	small := write("small.pcapng", len(mix))
	allocs := func(path string) float64 {
		return testing.AllocsPerRun(3, func() {
			if err := newPcapRun(t).run(t, context.Background(), config.TrafficSource{Path: path}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(small), allocs(big); b-a > 20 {
		t.Errorf("%v allocations replaying %d records, %v replaying %d: the per-record path allocates", b, n, a, len(mix))
	}
}

// TestPcapSourceSpeed: at recorded speed, three records 200 ms apart take at
// least 400 ms, and the counts are handed over while the replay sleeps; fast
// does not wait.
func TestPcapSourceSpeed(t *testing.T) {
	mix := replayMix(t)[:3]
	for i := range mix {
		mix[i].rec.Time = pcapEpoch.Add(time.Duration(i) * 200 * time.Millisecond)
	}
	path := filepath.Join(t.TempDir(), "slow.pcap")
	testenv.WriteCapture(t, path, testenv.FormatPcap, 0, records(mix))

	p := newPcapRun(t)
	start := time.Now()
	if err := p.run(t, context.Background(), config.TrafficSource{Path: path, Speed: SpeedFast}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= 200*time.Millisecond {
		t.Errorf("fast replay took %v", d)
	}

	p = newPcapRun(t)
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- p.run(t, context.Background(), config.TrafficSource{Path: path, Speed: SpeedRecorded}) }()
	// Between the second record (200 ms) and the third (400 ms), a scrape sees
	// the first two.
	time.Sleep(300 * time.Millisecond)
	mid := p.published()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("recorded replay of 400 ms took %v", d)
	}
	compareCounters(t, mid, wantCounts(p.c, mix[:2], 1))
	compareCounters(t, p.published(), wantCounts(p.c, mix, 1))
}

// TestPcapSourceRecordedCancel: a replay waiting for a far-off record stops when
// its context ends, and what it read stands.
func TestPcapSourceRecordedCancel(t *testing.T) {
	mix := replayMix(t)[:2]
	mix[1].rec.Time = mix[0].rec.Time.Add(time.Hour)
	path := filepath.Join(t.TempDir(), "gap.pcapng")
	testenv.WriteCapture(t, path, testenv.FormatPcapng, 0, records(mix))
	p := newPcapRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.run(t, ctx, config.TrafficSource{Path: path, Speed: SpeedRecorded})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("run = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	compareCounters(t, p.published(), wantCounts(p.c, mix[:1], 1))
}

// TestPcapSourceLinkType: a capture of anything but Ethernet is refused with
// the file and link type named — for pcapng, every interface's.
func TestPcapSourceLinkType(t *testing.T) {
	dir := t.TempDir()
	frame := replayMix(t)[0].rec.Data
	ci := gopacket.CaptureInfo{Timestamp: pcapEpoch, CaptureLength: len(frame), Length: len(frame)}

	raw := filepath.Join(dir, "raw.pcap")
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeRaw)
	w.WritePacket(ci, frame[18:])
	os.WriteFile(raw, buf.Bytes(), 0o600)

	sll := filepath.Join(dir, "sll.pcapng")
	buf.Reset()
	ngw, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeLinuxSLL)
	if err != nil {
		t.Fatal(err)
	}
	ngw.WritePacket(ci, frame)
	ngw.Flush()
	os.WriteFile(sll, buf.Bytes(), 0o600)

	// An Ethernet interface, one of its packets, then a raw-IP interface and one
	// of its packets.
	mixed := filepath.Join(dir, "mixed.pcapng")
	buf.Reset()
	ngw, err = pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ngw.WritePacket(ci, frame)
	id, err := ngw.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw})
	if err != nil {
		t.Fatal(err)
	}
	rawCI := ci
	rawCI.InterfaceIndex = id
	rawCI.CaptureLength, rawCI.Length = len(frame)-18, len(frame)-18
	ngw.WritePacket(rawCI, frame[18:])
	ngw.Flush()
	os.WriteFile(mixed, buf.Bytes(), 0o600)

	for _, tc := range []struct {
		path    string
		want    []string
		counted uint64
	}{
		{raw, []string{raw, "link type Raw (101)", "not Ethernet"}, 0},
		{sll, []string{sll, "link type Linux SLL (113)", "not Ethernet"}, 0},
		{mixed, []string{mixed, `interface 1 ("tun0")`, "link type Raw (101)"}, 1},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			p := newPcapRun(t)
			err := p.run(t, context.Background(), config.TrafficSource{Path: tc.path})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got := p.stats.packets.Load(); got != tc.counted {
				t.Errorf("%d packets counted before the error, want %d", got, tc.counted)
			}
		})
	}
}

// TestPcapSourceTruncated: a file that ends inside its last record (a capture
// killed while writing) counts the records before it, counts the cut one as
// dropped, says so, and is no error.
func TestPcapSourceTruncated(t *testing.T) {
	dir := t.TempDir()
	mix := replayMix(t)[:3]
	for _, format := range []string{testenv.FormatPcap, testenv.FormatPcapng} {
		whole, two := filepath.Join(dir, "whole."+format), filepath.Join(dir, "two."+format)
		testenv.WriteCapture(t, whole, format, 0, records(mix))
		testenv.WriteCapture(t, two, format, 0, records(mix[:2]))
		data, err := os.ReadFile(whole)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(two)
		if err != nil {
			t.Fatal(err)
		}
		third := int(fi.Size()) // where the third record starts
		for _, cut := range []struct {
			name string
			keep int
		}{
			{"in the data", third + 30 + len(mix[2].rec.Data)/2},
			{"in the record header", third + 8},
			{"right after the record header", third + recordHeaderLen(format)},
		} {
			t.Run(format+" "+cut.name, func(t *testing.T) {
				path := filepath.Join(dir, "cut."+format)
				if err := os.WriteFile(path, data[:cut.keep], 0o600); err != nil {
					t.Fatal(err)
				}
				p := newPcapRun(t)
				if err := p.run(t, context.Background(), config.TrafficSource{Path: path}); err != nil {
					t.Fatalf("run = %v, want nil", err)
				}
				compareCounters(t, p.published(), wantCounts(p.c, mix[:2], 1))
				if got := p.stats.packets.Load(); got != 2 {
					t.Errorf("stats.packets = %d, want 2", got)
				}
				if got := p.stats.dropped.Load(); got != 1 {
					t.Errorf("stats.dropped = %d, want 1", got)
				}
				if !strings.Contains(p.logs.String(), "ends inside a record") || !strings.Contains(p.logs.String(), "truncated_record=3") {
					t.Errorf("no warning about the cut record in the log:\n%s", p.logs)
				}
			})
		}
	}
}

// recordHeaderLen is the bytes before a record's data: pcap's record header,
// pcapng's enhanced packet block fields.
func recordHeaderLen(format string) int {
	if format == testenv.FormatPcapng {
		return 28
	}
	return 16
}

// TestPcapSourceCorruptRecord: a record whose header makes no sense ends the
// replay with an error naming the file; the records before it stand.
func TestPcapSourceCorruptRecord(t *testing.T) {
	mix := replayMix(t)[:2]
	path := filepath.Join(t.TempDir(), "corrupt.pcap")
	testenv.WriteCapture(t, path, testenv.FormatPcap, 0, records(mix))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The second record's captured length (offset 8 of its header) above its
	// original length.
	second := 24 + 16 + len(mix[0].rec.Data)
	binary.LittleEndian.PutUint32(data[second+8:], uint32(len(mix[1].rec.Data)+1))
	os.WriteFile(path, data, 0o600)
	p := newPcapRun(t)
	err = p.run(t, context.Background(), config.TrafficSource{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "capture length exceeds original packet length") {
		t.Errorf("run = %v, want an error naming the file and the bad length", err)
	}
	compareCounters(t, p.published(), wantCounts(p.c, mix[:1], 1))
}

// TestPcapSourceBadFiles: a missing file, an empty one and one that is no
// capture are errors naming the file; a capture of no packets is not.
func TestPcapSourceBadFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o600)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a capture\n"), 0o600)
	short := filepath.Join(dir, "short.pcap")
	os.WriteFile(short, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0}, 0o600)
	missing := filepath.Join(dir, "missing.pcap")

	for _, tc := range []struct{ path, want string }{
		{missing, "no such file"},
		{empty, "empty file"},
		{text, "not a pcap or pcapng capture"},
		{short, "pcap: unexpected EOF"},
	} {
		p := newPcapRun(t)
		err := p.run(t, context.Background(), config.TrafficSource{Path: tc.path})
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming the file and saying %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if err := newPcapRun(t).run(t, context.Background(), config.TrafficSource{Path: missing}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v is not fs.ErrNotExist", err)
	}

	for _, format := range []string{testenv.FormatPcap, testenv.FormatPcapng} {
		path := filepath.Join(dir, "none."+format)
		testenv.WriteCapture(t, path, format, 0, nil)
		p := newPcapRun(t)
		if err := p.run(t, context.Background(), config.TrafficSource{Path: path}); err != nil {
			t.Errorf("%s without packets: %v", format, err)
		}
		if got := p.stats.packets.Load(); got != 0 {
			t.Errorf("%s without packets: %d packets", format, got)
		}
	}
}

func TestNewPcapSourceConfig(t *testing.T) {
	p := newPcapRun(t)
	if _, err := p.source(t, config.TrafficSource{Path: "x.pcap", Speed: "slow"}); err == nil || !strings.Contains(err.Error(), `"slow"`) {
		t.Errorf("speed slow: %v", err)
	}
	if _, err := p.source(t, config.TrafficSource{}); err == nil {
		t.Error("no path: no error")
	}
	if _, err := p.source(t, config.TrafficSource{Path: filepath.Join(t.TempDir(), "later.pcap")}); err != nil {
		t.Errorf("a file that does not exist yet must not fail the constructor (it starts nothing): %v", err)
	}
}

// sflowExportFrame wraps an sFlow datagram in the IPv4 UDP frame an agent sends
// to port 6343. The UDP checksum is zeroed (none, valid for IPv4): packetgen
// computed it over the zero payload the datagram is copied over.
func sflowExportFrame(l packetgen.Link, agent netip.Addr, dgram []byte) []byte {
	p := packetgen.Packet{Link: l, Src: agent, Dst: netip.MustParseAddr("192.0.2.53"), Protocol: packetgen.UDP,
		SrcPort: 50123, DstPort: 6343, Payload: len(dgram)}
	b := p.Frame()
	l4 := p.HeaderLen() + p.IPHeaderLen()
	binary.BigEndian.PutUint16(b[l4+6:], 0)
	copy(b[l4+8:], dgram)
	return b
}

// TestPcapSFlowReplay: a capture of sFlow exports has its samples classified,
// weighted by their sampling rates, with the VLAN of the extended switch record;
// other traffic in the capture is skipped, a malformed datagram counted, a gap
// in the sequence counted as lost datagrams, and a datagram from outside
// agents: dropped — what the sflow source would have done with them.
func TestPcapSFlowReplay(t *testing.T) {
	agent := netip.MustParseAddr("192.0.2.10")
	up6 := packetgen.Packet{Link: packetgen.Untagged(pcapClientMAC, pcapRouterMAC),
		Src: netip.MustParseAddr("2001:db8:100::7"), Dst: netip.MustParseAddr("2001:db8:ffff::1"),
		Protocol: packetgen.TCP, SrcPort: 50000, DstPort: 443, Payload: 1400}.Frame()
	down4 := packetgen.Packet{Link: packetgen.Tagged(pcapRouterMAC, pcapClientMAC, 201),
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("100.65.3.3"),
		Protocol: packetgen.UDP, SrcPort: 443, DstPort: 50000, Payload: 100}.Frame()
	d1 := packetgen.Datagram{Agent: agent, Sequence: 7, Uptime: 1000, Samples: []packetgen.Sample{
		packetgen.FlowSample{Sequence: 1, SamplingRate: 256, SamplePool: 256, Records: []packetgen.Record{
			packetgen.ExtendedSwitch{SrcVLAN: 100, DstVLAN: 100}, packetgen.SampledEthernet(up6, 128)}},
		packetgen.CounterSample{},
		packetgen.FlowSample{Expanded: true, Sequence: 2, SamplingRate: 1000, SamplePool: 1256, Records: []packetgen.Record{
			packetgen.SampledEthernet(down4, 128)}},
	}}.Encode()
	// Sequence 10: datagrams 8 and 9 were lost.
	d2 := packetgen.Datagram{Agent: agent, Sequence: 10, Uptime: 4000, Samples: []packetgen.Sample{
		packetgen.FlowSample{Sequence: 5, SamplingRate: 256, SamplePool: 2000, Records: []packetgen.Record{
			packetgen.ExtendedSwitch{SrcVLAN: 100, DstVLAN: 100}, packetgen.SampledEthernet(up6, 128)}},
	}}.Encode()
	link := packetgen.Tagged(pcapRouterMAC, pcapClientMAC, 999)
	recs := []testenv.CaptureRecord{
		{Data: sflowExportFrame(link, agent, d1)},
		{Data: replayMix(t)[0].rec.Data},                       // not sFlow: skipped
		{Data: sflowExportFrame(link, agent, d1[:len(d1)-20])}, // cut short: malformed
		{Data: sflowExportFrame(packetgen.Untagged(pcapRouterMAC, pcapClientMAC), agent, d2)},
		{Data: sflowExportFrame(link, netip.MustParseAddr("203.0.113.9"), d2)}, // foreign
	}
	for i := range recs {
		recs[i].Time = pcapEpoch.Add(time.Duration(i) * time.Second)
	}
	path := filepath.Join(t.TempDir(), "exports.pcap")
	testenv.WriteCapture(t, path, testenv.FormatPcap, 0, recs)

	p := newPcapRun(t)
	agents := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}
	if err := p.run(t, context.Background(), config.TrafficSource{Path: path, Type: SourceTypePcapSFlow, Agents: agents}); err != nil {
		t.Fatal(err)
	}
	want := p.c.NewCounters()
	// d1's first sample; the malformed copy of d1 passes it again before its
	// cut-off second sample (the samples before a fault stand); d2's sample.
	want.cells[1][FamilyIPv6][DirectionUp] = Cell{Packets: 3 * 256, Bytes: 3 * 256 * uint64(len(up6)+4)}
	want.cells[2][FamilyIPv4][DirectionDown] = Cell{Packets: 1000, Bytes: 1000 * uint64(len(down4)+4)}
	compareCounters(t, p.published(), want)
	for name, c := range map[string]struct{ got, want uint64 }{
		"packets (sampled headers)": {p.stats.packets.Load(), 4},
		"datagrams":                 {p.stats.datagrams.Load(), 2},
		"malformed":                 {p.stats.malformed.Load(), 1},
		"lost datagrams":            {p.stats.lostDatagrams.Load(), 2},
		"foreign":                   {p.stats.foreign.Load(), 1},
	} {
		if c.got != c.want {
			t.Errorf("stats %s = %d, want %d", name, c.got, c.want)
		}
	}
	if got := p.stats.agents.Load(); got != 1 {
		t.Errorf("stats.agents = %d, want 1", got)
	}
}

func TestSFlowPayload(t *testing.T) {
	dgram := []byte{0, 0, 0, 5, 1, 2, 3, 4}
	agent4 := netip.MustParseAddr("192.0.2.10")
	link := packetgen.QinQ(pcapRouterMAC, pcapClientMAC, 10, 20)
	if got, from, ok := sflowPayload(sflowExportFrame(link, agent4, dgram)); !ok || !bytes.Equal(got, dgram) || from != agent4 {
		t.Errorf("QinQ IPv4: %x %v, want %x", got, ok, dgram)
	}
	// Ethernet padding after a short datagram is not part of it.
	short := sflowExportFrame(packetgen.Untagged(pcapRouterMAC, pcapClientMAC), agent4, dgram[:4])
	if got, _, ok := sflowPayload(short); !ok || !bytes.Equal(got, dgram[:4]) {
		t.Errorf("padded frame: %x %v, want %x", got, ok, dgram[:4])
	}
	v6 := packetgen.Packet{Link: packetgen.Untagged(pcapRouterMAC, pcapClientMAC), Src: netip.MustParseAddr("2001:db8::10"),
		Dst: netip.MustParseAddr("2001:db8::53"), Protocol: packetgen.UDP, SrcPort: 6343, DstPort: 6343, Payload: 8}.Frame()
	if got, from, ok := sflowPayload(v6); !ok || len(got) != 8 || from != netip.MustParseAddr("2001:db8::10") {
		t.Errorf("IPv6: %x %v, want 8 bytes", got, ok)
	}
	frag := packetgen.Packet{Link: packetgen.Untagged(pcapRouterMAC, pcapClientMAC), Src: agent4,
		Dst: netip.MustParseAddr("192.0.2.53"), Protocol: packetgen.UDP, SrcPort: 50000, DstPort: 6343, Payload: 1400}.Fragments(600, 1)
	for i, f := range frag {
		if _, _, ok := sflowPayload(f); ok {
			t.Errorf("fragment %d taken as a datagram", i)
		}
	}
	other := packetgen.Packet{Link: packetgen.Untagged(pcapRouterMAC, pcapClientMAC), Src: agent4,
		Dst: netip.MustParseAddr("192.0.2.53"), Protocol: packetgen.UDP, SrcPort: 50000, DstPort: 53, Payload: 20}.Frame()
	if _, _, ok := sflowPayload(other); ok {
		t.Error("DNS taken as sFlow")
	}
	for n := range len(short) {
		sflowPayload(short[:n]) // must not panic
	}
}
