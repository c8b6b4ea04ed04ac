package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/exposition"
)

// restartNoteFor is how long the status page mentions an agent restart.
const restartNoteFor = time.Hour

// target is one SNMP agent being polled: its settings and plan (fixed for its
// life: a changed target is replaced, not modified), its latest snapshot, and
// the state that carries from one poll to the next.
type target struct {
	ts     *targetSettings
	plan   *targetPlan
	logger *slog.Logger

	snap     atomic.Pointer[snapshot]
	nextPoll atomic.Int64 // Unix nanoseconds; 0 when not scheduled

	// initial is the state before the first poll, for Collect; initialParts
	// is it rendered. Both are fixed at creation.
	initial      *snapshot
	initialParts []exposition.Part

	// cancel stops the target's polling goroutine; set and used under
	// Collector.mu.
	cancel context.CancelFunc

	mu sync.Mutex // one poll at a time; guards what follows
	// An SNMPv3 session lives across polls (engine discovery and key
	// derivation once); a v2c one lasts one poll. A failed poll drops it, so
	// the next starts afresh.
	sess      *gosnmp.GoSNMP
	conn      net.Conn
	closed    bool
	walk      *walkState
	conv      *converter
	requests  uint64
	polls     [len(results)]uint64
	overruns  uint64
	restarts  uint64
	failures  int
	uptime    uint32 // sysUpTime.0 at the last poll that had it
	hasUptime bool
	restartAt time.Time
	restartBy string
	lastOK    time.Time
}

func newTarget(ts *targetSettings, plan *targetPlan, logger *slog.Logger) *target {
	t := &target{
		ts:      ts,
		plan:    plan,
		logger:  logger.With("target", ts.Name),
		walk:    newWalkState(ts.MaxRepetitions),
		conv:    newConverter(plan),
		initial: &snapshot{maxRep: ts.MaxRepetitions, getNext: ts.UseGetNext},
	}
	t.initialParts = render(plan, t.initial, false)
	return t
}

// pollDeadline bounds one poll, so that an agent that answers ever so slowly
// cannot hold a slot of the concurrency bound forever. It leaves room for the
// timeouts of a GETBULK back-off and GETNEXT fallback.
func (t *target) pollDeadline() time.Duration {
	return max(4*t.ts.Interval, 4*t.ts.Timeout*time.Duration(t.ts.Retries+1))
}

// poll polls the target once and stores the new snapshot. A poll cancelled from
// outside (shutdown, reload) is not recorded: it says nothing about the agent.
func (t *target) poll(parent context.Context) (*snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()

	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, t.pollDeadline())
	defer cancel()
	walkBefore := *t.walk
	data, f, err := t.fetch(ctx)
	if err != nil && parent.Err() != nil {
		t.dropSession()
		return nil, parent.Err()
	}
	if err != nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
		// gosnmp may report the deadline a moment before ctx does.
		err = &pollError{result: resultTimeout, err: ctx.Err(), msg: fmt.Sprintf(
			"poll of %s did not finish within %s; the agent answers too slowly for its interval (raise interval or timeout, or lower max_repetitions?)",
			t.ts.Address, t.pollDeadline())}
	}
	end := time.Now()
	duration := end.Sub(start)
	if duration > t.ts.Interval {
		t.overruns++
	}

	s := &snapshot{start: start, duration: duration}
	if err == nil {
		s.samples, err = t.convert(data, end)
	}
	var pe *pollError
	if err != nil && !errors.As(err, &pe) {
		pe = classify(err, t.ts, "poll", f != nil && f.answered)
	}
	wasFailing := t.failures > 0
	if f != nil {
		s.varbinds = f.varbinds
	}
	if pe != nil {
		t.failures++
		s.result, s.message, s.samples = pe.result, pe.msg, nil
		t.dropSession()
		if pe.result == resultTimeout {
			// An agent that stopped answering mid-poll made GETBULK look
			// broken; that is no reason to walk it differently when it is back.
			*t.walk = walkBefore
		}
		if !wasFailing {
			t.logger.Warn("SNMP poll failed", "result", pe.result, "err", pe.msg)
		} else {
			t.logger.Debug("SNMP poll failed", "result", pe.result, "err", pe.msg, "consecutive_failures", t.failures)
		}
	} else {
		t.failures = 0
		t.lastOK = end
		s.up, s.result = true, resultOK
		var notes []string
		if !t.restartAt.IsZero() && end.Sub(t.restartAt) < restartNoteFor {
			notes = append(notes, t.restartBy)
		}
		if t.walk.getNext && !t.ts.UseGetNext {
			notes = append(notes, "walked with GETNEXT: "+t.walk.reason)
		}
		s.message = strings.Join(notes, "; ")
		if wasFailing {
			t.logger.Info("SNMP target answers again")
		}
	}
	t.polls[resultIndex(s.result)]++
	s.lastSuccess = t.lastOK
	s.failures = t.failures
	s.maxRep, s.getNext = t.walk.maxRep, t.ts.UseGetNext || t.walk.getNext
	s.polls, s.overruns, s.requests, s.restarts = t.polls, t.overruns, t.requests, t.restarts
	s.parts = render(t.plan, s, true)
	t.snap.Store(s)
	if t.closed || t.ts.Auth.Version != config.Version3 {
		// A v2c session is only a socket and gosnmp's 64 kB receive buffer:
		// a thousand kept between polls hold 64 MB for nothing. An SNMPv3
		// session keeps what is worth keeping (engine discovery, localized
		// keys), so it lives on.
		t.dropSession()
	}
	if pe != nil {
		return s, pe
	}
	return s, nil
}

