package lab

import (
	"sync/atomic"
	"time"
)

// device is what every simulated device shares: its name, the clock, the meeting
// day and the moment it booted. Counters count from boot and sysUpTime measures
// from it, so a restart sends both back to zero as on real gear.
type device struct {
	name  string
	clock func() time.Time
	day   *Day
	boot  atomic.Int64 // unix ms
}

func newDevice(name string, clock func() time.Time, day *Day) *device {
	d := &device{name: name, clock: clock, day: day}
	d.boot.Store(clock().UnixMilli())
	return d
}

// reboot makes the device boot again now.
func (d *device) reboot() { d.boot.Store(d.clock().UnixMilli()) }

// times returns boot and now as venue ms.
func (d *device) times() (bootMs, nowMs int64) {
	return d.boot.Load() + d.day.offset, d.day.venueMillis(d.clock())
}

// uptime is the time since boot in TimeTicks (centiseconds), wrapping as
// sysUpTime does after 497 days.
func (d *device) uptime() uint32 {
	boot, now := d.times()
	return ticks(boot, now)
}

func ticks(from, to int64) uint32 {
	if to <= from {
		return 0
	}
	return uint32((to - from) / 10)
}
