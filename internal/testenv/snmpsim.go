package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Snmpsim is an snmpsimd serving .snmprec recordings on a random loopback port. Each
// recording answers to the community named like its file without ".snmprec".
type Snmpsim struct {
	Port        int
	Communities []string // one per recording served

	proc *process
}

// StartSnmpsim serves every *.snmprec file of dataDir with Debian's snmpsimd and
// waits (at most 30 s) until it answers; it is stopped when the test ends.
//
// The recordings are copied into a fresh world-readable directory first: run as
// root, snmpsimd drops to nobody/nogroup, which could read neither t.TempDir() (mode
// 0700) nor a file behind it.
func StartSnmpsim(t testing.TB, dataDir string) *Snmpsim {
	t.Helper()
	bin := Require(t, "snmpsimd")[0]

	root, err := os.MkdirTemp("", "meetnoc-snmpsim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	data, cache := filepath.Join(root, "data"), filepath.Join(root, "cache")
	for _, d := range []string{data, cache} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dataDir, "*.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.snmprec in %s", dataDir)
	}
	s := &Snmpsim{}
	for _, f := range files {
		if err := copyFile(f, filepath.Join(data, filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Communities = append(s.Communities, strings.TrimSuffix(filepath.Base(f), ".snmprec"))
	}
	slices.Sort(s.Communities)

	s.Port = FreeUDPPort(t)
	args := []string{
		"--data-dir=" + data,
		"--cache-dir=" + cache,
		"--agent-udpv4-endpoint=127.0.0.1:" + strconv.Itoa(s.Port),
		"--logging-method=stderr",
	}
	if os.Geteuid() == 0 {
		// snmpsimd refuses to run as root; it switches after binding.
		uid, gid := nobody(t)
		if err := os.Chown(cache, uid, gid); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--process-user=nobody", "--process-group="+groupOf(t, gid))
	}
	out := &SyncBuffer{}
	logOnFailure(t, "snmpsimd", out)
	p, err := startProcess("snmpsimd", out, bin, args...)
	if err != nil {
		t.Fatalf("start snmpsimd: %v", err)
	}
	s.proc = p
	t.Cleanup(p.stop)
	// Any recording's community will do; snmpsimd drops requests for unknown ones.
	probe := agentProbe{host: "127.0.0.1", port: s.Port, community: s.Communities[0], oid: "1.3.6.1.2.1.1.3.0"}
	if err := waitAgent(p, probe, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// Addr is "127.0.0.1:PORT".
func (s *Snmpsim) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Stop ends snmpsimd before the test does (an agent that went away).
func (s *Snmpsim) Stop() { s.proc.stop() }

func nobody(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("snmpsimd must run as nobody, but: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

func groupOf(t testing.TB, gid int) string {
	t.Helper()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatalf("group of nobody: %v", err)
	}
	return g.Name
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}
