package rawalloc

import (
	"runtime"
	"testing"
)

func TestBytesSizes(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 100, minRaw - 1, minRaw, 64 << 10, 4 << 20} {
		b := Bytes(n)
		want := max(n, 0)
		if len(b) != want || cap(b) != want {
			t.Fatalf("Bytes(%d): len %d cap %d, want %d", n, len(b), cap(b), want)
		}
		for i := range b {
			b[i] = byte(i)
		}
		for i := range b {
			if b[i] != byte(i) {
				t.Fatalf("Bytes(%d)[%d] = %d after writing %d", n, i, b[i], byte(i))
			}
		}
	}
	// Below minRaw the buffer is cleared, as make's are.
	for range 100 {
		b := Bytes(minRaw - 1)
		for i, c := range b {
			if c != 0 {
				t.Fatalf("Bytes(%d)[%d] = %d, want a cleared small buffer", minRaw-1, i, c)
			}
		}
	}
}

// The buffers are ordinary heap memory: they survive collections while
// referenced, and many of them, collected in between, do not grow the
// heap without bound.
func TestBytesAreCollected(t *testing.T) {
	keep := Bytes(1 << 20)
	for i := range keep {
		keep[i] = 0xa5
	}
	var ms runtime.MemStats
	for range 200 {
		b := Bytes(4 << 20)
		b[0], b[len(b)-1] = 1, 2
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 256<<20 {
		t.Fatalf("heap holds %d bytes after 800 MiB of dropped buffers", ms.HeapAlloc)
	}
	for i, c := range keep {
		if c != 0xa5 {
			t.Fatalf("kept buffer byte %d = %#x after collections", i, c)
		}
	}
}
