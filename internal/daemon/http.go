package daemon

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/collectors/snmp"
)

// Handler serves every endpoint of the daemon.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(d.reg, promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		ErrorLog:          slogErrorLog{d},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		// A scrape never waits on the network, so it is quick; this only guards a stuck Collect.
		Timeout: 10 * time.Second,
	})))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "meetnoc is healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "meetnoc is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "meetnoc is ready.")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := d.Reload(); err != nil {
			http.Error(w, "reload failed, the running config is kept:\n"+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "config reloaded.")
	})
	mux.HandleFunc("GET /config", d.serveConfig)
	mux.HandleFunc("GET /{$}", d.serveStatus)
	return mux
}

type slogErrorLog struct{ d *Daemon }

func (l slogErrorLog) Println(v ...any) { l.d.logger.Error(fmt.Sprint(v...)) }

// serveConfig shows the config in force. Secrets marshal as "<secret>".
func (d *Daemon) serveConfig(w http.ResponseWriter, _ *http.Request) {
	out, err := yaml.Marshal(d.Config())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(out)
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago":      ago,
	"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"stamp":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":     strings.Join,
}).Parse(statusHTML))

// statusPage is what the status page shows; one section per kind of component.
type statusPage struct {
	Meeting, Version, ConfigFile string
	Now, Started                 time.Time
	Reload                       *reloadResult
	Targets                      []snmp.TargetStatus
	Up, Down, Pending            int
}

func (d *Daemon) serveStatus(w http.ResponseWriter, _ *http.Request) {
	p := statusPage{
		Meeting:    d.Config().Meeting.Name,
		Version:    version.Info(),
		ConfigFile: d.opts.ConfigFile,
		Now:        time.Now(),
		Started:    d.started,
		Reload:     d.lastReload.Load(),
		Targets:    d.snmp.Status(),
	}
	// Problems first: the volunteer glancing at the page needs the down targets, not
	// the alphabet. Status() is sorted by name, and the sort is stable.
	slices.SortStableFunc(p.Targets, func(a, b snmp.TargetStatus) int { return cmp.Compare(rank(a), rank(b)) })
	for _, t := range p.Targets {
		switch {
		case !t.Polled:
			p.Pending++
		case t.Up:
			p.Up++
		default:
			p.Down++
		}
	}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

func rank(t snmp.TargetStatus) int {
	switch {
	case t.Polled && !t.Up:
		return 0
	case !t.Polled:
		return 1
	}
	return 2
}

// ago renders a past time the way a NOC volunteer reads it: "12s ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + (-d).Round(time.Second).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Minute).String() + " ago"
}
