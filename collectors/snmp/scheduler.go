package snmp

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// maxBackoff caps how far consecutive failures stretch a target's interval: a
// dead switch is still retried every few minutes, and noticed soon when it is
// back.
const maxBackoff = 5

// run polls the target until ctx ends: the first poll at a random moment within
// the first interval, so that targets started together spread out, then one
// every interval (± jitter), stretched after consecutive failures. Each target
// has its own goroutine, so a slow or dead one delays nobody but itself; lim
// bounds how many polls are in flight at once.
func (t *target) run(ctx context.Context, lim *limiter) {
	t.mu.Lock()
	t.closed = false
	t.mu.Unlock()
	defer t.close()
	defer t.nextPoll.Store(0)
	next := time.Now().Add(time.Duration(rand.Float64() * float64(t.ts.Interval)))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.nextPoll.Store(next.UnixNano())
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if err := lim.acquire(ctx); err != nil {
			return
		}
		start := time.Now()
		s, _ := t.poll(ctx)
		lim.release()
		if ctx.Err() != nil {
			return
		}
		failures := 0
		if s != nil {
			failures = s.failures
		}
		next = start.Add(t.delay(failures))
		if now := time.Now(); next.Before(now) {
			// An overrun (counted by poll) does not make polls pile up.
			next = now
		}
	}
}

// delay is the time from the start of one poll to the start of the next.
func (t *target) delay(failures int) time.Duration {
	mult := 1.0
	for i := 1; i < failures && mult < maxBackoff; i++ {
		mult *= 2
	}
	mult = min(mult, maxBackoff)
	jitter := 1 + t.ts.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(t.ts.Interval) * mult * jitter)
}

// limiter is a counting semaphore whose limit can change while it is in use
// (max_concurrency is reloadable).
type limiter struct {
	mu    sync.Mutex
	limit int
	inUse int
	wake  chan struct{} // closed and replaced whenever a slot may have freed
}

func newLimiter(limit int) *limiter {
	return &limiter{limit: max(limit, 1), wake: make(chan struct{})}
}

func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inUse < l.limit {
			l.inUse++
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	l.inUse--
	l.broadcast()
	l.mu.Unlock()
}

func (l *limiter) setLimit(limit int) {
	l.mu.Lock()
	l.limit = max(limit, 1)
	l.broadcast()
	l.mu.Unlock()
}

func (l *limiter) broadcast() {
	close(l.wake)
	l.wake = make(chan struct{})
}
