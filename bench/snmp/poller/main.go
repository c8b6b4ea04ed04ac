// Command poller is the meetnoc daemon (internal/daemon) as `meetnoc run`
// builds it, polling when told to, for the benchmark: the harness measures the
// CPU time of this process per poll, as it measures snmp_exporter's per scrape.
//
// It builds the daemon with daemon.New from the config file, as `meetnoc run`
// does, and serves on one address
//
//	GET /poll?target=NAME   poll the target now (the daemon's SNMP collector, Collector.Poll), answer JSON
//	GET /metrics            and every other endpoint of the daemon: its own handler (Daemon.Handler)
//	GET /debug/pprof/       Go profiles, to see where the time goes (the daemon serves none)
//
// so that /metrics here is the daemon's real exposition path, not a copy. With
// -run it also polls every target on its own schedule, as `meetnoc run` does
// (the SNMP collector's Run, which Daemon.Run starts), for profiling the scale
// load. It does not call Daemon.Run itself: that serves only the daemon's
// handler, without /poll and /debug/pprof, and always polls on schedule, which
// the on-demand comparison must not.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meetnoc/meetnoc/internal/daemon"
)

func main() {
	cfgFile := flag.String("config.file", "", "meetnoc configuration file (required)")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listen address; the bound address is printed on stdout")
	background := flag.Bool("run", false, "poll every target on its schedule, as `meetnoc run` does, instead of on request")
	flag.Parse()
	if *cfgFile == "" {
		flag.Usage()
		os.Exit(2)
	}
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
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := daemon.New(daemon.Options{ConfigFile: cfgFile, Logger: logger})
	if err != nil {
		return err
	}
	c := d.SNMP()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	mux := http.NewServeMux()
	mux.Handle("/", d.Handler())
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
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
