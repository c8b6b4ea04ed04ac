package exposition

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// ContentType is the text format's, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Family is a metric family's metadata.
type Family struct {
	Name string
	Help string
	Type string // counter, gauge, untyped, summary or histogram, as in a TYPE line
}

// Part is one source's chunk of one family.
type Part struct {
	Family *Family
	Chunk  Chunk
}

// Text is a whole metric family already rendered in the text format, its HELP
// and TYPE lines included: the output of expfmt.MetricFamilyToText.
type Text struct {
	Name string
	Text []byte
}

// Gathered renders what g gathers, one Text per family, in name order. Like
// Gather it may return families and an error.
func Gathered(g prometheus.Gatherer) ([]Text, error) {
	mfs, gerr := g.Gather()
	out := make([]Text, 0, len(mfs))
	var buf bytes.Buffer
	for _, mf := range mfs {
		buf.Reset()
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return out, fmt.Errorf("rendering %s: %w", mf.GetName(), err)
		}
		out = append(out, Text{Name: mf.GetName(), Text: bytes.Clone(buf.Bytes())})
	}
	return out, gerr
}

// Write writes one exposition: every family in name order, each with its HELP
// and TYPE once and then all its lines, as the text format requires. The
// families are the chunks of sources, grouped by family name (in the order of
// sources within a family; a family's first part gives its metadata), and
// other. A name both in other and among the chunks is an error, found before
// anything is written.
//
// With gzipped set, w gets one gzip member: the chunks' bytes as they are, and
// only the HELP/TYPE lines and other compressed on the way. Otherwise w gets
// the text, each chunk inflated on the way.
func Write(w io.Writer, gzipped bool, sources [][]Part, other []Text) error {
	type group struct {
		family *Family
		chunks []*Chunk
	}
	groups := make(map[string]*group)
	var names []string
	for _, src := range sources {
		for i := range src {
			p := &src[i]
			if p.Chunk.size == 0 {
				continue
			}
			g := groups[p.Family.Name]
			if g == nil {
				g = &group{family: p.Family}
				groups[p.Family.Name] = g
				names = append(names, p.Family.Name)
			}
			g.chunks = append(g.chunks, &p.Chunk)
		}
	}
	slices.Sort(names)
	other = slices.Clone(other)
	slices.SortStableFunc(other, func(a, b Text) int { return cmp.Compare(a.Name, b.Name) })
	for _, t := range other {
		if groups[t.Name] != nil {
			return fmt.Errorf("exposition: metric family %s comes both pre-rendered and from a gatherer", t.Name)
		}
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	var out encoder
	if gzipped {
		out = newGzipEncoder(bw)
	} else {
		out = newTextEncoder(bw)
	}
	var line []byte
	i := 0
	for _, name := range names {
		for ; i < len(other) && other[i].Name < name; i++ {
			out.text(other[i].Text)
		}
		g := groups[name]
		line = append(line[:0], "# HELP "...)
		line = append(line, name...)
		line = append(line, ' ')
		line = appendHelp(line, g.family.Help)
		line = append(line, "\n# TYPE "...)
		line = append(line, name...)
		line = append(line, ' ')
		line = append(line, cmp.Or(g.family.Type, "untyped")...)
		line = append(line, '\n')
		out.text(line)
		for _, c := range g.chunks {
			out.chunk(c)
		}
	}
	for ; i < len(other); i++ {
		out.text(other[i].Text)
	}
	if err := out.finish(); err != nil {
		return err
	}
	return bw.Flush()
}

type encoder interface {
	text([]byte)
	chunk(*Chunk)
	finish() error
}

// gzipEncoder writes one gzip member (RFC 1952) around a DEFLATE stream made of
// chunks and of text it compresses itself.
type gzipEncoder struct {
	w       *bufio.Writer
	fw      *flate.Writer
	pending []byte // text not yet compressed
	crc     uint32
	size    uint32 // ISIZE: the length mod 2^32
}

// gzipHeader: magic, CM=8 (deflate), no flags, no mtime, XFL 0, OS unknown.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

func newGzipEncoder(w *bufio.Writer) *gzipEncoder {
	w.Write(gzipHeader)
	return &gzipEncoder{w: w, fw: flateWriters.Get().(*flate.Writer)}
}

func (e *gzipEncoder) text(b []byte) { e.pending = append(e.pending, b...) }

// flushText compresses the pending text into non-final blocks, byte-aligned,
// from a reset writer, so that it too refers to nothing before it.
func (e *gzipEncoder) flushText() {
	if len(e.pending) == 0 {
		return
	}
	e.crc = crc32.Update(e.crc, crc32.IEEETable, e.pending)
	e.size += uint32(len(e.pending))
	e.fw.Reset(e.w)
	e.fw.Write(e.pending)
	e.fw.Flush()
	e.pending = e.pending[:0]
}

func (e *gzipEncoder) chunk(c *Chunk) {
	e.flushText()
	e.w.Write(c.deflated)
	e.crc = multModP(c.shift, e.crc) ^ c.crc // CRC32Combine, with the operator cached
	e.size += uint32(c.size)
}

func (e *gzipEncoder) finish() error {
	e.flushText()
	e.fw.Reset(nil)
	flateWriters.Put(e.fw)
	e.w.Write(finalBlock)
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[0:], e.crc)
	binary.LittleEndian.PutUint32(trailer[4:], e.size)
	_, err := e.w.Write(trailer[:])
	return err
}

// textEncoder writes plain text, inflating chunks.
type textEncoder struct {
	w   *bufio.Writer
	src bytes.Reader
	fin bytes.Reader
	fr  io.ReadCloser
	err error
}

func newTextEncoder(w *bufio.Writer) *textEncoder {
	e := &textEncoder{w: w}
	e.fr = flate.NewReader(&e.src)
	return e
}

func (e *textEncoder) text(b []byte) { e.w.Write(b) }

func (e *textEncoder) chunk(c *Chunk) {
	if e.err != nil {
		return
	}
	// A chunk is no stream of its own until a final block ends it.
	e.src.Reset(c.deflated)
	e.fin.Reset(finalBlock)
	e.fr.(flate.Resetter).Reset(io.MultiReader(&e.src, &e.fin), nil)
	n, err := io.Copy(e.w, e.fr)
	if err == nil && n != int64(c.size) {
		err = fmt.Errorf("exposition: a chunk inflated to %d bytes, want %d", n, c.size)
	}
	e.err = err
}

func (e *textEncoder) finish() error { return e.err }
