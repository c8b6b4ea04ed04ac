// Package netlink is meetnoc's view of its own host through rtnetlink: for the
// configured interfaces (the SSID VLAN interfaces, when meetnoc runs on the router
// or on a host with a leg in each VLAN) whether the link is up and its traffic
// counters, how many neighbour-table entries each address family has in each NUD
// state — a count of active clients per SSID that does not depend on the
// controllers or the capture — and whether the host has a route to each NAT64
// prefix.
//
// Only counts leave the package: no neighbour's MAC or IP address is put in a
// label, a log line or the status page.
//
// Link state changes arrive through a link subscription, so they show within a
// second; statistics, neighbour counts and routes are re-read every Interval. Each
// read builds an immutable snapshot that is swapped in atomically, and a scrape
// only emits the current snapshot.
package netlink

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Options tune a Collector beyond the config.
type Options struct {
	// NetNS is the path of the network namespace to watch (e.g.
	// /run/netns/lab); the daemon's own namespace when empty.
	NetNS string
	// Interval between full reads of statistics, neighbours and routes; 5 s
	// when zero.
	Interval time.Duration
	// Retry is the first back-off after the link subscription fails, doubling
	// up to MaxRetry; 1 s and 30 s when zero.
	Retry, MaxRetry time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 30 * time.Second
	}
	if o.MaxRetry < o.Retry {
		o.MaxRetry = o.Retry
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Families and NUD states, in label order. States are the lower-case names of
// the kernel's NUD_* values; neighState maps a value to its index here.
var (
	families = [numFamilies]string{"ipv4", "ipv6"}
	states   = [numStates]string{"incomplete", "reachable", "stale", "delay", "probe", "failed", "noarp", "permanent"}
)

const (
	numFamilies = 2
	numStates   = 8
)

// neighState is the index in states of a kernel NUD state, or -1 for NUD_NONE
// and for any combination of bits, which the kernel does not report for a
// settled entry.
func neighState(nud int) int {
	// NUD_INCOMPLETE is 0x01 and each following state doubles it, in the order
	// of states.
	for i := range numStates {
		if nud == 1<<i {
			return i
		}
	}
	return -1
}

// LinkStats are a link's kernel counters (IFLA_STATS64).
type LinkStats struct {
	ReceiveBytes, TransmitBytes     uint64
	ReceivePackets, TransmitPackets uint64
	ReceiveErrors, TransmitErrors   uint64
	ReceiveDropped, TransmitDropped uint64
}

// linkState is what is known of one configured interface.
type linkState struct {
	name    string
	read    bool // false until the interface was first looked up
	present bool
	index   int
	up      bool
	oper    string
	mtu     int
	stats   LinkStats
	hasStat bool
	since   time.Time // when up last changed, or when first read
	// neighbors counts entries by family and state; all zero when absent.
	neighbors [numFamilies][numStates]uint64
}

// routeState is whether the NAT64 prefix has a route.
type routeState struct {
	prefix  netip.Prefix
	read    bool
	present bool
	via     string // the matched route's destination and device, for the status page
	err     string // why there is no route
}

// snapshot is one immutable view of the host; writers build a new one.
type snapshot struct {
	links     []linkState // in config order
	nat64     []routeState
	refreshed time.Time
	err       error // of the last full read
}

// watch is the part of the config the collector depends on.
type watch struct {
	interfaces []string
	prefixes   []netip.Prefix
}

func watchOf(cfg *config.Config) watch {
	return watch{
		interfaces: slices.Clone(cfg.Netlink.Interfaces),
		prefixes:   slices.Clone(cfg.NAT64Prefixes),
	}
}

// Collector reads the host's links, neighbour tables and routes over netlink
// and exports their counts.
type Collector struct {
	logger *slog.Logger
	opts   Options

	mu         sync.Mutex // serialises writers of snap and watch
	watch      watch
	snap       atomic.Pointer[snapshot]
	linkEvents uint64 // link updates taken into snap; under mu

	refreshNow    chan struct{} // a full read is wanted before the next tick
	refreshErrors atomic.Uint64
	subscribeErr  atomic.Pointer[string] // the link subscription's last failure, "" while it runs
}

func newCollector(cfg *config.Config, logger *slog.Logger, opts Options) *Collector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{
		logger:     logger,
		opts:       opts.withDefaults(),
		watch:      watchOf(cfg),
		refreshNow: make(chan struct{}, 1),
	}
	c.snap.Store(project(&snapshot{}, c.watch))
	return c
}

