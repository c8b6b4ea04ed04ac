package snmpagent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// These tests hold the agent against an independent SNMP implementation:
// net-snmp's command-line tools (Debian package snmp).

// netsnmp runs a net-snmp tool with numeric, unambiguous output (-On -Oe -Ob,
// every string in hex on one line) and its own empty configuration.
func netsnmp(t testing.TB, tool string, args ...string) (stdout, stderr string) {
	t.Helper()
	path := testenv.Require(t, tool)[0]
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"-m", "", "-On", "-Oe", "-Ob", "-Ox", "--hexOutputLength=0", "-t", "2", "-r", "0"}
	cmd := exec.CommandContext(ctx, path, append(base, args...)...)
	cmd.Env = append(os.Environ(), "MIBS=", "MIBDIRS="+dir, "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+filepath.Join(dir, "persist"), "HOME="+dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	return out.String(), errOut.String()
}

// netsnmpLine is how net-snmp prints a varbind with netsnmp's options.
func netsnmpLine(oid string, t gosnmp.Asn1BER, v any) string {
	var s string
	switch t {
	case gosnmp.OctetString, gosnmp.Opaque:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		}
		s = strings.ToUpper(fmt.Sprintf("% x", b))
		switch {
		case len(b) == 0:
			s = `""`
		case t == gosnmp.Opaque:
			s = "OPAQUE: " + s
		default:
			s = "Hex-STRING: " + s
		}
	case gosnmp.ObjectIdentifier:
		s = "OID: ." + strings.TrimPrefix(v.(string), ".")
	case gosnmp.TimeTicks:
		s = fmt.Sprintf("Timeticks: (%d) %s", v, uptime(v.(uint32)))
	case gosnmp.Integer:
		s = fmt.Sprintf("INTEGER: %d", v)
	case gosnmp.IPAddress:
		s = "IpAddress: " + v.(string)
	case gosnmp.Counter32:
		s = fmt.Sprintf("Counter32: %d", v)
	case gosnmp.Gauge32:
		s = fmt.Sprintf("Gauge32: %d", v)
	case gosnmp.Counter64:
		s = fmt.Sprintf("Counter64: %d", v)
	case gosnmp.Null:
		s = "NULL"
	case gosnmp.NoSuchObject:
		s = "No Such Object available on this agent at this OID"
	case gosnmp.NoSuchInstance:
		s = "No Such Instance currently exists at this OID"
	case gosnmp.EndOfMibView:
		s = "No more variables left in this MIB View (It is past the end of the MIB tree)"
	}
	return "." + strings.TrimPrefix(oid, ".") + " = " + s
}

// uptime formats TimeTicks as net-snmp does.
func uptime(ticks uint32) string {
	cs := ticks % 100
	secs := ticks / 100
	days, h, m, sec := secs/86400, secs/3600%24, secs/60%60, secs%60
	hms := fmt.Sprintf("%d:%02d:%02d.%02d", h, m, sec, cs)
	switch days {
	case 0:
		return hms
	case 1:
		return "1 day, " + hms
	}
	return fmt.Sprintf("%d days, %s", days, hms)
}

// treeLines is what net-snmp prints for a walk of the whole tree.
func treeLines(tree *Tree, skip func(gosnmp.Asn1BER) bool) []string {
	var out []string
	for _, v := range tree.vars {
		typ, val := v.value()
		if skip == nil || !skip(typ) {
			out = append(out, netsnmpLine(v.oid.String(), typ, val))
		}
	}
	return out
}

