package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meetnoc/meetnoc/internal/netns"
)

// The lab's NAT64 box lives in a network namespace of its own, because what it
// needs cannot exist on the host's loopback: a route for the NAT64 prefix into
// a translator, and an IPv4 destination behind it. Changing the host's own
// routes for 64:ff9b::/96 would hijack the NAT64 of whatever network the host
// is on, so the daemon's probe enters the namespace instead (the target's
// netns key), as a probe host does with a namespace per SSID leg.
const (
	// DefaultNAT64Netns is the namespace `meetnoc lab` makes, and the one
	// configs/lab.yml names.
	DefaultNAT64Netns = "meetnoc-lab-nat64"

	// nat64Tun is TAYGA's tun device inside the namespace.
	nat64Tun = "nat64"
	// nat64Pool is the IPv4 addresses TAYGA gives IPv6 clients; nat64TaygaV4
	// is TAYGA's own, from it, for its ICMP errors.
	nat64Pool    = "192.168.255.0/24"
	nat64TaygaV4 = "192.168.255.1"
	// nat64TaygaV6 is TAYGA's own IPv6 address, outside the NAT64 prefix.
	nat64TaygaV6 = "2001:db8:ffff::1"
	// nat64WebPort is the destination's web server port.
	nat64WebPort = 80
	// nat64TargetName is the probe target's name in the lab config.
	nat64TargetName = "www-v4only"
)

var (
	// nat64Web is the IPv4-only web server behind the NAT64. TAYGA, as RFC 6052
	// §3.1 asks, does not translate private or documentation addresses through
	// the well-known prefix; 100.64.0.0/10 (RFC 6598) is not on its list. The
	// SSIDs' client pools are 100.64.0.0/16: this is far from them.
	nat64Web = netip.MustParseAddr("100.127.0.80")
	// nat64Client is the probe's IPv6 source: an address in ietf's prefix, on
	// the namespace's loopback, so the probe looks like an ietf client.
	nat64Client = func() netip.Addr {
		v6, _, _ := wlanAddressing(0, WLANs[0])
		a := v6.Addr().As16()
		a[15] = 0x64
		return netip.AddrFrom16(a)
	}()
)

// NAT64Fault forces the lab's NAT64 up or down, for SetNAT64Fault.
type NAT64Fault uint32

const (
	// NAT64Scheduled follows the lab clock: TAYGA stops one minute an hour.
	NAT64Scheduled NAT64Fault = iota
	// NAT64Healthy keeps TAYGA running.
	NAT64Healthy
	// NAT64Stopped stops TAYGA: its tun device and routes stay, so packets to
	// the prefix vanish, as when a NAT64 box's daemon dies.
	NAT64Stopped
)

func (f NAT64Fault) String() string {
	switch f {
	case NAT64Scheduled:
		return "scheduled"
	case NAT64Healthy:
		return "healthy"
	case NAT64Stopped:
		return "stopped"
	}
	return fmt.Sprintf("NAT64Fault(%d)", uint32(f))
}

// nat64OutageMinute is the minute of each hour (venue time) TAYGA is stopped:
// away from the AP outages (:10, :25, :40, :55), the rogue RAs (:07, :22, :37,
// :52) and the DNS faults (:15, :20, :45, :50), and outside 10:00–10:14 and
// 13:30–13:44, the windows the tests run in.
const nat64OutageMinute = 28

var nat64Outage = outage{
	period: int64(time.Hour / time.Millisecond),
	offset: nat64OutageMinute * int64(time.Minute/time.Millisecond),
	length: int64(time.Minute / time.Millisecond),
}

// nat64Box is the lab's NAT64: Debian's TAYGA in a network namespace, with an
// IPv4-only web server behind it.
type nat64Box struct {
	name   string // the namespace
	ip     string // iproute2's ip
	tayga  string
	dir    string // TAYGA's config and data directory
	conf   string
	clock  func() time.Time
	day    *Day
	logger *slog.Logger
	forced atomic.Uint32 // a NAT64Fault
	faults *faultPlan
	web    *http.Server

	// ctl serializes reconcile (the supervisor's tick, SetNAT64Fault) and
	// teardown.
	ctl    sync.Mutex
	closed bool

	mu      sync.Mutex // the fields below, read by the supervisor's select
	cmd     *exec.Cmd
	exited  chan struct{}
	output  *lockedBuffer // the running TAYGA's output, for its exit message
	running bool
}

