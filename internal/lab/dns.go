package lab

// The lab's DNS64 resolver: a DNS server on UDP and TCP that answers the way
// the meeting's recursive resolver does (RA set; no AA, as unbound answers
// from an auth-zone served for-upstream) for a small meeting.test zone and for
// ipv4only.arpa, and synthesizes AAAA records in the lab's NAT64 prefix for
// names that have only A records (RFC 6147). It cannot recurse: the lab is
// offline, and any other name is NXDOMAIN.
//
// Like the AP outage and the rogue laptop, its faults follow the lab clock:
// at fixed minutes of every hour it answers slowly, fails, stops synthesizing
// or synthesizes with a wrong prefix — the ways DNS64 breaks at a meeting.
// Tests may force a fault instead (SetDNSFault).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSFault is a way the lab's resolver misbehaves.
type DNSFault uint32

const (
	// DNSScheduled, for SetDNSFault: follow the lab clock's schedule.
	DNSScheduled DNSFault = iota
	// DNSHealthy answers correctly.
	DNSHealthy
	// DNSSlow answers correctly, but only after dnsSlowDelay: later than the
	// lab config's dns.timeout.
	DNSSlow
	// DNSServfail answers SERVFAIL to every query, as a resolver whose
	// upstreams are unreachable does.
	DNSServfail
	// DNSNoSynthesis answers AAAA queries for IPv4-only names with NODATA:
	// DNS64 switched off (the dns64 module dropped from a resolver's config).
	DNSNoSynthesis
	// DNSWrongPrefix synthesizes in roguePREF64 rather than the network's
	// NAT64 prefix: a resolver configured with another network's prefix.
	DNSWrongPrefix
)

var dnsFaultNames = [...]string{"scheduled", "healthy", "slow", "servfail", "no-synthesis", "wrong-prefix"}

func (f DNSFault) String() string {
	if int(f) < len(dnsFaultNames) {
		return dnsFaultNames[f]
	}
	return "DNSFault(" + strconv.Itoa(int(f)) + ")"
}

const (
	// dnsSlowDelay is how late a slow answer comes: past the lab config's
	// 1 s timeout, short of a stub resolver's 5 s.
	dnsSlowDelay = 1500 * time.Millisecond
	// dnsEDNSSize is the UDP payload size the resolver advertises and honours
	// at most (DNS Flag Day 2020).
	dnsEDNSSize = 1232
	// dnsTCPIdle is how long an idle TCP connection stays open: unbound's
	// default tcp-idle-timeout, longer than the probes' interval, so that
	// their reused connection is not cut between two probes.
	dnsTCPIdle = 30 * time.Second
)

// dnsFaultWindow is a fault and the minute of each hour it is on.
type dnsFaultWindow struct {
	fault  DNSFault
	minute int
	what   string // for the config's header
}

// dnsFaultSchedule is when the resolver misbehaves: one minute each, at :15,
// :20, :45 and :50 of every hour (venue time). The minutes avoid those of the
// AP outage (:10, :25, :40, :55, two minutes) and the rogue RAs (:07, :22,
// :37, :52), so that each event shows alone, and leave 10:00–10:14 and
// 13:30–13:44 healthy, the windows the daemon's and the lab's tests run in.
var dnsFaultSchedule = []dnsFaultWindow{
	{DNSSlow, 15, fmt.Sprintf("slow: answers after %s, beyond dns.timeout", dnsSlowDelay)},
	{DNSServfail, 20, "SERVFAIL to every query"},
	{DNSNoSynthesis, 45, "no synthesis: AAAA of an IPv4-only name is NODATA"},
	{DNSWrongPrefix, 50, "wrong prefix: synthesizes in " + roguePREF64.String()},
}

func (w dnsFaultWindow) window() outage {
	return outage{
		period: int64(time.Hour / time.Millisecond),
		offset: int64(w.minute) * int64(time.Minute/time.Millisecond),
		length: int64(time.Minute / time.Millisecond),
	}
}

// scheduledDNSFault is the fault of the schedule at venue time ms.
func scheduledDNSFault(venueMs int64) DNSFault {
	for _, w := range dnsFaultSchedule {
		if w.window().active(venueMs) {
			return w.fault
		}
	}
	return DNSHealthy
}