func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimRight(l, " \n"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func expectLines(t testing.TB, what, stdout, stderr string, want []string) {
	t.Helper()
	got := lines(stdout)
	if len(got) == len(want) {
		same := true
		for i := range got {
			same = same && got[i] == strings.TrimRight(want[i], " ")
		}
		if same {
			return
		}
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	var g, w string
	if i < len(got) {
		g = got[i]
	}
	if i < len(want) {
		w = want[i]
	}
	t.Errorf("%s: %d lines, want %d; first difference at %d:\n got %q\nwant %q\nstderr: %s", what, len(got), len(want), i, g, w, stderr)
}

func TestNetSNMP(t *testing.T) {
	tree := testTree()
	users := []User{
		{Name: "noc", AuthProtocol: gosnmp.SHA, AuthPassphrase: "noc-auth-passphrase", PrivProtocol: gosnmp.AES, PrivPassphrase: "noc-priv-passphrase"},
		{Name: "noc-des", AuthProtocol: gosnmp.MD5, AuthPassphrase: "noc-auth-passphrase", PrivProtocol: gosnmp.DES, PrivPassphrase: "noc-priv-passphrase"},
		{Name: "noc-aes256", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "noc-auth-passphrase", PrivProtocol: gosnmp.AES256, PrivPassphrase: "noc-priv-passphrase"},
		{Name: "monitor", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "monitor-passphrase"},
	}
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}, Users: users})
	addr := "udp:" + a.Addr()
	whole := append(treeLines(tree, nil), netsnmpLine(oidLast.String(), gosnmp.EndOfMibView, nil))
	v3args := map[string][]string{
		"SHA/AES":         {"-v3", "-l", "authPriv", "-u", "noc", "-a", "SHA", "-A", "noc-auth-passphrase", "-x", "AES", "-X", "noc-priv-passphrase"},
		"MD5/DES":         {"-v3", "-l", "authPriv", "-u", "noc-des", "-a", "MD5", "-A", "noc-auth-passphrase", "-x", "DES", "-X", "noc-priv-passphrase"},
		"SHA-512/AES-256": {"-v3", "-l", "authPriv", "-u", "noc-aes256", "-a", "SHA-512", "-A", "noc-auth-passphrase", "-x", "AES-256", "-X", "noc-priv-passphrase"},
		"SHA-256":         {"-v3", "-l", "authNoPriv", "-u", "monitor", "-a", "SHA-256", "-A", "monitor-passphrase"},
	}

	t.Run("v2c snmpbulkwalk", func(t *testing.T) {
		stdout, stderr := netsnmp(t, "snmpbulkwalk", "-v2c", "-c", "public", "-Cr25", addr, ".1.3")
		expectLines(t, "snmpbulkwalk", stdout, stderr, whole)
	})
	t.Run("v2c snmpwalk", func(t *testing.T) {
		stdout, stderr := netsnmp(t, "snmpwalk", "-v2c", "-c", "public", addr, ".1.3")
		expectLines(t, "snmpwalk", stdout, stderr, whole)
	})
	t.Run("v2c snmpget", func(t *testing.T) {
		stdout, stderr := netsnmp(t, "snmpget", "-v2c", "-c", "public", addr,
			oidSysDescr.String(), oidSysUpTime.String(), "1.3.6.1.2.1.1.99.0", oidIfDescr.Append(999).String(), "1.3.6.1.4.1.99999.5.0")
		f, _ := tree.Get(oidSysDescr)
		typ, val := f()
		expectLines(t, "snmpget", stdout, stderr, []string{
			netsnmpLine(oidSysDescr.String(), typ, val),
			netsnmpLine(oidSysUpTime.String(), gosnmp.TimeTicks, uint32(123456)),
			netsnmpLine("1.3.6.1.2.1.1.99.0", gosnmp.NoSuchObject, nil),
			netsnmpLine(oidIfDescr.Append(999).String(), gosnmp.NoSuchInstance, nil),
			netsnmpLine("1.3.6.1.4.1.99999.5.0", gosnmp.Counter64, uint64(1<<64-1)),
		})
	})
	t.Run("v1 snmpwalk", func(t *testing.T) {
		stdout, stderr := netsnmp(t, "snmpwalk", "-v1", "-c", "public", addr, ".1.3")
		// The walk ends on noSuchName at the end of the MIB; Counter64s are skipped.
		want := append(treeLines(tree, func(t gosnmp.Asn1BER) bool { return t == gosnmp.Counter64 }), "End of MIB")
		expectLines(t, "v1 snmpwalk", stdout, stderr, want)
	})
	t.Run("v1 snmpget noSuchName", func(t *testing.T) {
		_, stderr := netsnmp(t, "snmpget", "-v1", "-c", "public", addr, oidSysDescr.String(), "1.3.6.1.2.1.1.99.0")
		if !strings.Contains(stderr, "Reason: (noSuchName) There is no such variable name in this MIB.") ||
			!strings.Contains(stderr, "Failed object: .1.3.6.1.2.1.1.99.0") {
			t.Errorf("stderr: %s", stderr)
		}
	})
	for name, args := range v3args {
		t.Run("v3 "+name+" snmpbulkwalk", func(t *testing.T) {
			stdout, stderr := netsnmp(t, "snmpbulkwalk", append(args, "-Cr25", addr, ".1.3")...)
			expectLines(t, "snmpbulkwalk", stdout, stderr, whole)
		})
	}
	t.Run("v3 SHA/AES snmpget", func(t *testing.T) {
		stdout, stderr := netsnmp(t, "snmpget", append(v3args["SHA/AES"], addr, oidSysUpTime.String(), "1.3.6.1.2.1.1.99.0")...)
		expectLines(t, "snmpget", stdout, stderr, []string{
			netsnmpLine(oidSysUpTime.String(), gosnmp.TimeTicks, uint32(123456)),
			netsnmpLine("1.3.6.1.2.1.1.99.0", gosnmp.NoSuchObject, nil),
		})
	})

	// net-snmp names the Report it got; the same reports gosnmp cannot.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong auth passphrase", []string{"-v3", "-l", "authPriv", "-u", "noc", "-a", "SHA", "-A", "wrong-passphrase", "-x", "AES", "-X", "noc-priv-passphrase"},
			"Authentication failure (incorrect password, community or key)"},
		{"unknown user", []string{"-v3", "-l", "authPriv", "-u", "intruder", "-a", "SHA", "-A", "noc-auth-passphrase", "-x", "AES", "-X", "noc-priv-passphrase"},
			"Unknown user name"},
		{"unsupported security level", []string{"-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA-256", "-A", "monitor-passphrase", "-x", "AES", "-X", "noc-priv-passphrase"},
			"Unsupported security level"},
		{"below the user's level", []string{"-v3", "-l", "authNoPriv", "-u", "noc", "-a", "SHA", "-A", "noc-auth-passphrase"},
			"Reason: authorizationError (access denied to that object)"},
		{"unknown context", append(append([]string{}, v3args["SHA/AES"]...), "-n", "bridge1"),
			"Bad context specified"},
		{"wrong community", []string{"-v2c", "-c", "private", "-t", "0.3"},
			"Timeout: No Response from " + addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := netsnmp(t, "snmpget", append(tc.args, addr, oidSysDescr.String())...)
			if !strings.Contains(stderr+stdout, tc.want) {
				t.Errorf("output %q, want %q", stderr+stdout, tc.want)
			}
		})
	}
}

