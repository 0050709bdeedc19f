package tiering

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

// ReadPieces returns the bytes Read returns, as slices of the cached blocks
// (the same memory on every read of them) except pieces too short to be
// worth keeping a block alive for, which are copies.
func TestReadPiecesShareCachedBlocks(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(21, 21))
	k := coldKey(5, 0)
	batches := genColdBatches(t, rng, 0, 60, coldBatchShape{minValue: 100, maxValue: 900, maxRecords: 4})
	f.addObject(t, "pieces", []coldPart{{key: k, batches: batches}}, 512, true)
	cfg := testReaderConfig()
	cfg.ReadAhead = 0
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0]
	dataLen := ext.Pos + ext.Len // one partition: its batches are all the data
	blockLen := func(bi int64) int64 { return min(cfg.BlockSize, dataLen-bi*cfg.BlockSize) }
	ctx := context.Background()
	end := ext.LastOffset + 1
	shared, copied := 0, 0
	for _, b := range batches {
		for _, maxBytes := range []int{1, 3000, int(ext.Len)} {
			first, err := r.ReadPieces(ctx, k, b.base, end, maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			want := f.expect(k, b.base, end, maxBytes)
			if got := bytes.Join(first, nil); !bytes.Equal(got, want) {
				t.Fatalf("ReadPieces(%d, max %d) = %d bytes in %d pieces, want %d bytes", b.base, maxBytes, len(got), len(first), len(want))
			}
			again, err := r.ReadPieces(ctx, k, b.base, end, maxBytes)
			if err != nil || len(again) != len(first) {
				t.Fatalf("second ReadPieces(%d, max %d): %d pieces, %v; first had %d", b.base, maxBytes, len(again), err, len(first))
			}
			// Where each piece lies in the object: the pieces are the
			// batches from the one holding b.base, back to back.
			pos := ext.Pos
			for _, x := range batches {
				if x.base == b.base {
					break
				}
				pos += int64(len(x.data))
			}
			for i, p := range first {
				if len(p) == 0 {
					t.Fatalf("ReadPieces(%d, max %d): piece %d is empty", b.base, maxBytes, i)
				}
				bi := pos / cfg.BlockSize
				same := &p[0] == &again[i][0]
				// A piece crossing blocks is short runs of each, copied
				// together.
				wantShared := pos+int64(len(p)) <= (bi+1)*cfg.BlockSize && int64(len(p))*sharedPieceFraction >= blockLen(bi)
				if same != wantShared {
					t.Fatalf("ReadPieces(%d, max %d): piece %d of %d bytes in block %d of %d bytes: shared %v, want %v",
						b.base, maxBytes, i, len(p), bi, blockLen(bi), same, wantShared)
				}
				if same {
					shared++
				} else {
					copied++
				}
				pos += int64(len(p))
			}
		}
	}
	if shared == 0 || copied == 0 {
		t.Fatalf("%d shared and %d copied pieces: the test covers neither one or the other", shared, copied)
	}
}

// lruBlocks lists the cached blocks of r, most recently used first.
func lruBlocks(r *Reader) []int64 {
	r.blocks.mu.Lock()
	defer r.blocks.mu.Unlock()
	var out []int64
	for e := r.blocks.lru.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*cacheEntry[blockKey, *cachedBlock]).key.index)
	}
	return out
}

// A sequential reader's blocks that it has read past go behind the blocks
// read ahead of it in the cache, so that the cache never drops a block
// fetched ahead before the blocks already consumed. (With another reader of
// the partition behind it: a lone reader's passed blocks leave the cache,
// see TestLoneSequentialReaderDropsPassedBlocks.)
func TestSequentialReaderDemotesPassedBlocks(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(22, 22))
	k := coldKey(6, 0)
	batches := genColdBatches(t, rng, 0, 120, coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4})
	footer := f.addObject(t, "demote", []coldPart{{key: k, batches: batches}}, 512, true)
	part, _ := footer.Lookup(k)
	cfg := testReaderConfig()
	cfg.ReadAhead = 3
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0]
	ctx := context.Background()
	end := ext.LastOffset + 1
	// Another reader, behind the one below after its first read.
	if _, err := r.Read(ctx, k, 0, end, 1); err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	checked := 0
	for reads := 1; next < end; reads++ {
		got, err := r.Read(ctx, k, next, end, 1500)
		if err != nil {
			t.Fatal(err)
		}
		r.blocks.wait() // read-ahead done: the order below is settled
		next = nextOffsetOf(t, got)
		if next >= end {
			break
		}
		pos, _ := readStart(ext.Extent, part, next)
		cur := pos / cfg.BlockSize // the block the next read starts in
		order := lruBlocks(r)
		seenPassed := false
		for _, bi := range order {
			switch {
			case bi < cur:
				seenPassed = true
			case seenPassed && bi > cur && reads > 1: // the first read is not sequential
				t.Fatalf("after reading to offset %d (block %d): block %d read ahead is behind a block read past, LRU order %v", next, cur, bi, order)
			}
		}
		if seenPassed {
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no read left a block behind: the test checked nothing")
	}
}