// lockedBuffer collects a process's output while others may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 { // TAYGA says little; a flood is not worth keeping
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// startNAT64 builds the namespace name (replacing one of that name left by a
// lab that was killed), starts TAYGA and the web server in it, and supervises
// TAYGA until ctx ends. It needs root, iproute2 and TAYGA.
func (n *Network) startNAT64(ctx context.Context, m *model, opts Options) (err error) {
	if err := netns.CheckName(opts.NAT64Netns); err != nil || filepath.IsAbs(opts.NAT64Netns) {
		return fmt.Errorf("lab: NAT64 namespace %q: a name for `ip netns` is needed", opts.NAT64Netns)
	}
	if err := NAT64Available(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	b := &nat64Box{
		name: opts.NAT64Netns, clock: opts.Now, day: m.day, faults: m.faults,
		logger: opts.Logger.With("part", "nat64"),
	}
	b.ip, _ = lookPath("ip", "iproute2")
	b.tayga, _ = lookPath("tayga", "tayga")
	if b.dir, err = os.MkdirTemp("", "meetnoc-lab-nat64-"); err != nil {
		return fmt.Errorf("lab: NAT64: %w", err)
	}
	b.conf = filepath.Join(b.dir, "tayga.conf")
	defer func() {
		if err != nil {
			b.teardown()
		}
	}()
	if err := b.build(); err != nil {
		return err
	}
	if err := b.startWeb(); err != nil {
		return err
	}
	if err := b.startTayga(); err != nil {
		return err
	}
	n.nat64 = b
	n.wg.Go(func() { b.supervise(ctx) })
	return nil
}

// lookPath finds a program in PATH or the sbin directories a non-login root
// shell may lack.
func lookPath(name, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		// A path with a slash is checked as it is: exists and is executable.
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the lab's NAT64 needs %s: install it with `apt-get install %s`", name, pkg)
}

// build makes the namespace: TAYGA's tun device with routes for the NAT64
// prefix and the pool, the web server's IPv4 address and the client's IPv6
// address on loopback.
func (b *nat64Box) build() error {
	if _, err := os.Stat(netns.Path(b.name)); err == nil {
		// Left by a lab that did not get to clean up; nothing else makes
		// namespaces of this name.
		b.logger.Info("replacing a NAT64 namespace left by an earlier lab", "netns", b.name)
		if err := b.run(b.ip, "netns", "del", b.name); err != nil {
			return err
		}
	}
	if err := b.run(b.ip, "netns", "add", b.name); err != nil {
		return err
	}
	conf := strings.Join([]string{
		"tun-device " + nat64Tun,
		"ipv4-addr " + nat64TaygaV4,
		"ipv6-addr " + nat64TaygaV6,
		"prefix " + labNAT64.String(),
		"dynamic-pool " + nat64Pool,
		"data-dir " + b.dir,
	}, "\n") + "\n"
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("lab: NAT64: %w", err)
	}
	for _, args := range [][]string{
		{"netns", "exec", b.name, b.tayga, "-c", b.conf, "--mktun"}, // persistent: routes outlive TAYGA
		{"-n", b.name, "link", "set", "lo", "up"},
		{"-n", b.name, "link", "set", nat64Tun, "up"},
		{"-n", b.name, "addr", "add", nat64Web.String() + "/32", "dev", "lo"},
		{"-n", b.name, "-6", "addr", "add", nat64Client.String() + "/128", "dev", "lo"},
		{"-n", b.name, "route", "add", nat64Pool, "dev", nat64Tun},
		{"-n", b.name, "-6", "route", "add", labNAT64.String(), "dev", nat64Tun},
	} {
		if err := b.run(b.ip, args...); err != nil {
			return err
		}
	}
	return nil
}

// run runs a set-up command, its output in the error.
func (b *nat64Box) run(bin string, args ...string) error {
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: NAT64: %s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// startWeb starts the IPv4-only web server, its socket made inside the
// namespace.
func (b *nat64Box) startWeb() error {
	var l net.Listener
	err := netns.Do(netns.Path(b.name), func() error {
		var err error
		l, err = net.Listen("tcp4", netip.AddrPortFrom(nat64Web, nat64WebPort).String())
		return err
	})
	if err != nil {
		return fmt.Errorf("lab: NAT64 web server: %w", err)
	}
	b.web = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "meetnoc lab: an IPv4-only web server behind the lab's NAT64 (%s); you came from %s\n", labNAT64, r.RemoteAddr)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go b.web.Serve(l)
	return nil
}

// want reports whether TAYGA should run now.
func (b *nat64Box) want() bool {
	switch NAT64Fault(b.forced.Load()) {
	case NAT64Healthy:
		return true
	case NAT64Stopped:
		return false
	}
	return !b.faults.scheduled() || !nat64Outage.active(b.day.venueMillis(b.clock()))
}

// supervise keeps TAYGA running when it should and stopped when it should
// not, restarting it if it dies, until ctx ends; then it tears the box down.
func (b *nat64Box) supervise(ctx context.Context) {
	defer b.teardown()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		b.mu.Lock()
		exited := b.exited
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-exited:
		}
		b.reconcile()
	}
}

