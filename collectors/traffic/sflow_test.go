package traffic

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// Test datagrams come from internal/packetgen's encoder, the project's one sFlow
// encoder; these wrappers keep the tests' shorthand. Lengths are computed from
// what they wrap, so a test that wants a lying length patches the bytes.

func rawHeaderRecord(proto, frameLen, stripped uint32, hdr []byte) packetgen.Record {
	return packetgen.RawPacketHeader{Protocol: proto, FrameLength: frameLen, Stripped: stripped, Header: hdr}
}

// extendedSwitchRecord is a 0:1001 record: incoming VLAN src, outgoing dst.
func extendedSwitchRecord(src, dst uint32) packetgen.Record {
	return packetgen.ExtendedSwitch{SrcVLAN: src, DstVLAN: dst}
}

// flowSample is a compact flow sample of ifIndex 7, from 7 to 9, 3 drops.
func flowSample(seq, rate uint32, records ...packetgen.Record) packetgen.Sample {
	return packetgen.FlowSample{Sequence: seq, SourceIndex: 7, SamplingRate: rate, SamplePool: seq * rate, Drops: 3,
		Input: 7, Output: 9, Records: records}
}

// expandedFlowSample is an expanded flow sample of ifIndex 70000, whose output
// (format 1) is too large for the compact encoding.
func expandedFlowSample(seq, rate uint32, records ...packetgen.Record) packetgen.Sample {
	return packetgen.FlowSample{Expanded: true, Sequence: seq, SourceIndex: 70000, SamplingRate: rate, SamplePool: seq * rate,
		Input: 70000, OutputFormat: 1, Output: 0x3fffffff + 5, Records: records}
}

// counterSample is a counter sample holding one generic interface counters record
// (0:1, 88 bytes), as switches send them.
func counterSample(format uint32) packetgen.Sample {
	return packetgen.CounterSample{Expanded: format == sflowCounterSampleExpanded, Sequence: 1, SourceIndex: 7,
		Records: []packetgen.Record{packetgen.IfCounters{}}}
}

func sflowDatagram(agent netip.Addr, subAgent, seq, uptime uint32, samples ...packetgen.Sample) []byte {
	return packetgen.Datagram{Agent: agent, SubAgent: subAgent, Sequence: seq, Uptime: uptime, Samples: samples}.Encode()
}

var (
	agent4 = netip.MustParseAddr("192.0.2.10")
	agent6 = netip.MustParseAddr("2001:db8::a")
)

// mixedDatagram holds a flow sample at 1:256 with an extended switch record before
// its header, an unknown sample with an odd length, a counter sample, an expanded
// flow sample at 1:4096, an expanded counter sample, and a compact flow sample at
// 1:1 whose first record is an unknown one with an odd length.
func mixedDatagram(t testing.TB) (dgram []byte, frames [][]byte) {
	t.Helper()
	up6 := frame{tags: []uint16{100}, src: "2001:db8:100::1", dst: "2001:db8:ffff::1"}.build(t)
	down4 := frame{tags: []uint16{201}, src: "192.0.2.1", dst: "100.65.0.9"}.build(t)
	nat64 := frame{tags: []uint16{100}, src: "64:ff9b::c000:201", dst: "2001:db8:100::1"}.build(t)
	odd := nat64[:61] // an odd header length, padded in the record
	dgram = sflowDatagram(agent4, 3, 1000, 60000,
		flowSample(1, 256, extendedSwitchRecord(100, 300), rawHeaderRecord(1, 1522, 4, up6)),
		packetgen.UnknownSample{Format: 4413<<12 | 5, Data: []byte{1, 2, 3, 4, 5, 6, 7}},
		counterSample(sflowCounterSample),
		expandedFlowSample(2, 4096, rawHeaderRecord(1, 68, 4, down4)),
		counterSample(sflowCounterSampleExpanded),
		flowSample(3, 1, packetgen.UnknownRecord{Format: 2000, Data: []byte{9, 9, 9, 9, 9}}, rawHeaderRecord(1, 9022, 4, odd)),
	)
	return dgram, [][]byte{up6, down4, odd}
}

// sampledFields is SampledHeader without the header bytes, so that it compares.
type sampledFields struct {
	SequenceNumber, SourceIDType, SourceIDIndex                                     uint32
	Protocol, FrameLength, Stripped, SamplingRate, SamplePool, Drops, Input, Output uint32
	Expanded, ExtendedSwitch                                                        bool
	SrcVLAN, DstVLAN                                                                uint32
}

