package traffic

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the day tests' zones, whatever the host has installed

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Fixed hash keys make the estimates, and so these tests, deterministic; the
// process key is random (TestClientHashKeyPerProcess).
var clientTestKeys = []clientKey{newClientKey(1), newClientKey(0x5eed), newClientKey(0xdeadbeefcafe)}

// clientT0 starts a slot (a multiple of the 1 min slot of a 5 min window).
var clientT0 = time.Unix(1_700_000_040, 0)

// sketchMAC returns a distinct locally administered MAC for each i.
func sketchMAC(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	b[2] = 0x02
	return b[2:8]
}

func newTestClientSketches(nSSID int, key clientKey) *clientSketches {
	s := newClientSketchesKeyed(nSSID, 5*time.Minute, time.UTC, key)
	s.advance(clientT0)
	return s
}

// countAt merges sketches at now into fresh counts.
func countAt(nSSID int, now time.Time, sketches ...*clientSketches) *clientCounts {
	c := newClientCounts(nSSID, 5*time.Minute)
	for _, s := range sketches {
		c.merge(s, now)
	}
	return c
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

// near is within ±2 of want: the standard error of a small count is below one.
func near(got, want float64) bool { return math.Abs(got-want) <= 2 }

func TestClientAccuracy(t *testing.T) {
	for _, key := range clientTestKeys {
		for _, n := range []int{10, 1_000, 3_000, 50_000, 200_000} {
			s := newTestClientSketches(2, key)
			for i := range n {
				s.insert(1, FamilyIPv6, sketchMAC(i))
			}
			c := countAt(2, clientT0, s)
			got := c.recent.estimate(1, FamilyIPv6)
			t.Logf("key %x: %d distinct → %.0f (%+.2f %%)", key.seed, n, got, 100*(got-float64(n))/float64(n))
			if n < 1000 {
				if math.Abs(got-float64(n)) > 1 {
					t.Errorf("key %x: %d distinct MACs estimated %.0f, want ±1", key.seed, n, got)
				}
			} else if !within(got, float64(n), 0.02) {
				t.Errorf("key %x: %d distinct MACs estimated %.0f, want ±2 %%", key.seed, n, got)
			}

			// Duplicates do not count: every MAC again, some many times.
			for i := range n {
				s.insert(1, FamilyIPv6, sketchMAC(i))
				s.insert(1, FamilyIPv6, sketchMAC(i%7))
			}
			if again := countAt(2, clientT0, s).recent.estimate(1, FamilyIPv6); again != got {
				t.Errorf("key %x: duplicates changed the estimate of %d from %.0f to %.0f", key.seed, n, got, again)
			}
			for _, f := range []Family{FamilyIPv4, FamilyNAT64} {
				if e := c.recent.estimate(1, f); e != 0 {
					t.Errorf("family %v = %.0f, want 0", f, e)
				}
			}
			if e := c.recent.estimate(0, FamilyIPv6); e != 0 {
				t.Errorf("other SSID = %.0f, want 0", e)
			}
		}
	}
}

// TestClientUnbiased: over many keys the estimates average out to the truth,
// also around 2.5 × 2^p distinct values, where the classic estimator switches from
// linear counting and is biased by a few per cent.
func TestClientUnbiased(t *testing.T) {
	const keys = 40
	for _, n := range []int{3_000, 41_000} {
		var sum float64
		for k := range keys {
			s := newTestClientSketches(1, newClientKey(uint64(k)*0x9e3779b97f4a7c15+7))
			for i := range n {
				s.insert(0, FamilyIPv4, sketchMAC(i))
			}
			sum += countAt(1, clientT0, s).recent.estimate(0, FamilyIPv4)
		}
		if mean := sum / keys; !within(mean, float64(n), 0.005) {
			t.Errorf("%d distinct MACs: mean estimate over %d keys %.0f, want ±0.5 %%", n, keys, mean)
		}
	}
}

func TestClientEstimatorExtremes(t *testing.T) {
	var hist [64]int
	hist[0] = clientRegisters - 1
	hist[3] = 1
	if e := estimateClients(&hist); e != 1 {
		t.Errorf("one register set: %v, want 1", e)
	}
	// Far above linear counting the estimate is the classic α·m²/Σ2^−M.
	hist = [64]int{20: clientRegisters}
	classic := 0.7213 / (1 + 1.079/clientRegisters) * clientRegisters * (1 << 20)
	if e := estimateClients(&hist); !within(e, classic, 0.001) {
		t.Errorf("every register at rank 20: %v, want %.0f", e, classic)
	}
	hist = [64]int{0: clientRegisters}
	if e := estimateClients(&hist); e != 0 {
		t.Errorf("empty: %v, want 0", e)
	}
}

func TestClientEmptyAndIgnored(t *testing.T) {
	s := newTestClientSketches(2, clientTestKeys[0])
	s.insert(1, FamilyOther, sketchMAC(1))
	s.insert(2, FamilyIPv4, sketchMAC(2))  // no such SSID index
	s.insert(-1, FamilyIPv4, sketchMAC(3)) // nor this
	s.insert(1, FamilyIPv4, sketchMAC(4)[:5])
	c := countAt(2, clientT0, s)
	for ssid := range 2 {
		for f := range Family(NumFamilies) {
			if e := c.recent.estimate(ssid, f); e != 0 {
				t.Errorf("ssid %d family %v = %v, want 0", ssid, f, e)
			}
		}
		if e, a := c.recent.estimateIPv6Active(ssid), c.recent.estimateAny(ssid); e != 0 || a != 0 {
			t.Errorf("ssid %d unions = %v %v, want 0", ssid, e, a)
		}
	}
	for k, g := range s.gen {
		if g != 0 {
			t.Errorf("sketch %d changed by an ignored insert", k)
		}
	}
}

// TestClientHashKeyPerProcess: the key that decides where a MAC lands is drawn
// at start, so registers say nothing about a known MAC across runs; all
// sketches of one process share it, or they could not be merged.
func TestClientHashKeyPerProcess(t *testing.T) {
	a, b := newClientHashKey(), newClientHashKey()
	if a == b {
		t.Fatal("two drawn keys are equal")
	}
	moved := 0
	for i := range 1000 {
		ha, hb := a.hashMAC(sketchMAC(i)), b.hashMAC(sketchMAC(i))
		if ha>>(64-clientPrecision) != hb>>(64-clientPrecision) {
			moved++
		}
	}
	if moved < 990 {
		t.Errorf("only %d of 1000 MACs land on another register under another key", moved)
	}
	if s1, s2 := newClientSketches(1, 0, nil), newClientSketches(1, time.Minute, nil); s1.key != clientHashKey || s2.key != clientHashKey {
		t.Error("sketches of one process do not share the process key")
	}
}

func TestClientUnions(t *testing.T) {
	for _, key := range clientTestKeys {
		// Small sets come out exact.
		s := newTestClientSketches(3, key)
		s.insert(2, FamilyIPv4, sketchMAC(1))
		s.insert(2, FamilyIPv4, sketchMAC(2))
		s.insert(2, FamilyIPv6, sketchMAC(2))
		s.insert(2, FamilyIPv6, sketchMAC(3))
		s.insert(2, FamilyNAT64, sketchMAC(3))
		s.insert(2, FamilyNAT64, sketchMAC(4))
		s.insert(2, FamilyNAT64, sketchMAC(5))
		s.insert(1, FamilyIPv4, sketchMAC(9))
		c := countAt(3, clientT0, s)
		got := []float64{c.recent.estimate(2, FamilyIPv4), c.recent.estimate(2, FamilyIPv6), c.recent.estimate(2, FamilyNAT64),
			c.recent.estimateIPv6Active(2), c.recent.estimateAny(2), c.recent.estimateAny(1), c.recent.estimateIPv6Active(1), c.recent.estimateAny(0)}
		want := []float64{2, 2, 3, 4, 5, 1, 0, 0}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("key %x: estimates %v, want %v", key.seed, got, want)
			}
		}

		// Large overlapping sets: ipv4 0..1999, ipv6 1000..2999, nat64 2500..3999.
		s = newTestClientSketches(3, key)
		for i := range 2000 {
			s.insert(1, FamilyIPv4, sketchMAC(i))
			s.insert(1, FamilyIPv6, sketchMAC(1000+i))
		}
		for i := range 1500 {
			s.insert(1, FamilyNAT64, sketchMAC(2500+i))
		}
		c = countAt(3, clientT0, s)
		if v6, all := c.recent.estimateIPv6Active(1), c.recent.estimateAny(1); !within(v6, 3000, 0.02) || !within(all, 4000, 0.02) {
			t.Errorf("key %x: ipv6-active %.0f (want 3000), any %.0f (want 4000)", key.seed, v6, all)
		}
	}
}

