package crc32c

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

var table = crc32.MakeTable(crc32.Castagnoli)

func TestCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 3<<20)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lens := []int{0, 1, 2, 3, 7, 21, 64, 1000, 4096, 65537, 1 << 20, 3 << 20}
	for _, la := range lens {
		for _, lb := range lens {
			if la+lb > len(buf) {
				continue
			}
			a, b := buf[:la], buf[la:la+lb]
			want := crc32.Checksum(buf[:la+lb], table)
			if got := Combine(crc32.Checksum(a, table), crc32.Checksum(b, table), int64(lb)); got != want {
				t.Fatalf("len %d + %d: %08x, want %08x", la, lb, got, want)
			}
			if got := ShiftBy(int64(lb)).Combine(crc32.Checksum(a, table), crc32.Checksum(b, table)); got != want {
				t.Fatalf("ShiftBy(%d).Combine, len %d: %08x, want %08x", lb, la, got, want)
			}
		}
	}
	for range 200 {
		n := rng.IntN(1 << 16)
		cut := rng.IntN(n + 1)
		want := crc32.Checksum(buf[:n], table)
		got := Combine(crc32.Checksum(buf[:cut], table), crc32.Checksum(buf[cut:n], table), int64(n-cut))
		if got != want {
			t.Fatalf("len %d cut %d: %08x, want %08x", n, cut, got, want)
		}
	}
}

func BenchmarkCombine1MiB(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Combine(uint32(i), 0x12345678, 1<<20+int64(i&1023))
	}
}

func BenchmarkChecksum1MiB(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		crc32.Checksum(buf, table)
	}
}
