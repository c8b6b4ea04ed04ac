package testenv

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// Chromium runs Debian's chromium headless on url with extra flags and
// returns its stdout and stderr; a failure to run fails the test. The flags
// keep it off the network (no name resolves but loopback's; this machine has
// no other network anyway) and out of the user's profile.
func Chromium(t testing.TB, url string, flags ...string) (stdout, stderr []byte) {
	t.Helper()
	bin := Require(t, "chromium")[0]
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
		"--user-data-dir=" + t.TempDir(),
	}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, tail(errBuf.String()))
	}
	return out, errBuf.Bytes()
}

// tail is the end of a long log.
func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
