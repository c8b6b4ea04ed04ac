package config

import (
	"fmt"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, bad := range []string{"0/3", "4/3", "1/0", "x/3", "1", "1/3/4", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	for in, want := range map[string]Shard{"": {}, "1/1": {1, 1}, "2/3": {2, 3}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if (Shard{}).String() != "all" || (Shard{1, 2}).String() != "1/2" {
		t.Errorf("String: %q %q", Shard{}, Shard{1, 2})
	}
}

// owner is the one shard of n that owns name, or 0 (and a test error) when
// none or several do.
func owner(t *testing.T, name string, n int) int {
	t.Helper()
	found := 0
	for i := 1; i <= n; i++ {
		if (Shard{Index: i, Count: n}).Owns(name) {
			if found != 0 {
				t.Errorf("%s is owned by shards %d/%d and %d/%d", name, found, n, i, n)
				return 0
			}
			found = i
		}
	}
	if found == 0 {
		t.Errorf("%s is owned by none of %d shards", name, n)
	}
	return found
}

func TestShardOwnsEveryTargetOnce(t *testing.T) {
	const targets = 3000
	for n := 1; n <= 8; n++ {
		counts := make([]int, n+1)
		for i := range targets {
			counts[owner(t, fmt.Sprintf("access-%d", i), n)]++
		}
		// Within ±20 % of an even split: about 6 standard deviations at n = 8.
		even := targets / n
		for s := 1; s <= n; s++ {
			if c := counts[s]; c < even*8/10 || c > even*12/10 {
				t.Errorf("shard %d/%d has %d of %d targets, want %d ± 20 %%", s, n, c, targets, even)
			}
		}
	}
}

// Adding a daemon to a running set must move only the targets it takes over:
// with hash mod n, going from 3 to 4 shards moved 75 % of them.
func TestShardGrowthMovesFewTargets(t *testing.T) {
	const targets = 3000
	for n := 1; n <= 8; n++ {
		moved := 0
		for i := range targets {
			name := fmt.Sprintf("access-%d", i)
			before, after := owner(t, name, n), owner(t, name, n+1)
			if before == after {
				continue
			}
			moved++
			if after != n+1 {
				t.Errorf("going from %d to %d shards moved %s from %d to %d, not to the new shard", n, n+1, name, before, after)
			}
		}
		// Ideal 1/(n+1); the margin is about 3 standard deviations of a binomial draw.
		ideal := 1 / float64(n+1)
		if frac := float64(moved) / targets; frac > ideal+0.03 {
			t.Errorf("going from %d to %d shards moved %.3f of the targets, want at most %.3f + 0.03", n, n+1, frac, ideal)
		}
	}
}

// Fixed expectations, so that a change of hash is noticed: it would move targets
// between running daemons of different versions.
func TestShardIsStable(t *testing.T) {
	for _, c := range []struct {
		name          string
		of2, of3, of4 int
	}{
		{"core1", 2, 3, 4},
		{"core2", 2, 3, 3},
		{"wlc1", 1, 1, 1},
		{"access1", 1, 3, 3},
		{"access4", 1, 3, 3},
		{"access-17", 2, 2, 2},
	} {
		for n, want := range map[int]int{2: c.of2, 3: c.of3, 4: c.of4} {
			if got := owner(t, c.name, n); got != want {
				t.Errorf("%s is on shard %d/%d, was %d/%d (jump hash of FNV-1a 64)", c.name, got, n, want, n)
			}
		}
	}
	// The published algorithm's own vectors (as in the Rust jump-consistent-hash
	// crate's documentation): a transcription slip would still spread keys evenly.
	for key, want := range map[uint64]int{0: 0, 1: 55, 2: 46} {
		if got := jumpHash(key, 60); got != want {
			t.Errorf("jumpHash(%d, 60) = %d, want %d", key, got, want)
		}
	}
}

func TestShardSelect(t *testing.T) {
	cfg := &Config{SNMP: SNMP{Targets: []*Target{{Name: "core1"}, {Name: "core2"}, {Name: "wlc1"}, {Name: "access1"}}}}
	sh := Shard{Index: 2, Count: 2}
	sh.Select(cfg)
	var kept []string
	for _, tg := range cfg.SNMP.Targets {
		kept = append(kept, tg.Name)
	}
	if fmt.Sprint(kept) != "[core1 core2]" {
		t.Errorf("shard 2/2 kept %v, want [core1 core2]", kept)
	}
	all := &Config{SNMP: SNMP{Targets: []*Target{{Name: "core1"}, {Name: "wlc1"}}}}
	Shard{}.Select(all)
	if len(all.SNMP.Targets) != 2 {
		t.Errorf("the zero shard kept %d of 2 targets", len(all.SNMP.Targets))
	}
}
