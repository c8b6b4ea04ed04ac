package config

import (
	"fmt"
	"testing"
)

func TestShard(t *testing.T) {
	for _, bad := range []string{"0/3", "4/3", "1/0", "x/3", "1", "1/3/4", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	// Every target lands on exactly one of n shards, and the split is even enough.
	const targets, n = 3000, 3
	counts := make([]int, n)
	for i := range targets {
		name := fmt.Sprintf("access-%d", i)
		owners := 0
		for s := 1; s <= n; s++ {
			sh, err := ParseShard(fmt.Sprintf("%d/%d", s, n))
			if err != nil {
				t.Fatal(err)
			}
			if sh.Owns(name) {
				owners++
				counts[s-1]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s has %d owners", name, owners)
		}
	}
	for s, c := range counts {
		if c < targets/n*8/10 || c > targets/n*12/10 {
			t.Errorf("shard %d/%d has %d of %d targets", s+1, n, c, targets)
		}
	}
	// Stable: the same name always goes to the same shard (a fixed expectation, so a
	// change of hash is noticed: it would move targets between running daemons).
	for name, want := range map[string]int{"core1": 2, "wlc1": 2, "access-17": 3} {
		if !(Shard{Index: want, Count: 3}).Owns(name) {
			t.Errorf("%s is no longer on shard %d/3 (FNV-1a 64 mod n)", name, want)
		}
	}
	cfg := &Config{SNMP: SNMP{Targets: []*Target{{Name: "core1"}, {Name: "core2"}, {Name: "wlc1"}, {Name: "access1"}}}}
	sh := Shard{Index: 1, Count: 2}
	sh.Select(cfg)
	for _, tg := range cfg.SNMP.Targets {
		if !sh.Owns(tg.Name) {
			t.Errorf("Select kept %s", tg.Name)
		}
	}
	if (Shard{}).String() != "all" || sh.String() != "1/2" {
		t.Errorf("String: %q %q", Shard{}, sh)
	}
}
