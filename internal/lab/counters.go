package lab

import (
	"math"
	"math/bits"
)

// term is one part of a traffic rate: rate bytes per second when its curve is at
// 1000 per mille.
type term struct {
	rate uint64
	c    *curve
}

// flow is a traffic rate made of terms; its counter is the exact integral of the
// rate since the device booted, so it moves with the meeting day and never goes back.
type flow []term

// count is the flow's bytes (or packets, events) between boot and now, both venue ms.
func (f flow) count(bootMs, nowMs int64) uint64 {
	if nowMs <= bootMs {
		return 0
	}
	var n uint64
	for _, t := range f {
		// cumulative is in per-mille·ms: 1e6 of it is one second at full rate.
		n += mulDiv(t.rate, uint64(t.c.cumulative(nowMs)-t.c.cumulative(bootMs)), 1e6)
	}
	return n
}

// scaled returns the flow with every rate multiplied by num/den.
func (f flow) scaled(num, den uint64) flow {
	out := make(flow, 0, len(f))
	for _, t := range f {
		out = append(out, term{rate: t.rate * num / den, c: t.c})
	}
	return out
}

// sumFlows adds flows, merging the terms that share a curve.
func sumFlows(flows ...flow) flow {
	var out flow
	for _, f := range flows {
	next:
		for _, t := range f {
			for i := range out {
				if out[i].c == t.c {
					out[i].rate += t.rate
					continue next
				}
			}
			out = append(out, t)
		}
	}
	return out
}

// mulDiv is a·b/d without overflowing in between; it saturates if the quotient
// does not fit.
func mulDiv(a, b, d uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, d)
	return q
}