func TestClientWindowSlides(t *testing.T) {
	key := clientTestKeys[0]
	s := newTestClientSketches(2, key)
	insert := func(from, to int) {
		for i := from; i < to; i++ {
			s.insert(1, FamilyIPv4, sketchMAC(i))
		}
	}
	at := func(d time.Duration) float64 { return countAt(2, clientT0.Add(d), s).recent.estimate(1, FamilyIPv4) }

	insert(0, 100) // slot 0
	if got := at(0); !near(got, 100) {
		t.Fatalf("at t0: %v, want 100", got)
	}
	s.advance(clientT0.Add(4*time.Minute + 59*time.Second)) // slot 4
	insert(1000, 1050)
	if got := at(4*time.Minute + 59*time.Second); !near(got, 150) {
		t.Fatalf("at t0+4m59s: %v, want 150", got)
	}
	// Slot 5: slot 0 is still inside (window plus at most one slot).
	s.advance(clientT0.Add(5*time.Minute + 30*time.Second))
	if got := at(5*time.Minute + 30*time.Second); !near(got, 150) {
		t.Fatalf("at t0+5m30s: %v, want 150", got)
	}
	// Slot 6 drops slot 0 and keeps slot 4: the windows overlap partially.
	s.advance(clientT0.Add(6 * time.Minute))
	if got := at(6 * time.Minute); !near(got, 50) {
		t.Fatalf("at t0+6m: %v, want 50", got)
	}
	// A scrape that sees an idle worker's sketches long after its last advance
	// counts nothing: merge leaves out slots older than the window.
	if got := at(10 * time.Minute); got != 0 {
		t.Fatalf("at t0+10m without advance: %v, want 0", got)
	}
	// Jumping far ahead (a capture file's clock) empties every slot.
	s.advance(clientT0.Add(100 * time.Hour))
	if got := at(100 * time.Hour); got != 0 {
		t.Fatalf("after jumping 100 h: %v, want 0", got)
	}
	for k, g := range s.gen {
		if g != 0 {
			t.Fatalf("sketch %d not emptied by a jump beyond the window", k)
		}
	}
	if nonZero := bytes.Count(s.regs, []byte{0}); nonZero != len(s.regs) {
		t.Fatalf("%d registers left set", len(s.regs)-nonZero)
	}
	insert(0, 10)
	if got := at(100 * time.Hour); !near(got, 10) {
		t.Fatalf("after the jump: %v, want 10", got)
	}
	// Slots newer than the scrape's now are not inside its window.
	if got := at(99 * time.Hour); got != 0 {
		t.Fatalf("a window ending before the slot: %v, want 0", got)
	}
}