// project returns a snapshot for w that keeps what s knows of the interfaces
// and prefixes w still has; new ones start unread.
func project(s *snapshot, w watch) *snapshot {
	n := &snapshot{refreshed: s.refreshed, err: s.err}
	for _, name := range w.interfaces {
		l := linkState{name: name}
		for _, old := range s.links {
			if old.name == name {
				l = old
				break
			}
		}
		n.links = append(n.links, l)
	}
	for _, p := range w.prefixes {
		r := routeState{prefix: p}
		for _, old := range s.nat64 {
			if old.prefix == p {
				r = old
				break
			}
		}
		n.nat64 = append(n.nat64, r)
	}
	return n
}

// Apply takes a reloaded config: the interfaces and NAT64 prefixes to watch. What
// is known of those that stay is kept; the others leave the metrics at once, and
// a full read is asked for.
func (c *Collector) Apply(cfg *config.Config) error {
	c.mu.Lock()
	c.watch = watchOf(cfg)
	c.snap.Store(project(c.snap.Load(), c.watch))
	c.mu.Unlock()
	c.requestRefresh()
	return nil
}

func (c *Collector) requestRefresh() {
	select {
	case c.refreshNow <- struct{}{}:
	default:
	}
}

// InterfaceStatus is one configured interface, for the status page.
type InterfaceStatus struct {
	Interface string
	Read      bool // false until the interface was first looked up
	Present   bool
	Up        bool
	OperState string // the kernel's operstate: up, down, lower-layer-down, unknown, …
	MTU       int
	Since     time.Time // when Up last changed
	// IPv4Neighbors and IPv6Neighbors count the neighbour-table entries in a
	// state that means the neighbour was recently heard from or is being
	// checked (reachable, stale, delay, probe).
	IPv4Neighbors, IPv6Neighbors uint64
	Stats                        LinkStats
}

// RouteStatus is whether one NAT64 prefix has a route.
type RouteStatus struct {
	Prefix  netip.Prefix
	Read    bool
	Present bool
	Via     string // the route the kernel chose: its destination and device
	Error   string // why there is none
}

// Status is the collector's state for the status page.
type Status struct {
	Interfaces  []InterfaceStatus
	NAT64Routes []RouteStatus
	LastRefresh time.Time
	Error       string // of the last full read, or of the link subscription
}

