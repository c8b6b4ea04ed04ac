package dns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var nat64WellKnown = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96")}

func intp(n int) *int { return &n }

// newConfig is a loaded-looking configuration: defaults applied as
// internal/config does.
func newConfig(resolvers []config.Resolver, checks []config.DNSCheck) *config.Config {
	for i := range checks {
		c := &checks[i]
		if c.Rcode == "" {
			c.Rcode = config.DefaultRcode
		}
		if c.MinAnswers == nil {
			n := 0
			if c.Rcode == config.DefaultRcode {
				n = 1
			}
			c.MinAnswers = &n
		}
	}
	return &config.Config{
		NAT64Prefixes: nat64WellKnown,
		DNS:           config.DNS{Interval: time.Minute, Timeout: time.Second, Resolvers: resolvers, Checks: checks},
	}
}

func newProber(t *testing.T, cfg *config.Config, opts Options) *Prober {
	t.Helper()
	p, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, r := range p.resolvers {
			r.close()
		}
	})
	return p
}

// probeAll runs one round of every resolver's schedule, all at once (as the
// schedules may run), and returns their status by "resolver/check".
func probeAll(t *testing.T, p *Prober) map[string]CheckStatus {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range p.schedules {
		wg.Go(func() { p.fire(context.Background(), s) })
	}
	wg.Wait()
	out := map[string]CheckStatus{}
	for _, s := range p.Status() {
		out[s.Resolver+"/"+s.Check] = s
	}
	return out
}

func expect(t *testing.T, st map[string]CheckStatus, key, result, detail string) {
	t.Helper()
	s, ok := st[key]
	if !ok {
		t.Errorf("%s: no status", key)
		return
	}
	if s.Result != result || !strings.Contains(s.Detail, detail) {
		t.Errorf("%s: result %q detail %q, want %q containing %q", key, s.Result, s.Detail, result, detail)
	}
	if s.Time.IsZero() || s.Duration <= 0 {
		t.Errorf("%s: time %v duration %v not recorded", key, s.Time, s.Duration)
	}
}

func counter(t *testing.T, p *Prober, resolver, check, result string) float64 {
	t.Helper()
	return testutil.ToFloat64(p.total.WithLabelValues(resolver, check, result))
}

func lint(t *testing.T, p *Prober) {
	t.Helper()
	problems, err := testutil.CollectAndLint(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
	}
}

