package lab

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestMeetingDayShape(t *testing.T) {
	d := NewDay(0)
	night, arrival := d.Level(at("03:00")), d.Level(at("08:30"))
	session, lunch, peak := d.Level(at("10:30")), d.Level(at("12:15")), d.Level(at("14:00"))
	breakTime, evening := d.Level(at("15:20")), d.Level(at("21:00"))

	if night >= 0.1 {
		t.Errorf("night level %.3f, want under 0.1", night)
	}
	if !(night < arrival && arrival < session) {
		t.Errorf("morning does not ramp up: night %.3f, arrival %.3f, session %.3f", night, arrival, session)
	}
	if peak != 1 {
		t.Errorf("level at 14:00 = %.3f, want the peak 1", peak)
	}
	if !(lunch < session && breakTime < peak) {
		t.Errorf("breaks do not dip: lunch %.3f vs session %.3f, break %.3f vs peak %.3f", lunch, session, breakTime, peak)
	}
	if !(evening < session && evening > night) {
		t.Errorf("evening %.3f, want between night %.3f and session %.3f", evening, night, session)
	}
	if got := d.Attendees(at("14:00")); got != PeakAttendees {
		t.Errorf("attendees at the peak = %d, want %d", got, PeakAttendees)
	}
	if s, b := d.Session(at("14:00")), d.Session(at("15:20")); !(s > 0.8 && b < 0.2) {
		t.Errorf("session share %.2f in a session and %.2f in a break", s, b)
	}
	// Periodic, and placed by the venue's offset.
	if a, b := d.Level(at("14:00")), d.Level(at("14:00").Add(72*time.Hour)); a != b {
		t.Errorf("level differs three days later: %.3f vs %.3f", a, b)
	}
	tokyo := NewDay(9 * time.Hour)
	if got := tokyo.Level(at("05:00")); got != 1 {
		t.Errorf("venue at UTC+9, 05:00 UTC is 14:00 there: level %.3f, want 1", got)
	}
}

// The integral must match a numeric one and grow with time, across midnight too.
func TestCurveIntegral(t *testing.T) {
	d := NewDay(0)
	for name, c := range map[string]*curve{"level": d.level, "session": d.session, "inHalls": d.inHalls, "flat": d.flat} {
		// Riemann sum at one-second steps, midpoints.
		var sum float64
		for s := int64(0); s < 86400; s++ {
			ms := s*1000 + 500
			seg := c.segs[c.find(ms)]
			sum += float64(seg.v0) + float64(seg.v1-seg.v0)*float64(ms-seg.start)/float64(seg.end-seg.start)
		}
		sum *= 1000
		if diff := float64(c.day) - sum; diff > 1e-6*sum+float64(len(c.segs)) || diff < -1e-6*sum-float64(len(c.segs)) {
			t.Errorf("%s: day integral %d, numeric %.0f", name, c.day, sum)
		}
		if got := c.cumulative(dayMillis) - c.cumulative(0); got != c.day {
			t.Errorf("%s: cumulative over a day %d, want %d", name, got, c.day)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	c := d.level
	ms := monday.UnixMilli() - 3*dayMillis/2
	prev := c.cumulative(ms)
	for range 200_000 {
		ms += rng.Int64N(5 * 60 * 1000)
		cur := c.cumulative(ms)
		if cur < prev {
			t.Fatalf("cumulative went back at %d: %d < %d", ms, cur, prev)
		}
		prev = cur
	}
	// Step by single milliseconds over every knot of the day.
	for _, s := range c.segs {
		for x := s.start - 3; x <= s.start+3; x++ {
			base := monday.UnixMilli() + x
			if c.cumulative(base+1) < c.cumulative(base) {
				t.Fatalf("cumulative went back at a knot, ms %d", x)
			}
		}
	}
}

// Cutting an outage out of a curve and keeping only the outage must add up to
// the curve.
func TestMaskedCurve(t *testing.T) {
	d := NewDay(0)
	up, lost := d.level.masked(apOutage, false), d.level.masked(apOutage, true)
	// Values at the windows' edges are rounded to whole per-mille: allow for that.
	if diff := up.day + lost.day - d.level.day; diff < -d.level.day/10_000 || diff > d.level.day/10_000 {
		t.Errorf("masked day integrals %d + %d, want %d", up.day, lost.day, d.level.day)
	}
	in, out := at("14:11"), at("14:05")
	if up.value(d.venueMillis(in)) != 0 || lost.value(d.venueMillis(in)) != 1000 {
		t.Errorf("during the outage: up %d, lost %d; want 0 and 1000", up.value(d.venueMillis(in)), lost.value(d.venueMillis(in)))
	}
	if up.value(d.venueMillis(out)) != 1000 || lost.value(d.venueMillis(out)) != 0 {
		t.Errorf("outside the outage: up %d, lost %d; want 1000 and 0", up.value(d.venueMillis(out)), lost.value(d.venueMillis(out)))
	}
}

func TestOutage(t *testing.T) {
	o := apOutage
	for _, tc := range []struct {
		clock  string
		active bool
		last   string
	}{
		{"14:09", false, "13:57"},
		{"14:10", true, "14:10"},
		{"14:11", true, "14:10"},
		{"14:12", false, "14:12"},
		{"14:20", false, "14:12"},
		{"14:25", true, "14:25"},
	} {
		ms := at(tc.clock).UnixMilli()
		if got := o.active(ms); got != tc.active {
			t.Errorf("%s: active %v, want %v", tc.clock, got, tc.active)
		}
		if got, want := o.lastChange(ms), at(tc.last).UnixMilli(); got != want {
			t.Errorf("%s: last change %s, want %s", tc.clock, time.UnixMilli(got).UTC().Format("15:04"), tc.last)
		}
	}
}
