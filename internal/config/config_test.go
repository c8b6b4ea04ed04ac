package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// credentials writes the secret files the example config reads through
// ${CREDENTIALS_DIRECTORY}, as systemd's LoadCredential= would.
func credentials(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, value := range map[string]string{
		"snmp-auth":      "auth-secret-123\n",
		"snmp-priv":      "priv-secret-456\n",
		"snmp-community": "wlc-community-789\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	return dir
}

func TestEveryShippedConfigLoads(t *testing.T) {
	credentials(t)
	files, err := filepath.Glob("../../configs/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("expected configs/example.yml and configs/lab.yml, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("Load(%s):\n%v", f, err)
			}
			if len(cfg.SNMP.Targets) == 0 {
				t.Errorf("%s has no SNMP targets", f)
			}
		})
	}
}

func TestExampleConfigValues(t *testing.T) {
	credentials(t)
	cfg, err := Load("../../configs/example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Meeting.Name; got != "IETF 125" {
		t.Errorf("meeting.name = %q", got)
	}
	var ssids []string
	for _, s := range cfg.SSIDs {
		ssids = append(ssids, s.Name)
	}
	if got := strings.Join(ssids, ","); got != "ietf,ietf-dual-stack,eduroam" {
		t.Errorf("ssids = %s", got)
	}
	if got := cfg.NAT64Prefixes; len(got) != 1 || got[0] != netip.MustParsePrefix("64:ff9b::/96") {
		t.Errorf("nat64_prefixes = %v", got)
	}
	a := cfg.SNMP.Auths["switches_v3"]
	if a.AuthPassword.Value() != "auth-secret-123" || a.PrivPassword.Value() != "priv-secret-456" {
		t.Errorf("v3 secrets not read from files (trailing newline must be trimmed): %q %q", a.AuthPassword.Value(), a.PrivPassword.Value())
	}
	if got := cfg.SNMP.Auths["wlc_v2c"].Community.Value(); got != "wlc-community-789" {
		t.Errorf("community = %q", got)
	}
	if len(cfg.SNMP.Targets) != 5 {
		t.Fatalf("%d targets, want 5", len(cfg.SNMP.Targets))
	}
	wlc1 := cfg.SNMP.Targets[2]
	if wlc1.Name != "wlc1" || wlc1.MaxRepetitions != 50 || strings.Join(wlc1.Profiles, ",") != "if_mib,cisco_wlc" {
		t.Errorf("wlc1 = %+v", wlc1)
	}
	if f, p := wlc1.Source(); f != "../../configs/example.yml" || p != "snmp.targets[2]" {
		t.Errorf("wlc1 source = %s %s", f, p)
	}
	for _, name := range []string{"if_mib", "cisco_wlc", "aruba_wlc", "host"} {
		if cfg.Profiles[name] == nil {
			t.Errorf("embedded profile %s missing", name)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, `
snmp:
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]
`)
	s := cfg.SNMP
	if s.Interval != 30*time.Second || s.Timeout != 5*time.Second || s.Retries != 1 ||
		s.MaxRepetitions != 25 || s.MaxConcurrency != 64 || s.Jitter != 0.1 || s.APMissingHold != time.Hour {
		t.Errorf("snmp defaults = %+v", s)
	}
	if cfg.Traffic.ClientWindow != 5*time.Minute || cfg.DNS.Interval != 15*time.Second || cfg.DNS.Timeout != 2*time.Second {
		t.Errorf("traffic/dns defaults = %+v %+v", cfg.Traffic, cfg.DNS)
	}
	if len(cfg.NAT64Prefixes) != 1 || cfg.NAT64Prefixes[0].String() != "64:ff9b::/96" {
		t.Errorf("nat64 default = %v", cfg.NAT64Prefixes)
	}
	if p := cfg.Profiles["cisco_wlc"]; p.TargetLabel != "controller" {
		t.Errorf("cisco_wlc target_label = %q", p.TargetLabel)
	}
	if p := cfg.Profiles["if_mib"]; p.TargetLabel != "target" {
		t.Errorf("if_mib target_label = %q", p.TargetLabel)
	}

	// An explicit 0 is kept: it is not "unset".
	cfg = mustLoad(t, `
snmp:
  retries: 0
  jitter: 0
  auths: {v3: {version: 3, username: noc, auth_protocol: sha, auth_password: abcdefgh}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v3, profiles: [if_mib]}]
`)
	if cfg.SNMP.Retries != 0 || cfg.SNMP.Jitter != 0 {
		t.Errorf("explicit zeros overwritten: retries %d jitter %g", cfg.SNMP.Retries, cfg.SNMP.Jitter)
	}
	// The level follows from what is set; protocol names are matched without case.
	if a := cfg.SNMP.Auths["v3"]; a.SecurityLevel != "authNoPriv" || a.AuthProtocol != "SHA" {
		t.Errorf("v3 auth = %+v", a)
	}
}

// DNS checks and NAT64 targets: what a check expects when it says nothing, and
// the NAT64 prefix a target goes through.
func TestDNSAndNAT64Defaults(t *testing.T) {
	cfg := mustLoad(t, `
nat64_prefixes: [64:ff9b:1::/96, 64:ff9b::/96]
dns:
  resolvers: [{name: r, address: "127.0.0.1:53"}]
  checks:
    - {name: dns64, query: ipv4only.arpa, type: aaaa, dns64: true}
    - {name: gone, query: nx.test, type: A, rcode: nxdomain}
    - {name: two, query: www.test, type: A, min_answers: 2}
nat64_probes:
  targets:
    - {name: web, address: "192.0.2.80:443"}
    - {name: other, address: "192.0.2.81:443", prefix: 64:ff9b::/96, netns: ietf-leg}
snmp:
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]
`)
	type want struct {
		typ, rcode string
		min        int
	}
	for i, w := range []want{{"AAAA", "NOERROR", 1}, {"A", "NXDOMAIN", 0}, {"A", "NOERROR", 2}} {
		c := cfg.DNS.Checks[i]
		if c.Type != w.typ || c.Rcode != w.rcode || c.MinAnswers == nil || *c.MinAnswers != w.min {
			t.Errorf("check %s: type %s rcode %s min_answers %v, want %+v", c.Name, c.Type, c.Rcode, c.MinAnswers, w)
		}
	}
	if r := cfg.DNS.Resolvers[0]; r.Transport != "udp" {
		t.Errorf("resolver transport = %q, want udp", r.Transport)
	}
	n := cfg.NAT64Probes
	if n.Interval != 15*time.Second || n.Timeout != 2*time.Second {
		t.Errorf("nat64_probes interval %s timeout %s", n.Interval, n.Timeout)
	}
	if got := n.Targets[0].Prefix.String(); got != "64:ff9b:1::/96" {
		t.Errorf("target web prefix = %s, want the first of nat64_prefixes", got)
	}
	if got := n.Targets[1].Prefix.String(); got != "64:ff9b::/96" {
		t.Errorf("target other prefix = %s, want its own", got)
	}
	if n.Targets[0].Netns != "" || n.Targets[1].Netns != "ietf-leg" {
		t.Errorf("netns %q and %q, want none and ietf-leg", n.Targets[0].Netns, n.Targets[1].Netns)
	}
}

func mustLoad(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := LoadBytes([]byte(text), filepath.Join(t.TempDir(), "meetnoc.yml"))
	if err != nil {
		t.Fatalf("load:\n%v", err)
	}
	return cfg
}

// Every error names file, line and key, and all of them come at once.
func TestInvalidConfigs(t *testing.T) {
	const targets = `
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]`
	tests := []struct {
		name, yaml string
		want       []string
	}{{
		name: "unknown key with a suggestion",
		yaml: "snmp:\n  intervall: 30s" + targets,
		want: []string{`bad.yml:2: snmp.intervall: unknown key (did you mean "interval"?)`},
	}, {
		name: "unknown top-level key",
		yaml: "meetnig: {name: x}\nsnmp:" + targets,
		want: []string{`bad.yml:1: meetnig: unknown key (did you mean "meeting"?)`},
	}, {
		name: "wrong types, all reported",
		yaml: "snmp:\n  retries: many\n  interval: 30x\n  jitter: [1]" + targets,
		want: []string{
			`bad.yml:2: snmp.retries: "many" is not an integer`,
			`bad.yml:3: snmp.interval: "30x" is not a duration (use e.g. 30s, 5m, 1h)`,
			`bad.yml:4: snmp.jitter: a list is not a number`,
		},
	}, {
		name: "yaml syntax",
		yaml: "snmp:\n  interval: [30s\n",
		want: []string{`bad.yml:1: did not find expected ',' or ']'`},
	}, {
		name: "bad prefixes",
		yaml: "ssids:\n  - name: ietf\n    client_prefixes: [2001:db8:100::1/56, nonsense]\nsnmp:" + targets,
		want: []string{
			`bad.yml:3: ssids[0].client_prefixes[0]: prefix 2001:db8:100::1/56 has host bits set (did you mean 2001:db8:100::/56?)`,
			`bad.yml:3: ssids[0].client_prefixes[1]: "nonsense" is not an IP prefix (e.g. 2001:db8:100::/56 or 100.64.0.0/16)`,
		},
	}, {
		name: "duplicate SSIDs and VLANs",
		yaml: "ssids:\n  - {name: ietf, vlans: [100]}\n  - {name: ietf, vlans: [100, 5000]}\nsnmp:" + targets,
		want: []string{
			`bad.yml:3: ssids[1].name: duplicate SSID "ietf"`,
			`bad.yml:3: ssids[1].vlans[0]: VLAN 100 already belongs to SSID "ietf"`,
			`bad.yml:3: ssids[1].vlans[1]: VLAN 5000 is outside 1–4094`,
		},
	}, {
		name: "nat64 prefix",
		yaml: "nat64_prefixes: [192.0.2.0/24, 64:ff9b::/95]\nsnmp:" + targets,
		want: []string{
			`bad.yml:1: nat64_prefixes[0]: 192.0.2.0/24 is not an IPv6 prefix`,
			`bad.yml:1: nat64_prefixes[1]: prefix length /95 is not one RFC 6052 allows (32, 40, 48, 56, 64, 96)`,
		},
	}, {
		name: "references, names and addresses",
		yaml: `snmp:
  auths: {v2: {version: 2c, community: public}}
  targets:
    - {name: sw1, address: 127.0.0.1, auth: v3, profiles: [if_mib, juniper]}
    - {name: sw1, address: "2001:db8::1:161x", auth: v2, profiles: [if_mib]}
    - {name: sw3, address: "[::1]:99999", auth: v2, profiles: []}
    - {address: "bad host:161", auth: v2, profiles: [if_mib], labels: {target: x, "bad-label": y}}
`,
		want: []string{
			`bad.yml:4: snmp.targets[0].auth: unknown auth "v3" (defined: v2)`,
			`bad.yml:4: snmp.targets[0].profiles[1]: unknown profile "juniper" (known: aruba_wlc, cisco_wlc, host, if_mib)`,
			`bad.yml:5: snmp.targets[1].name: duplicate target "sw1" (first defined at line 4)`,
			`bad.yml:5: snmp.targets[1].address: "2001:db8::1:161x" is not host:port (IPv6 as [addr]:port)`,
			`bad.yml:6: snmp.targets[2].address: "[::1]:99999": port "99999" is not a number from 1 to 65535`,
			`bad.yml:6: snmp.targets[2].profiles: missing: name at least one profile (e.g. if_mib)`,
			`bad.yml:7: snmp.targets[3].name: missing`,
			`bad.yml:7: snmp.targets[3].address: "bad host:161": "bad host" is neither an IP address nor a host name`,
			`bad.yml:7: snmp.targets[3].labels.bad-label: "bad-label" is not a valid Prometheus label name`,
			`bad.yml:7: snmp.targets[3].labels.target: "target" is set by meetnoc itself; choose another name`,
		},
	}, {
		name: "intervals",
		yaml: `snmp:
  interval: 0s
  timeout: -1s
  max_repetitions: 0
  auths: {v2: {version: 2c, community: public}}
  targets:
    - {name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib], interval: 10s, timeout: 10s}
`,
		want: []string{
			`bad.yml:2: snmp.interval: must be positive, not 0s`,
			`bad.yml:3: snmp.timeout: must be positive, not -1s`,
			`bad.yml:4: snmp.max_repetitions: must be from 1 to 1000, not 0`,
			`bad.yml:7: snmp.targets[0]: timeout 10s is not shorter than the polling interval 10s`,
		},
	}, {
		name: "auths",
		yaml: `snmp:
  auths:
    a: {version: 2c}
    b: {version: 2c, community: x, community_file: /nonexistent}
    c: {version: 3, username: noc, security_level: authPriv, auth_protocol: SHA1, auth_password: short, priv_protocol: AES}
    d: {version: 2, community: public}
    e: {version: 3, community: public, security_level: none}
  targets: [{name: sw1, address: 127.0.0.1, auth: a, profiles: [if_mib]}]
`,
		want: []string{
			`bad.yml:3: snmp.auths.a: version 2c needs community or community_file`,
			`bad.yml:4: snmp.auths.b.community_file: set either community or community_file, not both`,
			`bad.yml:5: snmp.auths.c.auth_protocol: "SHA1" is not one of MD5, SHA, SHA224, SHA256, SHA384, SHA512`,
			`bad.yml:5: snmp.auths.c.auth_password: passphrase is shorter than 8 characters (RFC 3414); agents will reject it`,
			`bad.yml:5: snmp.auths.c: authPriv needs priv_password or priv_password_file`,
			`bad.yml:6: snmp.auths.d.version: "2" is not "2c" or "3"`,
			`bad.yml:7: snmp.auths.e.community: is for version 2c; this auth is version 3`,
			`bad.yml:7: snmp.auths.e.username: missing: version 3 needs a username`,
			`bad.yml:7: snmp.auths.e.security_level: "none" is not one of noAuthNoPriv, authNoPriv, authPriv`,
		},
	}, {
		name: "secret file",
		yaml: `snmp:
  auths:
    a: {version: 2c, community_file: missing-community}
    b: {version: 2c, community_file: "${MEETNOC_TEST_UNSET_VAR}/community"}
  targets: [{name: sw1, address: 127.0.0.1, auth: a, profiles: [if_mib]}]
`,
		want: []string{
			`bad.yml:3: snmp.auths.a.community_file: open DIR/missing-community: no such file or directory`,
			`bad.yml:4: snmp.auths.b.community_file: environment variable MEETNOC_TEST_UNSET_VAR is not set`,
		},
	}, {
		name: "dns checks and nat64 probes",
		yaml: `ssids: [{name: ietf, vlans: [100]}]
dns:
  resolvers:
    - {name: r1, address: "[2001:db8::53]:53", source_address: 192.0.2.9, ssid: guest}
    - {name: r2, address: "192.0.2.53:53", transport: udp, tls_server_name: dns.example}
  checks:
    - {name: a, query: x.test, type: aaaa, dns64: true, not_synthesized: true}
    - {name: b, query: x.test, type: A, rcode: BOGUS, min_answers: -1, answer_matches: "(", answers_in: [192.0.2.0/24], resolvers: [r3]}
nat64_probes:
  interval: 5s
  timeout: 5s
  targets:
    - {name: t, address: "[2001:db8::1]:443", prefix: 2001:db8::/80, source_address: 192.0.2.1}
    - {name: u, address: "192.0.2.1:443", prefix: 64:ff9b::/96, netns: vlan100/x}
snmp:` + targets,
		want: []string{
			`bad.yml:4: dns.resolvers[0].ssid: unknown SSID "guest"`,
			`bad.yml:4: dns.resolvers[0].source_address: 192.0.2.9 and the resolver 2001:db8::53 are of different address families`,
			`bad.yml:5: dns.resolvers[1].tls_server_name: only for transport tls, not udp`,
			`bad.yml:7: dns.checks[0].not_synthesized: a check cannot require synthesis (dns64) and forbid it`,
			`bad.yml:8: dns.checks[1].rcode: "BOGUS" is not one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED`,
			`bad.yml:8: dns.checks[1].min_answers: must not be negative`,
			`bad.yml:8: dns.checks[1].answer_matches: error parsing regexp: missing closing ): ` + "`(`",
			`bad.yml:8: dns.checks[1].resolvers[0]: unknown resolver "r3"`,
			`bad.yml:11: nat64_probes.timeout: 5s is not shorter than the interval 5s`,
			`bad.yml:13: nat64_probes.targets[0].address: "[2001:db8::1]:443" is not an IPv4 addr:port (the destination behind the NAT64)`,
			`bad.yml:13: nat64_probes.targets[0].prefix: 2001:db8::/80 is not an RFC 6052 NAT64 prefix (IPv6, length 32, 40, 48, 56, 64 or 96)`,
			`bad.yml:13: nat64_probes.targets[0].source_address: 192.0.2.1 is not an IPv6 address (the probe through NAT64 is IPv6)`,
			`bad.yml:14: nat64_probes.targets[1].netns: "vlan100/x" is neither a name in /run/netns nor an absolute path`,
		},
	}, {
		name: "traffic and dns",
		yaml: `ssids: [{name: ietf, vlans: [100], routers: [192.0.2.1, "00:11:22", fe80::1, "00:00:5e:00:01:64"]}]
traffic:
  sources:
    - {name: m, type: afpacket}
    - {name: m, type: netflow}
    - {name: s, type: sflow, listen: ":6343", untagged_ssid: guest}
    - {name: a, type: afpacket, interface: eth1, workers: 2, ring_size: 4194304, snaplen: 64}
    - {name: p, type: pcap, path: x.pcap, speed: slow}
dns:
  resolvers: [{name: r, address: "192.0.2.53", transport: doh}]
  checks: [{name: c, query: ipv4only.arpa, type: A, dns64: true}, {name: c, type: BOGUS}]
snmp:` + targets,
		want: []string{
			`bad.yml:1: ssids[0].routers[0]: 192.0.2.1 is not an IPv6 address: Router Advertisements come from the router's link-local address`,
			`bad.yml:1: ssids[0].routers[1]: "00:11:22" is neither an IPv6 address nor an Ethernet (EUI-48) MAC address`,
			`bad.yml:4: traffic.sources[0].interface: missing: afpacket captures from an interface`,
			`bad.yml:5: traffic.sources[1].name: duplicate source "m"`,
			`bad.yml:5: traffic.sources[1].type: "netflow" is not one of afpacket, sflow, pcap, pcap_sflow`,
			`bad.yml:6: traffic.sources[2].listen: ":6343" is not addr:port (e.g. "[::]:6343")`,
			`bad.yml:6: traffic.sources[2].untagged_ssid: unknown SSID "guest"`,
			`bad.yml:7: traffic.sources[3].ring_size: 4194304 bytes is less than 4 MiB per worker (2 workers)`,
			`bad.yml:7: traffic.sources[3].snaplen: 64 is outside 128–65535 (the classifier needs the headers)`,
			`bad.yml:8: traffic.sources[4].speed: "slow" is not one of fast, recorded`,
			`bad.yml:10: dns.resolvers[0].address: "192.0.2.53" is not addr:port (IPv6 as [addr]:53)`,
			`bad.yml:10: dns.resolvers[0].transport: "doh" is not one of udp, tcp, tls`,
			`bad.yml:11: dns.checks[0].dns64: a DNS64 check asks for AAAA, not A`,
			`bad.yml:11: dns.checks[1].name: duplicate check "c"`,
			`bad.yml:11: dns.checks[1].query: missing`,
			`bad.yml:11: dns.checks[1].type: "BOGUS" is not one of A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, HTTPS, SVCB, DS, DNSKEY`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := LoadBytes([]byte(tt.yaml), filepath.Join(dir, "bad.yml"))
			got := errorLines(t, err, dir)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// errorLines returns the load errors with the temp dir replaced by "DIR" and the
// leading "DIR/" of file names dropped.
func errorLines(t *testing.T, err error, dir string) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %T: %v", err, err)
	}
	var out []string
	for _, e := range errs {
		line := strings.TrimPrefix(e.Error(), dir+"/")
		out = append(out, strings.ReplaceAll(line, dir, "DIR"))
	}
	return out
}

func TestTargetFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("targets.d/hall-a.yml", "- {name: access-a1, address: 127.0.0.2, auth: v2, profiles: [if_mib]}\n- {name: access-a2, address: 127.0.0.3, auth: v2, profiles: [if_mib]}\n")
	write("targets.d/hall-b.yml", "- {name: access-b1, address: 127.0.0.4, auth: v2, profiles: [if_mib]}\n")
	main := `snmp:
  auths: {v2: {version: 2c, community: public}}
  targets: [{name: core1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]
  target_files: [targets.d/*.yml]
`
	cfg, err := LoadBytes([]byte(main), filepath.Join(dir, "meetnoc.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range cfg.SNMP.Targets {
		names = append(names, tg.Name)
	}
	if got := strings.Join(names, ","); got != "core1,access-a1,access-a2,access-b1" {
		t.Errorf("targets = %s", got)
	}

	// A mistake in a target file names that file and its line.
	write("targets.d/hall-c.yml", "- {name: access-c1, address: 127.0.0.5, auth: v2, profiles: [if_mib]}\n- {name: access-a1, address: 127.0.0.6, auth: nope, profiles: [if_mib], intreval: 5s}\n")
	_, err = LoadBytes([]byte(main), filepath.Join(dir, "meetnoc.yml"))
	got := errorLines(t, err, dir)
	want := []string{`targets.d/hall-c.yml:2: [1].intreval: unknown key (did you mean "interval"?)`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	write("targets.d/hall-c.yml", "- {name: access-c1, address: 127.0.0.5, auth: v2, profiles: [if_mib]}\n- {name: access-a1, address: 127.0.0.6, auth: nope, profiles: [if_mib]}\n")
	_, err = LoadBytes([]byte(main), filepath.Join(dir, "meetnoc.yml"))
	got = errorLines(t, err, dir)
	want = []string{
		`targets.d/hall-c.yml:2: [1].name: duplicate target "access-a1" (first defined at DIR/targets.d/hall-a.yml:line 1)`,
		`targets.d/hall-c.yml:2: [1].auth: unknown auth "nope" (defined: v2)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProfileFiles(t *testing.T) {
	dir := t.TempDir()
	// A site's own if_mib replaces the embedded one.
	own := `name: if_mib
tables:
  - name: interfaces
    labels: [{name: interface, oid: 1.3.6.1.2.1.2.2.1.2}]
    metrics:
      - {name: site_interface_in_octets_total, help: ifInOctets., type: counter, oid: 1.3.6.1.2.1.2.2.1.10}
`
	if err := os.WriteFile(filepath.Join(dir, "if_mib.yml"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := `name: broken
scalars:
  - {name: uptime, help: sysUpTime., type: counter, oid: 1.3.6.1.2.1.1.3.0}
  - {name: bad-name, type: histogram, oid: "1.3.x"}
tables:
  - name: t
    labels: [{name: ap, format: base64}, {name: ap, oid: 1.3.6.1.4.1.14179.2.2.1.1.3}]
    metrics: [{name: ap_clients, help: x, type: gauge, oid: 1.3.6.1.4.1.14179.2.2.2.1.15, aggregate: max, scale: 0, labels: {ap: x}}]
`
	if err := os.WriteFile(filepath.Join(dir, "broken.yml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "snmp:\n  auths: {v2: {version: 2c, community: public}}\n  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]\n"
	_, err := LoadBytes([]byte(base+"  profile_files: [\"*.yml\"]\n"), filepath.Join(dir, "meetnoc.yml"))
	got := errorLines(t, err, dir)
	want := []string{
		`broken.yml:3: scalars[0].name: counter "uptime" must end in _total`,
		`broken.yml:4: scalars[1].name: "bad-name" is not a valid metric name`,
		`broken.yml:4: scalars[1].help: missing: say what the metric is and which MIB object it comes from`,
		`broken.yml:4: scalars[1].type: "histogram" is not "counter" or "gauge"`,
		`broken.yml:4: scalars[1].oid: "1.3.x" is not a numeric OID (e.g. 1.3.6.1.2.1.31.1.1.1.6)`,
		`broken.yml:7: tables[0].labels[0].format: "base64" is not one of text, mac, hex, ipaddr, int, index`,
		`broken.yml:7: tables[0].labels[1].name: label "ap" is set twice`,
		`broken.yml:8: tables[0].metrics[0].scale: must not be 0`,
		`broken.yml:8: tables[0].metrics[0].aggregate: "max" is not "sum"`,
		`broken.yml:8: tables[0].metrics[0].labels.ap: label "ap" is already a table label`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	os.Remove(filepath.Join(dir, "broken.yml"))
	cfg, err := LoadBytes([]byte(base+"  profile_files: [\"*.yml\"]\n"), filepath.Join(dir, "meetnoc.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Profiles["if_mib"]
	if p.File != filepath.Join(dir, "if_mib.yml") || p.Tables[0].Metrics[0].Name != "site_interface_in_octets_total" || p.Tables[0].Metrics[0].Scale != 1 {
		t.Errorf("user profile did not replace the embedded one: %+v", p)
	}
}

// A profile can count clients, but never make a label of a client table.
func TestProfilePrivacy(t *testing.T) {
	dir := t.TempDir()
	leaky := `name: leaky
target_label: controller
tables:
  - name: clients
    labels:
      - {name: client, format: mac}
      - {name: ip, oid: 1.3.6.1.4.1.14179.2.1.4.1.2}
    metrics:
      - {name: client_rssi, help: bsnMobileStationRSSI., type: gauge, oid: 1.3.6.1.4.1.14179.2.1.4.1.6}
  - name: arp
    labels: [{name: interface, oid: 1.3.6.1.2.1.31.1.1.1.1, index_prefix: 1}]
    metrics:
      - {name: arp_entries, help: ipNetToMediaType rows per interface., type: gauge, oid: 1.3.6.1.2.1.4.22.1.4, aggregate: sum}
`
	if err := os.WriteFile(filepath.Join(dir, "leaky.yml"), []byte(leaky), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "snmp:\n  auths: {v2: {version: 2c, community: public}}\n  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [leaky]}]\n  profile_files: [leaky.yml]\n"
	_, err := LoadBytes([]byte(base), filepath.Join(dir, "meetnoc.yml"))
	got := errorLines(t, err, dir)
	want := []string{
		`leaky.yml:4: tables[0]: metric client_rssi reads AIRESPACE-WIRELESS-MIB bsnMobileStationTable (wireless clients) one row per client: it must aggregate: sum (attendee privacy)`,
		`leaky.yml:6: tables[0].labels[0]: label client would decode the index of AIRESPACE-WIRELESS-MIB bsnMobileStationTable (wireless clients), i.e. a client's address (attendee privacy)`,
		`leaky.yml:7: tables[0].labels[1]: label ip would read attendee identifiers from AIRESPACE-WIRELESS-MIB bsnMobileStationTable (wireless clients) (attendee privacy)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Secrets never show: not in the YAML shown on /config, not in fmt or slog output.
func TestSecretsMasked(t *testing.T) {
	cfg := mustLoad(t, `
snmp:
  auths:
    v2: {version: 2c, community: s3cret-community}
    v3: {version: 3, username: noc, auth_protocol: SHA256, auth_password: s3cret-auth, priv_protocol: AES, priv_password: s3cret-priv}
  targets: [{name: sw1, address: 127.0.0.1, auth: v2, profiles: [if_mib]}]
`)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shown := string(out) + fmt.Sprintf("%v %+v %s", cfg.SNMP.Auths["v2"], *cfg.SNMP.Auths["v3"], cfg.SNMP.Auths["v3"].PrivPassword)
	if strings.Contains(shown, "s3cret") {
		t.Errorf("a secret leaked:\n%s", shown)
	}
	if !strings.Contains(string(out), "community: <secret>") {
		t.Errorf("masked community missing from:\n%s", out)
	}
	if cfg.SNMP.Auths["v3"].PrivPassword.Value() != "s3cret-priv" {
		t.Error("Value() must give the secret to the code that authenticates")
	}
}

func TestTargetAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":          "192.0.2.1:161",
		"192.0.2.1:1161":     "192.0.2.1:1161",
		"2001:db8::1":        "[2001:db8::1]:161",
		"[2001:db8::1]:1161": "[2001:db8::1]:1161",
		"core1.noc.example":  "core1.noc.example:161",
		"localhost:16101":    "localhost:16101",
	} {
		got, err := TargetAddress(in)
		if err != nil || got != want {
			t.Errorf("TargetAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "[::1", "host:0", "a_b:161", "[::1]:x"} {
		if got, err := TargetAddress(bad); err == nil {
			t.Errorf("TargetAddress(%q) = %q, want an error", bad, got)
		}
	}
}
