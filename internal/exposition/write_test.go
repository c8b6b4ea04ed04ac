package exposition

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// decodeGzip decodes exactly one gzip member, as Prometheus does.
func decodeGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	zr.Multistream(false)
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if rest, _ := io.ReadAll(zr); len(rest) != 0 {
		t.Fatalf("%d bytes after the member", len(rest))
	}
	return text
}

func TestChunksConcatenate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cp := NewCompressor()
	for round := range 50 {
		var chunks []Chunk
		var want []byte
		for range rng.IntN(20) {
			text := randomBytes(rng, rng.IntN(3)*rng.IntN(5000)) // some empty
			if rng.IntN(2) == 0 {
				text = bytes.Repeat([]byte("abc"), rng.IntN(2000)) // compressible: back-references
			}
			chunks = append(chunks, cp.Compress(text))
			want = append(want, text...)
		}
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		e := newGzipEncoder(bw)
		for i := range chunks {
			e.chunk(&chunks[i])
		}
		if err := e.finish(); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if got := decodeGzip(t, out.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("round %d: decoded %d bytes, want %d", round, len(got), len(want))
		}
	}
}

// randomSet builds sources × families of random sample lines and the
// exposition they make.
func randomSet(rng *rand.Rand, nSources, nFamilies int) (sources [][]Part, want string) {
	cp := NewCompressor()
	fams := make([]*Family, nFamilies)
	for i := range fams {
		fams[i] = &Family{Name: fmt.Sprintf("fam_%03d_total", rng.IntN(1000)*1000+i), Help: "Help with \\ and\nnewline.", Type: "counter"}
		if i%2 == 1 {
			fams[i].Type = "gauge"
		}
	}
	texts := map[string][]string{}
	for s := range nSources {
		var parts []Part
		for _, f := range fams {
			if rng.IntN(4) == 0 {
				continue // this source lacks the family
			}
			series := NewSeries(f.Name, "alias", "target")
			var text []byte
			for j := range rng.IntN(50) {
				v := float64(rng.Uint64() >> rng.IntN(64))
				switch rng.IntN(10) {
				case 0:
					v = math.Inf(1)
				case 1:
					v = rng.NormFloat64()
				}
				text = series.Append(text, []string{fmt.Sprintf("port \"%d\"\\\n", j), fmt.Sprintf("sw%d", s)}, v)
			}
			parts = append(parts, Part{Family: f, Chunk: cp.Compress(text)})
			texts[f.Name] = append(texts[f.Name], string(text))
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		sources = append(sources, parts)
	}
	slices.SortFunc(fams, func(a, b *Family) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	for _, f := range fams {
		if strings.Join(texts[f.Name], "") == "" {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s Help with \\\\ and\\nnewline.\n# TYPE %s %s\n", f.Name, f.Name, f.Type)
		for _, t := range texts[f.Name] {
			b.WriteString(t)
		}
	}
	return sources, b.String()
}

func TestWriteRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 20 {
		sources, want := randomSet(rng, 1+rng.IntN(30), 1+rng.IntN(12))
		var gz, plain bytes.Buffer
		if err := Write(&gz, true, sources, nil); err != nil {
			t.Fatal(err)
		}
		if err := Write(&plain, false, sources, nil); err != nil {
			t.Fatal(err)
		}
		if got := string(decodeGzip(t, gz.Bytes())); got != want {
			t.Fatalf("round %d: gzip exposition differs:\n%s\nwant:\n%s", round, head(got), head(want))
		}
		if plain.String() != want {
			t.Fatalf("round %d: identity exposition differs:\n%s\nwant:\n%s", round, head(plain.String()), head(want))
		}
		parse(t, want) // and it is valid text format
	}
}

func head(s string) string { return s[:min(len(s), 2000)] }

func parse(t *testing.T, text string) map[string]*familyText {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("text parser: %v", err)
	}
	out := map[string]*familyText{}
	for name, mf := range mfs {
		var b bytes.Buffer
		expfmt.MetricFamilyToText(&b, mf)
		out[name] = &familyText{b.String()}
	}
	return out
}

type familyText struct{ s string }

// The output is what gzip(1) and zcat read too, not only Go's decoder.
func TestSystemGzipReadsIt(t *testing.T) {
	paths := testenv.Require(t, "gzip", "zcat")
	rng := rand.New(rand.NewPCG(11, 12))
	sources, want := randomSet(rng, 40, 10)
	var gz bytes.Buffer
	if err := Write(&gz, true, sources, []Text{{Name: "aaa_first", Text: []byte("# TYPE aaa_first gauge\naaa_first 1\n")}}); err != nil {
		t.Fatal(err)
	}
	want = "# TYPE aaa_first gauge\naaa_first 1\n" + want
	for _, cmd := range [][]string{{paths[0], "-dc"}, {paths[1]}} {
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Stdin = bytes.NewReader(gz.Bytes())
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("%v warns: %s", cmd, stderr.String())
		}
		if string(out) != want {
			t.Errorf("%v: %d bytes differ from the %d expected", cmd, len(out), len(want))
		}
	}
	// gzip -t checks the CRC and length in the trailer.
	c := exec.Command(paths[0], "-t")
	c.Stdin = bytes.NewReader(gz.Bytes())
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("gzip -t: %v: %s", err, out)
	}
}

