package traffic

// The sFlow v5 datagram walk (sflow.org/sflow_version_5.txt). It reads the XDR
// in place rather than through gopacket's sFlow layer, which rejects a whole
// datagram on one record type it does not know and allocates ~100 times per
// datagram: here every sample and record not needed is skipped by its declared
// length, and a datagram costs no allocation.

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// sFlow v5 constants. Sample and record formats are enterprise<<12 | format;
// only enterprise 0 (sFlow.org) formats are decoded.
const (
	sflowVersion5 = 5

	sflowAddressUnknown = 0
	sflowAddressIPv4    = 1
	sflowAddressIPv6    = 2

	sflowFlowSample            = 1 // 0:1
	sflowCounterSample         = 2 // 0:2
	sflowFlowSampleExpanded    = 3 // 0:3
	sflowCounterSampleExpanded = 4 // 0:4

	sflowRecordRawPacketHeader = 1    // flow record 0:1
	sflowRecordExtendedSwitch  = 1001 // flow record 0:1001: VLANs and priorities
	sflowExtendedSwitchLen     = 4 * 4

	sflowFlowSampleLen     = 8 * 4     // compact flow_sample fields up to and including the record count
	sflowExpandedSampleLen = 11 * 4    // flow_sample_expanded, likewise
	sflowRawHeaderLen      = 4 * 4     // header_protocol, frame_length, stripped, header length
	sflowInterfaceValueMax = 1<<30 - 1 // the value bits of a compact interface field
)

// SFlowHeaderProtocolEthernet is the raw packet header protocol of Ethernet
// (ISO 8802-3) frames, the only one the classifier can walk.
const SFlowHeaderProtocolEthernet = 1

// Errors of WalkSFlow. They are fixed values, so that the rare bad datagram costs
// no allocation either and a listener can count them by reason.
var (
	// ErrSFlowTruncated: a declared length or count runs past the end of the
	// datagram or of the sample or record holding it.
	ErrSFlowTruncated = errors.New("sflow: a declared length runs past the end of the datagram")
	// ErrSFlowVersion: the datagram is not sFlow version 5.
	ErrSFlowVersion = errors.New("sflow: not an sFlow version 5 datagram")
	// ErrSFlowAgentAddress: the agent address type is neither IPv4, IPv6 nor unknown.
	ErrSFlowAgentAddress = errors.New("sflow: unknown agent address type")
	// ErrSFlowRawHeader: a raw packet header record's header is longer than the record.
	ErrSFlowRawHeader = errors.New("sflow: raw packet header longer than its record")
)

// SampledHeader is one raw packet header record (0:1) of a flow sample, with the
// sample's fields it is weighted by.
type SampledHeader struct {
	// Header is the sampled frame's first bytes, without XDR padding. It aliases
	// the datagram: copy it to keep it beyond the callback.
	Header []byte
	// Protocol is the header_protocol; SFlowHeaderProtocolEthernet for Ethernet.
	Protocol uint32
	// FrameLength is the frame's length before sampling; for Ethernet the agent
	// counts the FCS in it (sFlow v5, sampled_header).
	FrameLength uint32
	// Stripped is the number of bytes removed from the end of Header (e.g. the FCS).
	Stripped uint32
	// SequenceNumber numbers the flow samples of one data source (SourceIDType,
	// SourceIDIndex) of an agent: a gap means samples lost on the way. The
	// compact sample's source_id word is split into its type (top 8 bits) and
	// index (low 24).
	SequenceNumber              uint32
	SourceIDType, SourceIDIndex uint32
	// SamplingRate is the sample's 1-in-N rate; SamplePool and Drops as sent.
	SamplingRate, SamplePool, Drops uint32
	// Input and Output are the interfaces in the compact flow_sample encoding
	// (format in the top 2 bits, ifIndex or value in the low 30), also for an
	// expanded sample.
	Input, Output uint32
	// Expanded is true when the header came from an expanded flow sample (0:3).
	Expanded bool
	// ExtendedSwitch is true when the sample carries an extended switch record
	// (0:1001); SrcVLAN and DstVLAN are its incoming and outgoing 802.1Q VLANs.
	// Switches commonly strip the tag from the sampled header and report the
	// VLAN here instead.
	ExtendedSwitch   bool
	SrcVLAN, DstVLAN uint32
}

