package lab

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"text/template"
	"time"
)

// DefaultBasePort is the first port of the lab's agents in configs/lab.yml:
// Start with this BasePort listens where that file points.
const DefaultBasePort = 16101

// deviceInfo is how a poller reaches d at addr.
func deviceInfo(d *deviceModel, addr string) Device {
	auth := AuthV2c
	if d.v3 {
		auth = AuthV3
	}
	return Device{
		Name: d.name, Role: d.role, Room: d.room, Address: addr,
		Profiles: append([]string(nil), d.profiles...), Auth: auth,
	}
}

// plannedDevices lists m's devices at consecutive ports from basePort.
func plannedDevices(m *model, host string, basePort int) []Device {
	out := make([]Device, len(m.devices))
	for i, d := range m.devices {
		out[i] = deviceInfo(d, net.JoinHostPort(host, strconv.Itoa(basePort+i)))
	}
	return out
}

// describe is a device's line in the config's header.
func describe(d Device) string {
	switch d.Role {
	case RoleCore:
		return "core switch, Catalyst 3850-like, 52 ports, SNMPv3 authPriv"
	case RoleWLC:
		return fmt.Sprintf("wireless controller, AireOS-like, %d APs, SNMPv3 authPriv", countAPs())
	default:
		return fmt.Sprintf("access switch, 2960-X-like, 48+2 ports, %s, SNMP v2c", d.Room)
	}
}

func countAPs() int {
	n := 0
	for _, r := range rooms {
		n += r.aps
	}
	return n
}

// configTemplate is the lab config. snmp.targets stays the last section:
// internal/daemon's tests append targets to the generated text.
var configTemplate = template.Must(template.New("lab.yml").Funcs(template.FuncMap{
	"describe": describe,
	"quote":    strconv.Quote,
	"failing":  func() string { return fmt.Sprintf("ietf-ap-%02d", failingAP) },
}).Parse(`# meetnoc lab: the simulated meeting network that "meetnoc lab" (and "make run")
# starts on loopback, and the config that polls it. Every device is an SNMP agent
# inside the meetnoc process; its counters and client counts follow a meeting day
# (quiet at night, busy in sessions, dipping in breaks) in the host's time zone.
#
{{- range .Devices}}
#   {{printf "%-16s" .Address}} {{printf "%-8s" .Name}} {{describe .}}
{{- end}}
#
# wlc1 loses {{failing}} for two minutes every quarter hour (at :10, :25, :40 and :55).
# Like a real AireOS controller it then drops the AP from its tables, and the AP's
# clients roam to the other APs in the Lobby.
#
# The access switches export sFlow to {{.SFlow}}, sampling 1 in {{.Sampling}}, each from
# its loopback (access1 127.0.1.1 … access4 127.0.1.4): on ietf mostly IPv6 with NAT64,
# on ietf-dual-stack and eduroam about 60 % IPv6; DHCP with option 108; the router's
# RAs carry ietf's PREF64. One minute in fifteen (at :07, :22, :37 and :52) a
# misconfigured laptop on ietf-dual-stack floods rogue RAs with a wrong PREF64.
#
# The DNS64 resolver at {{.DNS}} (UDP and TCP) answers for meeting.test
# and ipv4only.arpa as the meeting's recursive resolver would, synthesizing AAAA
# records in {{.NAT64}} for names with only A records. Four minutes an hour it
# misbehaves, one way each:
{{- range .DNSFaults}}
#   :{{printf "%02d" .Minute}}  {{.What}}
{{- end}}
# The netlink collector watches the host's loopback: the lab has no VLANs.
#
{{- if .NAT64Netns}}
# The NAT64 is Debian's TAYGA in the network namespace {{.NAT64Netns}}, translating
# {{.NAT64}} to an IPv4-only web server at {{.NAT64Target}}; the NAT64 probe enters the
# namespace (netns) and connects from {{.NAT64Client}} in ietf's prefix. TAYGA
# stops for one minute an hour, at :{{printf "%02d" .NAT64Outage}}. The NAT64 needs root ("meetnoc lab" as root
# makes it; without root it leaves nat64_probes out).
{{- else}}
# No NAT64: it needs root ("meetnoc lab" as root makes one in a network namespace).
{{- end}}
#
# {{.Note}}

meeting:
  name: meetnoc lab

ssids:
{{- range .SSIDs}}
  - name: {{.Name}}
    vlans: [{{.VLAN}}]
    client_prefixes: [{{.IPv6}}, {{.IPv4}}]
    routers: [{{.RouterLL}}, {{quote .RouterMAC}}]
    dhcp_servers: [{{.DHCP}}]
{{- end}}

nat64_prefixes: [{{.NAT64}}]

traffic:
  sources:
    - name: switches
      type: sflow
      listen: {{quote .SFlow}}
      agents: [127.0.0.0/8, "::1/128"]

dns:
  interval: 10s
  timeout: 1s
  resolvers:
    - name: lab-dns64
      address: {{quote .DNS}}
      ssid: ietf
  checks:
    - name: dns64
      query: ipv4only.arpa
      type: AAAA
      dns64: true
    - name: www-aaaa
      query: www.meeting.test
      type: AAAA
      not_synthesized: true
    - name: v4only-aaaa
      query: v4only.meeting.test
      type: AAAA
      dns64: true
    - name: www-a
      query: www.meeting.test
      type: A
    - name: nxdomain
      query: no-such-name.meeting.test
      type: A
      rcode: NXDOMAIN

{{- if .NAT64Netns}}

nat64_probes:
  interval: 10s
  timeout: 1s
  targets:
    - name: {{.NAT64TargetName}}
      address: {{quote .NAT64Target}}
      source_address: {{quote .NAT64Client}}
      icmp: true
      netns: {{.NAT64Netns}}
{{- end}}

netlink:
  interfaces: [lo]

snmp:
  interval: 10s
  timeout: 2s
  retries: 1
  auths:
    {{.AuthV2c}}:
      version: "2c"
      community: {{.Community}}
    {{.AuthV3}}:
      version: "3"
      username: {{.User}}
      security_level: authPriv
      auth_protocol: SHA256
      # Inline passphrases are for the lab only: in production use auth_password_file
      # and priv_password_file (systemd credentials), so that no secret sits in a config.
      auth_password: {{.AuthPass}}
      priv_protocol: AES
      priv_password: {{.PrivPass}}
  targets:
{{- range .Devices}}
    - name: {{.Name}}
      address: {{quote .Address}}
      auth: {{.Auth}}
      profiles: [{{range $i, $p := .Profiles}}{{if $i}}, {{end}}{{$p}}{{end}}]
      labels: {role: {{.Role}}, room: {{quote .Room}}}
{{- end}}
`))

