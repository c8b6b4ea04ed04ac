package exposition

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCRC32CombineRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		a := randomBytes(rng, rng.IntN(3)*rng.IntN(3000))
		b := randomBytes(rng, rng.IntN(3)*rng.IntN(3000)) // empty a third of the time
		checkCombine(t, a, b)
	}
}

// TestCRC32CombineLong crosses the lengths where the operators for large
// powers of two come in.
func TestCRC32CombineLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1 << 16, 1<<20 + 7, 3<<20 + 12345} {
		checkCombine(t, randomBytes(rng, 100), randomBytes(rng, n))
	}
}

func TestCRC32CombineMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var all []byte
	var crc uint32
	for range 200 {
		p := randomBytes(rng, rng.IntN(4)*rng.IntN(500))
		all = append(all, p...)
		crc = CRC32Combine(crc, crc32.ChecksumIEEE(p), int64(len(p)))
	}
	if want := crc32.ChecksumIEEE(all); crc != want {
		t.Fatalf("combined %08x, want %08x", crc, want)
	}
}

func FuzzCombine(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""}, {"a", ""}, {"", "b"}, {"hello ", "world"},
		{"meetnoc_snmp_up{target=\"sw1\"} 1\n", "meetnoc_snmp_up{target=\"sw2\"} 0\n"},
		{string(make([]byte, 300)), "\xff\xfe\x00\x01"},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		checkCombine(t, a, b)
	})
}

func checkCombine(t *testing.T, a, b []byte) {
	t.Helper()
	got := CRC32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b)))
	if want := crc32.ChecksumIEEE(append(a[:len(a):len(a)], b...)); got != want {
		t.Fatalf("combine of %d and %d bytes: %08x, want %08x", len(a), len(b), got, want)
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
