package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// macPattern matches EUI-48 addresses as Go and most tools print them.
var macPattern = regexp.MustCompile(`(?i)\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(-[0-9a-f]{2}){5}\b`)

// TestTrafficFromLab: the lab's access switches export sFlow of a meeting mix to
// the daemon. The mix shows per SSID, the rogue RA of the lab's misconfigured
// laptop is counted and logged at warning level with its MAC — and no client
// MAC or address is in any label of /metrics or in any log line below warning.
func TestTrafficFromLab(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// 10:06:57: the laptop on ietf-dual-stack starts its rogue RAs at :07.
	cfgFile := labConfigAt(t, ctx, time.Date(2026, 11, 22, 10, 6, 57, 0, time.Local))
	logs := &testenv.SyncBuffer{}
	r := runDaemon(t, ctx, cfgFile, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.waitFor(t, "/metrics", `meetnoc_router_advertisements_total{allowed="false",pref64="mismatch",ssid="ietf-dual-stack"}`, 20*time.Second)

	var families map[string]*family
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := r.get(t, "/metrics")
		families = parseMetrics(t, body)
		if families["meetnoc_router_advertisements_total"].sum(map[string]string{"allowed": "false", "ssid": "ietf-dual-stack"}) > 0 &&
			families["meetnoc_traffic_bytes_total"].sum(map[string]string{"ssid": "eduroam"}) > 0 {
			checkNoClientIdentifiers(t, r.d.Config(), body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rogue RA or no eduroam traffic within 20 s:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	bytesBy := families["meetnoc_traffic_bytes_total"]
	share := func(ssid string, fams ...string) float64 {
		var part float64
		for _, f := range fams {
			part += bytesBy.sum(map[string]string{"ssid": ssid, "family": f})
		}
		return part / bytesBy.sum(map[string]string{"ssid": ssid, "family": "ipv4"}, map[string]string{"ssid": ssid, "family": "ipv6"}, map[string]string{"ssid": ssid, "family": "nat64"})
	}
	// The lab's mix: ietf is IPv6-only with NAT64, a few per cent of IPv4 leaking;
	// the dual-stack SSIDs carry about 60 % IPv6. Sampling at 1:512 over a few
	// seconds makes these estimates, so the bounds are wide.
	t.Logf("bytes shares: ietf IPv6+NAT64 %.3f, NAT64 %.3f; ietf-dual-stack IPv6 %.3f",
		share("ietf", "ipv6", "nat64"), share("ietf", "nat64"), share("ietf-dual-stack", "ipv6", "nat64"))
	if s := share("ietf", "ipv6", "nat64"); s < 0.85 {
		t.Errorf("ietf IPv6+NAT64 share of bytes %.2f, want ≥ 0.85", s)
	}
	if s := share("ietf", "nat64"); s < 0.15 {
		t.Errorf("ietf NAT64 share of bytes %.2f, want ≥ 0.15", s)
	}
	if s := share("ietf-dual-stack", "ipv6", "nat64"); s < 0.4 || s > 0.8 {
		t.Errorf("ietf-dual-stack IPv6 share of bytes %.2f, want 0.4–0.8", s)
	}
	if n := families["meetnoc_capture_packets_total"].sum(map[string]string{"source": "switches"}); n == 0 {
		t.Error("the sFlow source took in nothing")
	}
	if n := families["meetnoc_sflow_datagrams_total"].sum(map[string]string{"result": "foreign_agent"}); n != 0 {
		t.Errorf("%v datagrams of the lab's own switches counted as foreign", n)
	}

	// The rogue RA is logged at warning level with the sender's MAC: the one
	// documented exception to the privacy rule. No other line names a MAC.
	var rogueLogged bool
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "rogue router") {
			rogueLogged = macPattern.MatchString(line) && strings.Contains(line, "ssid=ietf-dual-stack")
			continue
		}
		if m := macPattern.FindString(line); m != "" && !strings.Contains(line, "level=WARN") {
			t.Errorf("a log line below warning names a MAC (%s): %s", m, line)
		}
	}
	if !rogueLogged {
		t.Errorf("no warning naming the rogue router's MAC and SSID:\n%s", logs.String())
	}
}

// checkNoClientIdentifiers fails if any label value of the exposition is a MAC
// address or an address inside an SSID's client prefixes.
func checkNoClientIdentifiers(t *testing.T, cfg *config.Config, body string) {
	t.Helper()
	var prefixes []netip.Prefix
	for _, s := range cfg.SSIDs {
		prefixes = append(prefixes, s.ClientPrefixes...)
	}
	for name, fam := range parseMetrics(t, body) {
		for _, m := range fam.metrics {
			for label, value := range m.labels {
				if macPattern.MatchString(value) {
					t.Errorf("%s{%s=%q}: a MAC address in a label", name, label, value)
				}
				for _, word := range strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == ',' || r == '/' || r == '=' }) {
					a, err := netip.ParseAddr(strings.Trim(word, "[]"))
					if err != nil {
						continue
					}
					for _, p := range prefixes {
						if p.Contains(a.Unmap()) {
							t.Errorf("%s{%s=%q}: a client address in a label", name, label, value)
						}
					}
				}
			}
		}
	}
}

// family is one metric family, flattened for tests.
type family struct{ metrics []dtoMetric }

type dtoMetric struct {
	labels map[string]string
	value  float64
}

// sum adds the values of the series that match any of the label sets.
func (f *family) sum(matchers ...map[string]string) float64 {
	if f == nil {
		return 0
	}
	var total float64
	for _, m := range f.metrics {
		for _, want := range matchers {
			ok := true
			for k, v := range want {
				if m.labels[k] != v {
					ok = false
					break
				}
			}
			if ok {
				total += m.value
				break
			}
		}
	}
	return total
}

func parseMetrics(t *testing.T, body string) map[string]*family {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*family{}
	for name, mf := range fams {
		f := &family{}
		for _, m := range mf.GetMetric() {
			dm := dtoMetric{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				dm.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.Counter != nil:
				dm.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				dm.value = m.GetGauge().GetValue()
			case m.Untyped != nil:
				dm.value = m.GetUntyped().GetValue()
			}
			f.metrics = append(f.metrics, dm)
		}
		out[name] = f
	}
	return out
}
