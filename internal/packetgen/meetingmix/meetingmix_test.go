package meetingmix

import (
	"bytes"
	"testing"

	"github.com/meetnoc/meetnoc/internal/packetgen"
)

// TestStream checks that the stream is deterministic and holds every kind of
// frame the mix promises, in about the promised shares.
func TestStream(t *testing.T) {
	const n = 2 * RogueRAEvery
	count := func() (map[packetgen.Kind]int, map[string]int, []byte) {
		s, err := NewStream(Mix(7, true))
		if err != nil {
			t.Fatal(err)
		}
		kinds, families := map[packetgen.Kind]int{}, map[string]int{}
		var last []byte
		// n draws; a DHCP exchange's OFFER comes in addition to its draw.
		for s.n < n || s.pending != nil {
			f := s.Next()
			kinds[f.Kind]++
			families[f.Family]++
			last = f.Bytes
		}
		return kinds, families, last
	}
	kinds, families, last := count()
	_, _, again := count()
	if !bytes.Equal(last, again) {
		t.Error("two streams of the same seed differ")
	}
	if got := kinds[packetgen.KindRogueRouterAdvertisement]; got != 2 {
		t.Errorf("rogue RAs: %d, want 2", got)
	}
	if got, want := kinds[packetgen.KindRouterAdvertisement], n/RouterAdvertEvery-2; got != want {
		t.Errorf("RAs: %d, want %d", got, want)
	}
	if kinds[packetgen.KindDHCPDiscover] != kinds[packetgen.KindDHCPOffer] {
		t.Errorf("DISCOVERs %d ≠ OFFERs %d", kinds[packetgen.KindDHCPDiscover], kinds[packetgen.KindDHCPOffer])
	}
	within := func(what string, got int, share float64) {
		t.Helper()
		if want := share * n; float64(got) < 0.8*want || float64(got) > 1.2*want {
			t.Errorf("%s: %d of %d frames, want about %.0f", what, got, n, want)
		}
	}
	within("ARP", kinds[packetgen.KindARP], ARPShare)
	within("DHCP exchanges", kinds[packetgen.KindDHCPDiscover], DHCPShare)
	// Data frames by family, weighted by the SSIDs' clients (700/300/100).
	within("nat64", families[packetgen.FamilyNAT64], 700.0/1100*0.38)
	within("ipv4", families[packetgen.FamilyIPv4]-kinds[packetgen.KindDHCPDiscover]*2, (700*0.07+300*0.4+100*0.55)/1100)
}

func TestConfig(t *testing.T) {
	m := Mix(1, true)
	cfg, err := Config(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SSIDs) != len(m.SSIDs) || len(cfg.NAT64Prefixes) != 1 || cfg.NAT64Prefixes[0] != NAT64Prefix {
		t.Fatalf("config: %+v", cfg)
	}
	for i, s := range cfg.SSIDs {
		ms := m.SSIDs[i]
		if s.Name != ms.Name || len(s.VLANs) != 1 || s.VLANs[0] != ms.VLAN || len(s.ClientPrefixes) != 2 ||
			s.ClientPrefixes[0] != ms.ClientPrefix6 || s.ClientPrefixes[1] != ms.ClientPrefix4 ||
			len(s.DHCPServers) != 1 || s.DHCPServers[0] != ms.DHCPServer {
			t.Errorf("SSID %d: %+v, mix %+v", i, s, ms)
		}
	}
}
