package traffic

import (
	"log/slog"
	"testing"
	"time"
)

// newTestWorker is a worker for source tests that count traffic only: its
// decoder has no allow lists (every DHCP server and router is allowed) and it
// counts unique clients over the default window.
func newTestWorker(t testing.TB, c *Classifier) *Worker {
	t.Helper()
	d := &payloadDecoder{
		logger:    slog.New(slog.DiscardHandler),
		ssidNames: c.SSIDNames(),
		policies:  make([]ssidPolicy, len(c.SSIDNames())),
	}
	return newWorker(c, d, 5*time.Minute, nil)
}

// addTo adds the worker's published traffic counts to counters (the source
// tests look at traffic only).
func (w *Worker) addTo(counters *Counters) { w.addAllTo(counters, newEvents(len(w.c.names)), nil) }
