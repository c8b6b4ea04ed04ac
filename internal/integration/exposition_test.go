package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// TestWholeExpositionLints puts every profile and every kind of target (recordings
// of real devices, the project's controller recordings, a real snmpd over v2c and
// v3, and a target that fails) into one collector, and lints everything it exports
// with client_golang's linter and with promtool, as a Prometheus operator would.
func TestWholeExpositionLints(t *testing.T) {
	shared := testenv.StartSnmpsim(t, filepath.Dir(testenv.SharedSnmprec(t, "ios_2960x")))
	ours := testenv.StartSnmpsim(t, recordingsDir(t))
	agent := testenv.StartSnmpd(t, testenv.SnmpdOptions{Community: "public", Users: []testenv.SnmpUser{userSHA256}})
	hole := blackHole(t)

	cfg := snmpsimConfig([]string{"ios_2960x", "arubaos", "linux_icecast", "cisco_wlc", "cisco_9800", "aruba_wlc", "public"},
		targetYAML("access-2960x", shared.Addr(), "ios_2960x", "if_mib")+
			targetYAML("aruba-1", shared.Addr(), "arubaos", "aruba_wlc", "if_mib")+
			targetYAML("stream-1", shared.Addr(), "linux_icecast", "host", "if_mib")+
			targetYAML("wlc-aireos", ours.Addr(), "cisco_wlc", "cisco_wlc")+
			targetYAML("wlc-9800", ours.Addr(), "cisco_9800", "cisco_wlc")+
			targetYAML("aruba-2", ours.Addr(), "aruba_wlc", "aruba_wlc")+
			targetYAML("noc-v2c", agent.Addr(), "public", "host", "if_mib")+
			targetYAML("noc-v3", agent.Addr(), "v3", "if_mib")+
			"    - {name: hung, address: \""+hole+"\", auth: public, profiles: [if_mib], timeout: 200ms, retries: 0}\n")
	// snmpsimConfig's auths are all v2c; add the v3 one.
	cfg = insertAfter(t, cfg, "  auths:\n", v3AuthYAML("v3", userSHA256))
	c, _ := newCollector(t, cfg)
	for _, target := range []string{"access-2960x", "aruba-1", "stream-1", "wlc-aireos", "wlc-9800", "aruba-2", "noc-v2c", "noc-v3"} {
		pollOK(t, c, target)
	}
	pollFail(t, c, "hung")

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	e := gather(t, c)
	text := e.text(t)
	testenv.CheckMetrics(t, text)

	// The exposition holds what the lint was meant to see: every family of the
	// metric contract that these targets feed, and the poller's own.
	for _, name := range []string{
		"meetnoc_snmp_up", "meetnoc_snmp_poll_duration_seconds", "meetnoc_snmp_polls_total",
		"meetnoc_snmp_last_success_timestamp_seconds",
		"meetnoc_interface_receive_bytes_total", "meetnoc_interface_transmit_bytes_total",
		"meetnoc_interface_receive_errors_total", "meetnoc_interface_transmit_errors_total",
		"meetnoc_interface_receive_discards_total", "meetnoc_interface_transmit_discards_total",
		"meetnoc_interface_up", "meetnoc_interface_speed_bytes",
		"meetnoc_ap_up", "meetnoc_ap_clients", "meetnoc_ssid_clients",
		"meetnoc_host_cpu_seconds_total", "meetnoc_host_memory_total_bytes",
	} {
		if e[name] == nil {
			t.Errorf("exposition has no %s", name)
		}
	}
	t.Logf("linted %d families, %d bytes of exposition", len(e), len(text))
}

func insertAfter(t *testing.T, s, marker, insert string) string {
	t.Helper()
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("no %q in config", marker)
	}
	return s[:i+len(marker)] + insert + s[i+len(marker):]
}
