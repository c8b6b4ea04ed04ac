package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Two daemons with --shard=1/2 and 2/2 on one config poll every target exactly once.
func TestShardSplitsTargets(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "meetnoc.yml")
	lab, err := os.ReadFile("../../configs/lab.yml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfgFile, lab, 0o600)
	var all []string
	for i := 1; i <= 2; i++ {
		d, err := New(Options{ConfigFile: cfgFile, Shard: config.Shard{Index: i, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range d.SNMP().Status() {
			all = append(all, st.Name)
		}
		if n := len(d.Config().SNMP.Targets); n == 0 || n == 7 {
			t.Errorf("shard %d/2 has %d of 7 targets", i, n)
		}
	}
	slices.Sort(all)
	want := []string{"access1", "access2", "access3", "access4", "core1", "core2", "wlc1"}
	if !slices.Equal(all, want) {
		t.Errorf("shards together poll %v, want %v", all, want)
	}
}
