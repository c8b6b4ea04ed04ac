package traffic

// The pcap source: a pcap or pcapng file replayed through one worker, as fast as
// it can be read or at the speed it was recorded. It is how a capture is analysed
// after the meeting (`meetnoc classify`) and how a recorded mix is replayed into a
// running daemon. The file's timestamps are the worker's clock, so the unique-client
// window of a replay is the capture's own last window, whatever the wall clock says.

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Source types of a capture file. SourceTypePcapSFlow is a file of sFlow export
// traffic (what a collector's port saw): each datagram goes through the sflow
// source's own handling (sflowListener), so a replay counts exactly what the
// live listener would have.
const (
	SourceTypePcap      = "pcap"
	SourceTypePcapSFlow = "pcap_sflow"
)

func init() {
	newSourceFuncs[SourceTypePcap] = newPcapSource
	newSourceFuncs[SourceTypePcapSFlow] = newPcapSource
}

// sflowPort is the sFlow collector port (IANA); export traffic in a capture is
// recognised by it.
const sflowPort = 6343

// sflowMaxSources bounds the (agent, sub-agent) datagram sequences an sFlow
// reader tracks (SequenceTracker), live or replayed.
const sflowMaxSources = 4096

// Replay speeds of a pcap source (TrafficSource.Speed).
const (
	// SpeedFast reads the file as fast as the classifier goes.
	SpeedFast = "fast"
	// SpeedRecorded keeps the recorded gaps between packets.
	SpeedRecorded = "recorded"
)

// pcapBatch is how many records are read between two hand-overs of the counts
// (and context checks): small enough that a scrape of a long replay moves every
// few milliseconds, large enough that the hand-over costs nothing per packet.
const pcapBatch = 4096

// pcapReadBuffer is the read-ahead on the file; pcapgo's readers reuse a
// bufio.Reader given to them when it is at least their own default size.
const pcapReadBuffer = 1 << 20

// File magics (the first four bytes, as they appear in the file).
var (
	pcapngMagic = [4]byte{0x0a, 0x0d, 0x0d, 0x0a} // section header block type
	gzipMagic   = [2]byte{0x1f, 0x8b}
)

// isPcapMagic reports whether m starts a classic pcap file: micro- or nanosecond
// timestamps, either byte order.
func isPcapMagic(m [4]byte) bool {
	for _, v := range []uint32{0xa1b2c3d4, 0xa1b23c4d} {
		if binary.LittleEndian.Uint32(m[:]) == v || binary.BigEndian.Uint32(m[:]) == v {
			return true
		}
	}
	return false
}

// packetReader is what pcapgo's Reader and NgReader have in common: records
// read into a buffer the reader owns and reuses, so a replay does not allocate
// per packet.
type packetReader interface {
	ZeroCopyReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error)
}

type pcapSource struct {
	env      sourceEnv
	path     string
	recorded bool
	sflow    bool // the frames are sFlow exports: classify their samples
}

func newPcapSource(env sourceEnv) (source, error) {
	if env.cfg.Path == "" {
		return nil, errors.New("pcap source: no path")
	}
	s := &pcapSource{env: env, path: env.cfg.Path, sflow: env.cfg.Type == SourceTypePcapSFlow}
	switch env.cfg.Speed {
	case "", SpeedFast:
	case SpeedRecorded:
		s.recorded = true
	default:
		return nil, fmt.Errorf("pcap source: speed %q is neither %q nor %q", env.cfg.Speed, SpeedFast, SpeedRecorded)
	}
	return s, nil
}

// captureFile is an open capture file.
type captureFile struct {
	f      *os.File
	rd     packetReader
	ng     *pcapgo.NgReader // nil for a classic pcap file
	mapped *mappedPcap      // a classic pcap file read through a mapping
}

func (c *captureFile) Close() error {
	if c.mapped != nil {
		c.mapped.Close()
	}
	return c.f.Close()
}

// openCaptureFile opens a pcap or pcapng file, gzip-compressed or not, told apart by
// their magic numbers, and checks that it holds Ethernet frames. For pcapng, the
// interfaces described before the first packet are checked here; one described
// later is caught when its first packet is read (see linkTypeError).
func openCaptureFile(path string) (*captureFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c, err := newCaptureFile(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func newCaptureFile(f *os.File, path string) (*captureFile, error) {
	if m, ok, err := mapPcap(f, path); err != nil {
		return nil, err
	} else if ok {
		return &captureFile{f: f, rd: m, mapped: m}, nil
	}
	br := bufio.NewReaderSize(f, pcapReadBuffer)
	if m, err := br.Peek(2); err == nil && [2]byte(m) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", path, err)
		}
		br = bufio.NewReaderSize(zr, pcapReadBuffer)
	}
	m, err := br.Peek(4)
	if err != nil {
		if len(m) == 0 && errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file, not a pcap or pcapng capture", path)
		}
		return nil, fmt.Errorf("%s: too short for a pcap or pcapng capture: %w", path, err)
	}
	magic := [4]byte(m)
	c := &captureFile{f: f}
	switch {
	case magic == pcapngMagic:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{
			// A packet of an interface whose link type differs from the first
			// one's is an error, not silently skipped as libpcap does: a count
			// that leaves out part of the file would be wrong without a word.
			ErrorOnMismatchingLinkType: true,
		})
		if errors.Is(err, io.EOF) {
			// A section header and nothing else: a capture of no packets.
			c.rd = emptyCapture{}
			return c, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: pcapng: %w", path, err)
		}
		if err := checkLinkType(path, ng.LinkType()); err != nil {
			return nil, err
		}
		c.rd, c.ng = ng, ng
	case isPcapMagic(magic):
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: pcap: %w", path, err)
		}
		if err := checkLinkType(path, r.LinkType()); err != nil {
			return nil, err
		}
		c.rd = r
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng capture (file starts with %x)", path, m)
	}
	return c, nil
}

