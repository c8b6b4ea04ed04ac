package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// OIDs the tests read expectations from. They are written out here, not taken from
// the profiles, so that a wrong OID in a profile shows up as a wrong value.
const (
	ifDescr       = "1.3.6.1.2.1.2.2.1.2"
	ifAdminStatus = "1.3.6.1.2.1.2.2.1.7"
	ifOperStatus  = "1.3.6.1.2.1.2.2.1.8"
	ifInOctets    = "1.3.6.1.2.1.2.2.1.10"
	ifInDiscards  = "1.3.6.1.2.1.2.2.1.13"
	ifInErrors    = "1.3.6.1.2.1.2.2.1.14"
	ifOutOctets   = "1.3.6.1.2.1.2.2.1.16"
	ifOutDiscards = "1.3.6.1.2.1.2.2.1.19"
	ifOutErrors   = "1.3.6.1.2.1.2.2.1.20"
	ifName        = "1.3.6.1.2.1.31.1.1.1.1"
	ifHCInOctets  = "1.3.6.1.2.1.31.1.1.1.6"
	ifHCOutOctets = "1.3.6.1.2.1.31.1.1.1.10"
	ifHighSpeed   = "1.3.6.1.2.1.31.1.1.1.15"
	ifAlias       = "1.3.6.1.2.1.31.1.1.1.18"
)

// snmpsimConfig is a config polling snmpsim: one v2c auth per community.
func snmpsimConfig(communities []string, targets string) string {
	var b strings.Builder
	b.WriteString("meeting: {name: integration}\nsnmp:\n  timeout: 3s\n  retries: 1\n  auths:\n")
	for _, c := range communities {
		fmt.Fprintf(&b, "    %s: {version: 2c, community: %s}\n", c, c)
	}
	b.WriteString("  targets:\n")
	b.WriteString(targets)
	return b.String()
}

// label text as the poller makes it from an OCTET STRING: surrounding space
// trimmed (the recordings hold no control characters or overlong names).
func labelText(v testenv.RecordedVar) string { return strings.TrimSpace(v.String()) }

