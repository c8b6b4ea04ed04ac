package exposition

import (
	"compress/flate"
	"fmt"
	"io"
	"testing"
)

// benchSources is the benchmark's scale: 1,000 switches × 15 families × 48
// interfaces, lines like those of the if_mib profile.
func benchSources(tb testing.TB, nSources, nFamilies, nSeries int) (sources [][]Part, text int) {
	cp := NewCompressor()
	fams := make([]*Family, nFamilies)
	for i := range fams {
		fams[i] = &Family{Name: fmt.Sprintf("meetnoc_interface_metric_%02d_total", i), Help: "A benchmark counter.", Type: "counter"}
	}
	var buf []byte
	for s := range nSources {
		parts := make([]Part, 0, nFamilies)
		target := fmt.Sprintf("switch-%04d.venue.example", s)
		for fi, f := range fams {
			series := NewSeries(f.Name, "alias", "interface", "target")
			buf = buf[:0]
			for i := range nSeries {
				buf = series.Append(buf, []string{fmt.Sprintf("hall %d desk %d", s%7, i), fmt.Sprintf("GigabitEthernet1/0/%d", i+1), target},
					float64(uint64(s*1e9+i*1e6+fi*977)))
			}
			text += len(buf)
			parts = append(parts, Part{Family: f, Chunk: cp.Compress(buf)})
		}
		sources = append(sources, parts)
	}
	return sources, text
}

func BenchmarkWriteGzip(b *testing.B) {
	sources, text := benchSources(b, 1000, 15, 48)
	var compressed int
	for _, s := range sources {
		for _, p := range s {
			compressed += p.Chunk.CompressedLen()
		}
	}
	b.SetBytes(int64(compressed))
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, true, sources, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(text)/1e6, "MB-text")
	b.ReportMetric(float64(compressed)/1e6, "MB-gzip")
}

func BenchmarkWriteIdentity(b *testing.B) {
	sources, text := benchSources(b, 100, 15, 48)
	b.SetBytes(int64(text))
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, false, sources, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompress is the poll-time cost: one family's 48 lines, at the
// levels one might choose.
func BenchmarkCompress(b *testing.B) {
	series := NewSeries("meetnoc_interface_receive_bytes_total", "alias", "interface", "target")
	var text []byte
	for i := range 48 {
		text = series.Append(text, []string{fmt.Sprintf("hall 3 desk %d", i), fmt.Sprintf("GigabitEthernet1/0/%d", i+1), "switch-0042.venue.example"},
			float64(uint64(42e9+i*1e6)))
	}
	for _, level := range []int{flate.BestSpeed, 2, flate.DefaultCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			fw, _ := flate.NewWriter(nil, level)
			cp := &Compressor{fw: fw}
			c := cp.Compress(text)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				cp.Compress(text)
			}
			b.ReportMetric(float64(len(text))/float64(c.CompressedLen()), "ratio")
		})
	}
}
