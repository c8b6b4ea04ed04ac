package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
	"github.com/meetnoc/meetnoc/internal/testenv"
)

// The lab agent (internal/lab/snmpagent) serves the same recordings as snmpsim and
// can misbehave on request: broken GETBULK, a MIB that ends early, tooBig, rows
// that vanish. These tests drive the poller through those faults.

// startLabAgent serves mib as community "lab" on a random loopback port until the
// test ends.
func startLabAgent(t *testing.T, mib snmpagent.MIB, faults *snmpagent.Faults) *snmpagent.Agent {
	t.Helper()
	a, err := snmpagent.Listen(snmpagent.Config{Addr: "127.0.0.1:0", MIB: mib, Communities: []string{"lab"}, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("lab agent: %v", err)
		}
	})
	return a
}

func loadRecording(t *testing.T, path string) *snmpagent.Tree {
	t.Helper()
	tree, err := snmpagent.LoadSnmprec(path)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func labConfig(extra, targets string) string {
	return "meeting: {name: lab}\nsnmp:\n  timeout: 500ms\n  retries: 0\n" + extra +
		"  auths:\n    lab: {version: 2c, community: lab}\n  targets:\n" + targets
}

// TestBrokenGetBulk: agents whose GETBULK answers genErr or nothing at all are
// walked with GETNEXT, and every value still comes out.
func TestBrokenGetBulk(t *testing.T) {
	path := testenv.SharedSnmprec(t, "ios_2960x")
	rec := testenv.ReadSnmprec(t, path)
	tree := loadRecording(t, path)
	for _, tc := range []struct {
		name  string
		fault snmpagent.BulkFailure
	}{
		{"genErr", snmpagent.BulkGenErr},
		{"dropped", snmpagent.BulkDropped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faults := &snmpagent.Faults{}
			faults.SetBulkBroken(tc.fault)
			a := startLabAgent(t, tree, faults)
			c, _ := newCollector(t, labConfig("", targetYAML("sw-"+tc.name, a.Addr(), "lab", "if_mib")))
			st := pollOK(t, c, "sw-"+tc.name)
			if as := a.Stats(); as.GetBulk == 0 || as.GetNext == 0 {
				t.Errorf("agent saw %d GETBULK and %d GETNEXT: the poller should try GETBULK, then walk with GETNEXT", as.GetBulk, as.GetNext)
			}
			if !st.UsesGetNext {
				t.Errorf("status does not say the target is walked with GETNEXT")
			}
			if n := checkIfMib(t, gather(t, c), rec, "sw-"+tc.name); n != 146 {
				t.Errorf("%d interfaces", n)
			}
		})
	}
}

// TestWalkEndsEarly: an agent whose MIB ends inside ifXTable (endOfMibView in the
// middle of a column). The poll succeeds with what the agent has: every interface
// (ifTable comes before the end), receive bytes up to the end, nothing after it.
func TestWalkEndsEarly(t *testing.T) {
	path := testenv.SharedSnmprec(t, "ios_2960x")
	rec := testenv.ReadSnmprec(t, path)
	faults := &snmpagent.Faults{}
	const end = ifHCInOctets + ".10125"
	faults.SetEndWalkAt(snmpagent.MustParseOID(end))
	a := startLabAgent(t, loadRecording(t, path), faults)
	c, _ := newCollector(t, labConfig("", targetYAML("sw-short", a.Addr(), "lab", "if_mib")))
	pollOK(t, c, "sw-short")
	e := gather(t, c)

	tl := map[string]string{"target": "sw-short"}
	if n := len(e.series("meetnoc_interface_up", tl)); n != 146 {
		t.Errorf("%d interfaces, want 146 (ifOperStatus lies before the end)", n)
	}
	// Receive bytes: the ifHCInOctets cells up to and including the end.
	want := 0
	for _, idx := range testenv.SortedIndexes(rec.Column(ifHCInOctets)) {
		want++
		if ifHCInOctets+"."+idx == end {
			break
		}
	}
	if got := len(e.series("meetnoc_interface_receive_bytes_total", tl)); got != want {
		t.Errorf("%d receive series, want %d (the cells up to %s)", got, want, end)
	}
	e.expectValue(t, "meetnoc_interface_receive_bytes_total", map[string]string{"target": "sw-short", "interface": "Gi1/0/25"},
		number(t, mustGet(t, rec, end)))
	for _, m := range []string{"meetnoc_interface_transmit_bytes_total", "meetnoc_interface_speed_bytes"} {
		if n := len(e.series(m, tl)); n != 0 {
			t.Errorf("%s: %d series from columns past the end of the MIB", m, n)
		}
	}
}