func TestUnboundGood(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{Records: []string{"www 60 IN CNAME v4only"}})
	resolvers := []config.Resolver{
		{Name: "udp", Address: u.Addr(), Transport: "udp", SSID: "ietf"},
		{Name: "tcp", Address: u.Addr(), Transport: "tcp", SSID: "ietf"},
	}
	checks := []config.DNSCheck{
		{Name: "dns64", Query: "ipv4only.arpa", Type: "AAAA", DNS64: true},
		{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true},
		{Name: "own-aaaa", Query: testenv.UnboundDualStack, Type: "AAAA", NotSynthesized: true, AnswersIn: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}},
		{Name: "a", Query: testenv.UnboundV4Only, Type: "A", AnswersIn: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
			AnswersNotIn: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, AnswerMatches: `\s192\.0\.2\.10$`},
		{Name: "cname", Query: "www.test", Type: "A", AnswerMatches: `CNAME\s+v4only\.test\.`},
		{Name: "nx", Query: testenv.UnboundNXDomain, Type: "A", Rcode: "NXDOMAIN"},
		{Name: "big", Query: testenv.UnboundBig, Type: "TXT", MinAnswers: intp(24)},
		{Name: "dnssec", Query: testenv.UnboundSigned, Type: "A", AD: true, AnswersIn: []netip.Prefix{netip.MustParsePrefix("192.0.2.20/32")}},
		{Name: "dnssec-synth", Query: testenv.UnboundSigned, Type: "AAAA", DNS64: true},
	}
	p := newProber(t, newConfig(resolvers, checks), Options{})
	st := probeAll(t, p)
	if len(st) != len(resolvers)*len(checks) {
		t.Fatalf("%d statuses, want %d", len(st), len(resolvers)*len(checks))
	}
	for k, s := range st {
		expect(t, st, k, ResultOK, "")
		if counter(t, p, s.Resolver, s.Check, ResultOK) != 1 {
			t.Errorf("%s: probes_total{result=ok} != 1", k)
		}
		if s.SSID != "ietf" {
			t.Errorf("%s: ssid %q", k, s.SSID)
		}
	}
	for _, r := range []string{"udp", "tcp"} {
		if got := st[r+"/dns64"].DNS64Prefix; got != nat64WellKnown[0] {
			t.Errorf("%s: DNS64 prefix %v, want 64:ff9b::/96", r, got)
		}
	}
	if got := testutil.ToFloat64(p.fallbacks.WithLabelValues("udp")); got != 1 {
		t.Errorf("udp TCP fallbacks = %v, want 1 (big.test)", got)
	}
	if got := testutil.ToFloat64(p.fallbacks.WithLabelValues("tcp")); got != 0 {
		t.Errorf("tcp TCP fallbacks = %v, want 0", got)
	}
	want := `
# HELP meetnoc_dns64_prefix_info The DNS64 prefix a resolver synthesizes with, discovered from ipv4only.arpa (RFC 7050).
# TYPE meetnoc_dns64_prefix_info gauge
meetnoc_dns64_prefix_info{prefix="64:ff9b::/96",resolver="tcp"} 1
meetnoc_dns64_prefix_info{prefix="64:ff9b::/96",resolver="udp"} 1
# HELP meetnoc_dns64_prefix_expected Whether the DNS64 prefix a resolver synthesizes with is one of nat64_prefixes (1) or not (0): the wrong-prefix alert's exact signal.
# TYPE meetnoc_dns64_prefix_expected gauge
meetnoc_dns64_prefix_expected{prefix="64:ff9b::/96",resolver="tcp"} 1
meetnoc_dns64_prefix_expected{prefix="64:ff9b::/96",resolver="udp"} 1
# HELP meetnoc_dns_resolver_info A probed resolver: its address, transport and the SSID whose path it is probed through.
# TYPE meetnoc_dns_resolver_info gauge
meetnoc_dns_resolver_info{address="` + u.Addr() + `",resolver="tcp",ssid="ietf",transport="tcp"} 1
meetnoc_dns_resolver_info{address="` + u.Addr() + `",resolver="udp",ssid="ietf",transport="udp"} 1
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want), "meetnoc_dns64_prefix_info", "meetnoc_dns64_prefix_expected", "meetnoc_dns_resolver_info"); err != nil {
		t.Error(err)
	}
	// Every result exists from the start, at 0 until it happens.
	if n := testutil.CollectAndCount(p, "meetnoc_dns_probes_total"); n != len(resolvers)*len(checks)*len(results) {
		t.Errorf("%d probes_total series, want %d", n, len(resolvers)*len(checks)*len(results))
	}
	if n := testutil.CollectAndCount(p, "meetnoc_dns_probe_success"); n != len(resolvers)*len(checks) {
		t.Errorf("%d probe_success series, want %d", n, len(resolvers)*len(checks))
	}
	lint(t, p)

	// The second round reuses the sockets: the UDP one and the TCP connection.
	udpConn, tcpConn := currentConn(p, "udp"), currentConn(p, "tcp")
	st = probeAll(t, p)
	for k := range st {
		expect(t, st, k, ResultOK, "")
	}
	if currentConn(p, "udp") != udpConn || currentConn(p, "tcp") != tcpConn || udpConn == nil || tcpConn == nil {
		t.Error("the second round did not reuse the first round's sockets")
	}
	if got := counter(t, p, "tcp", "synth", ResultOK); got != 2 {
		t.Errorf("tcp/synth ok = %v, want 2", got)
	}
}

func TestUnboundFaults(t *testing.T) {
	good := testenv.StartUnbound(t, testenv.UnboundOptions{})
	wrongPrefix := testenv.StartUnbound(t, testenv.UnboundOptions{DNS64Prefix: "64:ff9b:1::/96"})
	noDNS64 := testenv.StartUnbound(t, testenv.UnboundOptions{NoDNS64: true})
	resolvers := []config.Resolver{
		{Name: "good", Address: good.Addr()},
		{Name: "wrong-prefix", Address: wrongPrefix.Addr()},
		{Name: "no-dns64", Address: noDNS64.Addr(), Transport: "tcp"},
	}
	checks := []config.DNSCheck{
		{Name: "servfail", Query: testenv.UnboundServfail, Type: "A"},
		{Name: "nxdomain", Query: testenv.UnboundNXDomain, Type: "A"},
		{Name: "dns64", Query: "ipv4only.arpa", Type: "AAAA", DNS64: true, Resolvers: []string{"wrong-prefix", "no-dns64"}},
		{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true, Resolvers: []string{"wrong-prefix", "no-dns64"}},
		{Name: "dual-dns64", Query: testenv.UnboundDualStack, Type: "AAAA", DNS64: true, Resolvers: []string{"good"}},
		{Name: "v4-not-synth", Query: testenv.UnboundV4Only, Type: "AAAA", NotSynthesized: true, MinAnswers: intp(0), Resolvers: []string{"good"}},
		{Name: "not-in", Query: testenv.UnboundV4Only, Type: "A", AnswersNotIn: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Resolvers: []string{"good"}},
		{Name: "in", Query: testenv.UnboundV4Only, Type: "A", AnswersIn: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, Resolvers: []string{"good"}},
		{Name: "pattern", Query: testenv.UnboundV4Only, Type: "A", AnswerMatches: `192\.0\.2\.99`, Resolvers: []string{"good"}},
		{Name: "count", Query: "ipv4only.arpa", Type: "A", MinAnswers: intp(3), Resolvers: []string{"good"}},
		{Name: "ad", Query: testenv.UnboundV4Only, Type: "A", AD: true, Resolvers: []string{"good"}},
	}
	p := newProber(t, newConfig(resolvers, checks), Options{})
	st := probeAll(t, p)
	expect(t, st, "good/servfail", ResultRcode, "rcode SERVFAIL, want NOERROR")
	expect(t, st, "good/nxdomain", ResultRcode, "rcode NXDOMAIN, want NOERROR")
	expect(t, st, "no-dns64/servfail", ResultRcode, "rcode SERVFAIL, want NOERROR")
	expect(t, st, "wrong-prefix/dns64", ResultValidation, "DNS64 prefix 64:ff9b:1::/96 not in nat64_prefixes")
	expect(t, st, "wrong-prefix/synth", ResultValidation, "AAAA 64:ff9b:1::c000:20a not in nat64_prefixes")
	expect(t, st, "no-dns64/dns64", ResultValidation, "0 AAAA answers, want at least 1")
	expect(t, st, "no-dns64/synth", ResultValidation, "0 AAAA answers, want at least 1")
	expect(t, st, "good/dual-dns64", ResultValidation, "AAAA 2001:db8::11 not in nat64_prefixes")
	expect(t, st, "good/v4-not-synth", ResultValidation, "AAAA 64:ff9b::c000:20a synthesized in 64:ff9b::/96")
	expect(t, st, "good/not-in", ResultValidation, "A 192.0.2.10 in answers_not_in 192.0.2.0/24")
	expect(t, st, "good/in", ResultValidation, "A 192.0.2.10 not in answers_in")
	expect(t, st, "good/pattern", ResultValidation, `no answer matches "192\\.0\\.2\\.99"`)
	expect(t, st, "good/count", ResultValidation, "2 A answers, want at least 3")
	// test. is not signed (only signed.test. is), so the validating unbound
	// sets no AD bit.
	expect(t, st, "good/ad", ResultValidation, "AD bit not set")

	if got := counter(t, p, "good", "servfail", ResultRcode); got != 1 {
		t.Errorf("good/servfail rcode count = %v", got)
	}
	if got := counter(t, p, "good", "servfail", ResultOK); got != 0 {
		t.Errorf("good/servfail ok count = %v", got)
	}
	// The wrong prefix is still exported, so that the NOC sees which one it is.
	want := `
