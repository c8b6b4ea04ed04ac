package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/miekg/dns"
)

// Results of a probe: the values of the result label of meetnoc_dns_probes_total.
const (
	ResultOK         = "ok"
	ResultTimeout    = "timeout"
	ResultRcode      = "rcode"
	ResultValidation = "validation"
	ResultNetwork    = "network"
)

var results = []string{ResultOK, ResultTimeout, ResultRcode, ResultValidation, ResultNetwork}

// ednsBufferSize is the EDNS0 UDP payload size the probes advertise: the
// DNS Flag Day 2020 value, which avoids IP fragmentation on any sane path.
const ednsBufferSize = 1232

// ipv4onlyArpa is the name RFC 7050 discovers a DNS64 prefix with.
const ipv4onlyArpa = "ipv4only.arpa."

// The well-known IPv4 addresses of ipv4only.arpa (RFC 7050 §2.2).
var (
	wka170 = [4]byte{192, 0, 0, 170}
	wka171 = [4]byte{192, 0, 0, 171}
)

// check is a configured check, compiled.
type check struct {
	cfg        config.DNSCheck
	name       string // fully qualified query name
	qtype      uint16
	rcode      int
	minAnswers int
	matches    *regexp.Regexp
	ipv4only   bool // the query is ipv4only.arpa: discover the prefix
}

func compileCheck(c config.DNSCheck) (*check, error) {
	ck := &check{cfg: c, name: dns.Fqdn(c.Query)}
	if _, ok := dns.IsDomainName(ck.name); !ok {
		return nil, fmt.Errorf("check %s: %q is not a domain name", c.Name, c.Query)
	}
	var ok bool
	if ck.qtype, ok = dns.StringToType[strings.ToUpper(c.Type)]; !ok {
		return nil, fmt.Errorf("check %s: unknown query type %q", c.Name, c.Type)
	}
	rc := c.Rcode
	if rc == "" {
		rc = config.DefaultRcode
	}
	if ck.rcode, ok = dns.StringToRcode[strings.ToUpper(rc)]; !ok {
		return nil, fmt.Errorf("check %s: unknown rcode %q", c.Name, c.Rcode)
	}
	if c.MinAnswers != nil {
		ck.minAnswers = *c.MinAnswers
	} else if ck.rcode == dns.RcodeSuccess {
		ck.minAnswers = 1
	}
	if c.AnswerMatches != "" {
		re, err := regexp.Compile(c.AnswerMatches)
		if err != nil {
			return nil, fmt.Errorf("check %s: answer_matches: %w", c.Name, err)
		}
		ck.matches = re
	}
	ck.ipv4only = strings.EqualFold(ck.name, ipv4onlyArpa)
	return ck, nil
}

// packQuery builds the check's query: recursion desired, EDNS0 with a 1232-byte
// buffer, and AD+DO when the check wants the AD bit (RFC 6840 §5.7: AD in a
// query asks for the AD bit in the answer).
func (c *check) packQuery() ([]byte, error) {
	m := new(dns.Msg)
	m.SetQuestion(c.name, c.qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsBufferSize, c.cfg.AD)
	m.AuthenticatedData = c.cfg.AD
	return m.Pack()
}

// outcome is what one probe found.
type outcome struct {
	result string
	detail string
	// prefix is the DNS64 prefix found from ipv4only.arpa (RFC 7050), if any.
	prefix netip.Prefix
}

// handleAnswer checks that answer belongs to query, unpacks it into msg and
// evaluates it against the check. It never panics on any input: a malformed
// answer is a network failure.
func handleAnswer(c *check, query, answer []byte, msg *dns.Msg, nat64 []netip.Prefix) outcome {
	if err := matchAnswer(query, answer); err != nil {
		return outcome{result: ResultNetwork, detail: "mismatched answer: " + err.Error()}
	}
	if err := msg.Unpack(answer); err != nil {
		return outcome{result: ResultNetwork, detail: "malformed answer: " + err.Error()}
	}
	// miekg/dns stops quietly where a message ends early; a section shorter
	// than its header says is a cut-off message all the same.
	an, ns, ar := int(binary.BigEndian.Uint16(answer[6:])), int(binary.BigEndian.Uint16(answer[8:])), int(binary.BigEndian.Uint16(answer[10:]))
	if len(msg.Answer) != an || len(msg.Ns) != ns || len(msg.Extra) != ar {
		return outcome{result: ResultNetwork, detail: fmt.Sprintf("malformed answer: header declares %d/%d/%d records, message holds %d/%d/%d",
			an, ns, ar, len(msg.Answer), len(msg.Ns), len(msg.Extra))}
	}
	if msg.Truncated {
		return outcome{result: ResultNetwork, detail: "truncated answer"}
	}
	return evaluate(c, msg, nat64)
}