// fetch does the requests of one poll: the scalars with sysUpTime.0 by GET, then
// the table columns by walking, then fallback columns where the first choice had
// no value.
//
// Any failed request fails the whole poll, even when earlier requests were
// answered: a half-walked table would make rows (APs!) look vanished and
// hold_missing report them down, and a partial picture presented as "up" is
// worse than an honest error naming the request that failed.
func (t *target) fetch(ctx context.Context) (data *fetched, f *fetcher, err error) {
	defer func() {
		// A malformed answer must never take the daemon down.
		if r := recover(); r != nil {
			t.logger.Error("panic while polling", "panic", r, "stack", string(debug.Stack()))
			err = &pollError{result: resultError, msg: fmt.Sprintf("internal error while polling %s: %v", t.ts.Address, r)}
		}
	}()
	if t.sess == nil {
		sess, err := newSession(t.ts, func() { t.requests++ })
		if err != nil {
			return nil, nil, &pollError{result: resultError, msg: fmt.Sprintf("cannot build an SNMP session for %s: %v", t.ts.Address, err), err: err}
		}
		if err := sess.Connect(); err != nil {
			return nil, nil, &pollError{result: resultError, msg: fmt.Sprintf("cannot open a UDP socket to %s: %v", t.ts.Address, err), err: err}
		}
		t.sess, t.conn = sess, sess.Conn
	}
	t.sess.Context = ctx
	// gosnmp notices a cancelled context only between tries; expire the
	// socket's deadline so that a blocked read returns at once.
	conn := t.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	t.walk.startPoll()
	f = &fetcher{sess: t.sess, ts: t.ts, state: t.walk, logger: t.logger, forceNext: t.ts.UseGetNext}
	data = newFetched()
	if err := f.get(ctx, t.plan.getOIDs, data.scalars); err != nil {
		return nil, f, err
	}
	t.checkRestart(data)
	if len(t.plan.walkColumns) > 0 {
		if err := f.walk(ctx, t.plan.walkColumns, data); err != nil {
			return nil, f, err
		}
		if err := t.fetchFallbacks(ctx, f, data); err != nil {
			return nil, f, err
		}
	}
	t.walk.endPoll(f.backedOff)
	return data, f, nil
}

func (t *target) convert(data *fetched, now time.Time) (samples []sample, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.logger.Error("panic while converting", "panic", r, "stack", string(debug.Stack()))
			err = &pollError{result: resultError, msg: fmt.Sprintf("internal error converting the answer of %s: %v", t.ts.Address, r)}
		}
	}()
	return t.conv.convert(data, now, t.ts.MissingHold), nil
}

// checkRestart counts an agent restart when sysUpTime.0 went backwards.
func (t *target) checkRestart(data *fetched) {
	c, ok := data.scalars[sysUpTimeOID]
	if !ok {
		return
	}
	up, ok := c.val.(uint32)
	if !ok {
		return
	}
	// TimeTicks wrap after 497 days; a drop from near the top to near zero is
	// that, not a restart.
	wrapped := t.uptime > 0xF0000000 && up < 0x10000000
	if t.hasUptime && up < t.uptime && !wrapped {
		t.restarts++
		t.restartAt = time.Now()
		t.restartBy = fmt.Sprintf("agent restarted: sysUpTime.0 went back from %s to %s (at %s); its counters started again from zero",
			ticks(t.uptime), ticks(up), t.restartAt.UTC().Format(time.RFC3339))
		t.logger.Info("SNMP agent restarted", "sysuptime_before", ticks(t.uptime), "sysuptime_now", ticks(up))
	}
	t.uptime, t.hasUptime = up, true
}

func ticks(cs uint32) string {
	return (time.Duration(cs) * 10 * time.Millisecond).String()
}

