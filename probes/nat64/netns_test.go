package nat64

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The tests send packets to addresses outside loopback (192.0.2.x, 100.64.0.1,
// 64:ff9b::/96) only from inside a network namespace the test makes, which has
// no link to the outside: every socket of the prober and the test is made by
// netns.Do on a thread that has entered it. Nothing leaves this machine.

// testNetns is the test's namespace (testenv.Netns) with the NAT64 tests' helpers.
type testNetns struct {
	*testenv.Netns
	t *testing.T
}

func newNetns(t *testing.T) *testNetns {
	t.Helper()
	n := &testNetns{Netns: testenv.NewNetns(t, "the NAT64 test"), t: t}
	n.IP("link", "set", "lo", "up")
	return n
}

// sysctl writes a per-namespace sysctl (path under /proc/sys) from inside it.
func (n *testNetns) sysctl(path, value string) {
	n.t.Helper()
	if err := n.Do(func() error { return os.WriteFile("/proc/sys/"+path, []byte(value), 0o644) }); err != nil {
		n.t.Fatalf("sysctl %s=%s in %s: %v", path, value, n.Name, err)
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

func (n *testNetns) listen(network, address string) *listener {
	n.t.Helper()
	ln := &listener{}
	if err := n.Do(func() error {
		var err error
		ln.l, err = net.Listen(network, address)
		return err
	}); err != nil {
		n.t.Fatalf("listen %s in %s: %v", address, n.Name, err)
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