func fieldsOf(h SampledHeader) sampledFields {
	return sampledFields{h.SequenceNumber, h.SourceIDType, h.SourceIDIndex, h.Protocol, h.FrameLength, h.Stripped, h.SamplingRate, h.SamplePool, h.Drops, h.Input, h.Output,
		h.Expanded, h.ExtendedSwitch, h.SrcVLAN, h.DstVLAN}
}

func TestWalkSFlowMixed(t *testing.T) {
	dgram, frames := mixedDatagram(t)
	var got []SampledHeader
	d, err := WalkSFlow(dgram, func(h SampledHeader) { got = append(got, h) })
	if err != nil {
		t.Fatal(err)
	}
	want := Datagram{
		Agent: agent4, SubAgent: 3, Sequence: 1000, Uptime: 60000, Samples: 6,
		FlowSamples: 3, CounterSamples: 2, SkippedSamples: 1,
		Headers: 3, EthernetHeaders: 3, SkippedRecords: 1,
	}
	if d != want {
		t.Errorf("datagram = %+v\nwant       %+v", d, want)
	}
	wantHeaders := []sampledFields{
		{SequenceNumber: 1, SourceIDIndex: 7, Protocol: 1, FrameLength: 1522, Stripped: 4, SamplingRate: 256, SamplePool: 256, Drops: 3, Input: 7, Output: 9, ExtendedSwitch: true, SrcVLAN: 100, DstVLAN: 300},
		{SequenceNumber: 2, SourceIDIndex: 70000, Protocol: 1, FrameLength: 68, Stripped: 4, SamplingRate: 4096, SamplePool: 8192, Input: 70000, Output: 1<<30 | 0x3fffffff, Expanded: true},
		{SequenceNumber: 3, SourceIDIndex: 7, Protocol: 1, FrameLength: 9022, Stripped: 4, SamplingRate: 1, SamplePool: 3, Drops: 3, Input: 7, Output: 9},
	}
	if len(got) != len(wantHeaders) {
		t.Fatalf("%d headers, want %d", len(got), len(wantHeaders))
	}
	for i, h := range got {
		if !bytes.Equal(h.Header, frames[i]) {
			t.Errorf("header %d = % x, want % x", i, h.Header, frames[i])
		}
		if f := fieldsOf(h); f != wantHeaders[i] {
			t.Errorf("header %d = %+v\nwant       %+v", i, f, wantHeaders[i])
		}
	}
}

// TestClassifySFlowWeighting: packets += sampling rate, bytes += frame length × rate.
func TestClassifySFlowWeighting(t *testing.T) {
	c := newTestClassifier(t, "")
	dgram, _ := mixedDatagram(t)
	cnt := c.NewCounters()
	for range 2 {
		if _, err := ClassifySFlow(c, dgram, cnt); err != nil {
			t.Fatal(err)
		}
	}
	ietf, dual := 1, 2
	want := map[[3]int]Cell{
		{ietf, int(FamilyIPv6), int(DirectionUp)}:    {Packets: 2 * 256, Bytes: 2 * 1522 * 256},
		{dual, int(FamilyIPv4), int(DirectionDown)}:  {Packets: 2 * 4096, Bytes: 2 * 68 * 4096},
		{ietf, int(FamilyNAT64), int(DirectionDown)}: {Packets: 2, Bytes: 2 * 9022},
	}
	for s := range c.SSIDNames() {
		for f := range Family(NumFamilies) {
			for d := range Direction(NumDirections) {
				if got := cnt.Cell(s, f, d); got != want[[3]int{s, int(f), int(d)}] {
					t.Errorf("%s/%s/%s = %+v, want %+v", c.SSIDNames()[s], f, d, got, want[[3]int{s, int(f), int(d)}])
				}
			}
		}
	}
}

// TestClassifySFlowRates: the same frame at several rates, and rate 0 counted once.
func TestClassifySFlowRates(t *testing.T) {
	c := newTestClassifier(t, "")
	fr := frame{tags: []uint16{100}, src: "2001:db8:100::1", dst: "2001:db8:ffff::1"}.build(t)
	for _, rate := range []uint32{0, 1, 2, 100, 1000, 65536, 1 << 31, 0xffffffff} {
		cnt := c.NewCounters()
		dgram := sflowDatagram(agent6, 0, 1, 1, flowSample(1, rate, rawHeaderRecord(1, 1500, 4, fr)))
		if _, err := ClassifySFlow(c, dgram, cnt); err != nil {
			t.Fatal(err)
		}
		w := uint64(max(rate, 1))
		if got, want := cnt.Cell(1, FamilyIPv6, DirectionUp), (Cell{Packets: w, Bytes: 1500 * w}); got != want {
			t.Errorf("rate %d: %+v, want %+v", rate, got, want)
		}
	}
}