// fetchFallbacks fetches fallback columns where the preferred column had no
// cell for a row: the 32-bit ifInOctets only for interfaces without
// ifHCInOctets. A few missing cells are fetched by GET; a column missing from
// most rows is walked. Metrics go first at each level, as the rows they add
// need labels too.
func (t *target) fetchFallbacks(ctx context.Context, f *fetcher, data *fetched) error {
	for level := 1; ; level++ {
		deeper := false
		req := fallbackRequest{level: level, data: data}
		for _, pp := range t.plan.profiles {
			for _, tp := range pp.tables {
				rows := candidateRows(tp, data)
				for _, m := range tp.metrics {
					deeper = req.want(m.oids, rows) || deeper
				}
			}
		}
		if err := req.fetch(ctx, f); err != nil {
			return err
		}
		req = fallbackRequest{level: level, data: data}
		for _, pp := range t.plan.profiles {
			for _, tp := range pp.tables {
				rows := candidateRows(tp, data)
				for i := range tp.labels {
					lp := &tp.labels[i]
					lookups := rows
					if lp.indexPrefix > 0 {
						lookups = uniquePrefixes(rows, lp.indexPrefix)
					}
					if len(lookups) > 0 {
						deeper = req.want(lp.oids, lookups) || deeper
					}
				}
			}
		}
		if err := req.fetch(ctx, f); err != nil {
			return err
		}
		if !deeper {
			return nil
		}
	}
}

// fallbackRequest collects what one level of fallbacks needs: columns to walk
// and single cells to GET.
type fallbackRequest struct {
	level    int
	data     *fetched
	walkCols []string
	getCols  []string
	getIdx   []string
	queued   map[string]bool
}

// want asks for the fallback at r.level of oids where the earlier ones have no
// cell at lookups. It reports whether oids has a fallback at this level.
func (r *fallbackRequest) want(oids, lookups []string) bool {
	if len(oids) <= r.level {
		return false
	}
	fb := oids[r.level]
	if r.data.columns[fb] != nil {
		return true // fetched already, for another table
	}
	if r.queued == nil {
		r.queued = map[string]bool{}
	}
	have := columnsOf(r.data, oids[:r.level])
	var missing []string
	for _, idx := range lookups {
		if _, ok := cellAt(have, idx); !ok {
			missing = append(missing, idx)
		}
	}
	if len(lookups) == 0 || len(missing)*4 > len(lookups) {
		if !r.queued[fb] {
			r.queued[fb] = true
			r.walkCols = append(r.walkCols, fb)
		}
		return true
	}
	for _, idx := range missing {
		if key := fb + "." + idx; !r.queued[key] {
			r.queued[key] = true
			r.getCols, r.getIdx = append(r.getCols, fb), append(r.getIdx, idx)
		}
	}
	return true
}

func (r *fallbackRequest) fetch(ctx context.Context, f *fetcher) error {
	if len(r.walkCols) > 0 {
		if err := f.walk(ctx, r.walkCols, r.data); err != nil {
			return err
		}
	}
	if len(r.getCols) == 0 {
		return nil
	}
	oids := make([]string, len(r.getCols))
	for i := range r.getCols {
		oids[i] = "." + r.getCols[i] + "." + r.getIdx[i]
	}
	got := make(map[string]cell, len(oids))
	if err := f.get(ctx, oids, got); err != nil {
		return err
	}
	for i, oid := range oids {
		c, ok := got[oid[1:]]
		if !ok {
			continue
		}
		col := r.data.columns[r.getCols[i]]
		if col == nil {
			col = &column{cells: make(map[string]cell)}
			r.data.columns[r.getCols[i]] = col
		}
		col.order = append(col.order, r.getIdx[i])
		col.cells[r.getIdx[i]] = c
	}
	return nil
}

func columnsOf(data *fetched, oids []string) []*column {
	cols := make([]*column, len(oids))
	for i, oid := range oids {
		cols[i] = data.columns[oid]
	}
	return cols
}

// candidateRows is the union of the indices of a table's fetched metric
// columns and of its label columns that share the table's index: the rows
// that may need a fallback.
func candidateRows(tp *tablePlan, data *fetched) []string {
	seen := map[string]bool{}
	var rows []string
	add := func(oids []string) {
		for _, oid := range oids {
			col := data.columns[oid]
			if col == nil {
				continue
			}
			for _, idx := range col.order {
				if !seen[idx] {
					seen[idx] = true
					rows = append(rows, idx)
				}
			}
		}
	}
	for _, m := range tp.metrics {
		add(m.oids)
	}
	for _, l := range tp.labels {
		if l.indexPrefix == 0 {
			add(l.oids)
		}
	}
	return rows
}

func uniquePrefixes(rows []string, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, idx := range rows {
		p := indexPrefix(idx, n)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// dropSession closes the session, so that the next poll starts with a fresh
// socket and, for SNMPv3, a fresh engine discovery.
func (t *target) dropSession() {
	if t.sess != nil {
		_ = t.sess.Close()
	}
	t.sess, t.conn = nil, nil
}

// close ends the target for good: its goroutine stopped or it was removed.
func (t *target) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.dropSession()
}
