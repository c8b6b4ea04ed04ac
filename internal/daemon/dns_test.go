package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// TestDNSProbesInDaemon: the daemon probes Debian's unbound (with its dns64
// module) as configured, exports the results, finds the DNS64 prefix, and its
// status page puts the failing check first with its reason in words; a resolver
// that goes away turns the checks into failures without stopping anything else.
func TestDNSProbesInDaemon(t *testing.T) {
	unbound := testenv.StartUnbound(t, testenv.UnboundOptions{})
	cfg := fmt.Sprintf(`
ssids: [{name: ietf, vlans: [100], client_prefixes: [2001:db8:100::/64]}]
nat64_prefixes: [64:ff9b::/96]
dns:
  interval: 1s
  timeout: 500ms
  resolvers:
    - {name: res1, address: "%s", ssid: ietf}
  checks:
    - {name: dns64, query: ipv4only.arpa, type: AAAA, dns64: true}
    - {name: v4only, query: %s, type: AAAA, dns64: true}
    - {name: dual, query: %s, type: AAAA, not_synthesized: true}
    - {name: broken, query: %s, type: A}
snmp:
  targets: []
`, unbound.Addr(), testenv.UnboundV4Only, testenv.UnboundDualStack, testenv.UnboundServfail)
	cfgFile := filepath.Join(t.TempDir(), "meetnoc.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := runDaemon(t, ctx, cfgFile, testLogger())

	for _, want := range []string{
		`meetnoc_dns_probe_success{check="dns64",resolver="res1"} 1`,
		`meetnoc_dns_probe_success{check="v4only",resolver="res1"} 1`,
		`meetnoc_dns_probe_success{check="dual",resolver="res1"} 1`,
		`meetnoc_dns_probe_success{check="broken",resolver="res1"} 0`,
		`meetnoc_dns64_prefix_info{prefix="64:ff9b::/96",resolver="res1"} 1`,
	} {
		r.waitFor(t, "/metrics", want, 10*time.Second)
	}
	_, page := r.get(t, "/")
	dnsPart, _, _ := strings.Cut(page[strings.Index(page, "<h2>DNS</h2>"):], "<h2>NAT64")
	if !strings.Contains(dnsPart, "1 of 4 checks failing") {
		t.Errorf("DNS summary missing:\n%s", dnsPart)
	}
	// The failing check is the first row, with the rcode in words.
	first := dnsPart[strings.Index(dnsPart, "<tbody>"):]
	first = first[:strings.Index(first, "</tr>")]
	if !strings.Contains(first, "broken") || !strings.Contains(first, "SERVFAIL") {
		t.Errorf("first DNS row is not the failing check with its reason:\n%s", first)
	}

	unbound.Stop()
	r.waitFor(t, "/metrics", `meetnoc_dns_probe_success{check="dns64",resolver="res1"} 0`, 10*time.Second)
	r.waitFor(t, "/-/healthy", "", time.Second)
}
