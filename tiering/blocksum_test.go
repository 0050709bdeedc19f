package tiering

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/shalelog/shale/index"
)

// The CRC of any byte range put together from chunk sums equals the CRC
// of the bytes, for ranges that start and end anywhere, span blocks, and
// blocks whose last chunk is short.
func TestRangeCRCMatchesChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, blockSize := range []int{1000, sumChunk, 3*sumChunk + 77, 4 * sumChunk, 256 << 10} {
		var blocks []*cachedBlock
		for off := 0; off < len(data); off += blockSize {
			d := data[off:min(off+blockSize, len(data))]
			blocks = append(blocks, &cachedBlock{data: d, sums: chunkSums(d, nil)})
		}
		for range 300 {
			from := rng.IntN(len(data))
			to := from + rng.IntN(len(data)-from+1)
			var crc uint32
			for pos := from; pos < to; {
				b := blocks[pos/blockSize]
				off := pos % blockSize
				end := min(len(b.data), off+to-pos)
				crc = b.rangeCRC(crc, off, end)
				pos += end - off
			}
			if want := crc32.Checksum(data[from:to], castagnoli); crc != want {
				t.Fatalf("block size %d, range [%d, %d): %#08x, want %#08x", blockSize, from, to, crc, want)
			}
		}
	}
}

// A flipped byte deep inside a large batch, in a chunk whose CRC comes
// from the chunk sums alone (not read again), and in a batch crossing a
// block boundary, is found; the undamaged object reads back exactly.
func TestCorruptionInsideWholeChunks(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(5, 5))
	k := coldKey(4, 0)
	// Batches of about 100 KiB: each covers several whole 16 KiB chunks,
	// and with 96 KiB blocks most cross a block boundary.
	shape := coldBatchShape{minValue: 30_000, maxValue: 34_000, maxRecords: 3}
	batches := genColdBatches(t, rng, 0, 12, shape)
	f.addObject(t, "big", []coldPart{{key: k, batches: batches}}, index.DefaultSparseInterval, true)
	ext := f.cat.extents[k][0]
	cfg := testReaderConfig()
	cfg.BlockSize = 96 << 10

	r := newTestReader(t, f, cfg)
	got, err := r.Read(context.Background(), k, 0, ext.LastOffset+1, 16<<20)
	if err != nil || !bytes.Equal(got, f.expect(k, 0, ext.LastOffset+1, 16<<20)) {
		t.Fatalf("undamaged object: %d bytes, %v", len(got), err)
	}

	for _, bi := range []int{1, 5, 10} {
		pos := ext.Pos
		for _, b := range batches[:bi] {
			pos += int64(len(b.data))
		}
		bad := batches[bi]
		// In the middle of the batch: inside a whole chunk of some block.
		at := pos + int64(len(bad.data))/2
		name := "big-bad"
		f.flipObject(t, ext.Object, name, at)
		r := newTestReader(t, f, cfg)
		_, err := r.Read(context.Background(), k, bad.base, ext.LastOffset+1, 16<<20)
		ce := wantCorruption(t, err, name)
		if ce.Offset != pos {
			t.Errorf("batch %d: corruption reported at %d, the bad batch is at %d", bi, ce.Offset, pos)
		}
		var ie *index.CorruptionError
		if !errors.As(err, &ie) {
			t.Fatalf("batch %d: %v is not a corruption error", bi, err)
		}
		f.flipObject(t, name, ext.Object, at) // restore
	}
}

// BenchmarkRangeCRC compares a batch's CRC from chunk sums with hashing
// its bytes again.
func BenchmarkRangeCRC(b *testing.B) {
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	blk := &cachedBlock{data: data, sums: chunkSums(data, nil)}
	b.Run("sums", func(b *testing.B) {
		b.SetBytes(int64(len(data)) - 100)
		for b.Loop() {
			blk.rangeCRC(0, 21, len(data)-79)
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(data)) - 100)
		for b.Loop() {
			crc32.Checksum(data[21:len(data)-79], castagnoli)
		}
	})
}