// reconcile starts or stops TAYGA to match want, noticing first whether it
// died on its own.
func (b *nat64Box) reconcile() {
	b.ctl.Lock()
	defer b.ctl.Unlock()
	if b.closed {
		return
	}
	b.mu.Lock()
	running, exited := b.running, b.exited
	b.mu.Unlock()
	if running {
		select {
		case <-exited:
			b.logger.Warn("TAYGA exited on its own; restarting it", "output", b.output.String())
			b.mu.Lock()
			b.cmd, b.exited, b.running = nil, nil, false
			b.mu.Unlock()
			running = false
		default:
		}
	}
	switch want := b.want(); {
	case want && !running:
		if err := b.startTayga(); err != nil {
			b.logger.Error("cannot start TAYGA", "err", err)
		} else {
			b.logger.Info("NAT64 running: TAYGA translates "+labNAT64.String(), "netns", b.name)
		}
	case !want && running:
		b.stopTayga()
		b.logger.Info("NAT64 stopped (lab fault): TAYGA is down, its routes stay", "netns", b.name)
	}
}

// startTayga starts TAYGA in the foreground inside the namespace and returns
// once its tun device has carrier (TAYGA holds it open).
func (b *nat64Box) startTayga() error {
	out := &lockedBuffer{}
	// `ip netns exec` execs TAYGA, so signals reach it; -d: foreground, log to stderr.
	cmd := exec.Command(b.ip, "netns", "exec", b.name, b.tayga, "-c", b.conf, "-d")
	cmd.Stdout, cmd.Stderr = out, out
	// TAYGA goes with the lab even when the lab is killed; the namespace is
	// then replaced by the next lab.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: NAT64: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		select {
		case <-exited:
			return fmt.Errorf("lab: NAT64: TAYGA exited at once: %s", out.String())
		default:
		}
		if o, _ := exec.Command(b.ip, "-n", b.name, "link", "show", nat64Tun).Output(); bytes.Contains(o, []byte("LOWER_UP")) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("lab: NAT64: TAYGA did not open its tun device within 5 s: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.mu.Lock()
	b.cmd, b.exited, b.output, b.running = cmd, exited, out, true
	b.mu.Unlock()
	return nil
}

// stopTayga stops TAYGA and waits for it.
func (b *nat64Box) stopTayga() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.cmd, b.exited, b.running = nil, nil, false
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// teardown stops everything and removes the namespace (with it the tun
// device, addresses and routes) and TAYGA's directory.
func (b *nat64Box) teardown() {
	b.ctl.Lock()
	defer b.ctl.Unlock()
	b.closed = true
	b.stopTayga()
	if b.web != nil {
		b.web.Close()
	}
	if _, err := os.Stat(netns.Path(b.name)); err == nil {
		if err := b.run(b.ip, "netns", "del", b.name); err != nil {
			b.logger.Warn("cannot remove the NAT64 namespace", "err", err)
		}
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// NAT64Netns is the namespace of the lab's NAT64, or "" when the lab has none.
func (n *Network) NAT64Netns() string {
	if n.nat64 == nil {
		return ""
	}
	return n.nat64.name
}

// NAT64Available says why the lab cannot have a NAT64 here, or nil if it can.
func NAT64Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab's NAT64 needs root: it makes a network namespace and a tun device")
	}
	for _, p := range [][2]string{{"ip", "iproute2"}, {"tayga", "tayga"}} {
		if _, err := lookPath(p[0], p[1]); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("the lab's NAT64 needs /dev/net/tun: %w", err)
	}
	return nil
}

// NAT64Prefix is the lab's NAT64 prefix.
func NAT64Prefix() netip.Prefix { return labNAT64 }

// NAT64Synthesized is NAT64Target inside the NAT64 prefix: where an IPv6-only
// client reaches it.
func NAT64Synthesized() netip.AddrPort {
	a := labNAT64.Addr().As16()
	v4 := nat64Web.As4()
	copy(a[12:], v4[:])
	return netip.AddrPortFrom(netip.AddrFrom16(a), nat64WebPort)
}

// NAT64Target is the IPv4 destination (addr:port) behind the lab's NAT64.
func NAT64Target() netip.AddrPort { return netip.AddrPortFrom(nat64Web, nat64WebPort) }

// SetNAT64Fault stops or starts the lab's NAT64 regardless of the clock;
// NAT64Scheduled returns it to the schedule. It returns once TAYGA has
// stopped, or runs with its tun device up.
func (n *Network) SetNAT64Fault(f NAT64Fault) {
	if n.nat64 == nil {
		return
	}
	n.nat64.forced.Store(uint32(f))
	n.nat64.reconcile()
}