// TestClassifySFlowNonEthernet: a header of another protocol (11 = IPv4) is
// reported by the walk but not classified.
func TestClassifySFlowNonEthernet(t *testing.T) {
	c := newTestClassifier(t, "")
	fr := frame{src: "100.64.0.1", dst: "192.0.2.1"}.build(t)[ethHeaderLen:]
	dgram := sflowDatagram(agent4, 0, 1, 1, flowSample(1, 10, rawHeaderRecord(11, 84, 0, fr)))
	cnt := c.NewCounters()
	d, err := ClassifySFlow(c, dgram, cnt)
	if err != nil {
		t.Fatal(err)
	}
	if d.Headers != 1 || d.EthernetHeaders != 0 {
		t.Errorf("headers %d, Ethernet %d; want 1, 0", d.Headers, d.EthernetHeaders)
	}
	if got := sumAll(cnt); got != (Cell{}) {
		t.Errorf("counted %+v, want nothing", got)
	}
}

// TestClassifySFlowSwitchVLAN: an untagged header counts for the SSID of the
// extended switch record's incoming VLAN, wherever the record sits in the sample;
// a header's own tag wins; without the record, or with VLAN 0, the header is
// the untagged SSID's.
func TestClassifySFlowSwitchVLAN(t *testing.T) {
	c := newTestClassifier(t, "ietf")
	untagged := frame{src: "2001:db8:ffff::1", dst: "2001:db8:200::7"}.build(t)
	tagged := frame{tags: []uint16{201}, src: "2001:db8:ffff::1", dst: "2001:db8:200::7"}.build(t)
	long := append(bytes.Clone(untagged), make([]byte, 300)...)
	ietf, dual := 1, 2
	tests := []struct {
		name    string
		records []packetgen.Record
		ssid    int
	}{
		{"record before header", []packetgen.Record{extendedSwitchRecord(200, 5), rawHeaderRecord(1, 100, 4, untagged)}, dual},
		{"record after header", []packetgen.Record{rawHeaderRecord(1, 100, 4, untagged), extendedSwitchRecord(201, 5)}, dual},
		{"long header", []packetgen.Record{rawHeaderRecord(1, 100, 4, long), extendedSwitchRecord(200, 5)}, dual},
		{"header's own tag wins", []packetgen.Record{extendedSwitchRecord(100, 100), rawHeaderRecord(1, 100, 4, tagged)}, dual},
		{"no switch record", []packetgen.Record{rawHeaderRecord(1, 100, 4, untagged)}, ietf},
		{"VLAN 0", []packetgen.Record{extendedSwitchRecord(0, 0), rawHeaderRecord(1, 100, 4, untagged)}, ietf},
		{"VLAN 4095", []packetgen.Record{extendedSwitchRecord(4095, 0), rawHeaderRecord(1, 100, 4, untagged)}, ietf},
		{"unknown VLAN", []packetgen.Record{extendedSwitchRecord(999, 0), rawHeaderRecord(1, 100, 4, untagged)}, 0},
	}
	for _, tc := range tests {
		cnt := c.NewCounters()
		if _, err := ClassifySFlow(c, sflowDatagram(agent4, 0, 1, 1, flowSample(1, 10, tc.records...)), cnt); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		dir := DirectionDown
		if tc.ssid == 0 || tc.ssid == ietf {
			dir = DirectionOther // 2001:db8:200::/56 is not ietf's
		}
		if got := cnt.Cell(tc.ssid, FamilyIPv6, dir); got != (Cell{Packets: 10, Bytes: 1000}) {
			t.Errorf("%s: SSID %s %s: %+v, want 10 packets, 1000 bytes", tc.name, c.SSIDNames()[tc.ssid], dir, got)
		}
	}
}

