package dns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/miekg/dns"
)

// fuzzQueryID is the ID of the query the fuzzed answers answer; the seed
// corpus in testdata/fuzz/FuzzAnswer uses it.
const fuzzQueryID = 0x5ca1

// FuzzAnswer feeds arbitrary bytes, as an answer to an ipv4only.arpa AAAA
// query, through the answer handling of several checks: it must never panic,
// and whatever it returns must be a known result.
func FuzzAnswer(f *testing.F) {
	zero := 0
	cfgs := []config.DNSCheck{
		{Name: "dns64", Query: "ipv4only.arpa", Type: "AAAA", DNS64: true},
		{Name: "not-synth", Query: "ipv4only.arpa", Type: "AAAA", NotSynthesized: true, MinAnswers: &zero},
		{Name: "prefixes", Query: "ipv4only.arpa", Type: "AAAA", AD: true,
			AnswersIn:    []netip.Prefix{netip.MustParsePrefix("64:ff9b::/32")},
			AnswersNotIn: []netip.Prefix{netip.MustParsePrefix("64:ff9b:1::/48")}},
		{Name: "pattern", Query: "ipv4only.arpa", Type: "AAAA", AnswerMatches: `c000:a[ab]$`, Rcode: "NXDOMAIN"},
	}
	checks := make([]*check, len(cfgs))
	for i, c := range cfgs {
		ck, err := compileCheck(c)
		if err != nil {
			f.Fatal(err)
		}
		checks[i] = ck
	}
	query, err := checks[0].packQuery()
	if err != nil {
		f.Fatal(err)
	}
	query[0], query[1] = fuzzQueryID>>8, fuzzQueryID&0xff
	nat64 := []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96")}

	f.Add(query) // a query echoed back
	var msg dns.Msg
	f.Fuzz(func(t *testing.T, answer []byte) {
		for _, ck := range checks {
			out := handleAnswer(ck, query, answer, &msg, nat64)
			switch out.result {
			case ResultOK:
				if out.detail != "" {
					t.Fatalf("%s: ok with detail %q", ck.cfg.Name, out.detail)
				}
			case ResultRcode, ResultValidation, ResultNetwork:
				if out.detail == "" {
					t.Fatalf("%s: %s without a detail", ck.cfg.Name, out.result)
				}
			default:
				t.Fatalf("%s: result %q", ck.cfg.Name, out.result)
			}
			if out.prefix.IsValid() && !ck.ipv4only {
				t.Fatalf("%s: a prefix from a check that does not discover one", ck.cfg.Name)
			}
		}
	})
}

// TestAnswerSeeds checks what the DNS64 check makes of each seed of the fuzz
// corpus, so the corpus is known to reach every verdict.
func TestAnswerSeeds(t *testing.T) {
	ck, err := compileCheck(config.DNSCheck{Name: "dns64", Query: "ipv4only.arpa", Type: "AAAA", DNS64: true})
	if err != nil {
		t.Fatal(err)
	}
	query, err := ck.packQuery()
	if err != nil {
		t.Fatal(err)
	}
	query[0], query[1] = fuzzQueryID>>8, fuzzQueryID&0xff
	nat64 := []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96")}
	for seed, want := range map[string]struct{ result, detail string }{
		"synthesized":    {ResultOK, ""},
		"cname-chain":    {ResultOK, ""},
		"wrong-prefix":   {ResultValidation, "DNS64 prefix 64:ff9b:1::/96 not in nat64_prefixes"},
		"prefix-32":      {ResultValidation, "DNS64 prefix 64:ff9b::/32 not in nat64_prefixes"},
		"prefix-56":      {ResultValidation, "DNS64 prefix 2001:db8:100::/56 not in nat64_prefixes"},
		"servfail":       {ResultRcode, "rcode SERVFAIL, want NOERROR"},
		"nxdomain":       {ResultRcode, "rcode NXDOMAIN, want NOERROR"},
		"truncated-flag": {ResultNetwork, "truncated answer"},
		"cut-short":      {ResultNetwork, "malformed answer"},
		"count-too-high": {ResultNetwork, "malformed answer: header declares 7/0/1 records, message holds 3/0/0"},
		"wrong-question": {ResultNetwork, "mismatched answer: answer's question is not the question asked"},
		"wrong-id":       {ResultNetwork, "mismatched answer: answer ID 23714, want 23713"},
		"pointer-loop":   {ResultNetwork, "mismatched answer"},
		"garbage":        {ResultNetwork, "mismatched answer: answer has 26465 questions, want 1"},
		"empty":          {ResultNetwork, "shorter than a DNS header"},
	} {
		text, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzAnswer", seed))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(text)), "\n")
		quoted := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
		answer, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("%s: %v", seed, err)
		}
		var msg dns.Msg
		out := handleAnswer(ck, query, []byte(answer), &msg, nat64)
		if out.result != want.result || !strings.Contains(out.detail, want.detail) {
			t.Errorf("%s: %s %q, want %s containing %q", seed, out.result, out.detail, want.result, want.detail)
		}
	}
}
