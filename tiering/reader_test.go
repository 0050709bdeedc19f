package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/objectstore"
)

func TestReaderConfigValidate(t *testing.T) {
	if err := DefaultReaderConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := map[string]func(*ReaderConfig){
		"zero block size":     func(c *ReaderConfig) { c.BlockSize = 0 },
		"huge block size":     func(c *ReaderConfig) { c.BlockSize = 2 << 30 },
		"negative cache":      func(c *ReaderConfig) { c.CacheBytes = -1 },
		"negative footers":    func(c *ReaderConfig) { c.FooterCacheEntries = -1 },
		"tiny footer read":    func(c *ReaderConfig) { c.FooterReadSize = index.TrailerSize - 1 },
		"negative read-ahead": func(c *ReaderConfig) { c.ReadAhead = -1 },
		"no GETs":             func(c *ReaderConfig) { c.MaxConcurrentGets = 0 },
		"no attempts":         func(c *ReaderConfig) { c.GetAttempts = 0 },
		"negative backoff":    func(c *ReaderConfig) { c.RetryBackoff = -time.Second },
	}
	for name, mutate := range bad {
		cfg := DefaultReaderConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
		if _, err := NewReader(objectstore.NewFaulty(nil), &coldCatalog{}, cfg); err == nil {
			t.Errorf("%s: NewReader accepted it", name)
		}
	}
	if _, err := NewReader(nil, &coldCatalog{}, DefaultReaderConfig()); err == nil {
		t.Error("NewReader accepted a nil bucket")
	}
}

// readEveryOffset reads every offset of every partition with several maxBytes and
// end bounds and compares with the ground truth. It returns the number of
// reads that returned data.
func readEveryOffset(t *testing.T, f *coldFixture, r *Reader) int {
	t.Helper()
	ctx := context.Background()
	reads := 0
	for _, k := range f.keys {
		first, last := f.cat.bounds(k)
		for off := first; off <= last; off++ {
			for _, maxBytes := range []int{1, 3000, 1 << 20} {
				for _, end := range []int64{last + 1, off + 3} {
					got, err := r.Read(ctx, k, off, end, maxBytes)
					if err != nil {
						t.Fatalf("Read(%v, %d, end %d, max %d): %v", k, off, end, maxBytes, err)
					}
					if want := f.expect(k, off, end, maxBytes); !bytes.Equal(got, want) {
						t.Fatalf("Read(%v, %d, end %d, max %d) = %d bytes, want %d", k, off, end, maxBytes, len(got), len(want))
					}
					if got != nil {
						reads++
					}
				}
			}
		}
	}
	return reads
}

func TestReadEveryOffset(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(1, 1)))
	r := newTestReader(t, f, testReaderConfig())
	readEveryOffset(t, f, r)
	st := r.Stats()
	if st.CacheHits == 0 || st.FooterHits == 0 {
		t.Errorf("no cache hits after reading everything: %+v", st)
	}
	if st.FooterMisses != 3 || st.Heads != 1 {
		t.Errorf("footer misses %d, HEADs %d; want 3 objects loaded once, one of them without a size", st.FooterMisses, st.Heads)
	}
	if got := f.bucket.Stats().Reads; got != st.Gets {
		t.Errorf("bucket saw %d GETs, reader counted %d", got, st.Gets)
	}
}

func TestReadEveryOffsetWithoutCache(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(2, 2)))
	cfg := testReaderConfig()
	cfg.CacheBytes = 0
	cfg.FooterCacheEntries = 0
	cfg.ReadAhead = 0
	cfg.BlockSize = 1000 // not a power of two: blocks and batches never align
	r := newTestReader(t, f, cfg)
	reads := readEveryOffset(t, f, r)
	st := r.Stats()
	if st.CacheHits != 0 || st.FooterHits != 0 || st.CachedBlocks != 0 {
		t.Errorf("a reader without caches hit them: %+v", st)
	}
	if st.FooterMisses < int64(reads) {
		t.Errorf("footer loaded %d times for %d reads without a footer cache", st.FooterMisses, reads)
	}
}