func TestWriteMergesGatheredFamilies(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "aaa_gauge", Help: "First."}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "mmm_total", Help: "Middle."}),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "zzz_gauge", Help: "Last."}),
	)
	other, err := Gathered(reg)
	if err != nil {
		t.Fatal(err)
	}
	cp := NewCompressor()
	up := &Family{Name: "meetnoc_snmp_up", Help: "Up.", Type: "gauge"}
	bytesTotal := &Family{Name: "meetnoc_interface_receive_bytes_total", Help: "Bytes.", Type: "counter"}
	s := NewSeries(up.Name, "target")
	b := NewSeries(bytesTotal.Name, "interface", "target")
	sources := [][]Part{
		{{Family: up, Chunk: cp.Compress(s.Append(nil, []string{"sw1"}, 1))},
			{Family: bytesTotal, Chunk: cp.Compress(b.Append(b.Append(nil, []string{"Gi1", "sw1"}, 1e12), []string{"Gi2", "sw1"}, 0))}},
		{{Family: up, Chunk: cp.Compress(s.Append(nil, []string{"sw2"}, 0))},
			{Family: bytesTotal, Chunk: cp.Compress(nil)}},
	}
	want := `# HELP aaa_gauge First.
# TYPE aaa_gauge gauge
aaa_gauge 0
# HELP meetnoc_interface_receive_bytes_total Bytes.
# TYPE meetnoc_interface_receive_bytes_total counter
meetnoc_interface_receive_bytes_total{interface="Gi1",target="sw1"} 1e+12
meetnoc_interface_receive_bytes_total{interface="Gi2",target="sw1"} 0
# HELP meetnoc_snmp_up Up.
# TYPE meetnoc_snmp_up gauge
meetnoc_snmp_up{target="sw1"} 1
meetnoc_snmp_up{target="sw2"} 0
# HELP mmm_total Middle.
# TYPE mmm_total counter
mmm_total 0
# HELP zzz_gauge Last.
# TYPE zzz_gauge gauge
zzz_gauge 0
`
	var gz, plain bytes.Buffer
	if err := Write(&gz, true, sources, other); err != nil {
		t.Fatal(err)
	}
	if err := Write(&plain, false, sources, other); err != nil {
		t.Fatal(err)
	}
	if got := string(decodeGzip(t, gz.Bytes())); got != want {
		t.Errorf("gzip:\n%s\nwant:\n%s", got, want)
	}
	if plain.String() != want {
		t.Errorf("identity:\n%s\nwant:\n%s", plain.String(), want)
	}

	// A family both gathered and pre-rendered is refused, before any byte.
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "meetnoc_snmp_up", Help: "Clash."}))
	other, _ = Gathered(reg)
	var out bytes.Buffer
	err = Write(&out, true, sources, other)
	if err == nil || !strings.Contains(err.Error(), "meetnoc_snmp_up") {
		t.Errorf("duplicate family: err %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes written despite the error", out.Len())
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{1, "1"}, {0, "0"}, {math.Copysign(0, -1), "0"}, {-1, "-1"}, {math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {1e12, "1e+12"}, {0.1, "0.1"},
		{18446744073709551615, "1.8446744073709552e+19"}, {1234567, "1.234567e+06"}, {2.5e-7, "2.5e-07"},
	} {
		if got := string(AppendFloat(nil, tc.v)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tc.v, got, tc.want)
		}
		// As client_golang writes it.
		var b bytes.Buffer
		expfmt.MetricFamilyToText(&b, &dto.MetricFamily{
			Name: new("x"), Help: new("X."), Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: new(tc.v)}}},
		})
		if line := strings.Split(b.String(), "\n")[2]; line != "x "+tc.want {
			t.Errorf("expfmt writes %q for %v, AppendFloat %q", line, tc.v, tc.want)
		}
	}
	s := NewSeries("m", "a", "b")
	got := string(s.Append(nil, []string{`q"uo\te` + "\n", "ü"}, 2.5))
	if want := `m{a="q\"uo\\te\n",b="ü"} 2.5` + "\n"; got != want {
		t.Errorf("Append: %s, want %s", got, want)
	}
	if got := string(NewSeries("n").Append(nil, nil, 3)); got != "n 3\n" {
		t.Errorf("no labels: %q", got)
	}
	// What it writes, the parser reads back exactly.
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(got + "\n" + string(s.Append(nil, []string{`q"uo\te` + "\n", "ü"}, 1.0000000000000002))))
	if err != nil {
		t.Fatal(err)
	}
	m := mfs["m"].GetMetric()[1]
	if v := m.GetUntyped().GetValue(); v != 1.0000000000000002 || m.GetLabel()[0].GetValue() != `q"uo\te`+"\n" {
		t.Errorf("round trip: %v %q", v, m.GetLabel()[0].GetValue())
	}
}
