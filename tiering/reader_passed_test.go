package tiering

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// readSequentially reads k from offset 0 to its end in reads of at most
// maxBytes, checks every read's bytes and calls after (if not nil) with
// the offset reached and the read's number.
func readSequentially(t *testing.T, f *coldFixture, r *Reader, maxBytes int, after func(next int64, read int)) {
	t.Helper()
	k := f.keys[0]
	ext := f.cat.extents[k][0]
	end := ext.LastOffset + 1
	ctx := context.Background()
	next := int64(0)
	for read := 1; next < end; read++ {
		got, err := r.Read(ctx, k, next, end, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if want := f.expect(k, next, end, maxBytes); !bytes.Equal(got, want) {
			t.Fatalf("read %d at offset %d: %d bytes, want %d", read, next, len(got), len(want))
		}
		r.blocks.wait() // read-ahead and removals settled
		next = nextOffsetOf(t, got)
		if after != nil {
			after(next, read)
		}
	}
}

// A lone sequential reader's blocks that it has read past leave the cache
// at once when they hold only its partition's bytes: a replay does not
// fill the cache (and the heap) with blocks nobody will read again. Every
// block is still fetched once.
func TestLoneSequentialReaderDropsPassedBlocks(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(31, 31))
	k := coldKey(7, 0)
	batches := genColdBatches(t, rng, 0, 150, coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4})
	footer := f.addObject(t, "lone", []coldPart{{key: k, batches: batches}}, 512, true)
	part, _ := footer.Lookup(k)
	cfg := testReaderConfig()
	cfg.ReadAhead = 3
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0]
	blocks := (ext.Pos + ext.Len + cfg.BlockSize - 1) / cfg.BlockSize
	most := 0
	check := func(next int64, read int) {
		if next > ext.LastOffset {
			return
		}
		pos, _ := readStart(ext.Extent, part, next)
		cur := pos / cfg.BlockSize // the block the next read starts in
		cached := lruBlocks(r)
		most = max(most, len(cached))
		for _, bi := range cached {
			if bi < cur {
				t.Fatalf("after read %d (to offset %d, block %d): block %d read past is still cached (%v)", read, next, cur, bi, cached)
			}
		}
	}
	readSequentially(t, f, r, 1500, check)
	st := r.Stats()
	if st.Gets != blocks+1 {
		t.Errorf("%d GETs for %d blocks and the footer, want one each", st.Gets, blocks)
	}
	if st.PassedDropped < blocks-2 {
		t.Errorf("%d passed blocks dropped of %d blocks", st.PassedDropped, blocks)
	}
	if limit := cfg.ReadAhead + 2; most > limit {
		t.Errorf("the cache held up to %d blocks, want at most read-ahead + 2 = %d", most, limit)
	}
	// A second replay right after: the first reader's cursor, at the
	// end, is no reader behind it.
	readSequentially(t, f, r, 1500, check)
	if again := r.Stats(); again.PassedDropped-st.PassedDropped < blocks-2 {
		t.Errorf("second replay: %d passed blocks dropped of %d blocks", again.PassedDropped-st.PassedDropped, blocks)
	}
}

// Two readers of one partition, one behind the other: the blocks the
// leader reads past stay cached for the one behind, which sends no GET of
// its own.
func TestSequentialReadersShareBlocks(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(32, 32))
	k := coldKey(8, 0)
	batches := genColdBatches(t, rng, 0, 150, coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4})
	f.addObject(t, "two", []coldPart{{key: k, batches: batches}}, 512, true)
	cfg := testReaderConfig()
	cfg.ReadAhead = 2
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0]
	blocks := (ext.Pos + ext.Len + cfg.BlockSize - 1) / cfg.BlockSize
	end := ext.LastOffset + 1
	ctx := context.Background()
	// The leader reads 3000 bytes at a time, the follower 1000: the
	// follower falls further behind with every round.
	lead, follow := int64(0), int64(0)
	for lead < end || follow < end {
		for _, c := range []struct {
			at       *int64
			maxBytes int
		}{{&lead, 3000}, {&follow, 1000}} {
			if *c.at >= end {
				continue
			}
			got, err := r.Read(ctx, k, *c.at, end, c.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if want := f.expect(k, *c.at, end, c.maxBytes); !bytes.Equal(got, want) {
				t.Fatalf("read at offset %d: %d bytes, want %d", *c.at, len(got), len(want))
			}
			*c.at = nextOffsetOf(t, got)
			r.blocks.wait()
		}
	}
	// The follower, behind, may drop what it passes: the leader is
	// ahead of it.
	if st := r.Stats(); st.Gets != blocks+1 {
		t.Errorf("%d GETs for %d blocks and the footer, want one each", st.Gets, blocks)
	}
}

