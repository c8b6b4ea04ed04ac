package testenv

import (
	"crypto"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Names the test resolver answers for, from the zones StartUnbound serves.
const (
	// UnboundV4Only has only an A record, 192.0.2.10: DNS64 synthesizes its AAAA.
	UnboundV4Only = "v4only.test."
	// UnboundDualStack has A 192.0.2.11 and its own AAAA 2001:db8::11.
	UnboundDualStack = "dual.test."
	// UnboundBig has a TXT RRset of about 2.5 kB: over UDP with a 1232-byte
	// EDNS buffer the answer is truncated and must be asked again over TCP.
	UnboundBig = "big.test."
	// UnboundServfail sits under a trust anchor whose DS matches no key, so the
	// validator answers SERVFAIL at once, offline.
	UnboundServfail = "servfail.test."
	// UnboundNXDomain does not exist.
	UnboundNXDomain = "nx.test."
	// UnboundSigned is a DNSSEC-signed zone (a key made for each test, and
	// unbound's trust anchor) whose apex has A 192.0.2.20: the validator
	// answers it with the AD bit.
	UnboundSigned = "signed.test."
)

// UnboundOptions configure a test unbound.
type UnboundOptions struct {
	// NoDNS64 leaves the dns64 module out: AAAA queries for IPv4-only names get
	// no synthesized answer.
	NoDNS64 bool
	// DNS64Prefix is the prefix unbound synthesizes with; default 64:ff9b::/96.
	DNS64Prefix string
	// IPv6 also listens on [::1] (the same port).
	IPv6 bool
	// Records are more zone-file lines for the test. zone, names relative to
	// it, e.g. "www 60 IN A 192.0.2.80".
	Records []string
	// Extra lines appended to the server: clause.
	Extra []string
}

// Unbound is Debian's unbound, started for one test on a random loopback port
// (UDP and TCP), resolving entirely offline: the root, test. and
// ipv4only.arpa are auth-zones it serves to its own iterator
// (for-upstream: yes), so the dns64 module synthesizes for them as for any
// upstream answer — it does not for local-data — and no query ever leaves
// the host.
type Unbound struct {
	localDaemon

	bin  string
	opts UnboundOptions
	dir  string
	conf string
}

// StartUnbound writes an unbound.conf and its zone files into a temporary
// directory, starts unbound in the foreground, waits (at most 10 s) until it
// answers, and stops it when the test ends.
func StartUnbound(t testing.TB, opts UnboundOptions) *Unbound {
	t.Helper()
	bin := Require(t, "unbound")[0]
	if opts.DNS64Prefix == "" {
		opts.DNS64Prefix = "64:ff9b::/96"
	}
	if opts.IPv6 {
		RequireIPv6(t)
	}
	u := &Unbound{bin: bin, opts: opts, dir: t.TempDir()}
	u.out, u.launch = &SyncBuffer{}, u.launchResolver
	u.Port = freeUDPAndTCPPort(t)
	signedZone, anchor, err := signZone()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"root.zone":     rootZone,
		"test.zone":     testZone(opts.Records),
		"ipv4only.zone": ipv4onlyZone,
		"signed.zone":   signedZone,
		"signed.key":    anchor,
		"unbound.conf":  u.config(),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(u.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u.conf = filepath.Join(u.dir, "unbound.conf")
	logOnFailure(t, "unbound", u.out)
	t.Cleanup(u.Stop)
	if err := u.start(); err != nil {
		t.Fatal(err)
	}
	return u
}

// freeUDPAndTCPPort is a port free for UDP (on 127.0.0.1 and, where there is
// one, [::1]) and for TCP on 127.0.0.1, as a DNS server needs both.
func freeUDPAndTCPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		port := FreeUDPPort(t)
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		if ipv6Loopback() {
			l6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
			if err != nil {
				continue
			}
			l6.Close()
		}
		return port
	}
	t.Fatal("no port free for both UDP and TCP on loopback")
	return 0
}

// The root zone, served locally so that the iterator never primes from the
// real root servers: every name outside test. and ipv4only.arpa is NXDOMAIN.
const rootZone = `. 3600 IN SOA a.root.invalid. nobody.invalid. 1 3600 600 86400 60
. 3600 IN NS a.root.invalid.
`

const ipv4onlyZone = `$ORIGIN ipv4only.arpa.
@ 3600 IN SOA ns.test. nobody.test. 1 3600 600 86400 60
@ 3600 IN NS ns.test.
@ 60 IN A 192.0.0.170
@ 60 IN A 192.0.0.171
`

