package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// chromium runs headless Chromium on url (testenv.Chromium) in a window of
// 1500×1000.
func chromium(t *testing.T, url string, flags ...string) []byte {
	t.Helper()
	out, _ := testenv.Chromium(t, url, append([]string{"--window-size=1500,1000"}, flags...)...)
	return out
}

// The status page as a NOC volunteer sees it: a real browser renders it, every target
// is a row with its state, and nothing is fetched from elsewhere.
func TestStatusPageInBrowser(t *testing.T) {
	r := startDaemon(t)
	for _, dev := range []string{"core1", "core2", "wlc1", "access1", "access2", "access3", "access4"} {
		r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="`+dev+`"} 1`, 15*time.Second)
	}
	dom := string(chromium(t, r.base+"/", "--dump-dom"))
	for _, want := range []string{"<b>core1</b>", "<b>access4</b>", "if_mib, cisco_wlc", "7 up", "0 down"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	snmpPart, trafficPart, ok := strings.Cut(dom, "<h2>Traffic sources</h2>")
	if !ok {
		t.Fatal("rendered page lacks the traffic sources section")
	}
	if n := strings.Count(snmpPart, `<tr class="up">`); n != 7 {
		t.Errorf("%d SNMP rows marked up, want 7", n)
	}
	// The lab's switches export sFlow to the daemon's listener.
	for _, want := range []string{`<tr class="up">`, "<b>switches</b>", "sflow", "capturing"} {
		if !strings.Contains(trafficPart, want) {
			t.Errorf("traffic sources section lacks %q:\n%s", want, trafficPart)
		}
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	chromium(t, r.base+"/", "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot is not a rendered page (%d bytes)", len(png))
	}
	if dir := os.Getenv("MEETNOC_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "status.png"), png, 0o644)
	}
}
