package config

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one of n daemons that split the SNMP targets between them
// (`meetnoc run --shard=i/n`). Shards are numbered 1 to n; the zero Shard is the
// whole set.
type Shard struct{ Index, Count int }

// ParseShard reads "i/n".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 1 || index > count {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 1 ≤ i ≤ n, e.g. 1/3", s)
	}
	return Shard{Index: index, Count: count}, nil
}

func (s Shard) String() string {
	if s.Count == 0 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Owns reports whether the shard polls the named target. The name alone decides,
// so every daemon of a set agrees without talking to the others.
//
// The shard is the jump consistent hash (Lamping and Veach, 2014) of the name's
// FNV-1a 64 hash. Going from n to n+1 shards moves only the targets the new shard
// n+1 takes over, about 1/(n+1) of them, and every other target stays where it
// was, so a daemon added to a running set does not make the others drop and
// re-poll most of their targets (hash mod n would move about n/(n+1)). Removing
// the last shard likewise moves only its own targets; removing one in the middle
// renumbers the ones after it and moves far more, so shrink a set from the top.
func (s Shard) Owns(target string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(target))
	return jumpHash(h.Sum64(), s.Count) == s.Index-1
}

// jumpHash maps key to a bucket in [0, buckets): Lamping and Veach, "A Fast,
// Minimal Memory, Consistent Hash Algorithm" (arXiv:1406.2294). It jumps from
// bucket to bucket with a linear congruential generator seeded by the key; each
// jump lands past bucket b with probability (b+1)/j, which is what keeps the
// buckets even and makes bucket n the only one to gain keys when one is added.
func jumpHash(key uint64, buckets int) int {
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// Select keeps only the shard's SNMP targets.
func (s Shard) Select(cfg *Config) {
	if s.Count <= 1 {
		return
	}
	kept := cfg.SNMP.Targets[:0:0]
	for _, t := range cfg.SNMP.Targets {
		if s.Owns(t.Name) {
			kept = append(kept, t)
		}
	}
	cfg.SNMP.Targets = kept
}
