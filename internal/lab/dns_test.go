package lab

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meetnoc/meetnoc/internal/config"
	probedns "github.com/meetnoc/meetnoc/probes/dns"
)

// dnsQuery asks the lab's resolver over network (udp or tcp) as a stub
// resolver does: recursion desired, EDNS0.
func dnsQuery(t *testing.T, n *Network, network, name string, qtype uint16, timeout time.Duration) (*dns.Msg, time.Duration, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	c := &dns.Client{Net: network, Timeout: timeout}
	return c.Exchange(q, n.DNSResolver())
}

// rrStrings is rrs in zone-file form, as miekg/dns prints them.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

// zoneStrings parses zone-file lines and prints them as miekg/dns does, so that
// wanted records compare exactly with rrStrings.
func zoneStrings(t *testing.T, lines ...string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, rr.String())
	}
	return out
}

// dnsAnswer is what a query should get.
type dnsAnswer struct {
	rcode  int
	answer []string // zone-file lines
	ns     []string
}

func checkAnswer(t *testing.T, what string, m *dns.Msg, want dnsAnswer) {
	t.Helper()
	if m.Rcode != want.rcode {
		t.Errorf("%s: rcode %s, want %s", what, dns.RcodeToString[m.Rcode], dns.RcodeToString[want.rcode])
	}
	if !m.Response || !m.RecursionAvailable || !m.RecursionDesired || m.Authoritative || m.Truncated {
		t.Errorf("%s: flags QR %v RA %v RD %v AA %v TC %v, want a recursive resolver's QR RA RD", what,
			m.Response, m.RecursionAvailable, m.RecursionDesired, m.Authoritative, m.Truncated)
	}
	if opt := m.IsEdns0(); opt == nil || opt.UDPSize() != dnsEDNSSize {
		t.Errorf("%s: EDNS0 %v, want a %d-byte buffer", what, opt, dnsEDNSSize)
	}
	if got, w := rrStrings(m.Answer), zoneStrings(t, want.answer...); !slices.Equal(got, w) {
		t.Errorf("%s: answer\n%q\nwant\n%q", what, got, w)
	}
	if got, w := rrStrings(m.Ns), zoneStrings(t, want.ns...); !slices.Equal(got, w) {
		t.Errorf("%s: authority\n%q\nwant\n%q", what, got, w)
	}
}

const (
	meetingSOA  = "meeting.test. 60 IN SOA ns.meeting.test. noc.meeting.test. 2026112201 3600 600 86400 60"
	ipv4onlySOA = "ipv4only.arpa. 60 IN SOA ipv4only.arpa. nobody.invalid. 1 3600 600 86400 60"
)

