package packetgen

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestDatagramGopacket decodes encoded datagrams with gopacket's sFlow layer,
// an independent decoder, and compares every field.
func TestDatagramGopacket(t *testing.T) {
	frame := Packet{Link: Untagged(hostMAC, routerMAC), Src: netip.MustParseAddr("2001:db8:100::1"),
		Dst: netip.MustParseAddr("2001:db8:ffff::1"), Protocol: TCP, SrcPort: 1, DstPort: 2, Payload: 1446}.Frame()
	short := ARPRequest(Tagged(hostMAC, BroadcastMAC, 100), netip.MustParseAddr("100.64.0.10"), netip.MustParseAddr("100.64.0.1"))
	counters := IfCounters{Index: 10101, Type: 6, Speed: 1e9, Direction: 1, Status: 3, InOctets: 1 << 40, InUcast: 5, InMulticast: 6,
		InBroadcast: 7, InDiscards: 8, InErrors: 9, InUnknownProtos: 10, OutOctets: 1 << 41, OutUcast: 11, OutMulticast: 12,
		OutBroadcast: 13, OutDiscards: 14, OutErrors: 15, Promiscuous: 2}
	for _, agent := range []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::a")} {
		d := Datagram{Agent: agent, SubAgent: 3, Sequence: 1000, Uptime: 60000, Samples: []Sample{
			FlowSample{Sequence: 17, SourceIDType: 2, SourceIndex: 10101, SamplingRate: 512, SamplePool: 512 * 17, Drops: 2, Input: 10101, Output: 10201,
				Records: []Record{ExtendedSwitch{SrcVLAN: 100, SrcPriority: 1, DstVLAN: 100, DstPriority: 0}, SampledEthernet(frame, 128)}},
			CounterSample{Sequence: 5, SourceIndex: 10101, Records: []Record{counters}},
			FlowSample{Expanded: true, Sequence: 18, SourceIDType: 0, SourceIndex: 70000, SamplingRate: 4096, SamplePool: 9999,
				InputFormat: 0, Input: 70000, OutputFormat: 2, Output: 3, Records: []Record{SampledEthernet(short, 128)}},
			CounterSample{Expanded: true, Sequence: 6, SourceIndex: 70000, Records: []Record{counters}},
		}}
		b := d.Encode()
		if len(b)%4 != 0 {
			t.Errorf("%d bytes: not XDR-aligned", len(b))
		}
		var g layers.SFlowDatagram
		if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket: %v", err)
		}
		if g.DatagramVersion != 5 || !g.AgentAddress.Equal(net.IP(agent.AsSlice())) || g.SubAgentID != 3 || g.SequenceNumber != 1000 ||
			g.AgentUptime != 60000 || g.SampleCount != 4 || len(g.FlowSamples) != 2 || len(g.CounterSamples) != 2 {
			t.Fatalf("datagram %+v", g)
		}
		f := g.FlowSamples[0]
		// gopacket splits the compact source_id word 2/30 bits as for an
		// interface; sFlow v5 has type in the top 8 bits: compare the word.
		if sourceID := uint32(f.SourceIDClass)<<30 | uint32(f.SourceIDIndex); sourceID != 2<<24|10101 {
			t.Errorf("source_id %#x, want type 2, index 10101", sourceID)
		}
		if f.Format != layers.SFlowTypeFlowSample || f.SequenceNumber != 17 || f.SamplingRate != 512 ||
			f.SamplePool != 512*17 || f.Dropped != 2 || f.InputInterface != 10101 || f.OutputInterface != 10201 || len(f.Records) != 2 {
			t.Errorf("flow sample %+v", f)
		}
		sw := f.Records[0].(layers.SFlowExtendedSwitchFlowRecord)
		if sw.IncomingVLAN != 100 || sw.IncomingVLANPriority != 1 || sw.OutgoingVLAN != 100 {
			t.Errorf("switch record %+v", sw)
		}
		raw := f.Records[1].(layers.SFlowRawPacketFlowRecord)
		if raw.HeaderProtocol != 1 || raw.FrameLength != uint32(len(frame)+4) || raw.PayloadRemoved != 4 || raw.HeaderLength != 128 {
			t.Errorf("raw header %+v", raw)
		}
		if hdr := raw.Header.Data(); !bytes.Equal(hdr, frame[:128]) {
			t.Errorf("header %d bytes, not the frame's first 128", len(hdr))
		}
		e := g.FlowSamples[1]
		if e.Format != layers.SFlowTypeExpandedFlowSample || e.SequenceNumber != 18 || e.SourceIDIndex != 70000 || e.SamplingRate != 4096 ||
			e.InputInterface != 70000 || e.OutputInterfaceFormat != 2 || e.OutputInterface != 3 {
			t.Errorf("expanded flow sample %+v", e)
		}
		raw = e.Records[0].(layers.SFlowRawPacketFlowRecord)
		if raw.FrameLength != 64 || raw.HeaderLength != 60 || !bytes.Equal(raw.Header.Data(), short) {
			t.Errorf("short frame: %+v", raw)
		}
		for i, c := range g.CounterSamples {
			if c.SequenceNumber != uint32(5+i) || len(c.Records) != 1 {
				t.Errorf("counter sample %d: %+v", i, c)
				continue
			}
			r := c.Records[0].(layers.SFlowGenericInterfaceCounters)
			if r.IfIndex != 10101 || r.IfSpeed != 1e9 || r.IfInOctets != 1<<40 || r.IfInUnknownProtos != 10 || r.IfOutOctets != 1<<41 ||
				r.IfOutErrors != 15 || r.IfPromiscuousMode != 2 {
				t.Errorf("counters %+v", r)
			}
		}
	}
}