// The lab's names. Addresses are from the documentation ranges, except
// ipv4only.arpa's, which RFC 7050 fixes.
const dnsZoneText = `
meeting.test.         3600 IN SOA   ns.meeting.test. noc.meeting.test. 2026112201 3600 600 86400 60
meeting.test.         3600 IN NS    ns.meeting.test.
ns.meeting.test.      3600 IN A     192.0.2.53
ns.meeting.test.      3600 IN AAAA  2001:db8:53::53
www.meeting.test.      300 IN A     192.0.2.80
www.meeting.test.      300 IN AAAA  2001:db8:53::80
v4only.meeting.test.   300 IN A     198.51.100.44
ipv4only.arpa.        3600 IN SOA   ipv4only.arpa. nobody.invalid. 1 3600 600 86400 60
ipv4only.arpa.        3600 IN NS    ipv4only.arpa.
ipv4only.arpa.        3600 IN A     192.0.0.170
ipv4only.arpa.        3600 IN A     192.0.0.171
`

// dnsData is the resolver's records: by owner name (lower case), and the
// SOA of each zone for negative answers.
type dnsData struct {
	names map[string][]dns.RR
	soas  []*dns.SOA
}

func loadDNSData() *dnsData {
	d := &dnsData{names: map[string][]dns.RR{}}
	zp := dns.NewZoneParser(strings.NewReader(dnsZoneText), "", "lab")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := dns.CanonicalName(rr.Header().Name)
		d.names[name] = append(d.names[name], rr)
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			d.soas = append(d.soas, soa)
		}
	}
	if err := zp.Err(); err != nil {
		panic(err) // the zone is fixed: a failure is a bug here
	}
	return d
}

var labDNSData = loadDNSData()

// zoneOf is the SOA of the zone name is in, or nil.
func (d *dnsData) zoneOf(name string) *dns.SOA {
	for _, soa := range d.soas {
		if dns.IsSubDomain(soa.Hdr.Name, name) {
			return soa
		}
	}
	return nil
}

// dnsResolver is the lab's DNS64 resolver.
type dnsResolver struct {
	ctx    context.Context // the lab's: a slow answer gives up when it ends
	clock  func() time.Time
	day    *Day
	data   *dnsData
	nat64  netip.Prefix
	forced atomic.Uint32 // a DNSFault; DNSScheduled follows the clock
	faults *faultPlan
	logger *slog.Logger
}

// fault is the fault in effect now.
func (r *dnsResolver) fault() DNSFault {
	if f := DNSFault(r.forced.Load()); f != DNSScheduled {
		return f
	}
	if !r.faults.scheduled() {
		return DNSHealthy
	}
	return scheduledDNSFault(r.day.venueMillis(r.clock()))
}

// ServeDNS answers one query. The fault is the one at the time the query
// arrives; a slow answer is held back on the wall clock.
func (r *dnsResolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	fault := r.fault()
	resp := r.answer(q, fault)
	if fault == DNSSlow {
		t := time.NewTimer(dnsSlowDelay)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	size := dns.MaxMsgSize
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size = dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = max(dns.MinMsgSize, min(int(opt.UDPSize()), dnsEDNSSize))
		}
	}
	resp.Truncate(size)
	if err := w.WriteMsg(resp); err != nil {
		r.logger.Debug("DNS answer not sent", "err", err)
	}
}

// answer is the reply to q under fault (the delay of DNSSlow aside).
func (r *dnsResolver) answer(q *dns.Msg, fault DNSFault) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(q)
	resp.RecursionAvailable = true
	if opt := q.IsEdns0(); opt != nil {
		resp.SetEdns0(dnsEDNSSize, false)
		if opt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers
			return resp
		}
	}
	switch {
	case q.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(q.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
		return resp
	case q.Question[0].Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
		return resp
	case fault == DNSServfail:
		resp.Rcode = dns.RcodeServerFailure
		return resp
	}
	question := q.Question[0]
	name := dns.CanonicalName(question.Name)
	rrs := r.data.names[name]
	soa := r.data.zoneOf(name)
	if len(rrs) == 0 {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = negative(soa)
		return resp
	}
	var as []*dns.A
	for _, rr := range rrs {
		if rr.Header().Rrtype == question.Qtype {
			rr = dns.Copy(rr)
			rr.Header().Name = question.Name // the owner as asked, in its case
			resp.Answer = append(resp.Answer, rr)
		}
		if a, ok := rr.(*dns.A); ok {
			as = append(as, a)
		}
	}
	if len(resp.Answer) == 0 && question.Qtype == dns.TypeAAAA && fault != DNSNoSynthesis {
		prefix := r.nat64
		if fault == DNSWrongPrefix {
			prefix = roguePREF64
		}
		for _, a := range as {
			resp.Answer = append(resp.Answer, synthesize(question.Name, a, prefix, soa))
		}
	}
	if len(resp.Answer) == 0 {
		resp.Ns = negative(soa) // NODATA
	}
	return resp
}