// TestClientClockStepsBack: concatenated capture files restart their clock; what
// was counted stays counted and lives on by the new clock.
func TestClientClockStepsBack(t *testing.T) {
	s := newTestClientSketches(1, clientTestKeys[0])
	s.advance(clientT0.Add(time.Hour))
	for i := range 20 {
		s.insert(0, FamilyNAT64, sketchMAC(i))
	}
	s.advance(clientT0)
	if got := countAt(1, clientT0, s).recent.estimate(0, FamilyNAT64); !near(got, 20) {
		t.Fatalf("after the step back: %v, want 20", got)
	}
	s.advance(clientT0.Add(6 * time.Minute))
	if got := countAt(1, clientT0.Add(6*time.Minute), s).recent.estimate(0, FamilyNAT64); got != 0 {
		t.Fatalf("a window after the step back: %v, want 0", got)
	}
}

// TestClientDailyAccuracy: the day's sketches count every client since
// midnight, spread over many slots of which the window keeps only the last:
// exact at small counts, within a few at hundreds (a few clients share a
// register), within 2 % at a large meeting's.
func TestClientDailyAccuracy(t *testing.T) {
	for _, key := range clientTestKeys {
		for _, n := range []int{1, 10, 100, 500, 10_000, 30_000, 100_000} {
			s := newClientSketchesKeyed(2, 5*time.Minute, time.UTC, key)
			// From 00:10 UTC, a new minute every n/100 clients: up to 100
			// minutes, all of one day.
			now := time.Date(2026, 3, 16, 0, 10, 0, 0, time.UTC)
			s.advance(now)
			step := max(n/100, 1)
			for i := range n {
				if i%step == 0 {
					now = now.Add(time.Minute)
					s.advance(now)
				}
				s.insert(0, FamilyNAT64, sketchMAC(i))
				s.insert(0, FamilyNAT64, sketchMAC(i/2)) // seen again
			}
			c := newClientCounts(2, 5*time.Minute)
			c.merge(s, now)
			got := c.day.estimate(0, FamilyNAT64)
			switch {
			case n <= 10:
				if got != float64(n) {
					t.Errorf("key %x: %d clients today estimated %.0f, want exactly %d", key.seed, n, got, n)
				}
			case n <= 500:
				if math.Abs(got-float64(n)) > 3 {
					t.Errorf("key %x: %d clients today estimated %.0f, want ±3", key.seed, n, got)
				}
			case !within(got, float64(n), 0.02):
				t.Errorf("key %x: %d clients today estimated %.0f, want ±2 %%", key.seed, n, got)
			}
			if n >= 10_000 {
				// The window holds the last 6 minutes' clients only (and
				// those seen again in them): 9 %.
				if w := c.recent.estimate(0, FamilyNAT64); w > 0.1*float64(n) {
					t.Errorf("key %x: %d clients today, %.0f in the window", key.seed, n, w)
				}
			}
			if o := c.day.estimate(1, FamilyNAT64) + c.day.estimate(0, FamilyIPv4); o != 0 {
				t.Errorf("key %x: %.0f clients today in other sketches", key.seed, o)
			}
		}
	}
}