// VLAN is the VLAN the sample's extended switch record names for the frame's
// input (0 when there is no record, or it names none): the VLAN of a header
// whose tag the switch stripped, for Classifier.ClassifyInVLAN.
func (h *SampledHeader) VLAN() uint16 {
	if h.ExtendedSwitch && h.SrcVLAN < 4095 {
		return uint16(h.SrcVLAN)
	}
	return 0
}

// Datagram is what WalkSFlow found in one datagram's header and samples.
type Datagram struct {
	// Agent is the agent address; the zero Addr when the agent sent type unknown.
	Agent    netip.Addr
	SubAgent uint32
	Sequence uint32
	Uptime   uint32 // milliseconds since the agent booted
	// Samples is the number of samples the header declares.
	Samples uint32
	// FlowSamples counts flow samples (0:1 and 0:3), CounterSamples counter samples
	// (0:2 and 0:4), SkippedSamples the samples of other formats, all skipped by
	// their length.
	FlowSamples, CounterSamples, SkippedSamples int
	// Headers counts raw packet header records, EthernetHeaders those of them
	// whose protocol is Ethernet, SkippedRecords the flow records that are
	// neither a header nor an extended switch record.
	Headers, EthernetHeaders, SkippedRecords int
}

// WalkSFlow walks one sFlow v5 datagram and calls fn with every raw packet header
// record of its flow samples, in order. Counter samples and samples and records of
// formats it does not decode are skipped by their declared length. Every length
// is checked against the bytes that hold it: a datagram that lies ends the walk
// with one of the ErrSFlow errors, never a panic. The headers of the samples
// before the bad one have been passed to fn and stand, as the agent did sample
// them; a bad flow sample passes none. fn must not keep h.Header.
//
// The walk itself does not allocate; fn is only called, so a closure passed here
// stays on the caller's stack.
func WalkSFlow(b []byte, fn func(h SampledHeader)) (Datagram, error) {
	var d Datagram
	if len(b) < 8 {
		return d, ErrSFlowTruncated
	}
	if binary.BigEndian.Uint32(b) != sflowVersion5 {
		return d, ErrSFlowVersion
	}
	off := 8
	switch binary.BigEndian.Uint32(b[4:]) {
	case sflowAddressUnknown:
	case sflowAddressIPv4:
		if len(b) < off+4 {
			return d, ErrSFlowTruncated
		}
		d.Agent = netip.AddrFrom4([4]byte(b[off : off+4]))
		off += 4
	case sflowAddressIPv6:
		if len(b) < off+16 {
			return d, ErrSFlowTruncated
		}
		d.Agent = netip.AddrFrom16([16]byte(b[off : off+16]))
		off += 16
	default:
		return d, ErrSFlowAgentAddress
	}
	if len(b) < off+16 {
		return d, ErrSFlowTruncated
	}
	d.SubAgent = binary.BigEndian.Uint32(b[off:])
	d.Sequence = binary.BigEndian.Uint32(b[off+4:])
	d.Uptime = binary.BigEndian.Uint32(b[off+8:])
	d.Samples = binary.BigEndian.Uint32(b[off+12:])
	off += 16
	// Each sample takes at least 8 bytes or ends the walk, so a lying count
	// cannot make this loop run longer than the datagram allows.
	for range d.Samples {
		body, next, ok := xdrOpaque(b, off+4)
		if !ok {
			return d, ErrSFlowTruncated
		}
		switch binary.BigEndian.Uint32(b[off:]) {
		case sflowFlowSample:
			d.FlowSamples++
			if err := walkFlowSample(body, false, fn, &d); err != nil {
				return d, err
			}
		case sflowFlowSampleExpanded:
			d.FlowSamples++
			if err := walkFlowSample(body, true, fn, &d); err != nil {
				return d, err
			}
		case sflowCounterSample, sflowCounterSampleExpanded:
			d.CounterSamples++
		default:
			d.SkippedSamples++
		}
		off = next
	}
	return d, nil
}

// xdrOpaque reads the variable-length opaque whose length word is at b[off:]:
// its bytes, and the offset after them and their padding to 4 bytes. ok is false
// when the length word, the bytes or the padding are not all inside b.
func xdrOpaque(b []byte, off int) (data []byte, next int, ok bool) {
	if off < 0 || len(b)-off < 4 {
		return nil, 0, false
	}
	n := binary.BigEndian.Uint32(b[off:])
	off += 4
	// Compared as uint64 so that a huge length cannot wrap on 32-bit platforms.
	if uint64(n) > uint64(len(b)-off) {
		return nil, 0, false
	}
	end := off + int(n)
	next = end + (-end)&3
	if next > len(b) {
		return nil, 0, false
	}
	return b[off:end], next, true
}

