package snmp

import (
	"time"

	"github.com/meetnoc/meetnoc/internal/exposition"
)

// snapshot is a target's state as of its last poll. A poll builds a new one and
// swaps it in atomically; once stored it is never modified, so Collect and Status
// read it without locks and a scrape never waits for a poll.
type snapshot struct {
	start       time.Time
	duration    time.Duration
	up          bool
	result      string
	message     string // why the poll failed, or a note on a successful one
	lastSuccess time.Time
	varbinds    int
	failures    int // consecutive failed polls
	maxRep      uint32
	getNext     bool

	// samples are the profile series; empty when the poll failed, so that a
	// dead target's data vanishes at once instead of going stale.
	samples []sample
	// parts are the samples and the target's own series, rendered and
	// compressed, one chunk per family, for /metrics.
	parts []exposition.Part

	// Counters since the target (re)started.
	polls    [len(results)]uint64
	overruns uint64
	requests uint64
	restarts uint64
}
