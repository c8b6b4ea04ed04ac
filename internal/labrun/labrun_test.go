package labrun

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/lab"
)

// The lab and its daemon come up warm, and a fault set on the lab shows in the
// daemon's metrics: the harness the alert, dashboard and report tests stand on.
func TestStartWarmAndFault(t *testing.T) {
	ctx := context.Background()
	l, err := Start(ctx, t.TempDir(), Options{Calm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := l.WaitWarm(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	body, err := l.Get(ctx, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(body, "\nmeetnoc_ap_up{"); n != 40 {
		t.Errorf("%d APs in meetnoc_ap_up, want 40", n)
	}
	l.Network.SetDNSFault(lab.DNSServfail)
	if err := l.WaitFor(ctx, 10*time.Second, "/metrics", `meetnoc_dns_probe_success{check="dns64",resolver="lab-dns64"} 0`); err != nil {
		t.Error(err)
	}
}