// TestDatagramUnknown: unknown samples and records are the format word, the
// length and the padded data; the agent of type unknown has no address.
func TestDatagramUnknown(t *testing.T) {
	b := Datagram{Sequence: 9, Samples: []Sample{
		UnknownSample{Format: 4413<<12 | 5, Data: []byte{1, 2, 3, 4, 5}},
		FlowSample{Sequence: 1, SamplingRate: 1, Records: []Record{UnknownRecord{Format: 2000, Data: []byte{9, 9, 9}}}},
	}}.Encode()
	want := []uint32{5, 0 /* unknown address */, 0, 9, 0, 2,
		4413<<12 | 5, 5, 0x01020304, 0x05000000,
		1, 8*4 + 3*4, 1, 0, 1, 0, 0, 0, 0, 1,
		2000, 3, 0x09090900}
	if len(b) != 4*len(want) {
		t.Fatalf("%d bytes, want %d", len(b), 4*len(want))
	}
	for i, w := range want {
		if got := binary.BigEndian.Uint32(b[4*i:]); got != w {
			t.Errorf("word %d = %#x, want %#x", i, got, w)
		}
	}
}

func TestSampleLen(t *testing.T) {
	frame := ARPRequest(Untagged(hostMAC, BroadcastMAC), netip.MustParseAddr("100.64.0.10"), netip.MustParseAddr("100.64.0.1"))
	samples := []Sample{
		FlowSample{Records: []Record{ExtendedSwitch{}, SampledEthernet(frame, 128)}},
		CounterSample{Expanded: true, Records: []Record{IfCounters{}}},
		UnknownSample{Format: 7, Data: []byte{1}},
	}
	for _, agent := range []netip.Addr{{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")} {
		d := Datagram{Agent: agent, Samples: samples}
		want := d.HeaderLen()
		for _, s := range samples {
			want += SampleLen(s)
		}
		if got := len(d.Encode()); got != want {
			t.Errorf("agent %v: %d bytes, HeaderLen + SampleLen say %d", agent, got, want)
		}
	}
	// format, length, 8 words, switch record 8+16, header record 8+16+60.
	if got := SampleLen(samples[0]); got != 8+32+24+84 {
		t.Errorf("flow sample of a 60-byte header: %d bytes", got)
	}
}