func TestWalkSFlowAgentAddress(t *testing.T) {
	for _, agent := range []netip.Addr{agent4, agent6, {}} {
		d, err := WalkSFlow(sflowDatagram(agent, 42, 7, 99), func(SampledHeader) { t.Error("no samples, but a header") })
		if err != nil {
			t.Fatalf("%v: %v", agent, err)
		}
		if want := (Datagram{Agent: agent, SubAgent: 42, Sequence: 7, Uptime: 99}); d != want {
			t.Errorf("%+v, want %+v", d, want)
		}
	}
	bad := sflowDatagram(agent4, 0, 1, 1)
	binary.BigEndian.PutUint32(bad[4:], 3)
	if _, err := WalkSFlow(bad, func(SampledHeader) {}); !errors.Is(err, ErrSFlowAgentAddress) {
		t.Errorf("address type 3: %v, want %v", err, ErrSFlowAgentAddress)
	}
	binary.BigEndian.PutUint32(bad, 4)
	if _, err := WalkSFlow(bad, func(SampledHeader) {}); !errors.Is(err, ErrSFlowVersion) {
		t.Errorf("version 4: %v, want %v", err, ErrSFlowVersion)
	}
}

func TestWalkSFlowCounterOnly(t *testing.T) {
	dgram := sflowDatagram(agent6, 0, 5, 5, counterSample(sflowCounterSample), counterSample(sflowCounterSampleExpanded), counterSample(sflowCounterSample))
	d, err := WalkSFlow(dgram, func(SampledHeader) { t.Error("counter samples gave a header") })
	if err != nil {
		t.Fatal(err)
	}
	if d.CounterSamples != 3 || d.FlowSamples != 0 || d.SkippedSamples != 0 {
		t.Errorf("%+v, want 3 counter samples only", d)
	}
}

// TestWalkSFlowTruncated cuts the mixed datagram at every length: each cut must be
// an error (a declared count or length is always left unmet), never a panic, and
// report no more headers than the whole datagram.
func TestWalkSFlowTruncated(t *testing.T) {
	for _, agent := range []netip.Addr{agent4, agent6} {
		dgram, _ := mixedDatagram(t)
		if agent.Is6() {
			a := agent.As16()
			dgram = append(append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 5), 2), a[:]...), dgram[12:]...)
		}
		full, err := WalkSFlow(dgram, func(SampledHeader) {})
		if err != nil || full.Agent != agent {
			t.Fatalf("%v: %+v %v", agent, full, err)
		}
		for n := range len(dgram) {
			// A copy of exactly n bytes, so that a read past the cut would fault
			// rather than see the rest of the datagram.
			cut := bytes.Clone(dgram[:n])
			headers := 0
			d, err := WalkSFlow(cut, func(h SampledHeader) { headers++ })
			if !errors.Is(err, ErrSFlowTruncated) {
				t.Errorf("%v cut at %d of %d: err %v, want %v", agent, n, len(dgram), err, ErrSFlowTruncated)
			}
			if headers > full.Headers || d.Headers != headers {
				t.Errorf("cut at %d: %d headers (Datagram says %d), whole datagram has %d", n, headers, d.Headers, full.Headers)
			}
		}
	}
}

// TestWalkSFlowLyingLengths patches lengths and counts of a valid datagram.
func TestWalkSFlowLyingLengths(t *testing.T) {
	fr := frame{tags: []uint16{100}, src: "2001:db8:100::1", dst: "2001:db8:ffff::1"}.build(t)
	valid := func() []byte {
		return sflowDatagram(agent4, 0, 1, 1, flowSample(1, 8, rawHeaderRecord(1, 1500, 4, fr)), counterSample(sflowCounterSample))
	}
	// Offsets in valid(): header 28 bytes; the flow sample's format at 28, its
	// length at 32, its body at 36; its record count at 36+28, the record's format
	// at 68, length at 72, body at 76; the header's length at 76+12.
	const (
		sampleLen  = 32
		recCount   = 36 + 28
		recLen     = 72
		hdrLen     = 88
		numSamples = 24
	)
	flowLen := binary.BigEndian.Uint32(valid()[sampleLen:])
	tests := []struct {
		name    string
		off     int
		val     uint32
		wantErr error
		headers int
	}{
		{"sample length 2³²-1", sampleLen, 0xffffffff, ErrSFlowTruncated, 0},
		{"sample length one past the end", sampleLen, uint32(len(valid()) - 36 + 1), ErrSFlowTruncated, 0},
		{"sample length short of its records", sampleLen, flowLen - 4, ErrSFlowTruncated, 0},
		{"sample shorter than its fixed fields", sampleLen, 8, ErrSFlowTruncated, 0},
		{"record length past the sample", recLen, flowLen, ErrSFlowTruncated, 0},
		{"record length 2³²-1", recLen, 0xffffffff, ErrSFlowTruncated, 0},
		{"record count 2³²-1", recCount, 0xffffffff, ErrSFlowTruncated, 0},
		{"header longer than its record", hdrLen, uint32(len(fr) + 4), ErrSFlowRawHeader, 0},
		{"header length 2³²-1", hdrLen, 0xffffffff, ErrSFlowRawHeader, 0},
		{"sample count 2³²-1", numSamples, 0xffffffff, ErrSFlowTruncated, 1},
		{"sample count 1 of 2", numSamples, 1, nil, 1},
	}
	if got := binary.BigEndian.Uint32(valid()[hdrLen:]); got != uint32(len(fr)) {
		t.Fatalf("offsets are off: header length at %d is %d, want %d", hdrLen, got, len(fr))
	}
	for _, tc := range tests {
		b := valid()
		binary.BigEndian.PutUint32(b[tc.off:], tc.val)
		headers := 0
		_, err := WalkSFlow(b, func(SampledHeader) { headers++ })
		if !errors.Is(err, tc.wantErr) || headers != tc.headers {
			t.Errorf("%s: err %v, %d headers; want %v, %d", tc.name, err, headers, tc.wantErr, tc.headers)
		}
	}
}

