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

// Owns reports whether the shard polls the named target. The hash of the name
// alone decides, so every daemon of a set agrees without talking to the others,
// and a target stays on its shard when others are added or removed.
func (s Shard) Owns(target string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(target))
	return int(h.Sum64()%uint64(s.Count)) == s.Index-1
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
