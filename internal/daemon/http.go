package daemon

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/collectors/netlink"
	"github.com/meetnoc/meetnoc/collectors/snmp"
	"github.com/meetnoc/meetnoc/collectors/traffic"
	"github.com/meetnoc/meetnoc/internal/exposition"
	dnsprobe "github.com/meetnoc/meetnoc/probes/dns"
	nat64probe "github.com/meetnoc/meetnoc/probes/nat64"
)

// Handler serves every endpoint of the daemon.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(d.reg, http.HandlerFunc(d.serveMetrics)))
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

// serveMetrics writes the registry's families (build info, reload state, Go and
// process metrics, the handler's own counters) merged with the SNMP
// collector's pre-rendered chunks. At a thousand switches the SNMP series are
// ~700,000 lines; client_golang's Gather, sort and encode took seconds and a
// GB for them, while the chunks are rendered and compressed when a target is
// polled, so a gzip scrape (Prometheus always asks for gzip) only copies
// bytes. The text format 0.0.4 is the only one served: OpenMetrics
// negotiation is dropped for now, as the chunks are rendered in the text
// format, and nothing of meetnoc needs exemplars or created timestamps.
func (d *Daemon) serveMetrics(w http.ResponseWriter, r *http.Request) {
	other, err := exposition.Gathered(d.reg)
	if err != nil {
		// As promhttp's ContinueOnError: serve what was gathered.
		d.logger.Error("gathering metrics", "err", err)
	}
	gzipped := acceptsGzip(r.Header.Get("Accept-Encoding"))
	h := w.Header()
	h.Set("Content-Type", exposition.ContentType)
	h.Add("Vary", "Accept-Encoding")
	if gzipped {
		h.Set("Content-Encoding", "gzip")
	}
	cw := &countingWriter{w: w}
	if err := exposition.Write(cw, gzipped, d.snmp.Exposition(), other); err != nil {
		d.logger.Error("serving /metrics", "err", err)
		if cw.n == 0 {
			h.Del("Content-Encoding")
			http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
		}
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed
// (or "*"), with no q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// countingWriter tells whether anything was written, so that an error found
// before the first byte can still become a 500.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

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
	"silent":   sourceSilent,
	"percent": func(part, whole uint64) string {
		if whole == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f %%", 100*float64(part)/float64(part+whole))
	},
}).Parse(statusHTML))

// statusPage is what the status page shows; one section per kind of component.
type statusPage struct {
	Meeting, Version, ConfigFile string
	Now, Started                 time.Time
	Reload                       *reloadResult
	Targets                      []snmp.TargetStatus
	Up, Down, Pending            int
	Sources                      []traffic.SourceStatus
	DNS                          []dnsprobe.CheckStatus
	DNSFailing                   int
	NAT64                        []nat64probe.TargetStatus
	HostView                     *netlink.Status
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
		Sources:    d.traffic.Status(),
		DNS:        d.dns.Status(),
		NAT64:      d.nat64.Status(),
	}
	if d.hostView != nil {
		hv := d.hostView.Status()
		p.HostView = &hv
	}
	// Failing checks first, then not yet probed, then the good ones.
	slices.SortStableFunc(p.DNS, func(a, b dnsprobe.CheckStatus) int { return cmp.Compare(dnsRank(a), dnsRank(b)) })
	for _, c := range p.DNS {
		if dnsRank(c) == 0 {
			p.DNSFailing++
		}
	}
	slices.SortStableFunc(p.NAT64, func(a, b nat64probe.TargetStatus) int {
		return cmp.Compare(nat64Rank(a), nat64Rank(b))
	})
	slices.SortStableFunc(p.Sources, func(a, b traffic.SourceStatus) int {
		return cmp.Compare(sourceRank(a, p.Now), sourceRank(b, p.Now))
	})
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

func dnsRank(c dnsprobe.CheckStatus) int {
	switch c.Result {
	case "":
		return 1
	case dnsprobe.ResultOK:
		return 2
	}
	return 0
}

func nat64Rank(t nat64probe.TargetStatus) int {
	switch t.Verdict {
	case nat64probe.VerdictOK:
		return 2
	case nat64probe.VerdictPending:
		return 1
	}
	return 0
}

// sourceRank puts failed sources first, then silent ones, then the rest.
func sourceRank(s traffic.SourceStatus, now time.Time) int {
	switch {
	case s.Err != nil:
		return 0
	case sourceSilent(s, now):
		return 1
	}
	return 2
}

// sourceSilent: a live source that has taken in nothing for a minute is worth a
// look (a mirror port unplugged, switches exporting elsewhere).
func sourceSilent(s traffic.SourceStatus, now time.Time) bool {
	last := s.LastPacket
	if last.Before(s.Since) {
		last = s.Since
	}
	return s.Running && s.Type != traffic.SourceTypePcap && now.Sub(last) > time.Minute
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