// synthesize is the AAAA record DNS64 makes of a (RFC 6147 §5.1.7): a's
// address behind a /96 prefix (RFC 6052 §2.2), its TTL at most the zone's
// negative TTL, since that is how long the missing AAAA may be cached.
func synthesize(owner string, a *dns.A, prefix netip.Prefix, soa *dns.SOA) *dns.AAAA {
	b := prefix.Addr().As16()
	copy(b[12:], a.A.To4())
	ttl := a.Hdr.Ttl
	if soa != nil {
		ttl = min(ttl, soa.Minttl)
	}
	return &dns.AAAA{
		Hdr:  dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl},
		AAAA: net.IP(b[:]),
	}
}

// negative is the authority section of an NXDOMAIN or NODATA answer: the
// zone's SOA with the negative TTL (RFC 2308 §3).
func negative(soa *dns.SOA) []dns.RR {
	if soa == nil {
		return nil
	}
	rr := dns.Copy(soa).(*dns.SOA)
	rr.Hdr.Ttl = min(rr.Hdr.Ttl, rr.Minttl)
	return []dns.RR{rr}
}

// startDNS starts the lab's resolver on UDP and TCP at the same port of
// opts.Host: BasePort after the sFlow collector's, or a free one when
// BasePort is 0.
func (n *Network) startDNS(ctx context.Context, m *model, opts Options) error {
	r := &dnsResolver{
		ctx: ctx, clock: opts.Now, day: m.day, data: labDNSData, nat64: labNAT64, faults: m.faults,
		logger: opts.Logger.With("part", "dns"),
	}
	port := 0
	if opts.BasePort != 0 {
		port = dnsPort(opts.BasePort, len(m.devices))
	}
	pc, l, err := listenDNS(opts.Host, port)
	if err != nil {
		return fmt.Errorf("lab: DNS resolver: %w", err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: r}
	tcp := &dns.Server{
		Listener: l, Handler: r, MaxTCPQueries: -1,
		IdleTimeout: func() time.Duration { return dnsTCPIdle },
	}
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			// The UDP server, if it runs, stops with ctx, which Start
			// cancels on this error.
			if srv == udp {
				pc.Close()
			}
			l.Close()
			return fmt.Errorf("lab: DNS resolver: %w", err)
		}
		n.wg.Go(func() {
			<-ctx.Done()
			// Shutdown waits for the queries in flight; slow ones end with ctx.
			err := errors.Join(srv.Shutdown(), <-done)
			if err != nil {
				n.mu.Lock()
				n.errs = append(n.errs, fmt.Errorf("lab: DNS resolver: %w", err))
				n.mu.Unlock()
			}
		})
	}
	n.dns = r
	n.dnsAddr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	return nil
}

// listenDNS binds UDP and TCP at the same port of host; port 0 picks one
// that is free for both.
func listenDNS(host string, port int) (*net.UDPConn, net.Listener, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, nil, fmt.Errorf("host %q: %w", host, err)
	}
	var lastErr error
	for range 20 {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			return nil, nil, err
		}
		got := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(got)))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != 0 {
			return nil, nil, err
		}
		lastErr = err // another socket holds the TCP port: try another
	}
	return nil, nil, lastErr
}

// dnsPort is the resolver's port for agents from basePort: the one after
// the sFlow collector's.
func dnsPort(basePort, devices int) int { return basePort + devices + 1 }

// dnsListen is the resolver's address in the lab config for agents from
// basePort on host.
func dnsListen(host string, basePort, devices int) string {
	return net.JoinHostPort(host, strconv.Itoa(dnsPort(basePort, devices)))
}

// DNSResolver is the address (host:port, UDP and TCP) of the lab's DNS64
// resolver: the address of ConfigYAML's lab-dns64 resolver.
func (n *Network) DNSResolver() string { return n.dnsAddr.String() }

// SetDNSFault forces the resolver into fault (DNSHealthy: no fault) whatever
// the lab clock says; DNSScheduled returns it to the clock's schedule.
func (n *Network) SetDNSFault(f DNSFault) { n.dns.forced.Store(uint32(f)) }

// DNSFault is the resolver's fault in effect now: the forced one, or the
// schedule's at the lab clock's time.
func (n *Network) DNSFault() DNSFault { return n.dns.fault() }