// evaluate judges an unpacked answer.
func evaluate(c *check, msg *dns.Msg, nat64 []netip.Prefix) outcome {
	if msg.Rcode != c.rcode {
		return outcome{result: ResultRcode, detail: fmt.Sprintf("rcode %s, want %s", rcodeString(msg.Rcode), rcodeString(c.rcode))}
	}
	if c.cfg.AD && !msg.AuthenticatedData {
		return outcome{result: ResultValidation, detail: "AD bit not set: the answer was not validated"}
	}
	var (
		count   int
		matched = c.matches == nil
		aaaas   []netip.Addr // AAAA answers, for the DNS64 checks
	)
	for _, rr := range msg.Answer {
		h := rr.Header()
		if h.Rrtype != c.qtype || h.Class != dns.ClassINET {
			// A CNAME chain before the answer may still match the pattern.
			if !matched && c.matches.MatchString(rr.String()) {
				matched = true
			}
			continue
		}
		count++
		if !matched && c.matches.MatchString(rr.String()) {
			matched = true
		}
		addr, ok := rrAddr(rr)
		if !ok {
			continue
		}
		if len(c.cfg.AnswersIn) > 0 && !inAny(addr, c.cfg.AnswersIn) {
			return outcome{result: ResultValidation, detail: fmt.Sprintf("%s %s not in answers_in", dns.TypeToString[h.Rrtype], addr)}
		}
		if p, in := containing(addr, c.cfg.AnswersNotIn); in {
			return outcome{result: ResultValidation, detail: fmt.Sprintf("%s %s in answers_not_in %s", dns.TypeToString[h.Rrtype], addr, p)}
		}
		if h.Rrtype == dns.TypeAAAA {
			aaaas = append(aaaas, addr)
		}
	}
	if count < c.minAnswers {
		return outcome{result: ResultValidation, detail: fmt.Sprintf("%d %s answers, want at least %d", count, dns.TypeToString[c.qtype], c.minAnswers)}
	}
	if !matched {
		return outcome{result: ResultValidation, detail: fmt.Sprintf("no answer matches %q", c.cfg.AnswerMatches)}
	}
	if c.cfg.NotSynthesized {
		for _, a := range aaaas {
			if p, in := containing(a, nat64); in {
				return outcome{result: ResultValidation, detail: fmt.Sprintf("AAAA %s synthesized in %s, want the name's own AAAA", a, p)}
			}
		}
	}
	if !c.cfg.DNS64 {
		return outcome{result: ResultOK}
	}
	if len(aaaas) == 0 {
		return outcome{result: ResultValidation, detail: "no AAAA answer to tell synthesis by"}
	}
	if c.ipv4only {
		prefix, ok := discoverPrefix(aaaas)
		if !ok {
			return outcome{result: ResultValidation, detail: fmt.Sprintf("AAAA %s does not embed 192.0.0.170 or 192.0.0.171 (RFC 7050)", aaaas[0])}
		}
		for _, p := range nat64 {
			if p == prefix {
				return outcome{result: ResultOK, prefix: prefix}
			}
		}
		return outcome{result: ResultValidation, prefix: prefix, detail: fmt.Sprintf("DNS64 prefix %s not in nat64_prefixes", prefix)}
	}
	for _, a := range aaaas {
		if !inAny(a, nat64) {
			return outcome{result: ResultValidation, detail: fmt.Sprintf("AAAA %s not in nat64_prefixes: not synthesized", a)}
		}
	}
	return outcome{result: ResultOK}
}

func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func rrAddr(rr dns.RR) (netip.Addr, bool) {
	switch r := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(r.A.To4())
		return a, ok
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(r.AAAA.To16())
		return a, ok
	}
	return netip.Addr{}, false
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	_, in := containing(a, prefixes)
	return in
}

func containing(a netip.Addr, prefixes []netip.Prefix) (netip.Prefix, bool) {
	for _, p := range prefixes {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// prefixLengths are the NAT64 prefix lengths of RFC 6052 §2.2, longest first.
var prefixLengths = []int{96, 64, 56, 48, 40, 32}

// embeddedIPv4 extracts the IPv4 address that an IPv6 address embeds behind a
// prefix of the given length (RFC 6052 §2.2). Bits 64–71 (byte 8, the "u"
// octet) are skipped; for lengths below 96 they must be zero.
func embeddedIPv4(a [16]byte, length int) (v4 [4]byte, ok bool) {
	switch length {
	case 96:
		copy(v4[:], a[12:16])
		return v4, true
	case 64:
		copy(v4[:], a[9:13])
	case 56:
		v4[0] = a[7]
		copy(v4[1:], a[9:12])
	case 48:
		copy(v4[:2], a[6:8])
		copy(v4[2:], a[9:11])
	case 40:
		copy(v4[:3], a[5:8])
		v4[3] = a[9]
	case 32:
		copy(v4[:], a[4:8])
	default:
		return v4, false
	}
	return v4, a[8] == 0
}

// discoverPrefix finds the DNS64 prefix and its length from the AAAA answers
// for ipv4only.arpa (RFC 7050 §3): the prefix is what precedes 192.0.0.170 or
// 192.0.0.171 in the address. Where more than one length fits, the length at
// which the most answers embed a well-known address wins (both answers, when
// the resolver synthesized from both A records, disambiguate), then the
// longest.
func discoverPrefix(aaaas []netip.Addr) (netip.Prefix, bool) {
	var best netip.Prefix
	bestVotes := 0
	for _, length := range prefixLengths {
		var prefix netip.Prefix
		votes := 0
		for _, a := range aaaas {
			if !a.Is6() || a.Is4In6() {
				continue
			}
			v4, ok := embeddedIPv4(a.As16(), length)
			if !ok || (v4 != wka170 && v4 != wka171) {
				continue
			}
			p := netip.PrefixFrom(a, length).Masked()
			if votes > 0 && p != prefix {
				// Two answers disagree on the prefix at this length.
				votes = 0
				break
			}
			prefix = p
			votes++
		}
		if votes > bestVotes {
			best, bestVotes = prefix, votes
		}
	}
	return best, bestVotes > 0
}