func TestSequenceTracker(t *testing.T) {
	tr := NewSequenceTracker(3)
	dg := func(agent netip.Addr, sub, seq, uptime uint32) Datagram {
		return Datagram{Agent: agent, SubAgent: sub, Sequence: seq, Uptime: uptime}
	}
	steps := []struct {
		d    Datagram
		lost uint32
	}{
		{dg(agent4, 0, 10, 100), 0},       // first seen
		{dg(agent4, 0, 11, 110), 0},       // next
		{dg(agent4, 0, 15, 120), 3},       // 12, 13, 14 lost
		{dg(agent4, 1, 500, 120), 0},      // another sub-agent: its own sequence
		{dg(agent4, 1, 502, 130), 1},      // 501 lost
		{dg(agent4, 0, 15, 120), 0},       // duplicate
		{dg(agent4, 0, 1, 5), 0},          // restart: sequence and uptime back
		{dg(agent4, 0, 2, 6), 0},          // counting from the restart
		{dg(agent4, 0, 100, 1), 0},        // restart: uptime back, sequence forward
		{dg(agent4, 0, 0xfffffffe, 2), 0}, // a jump of ≥ 2³¹ is a step back: restart
		{dg(agent4, 0, 1, 3), 2},          // through the wrap: 0xffffffff, 0 lost
		{dg(agent6, 0, 7, 1), 0},          // third pair
		{dg(netip.Addr{}, 0, 7, 1), 0},    // fourth: over the limit, untracked
		{dg(netip.Addr{}, 0, 9, 2), 0},    // still untracked
		{dg(agent6, 0, 1008, 2), 1000},    // 8 … 1007 lost
	}
	for i, s := range steps {
		if got := tr.Observe(s.d); got != s.lost {
			t.Errorf("step %d (%+v): lost %d, want %d", i, s.d, got, s.lost)
		}
	}
	want := SequenceStats{Lost: 3 + 1 + 2 + 1000, Restarts: 3, Duplicates: 1, Untracked: 2, Sources: 3}
	if got := tr.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	d := dg(agent6, 0, 2000, 3)
	if allocs := testing.AllocsPerRun(100, func() { d.Sequence++; d.Uptime++; tr.Observe(d) }); allocs != 0 {
		t.Errorf("Observe of a known agent: %v allocs, want 0", allocs)
	}
}

func TestClassifySFlowAllocs(t *testing.T) {
	c := newTestClassifier(t, "")
	dgram, _ := mixedDatagram(t)
	cnt := c.NewCounters()
	// And an untagged header with its VLAN in the switch record: the tagged copy
	// must stay on the stack too.
	untagged := frame{src: "2001:db8:ffff::1", dst: "2001:db8:200::7"}.build(t)
	switched := sflowDatagram(agent4, 0, 1, 1, flowSample(1, 10, extendedSwitchRecord(200, 5), rawHeaderRecord(1, 100, 4, untagged)))
	for _, dg := range [][]byte{dgram, switched} {
		if allocs := testing.AllocsPerRun(100, func() { _, _ = ClassifySFlow(c, dg, cnt) }); allocs != 0 {
			t.Errorf("ClassifySFlow: %v allocs per datagram, want 0", allocs)
		}
	}
}

