// Package daemon wires meetnoc together: it builds the collectors from the config,
// serves /metrics, the status page and the lifecycle endpoints, and reloads the config
// on SIGHUP or POST /-/reload.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/meetnoc/meetnoc/collectors/netlink"
	"github.com/meetnoc/meetnoc/collectors/snmp"
	"github.com/meetnoc/meetnoc/collectors/traffic"
	"github.com/meetnoc/meetnoc/internal/config"
	dnsprobe "github.com/meetnoc/meetnoc/probes/dns"
	nat64probe "github.com/meetnoc/meetnoc/probes/nat64"
)

// Options are what `meetnoc run` takes from its flags.
type Options struct {
	ConfigFile string
	// WebConfig is exporter-toolkit's flag config (listen addresses, TLS, basic auth).
	WebConfig *web.FlagConfig
	Logger    *slog.Logger
	// Listener, when set, is served instead of the flag's listen addresses (tests bind
	// port 0 and need the address before the server starts).
	Listener net.Listener
	// ShutdownTimeout bounds a clean stop: in-flight scrapes and polls get this long.
	ShutdownTimeout time.Duration
	// Shard, when set, keeps only this daemon's share of the SNMP targets
	// (`--shard=i/n`), at start and at every reload.
	Shard config.Shard
}

// Daemon is one running meetnoc.
type Daemon struct {
	opts     Options
	logger   *slog.Logger
	reg      *prometheus.Registry
	snmp     *snmp.Collector
	traffic  *traffic.Collector
	dns      *dnsprobe.Prober
	nat64    *nat64probe.Prober
	hostView *netlink.Collector // nil where netlink is not available and not configured

	cfg   atomic.Pointer[config.Config]
	ready atomic.Bool

	reloadMu     sync.Mutex // one reload at a time: SIGHUP and POST may race
	lastReload   atomic.Pointer[reloadResult]
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge
	reloadsTotal *prometheus.CounterVec
	started      time.Time
}

type reloadResult struct {
	At  time.Time
	Err error
}

// New loads the config and builds every component; nothing runs until Run.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	cfg, err := loadConfig(opts)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		opts:    opts,
		logger:  opts.Logger,
		reg:     prometheus.NewRegistry(),
		started: time.Now(),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meetnoc_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful (1) or kept the running config (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meetnoc_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
		reloadsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetnoc_config_reloads_total",
			Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
	}
	d.snmp, err = snmp.New(cfg, opts.Logger.With("component", "snmp"))
	if err != nil {
		return nil, err
	}
	d.traffic, err = traffic.New(cfg, opts.Logger.With("component", "traffic"), traffic.Options{})
	if err != nil {
		return nil, err
	}
	d.dns, err = dnsprobe.New(cfg, opts.Logger.With("component", "dns"), dnsprobe.Options{})
	if err != nil {
		return nil, err
	}
	d.nat64, err = nat64probe.New(cfg, opts.Logger.With("component", "nat64"), nat64probe.Options{})
	if err != nil {
		return nil, err
	}
	d.hostView, err = netlink.New(cfg, opts.Logger.With("component", "netlink"), netlink.Options{})
	if err != nil {
		if len(cfg.Netlink.Interfaces) > 0 {
			return nil, err
		}
		// Not Linux, and nothing asked for: the NAT64 route check is all it would do.
		opts.Logger.Info("host view (netlink) not available", "err", err)
		d.hostView = nil
	}
	d.cfg.Store(cfg)
	d.reloadOK.Set(1)
	d.reloadTime.SetToCurrentTime()
	d.reloadsTotal.WithLabelValues("success")
	d.reloadsTotal.WithLabelValues("failure")
	d.reg.MustRegister(
		versioncollector.NewCollector("meetnoc"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		d.reloadOK, d.reloadTime, d.reloadsTotal,
		d.traffic, d.dns, d.nat64,
	)
	if d.hostView != nil {
		d.reg.MustRegister(d.hostView)
	}
	// The SNMP collector is not registered: /metrics serves its pre-rendered
	// chunks beside the registry's families (see serveMetrics), and a family
	// name in both is refused there rather than duplicated.
	return d, nil
}

