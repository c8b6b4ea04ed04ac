package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// A real Prometheus scrapes the daemon: the hand-assembled gzip exposition must be
// what its scraper accepts, sample for sample.
func TestPrometheusScrapes(t *testing.T) {
	r := startDaemon(t)
	for _, dev := range []string{"core1", "core2", "wlc1", "access1", "access2", "access3", "access4"} {
		r.waitFor(t, "/metrics", `meetnoc_snmp_up{target="`+dev+`"} 1`, 15*time.Second)
	}
	prom := testenv.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: meetnoc
    static_configs: [{targets: ["%s"]}]
`, strings.TrimPrefix(r.base, "http://")))

	deadline := time.Now().Add(30 * time.Second)
	for {
		if v, ok, _ := prom.Query(`up{job="meetnoc"}`); ok && v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape meetnoc successfully within 30 s")
		}
		time.Sleep(250 * time.Millisecond)
	}
	for q, want := range map[string]float64{
		`count(meetnoc_snmp_up == 1)`:                       7,
		`count(meetnoc_ap_up{controller="wlc1"})`:           40,
		`count(count by (ssid) (meetnoc_ssid_clients))`:     3,
		`count(meetnoc_interface_up{target="access1"})`:     51,
		`count(meetnoc_snmp_target_info{role="core"})`:      2,
		`count(meetnoc_config_last_reload_successful == 1)`: 1,
		`count(meetnoc_build_info)`:                         1,
		// The lab's sFlow: every SSID carries IPv6, and only ietf has NAT64.
		`count(sum by (ssid) (meetnoc_traffic_bytes_total{family="ipv6"}) > 0)`:  3,
		`count(sum by (ssid) (meetnoc_traffic_bytes_total{family="nat64"}) > 0)`: 1,
		`count(meetnoc_capture_up{source="switches"} == 1)`:                      1,
		// The lab's DNS64 resolver is healthy at 10:00: all five checks pass.
		`count(meetnoc_dns_probe_success{resolver="lab-dns64"} == 1)`: 5,
		`count(meetnoc_dns64_prefix_info{prefix="64:ff9b::/96"})`:     1,
		`count(meetnoc_link_up{interface="lo"} == 1)`:                 1,
	} {
		if v, ok, err := prom.Query(q); err != nil || !ok || v != want {
			t.Errorf("%s = %v (ok %v, %v), want %v", q, v, ok, err, want)
		}
	}
	// The whole lab is ingested per scrape: nothing dropped as malformed.
	if v, _, _ := prom.Query(`scrape_samples_scraped{job="meetnoc"}`); v < 4000 {
		t.Errorf("Prometheus ingested %v samples per scrape, want the whole lab (> 4000)", v)
	}
}
