package lab

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite configs/lab.yml from the lab's devices")

// configs/lab.yml is what the lab generates for its default ports, and loads as
// a valid meetnoc config.
func TestLabConfigFile(t *testing.T) {
	want := configYAML(fileConfig())
	path := filepath.Join("..", "..", "configs", "lab.yml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the lab generates; run go test ./internal/lab -run TestLabConfigFile -update\n--- generated:\n%s", path, want)
	}
	cfg, err := config.LoadBytes(got, path)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", path, err)
	}
	var addrs []string
	for _, tg := range cfg.SNMP.Targets {
		addrs = append(addrs, tg.Address)
	}
	wantAddrs := []string{"127.0.0.1:16101", "127.0.0.1:16102", "127.0.0.1:16103", "127.0.0.1:16104", "127.0.0.1:16105", "127.0.0.1:16106", "127.0.0.1:16107"}
	if !slices.Equal(addrs, wantAddrs) {
		t.Errorf("targets at %v, want %v", addrs, wantAddrs)
	}
	v3 := cfg.SNMP.Auths[AuthV3]
	if v3 == nil || v3.AuthPassword.Value() != V3AuthPassphrase || v3.PrivPassword.Value() != V3PrivPassphrase || v3.Username != V3User {
		t.Errorf("auth %s = %+v, want the lab's v3 user", AuthV3, v3)
	}
	if c := cfg.SNMP.Auths[AuthV2c]; c == nil || c.Community.Value() != Community {
		t.Errorf("auth %s = %+v, want community %q", AuthV2c, c, Community)
	}
}