// healthyAnswers are the resolver's answers with no fault.
var healthyAnswers = []struct {
	name  string
	qtype uint16
	want  dnsAnswer
}{
	// RFC 7050: both well-known addresses, and their synthesis in the
	// network's /96, with the zone's negative TTL.
	{"ipv4only.arpa.", dns.TypeA, dnsAnswer{answer: []string{
		"ipv4only.arpa. 3600 IN A 192.0.0.170", "ipv4only.arpa. 3600 IN A 192.0.0.171"}}},
	{"ipv4only.arpa.", dns.TypeAAAA, dnsAnswer{answer: []string{
		"ipv4only.arpa. 60 IN AAAA 64:ff9b::c000:aa", "ipv4only.arpa. 60 IN AAAA 64:ff9b::c000:ab"}}},
	// Dual-stack: its own AAAA, never a synthesized one.
	{"www.meeting.test.", dns.TypeA, dnsAnswer{answer: []string{"www.meeting.test. 300 IN A 192.0.2.80"}}},
	{"www.meeting.test.", dns.TypeAAAA, dnsAnswer{answer: []string{"www.meeting.test. 300 IN AAAA 2001:db8:53::80"}}},
	// IPv4-only: 198.51.100.44 behind 64:ff9b::/96.
	{"v4only.meeting.test.", dns.TypeA, dnsAnswer{answer: []string{"v4only.meeting.test. 300 IN A 198.51.100.44"}}},
	{"v4only.meeting.test.", dns.TypeAAAA, dnsAnswer{answer: []string{"v4only.meeting.test. 60 IN AAAA 64:ff9b::c633:642c"}}},
	// The owner comes back in the case it was asked in.
	{"WWW.Meeting.TEST.", dns.TypeA, dnsAnswer{answer: []string{"WWW.Meeting.TEST. 300 IN A 192.0.2.80"}}},
	{"meeting.test.", dns.TypeNS, dnsAnswer{answer: []string{"meeting.test. 3600 IN NS ns.meeting.test."}}},
	// NODATA and NXDOMAIN carry the zone's SOA (RFC 2308).
	{"www.meeting.test.", dns.TypeMX, dnsAnswer{ns: []string{meetingSOA}}},
	{"ipv4only.arpa.", dns.TypeTXT, dnsAnswer{ns: []string{ipv4onlySOA}}},
	{"no-such-name.meeting.test.", dns.TypeA, dnsAnswer{rcode: dns.RcodeNameError, ns: []string{meetingSOA}}},
	{"no-such-name.meeting.test.", dns.TypeAAAA, dnsAnswer{rcode: dns.RcodeNameError, ns: []string{meetingSOA}}},
	// The lab is offline: nothing outside its zones.
	{"example.com.", dns.TypeA, dnsAnswer{rcode: dns.RcodeNameError}},
}

// TestDNSResolverHealthy: at 10:00, a healthy minute, every answer over UDP
// and TCP is exactly the zone's, with DNS64 synthesis where a name has no AAAA.
func TestDNSResolverHealthy(t *testing.T) {
	t.Parallel()
	clock := newTestClock(at("10:00"))
	n := startLab(t, Options{Now: clock.Now})
	if f := n.DNSFault(); f != DNSHealthy {
		t.Fatalf("fault at 10:00 is %s, want healthy", f)
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, c := range healthyAnswers {
			m, _, err := dnsQuery(t, n, network, c.name, c.qtype, 2*time.Second)
			if err != nil {
				t.Errorf("%s %s %s: %v", network, c.name, dns.TypeToString[c.qtype], err)
				continue
			}
			checkAnswer(t, network+" "+c.name+" "+dns.TypeToString[c.qtype], m, c.want)
		}
	}
}