// walkFlowSample walks the records of one flow sample's body (0:1, or 0:3 when
// expanded) and passes its raw packet headers to fn. The records are checked
// and the extended switch record found in a first pass, because agents put it
// before or after the header and both are needed together: a sample that does
// not hold together gives no header at all.
func walkFlowSample(s []byte, expanded bool, fn func(SampledHeader), d *Datagram) error {
	var h SampledHeader
	var records uint32
	var first int
	if expanded {
		if len(s) < sflowExpandedSampleLen {
			return ErrSFlowTruncated
		}
		h.SequenceNumber = binary.BigEndian.Uint32(s)
		h.SourceIDType = binary.BigEndian.Uint32(s[4:])
		h.SourceIDIndex = binary.BigEndian.Uint32(s[8:])
		h.SamplingRate = binary.BigEndian.Uint32(s[12:])
		h.SamplePool = binary.BigEndian.Uint32(s[16:])
		h.Drops = binary.BigEndian.Uint32(s[20:])
		h.Input = compactInterface(binary.BigEndian.Uint32(s[24:]), binary.BigEndian.Uint32(s[28:]))
		h.Output = compactInterface(binary.BigEndian.Uint32(s[32:]), binary.BigEndian.Uint32(s[36:]))
		h.Expanded = true
		records = binary.BigEndian.Uint32(s[40:])
		first = sflowExpandedSampleLen
	} else {
		if len(s) < sflowFlowSampleLen {
			return ErrSFlowTruncated
		}
		h.SequenceNumber = binary.BigEndian.Uint32(s)
		sourceID := binary.BigEndian.Uint32(s[4:])
		h.SourceIDType, h.SourceIDIndex = sourceID>>24, sourceID&0xffffff
		h.SamplingRate = binary.BigEndian.Uint32(s[8:])
		h.SamplePool = binary.BigEndian.Uint32(s[12:])
		h.Drops = binary.BigEndian.Uint32(s[16:])
		h.Input = binary.BigEndian.Uint32(s[20:])
		h.Output = binary.BigEndian.Uint32(s[24:])
		records = binary.BigEndian.Uint32(s[28:])
		first = sflowFlowSampleLen
	}

	off := first
	for range records {
		rec, next, ok := xdrOpaque(s, off+4)
		if !ok {
			return ErrSFlowTruncated
		}
		switch binary.BigEndian.Uint32(s[off:]) {
		case sflowRecordRawPacketHeader:
			if len(rec) < sflowRawHeaderLen {
				return ErrSFlowTruncated
			}
			if _, _, ok := xdrOpaque(rec, sflowRawHeaderLen-4); !ok {
				return ErrSFlowRawHeader
			}
		case sflowRecordExtendedSwitch:
			if len(rec) < sflowExtendedSwitchLen {
				return ErrSFlowTruncated
			}
			h.ExtendedSwitch = true
			h.SrcVLAN = binary.BigEndian.Uint32(rec)
			h.DstVLAN = binary.BigEndian.Uint32(rec[8:])
		}
		off = next
	}

	// Every record is inside s now: the second pass needs no checks beyond the
	// ones the slice expressions make anyway.
	off = first
	for range records {
		rec, next, _ := xdrOpaque(s, off+4)
		if binary.BigEndian.Uint32(s[off:]) != sflowRecordRawPacketHeader {
			if binary.BigEndian.Uint32(s[off:]) != sflowRecordExtendedSwitch {
				d.SkippedRecords++
			}
			off = next
			continue
		}
		h.Header, _, _ = xdrOpaque(rec, sflowRawHeaderLen-4)
		h.Protocol = binary.BigEndian.Uint32(rec)
		h.FrameLength = binary.BigEndian.Uint32(rec[4:])
		h.Stripped = binary.BigEndian.Uint32(rec[8:])
		d.Headers++
		if h.Protocol == SFlowHeaderProtocolEthernet {
			d.EthernetHeaders++
		}
		fn(h)
		off = next
	}
	return nil
}

// compactInterface encodes an expanded sample's interface (format, value) the way
// a compact flow sample sends it, so that SampledHeader has one encoding.
func compactInterface(format, value uint32) uint32 {
	return format<<30 | min(value, sflowInterfaceValueMax)
}