func TestReadOutsideCatalog(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(3, 3)))
	r := newTestReader(t, f, testReaderConfig())
	ctx := context.Background()
	k := coldKey(2, 0)
	first, last := f.cat.bounds(k)
	if _, err := r.Read(ctx, k, first-1, last+1, 100); !errors.Is(err, ErrNotInCatalog) {
		t.Errorf("below log start: err = %v, want ErrNotInCatalog", err)
	}
	if _, err := r.Read(ctx, k, last+1, last+10, 100); !errors.Is(err, ErrNotInCatalog) {
		t.Errorf("past the catalog end: err = %v, want ErrNotInCatalog", err)
	}
	if _, err := r.Read(ctx, coldKey(9, 9), 0, 10, 100); !errors.Is(err, ErrNotInCatalog) {
		t.Errorf("unknown partition: err = %v, want ErrNotInCatalog", err)
	}
	if got, err := r.Read(ctx, k, first, first, 100); got != nil || err != nil {
		t.Errorf("offset == end: got %d bytes, %v; want nothing", len(got), err)
	}
	if _, err := r.Read(ctx, k, -1, 10, 100); err == nil {
		t.Error("negative offset accepted")
	}
	if r.Stats().Gets != 0 {
		t.Errorf("reads outside the catalog sent %d GETs", r.Stats().Gets)
	}
}

func TestReadGapBetweenExtents(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(4, 4)))
	r := newTestReader(t, f, testReaderConfig())
	k := coldKey(2, 0)
	exts := f.cat.extents[k]
	gapStart := exts[0].LastOffset + 1
	if exts[1].BaseOffset != gapStart+50 {
		t.Fatalf("coldFixture has no gap: extents end at %d and start at %d", exts[0].LastOffset, exts[1].BaseOffset)
	}
	got, err := r.Read(context.Background(), k, gapStart+10, exts[1].LastOffset+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, exts[1].batches[0].data) {
		t.Fatalf("read in a gap returned %d bytes, want the next extent's first batch (%d bytes)", len(got), len(exts[1].batches[0].data))
	}
	// An end bound inside the gap returns nothing.
	if got, err := r.Read(context.Background(), k, gapStart+10, exts[1].BaseOffset, 1<<20); got != nil || err != nil {
		t.Fatalf("end inside the gap: got %d bytes, %v", len(got), err)
	}
}

func TestReadMaxBytesAndEnd(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(5, 5))
	k := coldKey(3, 0)
	// A 13 KiB batch between small ones: with 4 KiB blocks it spans four.
	batches := genColdBatches(t, rng, 100, 5, coldBatchShape{minValue: 50, maxValue: 60, maxRecords: 3})
	big := makeColdBatch(t, rng, batches[4].last+1, 4, 3_300)
	batches = append(batches, coldBatch{base: batches[4].last + 1, last: batches[4].last + 4, data: big})
	batches = append(batches, genColdBatches(t, rng, batches[5].last+1, 5, coldBatchShape{minValue: 50, maxValue: 60, maxRecords: 3})...)
	f.addObject(t, "one", []coldPart{{key: k, batches: batches}}, 256, true)
	r := newTestReader(t, f, testReaderConfig())
	ctx := context.Background()
	end := batches[len(batches)-1].last + 1

	// maxBytes smaller than any batch still returns one whole batch.
	got, err := r.Read(ctx, k, batches[5].base+2, end, 1)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("maxBytes 1 at the big batch: got %d bytes, %v; want the %d-byte batch", len(got), err, len(big))
	}
	// Two small batches fit; the big third does not.
	two := len(batches[3].data) + len(batches[4].data)
	got, err = r.Read(ctx, k, batches[3].base, end, two+len(big)-1)
	if err != nil || !bytes.Equal(got, append(bytes.Clone(batches[3].data), batches[4].data...)) {
		t.Fatalf("maxBytes just short of three batches: got %d bytes, %v; want %d", len(got), err, two)
	}
	// end is exclusive: a batch whose base offset is end is not returned,
	// one that holds end-1 is.
	got, err = r.Read(ctx, k, batches[1].base, batches[3].base, 1<<20)
	if err != nil || !bytes.Equal(got, append(bytes.Clone(batches[1].data), batches[2].data...)) {
		t.Fatalf("end at a batch base: got %d bytes, %v", len(got), err)
	}
	got, err = r.Read(ctx, k, batches[1].base, batches[3].base+1, 1<<20)
	if err != nil || len(got) != len(batches[1].data)+len(batches[2].data)+len(batches[3].data) {
		t.Fatalf("end inside a batch: got %d bytes, %v", len(got), err)
	}
	// Starting mid-batch returns that whole batch.
	got, err = r.Read(ctx, k, batches[2].last, end, 1)
	if err != nil || !bytes.Equal(got, batches[2].data) {
		t.Fatalf("offset inside a batch: got %d bytes, %v", len(got), err)
	}
	// The returned slice belongs to the caller: scribbling on it does not
	// change what the next read returns.
	clear(got)
	if again, _ := r.Read(ctx, k, batches[2].last, end, 1); !bytes.Equal(again, batches[2].data) {
		t.Fatal("a caller's write to returned bytes leaked into the cache")
	}
}

