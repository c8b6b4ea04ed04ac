package snmp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gosnmp/gosnmp"
)

const (
	// getChunk is how many OIDs one GET asks for.
	getChunk = 32
	// maxWalkColumns is how many columns one GETBULK or GETNEXT walks at once;
	// the agent trims a GETBULK answer to its message size, so more columns
	// cost no extra requests.
	maxWalkColumns = 24
	// maxVarbinds bounds one poll, against agents that never end a walk.
	maxVarbinds = 2_000_000
	// creepAfter clean polls raise a backed-off max-repetitions by a quarter,
	// and ceilingFor clean polls forget the value that failed.
	creepAfter = 5
	ceilingFor = 60
	// retryBulkAfter polls on GETNEXT try GETBULK again, in case the fallback
	// came from a passing fault.
	retryBulkAfter = 20
)

// walkState is what a target remembers between polls about walking its agent.
type walkState struct {
	maxRep     uint32 // working max-repetitions
	configured uint32
	ceiling    uint32 // smallest value that failed lately; 0: none
	clean      int    // polls since the last back-off
	columns    int    // columns per request; 0: maxWalkColumns
	getNext    bool   // GETBULK found broken: walk with GETNEXT
	onGetNext  int    // polls since the fallback
	reason     string // why GETNEXT
}

func newWalkState(configured uint32) *walkState {
	if configured == 0 {
		configured = defaultMaxRepetitions
	}
	return &walkState{maxRep: configured, configured: configured}
}

// startPoll decides, before a poll, whether to try GETBULK again.
func (w *walkState) startPoll() {
	if w.getNext {
		w.onGetNext++
		if w.onGetNext > retryBulkAfter {
			w.getNext, w.onGetNext, w.reason = false, 0, ""
		}
	}
}

// endPoll creeps max-repetitions back up after clean polls.
func (w *walkState) endPoll(backedOff bool) {
	if backedOff {
		w.clean = 0
		return
	}
	w.clean++
	if w.clean%ceilingFor == 0 {
		w.ceiling = 0
	}
	if w.clean%creepAfter == 0 && w.maxRep < w.configured {
		next := min(w.configured, w.maxRep+max(1, w.maxRep/4))
		if w.ceiling != 0 && next >= w.ceiling {
			next = w.ceiling - 1
		}
		w.maxRep = max(next, w.maxRep)
	}
}

// backOff halves max-repetitions after a tooBig or a timeout at value failed.
func (w *walkState) backOff(failed uint32) {
	if w.ceiling == 0 || failed < w.ceiling {
		w.ceiling = failed
	}
	w.maxRep = max(1, failed/2)
}

// fetcher does the requests of one poll of one target.
type fetcher struct {
	sess       *gosnmp.GoSNMP
	ts         *targetSettings
	state      *walkState
	logger     *slog.Logger
	forceNext  bool // the target is configured with use_getnext
	answered   bool // the agent answered a request of this poll
	backedOff  bool // this poll lowered max-repetitions or fell back to GETNEXT
	bulkFailed bool // a GETBULK of this poll timed out once already
	varbinds   int
}

func (f *fetcher) useGetNext() bool { return f.forceNext || f.state.getNext }

// get fetches oids (leading dot) by GET in chunks and stores what exists in
// into, keyed without the leading dot. Missing variables are simply absent.
func (f *fetcher) get(ctx context.Context, oids []string, into map[string]cell) error {
	for len(oids) > 0 {
		n := min(len(oids), getChunk)
		if err := f.getChunk(ctx, oids[:n], into); err != nil {
			return err
		}
		oids = oids[n:]
	}
	return nil
}

func (f *fetcher) getChunk(ctx context.Context, oids []string, into map[string]cell) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pkt, err := f.sess.Get(oids)
	if err != nil {
		return classify(err, f.ts, "GET of "+describeOIDs(oids), f.answered)
	}
	f.answered = true
	switch pkt.Error {
	case gosnmp.NoError:
	case gosnmp.TooBig, gosnmp.GenErr, gosnmp.NoSuchName:
		// Some agents fail a whole GET for one variable they cannot serve:
		// halve until the culprit stands alone, then count it as missing.
		if len(oids) == 1 {
			f.logger.Debug("variable unavailable", "oid", oids[0], "error_status", pkt.Error.String())
			return nil
		}
		half := len(oids) / 2
		if err := f.getChunk(ctx, oids[:half], into); err != nil {
			return err
		}
		return f.getChunk(ctx, oids[half:], into)
	default:
		return classify(&statusError{op: "GET", status: pkt.Error, oid: errorOID(pkt, oids)}, f.ts, "GET of "+describeOIDs(oids), true)
	}
	if len(pkt.Variables) != len(oids) {
		return classify(fmt.Errorf("agent answered a GET of %d variables with %d", len(oids), len(pkt.Variables)), f.ts, "GET of "+describeOIDs(oids), true)
	}
	f.varbinds += len(pkt.Variables)
	for i, v := range pkt.Variables {
		if !usable(v.Type) || v.Name != oids[i] && v.Name != oids[i][1:] {
			continue
		}
		into[oids[i][1:]] = cell{typ: v.Type, val: v.Value}
	}
	return nil
}

