package lab

import (
	"fmt"
	"sort"
	"time"
)

// PeakAttendees is how many people are on the network at the busiest moment of the day.
const PeakAttendees = 1500

// dayMillis is the period of every curve: one venue day.
const dayMillis = int64(24 * time.Hour / time.Millisecond)

// maxSegment bounds a segment's length so that its integer integral cannot overflow
// int64: 2·len·1000·len + 1000·len² < 2^63 for len ≤ 6 h.
const maxSegment = int64(6 * time.Hour / time.Millisecond)

// dayPoint is one knot of the meeting day, in venue local time. Between knots the
// values change linearly.
type dayPoint struct {
	at      string // "15:04"; "24:00" closes the day
	level   int64  // share of the attendees on the network, per mille
	session int64  // share of them sitting in sessions (rather than in the halls), per mille
}

// meetingDay is the one schedule everything in the lab follows: traffic, client
// counts and where the clients are. An IETF-like day: quiet night, arrival, four
// session blocks with lunch and breaks between them, a long evening tail.
var meetingDay = []dayPoint{
	{"00:00", 40, 0},
	{"06:30", 40, 0},
	{"08:00", 300, 0}, // breakfast, registration opens
	{"09:15", 600, 100},
	{"09:30", 950, 900}, // session I
	{"11:30", 950, 900},
	{"11:45", 500, 100}, // lunch
	{"12:45", 500, 100},
	{"13:00", 1000, 900}, // session II: the peak of the day
	{"15:00", 1000, 900},
	{"15:10", 650, 100}, // break
	{"15:30", 650, 100},
	{"15:40", 900, 900}, // session III
	{"17:00", 900, 900},
	{"17:10", 600, 100}, // break
	{"17:30", 600, 100},
	{"17:40", 850, 900}, // plenary
	{"19:30", 850, 900},
	{"19:45", 350, 0}, // social, dinner, hotel rooms
	{"22:00", 200, 0},
	{"24:00", 40, 0},
}

// Day is the meeting day at a venue: its curves, placed in time by the venue's UTC
// offset. A fixed offset (not a zone) keeps the day exactly 24 h long, so that the
// curves are periodic and their integrals exact.
type Day struct {
	offset int64 // venue UTC offset, ms

	level   *curve // attendees on the network, per mille of PeakAttendees
	session *curve // share of them in sessions, per mille
	// inSessions and inHalls split level by where people are: level·session and
	// level·(1−session), sampled at the knots. They shape the traffic of APs in
	// meeting rooms and in the halls; inSessions + inHalls = level at every knot.
	inSessions *curve
	inHalls    *curve
	flat       *curve // constant 1000: for traffic that does not follow the day
}

// NewDay returns the meeting day of a venue whose clocks are offset from UTC by offset.
func NewDay(offset time.Duration) *Day {
	n := len(meetingDay)
	at := make([]int64, n)
	for i, p := range meetingDay {
		at[i] = parseClock(p.at)
	}
	knots := func(f func(p dayPoint) int64) *curve {
		segs := make([]segment, 0, n-1)
		for i := 0; i+1 < n; i++ {
			segs = append(segs, segment{start: at[i], end: at[i+1], v0: f(meetingDay[i]), v1: f(meetingDay[i+1])})
		}
		return mustCurve(segs)
	}
	return &Day{
		offset:     int64(offset / time.Millisecond),
		level:      knots(func(p dayPoint) int64 { return p.level }),
		session:    knots(func(p dayPoint) int64 { return p.session }),
		inSessions: knots(func(p dayPoint) int64 { return p.level * p.session / 1000 }),
		inHalls:    knots(func(p dayPoint) int64 { return p.level - p.level*p.session/1000 }),
		flat:       mustCurve([]segment{{start: 0, end: dayMillis, v0: 1000, v1: 1000}}),
	}
}

func parseClock(s string) int64 {
	var h, m int64
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil {
		panic(fmt.Sprintf("lab: bad time of day %q", s))
	}
	return (h*60 + m) * 60 * 1000
}

// Level is the share of PeakAttendees on the network at t, from 0 to 1.
func (d *Day) Level(t time.Time) float64 {
	return float64(d.level.value(d.venueMillis(t))) / 1000
}

// Session is the share of the attendees on the network that sit in sessions at t
// rather than in the lobby and break areas, from 0 to 1.
func (d *Day) Session(t time.Time) float64 {
	return float64(d.session.value(d.venueMillis(t))) / 1000
}

// Attendees is the number of people on the network at t.
func (d *Day) Attendees(t time.Time) int {
	return int((PeakAttendees*d.level.value(d.venueMillis(t)) + 500) / 1000)
}

func (d *Day) venueMillis(t time.Time) int64 { return t.UnixMilli() + d.offset }

// segment is a straight piece of a curve over [start, end) ms after venue midnight,
// from v0 to v1 per mille.
type segment struct {
	start, end int64
	v0, v1     int64
}

// curve is a periodic piecewise-linear function of venue time with values from 0
// to 1000. Its integral is computed exactly in integers, so that counters built on
// it never go backwards.
type curve struct {
	segs []segment
	cum  []int64 // ∫ from midnight to segs[i].start, per-mille·ms
	day  int64   // ∫ over a whole day
}

