package snmp

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
)

// varbind is one variable an agent would return.
type varbind struct {
	oid string
	typ gosnmp.Asn1BER
	val any
}

// planFor compiles profiles for a target named name.
func planFor(t testing.TB, name string, profiles ...*config.Profile) *targetPlan {
	t.Helper()
	all := map[string]*config.Profile{}
	var names []string
	for _, p := range profiles {
		all[p.Name] = p
		names = append(names, p.Name)
	}
	plans, err := compileProfiles(all, names)
	if err != nil {
		t.Fatalf("compileProfiles: %v", err)
	}
	var pps []*profilePlan
	for _, n := range names {
		pps = append(pps, plans[n])
	}
	return newTargetPlan(name, pps)
}

// fetchedFrom files varbinds as a poll would: under the table column they
// belong to (fallback columns included), or as scalars.
func fetchedFrom(plan *targetPlan, vars []varbind) *fetched {
	var cols []string
	for _, pp := range plan.profiles {
		for _, t := range pp.tables {
			for _, m := range t.metrics {
				cols = append(cols, m.oids...)
			}
			for _, l := range t.labels {
				cols = append(cols, l.oids...)
			}
		}
	}
	sort.Slice(cols, func(i, j int) bool { return len(cols[i]) > len(cols[j]) })
	data := newFetched()
	for _, v := range vars {
		c := cell{typ: v.typ, val: v.val}
		placed := false
		for _, col := range cols {
			if idx, ok := strings.CutPrefix(v.oid, col+"."); ok {
				cc := data.columns[col]
				if cc == nil {
					cc = &column{cells: map[string]cell{}}
					data.columns[col] = cc
				}
				cc.order = append(cc.order, idx)
				cc.cells[idx] = c
				placed = true
				break
			}
		}
		if !placed {
			data.scalars[v.oid] = c
		}
	}
	return data
}

func TestConvertInterfaces(t *testing.T) {
	plan := planFor(t, "sw1", ifProfile())
	data := fetchedFrom(plan, []varbind{
		{sysUpTimeOID, gosnmp.TimeTicks, uint32(360000)},
		// 1: everything, 64-bit counter.
		{oidIfName + ".1", gosnmp.OctetString, []byte("Gi1/0/1")},
		{oidIfAlias + ".1", gosnmp.OctetString, []byte("uplink core1")},
		{oidIfHCInOctets + ".1", gosnmp.Counter64, uint64(1 << 40)},
		{oidIfInOctets + ".1", gosnmp.Counter32, uint(7)}, // ignored: HC present
		{oidIfInErrors + ".1", gosnmp.Counter32, uint(3)},
		{oidIfOperStatus + ".1", gosnmp.Integer, 1},
		{oidIfHighSpeed + ".1", gosnmp.Gauge32, uint(10000)},
		// 2: no HC counter, no ifName: 32-bit counter and ifDescr stand in.
		{oidIfDescr + ".2", gosnmp.OctetString, []byte("Null0")},
		{oidIfInOctets + ".2", gosnmp.Counter32, uint(4242)},
		{oidIfOperStatus + ".2", gosnmp.Integer, 2},
		// 3: no name at all: the index names it; status 6 is not in the map.
		{oidIfHCInOctets + ".3", gosnmp.Counter64, uint64(5)},
		{oidIfOperStatus + ".3", gosnmp.Integer, 6},
		// 4: only a status, in a sparse column set.
		{oidIfName + ".4", gosnmp.OctetString, []byte("Vl100")},
		{oidIfOperStatus + ".4", gosnmp.Integer, 7},
		// 5: a label row without any metric is no row.
		{oidIfName + ".5", gosnmp.OctetString, []byte("ghost")},
	})
	cv := newConverter(plan)
	got := series(cv.convert(data, time.Now(), time.Hour))
	want := map[string]float64{
		`test_sys_uptime_seconds{target="sw1"}`: 3600,

		`meetnoc_interface_receive_bytes_total{alias="uplink core1",interface="Gi1/0/1",target="sw1"}`:  1 << 40,
		`meetnoc_interface_receive_errors_total{alias="uplink core1",interface="Gi1/0/1",target="sw1"}`: 3,
		`meetnoc_interface_up{alias="uplink core1",interface="Gi1/0/1",target="sw1"}`:                   1,
		`meetnoc_interface_speed_bytes{alias="uplink core1",interface="Gi1/0/1",target="sw1"}`:          10000 * 125000,

		`meetnoc_interface_receive_bytes_total{alias="2",interface="Null0",target="sw1"}`: 4242,
		`meetnoc_interface_up{alias="2",interface="Null0",target="sw1"}`:                  0,

		`meetnoc_interface_receive_bytes_total{alias="3",interface="3",target="sw1"}`: 5,

		`meetnoc_interface_up{alias="4",interface="Vl100",target="sw1"}`: 0,
	}
	diffSeries(t, got, want)
}

