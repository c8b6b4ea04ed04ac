package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// process is a child process whose output is kept for the test log.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers: a child process's
// stdout and stderr, and the test reading it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startProcess(name string, out *SyncBuffer, path string, args ...string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	// Its own process group, so that a stop reaches a child's children too and a
	// Ctrl-C of `go test` does not race the cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(out, "+ %s %v\n", path, args)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM to its group, SIGKILL after 5 s.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// agentProbe is how to ask an agent whether it answers.
type agentProbe struct {
	host      string
	port      int
	community string // v2c when set
	user      *SnmpUser
	oid       string
}

// waitAgent polls the agent with a GET until it answers, the process dies, or the
// deadline passes. Any response counts, noSuchObject included: the agent is up.
func waitAgent(p *process, probe agentProbe, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited before it answered: %v", p.name, p.err)
		}
		g := probe.client(300 * time.Millisecond)
		if err := g.Connect(); err != nil {
			return err
		}
		_, err := g.Get([]string{probe.oid})
		g.Conn.Close()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer SNMP on %s within %v: %v", p.name,
		net.JoinHostPort(probe.host, strconv.Itoa(probe.port)), within, last)
}

func (a agentProbe) client(timeout time.Duration) *gosnmp.GoSNMP {
	g := &gosnmp.GoSNMP{
		Target:    a.host,
		Port:      uint16(a.port),
		Transport: "udp",
		Community: a.community,
		Version:   gosnmp.Version2c,
		Timeout:   timeout,
		Retries:   0,
		MaxOids:   gosnmp.MaxOids,
	}
	if a.user != nil {
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags, g.SecurityParameters = a.user.gosnmpParams()
	}
	return g
}

// logOnFailure writes a component's output into the test log when the test failed,
// at cleanup: an agent's complaint is usually the quickest explanation.
func logOnFailure(t testing.TB, name string, out *SyncBuffer) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}