// startLab starts the network on random ports at real time and stops it with the test.
func startLab(t *testing.T, opts Options) *Network {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// client is a gosnmp manager for d with the lab's credentials.
func client(t *testing.T, d Device) *gosnmp.GoSNMP {
	t.Helper()
	host, portText, err := net.SplitHostPort(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	g := &gosnmp.GoSNMP{
		Target: host, Port: uint16(port), Transport: "udp",
		Timeout: 2 * time.Second, Retries: 1, MaxRepetitions: 25,
		Version: gosnmp.Version2c, Community: Community,
	}
	if d.Auth == AuthV3 {
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 V3User,
			AuthenticationProtocol:   gosnmp.SHA256,
			AuthenticationPassphrase: V3AuthPassphrase,
			PrivacyProtocol:          gosnmp.AES,
			PrivacyPassphrase:        V3PrivPassphrase,
		}
	}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

func deviceOf(t *testing.T, n *Network, name string) Device {
	t.Helper()
	for _, d := range n.Devices() {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no device %s", name)
	return Device{}
}

func pduText(p gosnmp.SnmpPDU) string {
	if b, ok := p.Value.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(p.Value)
}

func TestNetworkAnswersSNMP(t *testing.T) {
	t.Parallel()
	n := startLab(t, Options{})
	devices := n.Devices()
	if len(devices) != 7 {
		t.Fatalf("%d devices, want 7", len(devices))
	}

	// core1 over SNMPv3 authPriv: its interfaces by name.
	core1 := deviceOf(t, n, "core1")
	if core1.Auth != AuthV3 || !slices.Equal(core1.Profiles, []string{"if_mib"}) {
		t.Errorf("core1: %+v", core1)
	}
	names, err := client(t, core1).BulkWalkAll("1.3.6.1.2.1.31.1.1.1.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 50 {
		t.Fatalf("core1 ifName walk: %d rows, want 50+", len(names))
	}
	var got []string
	for _, p := range names {
		got = append(got, pduText(p))
	}
	for _, want := range []string{"Te1/0/1", "Te1/0/48", "Fo1/1/1", "Vl100"} {
		if !slices.Contains(got, want) {
			t.Errorf("core1 ifName has no %s: %v", want, got)
		}
	}

	// access1 over v2c: counters that move.
	access1 := deviceOf(t, n, "access1")
	g := client(t, access1)
	hc := ".1.3.6.1.2.1.31.1.1.1.10.10201" // Te1/0/1 ifHCOutOctets
	first, err := g.Get([]string{hc, ".1.3.6.1.2.1.1.5.0"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Variables[0].Type != gosnmp.Counter64 || pduText(first.Variables[1]) != "access1" {
		t.Errorf("access1 answered %+v", first.Variables)
	}
	time.Sleep(50 * time.Millisecond)
	second, err := g.Get([]string{hc})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := gosnmp.ToBigInt(first.Variables[0].Value), gosnmp.ToBigInt(second.Variables[0].Value); b.Cmp(a) <= 0 {
		t.Errorf("access1 uplink ifHCOutOctets did not grow: %v then %v", a, b)
	}

	// wlc1 over v3: the APs by name, as text.
	wlc := deviceOf(t, n, "wlc1")
	if !slices.Equal(wlc.Profiles, []string{"if_mib", "cisco_wlc"}) {
		t.Errorf("wlc1 profiles %v", wlc.Profiles)
	}
	aps, err := client(t, wlc).BulkWalkAll(".1.3.6.1.4.1.14179.2.2.1.1.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(aps) < 39 || !strings.HasPrefix(pduText(aps[0]), "ietf-ap-") {
		t.Errorf("wlc1 bsnAPName walk: %d rows, first %q", len(aps), pduText(aps[0]))
	}

	// The generated config loads and points at these agents.
	cfg, err := config.LoadBytes(n.ConfigYAML(), "lab.yml")
	if err != nil {
		t.Fatalf("ConfigYAML does not load:\n%v\n%s", err, n.ConfigYAML())
	}
	if len(cfg.SNMP.Targets) != len(devices) {
		t.Fatalf("%d targets for %d devices", len(cfg.SNMP.Targets), len(devices))
	}
	for i, tg := range cfg.SNMP.Targets {
		d := devices[i]
		if tg.Name != d.Name || tg.Address != d.Address || tg.Auth != d.Auth || tg.Labels["role"] != d.Role || tg.Labels["room"] != d.Room {
			t.Errorf("target %+v does not match device %+v", tg, d)
		}
	}
}

// A wrong community gets no answer, and a restart sends sysUpTime back.
func TestNetworkFaults(t *testing.T) {
	t.Parallel()
	n := startLab(t, Options{})
	access2 := deviceOf(t, n, "access2")
	g := client(t, access2)
	g.Community, g.Timeout, g.Retries = "wrong", 200*time.Millisecond, 0
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("a wrong community got an answer")
	}

	g = client(t, access2)
	uptime := func() uint32 {
		r, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Variables[0].Value.(uint32)
	}
	time.Sleep(1100 * time.Millisecond)
	before := uptime()
	if err := n.Restart("access2"); err != nil {
		t.Fatal(err)
	}
	if after := uptime(); before < 100 || after >= before {
		t.Errorf("sysUpTime %d before the restart, %d after", before, after)
	}
	if err := n.Restart("nonesuch"); err == nil {
		t.Error("restarting an unknown device did not fail")
	}

	n.Faults("access2").SetDrop(true)
	g.Timeout, g.Retries = 200*time.Millisecond, 0
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("a dropping agent answered")
	}
}

// BasePort puts the agents on consecutive ports in the order of Devices.
func TestNetworkBasePort(t *testing.T) {
	t.Parallel()
	var n *Network
	var base int
	for range 10 {
		base = 20000 + rand.IntN(30000)
		ctx, cancel := context.WithCancel(context.Background())
		var err error
		if n, err = Start(ctx, Options{BasePort: base}); err == nil {
			t.Cleanup(func() { cancel(); n.Close() })
			break
		}
		cancel()
	}
	if n == nil {
		t.Fatal("no free run of ports found")
	}
	for i, d := range n.Devices() {
		if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)); d.Address != want {
			t.Errorf("%s at %s, want %s", d.Name, d.Address, want)
		}
	}
	// After the devices: the sFlow collector, then the DNS64 resolver.
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+8)); n.DNSResolver() != want {
		t.Errorf("DNS64 resolver at %s, want %s", n.DNSResolver(), want)
	}
}

func TestServeRecording(t *testing.T) {
	t.Parallel()
	path := testenv.SharedSnmprec(t, "ios_2960x")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := ServeRecording(ctx, "127.0.0.1:0", path, "ios_2960x")
	if err != nil {
		t.Fatal(err)
	}
	g := client(t, Device{Address: a.Addr(), Auth: AuthV2c})
	g.Community = "ios_2960x"
	names, err := g.BulkWalkAll(".1.3.6.1.2.1.31.1.1.1.1")
	if err != nil {
		t.Fatal(err)
	}
	// The recording holds 146 interfaces; Gi1/0/1 has ifIndex 10101.
	if len(names) != 146 {
		t.Errorf("%d interfaces in the recording, want 146", len(names))
	}
	found := false
	for _, p := range names {
		if p.Name == ".1.3.6.1.2.1.31.1.1.1.1.10101" && pduText(p) == "Gi1/0/1" {
			found = true
		}
	}
	if !found {
		t.Error("ifName.10101 is not Gi1/0/1")
	}
}
