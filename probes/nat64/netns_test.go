package nat64

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The tests send packets to addresses outside loopback (192.0.2.x, 100.64.0.1,
// 64:ff9b::/96) only from inside a network namespace the test makes, which has
// no link to the outside: every socket of the prober and the test is made by
// netns.do on a thread that has entered it. Nothing leaves this machine.

var netnsSeq atomic.Int64

// netns is a network namespace made for one test (`ip netns add`) and removed
// when it ends.
type netns struct {
	t    *testing.T
	name string
	fd   int // /run/netns/NAME, for setns
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the NAT64 tests make network namespaces, which needs root")
	}
	testenv.Require(t, "ip")
	n := &netns{t: t, name: fmt.Sprintf("meetnoc-nat64-%d-%d", os.Getpid(), netnsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		testenv.Missing(t, "ip netns add %s: %v: %s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	fd, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	n.fd = fd
	t.Cleanup(func() { unix.Close(fd) }) // runs before the del above
	n.ip("link", "set", "lo", "up")
	return n
}

// ip runs `ip -n NAME args...` and fails the test on an error.
func (n *netns) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
}

// do runs f on an OS thread that has entered the namespace: sockets f makes
// belong to the namespace for their whole life. It is the prober's
// Options.Netns in these tests.
func (n *netns) do(f func() error) error {
	runtime.LockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(self)
	if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", n.name, err)
	}
	ferr := f()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so the runtime ends it with this goroutine
		// instead of running other goroutines in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("setns back to the root namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// sysctl writes a per-namespace sysctl (path under /proc/sys) from inside it.
func (n *netns) sysctl(path, value string) {
	n.t.Helper()
	if err := n.do(func() error { return os.WriteFile("/proc/sys/"+path, []byte(value), 0o644) }); err != nil {
		n.t.Fatalf("sysctl %s=%s in %s: %v", path, value, n.name, err)
	}
}

// listener is a TCP listener inside a namespace that accepts and closes
// every connection, and remembers whom it saw.
type listener struct {
	addr *net.TCPAddr
	l    net.Listener
	once sync.Once
	mu   sync.Mutex
	seen []netip.Addr
}

func (n *netns) listen(network, address string) *listener {
	n.t.Helper()
	ln := &listener{}
	if err := n.do(func() error {
		var err error
		ln.l, err = net.Listen(network, address)
		return err
	}); err != nil {
		n.t.Fatalf("listen %s in %s: %v", address, n.name, err)
	}
	ln.addr = ln.l.Addr().(*net.TCPAddr)
	go func() {
		for {
			c, err := ln.l.Accept()
			if err != nil {
				return
			}
			ln.mu.Lock()
			ln.seen = append(ln.seen, c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
			ln.mu.Unlock()
			c.Close()
		}
	}()
	n.t.Cleanup(ln.stop)
	return ln
}

// stop closes the listener, so that later connections are refused.
func (ln *listener) stop() { ln.once.Do(func() { ln.l.Close() }) }

// peers returns the source addresses of the connections accepted so far.
func (ln *listener) peers() []netip.Addr {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return append([]netip.Addr(nil), ln.seen...)
}

// withoutNetRaw returns f run with CAP_NET_RAW dropped from the calling
// thread's effective set (capabilities are per thread on Linux, and n.do has
// locked it), then raised again: a stand-in for an unprivileged daemon.
func withoutNetRaw(f func() error) func() error {
	return func() error {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return err
		}
		saved := data
		data[0].Effective &^= 1 << unix.CAP_NET_RAW
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return err
		}
		ferr := f()
		if err := unix.Capset(&hdr, &saved[0]); err != nil {
			return errors.Join(ferr, err)
		}
		return ferr
	}
}

// waitFor polls cond every 20 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
