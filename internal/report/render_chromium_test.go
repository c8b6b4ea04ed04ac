package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// chromiumLoad has headless Chromium load file and screenshot it at the given
// window size, and returns the screenshot and Chromium's log. The flags keep
// it off the network (no name resolves) and out of the user's profile, as in
// internal/daemon's browser test; --enable-logging=stderr --v=1 makes it log
// the page's console messages (":CONSOLE") and every URL it loads
// (FileURLLoader::Start for files, NotifyBeforeURLRequest for the network).
func chromiumLoad(t *testing.T, file string, width, height int) (image.Image, string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "shot.png")
	_, log := testenv.Chromium(t, (&url.URL{Scheme: "file", Path: file}).String(),
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height),
		"--hide-scrollbars", "--enable-logging=stderr", "--v=1", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img, string(log)
}

var (
	consoleLine = regexp.MustCompile(`(?m):CONSOLE[:(]?\d*\)?\] (.*)$`)
	fileLoad    = regexp.MustCompile(`FileURLLoader::Start: (\S+)`)
	netRequest  = regexp.MustCompile(`NotifyBeforeURLRequest: (\S+)`)
)

// pageActivity is what the page did according to Chromium's log: its console
// messages, and the URLs it loaded besides itself. Chromium's own requests to
// Google's services (update checks, account lookups, which fail here) are not
// the page's.
func pageActivity(log, self string) (console, loads []string) {
	for _, m := range consoleLine.FindAllStringSubmatch(log, -1) {
		console = append(console, m[1])
	}
	for _, m := range fileLoad.FindAllStringSubmatch(log, -1) {
		if m[1] != self {
			loads = append(loads, m[1])
		}
	}
	for _, m := range netRequest.FindAllStringSubmatch(log, -1) {
		u, err := url.Parse(m[1])
		if err == nil && (u.Hostname() == "google.com" || strings.HasSuffix(u.Hostname(), ".google.com") || strings.HasSuffix(u.Hostname(), ".googleapis.com")) {
			continue
		}
		loads = append(loads, m[1])
	}
	return console, loads
}

// The check of Chromium's log works: a page with a console error, a missing
// file and a network image is caught on all three counts.
func TestRenderHTMLChromiumLogCheck(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><p>x</p><img src="missing.png"><img src="http://127.0.0.1:1/x.png">`+
		`<script>console.error("report-check-marker")</script></body></html>`), 0o644)
	_, log := chromiumLoad(t, page, 800, 600)
	console, loads := pageActivity(log, "file://"+page)
	if len(console) != 1 || !strings.Contains(console[0], "report-check-marker") {
		t.Errorf("console messages %q, want the marker", console)
	}
	if strings.Join(loads, " ") != "file://"+filepath.Join(dir, "missing.png")+" http://127.0.0.1:1/x.png" &&
		strings.Join(loads, " ") != "http://127.0.0.1:1/x.png file://"+filepath.Join(dir, "missing.png") {
		t.Errorf("loads %q, want missing.png and the network image", loads)
	}
}

// A real browser renders report.html: no console message (the page has no
// script, so any would be an error or warning), nothing loaded but the page,
// and every chart drawn. Each chart is screenshot on its own (a copy of the
// page with one style rule added that hides everything else) and must show
// each of its series' colours and the grey of the gap.
func TestRenderHTMLChromium(t *testing.T) {
	testenv.Require(t, "chromium")
	r := renderTestReport()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("MEETNOC_REPORT_DIR"); d != "" {
		os.WriteFile(filepath.Join(d, "report.html"), b.Bytes(), 0o644)
	}

	img, log := chromiumLoad(t, page, 1200, 1600)
	console, loads := pageActivity(log, "file://"+page)
	if len(console) > 0 {
		t.Errorf("console messages: %q", console)
	}
	if len(loads) > 0 {
		t.Errorf("the page loaded %q", loads)
	}
	if !strings.Contains(log, "FileURLLoader::Start: file://"+page) {
		t.Fatalf("Chromium's log does not show it loading the page; is logging working?\n%s", log[max(0, len(log)-4000):])
	}
	if n := countPixels(img, func(c color.RGBA) bool { return c.R < 200 || c.G < 200 || c.B < 200 }); n < 20_000 {
		t.Errorf("the page's screenshot is nearly blank: %d dark pixels", n)
	}

	for _, c := range Charts {
		t.Run(c.ID, func(t *testing.T) {
			only := strings.Replace(b.String(), "</head>", `<style>
body > :not(#charts), #charts > :not(#chart-`+c.ID+`) { display: none !important; }
body { margin: 0 !important; }
</style></head>`, 1)
			file := filepath.Join(dir, "chart-"+c.ID+".html")
			os.WriteFile(file, []byte(only), 0o644)
			img, log := chromiumLoad(t, file, 1000, 500)
			if console, loads := pageActivity(log, "file://"+file); len(console)+len(loads) > 0 {
				t.Errorf("console %q, loads %q", console, loads)
			}
			if d := os.Getenv("MEETNOC_REPORT_DIR"); d != "" {
				f, _ := os.Create(filepath.Join(d, "chart-"+c.ID+".png"))
				png.Encode(f, img)
				f.Close()
			}
			i := 0
			for _, s := range r.Series {
				if s.Chart != c.ID {
					continue
				}
				want := chartPalette[i]
				i++
				if n := countPixels(img, nearColor(want)); n < 300 {
					t.Errorf("series %s: %d pixels of its colour %v, want a drawn line", s.Name, n, want)
				}
			}
			// The gap is a grey band over the plot's height: columns mostly of
			// its grey, side by side (grid lines' anti-aliasing makes one or
			// two). The legend, with its grey swatch, is on the right: look left
			// of it.
			plotArea := img.Bounds()
			plotArea.Max.X = plotArea.Dx() * 3 / 4
			w := widestBand(subImage(img, plotArea), nearColor(gapColor), 100)
			if w < 5 {
				t.Errorf("the widest band of the gap's grey is %d px, want the gap shaded", w)
			}
			t.Logf("gap band %d px wide", w)
			if n := countPixels(img, func(c color.RGBA) bool { return c.R < 80 && c.G < 80 && c.B < 80 }); n < 1000 {
				t.Errorf("%d black pixels: no axes or labels", n)
			}
		})
	}
}

func nearColor(want color.RGBA) func(color.RGBA) bool {
	d := func(a, b uint8) int {
		if a > b {
			return int(a - b)
		}
		return int(b - a)
	}
	return func(c color.RGBA) bool { return d(c.R, want.R) < 24 && d(c.G, want.G) < 24 && d(c.B, want.B) < 24 }
}

// widestBand is the most adjacent columns of img with at least minHeight
// pixels that match.
func widestBand(img image.Image, match func(color.RGBA) bool, minHeight int) int {
	b := img.Bounds()
	widest, run := 0, 0
	for x := b.Min.X; x < b.Max.X; x++ {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if match(color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)) {
				n++
			}
		}
		if n >= minHeight {
			run++
			widest = max(widest, run)
		} else {
			run = 0
		}
	}
	return widest
}

func subImage(img image.Image, r image.Rectangle) image.Image {
	return img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

func countPixels(img image.Image, match func(color.RGBA) bool) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if match(color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)) {
				n++
			}
		}
	}
	return n
}