func testZone(records []string) string {
	var b strings.Builder
	b.WriteString(`$ORIGIN test.
@ 3600 IN SOA ns.test. nobody.test. 1 3600 600 86400 60
@ 3600 IN NS ns.test.
ns 3600 IN A 127.0.0.1
v4only 60 IN A 192.0.2.10
dual 60 IN A 192.0.2.11
dual 60 IN AAAA 2001:db8::11
servfail 60 IN A 192.0.2.12
`)
	// 24 strings of 100 characters: ~2.5 kB, over any 1232-byte buffer.
	for i := range 24 {
		fmt.Fprintf(&b, "big 60 IN TXT \"%02d%s\"\n", i, strings.Repeat("x", 98))
	}
	for _, r := range records {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}

// signZone makes a key and signs the UnboundSigned zone with it: SOA, NS, A,
// DNSKEY and an NSEC at the apex (so that a missing AAAA is proven absent and
// DNS64 can synthesize from a validated A). It returns the zone file and the
// trust anchor (the key) in zone-file form.
func signZone() (zone, anchor string, err error) {
	const ttl = 3600
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: UnboundSigned, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	key := &dns.DNSKEY{Hdr: hdr(dns.TypeDNSKEY), Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		return "", "", err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return "", "", fmt.Errorf("DNSKEY private key %T is not a crypto.Signer", priv)
	}
	rrsets := [][]dns.RR{
		{&dns.SOA{Hdr: hdr(dns.TypeSOA), Ns: "ns.test.", Mbox: "nobody.test.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}},
		{&dns.NS{Hdr: hdr(dns.TypeNS), Ns: "ns.test."}},
		{&dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(192, 0, 2, 20)}},
		{key},
		{&dns.NSEC{Hdr: hdr(dns.TypeNSEC), NextDomain: UnboundSigned,
			TypeBitMap: []uint16{dns.TypeA, dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY}}},
	}
	now := time.Now()
	var b strings.Builder
	for _, set := range rrsets {
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: UnboundSigned, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: ttl},
			Algorithm: dns.ECDSAP256SHA256, KeyTag: key.KeyTag(), SignerName: UnboundSigned,
			Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(24 * time.Hour).Unix())}
		if err := sig.Sign(signer, set); err != nil {
			return "", "", err
		}
		for _, rr := range append(set, sig) {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	return b.String(), key.String() + "\n", nil
}

func (u *Unbound) config() string {
	var b strings.Builder
	b.WriteString("server:\n")
	line := func(format string, args ...any) { fmt.Fprintf(&b, "  "+format+"\n", args...) }
	line("interface: 127.0.0.1")
	if u.opts.IPv6 {
		line("interface: ::1")
	}
	line("port: %d", u.Port)
	line("do-daemonize: no")
	line(`chroot: ""`)
	line(`username: ""`)
	line("directory: %q", u.dir)
	line("pidfile: %q", filepath.Join(u.dir, "unbound.pid"))
	line("use-syslog: no")
	line(`logfile: ""`)
	line("verbosity: 1")
	line("num-threads: 1")
	line("access-control: 127.0.0.0/8 allow")
	line("access-control: ::1/128 allow")
	// The auth-zones are served on 127.0.0.1 in unbound's own view.
	line("do-not-query-localhost: no")
	if u.opts.NoDNS64 {
		line(`module-config: "validator iterator"`)
	} else {
		line(`module-config: "dns64 validator iterator"`)
		line("dns64-prefix: %s", u.opts.DNS64Prefix)
	}
	// test. is one of unbound's default (static, empty) local zones: remove it
	// so that the auth-zone answers.
	line(`local-zone: "test." nodefault`)
	// A DS that matches no key: everything under servfail.test. is bogus.
	line(`trust-anchor: "%s DS 12345 13 2 %s"`, UnboundServfail, strings.Repeat("00", 32))
	line("trust-anchor-file: %q", filepath.Join(u.dir, "signed.key"))
	for _, l := range u.opts.Extra {
		line("%s", l)
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	for _, z := range []struct{ name, file string }{
		{".", "root.zone"}, {"test.", "test.zone"}, {"ipv4only.arpa.", "ipv4only.zone"}, {UnboundSigned, "signed.zone"},
	} {
		fmt.Fprintf(&b, "auth-zone:\n  name: %q\n  zonefile: %q\n  for-upstream: yes\n  for-downstream: no\n  fallback-enabled: no\n",
			z.name, filepath.Join(u.dir, z.file))
	}
	return b.String()
}

// launchResolver starts unbound and waits until it answers.
func (u *Unbound) launchResolver() (*process, error) {
	p, err := startProcess("unbound", u.out, u.bin, "-d", "-c", u.conf)
	if err != nil {
		return nil, fmt.Errorf("start unbound: %w", err)
	}
	if err := waitResolver(p, u.Addr(), 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitResolver asks for test. SOA until the resolver answers NOERROR, the
// process dies, or the deadline passes.
func waitResolver(p *process, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("test.", dns.TypeSOA)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited before it answered: %v", p.name, p.err)
		}
		r, _, err := c.Exchange(m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer on %s within %v: %v", p.name, addr, within, last)
}
