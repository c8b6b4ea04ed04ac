package snmp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// OIDs the test profiles and trees use.
const (
	oidIfDescr       = "1.3.6.1.2.1.2.2.1.2"
	oidIfOperStatus  = "1.3.6.1.2.1.2.2.1.8"
	oidIfInOctets    = "1.3.6.1.2.1.2.2.1.10"
	oidIfInErrors    = "1.3.6.1.2.1.2.2.1.14"
	oidIfOutOctets   = "1.3.6.1.2.1.2.2.1.16"
	oidIfName        = "1.3.6.1.2.1.31.1.1.1.1"
	oidIfHCInOctets  = "1.3.6.1.2.1.31.1.1.1.6"
	oidIfHCOutOctets = "1.3.6.1.2.1.31.1.1.1.10"
	oidIfHighSpeed   = "1.3.6.1.2.1.31.1.1.1.15"
	oidIfAlias       = "1.3.6.1.2.1.31.1.1.1.18"

	oidAPName       = "1.3.6.1.4.1.14179.2.2.1.1.3"  // bsnAPName, index AP MAC
	oidAPStatus     = "1.3.6.1.4.1.14179.2.2.1.1.6"  // bsnAPOperationStatus
	oidRadioClients = "1.3.6.1.4.1.14179.2.2.2.1.15" // bsnApIfNoOfUsers, index MAC.slot
	oidEssSSID      = "1.3.6.1.4.1.14179.2.1.1.1.2"  // bsnDot11EssSsid, index WLAN id
	oidEssClients   = "1.3.6.1.4.1.14179.2.1.1.1.38" // bsnDot11EssNumberOfMobileStations
)

// ifProfile is a small if_mib-like profile: labels with fallbacks, a 64-bit
// counter with a 32-bit fallback, a value map and a scale.
func ifProfile() *config.Profile {
	return &config.Profile{
		Name:        "test_if",
		TargetLabel: "target",
		Scalars: []config.ProfileMetric{{
			Name: "test_sys_uptime_seconds", Help: "Agent uptime.", Type: "gauge",
			OID: sysUpTimeOID, Scale: 0.01,
		}},
		Tables: []config.ProfileTable{{
			Name: "interfaces",
			Labels: []config.ProfileLabel{
				{Name: "interface", OID: oidIfName, FallbackOIDs: []string{oidIfDescr}},
				{Name: "alias", OID: oidIfAlias},
			},
			Metrics: []config.ProfileMetric{
				{Name: "meetnoc_interface_receive_bytes_total", Help: "Bytes received.", Type: "counter",
					OID: oidIfHCInOctets, FallbackOIDs: []string{oidIfInOctets}, Scale: 1},
				{Name: "meetnoc_interface_receive_errors_total", Help: "Receive errors.", Type: "counter",
					OID: oidIfInErrors, Scale: 1},
				{Name: "meetnoc_interface_up", Help: "Oper status up.", Type: "gauge",
					OID: oidIfOperStatus, ValueMap: map[int64]float64{1: 1, 2: 0, 3: 0, 5: 0, 7: 0}},
				{Name: "meetnoc_interface_speed_bytes", Help: "Speed.", Type: "gauge",
					OID: oidIfHighSpeed, Scale: 125000},
			},
		}},
	}
}

// wlcProfile is a small cisco_wlc-like profile: parent lookups by index prefix,
// per-AP sums over radios, SSIDs summed over WLANs, and hold_missing APs.
func wlcProfile() *config.Profile {
	return &config.Profile{
		Name:        "test_wlc",
		TargetLabel: "controller",
		Tables: []config.ProfileTable{
			{
				Name:   "aps",
				Labels: []config.ProfileLabel{{Name: "ap", OID: oidAPName}},
				Metrics: []config.ProfileMetric{{
					Name: "meetnoc_ap_up", Help: "AP up.", Type: "gauge", OID: oidAPStatus,
					ValueMap: map[int64]float64{1: 1, 2: 0}, HoldMissing: true, MissingValue: 0,
				}},
			},
			{
				Name:   "radios",
				Labels: []config.ProfileLabel{{Name: "ap", OID: oidAPName, IndexPrefix: 6}},
				Metrics: []config.ProfileMetric{{
					Name: "meetnoc_ap_clients", Help: "Clients per AP.", Type: "gauge",
					OID: oidRadioClients, Aggregate: "sum",
				}},
			},
			{
				Name:   "ssids",
				Labels: []config.ProfileLabel{{Name: "ssid", OID: oidEssSSID}},
				Metrics: []config.ProfileMetric{{
					Name: "meetnoc_ssid_clients", Help: "Clients per SSID.", Type: "gauge",
					OID: oidEssClients, Aggregate: "sum",
				}},
			},
		},
	}
}