// A block that also holds another partition's bytes stays cached when a
// lone sequential reader reads past it: the other partition's reader may
// still come for it. The blocks wholly inside the partition go.
func TestPassedBlockSharedWithAnotherPartitionStays(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(33, 33))
	a, b := coldKey(9, 0), coldKey(9, 1)
	shape := coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4}
	f.addObject(t, "shared", []coldPart{
		{key: a, batches: genColdBatches(t, rng, 0, 30, shape)},
		{key: b, batches: genColdBatches(t, rng, 0, 150, shape)},
	}, 512, true)
	cfg := testReaderConfig()
	cfg.ReadAhead = 2
	r := newTestReader(t, f, cfg)
	eb := f.cat.extents[b][0]
	if eb.Pos%cfg.BlockSize == 0 {
		t.Fatalf("partition b starts at %d, a block boundary: no block is shared", eb.Pos)
	}
	shared := eb.Pos / cfg.BlockSize // a's tail, b's head
	lastB := (eb.Pos + eb.Len - 1) / cfg.BlockSize
	end := eb.LastOffset + 1
	ctx := context.Background()
	for next := int64(0); next < end; {
		got, err := r.Read(ctx, b, next, end, 1500)
		if err != nil {
			t.Fatal(err)
		}
		next = nextOffsetOf(t, got)
		r.blocks.wait()
	}
	cached := lruBlocks(r)
	if !slices.Contains(cached, shared) {
		t.Errorf("block %d, shared by partitions a and b, left the cache: cached %v", shared, cached)
	}
	for bi := shared + 1; bi < lastB; bi++ {
		if slices.Contains(cached, bi) {
			t.Errorf("block %d, b's alone and read past, is still cached: %v", bi, cached)
		}
	}
}

// advanceCursor: a read continuing a cursor is sequential; a reader is
// alone while no other cursor of the partition behind it moved within
// readerActive; a fifth reader takes the least recently used cursor's
// place.
func TestAdvanceCursor(t *testing.T) {
	f := newColdFixture(t)
	r := newTestReader(t, f, testReaderConfig())
	k, other := coldKey(1, 0), coldKey(1, 1)
	check := func(offset, next int64, wantSeq, wantAlone bool) {
		t.Helper()
		seq, alone := r.advanceCursor(k, offset, next)
		if seq != wantSeq || alone != wantAlone {
			t.Fatalf("advanceCursor(%d, %d) = sequential %v, alone %v; want %v, %v", offset, next, seq, alone, wantSeq, wantAlone)
		}
	}
	check(0, 10, false, true)
	check(10, 20, true, true)
	r.advanceCursor(other, 0, 10) // another partition's reader changes nothing
	check(20, 30, true, true)
	check(100, 110, false, false) // a second reader of k
	check(30, 40, true, true)     // the other reader is ahead: it passed these bytes itself
	// The second reader goes quiet.
	r.cursorsMu.Lock()
	for i := range r.cursors[k] {
		if r.cursors[k][i].next == 110 {
			r.cursors[k][i].used -= int64(readerActive)
		}
	}
	r.cursorsMu.Unlock()
	check(40, 50, true, true)
	check(110, 120, true, false) // and comes back, with the first behind it
	// Readers at 200, 300 and 400 fill the slots (with 50 and 120); the
	// one at 400 takes the place of the least recently used, 50.
	check(200, 210, false, false)
	check(300, 310, false, false)
	check(400, 410, false, false)
	check(50, 60, false, true) // every other cursor is ahead
	// The table of partitions is bounded.
	r.cursorsMu.Lock()
	n := len(r.cursors)
	r.cursorsMu.Unlock()
	if n != 2 {
		t.Fatalf("%d partitions with cursors, want 2", n)
	}
}