# HELP meetnoc_dns64_prefix_info The DNS64 prefix a resolver synthesizes with, discovered from ipv4only.arpa (RFC 7050).
# TYPE meetnoc_dns64_prefix_info gauge
meetnoc_dns64_prefix_info{prefix="64:ff9b:1::/96",resolver="wrong-prefix"} 1
# HELP meetnoc_dns64_prefix_expected Whether the DNS64 prefix a resolver synthesizes with is one of nat64_prefixes (1) or not (0): the wrong-prefix alert's exact signal.
# TYPE meetnoc_dns64_prefix_expected gauge
meetnoc_dns64_prefix_expected{prefix="64:ff9b:1::/96",resolver="wrong-prefix"} 0
# HELP meetnoc_dns_probe_success Whether the last DNS probe of a check against a resolver succeeded.
# TYPE meetnoc_dns_probe_success gauge
meetnoc_dns_probe_success{check="ad",resolver="good"} 0
meetnoc_dns_probe_success{check="count",resolver="good"} 0
meetnoc_dns_probe_success{check="dns64",resolver="no-dns64"} 0
meetnoc_dns_probe_success{check="dns64",resolver="wrong-prefix"} 0
meetnoc_dns_probe_success{check="dual-dns64",resolver="good"} 0
meetnoc_dns_probe_success{check="in",resolver="good"} 0
meetnoc_dns_probe_success{check="not-in",resolver="good"} 0
meetnoc_dns_probe_success{check="nxdomain",resolver="good"} 0
meetnoc_dns_probe_success{check="nxdomain",resolver="no-dns64"} 0
meetnoc_dns_probe_success{check="nxdomain",resolver="wrong-prefix"} 0
meetnoc_dns_probe_success{check="pattern",resolver="good"} 0
meetnoc_dns_probe_success{check="servfail",resolver="good"} 0
meetnoc_dns_probe_success{check="servfail",resolver="no-dns64"} 0
meetnoc_dns_probe_success{check="servfail",resolver="wrong-prefix"} 0
meetnoc_dns_probe_success{check="synth",resolver="no-dns64"} 0
meetnoc_dns_probe_success{check="synth",resolver="wrong-prefix"} 0
meetnoc_dns_probe_success{check="v4-not-synth",resolver="good"} 0
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want), "meetnoc_dns64_prefix_info", "meetnoc_dns64_prefix_expected", "meetnoc_dns_probe_success"); err != nil {
		t.Error(err)
	}
	lint(t, p)
}