// TestTooBig: an agent that answers only small messages (300 octets: the GET of
// every host scalar does not fit, and GETBULK answers are cut short) still gives
// every value.
func TestTooBig(t *testing.T) {
	path := testenv.SharedSnmprec(t, "linux_icecast")
	rec := testenv.ReadSnmprec(t, path)
	faults := &snmpagent.Faults{}
	faults.SetTooBigOver(300)
	a := startLabAgent(t, loadRecording(t, path), faults)
	c, _ := newCollector(t, labConfig("", targetYAML("small-msgs", a.Addr(), "lab", "host", "if_mib")))
	pollOK(t, c, "small-msgs")
	// The limit did bite: the GET of every host scalar is too big, and GETBULK
	// answers are cut short.
	if st := a.Stats(); st.TooBig == 0 || st.Truncated == 0 {
		t.Errorf("agent sent %d tooBig and %d truncated answers; the test limit did not bite", st.TooBig, st.Truncated)
	}
	e := gather(t, c)
	checkIfMib(t, e, rec, "small-msgs")
	e.expectValue(t, "meetnoc_host_memory_total_bytes", map[string]string{"target": "small-msgs"}, 841176*1024)
	if n := len(e.series("meetnoc_host_cpu_seconds_total", map[string]string{"target": "small-msgs"})); n != 8 {
		t.Errorf("%d CPU modes, want 8", n)
	}
}

// TestAireOSDropsDeadAP: an AP that vanishes from bsnAPTable while the controller
// answers is exported as down for snmp.ap_missing_hold, then forgotten; its client
// count vanishes at once.
func TestAireOSDropsDeadAP(t *testing.T) {
	path := filepath.Join(recordingsDir(t), "cisco_wlc.snmprec")
	a := startLabAgent(t, loadRecording(t, path), nil)
	c, _ := newCollector(t, labConfig("  ap_missing_hold: 1500ms\n", targetYAML("wlc-1", a.Addr(), "lab", "cisco_wlc")))
	hall := map[string]string{"controller": "wlc-1", "ap": "hall-a-1"}

	pollOK(t, c, "wlc-1")
	e := gather(t, c)
	e.expectValue(t, "meetnoc_ap_up", hall, 1)
	e.expectValue(t, "meetnoc_ap_clients", hall, 43)

	// hall-a-1 (MAC 0.58.154.11.1.16) leaves every AIRESPACE and LWAPP table.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		oid, _, _ := strings.Cut(line, "|")
		if !strings.Contains(oid+".", ".0.58.154.11.1.16.") {
			kept = append(kept, line)
		}
	}
	tree, err := snmpagent.ParseSnmprec(strings.NewReader(strings.Join(kept, "\n")), "without hall-a-1")
	if err != nil {
		t.Fatal(err)
	}
	a.SetMIB(tree)

	pollOK(t, c, "wlc-1")
	e = gather(t, c)
	e.expectValue(t, "meetnoc_ap_up", hall, 0)
	if s := e.series("meetnoc_ap_clients", hall); len(s) != 0 {
		t.Errorf("hall-a-1 still has a client count after leaving the controller")
	}
	e.expectValue(t, "meetnoc_ap_up", map[string]string{"controller": "wlc-1", "ap": "hall-a-2"}, 1)

	time.Sleep(1600 * time.Millisecond)
	pollOK(t, c, "wlc-1")
	if s := gather(t, c).series("meetnoc_ap_up", hall); len(s) != 0 {
		t.Errorf("hall-a-1 still exported %v after ap_missing_hold", s)
	}
}