func TestReadStopsAtExtentEnd(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(6, 6)))
	r := newTestReader(t, f, testReaderConfig())
	k := coldKey(1, 0)
	_, last := f.cat.bounds(k)
	ctx := context.Background()
	var all []byte
	var want []byte
	for _, e := range f.cat.extents[k] {
		for _, b := range e.batches {
			want = append(want, b.data...)
		}
	}
	calls := 0
	for off := int64(0); off <= last; {
		got, err := r.Read(ctx, k, off, last+1, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		ext, _ := f.cat.find(k, off)
		if want := f.expect(k, off, last+1, 1<<30); !bytes.Equal(got, want) {
			t.Fatalf("read at %d crossed the extent [%d, %d]", off, ext.BaseOffset, ext.LastOffset)
		}
		all = append(all, got...)
		off = ext.LastOffset + 1
		calls++
	}
	if calls != len(f.cat.extents[k]) || !bytes.Equal(all, want) {
		t.Fatalf("%d calls, %d bytes; want one call per extent (%d) and %d bytes", calls, len(all), len(f.cat.extents[k]), len(want))
	}
}

func TestConcurrentReadsShareOneGet(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(7, 7)))
	cfg := testReaderConfig()
	cfg.ReadAhead = 0
	r := newTestReader(t, f, cfg)
	ctx := context.Background()
	k := coldKey(1, 0)
	ext := f.cat.extents[k][2] // the single-partition object
	off := ext.batches[len(ext.batches)/2].base
	want := f.expect(k, off, ext.LastOffset+1, 1)

	// Load the footer first, by reading elsewhere in the object, so that
	// the only GET left is the block's.
	if _, err := r.Read(ctx, k, ext.BaseOffset, ext.LastOffset+1, 1); err != nil {
		t.Fatal(err)
	}
	before, stBefore := f.bucket.Stats(), r.Stats()
	f.gate.shut()
	const readers = 8
	var wg sync.WaitGroup
	results := make([][]byte, readers)
	errs := make([]error, readers)
	for i := range readers {
		wg.Go(func() { results[i], errs[i] = r.Read(ctx, k, off, ext.LastOffset+1, 1) })
	}
	coldWaitFor(t, "readers to join one GET", func() bool {
		return r.Stats().DedupedGets-stBefore.DedupedGets == readers-1 && f.gate.waiting.Load() == 1
	})
	f.gate.open()
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !bytes.Equal(results[i], want) {
			t.Fatalf("reader %d: %d bytes, %v", i, len(results[i]), errs[i])
		}
	}
	if gets := f.bucket.Stats().Sub(before).Reads; gets != 1 {
		t.Fatalf("%d readers of one cold block sent %d GETs, want 1", readers, gets)
	}
}

