// Package labrun runs the lab network and a daemon monitoring it in one
// process, on loopback, for the tests of what is built on the daemon's
// metrics: the alert rules under a real Prometheus, the dashboards' queries,
// the report.
package labrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/meetnoc/meetnoc/internal/daemon"
	"github.com/meetnoc/meetnoc/internal/lab"
)

// Options configure the lab and its daemon.
type Options struct {
	// Calm starts the lab without its scheduled faults (lab.Options.Calm).
	Calm bool
	// NAT64Netns gives the lab a NAT64 in a namespace of this name (needs
	// root; lab.Options.NAT64Netns).
	NAT64Netns string
	// Now is the lab's clock; default time.Now.
	Now func() time.Time
	// Interval is every poll's and probe's interval (default 1s), Timeout
	// their timeout (default half the interval).
	Interval, Timeout time.Duration
	// Logger receives the lab's and the daemon's logs; default none.
	Logger *slog.Logger
}

// Lab is the running lab and daemon.
type Lab struct {
	Network *lab.Network
	// Addr is the daemon's host:port: /metrics, the status page.
	Addr string
	// ConfigFile is the daemon's config, the lab's own quickened.
	ConfigFile string

	cancel context.CancelFunc
	done   chan error
}

// Start starts the lab and the daemon, writing the config into dir, and
// returns once the daemon is ready. Close stops both.
func Start(ctx context.Context, dir string, opts Options) (*Lab, error) {
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = opts.Interval / 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	network, err := lab.Start(ctx, lab.Options{
		Host: "127.0.0.1", Now: opts.Now, Calm: opts.Calm, NAT64Netns: opts.NAT64Netns,
		Logger: opts.Logger.With("component", "lab"),
	})
	if err != nil {
		cancel()
		return nil, err
	}
	l := &Lab{Network: network, ConfigFile: filepath.Join(dir, "meetnoc.yml"), cancel: cancel, done: make(chan error, 1)}
	fail := func(err error) (*Lab, error) {
		cancel()
		network.Close()
		return nil, err
	}
	if err := os.WriteFile(l.ConfigFile, lab.Quicken(network.ConfigYAML(), opts.Interval, opts.Timeout), 0o600); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	l.Addr = ln.Addr().String()
	noWebConfig := ""
	d, err := daemon.New(daemon.Options{
		ConfigFile: l.ConfigFile, Logger: opts.Logger, Listener: ln,
		WebConfig: &web.FlagConfig{WebConfigFile: &noWebConfig},
	})
	if err != nil {
		ln.Close()
		return fail(err)
	}
	go func() { l.done <- d.Run(ctx) }()
	if err := l.WaitFor(ctx, 10*time.Second, "/-/ready", "ready"); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Get fetches path from the daemon.
func (l *Lab) Get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.Addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// WaitFor polls path until its body holds every one of want, for at most
// limit.
func (l *Lab) WaitFor(ctx context.Context, limit time.Duration, path string, want ...string) error {
	deadline := time.Now().Add(limit)
	for {
		body, err := l.Get(ctx, path)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if err == nil && missing == "" {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("no %q", missing)
			}
			return fmt.Errorf("labrun: %s not as wanted within %s: %w", path, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitWarm waits until the daemon has polled every SNMP target, received the
// switches' sFlow and probed DNS (and the NAT64, if the lab has one): until
// every metric the dashboards and rules read has its series.
func (l *Lab) WaitWarm(ctx context.Context, limit time.Duration) error {
	want := []string{
		`meetnoc_snmp_up{target="wlc1"} 1`,
		`meetnoc_snmp_up{target="core1"} 1`,
		`meetnoc_snmp_up{target="access4"} 1`,
		`meetnoc_ap_up{`,
		`meetnoc_interface_receive_bytes_total{`,
		`meetnoc_sflow_agents{source="switches"} 4`,
		`meetnoc_dns_probe_success{check="dns64",resolver="lab-dns64"} 1`,
	}
	if l.Network.NAT64Netns() != "" {
		want = append(want, `meetnoc_nat64_probe_success{target="www-v4only"} 1`)
	}
	return l.WaitFor(ctx, limit, "/metrics", want...)
}

// Close stops the daemon and the lab.
func (l *Lab) Close() error {
	l.cancel()
	err := <-l.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, l.Network.Close())
}