func mustCurve(segs []segment) *curve {
	c, err := newCurve(segs)
	if err != nil {
		panic(err)
	}
	return c
}

// newCurve checks that segs cover one day without gaps, drops empty segments and
// splits long ones so that no integral overflows.
func newCurve(segs []segment) (*curve, error) {
	c := &curve{}
	next := int64(0)
	for _, s := range segs {
		if s.start != next || s.end < s.start {
			return nil, fmt.Errorf("lab: curve segment [%d, %d) does not start at %d", s.start, s.end, next)
		}
		if s.v0 < 0 || s.v0 > 1000 || s.v1 < 0 || s.v1 > 1000 {
			return nil, fmt.Errorf("lab: curve value out of range in segment [%d, %d)", s.start, s.end)
		}
		next = s.end
		for s.end-s.start > maxSegment {
			mid := segment{start: s.start, end: s.start + maxSegment, v0: s.v0, v1: s.at(s.start + maxSegment)}
			c.segs = append(c.segs, mid)
			s.start, s.v0 = mid.end, mid.v1
		}
		if s.end > s.start {
			c.segs = append(c.segs, s)
		}
	}
	if next != dayMillis {
		return nil, fmt.Errorf("lab: curve ends at %d, not at the end of the day", next)
	}
	c.cum = make([]int64, len(c.segs))
	for i, s := range c.segs {
		c.cum[i] = c.day
		c.day += s.integral(s.end - s.start)
	}
	return c, nil
}

// at is the segment's value at ms (within the segment).
func (s segment) at(ms int64) int64 {
	return s.v0 + (s.v1-s.v0)*(ms-s.start)/(s.end-s.start)
}

// integral is ∫ over the first x ms of the segment, floored. The numerator grows
// with x for any v0, v1 ≥ 0, so the result never decreases as x grows, and at x =
// len it equals the whole segment's share of the next segment's cum.
func (s segment) integral(x int64) int64 {
	l := s.end - s.start
	return (2*l*s.v0*x + (s.v1-s.v0)*x*x) / (2 * l)
}

// find returns the index of the segment holding ms of a day (0 ≤ ms < dayMillis).
func (c *curve) find(ms int64) int {
	return sort.Search(len(c.segs), func(i int) bool { return c.segs[i].end > ms })
}

// value is the curve at venue time ms.
func (c *curve) value(venueMs int64) int64 {
	_, r := splitDay(venueMs)
	return c.segs[c.find(r)].at(r)
}

// cumulative is ∫ from the venue's epoch to venueMs, per-mille·ms. It never
// decreases as venueMs grows.
func (c *curve) cumulative(venueMs int64) int64 {
	d, r := splitDay(venueMs)
	i := c.find(r)
	s := c.segs[i]
	return d*c.day + c.cum[i] + s.integral(r-s.start)
}

// splitDay splits venue ms into whole days and ms into the day, flooring for
// times before the epoch too.
func splitDay(ms int64) (days, rest int64) {
	days, rest = ms/dayMillis, ms%dayMillis
	if rest < 0 {
		days, rest = days-1, rest+dayMillis
	}
	return days, rest
}

// outage is a fault that repeats every period: for length ms, starting at
// offset ms into each period of venue time. period must divide a day.
type outage struct {
	period, offset, length int64
}

// active reports whether venue time ms falls into the outage.
func (o outage) active(venueMs int64) bool {
	r := venueMs % o.period
	if r < 0 {
		r += o.period
	}
	return r >= o.offset && r < o.offset+o.length
}

// lastChange is the venue time of the latest start or end of an outage at or
// before venueMs.
func (o outage) lastChange(venueMs int64) int64 {
	base := venueMs - ((venueMs%o.period)+o.period)%o.period
	switch r := venueMs - base; {
	case r >= o.offset+o.length:
		return base + o.offset + o.length
	case r >= o.offset:
		return base + o.offset
	default:
		return base - o.period + o.offset + o.length
	}
}

// masked returns c with the outage's windows cut out (keepInside false: zero
// while the outage is active) or with only them kept (keepInside true: zero
// while it is not).
func (c *curve) masked(o outage, keepInside bool) *curve {
	if dayMillis%o.period != 0 {
		panic("lab: an outage period must divide a day")
	}
	// Every edge of a segment or a window, in order.
	edges := []int64{0, dayMillis}
	for _, s := range c.segs {
		edges = append(edges, s.start)
	}
	for p := int64(0); p < dayMillis; p += o.period {
		edges = append(edges, p+o.offset, p+o.offset+o.length)
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i] < edges[j] })
	var segs []segment
	for i := 0; i+1 < len(edges); i++ {
		a, b := edges[i], edges[i+1]
		if a == b || a >= dayMillis {
			continue
		}
		b = min(b, dayMillis)
		s := segment{start: a, end: b}
		if o.active(a) == keepInside {
			src := c.segs[c.find(a)]
			s.v0 = src.at(a)
			// b is an edge, so [a, b) lies within src.
			s.v1 = src.v0 + (src.v1-src.v0)*(b-src.start)/(src.end-src.start)
		}
		segs = append(segs, s)
	}
	return mustCurve(segs)
}
