package packetgen

// The sFlow v5 encoder (sflow.org/sflow_version_5.txt): XDR, big-endian 32-bit
// words, opaques padded to four bytes. Every length is computed from what it
// wraps; a test that wants a lying one patches the encoded bytes.

import (
	"encoding/binary"
	"net/netip"
)

// sFlow v5 formats (enterprise 0).
const (
	sflowVersion5 = 5

	sflowAddressUnknown = 0
	sflowAddressIPv4    = 1
	sflowAddressIPv6    = 2

	FormatFlowSample            = 1 // 0:1
	FormatCounterSample         = 2 // 0:2
	FormatFlowSampleExpanded    = 3 // 0:3
	FormatCounterSampleExpanded = 4 // 0:4

	FormatRawPacketHeader = 1    // flow record 0:1
	FormatExtendedSwitch  = 1001 // flow record 0:1001
	FormatIfCounters      = 1    // counter record 0:1

	// HeaderProtocolEthernet is the raw packet header protocol of Ethernet
	// (ISO 8802-3) frames.
	HeaderProtocolEthernet = 1
	// FCSLen is the Ethernet frame check sequence that agents count in a
	// sampled frame's length and strip from its header.
	FCSLen = 4
)

// Datagram is one sFlow v5 datagram.
type Datagram struct {
	// Agent is the agent address; the zero Addr encodes address type unknown.
	Agent    netip.Addr
	SubAgent uint32
	Sequence uint32
	Uptime   uint32 // milliseconds since the agent booted
	Samples  []Sample
}

// Sample is a flow sample, a counter sample or an UnknownSample.
type Sample interface {
	appendSample(b []byte) []byte
}

// Record is a flow or counter record: RawPacketHeader, ExtendedSwitch,
// IfCounters or UnknownRecord.
type Record interface {
	appendRecord(b []byte) []byte
}

// SampleLen is the encoded length of s in a datagram, for an agent that packs
// samples up to its MTU.
func SampleLen(s Sample) int { return len(s.appendSample(nil)) }

// HeaderLen is the encoded length of the datagram's header (before the
// samples): 28 bytes with an IPv4 agent address, 40 with IPv6.
func (d Datagram) HeaderLen() int {
	switch {
	case !d.Agent.IsValid():
		return 24
	case d.Agent.Is4():
		return 28
	}
	return 40
}

// Encode returns the datagram's bytes.
func (d Datagram) Encode() []byte { return d.AppendTo(nil) }

// AppendTo appends the datagram's bytes to b, so that a sender can reuse one
// buffer.
func (d Datagram) AppendTo(b []byte) []byte {
	b = u32(b, sflowVersion5)
	switch {
	case !d.Agent.IsValid():
		b = u32(b, sflowAddressUnknown)
	case d.Agent.Is4():
		a := d.Agent.As4()
		b = append(u32(b, sflowAddressIPv4), a[:]...)
	default:
		a := d.Agent.As16()
		b = append(u32(b, sflowAddressIPv6), a[:]...)
	}
	b = u32(b, d.SubAgent, d.Sequence, d.Uptime, uint32(len(d.Samples)))
	for _, s := range d.Samples {
		b = s.appendSample(b)
	}
	return b
}

func u32(b []byte, vs ...uint32) []byte {
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func u64(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// opaque appends an XDR variable-length opaque: length, bytes, zero padding.
func opaque(b, data []byte) []byte {
	b = u32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, (-len(data))&3)...)
}

// tagged appends format, then the bytes body appends as an opaque: the
// shape of every sample and record. body writes after a placeholder length
// that is patched afterwards, so nothing is copied twice.
func tagged(b []byte, format uint32, body func([]byte) []byte) []byte {
	b = u32(b, format, 0)
	start := len(b)
	b = body(b)
	n := len(b) - start
	binary.BigEndian.PutUint32(b[start-4:], uint32(n))
	return append(b, make([]byte, (-n)&3)...)
}

// FlowSample is a flow sample, compact (0:1) or expanded (0:3).
type FlowSample struct {
	// Expanded encodes a flow_sample_expanded (0:3), with the source ID and
	// interfaces in separate words.
	Expanded bool
	// Sequence numbers the flow samples of one source ID.
	Sequence uint32
	// SourceIDType (0 ifIndex, 1 VLAN, 2 entity) and SourceIndex name the data
	// source; the compact form packs them as type<<24 | index.
	SourceIDType, SourceIndex uint32
	// SamplingRate is the 1-in-N rate; SamplePool the packets that could have
	// been sampled; Drops the samples lost for lack of resources, cumulative.
	SamplingRate, SamplePool, Drops uint32
	// Input and Output are interface values (ifIndex for format 0), with their
	// formats (0 ifIndex, 1 packet discarded, 2 multiple interfaces); the
	// compact form packs them as format<<30 | value.
	InputFormat, Input   uint32
	OutputFormat, Output uint32
	Records              []Record
}