// TestNetSNMPSmallMessages: net-snmp walks the whole MIB through GETBULK
// responses cut short for a 484-octet message size, in v2c and v3 authPriv.
func TestNetSNMPSmallMessages(t *testing.T) {
	tree := testTree()
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}, MaxMessageSize: 484, Users: []User{
		{Name: "noc", AuthProtocol: gosnmp.SHA, AuthPassphrase: "noc-auth-passphrase", PrivProtocol: gosnmp.AES, PrivPassphrase: "noc-priv-passphrase"},
	}})
	whole := append(treeLines(tree, nil), netsnmpLine(oidLast.String(), gosnmp.EndOfMibView, nil))
	addr := "udp:" + a.Addr()
	stdout, stderr := netsnmp(t, "snmpbulkwalk", "-v2c", "-c", "public", "-Cr50", addr, ".1.3")
	expectLines(t, "v2c", stdout, stderr, whole)
	stdout, stderr = netsnmp(t, "snmpbulkwalk", "-v3", "-l", "authPriv", "-u", "noc", "-a", "SHA", "-A", "noc-auth-passphrase",
		"-x", "AES", "-X", "noc-priv-passphrase", "-Cr50", addr, ".1.3")
	expectLines(t, "v3", stdout, stderr, whole)
	if a.Stats().Truncated == 0 {
		t.Error("no response was cut short")
	}
}

// TestNetSNMPRecording walks the Catalyst 2960X recording with net-snmp.
func TestNetSNMPRecording(t *testing.T) {
	tree, err := LoadSnmprec(filepath.Join(recordingsDir(t), "ios_2960x.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, Config{MIB: tree, Communities: []string{"public"}})
	stdout, stderr := netsnmp(t, "snmpbulkwalk", "-v2c", "-c", "public", "-Cr50", "udp:"+a.Addr(), ".1.3")
	last := tree.vars[len(tree.vars)-1].oid.String()
	expectLines(t, "2960X", stdout, stderr, append(treeLines(tree, nil), netsnmpLine(last, gosnmp.EndOfMibView, nil)))
}