// dayCount is the day's ipv4 clients of SSID 0 that a scrape at now sees.
func dayCount(s *clientSketches, now time.Time) float64 {
	c := newClientCounts(s.nSSID, 5*time.Minute)
	c.merge(s, now)
	return c.day.estimate(0, FamilyIPv4)
}

// TestClientDayResetsAtLocalMidnight: the day is the configured zone's, here
// India's (UTC+5:30, so its midnight is 18:30 UTC): the day's sketches start
// empty at that midnight while the window goes on across it.
func TestClientDayResetsAtLocalMidnight(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	s := newClientSketchesKeyed(1, 5*time.Minute, kolkata, clientTestKeys[1])
	insert := func(from, to int) {
		for i := from; i < to; i++ {
			s.insert(0, FamilyIPv4, sketchMAC(i))
		}
	}
	window := func(now time.Time) float64 {
		c := newClientCounts(1, 5*time.Minute)
		c.merge(s, now)
		return c.recent.estimate(0, FamilyIPv4)
	}
	// A day's clients, the first before the first advance (they count for
	// the first day).
	morning := time.Date(2026, 3, 16, 8, 0, 0, 0, kolkata)
	insert(0, 3)
	s.advance(morning)
	insert(3, 8)
	evening := time.Date(2026, 3, 16, 23, 58, 0, 0, kolkata)
	s.advance(evening)
	insert(8, 14)
	last := time.Date(2026, 3, 16, 23, 59, 59, 999_999_999, kolkata)
	if s.dayOver(last) {
		t.Fatal("the day is over a nanosecond before midnight")
	}
	s.advance(last)
	if got := dayCount(s, last); got != 14 {
		t.Fatalf("at 23:59:59.999999999 IST: %v today, want 14", got)
	}
	midnight := time.Date(2026, 3, 17, 0, 0, 0, 0, kolkata)
	if midnight.UTC().Hour() != 18 || midnight.UTC().Minute() != 30 {
		t.Fatalf("midnight IST is %v UTC", midnight.UTC())
	}
	// A scrape after midnight of sketches not yet advanced does not count
	// yesterday as today.
	if got := dayCount(s, midnight); got != 0 {
		t.Fatalf("yesterday's sketches at midnight: %v today, want 0", got)
	}
	if !s.dayOver(midnight) {
		t.Fatal("the day is not over at midnight")
	}
	s.advance(midnight)
	if got := dayCount(s, midnight); got != 0 {
		t.Fatalf("at midnight IST: %v today, want 0", got)
	}
	if got := window(midnight); got != 6 {
		t.Fatalf("at midnight IST: %v in the window, want the 6 of 23:58", got)
	}
	insert(12, 17) // 2 of them also seen yesterday
	if got := dayCount(s, midnight); got != 5 {
		t.Fatalf("after midnight IST: %v today, want 5", got)
	}
	if got := window(midnight); got != 9 {
		t.Fatalf("after midnight IST: %v in the window, want 9", got)
	}
	// The same instants in UTC are all of one day (the 16th, 02:30 to 18:30):
	// nothing would have been emptied.
	utc := newClientSketchesKeyed(1, 5*time.Minute, time.UTC, clientTestKeys[1])
	for _, at := range []time.Time{morning, evening, midnight} {
		utc.advance(at)
		for i := range 5 {
			utc.insert(0, FamilyIPv4, sketchMAC(int(at.Unix())+i))
		}
	}
	if got := dayCount(utc, midnight); got != 15 {
		t.Fatalf("in UTC: %v today, want 15", got)
	}

	// A clock that steps back to the day before keeps what was counted.
	s.advance(evening)
	if got := dayCount(s, evening); got != 5 {
		t.Fatalf("after stepping back to yesterday: %v today, want 5", got)
	}
	// Days later (a capture file's clock jumps): empty.
	later := time.Date(2026, 3, 20, 12, 0, 0, 0, kolkata)
	s.advance(later)
	if got := dayCount(s, later); got != 0 {
		t.Fatalf("days later: %v today, want 0", got)
	}
	if g := s.gen[dayEntry*s.nSSID*clientFamilies+int(FamilyIPv4)]; g != 0 {
		t.Fatalf("the emptied day's sketch has generation %d", g)
	}
}