func TestConcurrentReadsWithLatency(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(8, 8)))
	f.faulty.SetLatency(20 * time.Millisecond)
	cfg := testReaderConfig()
	cfg.BlockSize = 1 << 20 // every object is one block
	r := newTestReader(t, f, cfg)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			k := f.keys[i%len(f.keys)]
			first, last := f.cat.bounds(k)
			for off := first; off <= last; off += 7 {
				got, err := r.Read(context.Background(), k, off, last+1, 2000)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, f.expect(k, off, last+1, 2000)) {
					t.Errorf("Read(%v, %d) returned wrong bytes", k, off)
					return
				}
			}
		})
	}
	wg.Wait()
	// Three objects of one block each: one footer GET and one block GET
	// per object, however many readers wanted them at once.
	if gets := r.Stats().Gets; gets != 6 {
		t.Errorf("%d GETs, want 6 (footer and block of 3 objects)", gets)
	}
}

func TestSequentialReadAhead(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(9, 9))
	k := coldKey(4, 0)
	batches := genColdBatches(t, rng, 0, 120, coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4})
	f.addObject(t, "seq", []coldPart{{key: k, batches: batches}}, 512, true)
	cfg := testReaderConfig()
	cfg.ReadAhead = 3
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0]
	blocks := (ext.Pos+ext.Len-1)/cfg.BlockSize + 1
	ctx := context.Background()
	end := ext.LastOffset + 1

	read := func(off int64, maxBytes int) int64 {
		t.Helper()
		got, err := r.Read(ctx, k, off, end, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.expect(k, off, end, maxBytes)) {
			t.Fatalf("Read at %d returned wrong bytes", off)
		}
		r.blocks.wait() // let background fetches finish, to count them
		return nextOffsetOf(t, got)
	}
	// A first read is not sequential: no read-ahead. It starts at the
	// object's first byte and asks for one small batch, so it stays in
	// block 0.
	next := read(0, 1)
	if st := r.Stats(); st.ReadAheads != 0 {
		t.Fatalf("first read triggered %d read-aheads", st.ReadAheads)
	}
	// The second read continues where the first ended: read-ahead.
	next = read(next, 1500)
	st := r.Stats()
	if st.ReadAheads < 1 {
		t.Fatalf("sequential read triggered no read-ahead: %+v", st)
	}
	missesBefore := st.CacheMisses
	for next <= ext.LastOffset {
		next = read(next, 1500)
	}
	st = r.Stats()
	if st.CacheMisses != missesBefore {
		t.Errorf("a sequential reader with read-ahead still waited for %d GETs", st.CacheMisses-missesBefore)
	}
	if st.Gets != blocks+1 {
		t.Errorf("%d GETs for %d blocks and a footer: blocks fetched more than once or past the extent", st.Gets, blocks)
	}
	if st.ReadAheads > blocks {
		t.Errorf("%d read-aheads for %d blocks", st.ReadAheads, blocks)
	}
}

// nextOffsetOf returns the offset after the last batch in b.
func nextOffsetOf(tb testing.TB, b []byte) int64 {
	tb.Helper()
	_, next, consumed, err := index.VerifyBatches(b, -1)
	if err != nil || consumed != len(b) {
		tb.Fatalf("returned bytes do not verify: %v (%d of %d bytes)", err, consumed, len(b))
	}
	return next
}

func TestReadAheadNeverPassesExtent(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(10, 10))
	shape := coldBatchShape{minValue: 100, maxValue: 300, maxRecords: 4}
	a, b := coldKey(5, 0), coldKey(5, 1)
	f.addObject(t, "two", []coldPart{{key: a, batches: genColdBatches(t, rng, 0, 40, shape)}, {key: b, batches: genColdBatches(t, rng, 0, 60, shape)}}, 512, true)
	cfg := testReaderConfig()
	cfg.ReadAhead = 100
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[a][0]
	next := int64(0)
	for next <= ext.LastOffset {
		got, err := r.Read(context.Background(), a, next, ext.LastOffset+1, 700)
		if err != nil {
			t.Fatal(err)
		}
		next = nextOffsetOf(t, got)
	}
	r.blocks.wait()
	lastBlock := (ext.Pos + ext.Len - 1) / cfg.BlockSize
	for i := lastBlock + 1; i*cfg.BlockSize < int64(len(f.objects["two"])); i++ {
		if r.blocks.contains(blockKey{"two", i}) {
			t.Errorf("block %d, past the extent's last block %d, was fetched", i, lastBlock)
		}
	}
}