func TestConvertWLC(t *testing.T) {
	plan := planFor(t, "wlc1", wlcProfile())
	macA, macB, macC := "0.17.34.51.68.85", "0.17.34.51.68.86", "170.187.204.221.238.255"
	data := fetchedFrom(plan, []varbind{
		{oidAPName + "." + macA, gosnmp.OctetString, []byte("hall-a-01")},
		{oidAPName + "." + macB, gosnmp.OctetString, []byte("hall-b-01\x00\x00")},
		{oidAPStatus + "." + macA, gosnmp.Integer, 1},
		{oidAPStatus + "." + macB, gosnmp.Integer, 2},
		// Two radios of A, one of B, and one whose AP is not in the AP table.
		{oidRadioClients + "." + macA + ".0", gosnmp.Gauge32, uint(12)},
		{oidRadioClients + "." + macA + ".1", gosnmp.Gauge32, uint(30)},
		{oidRadioClients + "." + macB + ".1", gosnmp.Gauge32, uint(4)},
		{oidRadioClients + "." + macC + ".0", gosnmp.Gauge32, uint(1)},
		// WLANs 1 and 3 share an SSID.
		{oidEssSSID + ".1", gosnmp.OctetString, []byte("ietf")},
		{oidEssSSID + ".2", gosnmp.OctetString, []byte("eduroam")},
		{oidEssSSID + ".3", gosnmp.OctetString, []byte("ietf")},
		{oidEssClients + ".1", gosnmp.Counter32, uint(500)},
		{oidEssClients + ".2", gosnmp.Counter32, uint(80)},
		{oidEssClients + ".3", gosnmp.Counter32, uint(250)},
	})
	cv := newConverter(plan)
	got := series(cv.convert(data, time.Now(), time.Hour))
	want := map[string]float64{
		`meetnoc_ap_up{ap="hall-a-01",controller="wlc1"}`:           1,
		`meetnoc_ap_up{ap="hall-b-01",controller="wlc1"}`:           0,
		`meetnoc_ap_clients{ap="hall-a-01",controller="wlc1"}`:      42,
		`meetnoc_ap_clients{ap="hall-b-01",controller="wlc1"}`:      4,
		`meetnoc_ap_clients{ap="` + macC + `.0",controller="wlc1"}`: 1,
		`meetnoc_ssid_clients{controller="wlc1",ssid="ietf"}`:       750,
		`meetnoc_ssid_clients{controller="wlc1",ssid="eduroam"}`:    80,
	}
	diffSeries(t, got, want)
}

