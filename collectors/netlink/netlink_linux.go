package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/meetnoc/meetnoc/internal/config"
)

// socketTimeout bounds each netlink request of a full read, so that a stuck
// kernel answer cannot stop the refresh loop.
const socketTimeout = 5 * time.Second

// dumpRetries is how often a dump interrupted by a concurrent change (a busy
// neighbour table) is retried before its partial result is used.
const dumpRetries = 3

// linkSubscribe opens a link subscription; tests replace it to make one fail.
var linkSubscribe = netlink.LinkSubscribeWithOptions

// New builds a collector for cfg's netlink section and NAT64 prefixes; nothing
// is read until Run. opts.NetNS, when set, must name a network namespace.
func New(cfg *config.Config, logger *slog.Logger, opts Options) (*Collector, error) {
	if opts.NetNS != "" {
		ns, err := netns.GetFromPath(opts.NetNS)
		if err != nil {
			return nil, fmt.Errorf("netlink: network namespace %s: %w", opts.NetNS, err)
		}
		ns.Close()
	}
	return newCollector(cfg, logger, opts), nil
}

// Run subscribes to link changes and reads statistics, neighbours and routes
// every Interval until ctx ends. A missing interface is not an error: it is
// reported as such and picked up when it appears. Run returns an error only when
// the namespace or the netlink socket cannot be opened.
func (c *Collector) Run(ctx context.Context) error {
	ns := netns.None()
	if c.opts.NetNS != "" {
		var err error
		if ns, err = netns.GetFromPath(c.opts.NetNS); err != nil {
			return fmt.Errorf("netlink: network namespace %s: %w", c.opts.NetNS, err)
		}
		defer ns.Close()
	}
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return fmt.Errorf("netlink: open socket: %w", err)
	}
	defer h.Close()
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		return fmt.Errorf("netlink: socket timeout: %w", err)
	}

	var wg sync.WaitGroup
	wg.Go(func() { c.watchLinks(ctx, ns) })
	defer wg.Wait()

	c.refresh(h)
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-c.refreshNow:
		}
		c.refresh(h)
	}
}

// watchLinks keeps a link subscription open until ctx ends, resubscribing with
// back-off when it fails (a closed socket, ENOBUFS after an event burst). Each
// new subscription asks for a full read, since changes may have been missed.
func (c *Collector) watchLinks(ctx context.Context, ns netns.NsHandle) {
	retry := c.opts.Retry
	for ctx.Err() == nil {
		started := c.opts.Now()
		err := c.subscribeOnce(ctx, ns)
		if ctx.Err() != nil {
			return
		}
		if c.opts.Now().Sub(started) > c.opts.MaxRetry {
			retry = c.opts.Retry // it ran a good while: start the back-off afresh
		}
		msg := err.Error()
		c.subscribeErr.Store(&msg)
		c.logger.Warn("netlink link subscription failed", "err", err, "retry_in", retry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, c.opts.MaxRetry)
	}
}

// subscribeOnce runs one subscription until it fails (its error) or ctx ends.
func (c *Collector) subscribeOnce(ctx context.Context, ns netns.NsHandle) error {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	var (
		errMu   sync.Mutex
		lastErr error
	)
	opts := netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			errMu.Lock()
			lastErr = err
			errMu.Unlock()
		},
	}
	if ns.IsOpen() {
		opts.Namespace = &ns
	}
	if err := linkSubscribe(updates, done, opts); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer func() {
		close(done)
		for range updates { // the library closes updates once its socket is closed
		}
	}()
	empty := ""
	c.subscribeErr.Store(&empty)
	c.requestRefresh()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-updates:
			if !ok {
				errMu.Lock()
				defer errMu.Unlock()
				if lastErr == nil {
					return errors.New("subscription closed")
				}
				return lastErr
			}
			c.applyUpdate(u)
		}
	}
}

// applyUpdate takes one link change into a new snapshot.
func (c *Collector) applyUpdate(u netlink.LinkUpdate) {
	attrs := u.Link.Attrs()
	deleted := u.Header.Type == unix.RTM_DELLINK
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	var next *snapshot
	for i := range old.links {
		l := &old.links[i]
		var nl linkState
		switch {
		case l.name == attrs.Name && !deleted:
			nl = linkFrom(*l, u.Link, now)
		case l.present && l.index == int(u.Index) && (deleted || l.name != attrs.Name):
			// Deleted, or renamed away from the configured name.
			nl = absentLink(*l, now)
		default:
			continue
		}
		if next == nil {
			next = cloneSnapshot(old)
		}
		next.links[i] = nl
	}
	if next != nil {
		c.linkEvents++
		c.snap.Store(next)
	}
}

func cloneSnapshot(s *snapshot) *snapshot {
	n := *s
	n.links = append([]linkState(nil), s.links...)
	n.nat64 = append([]routeState(nil), s.nat64...)
	return &n
}

