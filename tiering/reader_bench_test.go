package tiering

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
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
	benchColdSequential(b, func(r *Reader, k index.Key, off, end int64) (int, int64) {
		data, err := r.Read(context.Background(), k, off, end, 1<<20)
		if err != nil || len(data) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", off, len(data), err)
		}
		return len(data), nextOffsetOf(b, data)
	})
}

// benchColdSequential reads the bench object from offset 0 to its end with
// a fresh reader per iteration; read returns the bytes one call read and
// the offset to read next.
func benchColdSequential(b *testing.B, read func(r *Reader, k index.Key, off, end int64) (int, int64)) {
	f, k, ext := coldBenchObject(b)
	cfg := DefaultReaderConfig()
	b.SetBytes(ext.Len)
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(f.bucket, f.cat, cfg)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for off := ext.BaseOffset; off <= ext.LastOffset; {
			size, next := read(r, k, off, ext.LastOffset+1)
			n += int64(size)
			off = next
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
	// Fill the cache back to front: a sequential reader lets go of the
	// blocks it has passed, a reader going backwards keeps them.
	var offs []int64
	for off := ext.BaseOffset; off <= ext.LastOffset; {
		offs = append(offs, off)
		data, err := r.Read(ctx, k, off, ext.LastOffset+1, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		off = nextOffsetOf(b, data)
	}
	for _, off := range slices.Backward(offs) {
		if _, err := r.Read(ctx, k, off, ext.LastOffset+1, 1<<20); err != nil {
			b.Fatal(err)
		}
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

// BenchmarkColdReadPiecesSequential is BenchmarkColdReadSequential with
// ReadPieces, as the broker's fetch path reads: no copy of the batches.
func BenchmarkColdReadPiecesSequential(b *testing.B) {
	benchColdSequential(b, func(r *Reader, k index.Key, off, end int64) (int, int64) {
		pieces, err := r.ReadPieces(context.Background(), k, off, end, 1<<20)
		if err != nil || len(pieces) == 0 {
			b.Fatalf("read at %d: %d pieces, %v", off, len(pieces), err)
		}
		size := 0
		for _, p := range pieces {
			size += len(p)
		}
		return size, piecesEnd(b, pieces, size)
	})
}

// piecesEnd returns the offset after the whole batches held in pieces
// (size bytes in all), walking their headers without joining the pieces.
func piecesEnd(tb testing.TB, pieces [][]byte, size int) int64 {
	tb.Helper()
	header := func(pos int) []byte { // the 27 bytes at pos, across pieces
		var h []byte
		for _, p := range pieces {
			if pos >= len(p) {
				pos -= len(p)
				continue
			}
			take := min(len(p)-pos, 27-len(h))
			h = append(h, p[pos:pos+take]...)
			pos = 0
			if len(h) == 27 {
				break
			}
		}
		return h
	}
	next := int64(-1)
	for pos := 0; pos < size; {
		h := header(pos)
		if len(h) < 27 {
			tb.Fatalf("batch at %d of %d bytes is cut short", pos, size)
		}
		next = int64(binary.BigEndian.Uint64(h)) + int64(int32(binary.BigEndian.Uint32(h[23:]))) + 1
		pos += batchLengthEnd + int(int32(binary.BigEndian.Uint32(h[8:])))
	}
	return next
}