// TestClientDayDST: days of 23 and 25 hours end at the local midnight, not 24
// hours after the last one.
func TestClientDayDST(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []struct {
		date  time.Time // a local midnight starting a DST change day
		hours int
	}{
		{time.Date(2026, 3, 29, 0, 0, 0, 0, madrid), 23},
		{time.Date(2026, 10, 25, 0, 0, 0, 0, madrid), 25},
	} {
		s := newClientSketchesKeyed(1, 5*time.Minute, madrid, clientTestKeys[0])
		s.advance(day.date)
		s.insert(0, FamilyIPv4, sketchMAC(1))
		end := day.date.Add(time.Duration(day.hours) * time.Hour)
		if end.In(madrid).Hour() != 0 {
			t.Fatalf("%v + %d h is %v", day.date, day.hours, end.In(madrid))
		}
		s.advance(end.Add(-time.Second))
		s.insert(0, FamilyIPv4, sketchMAC(2))
		if got := dayCount(s, end.Add(-time.Second)); got != 2 {
			t.Errorf("%s, a second before its end: %v today, want 2", day.date.Format(time.DateOnly), got)
		}
		s.advance(end)
		if got := dayCount(s, end); got != 0 {
			t.Errorf("%s, at the next midnight: %v today, want 0", day.date.Format(time.DateOnly), got)
		}
	}
}

// TestClientDayHandOverCopiesChanges: the hand-over copies the day's
// sketches only when they changed, like the slots'. Sketches a copy skips
// are marked in the destination to see which were copied.
func TestClientDayHandOverCopiesChanges(t *testing.T) {
	src := newTestClientSketches(2, clientTestKeys[0])
	dst := newClientSketchesKeyed(2, 5*time.Minute, time.UTC, clientTestKeys[0])
	for i := range 100 {
		src.insert(i%2, Family(i%3), sketchMAC(i))
	}
	dst.copyFrom(src)
	copied := func() (n int) {
		for k := range dst.gen {
			if dst.regs[k<<clientPrecision] != 0xff {
				n++
			}
		}
		return n
	}
	for k := range dst.gen {
		dst.regs[k<<clientPrecision] = 0xff
	}
	dst.copyFrom(src)
	if n := copied(); n != 0 {
		t.Fatalf("nothing changed: %d sketches copied", n)
	}
	// A new client: its slot's and its day's sketch.
	src.insert(1, FamilyIPv6, sketchMAC(1000))
	dst.copyFrom(src)
	if n := copied(); n != 2 {
		t.Fatalf("one client: %d sketches copied, want 2", n)
	}
	k := (dayEntry*2+1)*clientFamilies + int(FamilyIPv6) // the day's, SSID 1, IPv6
	if !bytes.Equal(dst.regs[k<<clientPrecision:(k+1)<<clientPrecision], src.regs[k<<clientPrecision:(k+1)<<clientPrecision]) {
		t.Fatal("the changed day sketch was not copied")
	}
}