// sflowPayloads returns the UDP payloads of a capture of sFlow export traffic.
func sflowPayloads(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.SharedTestdata(t), "pcaps", name))
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		// Decoding stops at the UDP layer: gopacket's own sFlow decoder is not what
		// is tested here (and is the one that crashed on the malformed capture).
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || (udp.DstPort != 6343 && udp.SrcPort != 6343) {
			t.Fatalf("%s: a frame that is not sFlow over UDP: %v", name, p)
		}
		out = append(out, udp.Payload)
	}
}

// TestSFlowRealCapture: tcpdump's sflow-print-v6.pcap, 25 datagrams over IPv6 with
// 13 flow samples (raw Ethernet headers on VLAN 10) and 48 counter samples.
// gopacket's sFlow layer, which decodes every record of this capture, is the
// oracle for the per-sample fields.
func TestSFlowRealCapture(t *testing.T) {
	payloads := sflowPayloads(t, "sflow-print-v6.pcap")
	if len(payloads) != 25 {
		t.Fatalf("%d datagrams, want 25", len(payloads))
	}
	// The capture's sampled traffic is VLAN 10, 10.10.10.0/24 (seen in it).
	c, err := NewClassifier(&config.Config{SSIDs: []config.SSID{
		{Name: "lab", VLANs: []uint16{10}, ClientPrefixes: []netip.Prefix{netip.MustParsePrefix("10.10.10.0/24")}},
	}}, "")
	if err != nil {
		t.Fatal(err)
	}
	cnt := c.NewCounters()
	var flow, counter, skipped, headers int
	var wantPackets, wantBytes uint64
	for i, p := range payloads {
		var got []SampledHeader
		d, err := WalkSFlow(p, func(h SampledHeader) { got = append(got, h) })
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		flow += d.FlowSamples
		counter += d.CounterSamples
		skipped += d.SkippedSamples
		headers += d.EthernetHeaders
		for _, h := range got {
			if !h.ExtendedSwitch || h.SrcVLAN != 10 || vlanTagged(h.Header) {
				t.Errorf("datagram %d: sampled header on VLAN %d (switch record %t, tagged %t), want an untagged header from VLAN 10",
					i, h.SrcVLAN, h.ExtendedSwitch, vlanTagged(h.Header))
			}
		}
		if _, err := ClassifySFlow(c, p, cnt); err != nil {
			t.Fatal(err)
		}

		var oracle layers.SFlowDatagram
		if err := oracle.DecodeFromBytes(p, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("datagram %d: gopacket: %v", i, err)
		}
		if d.Agent != mustAddr(t, oracle.AgentAddress) || d.SubAgent != oracle.SubAgentID ||
			d.Sequence != oracle.SequenceNumber || d.Uptime != oracle.AgentUptime ||
			d.Samples != oracle.SampleCount || d.FlowSamples != len(oracle.FlowSamples) || d.CounterSamples != len(oracle.CounterSamples) {
			t.Errorf("datagram %d: %+v; gopacket: agent %v sub %d seq %d uptime %d samples %d flow %d counter %d", i, d,
				oracle.AgentAddress, oracle.SubAgentID, oracle.SequenceNumber, oracle.AgentUptime, oracle.SampleCount, len(oracle.FlowSamples), len(oracle.CounterSamples))
		}
		var want []sampledFields
		for _, fs := range oracle.FlowSamples {
			var sw *layers.SFlowExtendedSwitchFlowRecord
			for _, rec := range fs.Records {
				if r, ok := rec.(layers.SFlowExtendedSwitchFlowRecord); ok {
					sw = &r
				}
			}
			for _, rec := range fs.Records {
				if raw, ok := rec.(layers.SFlowRawPacketFlowRecord); ok {
					// gopacket splits a compact source_id 2/30 bits (sFlow v5:
					// type in the top 8): the same for this capture's ifIndex
					// sources, type 0 with small indexes.
					want = append(want, sampledFields{
						SequenceNumber: fs.SequenceNumber, SourceIDType: uint32(fs.SourceIDClass), SourceIDIndex: uint32(fs.SourceIDIndex),
						Protocol: uint32(raw.HeaderProtocol), FrameLength: raw.FrameLength, Stripped: raw.PayloadRemoved,
						SamplingRate: fs.SamplingRate, SamplePool: fs.SamplePool, Drops: fs.Dropped,
						Input: fs.InputInterfaceFormat<<30 | fs.InputInterface, Output: fs.OutputInterfaceFormat<<30 | fs.OutputInterface,
						Expanded:       fs.EnterpriseID == 0 && fs.Format == layers.SFlowTypeExpandedFlowSample,
						ExtendedSwitch: sw != nil,
					})
					if sw != nil {
						want[len(want)-1].SrcVLAN, want[len(want)-1].DstVLAN = sw.IncomingVLAN, sw.OutgoingVLAN
					}
					if raw.HeaderProtocol == 1 {
						wantPackets += uint64(fs.SamplingRate)
						wantBytes += uint64(raw.FrameLength) * uint64(fs.SamplingRate)
					}
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("datagram %d: %d headers, gopacket %d", i, len(got), len(want))
		}
		for j := range got {
			if f := fieldsOf(got[j]); f != want[j] {
				t.Errorf("datagram %d header %d: %+v\ngopacket: %+v", i, j, f, want[j])
			}
		}
	}
	if flow != 13 || counter != 48 || skipped != 0 || headers != 13 {
		t.Errorf("%d flow samples, %d counter samples, %d skipped, %d Ethernet headers; want 13, 48, 0, 13", flow, counter, skipped, headers)
	}
	// Every sample is VLAN 10's, by the switch record: all of it counts for "lab".
	var lab Cell
	for f := range Family(NumFamilies) {
		for d := range Direction(NumDirections) {
			lab.Packets += cnt.Cell(1, f, d).Packets
			lab.Bytes += cnt.Cell(1, f, d).Bytes
		}
	}
	if got := sumAll(cnt); got.Packets != wantPackets || got.Bytes != wantBytes || wantPackets == 0 || lab != got {
		t.Errorf("classified %+v, of which SSID lab %+v; want %d packets, %d bytes, all lab", got, lab, wantPackets, wantBytes)
	}
	t.Logf("lab: %d packets, %d bytes; ipv4 up %+v", lab.Packets, lab.Bytes, cnt.Cell(1, FamilyIPv4, DirectionUp))
}

func mustAddr(t *testing.T, ip []byte) netip.Addr {
	t.Helper()
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		t.Fatalf("agent address % x", ip)
	}
	return a
}

// TestSFlowMalformedCapture: tcpdump's sflow_print-segv.pcap, one datagram that
// crashed a decoder once. Its UDP length says 8 bytes of payload while the IP
// packet carries 872; both readings must be an error, not a panic.
func TestSFlowMalformedCapture(t *testing.T) {
	payloads := sflowPayloads(t, "sflow_print-segv.pcap")
	if len(payloads) != 1 {
		t.Fatalf("%d datagrams, want 1", len(payloads))
	}
	c := newTestClassifier(t, "")
	cnt := c.NewCounters()
	d, err := ClassifySFlow(c, payloads[0], cnt)
	if !errors.Is(err, ErrSFlowTruncated) || d != (Datagram{}) {
		t.Errorf("UDP payload: %+v %v, want nothing and %v", d, err, ErrSFlowTruncated)
	}
	whole := malformedIPPayload(t)
	d, err = ClassifySFlow(c, whole, cnt)
	want := Datagram{Agent: netip.MustParseAddr("10.0.0.250"), Sequence: 4821297, Uptime: 2504103094, Samples: 5, FlowSamples: 1}
	if !errors.Is(err, ErrSFlowTruncated) || d != want {
		t.Errorf("IP payload: %+v %v\nwant        %+v %v", d, err, want, ErrSFlowTruncated)
	}
	if got := sumAll(cnt); got != (Cell{}) {
		t.Errorf("counted %+v from a malformed datagram", got)
	}
}

// malformedIPPayload is what follows the UDP header of sflow_print-segv.pcap up
// to the end of the IP packet, disregarding the UDP length.
func malformedIPPayload(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.SharedTestdata(t), "pcaps", "sflow_print-segv.pcap"))
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || ip.Protocol != layers.IPProtocolUDP || len(ip.Payload) < 8 {
		t.Fatalf("not IPv4/UDP: %v", p)
	}
	return ip.Payload[8:]
}