func (s FlowSample) appendSample(b []byte) []byte {
	format := uint32(FormatFlowSample)
	if s.Expanded {
		format = FormatFlowSampleExpanded
	}
	return tagged(b, format, func(b []byte) []byte {
		if s.Expanded {
			b = u32(b, s.Sequence, s.SourceIDType, s.SourceIndex, s.SamplingRate, s.SamplePool, s.Drops,
				s.InputFormat, s.Input, s.OutputFormat, s.Output)
		} else {
			b = u32(b, s.Sequence, s.SourceIDType<<24|s.SourceIndex&0xffffff, s.SamplingRate, s.SamplePool, s.Drops,
				s.InputFormat<<30|s.Input&0x3fffffff, s.OutputFormat<<30|s.Output&0x3fffffff)
		}
		b = u32(b, uint32(len(s.Records)))
		for _, r := range s.Records {
			b = r.appendRecord(b)
		}
		return b
	})
}

// CounterSample is a counter sample, compact (0:2) or expanded (0:4).
type CounterSample struct {
	Expanded                  bool
	Sequence                  uint32
	SourceIDType, SourceIndex uint32
	Records                   []Record
}

func (s CounterSample) appendSample(b []byte) []byte {
	format := uint32(FormatCounterSample)
	if s.Expanded {
		format = FormatCounterSampleExpanded
	}
	return tagged(b, format, func(b []byte) []byte {
		if s.Expanded {
			b = u32(b, s.Sequence, s.SourceIDType, s.SourceIndex)
		} else {
			b = u32(b, s.Sequence, s.SourceIDType<<24|s.SourceIndex&0xffffff)
		}
		b = u32(b, uint32(len(s.Records)))
		for _, r := range s.Records {
			b = r.appendRecord(b)
		}
		return b
	})
}

// UnknownSample is a sample of any format (enterprise<<12 | format) with an
// opaque body, for the samples a listener must skip.
type UnknownSample struct {
	Format uint32
	Data   []byte
}

func (s UnknownSample) appendSample(b []byte) []byte {
	return tagged(b, s.Format, func(b []byte) []byte { return append(b, s.Data...) })
}

// RawPacketHeader is a raw packet header flow record (0:1).
type RawPacketHeader struct {
	Protocol uint32 // HeaderProtocolEthernet for Ethernet
	// FrameLength is the frame's original length; for Ethernet agents count
	// the FCS in it.
	FrameLength uint32
	// Stripped is the bytes removed from the end of the frame before Header
	// was taken (the FCS).
	Stripped uint32
	Header   []byte
}

// SampledEthernet is the record an agent makes of an Ethernet frame (without
// FCS, as packetgen builds them): frame length with the 4-byte FCS, the FCS
// stripped, and the frame's first headerSize bytes (all of a shorter frame).
func SampledEthernet(frame []byte, headerSize int) RawPacketHeader {
	return RawPacketHeader{
		Protocol:    HeaderProtocolEthernet,
		FrameLength: uint32(len(frame) + FCSLen),
		Stripped:    FCSLen,
		Header:      frame[:min(headerSize, len(frame))],
	}
}

func (r RawPacketHeader) appendRecord(b []byte) []byte {
	return tagged(b, FormatRawPacketHeader, func(b []byte) []byte {
		return opaque(u32(b, r.Protocol, r.FrameLength, r.Stripped), r.Header)
	})
}

// ExtendedSwitch is the extended switch flow record (0:1001): the frame's
// incoming and outgoing 802.1Q VLANs and priorities.
type ExtendedSwitch struct {
	SrcVLAN, SrcPriority, DstVLAN, DstPriority uint32
}

func (r ExtendedSwitch) appendRecord(b []byte) []byte {
	return tagged(b, FormatExtendedSwitch, func(b []byte) []byte {
		return u32(b, r.SrcVLAN, r.SrcPriority, r.DstVLAN, r.DstPriority)
	})
}

// IfCounters is the generic interface counters record (0:1) of a counter
// sample, 88 bytes.
type IfCounters struct {
	Index, Type                                                              uint32
	Speed                                                                    uint64
	Direction, Status                                                        uint32
	InOctets                                                                 uint64
	InUcast, InMulticast, InBroadcast, InDiscards, InErrors, InUnknownProtos uint32
	OutOctets                                                                uint64
	OutUcast, OutMulticast, OutBroadcast, OutDiscards, OutErrors             uint32
	Promiscuous                                                              uint32
}

func (r IfCounters) appendRecord(b []byte) []byte {
	return tagged(b, FormatIfCounters, func(b []byte) []byte {
		b = u32(b, r.Index, r.Type)
		b = u64(b, r.Speed)
		b = u32(b, r.Direction, r.Status)
		b = u64(b, r.InOctets)
		b = u32(b, r.InUcast, r.InMulticast, r.InBroadcast, r.InDiscards, r.InErrors, r.InUnknownProtos)
		b = u64(b, r.OutOctets)
		b = u32(b, r.OutUcast, r.OutMulticast, r.OutBroadcast, r.OutDiscards, r.OutErrors, r.Promiscuous)
		return b
	})
}

// UnknownRecord is a record of any format (enterprise<<12 | format) with an
// opaque body, for the records a listener must skip.
type UnknownRecord struct {
	Format uint32
	Data   []byte
}

func (r UnknownRecord) appendRecord(b []byte) []byte {
	return tagged(b, r.Format, func(b []byte) []byte { return append(b, r.Data...) })
}
