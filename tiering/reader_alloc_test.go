package tiering

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

func TestNewBlockBuffer(t *testing.T) {
	for _, n := range []int{0, 1, 100, 64 << 10, 4 << 20} {
		b := newBlockBuffer(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("newBlockBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		for i := range b {
			b[i] = byte(i)
		}
	}
}

// Block buffers are not zeroed: a GET whose body ends early must leave no
// block behind, cached or returned, whatever the buffer held before. The
// same blocks read whole afterwards give the object's bytes.
func TestTruncatedBlockGetLeavesNoBlock(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(41, 41)))
	cfg := testReaderConfig()
	cfg.ReadAhead = 0
	cfg.GetAttempts = 2
	r := newTestReader(t, f, cfg)
	k := coldKey(1, 0)
	first, last := f.cat.bounds(k)
	ctx := context.Background()
	// The footer comes first and stays cached.
	if _, err := r.Read(ctx, k, first, last+1, 1); err != nil {
		t.Fatal(err)
	}
	blocks := r.Stats().CachedBlocks
	f.faulty.SetTruncateReads(true)
	got, err := r.Read(ctx, k, last, last+1, 1<<20)
	if err == nil || got != nil {
		t.Fatalf("truncated block GETs: got %d bytes, err %v; want an error and no data", len(got), err)
	}
	if n := r.Stats().CachedBlocks; n != blocks {
		t.Fatalf("%d blocks cached after failed GETs, %d before", n, blocks)
	}
	f.faulty.SetTruncateReads(false)
	for off := first; off <= last; off++ {
		got, err := r.Read(ctx, k, off, last+1, 1<<20)
		if err != nil || !bytes.Equal(got, f.expect(k, off, last+1, 1<<20)) {
			t.Fatalf("after recovery, offset %d: %d bytes, %v", off, len(got), err)
		}
	}
}

// BenchmarkBlockBuffer compares a zeroed 4 MiB buffer (make) with one
// taken as it is (newBlockBuffer), each filled once as a GET fills it.
func BenchmarkBlockBuffer(b *testing.B) {
	const n = 4 << 20
	src := bytes.Repeat([]byte{0xa5}, n)
	for _, c := range []struct {
		name  string
		alloc func(int) []byte
	}{{"make", func(n int) []byte { return make([]byte, n) }}, {"newBlockBuffer", newBlockBuffer}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				buf := c.alloc(n)
				copy(buf, src)
			}
		})
	}
}
