package tiering

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/shalelog/shale/index"
)

// coldBenchObject stores one single-partition object of about 32 MiB of 16 KiB
// batches and returns its partition key and extent.
func coldBenchObject(b *testing.B) (*coldFixture, index.Key, coldExtent) {
	b.Helper()
	f := newColdFixture(b)
	rng := rand.New(rand.NewPCG(40, 40))
	k := coldKey(9, 0)
	shape := coldBatchShape{minValue: 4000, maxValue: 4000, maxRecords: 4}
	var batches []coldBatch
	next := int64(0)
	for range 2048 {
		bs := genColdBatches(b, rng, next, 1, shape)
		batches = append(batches, bs...)
		next = bs[0].last + 1
	}
	f.addObject(b, "bench", []coldPart{{key: k, batches: batches}}, index.DefaultSparseInterval, true)
	return f, k, f.cat.extents[k][0]
}

// BenchmarkColdReadSequential reads the whole object from a cold reader
// (empty caches) in 1 MiB fetches, as a consumer catching up would, with
// 4 MiB blocks and read-ahead.
func BenchmarkColdReadSequential(b *testing.B) {
	f, k, ext := coldBenchObject(b)
	cfg := DefaultReaderConfig()
	ctx := context.Background()
	b.SetBytes(ext.Len)
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(f.bucket, f.cat, cfg)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for off := ext.BaseOffset; off <= ext.LastOffset; {
			data, err := r.Read(ctx, k, off, ext.LastOffset+1, 1<<20)
			if err != nil || len(data) == 0 {
				b.Fatalf("read at %d: %d bytes, %v", off, len(data), err)
			}
			n += int64(len(data))
			off = nextOffsetOf(b, data)
		}
		r.Close()
		if n != ext.Len {
			b.Fatalf("read %d bytes, want %d", n, ext.Len)
		}
	}
}

// BenchmarkColdReadCached reads 256 KiB at random offsets with every block
// already cached: the cost of lookup, assembly and verification.
func BenchmarkColdReadCached(b *testing.B) {
	f, k, ext := coldBenchObject(b)
	cfg := DefaultReaderConfig()
	r, err := NewReader(f.bucket, f.cat, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for off := ext.BaseOffset; off <= ext.LastOffset; {
		data, err := r.Read(ctx, k, off, ext.LastOffset+1, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		off = nextOffsetOf(b, data)
	}
	r.blocks.wait()
	rng := rand.New(rand.NewPCG(41, 41))
	const maxBytes = 256 << 10
	b.SetBytes(maxBytes)
	b.ReportAllocs()
	gets := r.Stats().Gets
	for b.Loop() {
		off := ext.BaseOffset + rng.Int64N(ext.LastOffset-ext.BaseOffset+1)
		if _, err := r.Read(ctx, k, off, ext.LastOffset+1, maxBytes); err != nil {
			b.Fatal(err)
		}
	}
	if r.Stats().Gets != gets {
		b.Fatal("a cached read sent GETs")
	}
}
