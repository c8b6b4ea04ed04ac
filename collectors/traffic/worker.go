package traffic

import (
	"sync"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Publish intervals. Counters are small and copied often so that a scrape is at
// most ~100 ms behind; the client sketches are larger and change slowly, so they
// are handed over once a second.
const (
	publishCountersEvery = 100 * time.Millisecond
	publishClientsEvery  = time.Second
)

// Worker is the classification state of one capture goroutine: a TPACKET_V3 ring
// reader, the sFlow listener, a pcap reader. Frame writes plain integers that only
// this goroutine touches; Publish copies them, under a mutex taken once per batch
// rather than per packet, into a snapshot that scrapes read. So the per-packet path
// has no lock and no atomic, and a scrape never waits for a batch to finish.
//
// A Worker is not safe for concurrent use, except that Publish and Flush may run
// while the engine reads the snapshot.
type Worker struct {
	c       *Classifier
	decoder *payloadDecoder

	counters *Counters
	events   *Events
	clients  *clientSketches

	// Owned by the worker goroutine: when counts and sketches were last handed over,
	// by the worker's clock (wall time, or the capture's timestamps for a file).
	lastCounters, lastClients time.Time
	published                 bool

	mu   sync.Mutex // guards snap
	snap workerSnapshot
}

// workerSnapshot is what a scrape reads of a worker.
type workerSnapshot struct {
	counters *Counters
	events   *Events
	clients  *clientSketches
	// clientsAt is the worker's clock when clients was copied: the unique-client
	// window ends there, so a capture file replayed at full speed counts the
	// clients of its own last window, not of the wall clock's.
	clientsAt time.Time
}

// newWorker returns a worker counting with c and d; window is the unique-client
// window (the default when not positive), loc the time zone whose midnight
// starts the unique clients' day (time.Local when nil).
func newWorker(c *Classifier, d *payloadDecoder, window time.Duration, loc *time.Location) *Worker {
	if window <= 0 {
		window = config.DefaultClientWindow
	}
	n := len(c.names)
	return &Worker{
		c:        c,
		decoder:  d,
		counters: c.NewCounters(),
		events:   newEvents(n),
		clients:  newClientSketches(n, window, loc),
		snap: workerSnapshot{
			counters: c.NewCounters(),
			events:   newEvents(n),
			clients:  newClientSketches(n, window, loc),
		},
	}
}

// Classifier is the classifier the worker counts with.
func (w *Worker) Classifier() *Classifier { return w.c }

// Frame classifies one frame and counts it: packets += weight, bytes += wireLen ×
// weight (see Classifier.ClassifyInVLAN for frame, vlan and wireLen). The rare
// DHCPv4 and Router Advertisement frames are decoded further; the source MAC of
// a frame a client sent is added to the unique-client sketch of its SSID and
// family and kept nowhere else.
func (w *Worker) Frame(frame []byte, wireLen int, weight uint64, vlan uint16) Result {
	r := w.c.ClassifyInVLAN(frame, vlan, wireLen, weight, w.counters)
	if r.Payload != PayloadNone {
		w.decoder.observe(frame, r, weight, w.events)
	}
	if r.Direction == DirectionUp && r.Family != FamilyOther && len(frame) >= 12 {
		w.clients.insert(r.SSID, r.Family, frame[6:12])
	}
	return r
}

// Publish hands the counts over to scrapes when 100 ms have passed since the
// last hand-over (the client sketches: 1 s, or at once when the local day is
// over, so that the day's sketches start empty at midnight), by the worker's
// clock now. Sources call it after every batch and when idle, so it must be
// cheap when there is nothing to do: a few time comparisons.
func (w *Worker) Publish(now time.Time) {
	counters := !w.published || elapsed(w.lastCounters, now) >= publishCountersEvery
	clients := !w.published || elapsed(w.lastClients, now) >= publishClientsEvery || w.clients.dayOver(now)
	if counters || clients {
		w.publish(now, clients)
	}
}

// Flush hands everything over now; a source calls it before the worker ends.
func (w *Worker) Flush(now time.Time) { w.publish(now, true) }

func (w *Worker) publish(now time.Time, clients bool) {
	if clients {
		w.clients.advance(now)
	}
	w.mu.Lock()
	w.snap.counters.CopyFrom(w.counters)
	w.snap.events.CopyFrom(w.events)
	if clients {
		w.snap.clients.copyFrom(w.clients)
		w.snap.clientsAt = now
	}
	w.mu.Unlock()
	w.published = true
	w.lastCounters = now
	if clients {
		w.lastClients = now
	}
}

// elapsed is |now − since|: a capture file's clock may step back (merged files),
// and a step back must not stall the hand-over.
func elapsed(since, now time.Time) time.Duration {
	d := now.Sub(since)
	if d < 0 {
		return -d
	}
	return d
}

// addAllTo adds the worker's published counts to the scrape-time totals.
// clients may be nil when only the counts are wanted (folding at a reload).
func (w *Worker) addAllTo(counters *Counters, events *Events, clients *clientCounts) {
	w.mu.Lock()
	defer w.mu.Unlock()
	counters.Add(w.snap.counters)
	events.Add(w.snap.events)
	if clients != nil && !w.snap.clientsAt.IsZero() {
		clients.merge(w.snap.clients, w.snap.clientsAt)
	}
}