// walkCursor is one column being walked.
type walkCursor struct {
	col    *column
	oid    string // the column, no leading dot
	prefix string // ".<column>."
	next   string // the OID to ask after: the column, then the last cell seen
	done   bool
}

// errBulkBroken says a GETBULK answer cannot be trusted; the walk goes on with
// GETNEXT from where each column stands.
var errBulkBroken = errors.New("GETBULK broken")

// walk fetches every column in cols (no leading dot) into data.columns. A
// column ends where the agent's answers leave it, at endOfMibView, or at a
// noSuchObject; a walk that ends early is not an error: the rows are missing.
func (f *fetcher) walk(ctx context.Context, cols []string, data *fetched) error {
	cursors := make([]*walkCursor, 0, len(cols))
	for _, oid := range cols {
		col := data.columns[oid]
		if col == nil {
			col = &column{cells: make(map[string]cell)}
			data.columns[oid] = col
		}
		cursors = append(cursors, &walkCursor{col: col, oid: oid, prefix: "." + oid + ".", next: "." + oid})
	}
	batch := make([]*walkCursor, 0, maxWalkColumns)
	for {
		batch = batch[:0]
		for _, c := range cursors {
			if !c.done && len(batch) < cmp.Or(f.state.columns, maxWalkColumns) {
				batch = append(batch, c)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.varbinds > maxVarbinds {
			return &pollError{result: resultError, msg: fmt.Sprintf("walk of %s did not end after %d variables; agent loops?", f.ts.Address, maxVarbinds)}
		}
		var err error
		if f.useGetNext() {
			err = f.getNextRound(batch)
		} else {
			err = f.bulkRound(batch)
			if errors.Is(err, errBulkBroken) {
				err = nil // fell back; the next round walks with GETNEXT
			}
		}
		if err != nil {
			return err
		}
	}
}

// bulkRound sends one GETBULK for batch, backing off on tooBig and timeouts.
func (f *fetcher) bulkRound(batch []*walkCursor) error {
	names := make([]string, len(batch))
	for i, c := range batch {
		names[i] = c.next
	}
	what := func() string { return "GETBULK of " + describeOIDs(names) }
	for {
		reps := f.state.maxRep
		pkt, err := f.sess.GetBulk(names, 0, reps)
		if err != nil {
			if !isTimeout(err) || !f.answered {
				return classify(err, f.ts, what(), f.answered)
			}
			// The agent answered this poll before, so it is alive: the answer
			// may be too big for the path, or its GETBULK may hang. Halve once;
			// if that times out too, see whether GETNEXT works.
			if !f.bulkFailed && reps > 1 {
				f.bulkFailed, f.backedOff = true, true
				f.state.backOff(reps)
				f.logger.Info("no answer to GETBULK; halving max-repetitions", "max_repetitions", f.state.maxRep)
				continue
			}
			f.fallBack("no answer to GETBULK while GET works")
			return errBulkBroken
		}
		f.answered = true
		switch pkt.Error {
		case gosnmp.NoError:
		case gosnmp.TooBig:
			f.backedOff = true
			if reps > 1 {
				f.state.backOff(reps)
				f.logger.Debug("tooBig; halving max-repetitions", "max_repetitions", f.state.maxRep)
				continue
			}
			if len(batch) > 1 {
				// Even one repetition is too big: fewer columns at once.
				f.state.columns = max(1, len(batch)/2)
				return nil
			}
			return classify(&statusError{op: "GETBULK", status: pkt.Error}, f.ts, what(), true)
		case gosnmp.GenErr:
			f.fallBack("GETBULK answered with genErr")
			return errBulkBroken
		default:
			return classify(&statusError{op: "GETBULK", status: pkt.Error, oid: errorOID(pkt, names)}, f.ts, what(), true)
		}
		if len(pkt.Variables) == 0 {
			f.fallBack("GETBULK answered with no variables")
			return errBulkBroken
		}
		f.varbinds += len(pkt.Variables)
		for i, v := range pkt.Variables {
			c := batch[i%len(batch)]
			if c.done {
				continue
			}
			if !c.accept(v) {
				f.fallBack("GETBULK answered with OIDs out of order")
				return errBulkBroken
			}
		}
		return nil
	}
}

// getNextRound sends one GETNEXT for batch.
func (f *fetcher) getNextRound(batch []*walkCursor) error {
	names := make([]string, len(batch))
	for i, c := range batch {
		names[i] = c.next
	}
	what := "GETNEXT of " + describeOIDs(names)
	pkt, err := f.sess.GetNext(names)
	if err != nil {
		return classify(err, f.ts, what, f.answered)
	}
	f.answered = true
	switch pkt.Error {
	case gosnmp.NoError:
	case gosnmp.NoSuchName:
		// SNMPv1's way to say a walk has ended, still heard from v2c agents.
		if i := int(pkt.ErrorIndex) - 1; i >= 0 && i < len(batch) {
			batch[i].done = true
			return nil
		}
		for _, c := range batch {
			c.done = true
		}
		return nil
	default:
		return classify(&statusError{op: "GETNEXT", status: pkt.Error, oid: errorOID(pkt, names)}, f.ts, what, true)
	}
	if len(pkt.Variables) != len(batch) {
		return classify(fmt.Errorf("agent answered a GETNEXT of %d variables with %d", len(batch), len(pkt.Variables)), f.ts, what, true)
	}
	f.varbinds += len(pkt.Variables)
	for i, v := range pkt.Variables {
		c := batch[i]
		if !c.accept(v) {
			// Out of order even on GETNEXT: the agent would loop. Keep what
			// came so far and end the column.
			f.logger.Debug("walk ended: OIDs out of order", "column", c.oid, "oid", v.Name)
			c.done = true
		}
	}
	return nil
}

// fallBack switches the target to GETNEXT walks.
func (f *fetcher) fallBack(reason string) {
	f.backedOff = true
	if !f.state.getNext {
		f.logger.Info("falling back to GETNEXT walks", "reason", reason)
	}
	f.state.getNext, f.state.onGetNext, f.state.reason = true, 0, reason
}

// accept takes one varbind of a walk answer for the column. It reports false
// when the OID does not come after the last one, which a correct agent never
// sends.
func (c *walkCursor) accept(v gosnmp.SnmpPDU) bool {
	if !usable(v.Type) || !strings.HasPrefix(v.Name, c.prefix) {
		c.done = true // left the column, or the MIB ended
		return true
	}
	if compareOIDs(v.Name, c.next) <= 0 {
		return false
	}
	c.next = v.Name
	idx := v.Name[len(c.prefix):]
	c.col.order = append(c.col.order, idx)
	c.col.cells[idx] = cell{typ: v.Type, val: v.Value}
	return true
}

// compareOIDs compares dotted OIDs (an optional leading dot ignored) the way an
// agent orders them: by sub-identifier value, a prefix before what extends it.
func compareOIDs(a, b string) int {
	a, b = strings.TrimPrefix(a, "."), strings.TrimPrefix(b, ".")
	for {
		if a == "" || b == "" {
			switch {
			case a == "" && b == "":
				return 0
			case a == "":
				return -1
			}
			return 1
		}
		ea, eb := strings.IndexByte(a, '.'), strings.IndexByte(b, '.')
		if ea < 0 {
			ea = len(a)
		}
		if eb < 0 {
			eb = len(b)
		}
		// Without leading zeros, a longer number is the bigger one.
		if ea != eb {
			if ea < eb {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a[:ea], b[:eb]); c != 0 {
			return c
		}
		a, b = strings.TrimPrefix(a[ea:], "."), strings.TrimPrefix(b[eb:], ".")
	}
}

// errorOID is the variable an error-index points at.
func errorOID(pkt *gosnmp.SnmpPacket, asked []string) string {
	if i := int(pkt.ErrorIndex) - 1; i >= 0 && i < len(asked) {
		return strings.TrimPrefix(asked[i], ".")
	}
	return ""
}

// describeOIDs names the OIDs of a request in a message, briefly.
func describeOIDs(oids []string) string {
	switch len(oids) {
	case 0:
		return "nothing"
	case 1:
		return strings.TrimPrefix(oids[0], ".")
	}
	return fmt.Sprintf("%s and %d more", strings.TrimPrefix(oids[0], "."), len(oids)-1)
}
