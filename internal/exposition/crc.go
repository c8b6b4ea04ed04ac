package exposition

// CRC-32 (IEEE) combination, as zlib's crc32_combine: the CRC of A‖B from the
// CRCs of A and B and the length of B. Appending a zero bit to a message is a
// linear map on its CRC register over GF(2) (zlib's original method writes it
// as a 32×32 matrix and squares it per call); appending n zero bytes is then
// multiplication by x^(8n) modulo the CRC polynomial. As zlib ≥ 1.2.12 does,
// the operator is kept as that one polynomial rather than as a matrix, built
// from a table of x^(2^k) mod P. It depends only on len(B), so a chunk
// computes it once, when it is compressed, and combining at scrape time is one
// 32-step carry-less multiplication per chunk.

const crcPoly = 0xedb88320 // reflected CRC-32 (IEEE) polynomial

// multModP multiplies a and b modulo the polynomial, both in the reflected
// representation (x^0 is the top bit).
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2n[k] is x^(2^k) mod P.
var x2n [32]uint32

func init() {
	p := uint32(1) << 30 // x^1
	x2n[0] = p
	for k := 1; k < len(x2n); k++ {
		p = multModP(p, p)
		x2n[k] = p
	}
}

// crc32Shift is the operator that appends n zero bytes to a CRC: x^(8n) mod P.
func crc32Shift(n int64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = multModP(x2n[k&31], p)
		}
	}
	return p
}

// CRC32Combine returns the CRC-32 (IEEE) of A‖B, given crcA of A, crcB of B and
// lenB, the length of B in bytes.
func CRC32Combine(crcA, crcB uint32, lenB int64) uint32 {
	return multModP(crc32Shift(lenB), crcA) ^ crcB
}
