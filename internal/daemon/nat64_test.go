package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/lab"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// TestNAT64FromLab: the daemon on the lab's config, with the lab's NAT64 (TAYGA
// in a namespace), probes the IPv4-only web server through it and directly;
// when TAYGA stops, the metric drops and the status page puts the target first
// as "NAT64 broken"; it recovers when TAYGA is back.
func TestNAT64FromLab(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the lab's NAT64 makes a network namespace, which needs root (CI runs the tests as root)")
	}
	testenv.Require(t, "tayga", "ip")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// 10:00, inside the lab's healthy window.
	base := time.Date(2026, 3, 16, 10, 0, 0, 0, time.Local)
	started := time.Now()
	cfgFile, network := labConfigWith(t, ctx, lab.Options{
		Now:        func() time.Time { return base.Add(time.Since(started)) },
		NAT64Netns: fmt.Sprintf("meetnoc-test-daemon-%d", os.Getpid()),
	})
	r := runDaemon(t, ctx, cfgFile, testLogger())

	up := []string{
		`meetnoc_nat64_probe_success{target="www-v4only"} 1`,
		`meetnoc_nat64_ipv4_probe_success{target="www-v4only"} 1`,
		`meetnoc_nat64_icmp_probe_success{path="nat64",target="www-v4only"} 1`,
	}
	for _, want := range up {
		r.waitFor(t, "/metrics", want, 10*time.Second)
	}
	page := r.waitFor(t, "/", "www-v4only", time.Second)
	if part := section(page, "NAT64"); !strings.Contains(part, "[64:ff9b::647f:50]:80") || !strings.Contains(part, ">ok<") {
		t.Errorf("NAT64 section with TAYGA running:\n%s", part)
	}

	network.SetNAT64Fault(lab.NAT64Stopped)
	r.waitFor(t, "/metrics", `meetnoc_nat64_probe_success{target="www-v4only"} 0`, 10*time.Second)
	r.waitFor(t, "/metrics", `meetnoc_nat64_ipv4_probe_success{target="www-v4only"} 1`, time.Second)
	page = r.waitFor(t, "/", "NAT64 broken", 5*time.Second)
	if part := section(page, "NAT64"); !strings.Contains(part, "timeout") {
		t.Errorf("NAT64 section with TAYGA stopped does not say the NAT64 path timed out:\n%s", part)
	}

	network.SetNAT64Fault(lab.NAT64Healthy)
	for _, want := range up {
		r.waitFor(t, "/metrics", want, 10*time.Second)
	}
}

// section is the part of the status page under the <h2> that starts with
// title, up to the next <h2>.
func section(page, title string) string {
	i := strings.Index(page, "<h2>"+title)
	if i < 0 {
		return ""
	}
	rest := page[i+4:]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