func TestCacheBound(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(11, 11)))
	cfg := testReaderConfig()
	cfg.CacheBytes = 3 * cfg.BlockSize
	cfg.ReadAhead = 2
	r := newTestReader(t, f, cfg)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 12))
	for range 400 {
		k := f.keys[rng.IntN(len(f.keys))]
		first, last := f.cat.bounds(k)
		off := first + rng.Int64N(last-first+1)
		maxBytes := 1 + rng.IntN(20_000)
		got, err := r.Read(ctx, k, off, last+1, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.expect(k, off, last+1, maxBytes)) {
			t.Fatalf("Read(%v, %d) returned wrong bytes", k, off)
		}
		if st := r.Stats(); st.CachedBytes > cfg.CacheBytes || st.CachedBlocks > 3 {
			t.Fatalf("cache holds %d blocks, %d bytes; bound %d", st.CachedBlocks, st.CachedBytes, cfg.CacheBytes)
		}
	}
	r.blocks.wait()
	if st := r.Stats(); st.CachedBytes > cfg.CacheBytes {
		t.Fatalf("cache over its bound after read-aheads: %+v", st)
	}
	// Evicted blocks were fetched again: more GETs than there are blocks
	// and footers.
	var blocks int64
	for _, data := range f.objects {
		blocks += (int64(len(data)) + cfg.BlockSize - 1) / cfg.BlockSize
	}
	if st := r.Stats(); st.Gets <= blocks+int64(len(f.objects)) {
		t.Fatalf("%d GETs for %d blocks: a 3-block cache should have evicted and refetched", st.Gets, blocks)
	}
}

// flipObject stores a copy of the object name with byte at flipped under
// newName, and points the catalog's extents at the copy.
func (f *coldFixture) flipObject(tb testing.TB, name, newName string, at int64) {
	tb.Helper()
	data := bytes.Clone(f.objects[name])
	data[at] ^= 0x5a
	f.putObject(tb, newName, data)
	f.cat.mu.Lock()
	defer f.cat.mu.Unlock()
	for k, exts := range f.cat.extents {
		for i := range exts {
			if exts[i].Object == name {
				exts[i].Object = newName
			}
		}
		f.cat.extents[k] = exts
	}
}

func wantCorruption(tb testing.TB, err error, object string) *index.CorruptionError {
	tb.Helper()
	var ce *index.CorruptionError
	if !errors.As(err, &ce) {
		tb.Fatalf("err = %v, want a *index.CorruptionError", err)
	}
	if ce.Object != object {
		tb.Fatalf("corruption error names object %q, want %q: %v", ce.Object, object, err)
	}
	return ce
}

func TestCorruptBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field int64 // byte of the batch to flip
	}{
		{"record bytes", -20}, // counted from the batch's end
		{"attributes", 22},
		{"base offset", 5},
		{"length", 10},
		{"magic", 16},
		{"crc", 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newColdFixture(t)
			f.standardObjects(t, rand.New(rand.NewPCG(13, 13)))
			k := coldKey(1, 1)
			ext := f.cat.extents[k][0]
			// The batch to damage, and where it sits in the object.
			bi := len(ext.batches) / 2
			pos := ext.Pos
			for _, b := range ext.batches[:bi] {
				pos += int64(len(b.data))
			}
			bad := ext.batches[bi]
			at := pos + tc.field
			if tc.field < 0 {
				at = pos + int64(len(bad.data)) + tc.field
			}
			f.flipObject(t, ext.Object, "bad/batch", at)
			r := newTestReader(t, f, testReaderConfig())
			ctx := context.Background()
			_, err := r.Read(ctx, k, bad.base, ext.LastOffset+1, 1<<20)
			ce := wantCorruption(t, err, "bad/batch")
			if ce.Offset < pos || ce.Offset > at {
				t.Errorf("corruption reported at %d; the bad batch is at %d, the bad byte at %d", ce.Offset, pos, at)
			}
			// Another partition of the same object reads fine.
			other := coldKey(2, 7)
			o := f.cat.extents[other][0]
			got, err := r.Read(ctx, other, o.BaseOffset, o.LastOffset+1, 1<<20)
			if err != nil || !bytes.Equal(got, f.expect(other, o.BaseOffset, o.LastOffset+1, 1<<20)) {
				t.Errorf("undamaged partition: %d bytes, %v", len(got), err)
			}
			// A read that would take in the bad batch fails, never returns
			// it or stops just before it without saying so... unless it
			// ends before the batch.
			before := ext.batches[bi-1]
			got, err = r.Read(ctx, k, before.base, bad.base, 1<<20)
			if err != nil || !bytes.Equal(got, before.data) {
				t.Errorf("read ending before the bad batch: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestCorruptFooterAndTrailer(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(14, 14)))
	size := int64(len(f.objects["compacted/00000003"]))
	k := coldKey(1, 0)
	ext := f.cat.extents[k][2]
	for _, tc := range []struct {
		name string
		at   int64
	}{
		{"footer first byte", ext.Pos + ext.Len},
		{"footer last byte", size - index.TrailerSize - 1},
		{"trailer data length", size - index.TrailerSize + 3},
		{"trailer crc", size - index.TrailerSize + 21},
		{"trailer magic", size - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.flipObject(t, ext.Object, "bad/"+tc.name, tc.at)
			r := newTestReader(t, f, testReaderConfig())
			_, err := r.Read(context.Background(), k, ext.BaseOffset, ext.LastOffset+1, 100)
			wantCorruption(t, err, "bad/"+tc.name)
			f.flipObject(t, "bad/"+tc.name, "compacted/00000003", tc.at) // restore
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		f.flipObject(t, ext.Object, "bad/version", size-index.TrailerSize+25)
		r := newTestReader(t, f, testReaderConfig())
		_, err := r.Read(context.Background(), k, ext.BaseOffset, ext.LastOffset+1, 100)
		if !errors.Is(err, index.ErrUnsupportedVersion) {
			t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
		}
		f.flipObject(t, "bad/version", "compacted/00000003", size-index.TrailerSize+25)
	})
}

func TestCatalogDisagreesWithObject(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(15, 15)))
	k := coldKey(1, 0)
	good := f.cat.extents[k][2].Extent
	for _, tc := range []struct {
		name   string
		mutate func(*Extent)
	}{
		{"wrong object size", func(e *Extent) { e.ObjectSize -= 7 }},
		{"range past the partition", func(e *Extent) { e.Len += 100 }},
		{"offsets past the partition", func(e *Extent) { e.LastOffset += 3 }},
		{"extent ends early", func(e *Extent) { e.LastOffset -= 1 }},
		{"partition not in the object", func(e *Extent) { e.Object = "seg/00000002"; e.ObjectSize = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := good
			tc.mutate(&ext)
			cat := &coldCatalog{}
			cat.add(k, coldExtent{Extent: ext})
			r, err := NewReader(f.bucket, cat, testReaderConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// Read to the extent's end so that every check runs.
			var got []byte
			for off := ext.BaseOffset; err == nil && off <= ext.LastOffset; {
				got, err = r.Read(context.Background(), k, off, ext.LastOffset+1, 1<<20)
				if err == nil && got == nil {
					break
				}
				if err == nil {
					off = nextOffsetOf(t, got)
				}
			}
			wantCorruption(t, err, ext.Object)
		})
	}
}

func TestTruncatedReadsRetryThenFail(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(16, 16)))
	cfg := testReaderConfig()
	cfg.GetAttempts = 3
	r := newTestReader(t, f, cfg)
	k := coldKey(1, 0)
	first, last := f.cat.bounds(k)
	f.faulty.SetTruncateReads(true)
	got, err := r.Read(context.Background(), k, first, last+1, 1<<20)
	if err == nil || got != nil {
		t.Fatalf("truncated bodies: got %d bytes, err %v; want an error and no data", len(got), err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want one wrapping io.ErrUnexpectedEOF", err)
	}
	if st := r.Stats(); st.Retries != 2 || st.Gets != 3 {
		t.Errorf("retries %d, GETs %d; want 2 retries of the footer GET", st.Retries, st.Gets)
	}
	// Nothing was cached from the failed GETs: once the store recovers,
	// the read works.
	f.faulty.SetTruncateReads(false)
	got, err = r.Read(context.Background(), k, first, last+1, 1<<20)
	if err != nil || !bytes.Equal(got, f.expect(k, first, last+1, 1<<20)) {
		t.Fatalf("after recovery: %d bytes, %v", len(got), err)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(17, 17)))
	f.faulty.Seed(3)
	f.faulty.SetErrorRate(objectstore.OpRead, 0.3)
	f.faulty.SetErrorRate(objectstore.OpStat, 0.3)
	cfg := testReaderConfig()
	cfg.GetAttempts = 20
	cfg.CacheBytes = 8 * cfg.BlockSize
	r := newTestReader(t, f, cfg)
	readEveryOffset(t, f, r)
	if r.Stats().Retries == 0 {
		t.Fatal("no retries with a 30% error rate")
	}
}