func FuzzSFlowWalk(f *testing.F) {
	dgram, _ := mixedDatagram(f)
	f.Add(dgram)
	f.Add(sflowDatagram(agent6, 1, 2, 3, counterSample(sflowCounterSample), counterSample(sflowCounterSampleExpanded)))
	for _, name := range []string{"sflow-print-v6.pcap", "sflow_print-segv.pcap"} {
		for _, p := range sflowPayloads(f, name) {
			f.Add(p)
		}
	}
	f.Add(malformedIPPayload(f))
	c := newTestClassifier(f, "ietf")
	f.Fuzz(func(t *testing.T, b []byte) {
		var headers, ethernet int
		var packets uint64
		d, err := WalkSFlow(b, func(h SampledHeader) {
			headers++
			// The header must alias b, inside its length: the backing array
			// is shared, so the difference of the capacities is its offset.
			off := cap(b) - cap(h.Header)
			if off < 0 || off+len(h.Header) > len(b) || (len(h.Header) > 0 && &b[off] != &h.Header[0]) {
				t.Fatalf("header of %d bytes at %d is not inside the %d-byte datagram", len(h.Header), off, len(b))
			}
			if h.Protocol == SFlowHeaderProtocolEthernet {
				ethernet++
				packets += uint64(max(h.SamplingRate, 1))
			}
		})
		if d.Headers != headers || d.EthernetHeaders != ethernet {
			t.Fatalf("Datagram counts %d/%d headers, callback saw %d/%d", d.Headers, d.EthernetHeaders, headers, ethernet)
		}
		if n := d.FlowSamples + d.CounterSamples + d.SkippedSamples; uint64(n) > uint64(d.Samples) {
			t.Fatalf("%d samples walked of %d declared", n, d.Samples)
		}
		if err == nil && uint64(d.FlowSamples+d.CounterSamples+d.SkippedSamples) != uint64(d.Samples) {
			t.Fatalf("no error, but %+v walked fewer samples than declared", d)
		}
		cnt := c.NewCounters()
		d2, err2 := ClassifySFlow(c, b, cnt)
		if d2 != d || !errors.Is(err2, err) {
			t.Fatalf("ClassifySFlow %+v %v, WalkSFlow %+v %v", d2, err2, d, err)
		}
		if got := sumAll(cnt).Packets; got != packets {
			t.Fatalf("classified %d packets, want %d", got, packets)
		}
	})
}

