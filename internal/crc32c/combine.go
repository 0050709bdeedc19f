// Package crc32c combines CRC-32C (Castagnoli) checksums: the CRC of A||B
// from the CRCs of A and B and the length of B, without reading the bytes
// (zlib's crc32_combine, by multiplication modulo the polynomial). The
// produce path uses it to frame a batch whose CRC it has just verified
// without reading the batch a second time.
package crc32c

// poly is the Castagnoli polynomial, bit-reflected.
const poly = 0x82f63b78

// x2n[k] is x^(2^k) modulo the polynomial.
var x2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < 32; k++ {
		p = multModP(p, p)
		t[k] = p
	}
	return t
}()

// multModP returns a(x) b(x) modulo the polynomial (reflected bits).
func multModP(a, b uint32) uint32 {
	m := uint32(1) << 31
	var p uint32
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return p
}

// x2nModP returns x^(n 2^k) modulo the polynomial.
func x2nModP(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for n != 0 {
		if n&1 != 0 {
			p = multModP(x2n[k&31], p)
		}
		n >>= 1
		k++
	}
	return p
}

// Combine returns the CRC-32C of A||B given crcA (of A), crcB (of B) and
// the length of B. CRCs are those of hash/crc32 with the Castagnoli table
// (crc32.Checksum, crc32.Update from 0).
func Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return multModP(x2nModP(uint64(lenB), 3), crcA) ^ crcB
}

// Shift is the part of Combine that depends on the length of B alone, for
// a length used many times (fixed-size chunks): ShiftBy(n).Combine(a, b)
// == Combine(a, b, n), one multiplication modulo the polynomial instead of
// Combine's one per set bit of n.
type Shift uint32

// ShiftBy returns the Shift for B of lenB bytes.
func ShiftBy(lenB int64) Shift {
	if lenB <= 0 {
		return Shift(1 << 31) // x^0
	}
	return Shift(x2nModP(uint64(lenB), 3))
}

// Combine returns the CRC-32C of A||B from crcA and crcB, B being the
// Shift's length.
func (s Shift) Combine(crcA, crcB uint32) uint32 {
	return multModP(uint32(s), crcA) ^ crcB
}