func TestResolverDownAndBack(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	resolvers := []config.Resolver{
		{Name: "udp", Address: u.Addr(), Transport: "udp"},
		{Name: "tcp", Address: u.Addr(), Transport: "tcp"},
	}
	checks := []config.DNSCheck{{Name: "a", Query: testenv.UnboundV4Only, Type: "A"}}
	cfg := newConfig(resolvers, checks)
	cfg.DNS.Timeout = 500 * time.Millisecond
	p := newProber(t, cfg, Options{})
	st := probeAll(t, p)
	expect(t, st, "udp/a", ResultOK, "")
	expect(t, st, "tcp/a", ResultOK, "")

	u.Stop()
	st = probeAll(t, p)
	// Nothing listens: the kernel says so at once, on UDP by ICMP.
	expect(t, st, "udp/a", ResultNetwork, "connection refused")
	expect(t, st, "tcp/a", ResultNetwork, "")
	if st["udp/a"].Duration > 400*time.Millisecond {
		t.Errorf("a refused UDP probe took %v, as long as a timeout", st["udp/a"].Duration)
	}
	if err := u.Restart(); err != nil {
		t.Fatal(err)
	}
	st = probeAll(t, p)
	expect(t, st, "udp/a", ResultOK, "")
	expect(t, st, "tcp/a", ResultOK, "")
	if got := counter(t, p, "tcp", "a", ResultNetwork); got != 1 {
		t.Errorf("tcp network failures = %v, want 1", got)
	}
}