// BenchmarkSFlowWalk classifies a switch-like datagram: seven flow samples at
// 1:1024, each an untagged 128-byte Ethernet header after an extended switch
// record naming its VLAN, and one counter sample (~1.4 kB).
func BenchmarkSFlowWalk(b *testing.B) {
	c := newTestClassifier(b, "ietf")
	mix := []frame{
		{tags: []uint16{100}, src: "2001:db8:100::1", dst: "2001:db8:ffff::1"},
		{tags: []uint16{100}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
		{tags: []uint16{100}, src: "64:ff9b::c000:201", dst: "2001:db8:100::1"},
		{tags: []uint16{200}, src: "192.0.2.1", dst: "100.65.0.1"},
		{tags: []uint16{201}, src: "2001:db8:200::1", dst: "2001:db8:ffff::1"},
		{tags: []uint16{100}, src: "2001:db8:100::1", dst: "64:ff9b::c000:201"},
		{tags: []uint16{999}, src: "2001:db8:ffff::1", dst: "2001:db8:100::1"},
	}
	var samples []packetgen.Sample
	for i, m := range mix {
		// As switches send them: the tag stripped, the VLAN in the switch record.
		vlan := uint32(m.tags[0])
		m.tags = nil
		hdr := append(m.build(b), make([]byte, 128)...)[:128]
		samples = append(samples, flowSample(uint32(i), 1024, extendedSwitchRecord(vlan, vlan), rawHeaderRecord(1, 1518, 4, hdr)))
	}
	samples = append(samples, counterSample(sflowCounterSample))
	dgram := sflowDatagram(agent4, 0, 1, 1, samples...)
	cnt := c.NewCounters()
	b.SetBytes(int64(len(dgram)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ClassifySFlow(c, dgram, cnt); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "datagrams/s")
	b.ReportMetric(float64(b.N*len(mix))/sec, "samples/s")
}

// vlanTagged reports whether an Ethernet header carries a VLAN tag of its own.
func vlanTagged(frame []byte) bool {
	if len(frame) < ethHeaderLen {
		return false
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherType8021Q, etherType8021AD, etherTypeQinQ:
		return true
	}
	return false
}