// TestClientWorkersMerge: the union of several workers' published sketches is
// register for register the sketch of all their inserts.
func TestClientWorkersMerge(t *testing.T) {
	const nSSID, workers = 4, 4
	key := clientTestKeys[1]
	all := newTestClientSketches(nSSID, key)
	live := make([]*clientSketches, workers)
	snaps := make([]*clientSketches, workers)
	for w := range workers {
		live[w] = newTestClientSketches(nSSID, key)
		snaps[w] = newClientSketchesKeyed(nSSID, 5*time.Minute, time.UTC, key)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	step := func(now time.Time, n int) {
		all.advance(now)
		for w := range workers {
			live[w].advance(now)
		}
		for range n {
			w, mac := rng.IntN(workers), sketchMAC(rng.IntN(5000))
			ssid, f := rng.IntN(nSSID), Family(rng.IntN(clientFamilies))
			live[w].insert(ssid, f, mac)
			all.insert(ssid, f, mac)
		}
		for w := range workers {
			snaps[w].copyFrom(live[w])
		}
	}
	step(clientT0, 20000)
	step(clientT0.Add(90*time.Second), 20000)
	step(clientT0.Add(3*time.Minute), 20000)
	step(clientT0.Add(7*time.Minute), 20000) // the first slot leaves the window
	now := clientT0.Add(7 * time.Minute)

	union := newClientCounts(nSSID, 5*time.Minute)
	for _, sn := range snaps {
		union.merge(sn, now)
	}
	one := countAt(nSSID, now, all)
	if !bytes.Equal(union.recent, one.recent) {
		t.Fatal("merged workers' registers differ from one sketch of all inserts")
	}
	if !bytes.Equal(union.day, one.day) {
		t.Fatal("merged workers' day registers differ from one sketch of all inserts")
	}
	// Merging into reused counts gives the same.
	reused := countAt(nSSID, clientT0, all)
	reused.reset()
	for _, sn := range snaps {
		reused.merge(sn, now)
	}
	if !bytes.Equal(reused.recent, one.recent) || !bytes.Equal(reused.day, one.day) {
		t.Fatal("reset counts merge differently")
	}
	for ssid := range nSSID {
		for f := range Family(clientFamilies) {
			if u, o := union.recent.estimate(ssid, f), one.recent.estimate(ssid, f); u != o || u == 0 {
				t.Errorf("ssid %d %v: merged %.0f, one sketch %.0f", ssid, f, u, o)
			}
			// The day also holds the first slot's clients, which left the window.
			if d, w := union.day.estimate(ssid, f), union.recent.estimate(ssid, f); d <= w {
				t.Errorf("ssid %d %v: %.0f today, %.0f in the window", ssid, f, d, w)
			}
		}
	}
}

func TestClientCopyFrom(t *testing.T) {
	key := clientTestKeys[2]
	src := newTestClientSketches(3, key)
	dst := newClientSketchesKeyed(1, time.Minute, time.UTC, key) // another shape: copyFrom adopts src's
	check := func(when string) {
		t.Helper()
		if !bytes.Equal(dst.regs, src.regs) || dst.slot != src.slot || dst.cur != src.cur ||
			dst.dayStart != src.dayStart || dst.dayEnd != src.dayEnd || dst.loc != src.loc {
			t.Fatalf("%s: copy differs from its source", when)
		}
	}
	dst.copyFrom(src)
	check("empty")
	for i := range 500 {
		src.insert(i%3, Family(i%3), sketchMAC(i))
	}
	dst.copyFrom(src)
	check("first slot")
	src.advance(clientT0.Add(2 * time.Minute))
	for i := range 500 {
		src.insert(1, FamilyIPv6, sketchMAC(1000+i))
	}
	dst.copyFrom(src)
	check("third slot")
	src.advance(clientT0.Add(20 * time.Minute)) // empties all
	src.insert(0, FamilyIPv4, sketchMAC(1))
	dst.copyFrom(src)
	check("after emptying")

	// A copy taken from another source is overwritten whole, even where the
	// generations happen to agree.
	other := newTestClientSketches(3, key)
	other.insert(0, FamilyIPv4, sketchMAC(2))
	other.advance(clientT0.Add(20 * time.Minute))
	src = other
	dst.copyFrom(other)
	check("another source")
}

func TestClientMaxRegisters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 7, 8, 13, clientRegisters} {
		a, b := make([]uint8, n), make([]uint8, n)
		for i := range n {
			a[i], b[i] = uint8(rng.IntN(clientMaxRank+1)), uint8(rng.IntN(clientMaxRank+1))
		}
		if n > 0 {
			a[0] = b[0] // equal registers too
		}
		want := make([]uint8, n)
		for i := range n {
			want[i] = max(a[i], b[i])
		}
		maxRegisters(a, b)
		if !bytes.Equal(a, want) {
			t.Fatalf("n=%d: max differs", n)
		}
	}
}

func TestClientAllocs(t *testing.T) {
	s := newTestClientSketches(4, clientTestKeys[0])
	snap := newClientSketchesKeyed(4, 5*time.Minute, time.UTC, clientTestKeys[0])
	c := newClientCounts(4, 5*time.Minute)
	macs := make([][]byte, 4096)
	for i := range macs {
		macs[i] = sketchMAC(i)
	}
	i := 0
	now := clientT0
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"insert", func() {
			s.insert(i%4, Family(i%3), macs[i%len(macs)])
			i++
		}},
		{"advance (same slot)", func() { s.advance(clientT0.Add(time.Second)) }},
		{"advance (next slot)", func() {
			now = now.Add(time.Minute)
			s.advance(now)
			s.insert(1, FamilyIPv4, macs[0])
		}},
		{"advance (next day)", func() {
			now = now.Add(24 * time.Hour)
			s.advance(now)
			s.insert(1, FamilyIPv4, macs[0])
		}},
		{"dayOver", func() { _ = s.dayOver(now) }},
		{"copyFrom", func() {
			s.insert(i%4, Family(i%3), macs[i%len(macs)])
			i++
			snap.copyFrom(s)
		}},
		{"merge", func() { c.merge(snap, now) }},
		{"estimate", func() {
			_ = c.recent.estimate(1, FamilyIPv6) + c.recent.estimateIPv6Active(1) + c.recent.estimateAny(1)
		}},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tc.name, n)
		}
	}
}