func TestPersistentErrorFailsRead(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(18, 18)))
	cfg := testReaderConfig()
	cfg.GetAttempts = 2
	r := newTestReader(t, f, cfg)
	k := coldKey(1, 0)
	f.faulty.SetDown(true)
	if _, err := r.Read(context.Background(), k, 0, 10, 100); err == nil || !objectstore.IsRetriable(err) {
		t.Fatalf("store down: err = %v, want a retriable store error", err)
	}
	f.faulty.SetDown(false)
	// A missing object is not retried.
	cat := &coldCatalog{}
	cat.add(k, coldExtent{Extent: Extent{Object: "missing", Pos: 0, Len: 100, BaseOffset: 0, LastOffset: 9}})
	r2, err := NewReader(f.bucket, cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Read(context.Background(), k, 0, 10, 100); !objectstore.IsNotExist(err) {
		t.Fatalf("missing object: err = %v, want ErrNotExist", err)
	}
	if st := r2.Stats(); st.Retries != 0 {
		t.Fatalf("missing object retried %d times", st.Retries)
	}
}

func TestCanceledContext(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(19, 19)))
	r := newTestReader(t, f, testReaderConfig())
	k := coldKey(1, 0)
	first, last := f.cat.bounds(k)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Read(ctx, k, first, last+1, 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: err = %v", err)
	}

	// Cancel while the GET is stuck in the store.
	f.gate.shut()
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(ctx, k, first, last+1, 100)
		done <- err
	}()
	coldWaitFor(t, "the GET to reach the store", func() bool { return f.gate.waiting.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled during GET: err = %v", err)
	}
	// The abandoned GET is canceled too, and leaves nothing behind.
	coldWaitFor(t, "the abandoned GET to end", func() bool { return f.gate.waiting.Load() == 0 })
	f.gate.open()
	got, err := r.Read(context.Background(), k, first, last+1, 100)
	if err != nil || !bytes.Equal(got, f.expect(k, first, last+1, 100)) {
		t.Fatalf("read after a canceled one: %d bytes, %v", len(got), err)
	}
}

func TestCanceledWaiterDoesNotCancelOthers(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(20, 20)))
	r := newTestReader(t, f, testReaderConfig())
	k := coldKey(1, 0)
	first, last := f.cat.bounds(k)
	f.gate.shut()
	ctx, cancel := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := r.Read(ctx, k, first, last+1, 100)
		errA <- err
	}()
	coldWaitFor(t, "the first reader's GET", func() bool { return f.gate.waiting.Load() == 1 })
	type result struct {
		b   []byte
		err error
	}
	resB := make(chan result, 1)
	go func() {
		b, err := r.Read(context.Background(), k, first, last+1, 100)
		resB <- result{b, err}
	}()
	coldWaitFor(t, "the second reader to join", func() bool { return r.Stats().DedupedGets == 1 })
	cancel()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("first reader: %v", err)
	}
	f.gate.open()
	res := <-resB
	if res.err != nil || !bytes.Equal(res.b, f.expect(k, first, last+1, 100)) {
		t.Fatalf("second reader, still waiting when the first gave up: %d bytes, %v", len(res.b), res.err)
	}
}

func TestReadAfterClose(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(21, 21)))
	r := newTestReader(t, f, testReaderConfig())
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(context.Background(), coldKey(1, 0), 0, 10, 100); !errors.Is(err, ErrReaderClosed) {
		t.Fatalf("err = %v, want ErrReaderClosed", err)
	}
}

