package testenv

import (
	"net"
	"strconv"
	"sync"
)

// localDaemon is what every real daemon a test starts has in common (snmpd,
// unbound): its port on loopback, its process and its log, and stopping and
// restarting it on the same port and config.
type localDaemon struct {
	Port int

	out *SyncBuffer
	// launch starts the process and waits until it answers; when it fails, it
	// has stopped the process itself. Called with mu held.
	launch func() (*process, error)

	mu      sync.Mutex
	proc    *process
	stopped bool
}

func (d *localDaemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.launch()
	if err != nil {
		return err
	}
	d.proc, d.stopped = p, false
	return nil
}

// Addr is the daemon's IPv4 address, "127.0.0.1:PORT".
func (d *localDaemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port)) }

// Addr6 is the daemon's IPv6 address, "[::1]:PORT" (when started with IPv6).
func (d *localDaemon) Addr6() string { return net.JoinHostPort("::1", strconv.Itoa(d.Port)) }

// Stop ends the daemon; it is safe to call more than once.
func (d *localDaemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil && !d.stopped {
		d.proc.stop()
		d.stopped = true
	}
}

// Restart stops the daemon and starts it again on the same port and config. It
// returns an error (rather than failing the test) so that a subtest can call it
// on its parent's daemon.
func (d *localDaemon) Restart() error {
	d.Stop()
	return d.start()
}

// Output is what the daemon has logged so far.
func (d *localDaemon) Output() string { return d.out.String() }