func TestConvertIndexDecoding(t *testing.T) {
	p := &config.Profile{
		Name: "idx", TargetLabel: "target",
		Tables: []config.ProfileTable{{
			Name: "radios",
			Labels: []config.ProfileLabel{
				{Name: "ap_mac", Format: "mac", IndexPrefix: 6},
				{Name: "row", Format: "index"},
				{Name: "band", ValueMap: map[string]string{"0.17.34.51.68.85.0": "2.4GHz", "0.17.34.51.68.85.1": "5GHz"}},
			},
			Metrics: []config.ProfileMetric{{Name: "test_radio_channel", Help: "Channel.", Type: "gauge", OID: "1.3.6.1.4.1.9.9.1"}},
		}, {
			Name: "essids",
			Labels: []config.ProfileLabel{
				{Name: "essid", Format: "text"},
				{Name: "addr", Format: "ipaddr", OID: "1.3.6.1.4.1.9.9.3"},
				{Name: "raw", Format: "hex", OID: "1.3.6.1.4.1.9.9.4"},
			},
			Metrics: []config.ProfileMetric{{Name: "test_essid_clients", Help: "Clients.", Type: "gauge", OID: "1.3.6.1.4.1.9.9.2"}},
		}},
	}
	plan := planFor(t, "ctl", p)
	data := fetchedFrom(plan, []varbind{
		{"1.3.6.1.4.1.9.9.1.0.17.34.51.68.85.0", gosnmp.Integer, 6},
		{"1.3.6.1.4.1.9.9.1.0.17.34.51.68.85.1", gosnmp.Integer, 36},
		// A string index carries its length first: "ietf".
		{"1.3.6.1.4.1.9.9.2.4.105.101.116.102", gosnmp.Gauge32, uint(9)},
		{"1.3.6.1.4.1.9.9.3.4.105.101.116.102", gosnmp.OctetString, []byte{192, 0, 2, 1}},
		{"1.3.6.1.4.1.9.9.4.4.105.101.116.102", gosnmp.OctetString, []byte{0xde, 0xad}},
	})
	got := series(newConverter(plan).convert(data, time.Now(), time.Hour))
	want := map[string]float64{
		`test_radio_channel{ap_mac="00:11:22:33:44:55",band="2.4GHz",row="0.17.34.51.68.85.0",target="ctl"}`: 6,
		`test_radio_channel{ap_mac="00:11:22:33:44:55",band="5GHz",row="0.17.34.51.68.85.1",target="ctl"}`:   36,
		`test_essid_clients{addr="192.0.2.1",essid="ietf",raw="dead",target="ctl"}`:                          9,
	}
	diffSeries(t, got, want)
}

