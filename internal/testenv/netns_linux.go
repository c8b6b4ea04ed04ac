package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meetnoc/meetnoc/internal/netns"
)

var netnsSeq atomic.Int64

// Netns is a network namespace made for one test (`ip netns add`) and removed
// when the test ends. Its loopback starts down, as in any new namespace. Tests that send packets to
// addresses outside loopback, or change links, routes and neighbours, do it in
// here: nothing reaches the host's own interfaces or leaves the machine.
type Netns struct {
	Name string

	t  testing.TB
	ip string
}

// NewNetns makes the namespace; purpose says, for the message when it cannot be
// made, what the test needs it for. Without root (or `ip`) the test is skipped,
// or fails under CI=true.
func NewNetns(t testing.TB, purpose string) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "%s makes a network namespace, which needs root (CI runs the tests as root)", purpose)
	}
	ip, err := LookPath("ip")
	if err != nil {
		Missing(t, "ip not found in PATH, /usr/sbin or /usr/bin: install it with `apt-get install iproute2`")
	}
	n := &Netns{Name: fmt.Sprintf("meetnoc-%d-%d", os.Getpid(), netnsSeq.Add(1)), t: t, ip: ip}
	if out, err := exec.Command(ip, "netns", "add", n.Name).CombinedOutput(); err != nil {
		Missing(t, "ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	return n
}

// Path is the namespace's file, for setns or netlink handles.
func (n *Netns) Path() string { return netns.Path(n.Name) }

// IP runs `ip -n NAME args...` and fails the test on an error.
func (n *Netns) IP(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(n.ip, append([]string{"-n", n.Name}, args...)...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
}

// Exec runs a command inside the namespace (`ip netns exec`) and fails the
// test on an error.
func (n *Netns) Exec(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(n.ip, append([]string{"netns", "exec", n.Name}, args...)...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip netns exec %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
}

// Do runs f on an OS thread that has entered the namespace (netns.Do).
func (n *Netns) Do(f func() error) error { return netns.Do(n.Path(), f) }

// Go runs f on a goroutine of its own whose OS thread has entered the namespace
// and stays locked (netns.Go).
func (n *Netns) Go(f func() error) <-chan error { return netns.Go(n.Path(), f) }