func checkLinkType(path string, lt layers.LinkType) error {
	if lt == layers.LinkTypeEthernet {
		return nil
	}
	return fmt.Errorf("%s: link type %v (%d) is not Ethernet: meetnoc classifies Ethernet frames only", path, lt, uint16(lt))
}

// linkTypeError names the interface behind pcapgo's ErrNgLinkTypeMismatch: the
// first interface of the current section that is not Ethernet.
func (c *captureFile) linkTypeError(path string) error {
	for i := range c.ng.NInterfaces() {
		if iface, err := c.ng.Interface(i); err == nil && iface.LinkType != layers.LinkTypeEthernet {
			return fmt.Errorf("%s: interface %d (%q): %w", path, i, iface.Name, checkLinkType(path, iface.LinkType))
		}
	}
	return fmt.Errorf("%s: %w", path, pcapgo.ErrNgLinkTypeMismatch)
}

// emptyCapture is a pcapng file without interfaces.
type emptyCapture struct{}

func (emptyCapture) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, io.EOF
}

// errTruncatedRecord marks a record cut off by the end of the file: what a
// capture looks like when tcpdump was killed while writing it.
var errTruncatedRecord = errors.New("last record cut off by the end of the file")

// next reads the next record. It returns io.EOF at a clean end of the file and
// errTruncatedRecord when the file ends inside a record.
func (c *captureFile) next(path string) ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := c.rd.ZeroCopyReadPacketData()
	switch {
	case err == nil:
		return data, ci, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, ci, errTruncatedRecord
	case errors.Is(err, io.EOF):
		// io.ReadFull reports io.EOF, not ErrUnexpectedEOF, when the file ends
		// right after a record header: the header was there, its bytes are not.
		if ci.CaptureLength > 0 {
			return nil, ci, errTruncatedRecord
		}
		return nil, ci, io.EOF
	case c.ng != nil && errors.Is(err, pcapgo.ErrNgLinkTypeMismatch):
		return nil, ci, c.linkTypeError(path)
	default:
		return nil, ci, fmt.Errorf("%s: %w", path, err)
	}
}

// run replays the file once. It returns nil when the file has been read to its
// end, or to a truncated last record (counted as a dropped packet and logged:
// the packets before it stand), and ctx.Err() when stopped early. A file that
// cannot be opened, is not a capture or not Ethernet is an error; so is a
// corrupt record, after the packets before it have been counted.
func (s *pcapSource) run(ctx context.Context) error {
	c, err := openCaptureFile(s.path)
	if err != nil {
		return err
	}
	defer c.Close()

	// A file of sFlow exports goes through the sflow source's datagram
	// handling, agents: filter included, with the capture's timestamps as the
	// time the datagrams arrived.
	var sf *sflowListener
	var w *Worker
	if s.sflow {
		sf = newSFlowListener(s.env, s.env.cfg.Agents)
		w = sf.w
	} else {
		w = s.env.newWorker()
	}
	var (
		clock            time.Time // the worker's clock: the last record's timestamp
		records, pending uint64    // records read; frames not yet in stats
		notSFlow         uint64
	)
	commit := func() {
		if pending > 0 {
			s.env.stats.packets.Add(pending)
			s.env.stats.lastPacketNs.Store(s.env.now().UnixNano())
			pending = 0
		}
	}
	// The counts always reach the scrapes, however the replay ends.
	defer func() {
		commit()
		w.Flush(clock)
	}()
	logAttrs := func() []any {
		attrs := []any{"path", s.path, "records", records}
		if s.sflow {
			attrs = append(attrs, "not_sflow", notSFlow)
		}
		return attrs
	}

	pacer := newPacer(s.env.now)
	defer pacer.stop()
	for batch := 0; ; batch++ {
		if batch == pcapBatch {
			batch = 0
			commit()
			w.Publish(clock)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		data, ci, err := c.next(s.path)
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.env.logger.Debug("capture file replayed", logAttrs()...)
				return nil
			}
			if errors.Is(err, errTruncatedRecord) {
				s.env.stats.dropped.Add(1)
				s.env.logger.Warn("capture file ends inside a record; the records before it are counted",
					append(logAttrs(), "truncated_record", records+1)...)
				return nil
			}
			return err
		}
		if s.recorded {
			if wait := pacer.due(ci.Timestamp); wait > 0 {
				// Nothing arrives during the wait: hand over what there is, so
				// that the scrapes see it while the replay sleeps.
				commit()
				if wait >= publishCountersEvery {
					w.Flush(clock)
				} else {
					w.Publish(clock)
				}
				if err := pacer.sleep(ctx, wait); err != nil {
					return err
				}
			}
		}
		clock = ci.Timestamp
		records++
		if sf != nil {
			// The listener keeps its own stats, per datagram.
			if payload, from, ok := sflowPayload(data); ok {
				sf.datagram(payload, from, clock)
			} else {
				notSFlow++
			}
			continue
		}
		w.Frame(data, ci.Length, 1, 0)
		pending++
	}
}