// TestDNSResolverQueries: queries a resolver refuses or cannot parse get the
// rcode that says so, not silence.
func TestDNSResolverQueries(t *testing.T) {
	t.Parallel()
	n := startLab(t, Options{Now: newTestClock(at("10:00")).Now})
	c := &dns.Client{Timeout: 2 * time.Second}

	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	notify := new(dns.Msg)
	notify.SetNotify("meeting.test.")
	edns1 := new(dns.Msg)
	edns1.SetQuestion("www.meeting.test.", dns.TypeA)
	edns1.SetEdns0(1232, false)
	edns1.IsEdns0().SetVersion(1)
	plain := new(dns.Msg) // no EDNS0: no OPT in the answer either
	plain.SetQuestion("v4only.meeting.test.", dns.TypeAAAA)

	for _, tc := range []struct {
		what  string
		q     *dns.Msg
		rcode int
	}{
		{"CHAOS class", chaos, dns.RcodeRefused},
		{"NOTIFY", notify, dns.RcodeNotImplemented},
		{"EDNS version 1", edns1, dns.RcodeBadVers},
		{"no EDNS0", plain, dns.RcodeSuccess},
	} {
		m, _, err := c.Exchange(tc.q, n.DNSResolver())
		if err != nil {
			t.Errorf("%s: %v", tc.what, err)
			continue
		}
		if m.Rcode != tc.rcode {
			t.Errorf("%s: rcode %s, want %s", tc.what, dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
		}
		if tc.q == plain && (m.IsEdns0() != nil || len(m.Answer) != 1) {
			t.Errorf("%s: OPT %v, answer %v; want no OPT and the synthesized AAAA", tc.what, m.IsEdns0(), m.Answer)
		}
	}
}

// TestDNSFaultSchedule: every minute of a day, the fault is the schedule's
// (venue time), never in the windows tests run in, never with the AP outage
// or the rogue RAs.
func TestDNSFaultSchedule(t *testing.T) {
	t.Parallel()
	want := map[int]DNSFault{15: DNSSlow, 20: DNSServfail, 45: DNSNoSynthesis, 50: DNSWrongPrefix}
	faulty := 0
	for ms := int64(0); ms < dayMillis; ms += int64(30 * time.Second / time.Millisecond) {
		minute := int(ms / int64(time.Minute/time.Millisecond) % 60)
		f := scheduledDNSFault(ms)
		w, ok := want[minute]
		if !ok {
			w = DNSHealthy
		}
		if f != w {
			t.Fatalf("fault at %s is %s, want %s", time.Duration(ms)*time.Millisecond, f, w)
		}
		if f == DNSHealthy {
			continue
		}
		faulty++
		if apOutage.active(ms) || rogueWindow.active(ms) {
			t.Errorf("%s at %s collides with the AP outage or the rogue RAs", f, time.Duration(ms)*time.Millisecond)
		}
	}
	if faulty != 24*4*2 {
		t.Errorf("%d faulty half minutes a day, want %d", faulty, 24*4*2)
	}
	for _, w := range []struct{ from, to string }{{"10:00", "10:14:59"}, {"13:30", "13:44:59"}} {
		for tm := at(w.from); !tm.After(at(w.to)); tm = tm.Add(time.Second) {
			if f := scheduledDNSFault(NewDay(0).venueMillis(tm)); f != DNSHealthy {
				t.Fatalf("fault at %s is %s: the tests' window %s–%s must be healthy", tm.Format("15:04:05"), f, w.from, w.to)
			}
		}
	}
	// In a venue east of UTC the schedule follows venue time: :50 there.
	tokyo := time.FixedZone("JST", 9*3600)
	if f := scheduledDNSFault(NewDay(9 * time.Hour).venueMillis(time.Date(2026, 3, 16, 13, 50, 30, 0, tokyo))); f != DNSWrongPrefix {
		t.Errorf("fault at 13:50:30 JST is %s, want wrong-prefix", f)
	}
}

// TestDNSFaults drives the lab clock through each fault minute and asks the
// resolver what a DNS64 client asks.
func TestDNSFaults(t *testing.T) {
	t.Parallel()
	clock := newTestClock(at("10:00"))
	n := startLab(t, Options{Now: clock.Now})
	ask := func(network, name string, qtype uint16, timeout time.Duration) *dns.Msg {
		t.Helper()
		m, _, err := dnsQuery(t, n, network, name, qtype, timeout)
		if err != nil {
			t.Fatalf("%s at %s: %s %s: %v", n.DNSFault(), clock.Now().Format("15:04"), name, dns.TypeToString[qtype], err)
		}
		return m
	}

	t.Run("slow", func(t *testing.T) {
		clock.Set(at("10:15:30"))
		if f := n.DNSFault(); f != DNSSlow {
			t.Fatalf("fault at 10:15:30 is %s, want slow", f)
		}
		// Within the lab config's 1 s timeout: nothing.
		_, _, err := dnsQuery(t, n, "udp", "www.meeting.test.", dns.TypeA, time.Second)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("a 1 s query at 10:15:30 got %v, want a timeout", err)
		}
		// A patient client gets the right answer, 1.5 s late, on UDP and TCP.
		for _, network := range []string{"udp", "tcp"} {
			m, rtt, err := dnsQuery(t, n, network, "v4only.meeting.test.", dns.TypeAAAA, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", network, err)
			}
			if rtt < dnsSlowDelay {
				t.Errorf("%s: answered in %s, want at least %s", network, rtt, dnsSlowDelay)
			}
			checkAnswer(t, network+" slow v4only AAAA", m, dnsAnswer{answer: []string{"v4only.meeting.test. 60 IN AAAA 64:ff9b::c633:642c"}})
		}
	})

	t.Run("servfail", func(t *testing.T) {
		clock.Set(at("10:20"))
		for _, network := range []string{"udp", "tcp"} {
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"www.meeting.test.", dns.TypeA}, {"ipv4only.arpa.", dns.TypeAAAA}, {"no-such-name.meeting.test.", dns.TypeA}} {
				checkAnswer(t, network+" servfail "+q.name, ask(network, q.name, q.qtype, 2*time.Second), dnsAnswer{rcode: dns.RcodeServerFailure})
			}
		}
	})

	t.Run("no synthesis", func(t *testing.T) {
		clock.Set(at("10:45:59"))
		checkAnswer(t, "ipv4only AAAA", ask("udp", "ipv4only.arpa.", dns.TypeAAAA, 2*time.Second), dnsAnswer{ns: []string{ipv4onlySOA}})
		checkAnswer(t, "v4only AAAA", ask("tcp", "v4only.meeting.test.", dns.TypeAAAA, 2*time.Second), dnsAnswer{ns: []string{meetingSOA}})
		// What is not synthesized is unaffected.
		checkAnswer(t, "www AAAA", ask("udp", "www.meeting.test.", dns.TypeAAAA, 2*time.Second),
			dnsAnswer{answer: []string{"www.meeting.test. 300 IN AAAA 2001:db8:53::80"}})
		checkAnswer(t, "v4only A", ask("udp", "v4only.meeting.test.", dns.TypeA, 2*time.Second),
			dnsAnswer{answer: []string{"v4only.meeting.test. 300 IN A 198.51.100.44"}})
	})

	t.Run("wrong prefix", func(t *testing.T) {
		clock.Set(at("10:50"))
		checkAnswer(t, "ipv4only AAAA", ask("udp", "ipv4only.arpa.", dns.TypeAAAA, 2*time.Second), dnsAnswer{answer: []string{
			"ipv4only.arpa. 60 IN AAAA 64:ff9b:1::c000:aa", "ipv4only.arpa. 60 IN AAAA 64:ff9b:1::c000:ab"}})
		checkAnswer(t, "v4only AAAA", ask("tcp", "v4only.meeting.test.", dns.TypeAAAA, 2*time.Second),
			dnsAnswer{answer: []string{"v4only.meeting.test. 60 IN AAAA 64:ff9b:1::c633:642c"}})
		checkAnswer(t, "www AAAA", ask("udp", "www.meeting.test.", dns.TypeAAAA, 2*time.Second),
			dnsAnswer{answer: []string{"www.meeting.test. 300 IN AAAA 2001:db8:53::80"}})
	})

	t.Run("healthy again", func(t *testing.T) {
		clock.Set(at("10:51"))
		checkAnswer(t, "v4only AAAA", ask("udp", "v4only.meeting.test.", dns.TypeAAAA, 2*time.Second),
			dnsAnswer{answer: []string{"v4only.meeting.test. 60 IN AAAA 64:ff9b::c633:642c"}})
	})

	t.Run("forced", func(t *testing.T) {
		clock.Set(at("10:00"))
		n.SetDNSFault(DNSServfail)
		checkAnswer(t, "forced servfail", ask("udp", "www.meeting.test.", dns.TypeA, 2*time.Second), dnsAnswer{rcode: dns.RcodeServerFailure})
		clock.Set(at("10:50"))
		n.SetDNSFault(DNSHealthy)
		checkAnswer(t, "forced healthy at 10:50", ask("udp", "v4only.meeting.test.", dns.TypeAAAA, 2*time.Second),
			dnsAnswer{answer: []string{"v4only.meeting.test. 60 IN AAAA 64:ff9b::c633:642c"}})
		n.SetDNSFault(DNSScheduled)
		if f := n.DNSFault(); f != DNSWrongPrefix {
			t.Errorf("back on the schedule at 10:50: %s, want wrong-prefix", f)
		}
	})
}

