//go:build unix

package traffic

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// A classic pcap file on disk is read through a read-only memory mapping: each
// record's bytes are handed to the worker where they lie in the page cache,
// with no read(2) and no copy. For a 1 GB capture of full-size frames the two
// copies of the buffered reader (kernel → bufio → record buffer) cost more than
// classifying the frames. Pipes, gzip files and pcapng keep pcapgo's readers.

const (
	pcapGlobalHeaderLen = 24
	pcapRecordHeaderLen = 16
	// pcapMaxCaptureLen is the largest record accepted, as libpcap's
	// MAXIMUM_SNAPLEN: a larger length is a corrupt file, not a frame.
	pcapMaxCaptureLen = 262144
)

// pcapReleaseEvery is how far the reader gets past the pages it last released:
// pages already read are dropped from the process (they stay in the page cache),
// so that replaying a 10 GB file does not show as 10 GB of resident memory.
const pcapReleaseEvery = 2 << 20

// mappedPcap reads the records of a mapped classic pcap file.
type mappedPcap struct {
	data     []byte
	off      int
	released int // bytes from the start already given back with releasePages
	order    binary.ByteOrder
	nanos    bool // nanosecond timestamps (magic 0xa1b23c4d)
}

// mapPcap maps f when it is a regular, uncompressed, classic pcap file of
// Ethernet frames; ok is false when it is not one (the caller reads it with
// pcapgo), and err names the file when it is one that cannot be read.
func mapPcap(f *os.File, path string) (m *mappedPcap, ok bool, err error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < pcapGlobalHeaderLen || int64(int(fi.Size())) != fi.Size() {
		return nil, false, nil
	}
	var hdr [pcapGlobalHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, false, nil
	}
	m = &mappedPcap{off: pcapGlobalHeaderLen}
	switch {
	case binary.LittleEndian.Uint32(hdr[:4]) == 0xa1b2c3d4:
		m.order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:4]) == 0xa1b2c3d4:
		m.order = binary.BigEndian
	case binary.LittleEndian.Uint32(hdr[:4]) == 0xa1b23c4d:
		m.order, m.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(hdr[:4]) == 0xa1b23c4d:
		m.order, m.nanos = binary.BigEndian, true
	default:
		return nil, false, nil
	}
	// The link type is the low 16 bits of the last field; the upper bits carry
	// the FCS length flags of some writers.
	if err := checkLinkType(path, layers.LinkType(m.order.Uint32(hdr[20:24])&0xffff)); err != nil {
		return nil, true, err
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// A file system without mmap: the buffered reader still works.
		return nil, false, nil
	}
	adviseSequential(data)
	m.data = data
	return m, true, nil
}

// ZeroCopyReadPacketData returns the next record; data aliases the mapping and
// is valid until Close. It returns io.EOF at the end of the file and
// io.ErrUnexpectedEOF when the file ends inside a record.
func (m *mappedPcap) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	rest := len(m.data) - m.off
	if rest == 0 {
		return nil, ci, io.EOF
	}
	if rest < pcapRecordHeaderLen {
		return nil, ci, io.ErrUnexpectedEOF
	}
	h := m.data[m.off : m.off+pcapRecordHeaderLen]
	sec, frac := int64(m.order.Uint32(h[0:4])), int64(m.order.Uint32(h[4:8]))
	if !m.nanos {
		frac *= int64(time.Microsecond)
	}
	ci.Timestamp = time.Unix(sec, frac)
	ci.CaptureLength = int(m.order.Uint32(h[8:12]))
	ci.Length = int(m.order.Uint32(h[12:16]))
	if ci.CaptureLength > pcapMaxCaptureLen {
		return nil, ci, fmt.Errorf("record at byte %d: capture length %d exceeds %d: corrupt file", m.off, ci.CaptureLength, pcapMaxCaptureLen)
	}
	if ci.CaptureLength > ci.Length {
		return nil, ci, fmt.Errorf("record at byte %d: capture length exceeds original packet length (%d > %d): corrupt file", m.off, ci.CaptureLength, ci.Length)
	}
	start := m.off + pcapRecordHeaderLen
	if len(m.data)-start < ci.CaptureLength {
		return nil, ci, io.ErrUnexpectedEOF
	}
	// Every record before this one has been classified (the caller reads one
	// at a time), so the pages before it may go.
	if m.off-m.released >= pcapReleaseEvery {
		page := os.Getpagesize()
		if upTo := m.off / page * page; upTo > m.released {
			releasePages(m.data[m.released:upTo])
			m.released = upTo
		}
	}
	m.off = start + ci.CaptureLength
	return m.data[start:m.off:m.off], ci, nil
}

// Close unmaps the file.
func (m *mappedPcap) Close() error {
	if m.data == nil {
		return nil
	}
	err := syscall.Munmap(m.data)
	m.data = nil
	return err
}
