package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meetnoc/meetnoc/internal/report"
)

type reportOptions struct {
	url, from, to, out, previous, title, timezone string
	timeout                                       time.Duration
}

func addReportCommand(app *kingpin.Application) (*kingpin.CmdClause, *reportOptions) {
	o := &reportOptions{}
	cmd := app.Command("report", "Make the post-meeting report on IPv6 uptake and network health from Prometheus: "+
		"report.html (self-contained, with charts), report.md (for a mailing list) and report.json (every figure; "+
		"the input of a later --previous) in --out.")
	cmd.Flag("prometheus.url", "Base URL of the Prometheus server that scraped meetnoc, e.g. http://127.0.0.1:9090.").Required().StringVar(&o.url)
	cmd.Flag("from", "Start of the meeting: RFC 3339 (2026-03-14T08:00:00+01:00) or a Unix time.").Required().StringVar(&o.from)
	cmd.Flag("to", "End of the meeting, as --from.").Required().StringVar(&o.to)
	cmd.Flag("out", "Directory to write the report into; replaced whole when it holds an earlier report, never left half-written.").Required().StringVar(&o.out)
	cmd.Flag("previous", "report.json of an earlier meeting: every headline figure is shown with its change since then.").StringVar(&o.previous)
	cmd.Flag("title", "Title of the report.").Default("Network report").StringVar(&o.title)
	cmd.Flag("timezone", "The venue's time zone (IANA name), for days and hours of day; default this machine's.").StringVar(&o.timezone)
	cmd.Flag("timeout", "Give up when Prometheus has not answered everything within this long.").Default("5m").DurationVar(&o.timeout)
	return cmd, o
}

// parseTime reads RFC 3339 or a Unix time (seconds, fractions allowed).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-03-14T08:00:00+01:00) nor a Unix time", s)
}

// runReport makes the report. Errors go to stderr with exit status 1, and
// leave --out as it was.
func runReport(ctx context.Context, o *reportOptions, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "meetnoc report: "+format+"\n", args...)
		return 1
	}
	from, err := parseTime(o.from)
	if err != nil {
		return fail("--from: %v", err)
	}
	to, err := parseTime(o.to)
	if err != nil {
		return fail("--to: %v", err)
	}
	if !to.After(from) {
		return fail("--to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	loc := time.Local
	if o.timezone != "" {
		if loc, err = time.LoadLocation(o.timezone); err != nil {
			return fail("--timezone: %v", err)
		}
	}
	var prev *report.Report
	if o.previous != "" {
		f, err := os.Open(o.previous)
		if err != nil {
			return fail("--previous: %v", err)
		}
		prev, err = report.ReadJSON(f)
		f.Close()
		if err != nil {
			return fail("--previous %s: %v", o.previous, err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	progress := newProgress(stderr)
	r, err := report.Collect(ctx, report.Options{
		URL: o.url, From: from, To: to, Title: o.title, Location: loc, Progress: progress.update,
	})
	progress.done()
	if err != nil {
		return fail("%v", err)
	}
	if prev != nil {
		r.Previous = &report.PreviousReport{Title: prev.Title, From: prev.From, To: prev.To}
		r.Changes = report.Compare(r, prev)
	}
	if err := report.WriteDir(o.out, r); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "meetnoc report: wrote %s/report.html, report.md and report.json\n", strings.TrimSuffix(o.out, "/"))
	return 0
}

// progress is the one line on stderr that says how far a long run is: updated
// in place on a terminal, a line per second at most otherwise (a log file).
type progress struct {
	w        io.Writer
	terminal bool
	start    time.Time
	last     time.Time
	shown    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil {
			p.terminal = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return p
}

func (p *progress) update(done, total int, what string) {
	now := time.Now()
	// Short runs print nothing: the line is for the ones that make people wait.
	if now.Sub(p.start) < 2*time.Second || (!p.terminal && now.Sub(p.last) < time.Second) {
		return
	}
	p.last = now
	line := fmt.Sprintf("meetnoc report: %d/%d queries, %s (%.0f s)", done, total, what, now.Sub(p.start).Seconds())
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