// delayServer answers every query after delay by asking upstream: a slow
// resolver.
func delayServer(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &dns.Client{Timeout: 2 * time.Second}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		time.Sleep(delay)
		resp, _, err := client.Exchange(r, upstream)
		if err != nil {
			resp = new(dns.Msg)
			resp.SetRcode(r, dns.RcodeServerFailure)
		}
		w.WriteMsg(resp)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestSlowResolver(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	slow := delayServer(t, u.Addr(), 400*time.Millisecond)
	lagging := delayServer(t, u.Addr(), 50*time.Millisecond)
	cfg := newConfig([]config.Resolver{{Name: "slow", Address: slow}, {Name: "lagging", Address: lagging}},
		[]config.DNSCheck{{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true}})
	cfg.DNS.Timeout = 200 * time.Millisecond
	p := newProber(t, cfg, Options{})
	st := probeAll(t, p)
	expect(t, st, "slow/synth", ResultTimeout, "no answer within 200ms")
	expect(t, st, "lagging/synth", ResultOK, "")
	if d := st["lagging/synth"].Duration; d < 50*time.Millisecond {
		t.Errorf("lagging duration %v, want at least the 50ms delay", d)
	}
	// The late answer to the timed-out query must not be taken for the next one.
	waitFor(t, func() bool { return testutil.ToFloat64(p.mismatched.WithLabelValues("slow")) == 1 })
	if got := counter(t, p, "slow", "synth", ResultTimeout); got != 1 {
		t.Errorf("slow timeouts = %v", got)
	}
	lint(t, p)
}

// fakeServer answers each UDP query with what reply returns (nil: silence).
func fakeServer(t *testing.T, reply func(q *dns.Msg, raw []byte) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			for _, b := range reply(q, buf[:n]) {
				pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func answerFor(q *dns.Msg, rrs ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func pack(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

func TestMismatchedAndGarbageAnswers(t *testing.T) {
	good := func(q *dns.Msg) []byte { return pack(answerFor(q, "v4only.test. 60 IN A 192.0.2.10")) }
	wrongID := func(q *dns.Msg) []byte { m := answerFor(q, "v4only.test. 60 IN A 192.0.2.66"); m.Id++; return pack(m) }
	wrongQuestion := func(q *dns.Msg) []byte {
		m := answerFor(q, "evil.test. 60 IN A 192.0.2.66")
		m.Question[0].Name = "evil.test."
		return pack(m)
	}
	servers := map[string]func(q *dns.Msg, raw []byte) [][]byte{
		// Stray packets first, then the real answer: the real one wins.
		"noisy": func(q *dns.Msg, raw []byte) [][]byte {
			return [][]byte{[]byte("garbage"), wrongID(q), wrongQuestion(q), good(q)}
		},
		"wrong-question": func(q *dns.Msg, raw []byte) [][]byte { return [][]byte{wrongQuestion(q)} },
		"wrong-id":       func(q *dns.Msg, raw []byte) [][]byte { return [][]byte{wrongID(q)} },
		// The right header and question, then nonsense.
		"truncated-msg": func(q *dns.Msg, raw []byte) [][]byte { b := good(q); return [][]byte{b[:len(b)-3]} },
		"trailing-junk": func(q *dns.Msg, raw []byte) [][]byte {
			b := good(q)
			b[7] = 9 // ANCOUNT 9, one present
			return [][]byte{b}
		},
		"echo": func(q *dns.Msg, raw []byte) [][]byte { return [][]byte{append([]byte(nil), raw...)} },
		"ad": func(q *dns.Msg, raw []byte) [][]byte {
			m := answerFor(q, "v4only.test. 60 IN A 192.0.2.10")
			m.AuthenticatedData = q.AuthenticatedData && q.IsEdns0() != nil && q.IsEdns0().Do()
			return [][]byte{pack(m)}
		},
	}
	var resolvers []config.Resolver
	for name, reply := range servers {
		resolvers = append(resolvers, config.Resolver{Name: name, Address: fakeServer(t, reply)})
	}
	cfg := newConfig(resolvers, []config.DNSCheck{{Name: "a", Query: "v4only.test", Type: "A", AD: true, AnswersIn: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}}})
	cfg.DNS.Timeout = 300 * time.Millisecond
	p := newProber(t, cfg, Options{})
	st := probeAll(t, p)
	expect(t, st, "ad/a", ResultOK, "")
	// Only the AD server sets AD; for the others the check fails on AD after
	// the answer is accepted, which proves it was accepted.
	expect(t, st, "noisy/a", ResultValidation, "AD bit not set")
	expect(t, st, "wrong-question/a", ResultNetwork, "no matching answer within 300ms; 1 mismatched answer(s) dropped, last: answer's question is not the question asked")
	expect(t, st, "wrong-id/a", ResultTimeout, "no answer within 300ms")
	expect(t, st, "truncated-msg/a", ResultNetwork, "malformed answer")
	expect(t, st, "trailing-junk/a", ResultNetwork, "malformed answer")
	expect(t, st, "echo/a", ResultNetwork, "QR bit not set")
	if got := testutil.ToFloat64(p.mismatched.WithLabelValues("noisy")); got != 3 {
		t.Errorf("noisy: %v mismatched answers counted, want 3", got)
	}
	lint(t, p)
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "dot.test"},
		DNSNames:     []string{"dot.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestDNSOverTLS(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	client := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	srv := &dns.Server{Listener: l, Net: "tcp-tls", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		resp, _, err := client.Exchange(r, u.Addr())
		if err != nil {
			resp = new(dns.Msg)
			resp.SetRcode(r, dns.RcodeServerFailure)
		}
		w.WriteMsg(resp)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })

	cfg := newConfig([]config.Resolver{
		{Name: "dot", Address: l.Addr().String(), Transport: "tls", TLSServerName: "dot.test"},
		{Name: "dot-wrong-name", Address: l.Addr().String(), Transport: "tls", TLSServerName: "other.test"},
	}, []config.DNSCheck{
		{Name: "dns64", Query: "ipv4only.arpa", Type: "AAAA", DNS64: true},
		{Name: "big", Query: testenv.UnboundBig, Type: "TXT", MinAnswers: intp(24)},
	})
	p := newProber(t, cfg, Options{TLSRootCAs: pool})
	st := probeAll(t, p)
	expect(t, st, "dot/dns64", ResultOK, "")
	expect(t, st, "dot/big", ResultOK, "")
	expect(t, st, "dot-wrong-name/dns64", ResultNetwork, "certificate")
	if st["dot/dns64"].DNS64Prefix != nat64WellKnown[0] {
		t.Errorf("DoT DNS64 prefix %v", st["dot/dns64"].DNS64Prefix)
	}
	lint(t, p)
}

func TestRunSchedulesAndApply(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	cfg := newConfig([]config.Resolver{{Name: "r", Address: u.Addr()}}, []config.DNSCheck{
		{Name: "a", Query: testenv.UnboundV4Only, Type: "A"},
		{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true},
	})
	cfg.DNS.Interval = 200 * time.Millisecond
	p := newProber(t, cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	waitFor(t, func() bool {
		return counter(t, p, "r", "a", ResultOK) >= 2 && counter(t, p, "r", "synth", ResultOK) >= 2
	})
	conn := currentConn(p, "r")

	// A reload that drops one check and adds another keeps the resolver's
	// socket and the unchanged check's counts.
	cfg2 := newConfig([]config.Resolver{{Name: "r", Address: u.Addr()}}, []config.DNSCheck{
		{Name: "a", Query: testenv.UnboundV4Only, Type: "A"},
		{Name: "nx", Query: testenv.UnboundNXDomain, Type: "A", Rcode: "NXDOMAIN"},
	})
	cfg2.DNS.Interval = 200 * time.Millisecond
	before := counter(t, p, "r", "a", ResultOK)
	if err := p.Apply(cfg2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return counter(t, p, "r", "nx", ResultOK) >= 1 })
	if got := counter(t, p, "r", "a", ResultOK); got < before {
		t.Errorf("check a's count went from %v to %v across the reload", before, got)
	}
	if currentConn(p, "r") != conn {
		t.Error("the reload replaced an unchanged resolver's socket")
	}
	if n := testutil.CollectAndCount(p, "meetnoc_dns_probes_total"); n != 2*len(results) {
		t.Errorf("%d probes_total series after the reload, want %d (the dropped check's removed)", n, 2*len(results))
	}
	var names []string
	for _, s := range p.Status() {
		names = append(names, s.Check)
	}
	if strings.Join(names, ",") != "a,nx" {
		t.Errorf("status after reload lists %v", names)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestOneGoroutinePerResolver: a resolver's checks run from one goroutine on
// one ticker, not one goroutine per check.
func TestOneGoroutinePerResolver(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	const nResolvers, nChecks = 3, 20
	var resolvers []config.Resolver
	for i := range nResolvers {
		resolvers = append(resolvers, config.Resolver{Name: fmt.Sprintf("r%d", i), Address: u.Addr()})
	}
	var checks []config.DNSCheck
	for i := range nChecks {
		checks = append(checks, config.DNSCheck{Name: fmt.Sprintf("c%d", i), Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true})
	}
	cfg := newConfig(resolvers, checks)
	cfg.DNS.Interval = 100 * time.Millisecond
	p := newProber(t, cfg, Options{})
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, func() bool {
		for _, s := range p.Status() {
			if s.Result != ResultOK {
				return false
			}
		}
		return true
	})
	// Per resolver: its schedule and its socket's reader; and Run itself.
	if n := runtime.NumGoroutine() - before; n > 2*nResolvers+1 {
		t.Errorf("%d goroutines for %d resolvers × %d checks, want at most %d", n, nResolvers, nChecks, 2*nResolvers+1)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSlowCheckHoldsBackNoOther: the checks of one resolver go out together,
// but each gets its verdict as soon as its answer is in (or its own timeout
// passes), not when the slowest of the round is done.
func TestSlowCheckHoldsBackNoOther(t *testing.T) {
	addr := fakeServer(t, func(q *dns.Msg, raw []byte) [][]byte {
		switch q.Question[0].Name {
		case "slow.test.":
			return nil // never answered
		case "servfail.test.":
			m := answerFor(q)
			m.Rcode = dns.RcodeServerFailure
			return [][]byte{pack(m)}
		}
		return [][]byte{pack(answerFor(q, q.Question[0].Name+" 60 IN A 192.0.2.10"))}
	})
	cfg := newConfig([]config.Resolver{{Name: "r", Address: addr}}, []config.DNSCheck{
		{Name: "slow", Query: "slow.test", Type: "A"},
		{Name: "fast", Query: "fast.test", Type: "A"},
		{Name: "servfail", Query: "servfail.test", Type: "A"},
		{Name: "fast2", Query: "fast2.test", Type: "A"},
	})
	cfg.DNS.Timeout = 600 * time.Millisecond
	p := newProber(t, cfg, Options{})
	fired := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(fired)
		p.fire(context.Background(), p.schedules[0])
	}()
	waitFor(t, func() bool {
		st := map[string]string{}
		for _, s := range p.Status() {
			st[s.Check] = s.Result
		}
		return st["fast"] == ResultOK && st["fast2"] == ResultOK && st["servfail"] == ResultRcode
	})
	if waited := time.Since(start); waited > 400*time.Millisecond {
		t.Errorf("the fast checks' verdicts took %v, held back by the slow check", waited)
	}
	select {
	case <-fired:
		t.Fatal("the round ended before the slow check's timeout")
	default:
	}
	<-fired
	st := map[string]CheckStatus{}
	for _, s := range p.Status() {
		st["r/"+s.Check] = s
	}
	expect(t, st, "r/slow", ResultTimeout, "no answer within 600ms")
	expect(t, st, "r/fast", ResultOK, "")
	expect(t, st, "r/servfail", ResultRcode, "rcode SERVFAIL")
	if d := st["r/slow"].Duration; d < 600*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("slow check's duration %v, want its 600ms timeout", d)
	}
	if d := st["r/fast"].Duration; d > 300*time.Millisecond {
		t.Errorf("fast check's duration %v", d)
	}
}

// currentConn is a resolver's open socket, read under the locks a running
// Prober uses.
func currentConn(p *Prober, resolver string) net.Conn {
	p.mu.Lock()
	tr := p.resolvers[resolver].main
	p.mu.Unlock()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.conn
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDiscoverPrefix(t *testing.T) {
	for _, tc := range []struct {
		aaaas []string
		want  string // "" for none
	}{
		{[]string{"64:ff9b::c000:aa", "64:ff9b::c000:ab"}, "64:ff9b::/96"},
		{[]string{"64:ff9b:1::c000:aa"}, "64:ff9b:1::/96"},
		{[]string{"2001:db8:1:2:3:4:c000:ab"}, "2001:db8:1:2:3:4::/96"},
		// /64: the IPv4 address in bits 72–103, byte 8 zero.
		{[]string{"2001:db8:1:2:c0:0:aa00:0"}, "2001:db8:1:2::/64"},
		// /56: first octet in byte 7, the rest after the u octet.
		{[]string{"2001:db8:100:c0:0:aa:0:0"}, "2001:db8:100::/56"},
		{[]string{"2001:db8:122:c000:0:aa00::"}, "2001:db8:122::/48"},
		{[]string{"2001:db8:c0:0:aa::"}, "2001:db8::/40"},
		{[]string{"2001:db8:c000:aa::", "2001:db8:c000:ab::"}, "2001:db8::/32"},
		// The u octet (bits 64–71) is not zero: not a valid /32 embedding.
		{[]string{"2001:db8:c000:aa:ff00::"}, ""},
		{[]string{"2001:db8::11"}, ""},
		{[]string{"::ffff:192.0.0.170"}, ""},
		// 192.0.0.170 both at /32 and at /96: the longer prefix wins a tie.
		{[]string{"2001:db8:c000:aa::c000:aa"}, "2001:db8:c000:aa::/96"},
		// Two answers that agree only at /32 (the /96 prefixes differ).
		{[]string{"2001:db8:c000:aa:0:1:c000:aa", "2001:db8:c000:aa:0:2:c000:ab"}, "2001:db8::/32"},
	} {
		var addrs []netip.Addr
		for _, s := range tc.aaaas {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		got, ok := discoverPrefix(addrs)
		if tc.want == "" {
			if ok {
				t.Errorf("%v: found %v, want none", tc.aaaas, got)
			}
			continue
		}
		if !ok || got != netip.MustParsePrefix(tc.want) {
			t.Errorf("%v: %v (%v), want %s", tc.aaaas, got, ok, tc.want)
		}
	}
	// Every RFC 6052 length round-trips: embed, then discover.
	for _, length := range prefixLengths {
		prefix := netip.PrefixFrom(netip.MustParseAddr("2001:db8:aaaa:bbbb:cccc::"), length).Masked()
		got, ok := discoverPrefix([]netip.Addr{embed(prefix, wka170), embed(prefix, wka171)})
		if !ok || got != prefix {
			t.Errorf("/%d: discovered %v (%v), want %v", length, got, ok, prefix)
		}
	}
}

// embed builds an IPv4-embedded IPv6 address (RFC 6052 §2.2).
func embed(p netip.Prefix, v4 [4]byte) netip.Addr {
	a := p.Addr().As16()
	pos := p.Bits() / 8
	for _, b := range v4 {
		if pos == 8 {
			pos++ // skip the u octet
		}
		a[pos] = b
		pos++
	}
	return netip.AddrFrom16(a)
}

func TestSourceAddressAndInterface(t *testing.T) {
	u := testenv.StartUnbound(t, testenv.UnboundOptions{})
	cfg := newConfig([]config.Resolver{
		{Name: "from-127.0.0.2", Address: u.Addr(), SourceAddress: netip.MustParseAddr("127.0.0.2")},
		{Name: "tcp-from-127.0.0.3", Address: u.Addr(), Transport: "tcp", SourceAddress: netip.MustParseAddr("127.0.0.3")},
		{Name: "via-lo", Address: u.Addr(), Interface: "lo"},
		{Name: "via-missing", Address: u.Addr(), Interface: "nosuchif0"},
	}, []config.DNSCheck{{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true}})
	p := newProber(t, cfg, Options{})
	st := probeAll(t, p)
	expect(t, st, "from-127.0.0.2/synth", ResultOK, "")
	expect(t, st, "tcp-from-127.0.0.3/synth", ResultOK, "")
	expect(t, st, "via-missing/synth", ResultNetwork, "bind to interface nosuchif0")
	if got := currentConn(p, "from-127.0.0.2").LocalAddr().(*net.UDPAddr).IP.String(); got != "127.0.0.2" {
		t.Errorf("UDP probe left from %s, want 127.0.0.2", got)
	}
	if got := currentConn(p, "tcp-from-127.0.0.3").LocalAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("TCP probe left from %s, want 127.0.0.3", got)
	}
	// Binding to a device needs CAP_NET_RAW on older kernels; CI runs as root.
	if s := st["via-lo/synth"]; s.Result != ResultOK && !(strings.Contains(s.Detail, "operation not permitted") && !testenv.InCI()) {
		t.Errorf("via-lo: %s %s", s.Result, s.Detail)
	}
}

// BenchmarkProbe is one round of a resolver's schedule with one DNS64 check
// against unbound per iteration, over each transport: the daemon's cost per
// probe (unbound's share runs in its own process).
func BenchmarkProbe(b *testing.B) {
	u := testenv.StartUnbound(b, testenv.UnboundOptions{})
	for _, transport := range []string{"udp", "tcp"} {
		b.Run(transport, func(b *testing.B) {
			cfg := newConfig([]config.Resolver{{Name: "r", Address: u.Addr(), Transport: transport}},
				[]config.DNSCheck{{Name: "synth", Query: testenv.UnboundV4Only, Type: "AAAA", DNS64: true}})
			p, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer p.resolvers["r"].close()
			s, pr := p.schedules[0], p.probes[0]
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p.fire(ctx, s)
			}
			if pr.last.Result != ResultOK {
				b.Fatalf("last probe: %s %s", pr.last.Result, pr.last.Detail)
			}
		})
	}
}

// TestFirstFire: probes started at any time fire at the same phase of the wall
// clock, so that one resolver's checks leave together.
func TestFirstFire(t *testing.T) {
	base := time.Unix(1_800_000_000, 0) // a multiple of 10 s
	for _, c := range []struct {
		now         time.Time
		phase, wait time.Duration
	}{
		{base, 0, 0},
		{base.Add(3 * time.Second), 0, 7 * time.Second},
		{base.Add(3 * time.Second), 5 * time.Second, 2 * time.Second},
		{base.Add(6 * time.Second), 5 * time.Second, 9 * time.Second},
		{base.Add(5 * time.Second), 5 * time.Second, 0},
	} {
		if got := firstFire(c.now, 10*time.Second, c.phase); got != c.wait {
			t.Errorf("firstFire(+%s, 10s, phase %s) = %s, want %s", c.now.Sub(base), c.phase, got, c.wait)
		}
	}
}