// testConfig is a config with a v2c auth "public" and the test profiles, as Load
// would return it.
func testConfig(targets ...*config.Target) *config.Config {
	return &config.Config{
		SNMP: config.SNMP{
			Interval:       time.Second,
			Timeout:        200 * time.Millisecond,
			Retries:        0,
			MaxRepetitions: 25,
			MaxConcurrency: 8,
			Jitter:         0.1,
			APMissingHold:  time.Hour,
			Auths: map[string]*config.Auth{
				"public": {Version: "2c", Community: "public"},
			},
			Targets: targets,
		},
		Profiles: map[string]*config.Profile{"test_if": ifProfile(), "test_wlc": wlcProfile()},
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// tree builds a lab agent MIB.
type tree struct{ t snmpagent.Tree }

func (tr *tree) set(oid string, typ gosnmp.Asn1BER, v any) {
	tr.t.Set(snmpagent.MustParseOID(oid), snmpagent.Static(typ, v))
}

func (tr *tree) setFunc(oid string, f snmpagent.ValueFunc) {
	tr.t.Set(snmpagent.MustParseOID(oid), f)
}

func (tr *tree) freeze() *snmpagent.Tree { return tr.t.Freeze() }

// ifTree is a switch with n interfaces whose counters are all 64-bit.
func ifTree(n int) *tree {
	tr := &tree{}
	tr.set(sysUpTimeOID, gosnmp.TimeTicks, uint32(123456))
	for i := 1; i <= n; i++ {
		idx := fmt.Sprint(i)
		tr.set(oidIfDescr+"."+idx, gosnmp.OctetString, []byte("GigabitEthernet1/0/"+idx))
		tr.set(oidIfOperStatus+"."+idx, gosnmp.Integer, 1+i%2)
		tr.set(oidIfInOctets+"."+idx, gosnmp.Counter32, uint32(i*100))
		tr.set(oidIfInErrors+"."+idx, gosnmp.Counter32, uint32(i))
		tr.set(oidIfName+"."+idx, gosnmp.OctetString, []byte("Gi1/0/"+idx))
		tr.set(oidIfHCInOctets+"."+idx, gosnmp.Counter64, uint64(i)*1_000_000_000_000)
		tr.set(oidIfHighSpeed+"."+idx, gosnmp.Gauge32, uint32(1000))
		tr.set(oidIfAlias+"."+idx, gosnmp.OctetString, []byte("port "+idx))
	}
	return tr
}

// agent is a lab SNMP agent serving on loopback for the length of a test.
type agent struct {
	*snmpagent.Agent
	faults *snmpagent.Faults
}

func startAgent(t testing.TB, mib snmpagent.MIB, users ...snmpagent.User) *agent {
	t.Helper()
	return startAgentAt(t, "127.0.0.1:0", mib, users...)
}

func startAgentAt(t testing.TB, addr string, mib snmpagent.MIB, users ...snmpagent.User) *agent {
	t.Helper()
	faults := &snmpagent.Faults{}
	a, err := snmpagent.Listen(snmpagent.Config{
		Addr: addr, MIB: mib, Communities: []string{"public"}, Users: users, Faults: faults,
	})
	if err != nil {
		t.Fatalf("starting the lab agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &agent{Agent: a, faults: faults}
}

func targetConf(name, addr string, profiles ...string) *config.Target {
	return &config.Target{Name: name, Address: addr, Auth: "public", Profiles: profiles}
}

func newCollector(t testing.TB, cfg *config.Config) *Collector {
	t.Helper()
	c, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// series renders samples as "name{a="x",b="y"}" → value.
func series(samples []sample) map[string]float64 {
	out := make(map[string]float64, len(samples))
	for i := range samples {
		s := &samples[i]
		var b strings.Builder
		b.WriteString(descName(s.metric.desc))
		b.WriteByte('{')
		for j, v := range s.metric.labelValues(nil, s.row) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", s.metric.labels[j], v)
		}
		b.WriteByte('}')
		if _, dup := out[b.String()]; dup {
			out[b.String()+" DUPLICATE"] = s.value
		}
		out[b.String()] = s.value
	}
	return out
}

// diffSeries reports the differences between two series maps.
func diffSeries(t *testing.T, got, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("missing %s (want %v)", k, w)
		case !wok:
			t.Errorf("unexpected %s = %v", k, g)
		case g != w:
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

// snapshotOf is a target's current snapshot.
func snapshotOf(t *testing.T, c *Collector, name string) *snapshot {
	t.Helper()
	c.mu.RLock()
	tg := c.targets[name]
	c.mu.RUnlock()
	if tg == nil {
		t.Fatalf("no target %q", name)
	}
	return tg.snap.Load()
}

func statusOf(t *testing.T, c *Collector, name string) TargetStatus {
	t.Helper()
	for _, s := range c.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for %q", name)
	return TargetStatus{}
}

// ticker is a sysUpTime the test moves by hand.
type ticker struct{ v atomic.Uint32 }

func (tk *ticker) value() (gosnmp.Asn1BER, any) { return gosnmp.TimeTicks, tk.v.Load() }

// descName digs the metric name out of a Desc, which does not export it.
func descName(d *prometheus.Desc) string {
	s := d.String()
	_, rest, _ := strings.Cut(s, `fqName: "`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}