// Status returns what the collector last read.
func (c *Collector) Status() Status {
	s := c.snap.Load()
	st := Status{LastRefresh: s.refreshed}
	if s.err != nil {
		st.Error = s.err.Error()
	} else if e := c.subscribeErr.Load(); e != nil && *e != "" {
		st.Error = "link subscription: " + *e
	}
	for _, l := range s.links {
		is := InterfaceStatus{
			Interface: l.name, Read: l.read, Present: l.present, Up: l.up,
			OperState: l.oper, MTU: l.mtu, Since: l.since, Stats: l.stats,
		}
		for _, st := range []int{1, 2, 3, 4} { // reachable, stale, delay, probe
			is.IPv4Neighbors += l.neighbors[0][st]
			is.IPv6Neighbors += l.neighbors[1][st]
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	for _, r := range s.nat64 {
		st.NAT64Routes = append(st.NAT64Routes, RouteStatus{
			Prefix: r.prefix, Read: r.read, Present: r.present, Via: r.via, Error: r.err,
		})
	}
	return st
}

var (
	linkUpDesc = prometheus.NewDesc("meetnoc_link_up",
		"Whether the interface is up: operstate up, or, where the driver reports operstate unknown, IFF_UP with carrier (IFF_LOWER_UP).",
		[]string{"interface"}, nil)
	linkPresentDesc = prometheus.NewDesc("meetnoc_link_present",
		"Whether the configured interface exists in the watched network namespace.",
		[]string{"interface"}, nil)
	linkMTUDesc = prometheus.NewDesc("meetnoc_link_mtu_bytes",
		"The interface's MTU.", []string{"interface"}, nil)
	neighborsDesc = prometheus.NewDesc("meetnoc_neighbors",
		"Neighbour-table entries on the interface by address family and NUD state.",
		[]string{"interface", "family", "state"}, nil)
	nat64RouteDesc = prometheus.NewDesc("meetnoc_nat64_route",
		"Whether the kernel has a unicast route (a specific or a default one) to an address inside the NAT64 prefix.",
		[]string{"prefix"}, nil)
	refreshErrorsDesc = prometheus.NewDesc("meetnoc_netlink_refresh_errors_total",
		"Full reads of links, neighbours and routes that failed.", nil, nil)

	statDescs = [8]*prometheus.Desc{
		statDesc("receive_bytes_total", "Bytes received by the interface."),
		statDesc("transmit_bytes_total", "Bytes transmitted by the interface."),
		statDesc("receive_packets_total", "Packets received by the interface."),
		statDesc("transmit_packets_total", "Packets transmitted by the interface."),
		statDesc("receive_errors_total", "Receive errors of the interface."),
		statDesc("transmit_errors_total", "Transmit errors of the interface."),
		statDesc("receive_dropped_total", "Received packets the interface dropped."),
		statDesc("transmit_dropped_total", "Packets to transmit the interface dropped."),
	}
)

func statDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("meetnoc_link_"+name, help, []string{"interface"}, nil)
}

func (s *LinkStats) values() [8]uint64 {
	return [8]uint64{s.ReceiveBytes, s.TransmitBytes, s.ReceivePackets, s.TransmitPackets,
		s.ReceiveErrors, s.TransmitErrors, s.ReceiveDropped, s.TransmitDropped}
}

// Describe sends the descriptors of every metric the collector emits.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- linkUpDesc
	ch <- linkPresentDesc
	ch <- linkMTUDesc
	ch <- neighborsDesc
	ch <- nat64RouteDesc
	ch <- refreshErrorsDesc
	for _, d := range statDescs {
		ch <- d
	}
}

// Collect emits the current snapshot. Interfaces and prefixes appear once they
// were first read; after that every family × state combination is emitted, at
// zero when the interface has no such entry or does not exist. A missing
// interface keeps meetnoc_link_up 0 and meetnoc_link_present 0 and loses its
// counters.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap.Load()
	for i := range s.links {
		l := &s.links[i]
		if !l.read {
			continue
		}
		ch <- prometheus.MustNewConstMetric(linkUpDesc, prometheus.GaugeValue, boolValue(l.up), l.name)
		ch <- prometheus.MustNewConstMetric(linkPresentDesc, prometheus.GaugeValue, boolValue(l.present), l.name)
		if l.present {
			ch <- prometheus.MustNewConstMetric(linkMTUDesc, prometheus.GaugeValue, float64(l.mtu), l.name)
			if l.hasStat {
				for j, v := range l.stats.values() {
					ch <- prometheus.MustNewConstMetric(statDescs[j], prometheus.CounterValue, float64(v), l.name)
				}
			}
		}
		for f, fam := range families {
			for st, state := range states {
				ch <- prometheus.MustNewConstMetric(neighborsDesc, prometheus.GaugeValue,
					float64(l.neighbors[f][st]), l.name, fam, state)
			}
		}
	}
	for _, r := range s.nat64 {
		if r.read {
			ch <- prometheus.MustNewConstMetric(nat64RouteDesc, prometheus.GaugeValue, boolValue(r.present), r.prefix.String())
		}
	}
	ch <- prometheus.MustNewConstMetric(refreshErrorsDesc, prometheus.CounterValue, float64(c.refreshErrors.Load()))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
