// Package exposition serves the Prometheus text format (version 0.0.4) from
// series rendered and compressed ahead of time.
//
// A source (an SNMP target) changes only when it is polled, so its series are
// formatted once, at poll time, one Chunk per metric family, and DEFLATE-
// compressed then, as kube-state-metrics caches its rendered series one step
// short of this. A chunk is a run of non-final DEFLATE blocks that ends on a
// byte boundary and refers to nothing before it, so any sequence of chunks is
// itself a valid DEFLATE stream: a gzip scrape (Prometheus always asks for
// gzip) writes a header, the cached bytes, a final empty block and a trailer
// whose CRC is combined from the chunks' CRCs. No series is formatted or
// compressed at scrape time.
package exposition

import (
	"bytes"
	"compress/flate"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
)

// Chunk is the sample lines of one metric family from one source, compressed:
// DEFLATE blocks, none final, ending byte-aligned (a sync flush), with no
// back-reference before its start. It is immutable once built.
type Chunk struct {
	deflated []byte
	crc      uint32 // CRC-32 (IEEE) of the text
	shift    uint32 // crc32Shift(size), for combining
	size     int    // length of the text
}

// Len is the length of the chunk's uncompressed text.
func (c *Chunk) Len() int { return c.size }

// CompressedLen is the length of its DEFLATE blocks.
func (c *Chunk) CompressedLen() int { return len(c.deflated) }

// finalBlock is an empty final DEFLATE block with fixed Huffman codes: BFINAL=1,
// BTYPE=01, then end-of-block (seven zero bits). It ends a stream of chunks.
var finalBlock = []byte{0x03, 0x00}

// Compressor turns text into chunks. It holds a flate.Writer (several hundred
// kB), so keep one per goroutine or in a sync.Pool, not one per source.
type Compressor struct {
	fw  *flate.Writer
	buf bytes.Buffer
}

// Level is the compression level of chunks: BestSpeed, because a 1,000-target
// poller compresses tens of MB of text a minute, and the text is so repetitive
// that the faster level loses little (see the package benchmarks).
const Level = flate.BestSpeed

// NewCompressor returns a Compressor.
func NewCompressor() *Compressor {
	fw, err := flate.NewWriter(nil, Level)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return &Compressor{fw: fw}
}

// Compress compresses text into a chunk whose bytes are its own (text may be
// reused at once).
func (c *Compressor) Compress(text []byte) Chunk {
	c.buf.Reset()
	// A reset writer keeps no history, so nothing in the chunk refers back
	// into whatever precedes it in a response.
	c.fw.Reset(&c.buf)
	c.fw.Write(text) // a bytes.Buffer does not fail
	c.fw.Flush()     // not Close: no final block, and the end is byte-aligned
	return Chunk{
		deflated: bytes.Clone(c.buf.Bytes()),
		crc:      crc32.ChecksumIEEE(text),
		shift:    crc32Shift(int64(len(text))),
		size:     len(text),
	}
}

// AppendFloat appends v as the text format spells it, as expfmt does: the
// shortest representation that round-trips, and +Inf, -Inf, NaN.
func AppendFloat(dst []byte, v float64) []byte {
	switch {
	case v == 1:
		return append(dst, '1')
	case v == 0:
		return append(dst, '0') // -0 too, as expfmt
	case v == -1:
		return append(dst, "-1"...)
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, +1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// AppendLabelValue appends s escaped for a label value: backslash, double
// quote and line feed.
func AppendLabelValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, `\\`...)
		case '"':
			dst = append(dst, `\"`...)
		case '\n':
			dst = append(dst, `\n`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Series is the fixed text around a series' label values and value, for one
// metric name and label names: `name{a="`, `",b="`, `"} `.
type Series struct {
	parts []string
}

// NewSeries lays out the series of metric name with the given label names,
// which must be valid (they are not escaped).
func NewSeries(name string, labelNames ...string) Series {
	if len(labelNames) == 0 {
		return Series{parts: []string{name + " "}}
	}
	parts := make([]string, 0, len(labelNames)+1)
	parts = append(parts, name+"{"+labelNames[0]+`="`)
	for _, l := range labelNames[1:] {
		parts = append(parts, `",`+l+`="`)
	}
	parts = append(parts, `"} `)
	return Series{parts: parts}
}

// Labels is the number of label values Append takes.
func (s Series) Labels() int { return len(s.parts) - 1 }

// Append appends one sample line: the label values (as many as label names,
// in their order) escaped, and the value.
func (s Series) Append(dst []byte, values []string, v float64) []byte {
	dst = append(dst, s.parts[0]...)
	for i, val := range values[:len(s.parts)-1] {
		dst = AppendLabelValue(dst, val)
		dst = append(dst, s.parts[i+1]...)
	}
	dst = AppendFloat(dst, v)
	return append(dst, '\n')
}

// appendHelp appends help escaped for a HELP line: backslash and line feed.
func appendHelp(dst []byte, help string) []byte {
	if !strings.ContainsAny(help, "\\\n") {
		return append(dst, help...)
	}
	for i := 0; i < len(help); i++ {
		switch c := help[i]; c {
		case '\\':
			dst = append(dst, `\\`...)
		case '\n':
			dst = append(dst, `\n`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