// sflowPayload returns the UDP payload and IP source address of an Ethernet
// frame (802.1Q and QinQ tags followed) carrying IPv4 or IPv6 UDP to or from
// port 6343. Fragments are
// not reassembled: an sFlow datagram fits one packet (agents keep them under the
// path MTU), so a fragment is no sFlow datagram here. An IPv6 packet is taken only
// when UDP follows the fixed header directly. A payload cut short by the snap
// length is returned as far as it goes; WalkSFlow finds it truncated.
func sflowPayload(b []byte) (payload []byte, from netip.Addr, ok bool) {
	if len(b) < ethHeaderLen {
		return nil, netip.Addr{}, false
	}
	etherType := binary.BigEndian.Uint16(b[12:14])
	off := ethHeaderLen
	for etherType == etherType8021Q || etherType == etherType8021AD || etherType == etherTypeQinQ {
		if len(b) < off+vlanTagLen {
			return nil, netip.Addr{}, false
		}
		etherType = binary.BigEndian.Uint16(b[off+2 : off+4])
		off += vlanTagLen
	}
	var l4, end int
	switch etherType {
	case etherTypeIPv4:
		if len(b) < off+ipv4MinHdrLen || b[off]>>4 != 4 {
			return nil, netip.Addr{}, false
		}
		ihl := int(b[off]&0x0f) * 4
		// More fragments, or a fragment offset: part of a fragmented datagram.
		if ihl < ipv4MinHdrLen || binary.BigEndian.Uint16(b[off+6:off+8])&0x3fff != 0 || b[off+9] != protoUDP {
			return nil, netip.Addr{}, false
		}
		l4, end = off+ihl, off+int(binary.BigEndian.Uint16(b[off+2:off+4]))
		from = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
	case etherTypeIPv6:
		if len(b) < off+ipv6HdrLen || b[off]>>4 != 6 || b[off+6] != protoUDP {
			return nil, netip.Addr{}, false
		}
		l4, end = off+ipv6HdrLen, off+ipv6HdrLen+int(binary.BigEndian.Uint16(b[off+4:off+6]))
		from = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
	default:
		return nil, netip.Addr{}, false
	}
	if len(b) < l4+8 {
		return nil, netip.Addr{}, false
	}
	if binary.BigEndian.Uint16(b[l4:l4+2]) != sflowPort && binary.BigEndian.Uint16(b[l4+2:l4+4]) != sflowPort {
		return nil, netip.Addr{}, false
	}
	// The UDP length bounds the payload (Ethernet padding follows short frames),
	// and so do the IP length and the bytes captured.
	if udpEnd := l4 + int(binary.BigEndian.Uint16(b[l4+4:l4+6])); udpEnd < end {
		end = udpEnd
	}
	end = min(end, len(b))
	if end < l4+8 {
		return nil, netip.Addr{}, false
	}
	return b[l4+8 : end], from, true
}

// pacer keeps a replay at recorded speed: each record is due at the wall time of
// the first one plus its timestamp's offset from the first timestamp. Offsets
// are taken from the first record, not the previous one, so that the time spent
// classifying does not add up into drift.
type pacer struct {
	now     func() time.Time
	start   time.Time // wall time of the first record
	first   time.Time // its timestamp
	started bool
	timer   *time.Timer
}

func newPacer(now func() time.Time) *pacer { return &pacer{now: now} }

// due returns how long to wait before the record stamped ts is replayed; zero or
// less when it is due already. Records stamped before the first one (merged
// files) are due at once.
func (p *pacer) due(ts time.Time) time.Duration {
	if !p.started {
		p.start, p.first, p.started = p.now(), ts, true
		return 0
	}
	return p.start.Add(ts.Sub(p.first)).Sub(p.now())
}

// sleep waits for d or until ctx ends.
func (p *pacer) sleep(ctx context.Context, d time.Duration) error {
	// Since Go 1.23 a Reset timer never delivers a stale tick, so one timer
	// serves every wait.
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
