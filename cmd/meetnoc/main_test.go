package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(good, []byte(`
snmp:
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]
`), 0o644)
	os.WriteFile(bad, []byte(`
snmp:
  interval: -5s
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v3, profiles: [if_mib]}]
`), 0o644)

	var out, errOut bytes.Buffer
	if code := run([]string{"check", good}, &out, &errOut); code != 0 {
		t.Fatalf("check good.yml: exit %d, stderr %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "good.yml: ok (0 SSIDs, 1 SNMP targets") {
		t.Errorf("check good.yml printed %q", out.String())
	}

	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", bad}, &out, &errOut); code != 1 {
		t.Fatalf("check bad.yml: exit %d, want 1", code)
	}
	want := bad + ":3: snmp.interval: must be positive, not -5s\n" +
		bad + ":5: snmp.targets[0].auth: unknown auth \"v3\" (defined: v2)\n" +
		bad + ": 2 error(s)\n"
	if errOut.String() != want {
		t.Errorf("check bad.yml printed:\n%s\nwant:\n%s", errOut.String(), want)
	}

	errOut.Reset()
	if code := run([]string{"check", filepath.Join(dir, "missing.yml")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("check missing.yml: exit %d, %q", code, errOut.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "frobnicate") {
		t.Errorf("unknown command: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"run", "--no-such-flag"}, &out, &errOut); code != 2 {
		t.Errorf("unknown flag: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"run", "--shard=3/2"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `shard "3/2": want i/n with 1 ≤ i ≤ n`) {
		t.Errorf("bad shard: exit %d, %q", code, errOut.String())
	}
}

func TestShippedConfigsCheck(t *testing.T) {
	creds := t.TempDir()
	for _, name := range []string{"snmp-auth", "snmp-priv", "snmp-community"} {
		os.WriteFile(filepath.Join(creds, name), []byte("secret-passphrase\n"), 0o600)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	files, _ := filepath.Glob("../../configs/*.yml")
	if len(files) == 0 {
		t.Fatal("no configs found")
	}
	for _, f := range files {
		var out, errOut bytes.Buffer
		if code := run([]string{"check", f}, &out, &errOut); code != 0 {
			t.Errorf("meetnoc check %s: exit %d\n%s", f, code, errOut.String())
		}
	}
}

// The real binary: `meetnoc run` serves, reloads on SIGHUP and stops cleanly on SIGTERM.
func TestRunSignals(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "meetnoc")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// An agent that never answers is enough: the daemon must run, not poll well.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	cfg := filepath.Join(t.TempDir(), "meetnoc.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
snmp:
  interval: 2s
  timeout: 500ms
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: "%s", auth: v2, profiles: [if_mib]}]
`, udp.LocalAddr())), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var stderr testenv.SyncBuffer
	cmd := exec.Command(bin, "run", "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=debug")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 10 s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(stderr.String(), "config reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload on SIGHUP:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("SIGTERM took %s", d)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("still running 8 s after SIGTERM:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log:\n%s", stderr.String())
	}
}