// clientsCollector exports counts the way the engine does.
type clientsCollector struct {
	names []string
	c     *clientCounts
}

func (cc clientsCollector) Describe(ch chan<- *prometheus.Desc) { describeClients(ch) }
func (cc clientsCollector) Collect(ch chan<- prometheus.Metric) { collectClients(ch, cc.names, cc.c) }

func TestClientCollect(t *testing.T) {
	names := []string{UnknownSSID, "ietf", "ietf-dual-stack"}
	s := newClientSketchesKeyed(3, 5*time.Minute, time.UTC, clientTestKeys[0])
	// Earlier today, outside the window: a client only ietf's day counts, and
	// an ietf-dual-stack client that sent IPv6 then and IPv4 now.
	s.advance(clientT0.Add(-10 * time.Minute))
	s.insert(1, FamilyIPv4, sketchMAC(7))
	s.insert(2, FamilyIPv6, sketchMAC(4))
	s.advance(clientT0)
	// ietf: 3 IPv6-only-capable clients (2 native, 1 of them also via NAT64, 1
	// NAT64 only); ietf-dual-stack: 2 IPv4, 1 of them also IPv6.
	s.insert(1, FamilyIPv6, sketchMAC(1))
	s.insert(1, FamilyIPv6, sketchMAC(2))
	s.insert(1, FamilyNAT64, sketchMAC(2))
	s.insert(1, FamilyNAT64, sketchMAC(3))
	s.insert(2, FamilyIPv4, sketchMAC(4))
	s.insert(2, FamilyIPv4, sketchMAC(5))
	s.insert(2, FamilyIPv6, sketchMAC(5))
	cc := clientsCollector{names: names, c: countAt(3, clientT0, s)}

	if problems, err := testutil.CollectAndLint(cc); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	if n := testutil.CollectAndCount(cc); n != 2*3*(3+2) {
		t.Fatalf("%d series, want 30", n)
	}
	const help = "unique source MACs of up traffic in the last 5m, HyperLogLog estimate."
	const dayHelp = "unique source MACs of up traffic since the local midnight (the daemon host's time zone; a capture file's timestamps when one is read), HyperLogLog estimate."
	want := `
# HELP meetnoc_traffic_clients Clients by SSID and address family: ` + help + `
# TYPE meetnoc_traffic_clients gauge
meetnoc_traffic_clients{family="ipv4",ssid="ietf"} 0
meetnoc_traffic_clients{family="ipv4",ssid="ietf-dual-stack"} 2
meetnoc_traffic_clients{family="ipv4",ssid="unknown"} 0
meetnoc_traffic_clients{family="ipv6",ssid="ietf"} 2
meetnoc_traffic_clients{family="ipv6",ssid="ietf-dual-stack"} 1
meetnoc_traffic_clients{family="ipv6",ssid="unknown"} 0
meetnoc_traffic_clients{family="nat64",ssid="ietf"} 2
meetnoc_traffic_clients{family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_clients{family="nat64",ssid="unknown"} 0
# HELP meetnoc_traffic_ipv6_active_clients Clients that sent IPv6, native or NAT64, by SSID: ` + help + `
# TYPE meetnoc_traffic_ipv6_active_clients gauge
meetnoc_traffic_ipv6_active_clients{ssid="ietf"} 3
meetnoc_traffic_ipv6_active_clients{ssid="ietf-dual-stack"} 1
meetnoc_traffic_ipv6_active_clients{ssid="unknown"} 0
# HELP meetnoc_traffic_active_clients Clients that sent IPv4, IPv6 or NAT64, by SSID: ` + help + `
# TYPE meetnoc_traffic_active_clients gauge
meetnoc_traffic_active_clients{ssid="ietf"} 3
meetnoc_traffic_active_clients{ssid="ietf-dual-stack"} 2
meetnoc_traffic_active_clients{ssid="unknown"} 0
# HELP meetnoc_traffic_daily_clients Clients by SSID and address family: ` + dayHelp + `
# TYPE meetnoc_traffic_daily_clients gauge
meetnoc_traffic_daily_clients{family="ipv4",ssid="ietf"} 1
meetnoc_traffic_daily_clients{family="ipv4",ssid="ietf-dual-stack"} 2
meetnoc_traffic_daily_clients{family="ipv4",ssid="unknown"} 0
meetnoc_traffic_daily_clients{family="ipv6",ssid="ietf"} 2
meetnoc_traffic_daily_clients{family="ipv6",ssid="ietf-dual-stack"} 2
meetnoc_traffic_daily_clients{family="ipv6",ssid="unknown"} 0
meetnoc_traffic_daily_clients{family="nat64",ssid="ietf"} 2
meetnoc_traffic_daily_clients{family="nat64",ssid="ietf-dual-stack"} 0
meetnoc_traffic_daily_clients{family="nat64",ssid="unknown"} 0
# HELP meetnoc_traffic_daily_ipv6_active_clients Clients that sent IPv6, native or NAT64, by SSID: ` + dayHelp + `
# TYPE meetnoc_traffic_daily_ipv6_active_clients gauge
meetnoc_traffic_daily_ipv6_active_clients{ssid="ietf"} 3
meetnoc_traffic_daily_ipv6_active_clients{ssid="ietf-dual-stack"} 2
meetnoc_traffic_daily_ipv6_active_clients{ssid="unknown"} 0
# HELP meetnoc_traffic_daily_active_clients Clients that sent IPv4, IPv6 or NAT64, by SSID: ` + dayHelp + `
# TYPE meetnoc_traffic_daily_active_clients gauge
meetnoc_traffic_daily_active_clients{ssid="ietf"} 4
meetnoc_traffic_daily_active_clients{ssid="ietf-dual-stack"} 2
meetnoc_traffic_daily_active_clients{ssid="unknown"} 0
`
	if err := testutil.CollectAndCompare(cc, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// A configured window shows in the help; a pedantic registry still matches
	// the metrics to the described (default-window) descriptors.
	c10 := newClientCounts(3, 10*time.Minute)
	c10.merge(s, clientT0)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(clientsCollector{names: names, c: c10})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 6 || !strings.Contains(mfs[0].GetHelp(), "in the last 10m,") {
		t.Fatalf("gathered %d families, help %q", len(mfs), mfs[0].GetHelp())
	}
}

func BenchmarkClientInsert(b *testing.B) {
	s := newTestClientSketches(4, clientHashKey)
	// A meeting's devices sending in turn, their MACs 6 bytes apart as in a
	// buffer of frames.
	const devices = 3000
	macs := make([]byte, 6*devices)
	for i := range devices {
		copy(macs[6*i:], sketchMAC(i*7919))
	}
	b.ReportAllocs()
	i, o := 0, 0
	for b.Loop() {
		s.insert(i&3, Family(i%3), macs[o:o+6])
		if i++; i == devices {
			i = 0
		}
		o = 6 * i
	}
}

// filledClientSketches is one worker's sketches with every slot of 4 SSIDs × 3
// families holding ~3,000 clients.
func filledClientSketches() (*clientSketches, time.Time) {
	s := newTestClientSketches(4, clientHashKey)
	now := clientT0
	for slot := range clientRing {
		now = clientT0.Add(time.Duration(slot) * time.Minute)
		s.advance(now)
		for i := range 3000 {
			for ssid := range 4 {
				s.insert(ssid, Family(i%3), sketchMAC(slot*1000+i))
			}
		}
	}
	return s, now
}

// BenchmarkClientMerge: a scrape's work per worker: merge its 6 slots of 4 SSIDs
// × 3 families, then estimate the 12 per-family counts and the 8 unions.
func BenchmarkClientMerge(b *testing.B) {
	s, now := filledClientSketches()
	c := newClientCounts(4, 5*time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		c.reset()
		c.merge(s, now)
		for ssid := range 4 {
			for f := range Family(clientFamilies) {
				c.recent.estimate(ssid, f)
			}
			c.recent.estimateIPv6Active(ssid)
			c.recent.estimateAny(ssid)
		}
	}
}

// BenchmarkClientCopyFrom: the hand-over to scrapes, whole (a new snapshot) and
// after a batch of 1,000 inserts into the current slot.
func BenchmarkClientCopyFrom(b *testing.B) {
	s, _ := filledClientSketches()
	b.Run("whole", func(b *testing.B) {
		// Alternating sources: each copy is a whole one.
		other, _ := filledClientSketches()
		dst := newClientSketchesKeyed(4, 5*time.Minute, time.UTC, clientHashKey)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				dst.copyFrom(s)
			} else {
				dst.copyFrom(other)
			}
		}
	})
	b.Run("after-1000-inserts", func(b *testing.B) {
		dst := newClientSketchesKeyed(4, 5*time.Minute, time.UTC, clientHashKey)
		dst.copyFrom(s)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			for range 1000 {
				s.insert(i&3, Family(i%3), sketchMAC(i%5000))
				i++
			}
			dst.copyFrom(s)
		}
	})
}