// loadConfig loads and validates the config whole, then takes this daemon's shard.
func loadConfig(opts Options) (*config.Config, error) {
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	opts.Shard.Select(cfg)
	return cfg, nil
}

// SNMP is the SNMP collector (the benchmark polls through it).
func (d *Daemon) SNMP() *snmp.Collector { return d.snmp }

// Traffic is the traffic collector.
func (d *Daemon) Traffic() *traffic.Collector { return d.traffic }

// Registry is the registry whose families /metrics serves beside the SNMP
// collector's (tests lint it).
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Config is the config in force.
func (d *Daemon) Config() *config.Config { return d.cfg.Load() }

// Reload reads the config file again and, only if the whole of it is valid, swaps it
// in. A bad file keeps the running config: at a meeting, a typo must not stop polling.
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	err := d.reload()
	d.lastReload.Store(&reloadResult{At: time.Now(), Err: err})
	if err != nil {
		d.reloadOK.Set(0)
		d.reloadsTotal.WithLabelValues("failure").Inc()
		d.logger.Error("config reload failed; keeping the running config", "file", d.opts.ConfigFile, "err", err)
		return err
	}
	d.reloadOK.Set(1)
	d.reloadTime.SetToCurrentTime()
	d.reloadsTotal.WithLabelValues("success").Inc()
	d.logger.Info("config reloaded", "file", d.opts.ConfigFile, "snmp_targets", len(d.Config().SNMP.Targets))
	return nil
}

func (d *Daemon) reload() error {
	cfg, err := loadConfig(d.opts)
	if err != nil {
		return err
	}
	// Traffic first: it builds its new sources before stopping the old ones, so a
	// failure there leaves everything as it was.
	if err := d.traffic.Apply(cfg); err != nil {
		return fmt.Errorf("applying the new config: %w", err)
	}
	if err := d.dns.Apply(cfg); err != nil {
		return fmt.Errorf("applying the new config: %w", err)
	}
	if err := d.nat64.Apply(cfg); err != nil {
		return fmt.Errorf("applying the new config: %w", err)
	}
	if d.hostView != nil {
		if err := d.hostView.Apply(cfg); err != nil {
			return fmt.Errorf("applying the new config: %w", err)
		}
	}
	if err := d.snmp.Apply(cfg); err != nil {
		return fmt.Errorf("applying the new config: %w", err)
	}
	d.cfg.Store(cfg)
	return nil
}

// Run serves and polls until ctx ends (SIGTERM/SIGINT in `meetnoc run`), reloading on
// SIGHUP, then stops within ShutdownTimeout.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.snmp.Run(ctx); err != nil {
			d.logger.Error("snmp collector stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := d.traffic.Run(ctx); err != nil {
			d.logger.Error("traffic collector stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := d.dns.Run(ctx); err != nil {
			d.logger.Error("DNS prober stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := d.nat64.Run(ctx); err != nil {
			d.logger.Error("NAT64 prober stopped", "err", err)
		}
	})
	if d.hostView != nil {
		wg.Go(func() {
			if err := d.hostView.Run(ctx); err != nil {
				d.logger.Error("host view (netlink) stopped", "err", err)
			}
		})
	}

	srv := &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelError),
	}
	serveErr := make(chan error, 1)
	go func() {
		if d.opts.Listener != nil {
			serveErr <- web.Serve(d.opts.Listener, srv, d.opts.WebConfig, d.logger)
			return
		}
		serveErr <- web.ListenAndServe(srv, d.opts.WebConfig, d.logger)
	}()
	d.ready.Store(true)

	var err error
loop:
	for {
		select {
		case <-hup:
			_ = d.Reload() // logged and exported by Reload
		case err = <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	d.ready.Store(false)
	d.logger.Info("shutting down")
	shutdownCtx, stop := context.WithTimeout(context.Background(), d.opts.ShutdownTimeout)
	defer stop()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-shutdownCtx.Done():
		d.logger.Warn("collectors did not stop in time", "timeout", d.opts.ShutdownTimeout)
	}
	return err
}
