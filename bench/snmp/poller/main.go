// Command poller is meetnoc's SNMP poller (collectors/snmp) as a process of its
// own, polling when told to, for the benchmark: the harness measures the CPU
// time of this process per poll, as it measures snmp_exporter's per scrape.
//
// It serves
//
//	GET /poll?target=NAME   poll the target now (collectors/snmp Collector.Poll), answer JSON
//	GET /metrics            the collector's output, with the handler options of `meetnoc run`
//	GET /debug/pprof/       Go profiles, to see where the time goes
//
// With -run it polls every target on its own schedule instead, exactly as
// `meetnoc run` does (Collector.Run), for profiling the scale load.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles on the default mux
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meetnoc/meetnoc/collectors/snmp"
	"github.com/meetnoc/meetnoc/internal/config"
)

func main() {
	cfgFile := flag.String("config.file", "", "meetnoc configuration file (required)")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listen address; the bound address is printed on stdout")
	background := flag.Bool("run", false, "poll every target on its schedule (Collector.Run) instead of on request")
	flag.Parse()
	if err := run(*cfgFile, *listen, *background); err != nil {
		fmt.Fprintln(os.Stderr, "poller:", err)
		os.Exit(1)
	}
}

// pollResult is the answer to /poll.
type pollResult struct {
	Target   string  `json:"target"`
	Error    string  `json:"error,omitempty"`
	Varbinds int     `json:"varbinds"`
	Samples  int     `json:"samples"`
	Duration float64 `json:"duration_seconds"`
}

func run(cfgFile, listen string, background bool) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := snmp.New(cfg, logger)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	mux := http.DefaultServeMux // carries /debug/pprof
	// The options of internal/daemon's /metrics handler.
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	}))
	mux.HandleFunc("GET /poll", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("target")
		res := pollResult{Target: name}
		if err := c.Poll(r.Context(), name); err != nil {
			res.Error = err.Error()
		}
		for _, st := range c.Status() {
			if st.Name == name {
				res.Varbinds, res.Samples, res.Duration = st.Varbinds, st.Samples, st.LastDuration.Seconds()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	done := make(chan struct{})
	if background {
		go func() {
			defer close(done)
			_ = c.Run(ctx)
		}()
	} else {
		close(done)
	}
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	<-done
	return nil
}