func TestSanitizeText(t *testing.T) {
	long := strings.Repeat("a", 127) + "é" // 129 bytes: the é must go whole
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"plain", []byte("hall-a-01"), "hall-a-01"},
		{"trailing NULs", []byte("AP-1\x00\x00\x00"), "AP-1"},
		{"control bytes", []byte("\x01AP\x7f-\x1b2\n"), "AP-2"},
		{"binary", []byte{0xff, 0xfe, 'x', 0x80}, "x"},
		{"utf-8 kept", []byte("Salle Émeraude – 2"), "Salle Émeraude – 2"},
		{"surrounding space", []byte("  uplink  "), "uplink"},
		{"truncated on a rune boundary", []byte(long), strings.Repeat("a", 127)},
		{"empty", nil, ""},
		{"only NULs", []byte{0, 0, 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sanitizeText(tc.in); got != tc.want {
				t.Errorf("sanitizeText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// Long plain ASCII goes through the fast path's length check too.
	if got := sanitizeText([]byte(strings.Repeat("b", 300))); len(got) != maxLabelBytes {
		t.Errorf("300 bytes became %d, want %d", len(got), maxLabelBytes)
	}
}

func TestConvertTextLabels(t *testing.T) {
	plan := planFor(t, "wlc1", wlcProfile())
	mac := "0.1.2.3.4.5"
	name := append([]byte("AP\x00 Hall\x07 C"), 0xc3) // a cut-off UTF-8 sequence at the end
	data := fetchedFrom(plan, []varbind{
		{oidAPName + "." + mac, gosnmp.OctetString, name},
		{oidAPStatus + "." + mac, gosnmp.Integer, 1},
	})
	got := series(newConverter(plan).convert(data, time.Now(), time.Hour))
	diffSeries(t, got, map[string]float64{`meetnoc_ap_up{ap="AP Hall C",controller="wlc1"}`: 1})
}

func TestHoldMissing(t *testing.T) {
	plan := planFor(t, "wlc1", wlcProfile())
	aps := func(names ...string) *fetched {
		var vars []varbind
		for i, n := range names {
			mac := fmt.Sprintf("0.1.2.3.4.%d", i+1)
			if n == "" {
				continue
			}
			vars = append(vars,
				varbind{oidAPName + "." + mac, gosnmp.OctetString, []byte(n)},
				varbind{oidAPStatus + "." + mac, gosnmp.Integer, 1})
		}
		return fetchedFrom(plan, vars)
	}
	const hold = time.Hour
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	cv := newConverter(plan)
	up := func(ap string) string { return `meetnoc_ap_up{ap="` + ap + `",controller="wlc1"}` }

	diffSeries(t, series(cv.convert(aps("a1", "a2"), t0, hold)), map[string]float64{up("a1"): 1, up("a2"): 1})

	// a2 vanishes from the table while the controller answers: held at 0.
	diffSeries(t, series(cv.convert(aps("a1", ""), t0.Add(10*time.Minute), hold)), map[string]float64{up("a1"): 1, up("a2"): 0})
	diffSeries(t, series(cv.convert(aps("a1", ""), t0.Add(hold-time.Second), hold)), map[string]float64{up("a1"): 1, up("a2"): 0})

	// Gone for the whole hold time: it goes.
	diffSeries(t, series(cv.convert(aps("a1", ""), t0.Add(hold), hold)), map[string]float64{up("a1"): 1})

	// Back, and gone again: held from the new last sighting.
	t1 := t0.Add(2 * hold)
	diffSeries(t, series(cv.convert(aps("a1", "a2"), t1, hold)), map[string]float64{up("a1"): 1, up("a2"): 1})
	diffSeries(t, series(cv.convert(aps("", ""), t1.Add(time.Minute), hold)), map[string]float64{up("a1"): 0, up("a2"): 0})
}

func TestConvertDuplicatesAcrossProfiles(t *testing.T) {
	// Two profiles emit the same family; where both find the same interface,
	// one series must come out, not two (a duplicate fails the whole scrape).
	a := ifProfile()
	b := ifProfile()
	b.Name = "test_if_copy"
	b.Scalars = nil
	plan := planFor(t, "sw1", a, b)
	data := fetchedFrom(plan, []varbind{
		{oidIfName + ".1", gosnmp.OctetString, []byte("Gi1")},
		{oidIfAlias + ".1", gosnmp.OctetString, []byte("")},
		{oidIfInErrors + ".1", gosnmp.Counter32, uint(9)},
	})
	got := series(newConverter(plan).convert(data, time.Now(), time.Hour))
	diffSeries(t, got, map[string]float64{`meetnoc_interface_receive_errors_total{alias="",interface="Gi1",target="sw1"}`: 9})
}

func TestConvertDuplicateRowsWithoutAggregate(t *testing.T) {
	plan := planFor(t, "sw1", ifProfile())
	data := fetchedFrom(plan, []varbind{
		{oidIfName + ".1", gosnmp.OctetString, []byte("Po1")},
		{oidIfName + ".2", gosnmp.OctetString, []byte("Po1")},
		{oidIfAlias + ".1", gosnmp.OctetString, []byte("x")},
		{oidIfAlias + ".2", gosnmp.OctetString, []byte("x")},
		{oidIfInErrors + ".1", gosnmp.Counter32, uint(1)},
		{oidIfInErrors + ".2", gosnmp.Counter32, uint(2)},
	})
	got := series(newConverter(plan).convert(data, time.Now(), time.Hour))
	diffSeries(t, got, map[string]float64{`meetnoc_interface_receive_errors_total{alias="x",interface="Po1",target="sw1"}`: 1})
}

func TestMetricValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    metricPlan
		c    cell
		want float64
		ok   bool
	}{
		{"counter64", metricPlan{scale: 1}, cell{gosnmp.Counter64, uint64(1) << 63}, 1 << 63, true},
		{"integer", metricPlan{scale: 1}, cell{gosnmp.Integer, -5}, -5, true},
		{"timeticks scaled", metricPlan{scale: 0.01}, cell{gosnmp.TimeTicks, uint32(250)}, 2.5, true},
		{"text number", metricPlan{scale: 1}, cell{gosnmp.OctetString, []byte(" 0.25 ")}, 0.25, true},
		{"text", metricPlan{scale: 1}, cell{gosnmp.OctetString, []byte("up")}, 0, false},
		{"ip address", metricPlan{scale: 1}, cell{gosnmp.IPAddress, "192.0.2.1"}, 0, false},
		{"mapped", metricPlan{scale: 1, valueMap: map[int64]float64{1: 1, 2: 0}}, cell{gosnmp.Integer, 2}, 0, true},
		{"unmapped dropped", metricPlan{scale: 1, valueMap: map[int64]float64{1: 1}}, cell{gosnmp.Integer, 3}, 0, false},
		{"opaque float", metricPlan{scale: 1}, cell{gosnmp.OpaqueFloat, float32(1.5)}, 1.5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.m.value(tc.c)
			if ok != tc.ok || ok && got != tc.want {
				t.Errorf("value = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCompareOIDs(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{".1.3.6.1.2", ".1.3.6.1.2", 0},
		{".1.3.6.1.2", ".1.3.6.1.10", -1},
		{".1.3.6.1.10", ".1.3.6.1.9", 1},
		{".1.3.6", ".1.3.6.0", -1},
		{"1.3.6.1.4.1.2", ".1.3.6.1.4.1.10", -1},
	} {
		if got := compareOIDs(tc.a, tc.b); got != tc.want {
			t.Errorf("compareOIDs(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// BenchmarkConvertIfMIB converts one poll of a 150-interface switch: 10
// columns per interface, as the if_mib profile fetches them.
func BenchmarkConvertIfMIB(b *testing.B) {
	p := &config.Profile{
		Name: "if_mib", TargetLabel: "target",
		Tables: []config.ProfileTable{{
			Name: "interfaces",
			Labels: []config.ProfileLabel{
				{Name: "interface", OID: oidIfName, FallbackOIDs: []string{oidIfDescr}},
				{Name: "alias", OID: oidIfAlias},
			},
		}},
	}
	metricOIDs := []string{oidIfHCInOctets, oidIfHCOutOctets, oidIfInErrors, "1.3.6.1.2.1.2.2.1.20",
		"1.3.6.1.2.1.2.2.1.13", "1.3.6.1.2.1.2.2.1.19", oidIfOperStatus, oidIfHighSpeed}
	for i, oid := range metricOIDs {
		m := config.ProfileMetric{Name: fmt.Sprintf("bench_metric_%d", i), Help: "Bench.", Type: "counter", OID: oid, Scale: 1}
		if oid == oidIfOperStatus {
			m.Type, m.ValueMap = "gauge", map[int64]float64{1: 1, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0}
		}
		p.Tables[0].Metrics = append(p.Tables[0].Metrics, m)
	}
	plan := planFor(b, "core1", p)
	var vars []varbind
	for i := 1; i <= 150; i++ {
		idx := fmt.Sprint(i)
		vars = append(vars,
			varbind{oidIfName + "." + idx, gosnmp.OctetString, []byte("TenGigabitEthernet1/0/" + idx)},
			varbind{oidIfAlias + "." + idx, gosnmp.OctetString, []byte("access switch hall " + idx)})
		for _, oid := range metricOIDs {
			var v any = uint(i * 1000)
			typ := gosnmp.Counter32
			switch oid {
			case oidIfHCInOctets, oidIfHCOutOctets:
				v, typ = uint64(i)*1e12, gosnmp.Counter64
			case oidIfOperStatus:
				v, typ = 1, gosnmp.Integer
			}
			vars = append(vars, varbind{oid + "." + idx, typ, v})
		}
	}
	data := fetchedFrom(plan, vars)
	cv := newConverter(plan)
	now := time.Now()
	if n := len(cv.convert(data, now, time.Hour)); n != 150*len(metricOIDs) {
		b.Fatalf("%d samples, want %d", n, 150*len(metricOIDs))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cv.convert(data, now, time.Hour)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1500, "ns/varbind")
}
