package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// SnmpUser is an SNMPv3 user of a test agent. Protocols are spelled as in meetnoc's
// config (SHA, SHA256, AES, …); an empty AuthProtocol makes a noAuthNoPriv user, an
// empty PrivProtocol an authNoPriv one.
type SnmpUser struct {
	Name         string
	AuthProtocol string // MD5, SHA, SHA224, SHA256, SHA384, SHA512
	AuthPassword string
	PrivProtocol string // DES, AES, AES192, AES256
	PrivPassword string
}

// Level is the user's security level in net-snmp's words (noauth, auth, priv).
func (u SnmpUser) level() string {
	switch {
	case u.AuthProtocol == "":
		return "noauth"
	case u.PrivProtocol == "":
		return "auth"
	default:
		return "priv"
	}
}

// netsnmpAuth and netsnmpPriv spell a protocol as snmpd.conf's createUser does.
func netsnmpAuth(p string) string {
	if strings.HasPrefix(p, "SHA") && len(p) > 3 {
		return "SHA-" + p[3:]
	}
	return p
}

func netsnmpPriv(p string) string {
	if strings.HasPrefix(p, "AES") && len(p) > 3 {
		return "AES-" + p[3:]
	}
	return p
}

func (u SnmpUser) gosnmpParams() (gosnmp.SnmpV3MsgFlags, *gosnmp.UsmSecurityParameters) {
	auth := map[string]gosnmp.SnmpV3AuthProtocol{
		"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224,
		"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
	}
	priv := map[string]gosnmp.SnmpV3PrivProtocol{
		"DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192, "AES256": gosnmp.AES256,
	}
	sp := &gosnmp.UsmSecurityParameters{UserName: u.Name}
	flags := gosnmp.NoAuthNoPriv
	if u.AuthProtocol != "" {
		flags = gosnmp.AuthNoPriv
		sp.AuthenticationProtocol = auth[u.AuthProtocol]
		sp.AuthenticationPassphrase = u.AuthPassword
	}
	if u.PrivProtocol != "" {
		flags = gosnmp.AuthPriv
		sp.PrivacyProtocol = priv[u.PrivProtocol]
		sp.PrivacyPassphrase = u.PrivPassword
	}
	return flags, sp
}

// SnmpdOptions configure a test snmpd.
type SnmpdOptions struct {
	// Community is a read-only v2c community for 127.0.0.1 and ::1. When neither
	// Community nor Users is set, it is "public".
	Community string
	// Users are SNMPv3 users with read-only access to everything.
	Users []SnmpUser
	// IPv6 also listens on udp6:[::1]:PORT (the same port as IPv4).
	IPv6        bool
	SysName     string // default "meetnoc-test"
	SysLocation string // default "loopback"
	// Extra lines appended to snmpd.conf: view restrictions, override, more
	// communities.
	Extra []string
	// Args are more snmpd arguments, e.g. "-d" to dump every packet into the
	// output that a failed test logs.
	Args []string
}

// Snmpd is a net-snmp agent started for one test, on a random loopback port.
// Restart is as after a reboot: sysUpTime starts again from 0, the engine ID
// stays (it is in the persistent directory), the engine boots counter goes up.
type Snmpd struct {
	localDaemon

	bin  string
	opts SnmpdOptions
	dir  string
	conf string
}

// StartSnmpd writes a snmpd.conf into a temporary directory, starts Debian's
// /usr/sbin/snmpd on it in the foreground, waits (at most 10 s) until it answers a
// GET of sysUpTime.0, and stops it when the test ends.
func StartSnmpd(t testing.TB, opts SnmpdOptions) *Snmpd {
	t.Helper()
	bin := Require(t, "snmpd")[0]
	if opts.Community == "" && len(opts.Users) == 0 {
		opts.Community = "public"
	}
	if opts.SysName == "" {
		opts.SysName = "meetnoc-test"
	}
	if opts.SysLocation == "" {
		opts.SysLocation = "loopback"
	}
	if opts.IPv6 {
		RequireIPv6(t)
	}
	s := &Snmpd{bin: bin, opts: opts, dir: t.TempDir()}
	s.out, s.launch = &SyncBuffer{}, s.launchAgent
	s.Port = FreeUDPPort(t)
	// The persistent directory keeps the engine ID, the boot counter and the
	// localized v3 keys across a Restart, as on a real agent. snmpd writes its
	// state there at shutdown; -C makes it skip the file at startup unless it is
	// named with -c, so it is (see start), and it exists from the start.
	if err := os.Mkdir(filepath.Join(s.dir, "persist"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.persistentConf(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.conf = filepath.Join(s.dir, "snmpd.conf")
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	logOnFailure(t, "snmpd", s.out)
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Snmpd) config() string {
	var b strings.Builder
	// Persistent state goes to the test's directory, never /var/lib/snmp.
	fmt.Fprintf(&b, "[snmp] persistentDir %s\n", filepath.Join(s.dir, "persist"))
	addrs := []string{"udp:127.0.0.1:" + strconv.Itoa(s.Port)}
	if s.opts.IPv6 {
		addrs = append(addrs, "udp6:[::1]:"+strconv.Itoa(s.Port))
	}
	fmt.Fprintf(&b, "agentAddress %s\n", strings.Join(addrs, ","))
	fmt.Fprintf(&b, "dontLogTCPWrappersConnects yes\n")
	if c := s.opts.Community; c != "" {
		fmt.Fprintf(&b, "rocommunity %s 127.0.0.1\n", c)
		if s.opts.IPv6 {
			fmt.Fprintf(&b, "rocommunity6 %s ::1\n", c)
		}
	}
	for _, u := range s.opts.Users {
		line := "createUser " + u.Name
		if u.AuthProtocol != "" {
			line += fmt.Sprintf(" %s %q", netsnmpAuth(u.AuthProtocol), u.AuthPassword)
			if u.PrivProtocol != "" {
				line += fmt.Sprintf(" %s %q", netsnmpPriv(u.PrivProtocol), u.PrivPassword)
			}
		}
		fmt.Fprintln(&b, line)
		fmt.Fprintf(&b, "rouser %s %s\n", u.Name, u.level())
	}
	fmt.Fprintf(&b, "sysName %s\n", s.opts.SysName)
	fmt.Fprintf(&b, "sysLocation %s\n", s.opts.SysLocation)
	for _, l := range s.opts.Extra {
		fmt.Fprintln(&b, l)
	}
	return b.String()
}

// launchAgent starts snmpd and waits until it answers a GET of sysUpTime.0.
func (s *Snmpd) launchAgent() (*process, error) {
	// -C: only our config. -I -smux: no SMUX listener on the fixed port 199.
	// -m "" -M: load no MIB files (numeric OIDs only; the MIB parser's warnings
	// would drown the log).
	args := append([]string{"-f", "-Lo", "-C", "-c", s.conf + "," + s.persistentConf(), "-p", filepath.Join(s.dir, "snmpd.pid"),
		"-I", "-smux", "-m", "", "-M", filepath.Join(s.dir, "nomibs")}, s.opts.Args...)
	p, err := startProcess("snmpd", s.out, s.bin, args...)
	if err != nil {
		return nil, fmt.Errorf("start snmpd: %w", err)
	}
	probe := agentProbe{host: "127.0.0.1", port: s.Port, community: s.opts.Community, oid: "1.3.6.1.2.1.1.3.0"}
	if probe.community == "" {
		u := s.opts.Users[0]
		probe.user = &u
	}
	if err := waitAgent(p, probe, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (s *Snmpd) persistentConf() string { return filepath.Join(s.dir, "persist", "snmpd.conf") }
