package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