// labSSID is an SSID's addressing in the lab config (see wlanAddressing) and
// its gateway, the router whose RAs are allowed.
type labSSID struct {
	Name                string
	VLAN                int
	IPv6, IPv4          string
	DHCP                string
	RouterLL, RouterMAC string
}

// Notes at the end of the generated config's header.
const (
	fileNote = "Generated by internal/lab (go test ./internal/lab -run TestLabConfigFile -update)."
	runNote  = "Generated by the lab for the agents of this run."
)

// labConfig is what the lab config is made of.
type labConfig struct {
	devices    []Device
	sflow      string // where the access switches send sFlow (1 in sampling)
	sampling   uint32
	dns        string // the DNS64 resolver
	nat64Netns string // the NAT64's namespace; "" leaves nat64_probes out
	note       string // the last line of the header
}

// configYAML renders the lab config c.
func configYAML(c labConfig) []byte {
	var ssids []labSSID
	for i, wl := range WLANs {
		v6, v4, dhcp := wlanAddressing(i, wl)
		ssids = append(ssids, labSSID{
			Name: wl.SSID, VLAN: wl.VLAN, IPv6: v6.String(), IPv4: v4.String(), DHCP: dhcp.String(),
			RouterLL: routerLinkLocal.String(), RouterMAC: routerMAC.String(),
		})
	}
	type dnsFault struct {
		Minute int
		What   string
	}
	var faults []dnsFault
	for _, w := range dnsFaultSchedule {
		faults = append(faults, dnsFault{w.minute, w.what})
	}
	var b bytes.Buffer
	err := configTemplate.Execute(&b, map[string]any{
		"Devices": c.devices, "SSIDs": ssids, "Note": c.note,
		"SFlow": c.sflow, "Sampling": c.sampling, "NAT64": labNAT64,
		"DNS": c.dns, "DNSFaults": faults,
		"NAT64Netns": c.nat64Netns, "NAT64Target": NAT64Target().String(), "NAT64TargetName": nat64TargetName,
		"NAT64Client": nat64Client.String(), "NAT64Outage": nat64OutageMinute,
		"AuthV2c": AuthV2c, "AuthV3": AuthV3, "Community": Community,
		"User": V3User, "AuthPass": V3AuthPassphrase, "PrivPass": V3PrivPassphrase,
	})
	if err != nil {
		panic(err) // the template and its data are fixed: a failure is a bug here
	}
	return b.Bytes()
}

var (
	intervalLine = regexp.MustCompile(`(?m)^(\s+interval:) \d+s$`)
	timeoutLine  = regexp.MustCompile(`(?m)^(\s+timeout:) \d+s$`)
)

// Quicken rewrites a lab config so that every poll and probe runs each
// interval with timeout: tests want to see several rounds in seconds, not
// minutes. The answers are the same.
func Quicken(cfg []byte, interval, timeout time.Duration) []byte {
	cfg = intervalLine.ReplaceAll(cfg, []byte("${1} "+interval.String()))
	return timeoutLine.ReplaceAll(cfg, []byte("${1} "+timeout.String()))
}