func number(t *testing.T, v testenv.RecordedVar) float64 {
	t.Helper()
	n, err := v.Number()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkIfMib compares every interface the if_mib profile exports for target with
// the recording: one series per row of ifOperStatus, named by ifName (ifDescr
// where missing), 64-bit octet counters with the 32-bit ones only where the 64-bit
// cell is missing, errors, discards, state and speed. It returns the number of
// interfaces.
func checkIfMib(t *testing.T, e exposition, rec *testenv.Recording, target string) int {
	t.Helper()
	oper := rec.Column(ifOperStatus)
	names, descrs, aliases := rec.Column(ifName), rec.Column(ifDescr), rec.Column(ifAlias)
	if got := len(e.series("meetnoc_interface_up", map[string]string{"target": target})); got != len(oper) {
		t.Errorf("%s: %d meetnoc_interface_up series, want %d (rows of ifOperStatus)", target, got, len(oper))
	}
	for _, idx := range testenv.SortedIndexes(oper) {
		ifc := idx
		if v, ok := names[idx]; ok {
			ifc = labelText(v)
		} else if v, ok := descrs[idx]; ok {
			ifc = labelText(v)
		}
		alias := idx
		if v, ok := aliases[idx]; ok {
			alias = labelText(v)
		}
		row := map[string]string{"target": target, "interface": ifc, "alias": alias}

		wantUp := 0.0
		if number(t, oper[idx]) == 1 {
			wantUp = 1
		}
		e.expectValue(t, "meetnoc_interface_up", row, wantUp)

		for _, c := range []struct {
			metric     string
			hc, lowcap string
		}{
			{"meetnoc_interface_receive_bytes_total", ifHCInOctets, ifInOctets},
			{"meetnoc_interface_transmit_bytes_total", ifHCOutOctets, ifOutOctets},
		} {
			hc, okHC := rec.Get(c.hc + "." + idx)
			low, okLow := rec.Get(c.lowcap + "." + idx)
			switch {
			case okHC:
				e.expectValue(t, c.metric, row, number(t, hc))
			case okLow:
				e.expectValue(t, c.metric, row, number(t, low))
			default:
				if s := e.series(c.metric, row); len(s) != 0 {
					t.Errorf("%s%v exported, but the recording has neither counter", c.metric, row)
				}
			}
		}
		for metric, col := range map[string]string{
			"meetnoc_interface_receive_errors_total":    ifInErrors,
			"meetnoc_interface_transmit_errors_total":   ifOutErrors,
			"meetnoc_interface_receive_discards_total":  ifInDiscards,
			"meetnoc_interface_transmit_discards_total": ifOutDiscards,
		} {
			if v, ok := rec.Get(col + "." + idx); ok {
				e.expectValue(t, metric, row, number(t, v))
			} else if s := e.series(metric, row); len(s) != 0 {
				t.Errorf("%s%v exported, but the recording has no %s.%s", metric, row, col, idx)
			}
		}
		if v, ok := rec.Get(ifHighSpeed + "." + idx); ok {
			e.expectValue(t, "meetnoc_interface_speed_bytes", row, number(t, v)*125000)
		}
		if v, ok := rec.Get(ifAdminStatus + "." + idx); ok {
			want := 0.0
			if number(t, v) == 1 {
				want = 1
			}
			e.expectValue(t, "meetnoc_interface_admin_up", row, want)
		}
	}
	return len(oper)
}

func TestCatalyst2960XRecording(t *testing.T) {
	path := testenv.SharedSnmprec(t, "ios_2960x")
	rec := testenv.ReadSnmprec(t, path)
	sim := testenv.StartSnmpsim(t, filepath.Dir(path))
	c, _ := newCollector(t, snmpsimConfig([]string{"ios_2960x"},
		targetYAML("access-2960x", sim.Addr(), "ios_2960x", "if_mib")))
	st := pollOK(t, c, "access-2960x")
	e := gather(t, c)

	if n := checkIfMib(t, e, rec, "access-2960x"); n != 146 {
		t.Errorf("the 2960X recording has %d interfaces, want 146", n)
	}
	// Spot checks written out, so that a reader sees what the table test compares.
	gi1 := map[string]string{"interface": "Gi1/0/1", "alias": "** DECT ***"}
	e.expectValue(t, "meetnoc_interface_receive_bytes_total", gi1, 398132500)
	e.expectValue(t, "meetnoc_interface_speed_bytes", gi1, 100*125000)
	e.expectValue(t, "meetnoc_interface_up", map[string]string{"interface": "Po1", "alias": "*** to acme-fr-s-001 ***"}, 1)
	e.expectValue(t, "meetnoc_interface_speed_bytes", map[string]string{"interface": "Po1"}, 2000*125000)
	// Stack ports have no octet counters at all in the recording: no series, and
	// no zero passed off as a value.
	if s := e.series("meetnoc_interface_receive_bytes_total", map[string]string{"interface": "StackPort1"}); len(s) != 0 {
		t.Errorf("StackPort1 has receive bytes %v; the recording has no counter for it", s)
	}
	if st.Samples == 0 || st.Varbinds == 0 {
		t.Errorf("status: %d samples from %d varbinds", st.Samples, st.Varbinds)
	}
}

func TestArubaControllerRecording(t *testing.T) {
	path := testenv.SharedSnmprec(t, "arubaos")
	rec := testenv.ReadSnmprec(t, path)
	sim := testenv.StartSnmpsim(t, filepath.Dir(path))
	c, _ := newCollector(t, snmpsimConfig([]string{"arubaos"},
		targetYAML("aruba-1", sim.Addr(), "arubaos", "aruba_wlc", "if_mib")))
	pollOK(t, c, "aruba-1")
	e := gather(t, c)

	// The recording has the radio table only (LibreNMS's columns): the AP name of
	// each radio, and its associated clients.
	const radio = "1.3.6.1.4.1.14823.2.2.1.5.2.1.5.1"
	apNames := rec.Column(radio + ".16") // wlanAPRadioAPName
	clients := rec.Column(radio + ".7")  // wlanAPRadioNumAssociatedClients
	if len(apNames) != 1380 {
		t.Fatalf("recording has %d radios, want 1380", len(apNames))
	}
	want := map[string]float64{}
	for idx, name := range apNames {
		c, ok := clients[idx]
		if !ok {
			t.Fatalf("radio %s has no client count", idx)
		}
		want[labelText(name)] += number(t, c)
	}
	if len(want) != 690 {
		t.Fatalf("recording has %d AP names, want 690", len(want))
	}

	ctrl := map[string]string{"controller": "aruba-1"}
	if got := len(e.series("meetnoc_ap_up", ctrl)); got != 690 {
		t.Errorf("%d meetnoc_ap_up series, want 690", got)
	}
	if got := len(e.series("meetnoc_ap_clients", ctrl)); got != 690 {
		t.Errorf("%d meetnoc_ap_clients series, want 690", got)
	}
	for ap, n := range want {
		e.expectValue(t, "meetnoc_ap_up", map[string]string{"controller": "aruba-1", "ap": ap}, 1)
		e.expectValue(t, "meetnoc_ap_clients", map[string]string{"controller": "aruba-1", "ap": ap}, n)
	}
	// Two written out: radio 1 and 2 of ar6-bib4le2n (0.78.53.194.34.232) have 18
	// and 3 clients.
	e.expectValue(t, "meetnoc_ap_clients", map[string]string{"ap": "ar6-bib4le2n"}, 21)

	// No ESSID table in the recording: no SSID series rather than invented ones.
	if s := e.series("meetnoc_ssid_clients", ctrl); len(s) != 0 {
		t.Errorf("meetnoc_ssid_clients from a recording without wlsxWlanESSIDTable: %d series", len(s))
	}
	// The WLAN MIB's totals are missing; WLSX-SWITCH-MIB's are there.
	e.expectValue(t, "meetnoc_controller_aps", ctrl, number(t, mustGet(t, rec, "1.3.6.1.4.1.14823.2.2.1.1.3.1.0")))
	e.expectValue(t, "meetnoc_controller_clients", ctrl, number(t, mustGet(t, rec, "1.3.6.1.4.1.14823.2.2.1.1.3.2.0")))

	if n := checkIfMib(t, e, rec, "aruba-1"); n != 97 {
		t.Errorf("the Aruba recording has %d interfaces, want 97", n)
	}
}

func mustGet(t *testing.T, rec *testenv.Recording, oid string) testenv.RecordedVar {
	t.Helper()
	v, ok := rec.Get(oid)
	if !ok {
		t.Fatalf("recording has no %s", oid)
	}
	return v
}

func TestLinuxHostRecording(t *testing.T) {
	path := testenv.SharedSnmprec(t, "linux_icecast")
	rec := testenv.ReadSnmprec(t, path)
	sim := testenv.StartSnmpsim(t, filepath.Dir(path))
	c, _ := newCollector(t, snmpsimConfig([]string{"linux_icecast"},
		targetYAML("stream-1", sim.Addr(), "linux_icecast", "host", "if_mib")))
	pollOK(t, c, "stream-1")
	e := gather(t, c)
	host := map[string]string{"target": "stream-1"}
	val := func(oid string) float64 { return number(t, mustGet(t, rec, oid)) }

	for metric, oid := range map[string]string{
		"meetnoc_host_memory_total_bytes":   "1.3.6.1.4.1.2021.4.5.0",
		"meetnoc_host_memory_free_bytes":    "1.3.6.1.4.1.2021.4.6.0",
		"meetnoc_host_memory_shared_bytes":  "1.3.6.1.4.1.2021.4.13.0",
		"meetnoc_host_memory_buffers_bytes": "1.3.6.1.4.1.2021.4.14.0",
		"meetnoc_host_memory_cached_bytes":  "1.3.6.1.4.1.2021.4.15.0",
		"meetnoc_host_swap_total_bytes":     "1.3.6.1.4.1.2021.4.3.0",
		"meetnoc_host_swap_free_bytes":      "1.3.6.1.4.1.2021.4.4.0",
	} {
		e.expectValue(t, metric, host, val(oid)*1024)
	}
	e.expectValue(t, "meetnoc_host_memory_total_bytes", host, 841176*1024)
	// memSysAvail is not in the recording (snmpsim answers noSuchInstance).
	if s := e.series("meetnoc_host_memory_available_bytes", host); len(s) != 0 {
		t.Errorf("meetnoc_host_memory_available_bytes exported from a recording without memSysAvail")
	}
	for mode, oid := range map[string]string{
		"user": "1.3.6.1.4.1.2021.11.50.0", "nice": "1.3.6.1.4.1.2021.11.51.0",
		"system": "1.3.6.1.4.1.2021.11.52.0", "idle": "1.3.6.1.4.1.2021.11.53.0",
		"iowait": "1.3.6.1.4.1.2021.11.54.0", "irq": "1.3.6.1.4.1.2021.11.56.0",
		"softirq": "1.3.6.1.4.1.2021.11.61.0", "steal": "1.3.6.1.4.1.2021.11.64.0",
	} {
		e.expectValue(t, "meetnoc_host_cpu_seconds_total", map[string]string{"target": "stream-1", "mode": mode}, val(oid)*0.01)
	}
	if got := len(e.series("meetnoc_host_cpu_seconds_total", host)); got != 8 {
		t.Errorf("%d CPU modes, want 8", got)
	}
	e.expectValue(t, "meetnoc_host_cpus", host, 1)
	e.expectValue(t, "meetnoc_host_uptime_seconds", host, val("1.3.6.1.2.1.25.1.1.0")*0.01)
	e.expectValue(t, "meetnoc_host_processes", host, 115)
	e.expectValue(t, "meetnoc_host_processor_load_ratio", map[string]string{"target": "stream-1", "processor": "196608"}, 13*0.01)
	e.expectValue(t, "meetnoc_host_load", map[string]string{"target": "stream-1", "period": "1m"}, 11*0.01)
	e.expectValue(t, "meetnoc_host_load", map[string]string{"target": "stream-1", "period": "5m"}, 9*0.01)
	e.expectValue(t, "meetnoc_host_load", map[string]string{"target": "stream-1", "period": "15m"}, 9*0.01)

	if n := checkIfMib(t, e, rec, "stream-1"); n != 3 {
		t.Errorf("the Linux recording has %d interfaces, want 3", n)
	}
	e.expectValue(t, "meetnoc_interface_receive_bytes_total", map[string]string{"interface": "eth0"}, 11781310571002)
}

// ciscoAP is an AP as collectors/snmp/testdata/README.md says the Cisco
// recordings hold it.
type ciscoAP struct {
	name    string
	up      float64
	clients float64
}

var ciscoAPs = []ciscoAP{
	{"hall-a-1", 1, 43},
	{"hall-a-2", 1, 26},
	{"plenary-1", 1, 128},
	{"plenary-2", 0, 0},  // disassociating(2)
	{"salle-été", 1, 17}, // UTF-8 name, stored as hex
	{"terrace-1", 0, 0},  // downloading(3)
}

var ciscoSSIDs = map[string]float64{"ietf": 120 + 19, "ietf-dual-stack": 45, "eduroam": 30}

func checkCisco(t *testing.T, e exposition, controller string, aps []ciscoAP) {
	t.Helper()
	ctrl := map[string]string{"controller": controller}
	if got, want := e.labelValues("meetnoc_ap_up", "ap", ctrl), sortedNames(aps); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: APs %q, want %q", controller, got, want)
	}
	for _, ap := range aps {
		l := map[string]string{"controller": controller, "ap": ap.name}
		e.expectValue(t, "meetnoc_ap_up", l, ap.up)
		e.expectValue(t, "meetnoc_ap_clients", l, ap.clients)
	}
	if got := len(e.series("meetnoc_ssid_clients", ctrl)); got != len(ciscoSSIDs) {
		t.Errorf("%s: %d SSIDs, want %d", controller, got, len(ciscoSSIDs))
	}
	for ssid, n := range ciscoSSIDs {
		e.expectValue(t, "meetnoc_ssid_clients", map[string]string{"controller": controller, "ssid": ssid}, n)
	}
}