// TestLabConfigProbesResolver: the config of a running lab loads as "meetnoc
// check" loads it, and meetnoc's DNS prober, configured by it, finds every
// check ok at a healthy minute — and each fault for what it is.
func TestLabConfigProbesResolver(t *testing.T) {
	t.Parallel()
	clock := newTestClock(at("13:30"))
	n := startLab(t, Options{Now: clock.Now})
	path := filepath.Join(t.TempDir(), "lab.yml")
	if err := os.WriteFile(path, n.ConfigYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DNS.Resolvers) != 1 || cfg.DNS.Resolvers[0].Address != n.DNSResolver() || cfg.DNS.Resolvers[0].SSID != "ietf" {
		t.Fatalf("resolvers %+v, want lab-dns64 at %s on ietf", cfg.DNS.Resolvers, n.DNSResolver())
	}
	if !slices.Equal(cfg.Netlink.Interfaces, []string{"lo"}) {
		t.Errorf("netlink interfaces %v, want [lo]", cfg.Netlink.Interfaces)
	}
	if cfg.DNS.Timeout >= dnsSlowDelay {
		t.Errorf("dns.timeout %s does not catch the slow resolver's %s", cfg.DNS.Timeout, dnsSlowDelay)
	}
	// Probe every 100 ms rather than 10 s: the answers are the same.
	cfg.DNS.Interval = 100 * time.Millisecond
	p, err := probedns.New(cfg, slog.New(slog.DiscardHandler), probedns.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// expect waits until every check's latest result is want's (check → result),
	// probed after since.
	expect := func(what string, since time.Time, want map[string]string) []probedns.CheckStatus {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := p.Status()
			ok := len(st) == len(want)
			for _, s := range st {
				if s.Result != want[s.Check] || s.Time.Before(since) {
					ok = false
				}
			}
			if ok {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v, want %v", what, st, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	all := func(result string) map[string]string {
		m := map[string]string{}
		for _, c := range cfg.DNS.Checks {
			m[c.Name] = result
		}
		return m
	}

	st := expect("13:30", time.Time{}, all(probedns.ResultOK))
	for _, s := range st {
		if s.Check == "dns64" && s.DNS64Prefix != netip.MustParsePrefix("64:ff9b::/96") {
			t.Errorf("DNS64 prefix %s, want 64:ff9b::/96", s.DNS64Prefix)
		}
	}

	// Each step changes the result of every check it asserts on, so that a
	// probe in flight while the clock moves cannot pass for the new minute's.
	wrong := map[string]string{"dns64": probedns.ResultValidation, "v4only-aaaa": probedns.ResultValidation,
		"www-aaaa": probedns.ResultOK, "www-a": probedns.ResultOK, "nxdomain": probedns.ResultOK}
	for _, f := range []struct {
		at   string
		want map[string]string
	}{
		{"13:15", all(probedns.ResultTimeout)},
		{"13:20", all(probedns.ResultRcode)},
		{"13:45", wrong}, // no synthesis
		{"13:46", all(probedns.ResultOK)},
		{"13:50", wrong}, // the wrong prefix
		{"13:51", all(probedns.ResultOK)},
	} {
		since := time.Now()
		clock.Set(at(f.at))
		st := expect(f.at, since, f.want)
		if f.at == "13:50" {
			for _, s := range st {
				if s.Check == "dns64" && s.DNS64Prefix != roguePREF64 {
					t.Errorf("DNS64 prefix at 13:50 %s, want %s", s.DNS64Prefix, roguePREF64)
				}
			}
		}
	}
}