// linkFrom is prev updated with what the kernel reports of link. A link is up
// when its operstate is up; drivers that do not track operstate (dummy, some
// tunnels) report unknown, and then IFF_UP with carrier (IFF_LOWER_UP) counts.
func linkFrom(prev linkState, link netlink.Link, now time.Time) linkState {
	a := link.Attrs()
	up := a.OperState == netlink.OperUp ||
		(a.OperState == netlink.OperUnknown && a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0)
	l := prev
	if !l.read || l.up != up || !l.present {
		l.since = now
	}
	l.read, l.present, l.up = true, true, up
	l.index = a.Index
	l.oper = a.OperState.String()
	l.mtu = a.MTU
	if s := a.Statistics; s != nil {
		l.hasStat = true
		l.stats = LinkStats{
			ReceiveBytes: s.RxBytes, TransmitBytes: s.TxBytes,
			ReceivePackets: s.RxPackets, TransmitPackets: s.TxPackets,
			ReceiveErrors: s.RxErrors, TransmitErrors: s.TxErrors,
			ReceiveDropped: s.RxDropped, TransmitDropped: s.TxDropped,
		}
	}
	return l
}

func absentLink(prev linkState, now time.Time) linkState {
	if !prev.read || prev.present || prev.up {
		prev.since = now
	}
	return linkState{name: prev.name, read: true, oper: "absent", since: prev.since}
}

// refresh reads links, both neighbour tables and the NAT64 routes, and swaps in
// the new snapshot. Each table is dumped once for all interfaces.
func (c *Collector) refresh(h *netlink.Handle) {
	c.mu.Lock()
	w := c.watch
	events := c.linkEvents
	c.mu.Unlock()
	now := c.opts.Now()

	links, linkErr := dump(h.LinkList)
	var neigh [numFamilies][]netlink.Neigh
	var neighErr [numFamilies]error
	for f, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		neigh[f], neighErr[f] = dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, family) })
	}
	routes := make([]routeState, len(w.prefixes))
	for i, p := range w.prefixes {
		routes[i] = nat64Route(h, p)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := &snapshot{refreshed: now, nat64: routes}
	if err := errors.Join(linkErr, neighErr[0], neighErr[1]); err != nil {
		next.err = err
		c.refreshErrors.Add(1)
		c.logger.Warn("netlink read failed", "err", err)
	}
	// The watch may have changed while the tables were read; the next read
	// catches up, this one must not bring back what Apply removed.
	if !sameWatch(w, c.watch) {
		c.requestRefresh()
		return
	}
	// A link change that arrived while the tables were read is newer than the
	// link dump: keep it, and read again for the counters.
	linksFresh := linkErr == nil && c.linkEvents == events
	if !linksFresh && linkErr == nil {
		c.requestRefresh()
	}
	byName := make(map[string]netlink.Link, len(links))
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}
	for i, name := range w.interfaces {
		prev := old.links[i]
		link, ok := byName[name]
		switch {
		case !linksFresh:
			// Keep what was known of the link.
		case ok:
			prev = linkFrom(prev, link, now)
		default:
			prev = absentLink(prev, now)
		}
		for f := range neigh {
			if neighErr[f] != nil && prev.present {
				continue // keep the last counts of a table that could not be read
			}
			prev.neighbors[f] = [numStates]uint64{}
			if prev.present {
				for _, n := range neigh[f] {
					// Multicast entries are the kernel's own NOARP mappings
					// (MLD, all-nodes), not neighbours.
					if n.LinkIndex != prev.index || n.IP.IsMulticast() {
						continue
					}
					if st := neighState(n.State); st >= 0 {
						prev.neighbors[f][st]++
					}
				}
			}
		}
		next.links = append(next.links, prev)
	}
	c.snap.Store(next)
}

func sameWatch(a, b watch) bool {
	if len(a.interfaces) != len(b.interfaces) || len(a.prefixes) != len(b.prefixes) {
		return false
	}
	for i := range a.interfaces {
		if a.interfaces[i] != b.interfaces[i] {
			return false
		}
	}
	for i := range a.prefixes {
		if a.prefixes[i] != b.prefixes[i] {
			return false
		}
	}
	return true
}

// dump runs a netlink dump, retrying one that a concurrent change interrupted;
// after dumpRetries the partial result is used and the interruption is not an
// error, since the next read comes within an Interval.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var (
		got []T
		err error
	)
	for range dumpRetries {
		got, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return got, err
		}
	}
	return got, nil
}

// nat64Route asks the kernel which route a packet to an address inside p would
// take (RTM_GETROUTE, as `ip route get`). Unlike matching the route list, this
// follows policy rules and tables and counts a default route, which is how a
// host reaches a NAT64 that is not on its own network; an unreachable, blackhole
// or prohibit route fails the lookup. No packet is sent.
func nat64Route(h *netlink.Handle, p netip.Prefix) routeState {
	r := routeState{prefix: p, read: true}
	// Any address inside the prefix will do; skip the all-zero suffix, which some
	// stacks treat specially.
	addr := p.Masked().Addr().Next()
	if !p.Contains(addr) {
		addr = p.Masked().Addr()
	}
	routes, err := h.RouteGet(net.IP(addr.AsSlice()))
	if err != nil {
		r.err = err.Error()
		return r
	}
	for _, rt := range routes {
		if rt.Type != unix.RTN_UNICAST {
			continue
		}
		r.present = true
		// RouteGet reports the queried address as Dst, not the matched prefix,
		// so the status page shows where the route leads.
		if rt.Gw != nil {
			r.via = "via " + rt.Gw.String()
		}
		if rt.LinkIndex > 0 {
			if l, err := h.LinkByIndex(rt.LinkIndex); err == nil {
				r.via = strings.TrimSpace(r.via + " dev " + l.Attrs().Name)
			}
		}
		return r
	}
	r.err = "no unicast route"
	return r
}