func sortedNames(aps []ciscoAP) []string {
	var out []string
	for _, a := range aps {
		out = append(out, a.name)
	}
	slices.Sort(out)
	return out
}

// TestProjectControllerRecordings serves collectors/snmp/testdata: the Cisco
// AireOS-like and 9800-like controllers and an Aruba controller with the tables the
// shared Aruba recording lacks.
func TestProjectControllerRecordings(t *testing.T) {
	sim := testenv.StartSnmpsim(t, recordingsDir(t))
	c, _ := newCollector(t, snmpsimConfig([]string{"cisco_wlc", "cisco_9800", "aruba_wlc"},
		targetYAML("wlc-aireos", sim.Addr(), "cisco_wlc", "cisco_wlc")+
			targetYAML("wlc-9800", sim.Addr(), "cisco_9800", "cisco_wlc")+
			targetYAML("aruba-2", sim.Addr(), "aruba_wlc", "aruba_wlc")))
	for _, target := range []string{"wlc-aireos", "wlc-9800", "aruba-2"} {
		pollOK(t, c, target)
	}
	e := gather(t, c)

	checkCisco(t, e, "wlc-aireos", ciscoAPs)
	// The 9800-like recording names APs and SSIDs only in the CISCO-LWAPP MIBs.
	checkCisco(t, e, "wlc-9800", ciscoAPs[:4])

	// AP names are text, never hex, and never the MAC index.
	for _, name := range e.labelValues("meetnoc_ap_clients", "ap", nil) {
		if strings.Contains(name, ".") || strings.HasPrefix(name, "0x") {
			t.Errorf("AP label %q is not a name", name)
		}
	}

	// Aruba: wlanAPStatus decides where the AP table has it (room-101 is down
	// though its radios are listed); clients are summed over radios; ESSIDs come
	// from the string index; the WLAN MIB's totals win over the switch MIB's.
	aruba := func(ap string) map[string]string { return map[string]string{"controller": "aruba-2", "ap": ap} }
	for ap, want := range map[string][2]float64{"lobby-1": {1, 29}, "room-101": {0, 0}, "room-102": {1, 32}} {
		e.expectValue(t, "meetnoc_ap_up", aruba(ap), want[0])
		e.expectValue(t, "meetnoc_ap_clients", aruba(ap), want[1])
	}
	if got := len(e.series("meetnoc_ap_up", map[string]string{"controller": "aruba-2"})); got != 3 {
		t.Errorf("aruba-2: %d meetnoc_ap_up series, want 3", got)
	}
	for ssid, n := range map[string]float64{"ietf": 40, "eduroam": 21, "ietf-dual-stack": 0} {
		e.expectValue(t, "meetnoc_ssid_clients", map[string]string{"controller": "aruba-2", "ssid": ssid}, n)
	}
	e.expectValue(t, "meetnoc_controller_aps", map[string]string{"controller": "aruba-2"}, 3)
	e.expectValue(t, "meetnoc_controller_clients", map[string]string{"controller": "aruba-2"}, 61)
}