// TestRandomCorruptionNeverReturnsBadBytes damages one random byte of an
// object at a time and reads random offsets: every read either fails with
// a corruption (or unknown version) error naming the object, or returns
// exactly the bytes that were written. The one exception the format cannot
// catch is a batch's partition leader epoch, which neither the Kafka CRC
// nor the footer covers; a flip there is allowed through and counted.
func TestRandomCorruptionNeverReturnsBadBytes(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(22, 22))
	shape := coldBatchShape{minValue: 10, maxValue: 200, bigEvery: 10, bigValue: 1_500, maxRecords: 3}
	keys := []index.Key{coldKey(6, 0), coldKey(6, 1), coldKey(7, 0)}
	var parts []coldPart
	for _, k := range keys {
		parts = append(parts, coldPart{key: k, batches: genColdBatches(t, rng, 0, 15, shape)})
	}
	original, footer := buildColdObject(t, parts, 300)
	// Byte positions of leader epochs, which no check can cover.
	epochBytes := map[int64]bool{}
	pos := int64(0)
	for _, p := range parts {
		for _, b := range p.batches {
			for i := int64(12); i < 16; i++ {
				epochBytes[pos+i] = true
			}
			pos += int64(len(b.data))
		}
	}
	iterations := 300
	if testing.Short() {
		iterations = 60
	}
	detected, epochFlips := 0, 0
	for it := range iterations {
		name := fmt.Sprintf("random/%d", it)
		at := rng.Int64N(int64(len(original)))
		f.cat = &coldCatalog{}
		data := bytes.Clone(original)
		data[at] ^= byte(1 + rng.IntN(255))
		f.putObject(t, name, data)
		// Extents come from the undamaged footer, as the catalog recorded
		// them at upload.
		for i, p := range parts {
			fp, _ := footer.Lookup(p.key)
			ext := Extent{Object: name, Pos: fp.Pos, Len: fp.Len, BaseOffset: fp.FirstOffset, LastOffset: fp.LastOffset}
			if i%2 == 0 {
				ext.ObjectSize = int64(len(data))
			}
			f.cat.add(p.key, coldExtent{Extent: ext, batches: p.batches})
		}
		cfg := testReaderConfig()
		cfg.BlockSize = 1 << 10
		cfg.FooterReadSize = 200
		r, err := NewReader(f.bucket, f.cat, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 12 {
			k := keys[rng.IntN(len(keys))]
			first, last := f.cat.bounds(k)
			off := first + rng.Int64N(last-first+1)
			end := off + 1 + rng.Int64N(last-off+1)
			maxBytes := 1 + rng.IntN(3000)
			got, err := r.Read(context.Background(), k, off, end, maxBytes)
			if err != nil {
				var ce *index.CorruptionError
				switch {
				case errors.As(err, &ce):
					if ce.Object != name {
						t.Fatalf("flip at %d: corruption error names %q, want %q", at, ce.Object, name)
					}
					detected++
				case errors.Is(err, index.ErrUnsupportedVersion):
					detected++
				default:
					t.Fatalf("flip at %d: Read(%v, %d): unexpected error %v", at, k, off, err)
				}
				continue
			}
			want := f.expect(k, off, end, maxBytes)
			if bytes.Equal(got, want) {
				continue
			}
			// A damaged header may end a read early: the caller gets the
			// verified batches before it and meets the damage next time.
			if len(got) > 0 && len(got) < len(want) && bytes.HasPrefix(want, got) {
				nextOffsetOf(t, got)
				continue
			}
			// The only other difference allowed is the flipped leader
			// epoch byte.
			if len(got) != len(want) || !epochBytes[at] {
				t.Fatalf("flip at %d: Read(%v, %d, end %d, max %d) returned %d bytes that differ from the %d written",
					at, k, off, end, maxBytes, len(got), len(want))
			}
			epochFlips++
		}
		r.Close()
		if err := f.store.Delete(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if detected == 0 {
		t.Fatal("no corruption was ever detected")
	}
	t.Logf("%d reads failed with corruption errors; %d returned a flipped leader epoch", detected, epochFlips)
}