// ClassifySFlow walks one sFlow v5 datagram and adds every sampled Ethernet header
// to into through c, weighted by its sample's sampling rate: packets += rate,
// bytes += frame length × rate (DESIGN.md, "Classification rules (traffic)").
//
// A switch usually samples a frame with its VLAN tag already stripped and names
// the VLAN in the extended switch record; the classifier then takes the SSID from
// that VLAN (Classifier.ClassifyInVLAN), so that it counts for its SSID rather
// than for the untagged one. Headers of other protocols are not classified
// (Datagram.Headers minus EthernetHeaders says how many). A sampling rate of 0,
// which no agent should send, counts the sample once. On error, the samples
// before the bad one have been counted.
func ClassifySFlow(c *Classifier, dgram []byte, into *Counters) (Datagram, error) {
	return WalkSFlow(dgram, func(h SampledHeader) {
		if h.Protocol != SFlowHeaderProtocolEthernet {
			return
		}
		c.ClassifyInVLAN(h.Header, h.VLAN(), int(h.FrameLength), uint64(max(h.SamplingRate, 1)), into)
	})
}

// sflowSource identifies one sequence-number space: sFlow numbers datagrams per
// agent and sub-agent.
type sflowSource struct {
	agent    netip.Addr
	subAgent uint32
}

type sflowSequence struct {
	sequence, uptime uint32
}

// SequenceTracker counts datagrams lost between the agents and the listener from
// the gaps in their sequence numbers, per (agent, sub-agent). A sequence number
// that goes back, or an uptime that does, is an agent restart: counting starts
// again from the new number. A datagram that arrives late (reordered) looks like a
// restart too and costs at most the gap it fills being counted as lost.
//
// It is not safe for concurrent use: one listener goroutine owns it. Observing a
// known (agent, sub-agent) does not allocate.
type SequenceTracker struct {
	sources    map[sflowSource]sflowSequence
	maxSources int

	lost, restarts, duplicates, untracked uint64
}

// NewSequenceTracker returns a tracker of at most maxSources (agent, sub-agent)
// pairs; datagrams of further pairs are counted as untracked, so that a flood of
// made-up sub-agent IDs cannot grow it without bound.
func NewSequenceTracker(maxSources int) *SequenceTracker {
	return &SequenceTracker{sources: make(map[sflowSource]sflowSequence), maxSources: maxSources}
}

// Observe accounts one datagram and returns how many datagrams of its agent and
// sub-agent were lost just before it (0 for the first datagram of a pair and
// after a restart).
func (t *SequenceTracker) Observe(d Datagram) (lost uint32) {
	k := sflowSource{agent: d.Agent, subAgent: d.SubAgent}
	prev, known := t.sources[k]
	if !known {
		if len(t.sources) >= t.maxSources {
			t.untracked++
			return 0
		}
		t.sources[k] = sflowSequence{sequence: d.Sequence, uptime: d.Uptime}
		return 0
	}
	// The difference in uint32 arithmetic carries the sequence through its wrap
	// at 2³²; a "forward" step of 2³¹ or more is really a step back.
	step := d.Sequence - prev.sequence
	switch {
	case step == 0 && d.Uptime >= prev.uptime:
		t.duplicates++
		return 0
	case step >= 1<<31 || d.Uptime < prev.uptime || step == 0:
		t.restarts++
	default:
		lost = step - 1
		t.lost += uint64(lost)
	}
	t.sources[k] = sflowSequence{sequence: d.Sequence, uptime: d.Uptime}
	return lost
}

// SequenceStats are a SequenceTracker's totals.
type SequenceStats struct {
	// Lost is the number of datagrams missing from the sequence gaps.
	Lost uint64
	// Restarts counts sequence numbers or uptimes that went back.
	Restarts uint64
	// Duplicates counts datagrams with the previous datagram's sequence number.
	Duplicates uint64
	// Untracked counts datagrams of pairs beyond the tracker's limit.
	Untracked uint64
	// Sources is the number of (agent, sub-agent) pairs tracked.
	Sources int
}

// Stats returns the totals so far.
func (t *SequenceTracker) Stats() SequenceStats {
	return SequenceStats{Lost: t.lost, Restarts: t.restarts, Duplicates: t.duplicates, Untracked: t.untracked, Sources: len(t.sources)}
}
