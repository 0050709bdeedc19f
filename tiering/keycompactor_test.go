package tiering

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/recordbatch"
)

// kv is one record of a test batch; a nil value is a tombstone, a nil key
// a keyless record.
type kv struct {
	key, value []byte
}

// keyedBatch encodes an uncompressed RecordBatch v2 at base holding recs,
// every record stamped ts, written by producer pid (-1: none).
func keyedBatch(base, ts, pid int64, seq int32, recs []kv) []byte {
	var body []byte
	for i, r := range recs {
		var rec []byte
		rec = append(rec, 0)
		rec = binary.AppendVarint(rec, 0)
		rec = binary.AppendVarint(rec, int64(i))
		if r.key == nil {
			rec = binary.AppendVarint(rec, -1)
		} else {
			rec = binary.AppendVarint(rec, int64(len(r.key)))
			rec = append(rec, r.key...)
		}
		if r.value == nil {
			rec = binary.AppendVarint(rec, -1)
		} else {
			rec = binary.AppendVarint(rec, int64(len(r.value)))
			rec = append(rec, r.value...)
		}
		rec = binary.AppendVarint(rec, 0)
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	b := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(body))
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(recordbatch.HeaderSize-12+len(body)))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(len(recs)-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], 0)
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	if pid < 0 {
		binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	}
	binary.BigEndian.PutUint32(b[57:], uint32(len(recs)))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// keyFixture is a metadata store, a bucket and one compacted partition
// with a model of what it must hold.
type keyFixture struct {
	meta   *metadata.Store
	bucket objectstore.Bucket
	topic  metadata.Topic
	key    index.Key
	end    int64
	latest map[string]int64 // key -> latest offset
	values map[int64]kv     // offset -> record
	seq    int32
	pid    int64 // producer id of the batches commit writes
}

func newKeyFixture(t testing.TB, configs map[string]string) *keyFixture {
	t.Helper()
	fs, err := objectstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return newKeyFixtureOn(t, fs, configs)
}

func newKeyFixtureOn(t testing.TB, bucket objectstore.Bucket, configs map[string]string) *keyFixture {
	t.Helper()
	mc := metadata.DefaultConfig()
	mc.Dir = t.TempDir()
	mc.HeartbeatTimeout, mc.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	meta, err := metadata.Open(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	f := &keyFixture{meta: meta, latest: map[string]int64{}, values: map[int64]kv{}, pid: 7}
	if f.topic, err = meta.CreateTopic(context.Background(), "kc", 1, configs); err != nil {
		t.Fatal(err)
	}
	f.key = index.Key{Topic: [16]byte(f.topic.ID), Partition: 0}
	f.bucket = bucket
	return f
}

// commit uploads one WAL-like object holding batches of recs (perBatch
// records each) and commits it.
func (f *keyFixture) commit(t testing.TB, ts int64, perBatch int, recs []kv) {
	t.Helper()
	var batches []byte
	base := f.end
	for i := 0; i < len(recs); i += perBatch {
		chunk := recs[i:min(i+perBatch, len(recs))]
		batches = append(batches, keyedBatch(f.end, ts, f.pid, f.seq, chunk)...)
		for j, r := range chunk {
			off := f.end + int64(j)
			f.values[off] = r
			if r.key != nil {
				f.latest[string(r.key)] = off
			}
		}
		f.end += int64(len(chunk))
		f.seq += int32(len(chunk))
	}
	var obj bytes.Buffer
	b := index.NewBuilder(&obj, index.BuilderOptions{SparseInterval: 4 << 10})
	if err := b.Add(f.key, base, f.end-1, ts, batches); err != nil {
		t.Fatal(err)
	}
	footer, size, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	name := WALObjectKey(1, uint64(base), NewNonce())
	if err := f.bucket.Put(context.Background(), name, bytes.NewReader(obj.Bytes()), size); err != nil {
		t.Fatal(err)
	}
	fp := footer.Partitions[0]
	res, err := f.meta.CommitObject(context.Background(), metadata.ObjectCommit{Key: name, Size: size, Broker: 1, Now: ts,
		Extents: []metadata.Extent{{Topic: f.topic.ID, BaseOffset: base, LastOffset: f.end - 1, Pos: fp.Pos, Len: fp.Len, MaxTimestamp: ts}}})
	if err != nil || len(res.Refused) > 0 {
		t.Fatalf("commit: %+v %v", res, err)
	}
}

// readRecords reads the partition from offset 0 through a cold reader
// and returns every record (offset -> record) in order.
func (f *keyFixture) readRecords(t *testing.T) ([]int64, map[int64]kv) {
	t.Helper()
	r, err := NewReader(f.bucket, CatalogFinder{Store: f.meta}, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pl, _ := f.meta.PartitionLog(f.topic.ID, 0)
	var offs []int64
	got := map[int64]kv{}
	var recs []recordbatch.Record
	var buf []byte
	for off := pl.LogStart; off < pl.End; {
		data, err := r.Read(context.Background(), f.key, off, pl.End, 64<<10)
		if err != nil {
			t.Fatalf("read offset %d: %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("read offset %d of [%d, %d): nothing", off, pl.LogStart, pl.End)
		}
		for rest := data; len(rest) > 0; {
			h, err := recordbatch.Parse(rest)
			if err != nil {
				t.Fatal(err)
			}
			if recs, buf, err = recordbatch.DecodeRecords(&h, rest, buf, recs); err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				o := h.BaseOffset + int64(rec.OffsetDelta)
				if o < off {
					continue
				}
				if len(offs) > 0 && o <= offs[len(offs)-1] {
					t.Fatalf("offset %d after %d", o, offs[len(offs)-1])
				}
				offs = append(offs, o)
				var v []byte
				if !rec.ValueNull {
					v = append([]byte{}, rec.Value...)
				}
				got[o] = kv{key: append([]byte(nil), rec.Key...), value: v}
			}
			off = h.LastOffset() + 1
			rest = rest[h.Size():]
		}
	}
	return offs, got
}

func TestKeyCompactionKeepsLatestPerKey(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000"})
	rng := rand.New(rand.NewPCG(1, 2))
	old := time.Now().Add(-time.Hour).UnixMilli()
	const keys = 600
	for obj := range 30 {
		recs := make([]kv, 200)
		for i := range recs {
			k := rng.IntN(keys)
			recs[i] = kv{key: fmt.Appendf(nil, "key-%04d", k), value: fmt.Appendf(nil, "v%d-%d", obj, i)}
			if rng.IntN(20) == 0 {
				recs[i].value = nil // tombstone
			}
		}
		f.commit(t, old, 25, recs)
	}
	cfg := DefaultKeyCompactorConfig()
	cfg.MapBytes, cfg.TempDir, cfg.TargetBytes = 4<<10, t.TempDir(), 64<<10 // 128 keys a pass
	c, err := NewKeyCompactor(cfg, f.bucket, f.meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.meta.PartitionLog(f.topic.ID, 0)
	res, err := c.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passes < 4 || res.Objects == 0 || res.Reclaimed <= 0 {
		t.Fatalf("result %+v: want several passes", res)
	}
	after, _ := f.meta.PartitionLog(f.topic.ID, 0)
	if after.End != before.End || after.LogStart != before.LogStart || after.Bytes >= before.Bytes {
		t.Fatalf("partition before %+v after %+v", before, after)
	}
	st, _ := f.meta.KeyCompactionState(f.topic.ID, 0)
	if st.CleanedTo != f.end || st.DirtyRatio() != 0 || st.Reclaimed != res.Reclaimed {
		t.Fatalf("state %+v, result %+v", st, res)
	}
	offs, got := f.readRecords(t)
	want := 0
	for k, off := range f.latest {
		r := f.values[off]
		if r.value == nil {
			if _, ok := got[off]; ok {
				t.Fatalf("tombstone of %s at %d survived delete.retention.ms", k, off)
			}
			continue
		}
		want++
		g, ok := got[off]
		if !ok || !bytes.Equal(g.key, r.key) || !bytes.Equal(g.value, r.value) {
			t.Fatalf("key %s: latest at %d is %q, read %+v (present %v)", k, off, r.value, g, ok)
		}
	}
	if len(offs) != want {
		t.Fatalf("read %d records, want %d (one per live key)", len(offs), want)
	}
	// A second run finds nothing dirty.
	if res, err := c.RunOnce(ctx); err != nil || res.Passes != 0 {
		t.Fatalf("second run %+v %v", res, err)
	}
	if s := c.Stats(); s.Puts == 0 || s.Gets == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func newTestKeyCompactor(t *testing.T, f *keyFixture, cat KeyCompactionCatalog, mapBytes int64) *KeyCompactor {
	t.Helper()
	cfg := DefaultKeyCompactorConfig()
	cfg.MapBytes, cfg.TempDir, cfg.TargetBytes = mapBytes, t.TempDir(), 64<<10
	if cat == nil {
		cat = f.meta
	}
	c, err := NewKeyCompactor(cfg, f.bucket, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// extentBytes returns the bytes of every extent at or after offset from.
func (f *keyFixture) extentBytes(t *testing.T, from int64) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	for _, e := range f.meta.Extents(f.topic.ID, 0, from, 1<<20) {
		rc, err := f.bucket.ReadRange(context.Background(), e.Object, e.Pos, e.Len)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		out[e.BaseOffset] = b.Bytes()
	}
	return out
}

func TestKeyCompactionTombstonesAndLag(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0",
		"delete.retention.ms": "7200000", "min.compaction.lag.ms": "600000"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	f.commit(t, old, 2, []kv{{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("1")}, {[]byte("a"), []byte("2")}, {[]byte("c"), []byte("1")}})
	f.commit(t, old, 2, []kv{{[]byte("b"), nil}, {[]byte("a"), []byte("3")}, {nil, []byte("keyless")}, {[]byte("d"), []byte("1")}})
	cut := f.end
	// Young data (inside min.compaction.lag.ms): never touched.
	f.commit(t, time.Now().UnixMilli(), 2, []kv{{[]byte("a"), []byte("4")}, {[]byte("c"), nil}})
	young := f.extentBytes(t, cut)
	c := newTestKeyCompactor(t, f, nil, 4<<10)
	if _, err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := f.meta.KeyCompactionState(f.topic.ID, 0)
	if st.CleanedTo != cut {
		t.Fatalf("cleaned to %d, want the lag's cut %d", st.CleanedTo, cut)
	}
	if got := f.extentBytes(t, cut); !equalMaps(got, young) {
		t.Fatal("extents within min.compaction.lag.ms changed")
	}
	offs, got := f.readRecords(t)
	// a@5 (a@9 is young and not yet cleaned against), b's tombstone @4
	// (delete.retention.ms not past), c@3, d@7, then the young tail.
	want := []int64{3, 4, 5, 7, 8, 9}
	if fmt.Sprint(offs) != fmt.Sprint(want) {
		t.Fatalf("offsets %v, want %v", offs, want)
	}
	if got[4].value != nil || string(got[4].key) != "b" {
		t.Fatalf("tombstone of b: %+v", got[4])
	}
	// A read inside a gap returns the next batch.
	r, err := NewReader(f.bucket, CatalogFinder{Store: f.meta}, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := r.Read(ctx, f.key, 1, f.end, 1<<20)
	if err != nil || len(data) == 0 {
		t.Fatalf("read in a gap: %d bytes, %v", len(data), err)
	}
	if h, _ := recordbatch.Parse(data); h.LastOffset() < 1 {
		t.Fatalf("read at 1 returned a batch ending at %d", h.LastOffset())
	}

	// Later: the young data ages, b's tombstone passes delete.retention.ms.
	c.now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	if _, err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	offs, got = f.readRecords(t)
	if want := []int64{7, 8}; fmt.Sprint(offs) != fmt.Sprint(want) {
		t.Fatalf("after the lags: offsets %v, want %v (d@7, a@8; b's and c's tombstones gone)", offs, want)
	}
	if string(got[8].value) != "4" {
		t.Fatalf("a = %q", got[8].value)
	}
}

func equalMaps(a, b map[int64][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

// racingCatalog runs before() ahead of the first ReplaceExtents: another
// writer changing the catalog between the compactor's plan and its swap.
type racingCatalog struct {
	*metadata.Store
	before func()
}

func (r *racingCatalog) ReplaceExtents(ctx context.Context, rep metadata.Replacement) error {
	if r.before != nil {
		r.before()
		r.before = nil
	}
	return r.Store.ReplaceExtents(ctx, rep)
}

func TestKeyCompactionRefusedSwap(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact,delete", "min.cleanable.dirty.ratio": "0"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 6 {
		f.commit(t, old, 2, []kv{{[]byte("k"), fmt.Appendf(nil, "%d", i)}, {[]byte("x"), fmt.Appendf(nil, "%d", i)}})
	}
	// Retention (or DeleteRecords) moves the log start while the
	// compactor works: its swap is refused, its object deleted.
	cat := &racingCatalog{Store: f.meta, before: func() {
		if err := f.meta.TruncatePartition(ctx, f.topic.ID, 0, 2, time.Now().UnixMilli()); err != nil {
			t.Error(err)
		}
	}}
	c := newTestKeyCompactor(t, f, cat, 4<<10)
	res, err := c.RunOnce(ctx)
	if err != nil || res.Conflicts != 1 || res.Objects != 0 {
		t.Fatalf("racing run: %+v %v", res, err)
	}
	if s := c.Stats(); s.Deletes != 1 {
		t.Fatalf("stats %+v: the refused object is not deleted", s)
	}
	if st, _ := f.meta.KeyCompactionState(f.topic.ID, 0); st.CleanedTo != 0 {
		t.Fatalf("a refused pass recorded cleaning to %d", st.CleanedTo)
	}
	// Nothing lost: the next run compacts.
	if res, err := c.RunOnce(ctx); err != nil || res.Objects == 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	offs, got := f.readRecords(t)
	if fmt.Sprint(offs) != "[10 11]" || string(got[10].value) != "5" || string(got[11].value) != "5" {
		t.Fatalf("offsets %v records %+v", offs, got)
	}
	// Leftover objects are only those the GC will collect.
	for _, g := range f.meta.GarbageObjects() {
		if f.meta.IsKnownObject(g.Key) && !bytes.HasPrefix([]byte(g.Key), []byte("wal/")) && !bytes.HasPrefix([]byte(g.Key), []byte("part/")) {
			t.Fatalf("unexpected garbage %s", g.Key)
		}
	}
}

// lostLeaderCatalog answers the first ReplaceExtents with ErrNotLeader
// without applying it: leadership lost with the outcome unknown.
type lostLeaderCatalog struct {
	*metadata.Store
	lost bool
}

func (l *lostLeaderCatalog) ReplaceExtents(ctx context.Context, rep metadata.Replacement) error {
	if !l.lost {
		l.lost = true
		return fmt.Errorf("replace extents: %w", metadata.ErrNotLeader)
	}
	return l.Store.ReplaceExtents(ctx, rep)
}

func TestKeyCompactionLeaderLost(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 4 {
		f.commit(t, old, 2, []kv{{[]byte("k"), fmt.Appendf(nil, "%d", i)}, {[]byte(fmt.Sprint(i)), []byte("x")}})
	}
	c := newTestKeyCompactor(t, f, &lostLeaderCatalog{Store: f.meta}, 4<<10)
	if _, err := c.RunOnce(ctx); !errors.Is(err, metadata.ErrNotLeader) {
		t.Fatalf("run with leadership lost: %v", err)
	}
	// The outcome was unknown: the new object stays in the bucket (the
	// orphan sweep's), the catalog is as it was, nothing is lost.
	var orphans int
	f.bucket.List(ctx, "part/", func(o objectstore.ObjectInfo) error {
		if !f.meta.IsKnownObject(o.Key) {
			orphans++
		}
		return nil
	})
	if orphans != 1 {
		t.Fatalf("%d unknown objects under part/, want the one whose swap outcome was unknown", orphans)
	}
	if st, _ := f.meta.KeyCompactionState(f.topic.ID, 0); st.Passes != 0 {
		t.Fatalf("state %+v after a failed pass", st)
	}
	if offs, _ := f.readRecords(t); len(offs) != 8 {
		t.Fatalf("read %d records, want all 8", len(offs))
	}
	// The next leader's compactor starts over from the catalog.
	c2 := newTestKeyCompactor(t, f, nil, 4<<10)
	if _, err := c2.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	offs, got := f.readRecords(t)
	if fmt.Sprint(offs) != "[1 3 5 6 7]" || string(got[6].value) != "3" {
		t.Fatalf("offsets %v records %+v", offs, got)
	}
}

// TestKeyCompactionWithSizeCompactorAndGC interleaves the key compactor
// with the size compactor (which merges its small outputs, gaps and all)
// and the GC: a reader that looked an extent up before a swap finishes on
// the old object within the grace; the log reads the same after each step.
func TestKeyCompactionWithSizeCompactorAndGC(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	rng := rand.New(rand.NewPCG(5, 6))
	round := func(n int) {
		for range n {
			recs := make([]kv, 40)
			for i := range recs {
				recs[i] = kv{key: fmt.Appendf(nil, "k%d", rng.IntN(50)), value: fmt.Appendf(nil, "v%d", rng.Uint64())}
			}
			f.commit(t, old, 8, recs)
		}
	}
	check := func(step string) {
		t.Helper()
		offs, got := f.readRecords(t)
		st, _ := f.meta.KeyCompactionState(f.topic.ID, 0)
		seen := map[string]bool{}
		for _, o := range offs {
			k := string(got[o].key)
			if o < st.CleanedTo && seen[k] {
				t.Fatalf("%s: key %s twice below the cleaned offset %d", step, k, st.CleanedTo)
			}
			seen[k] = true
		}
		for k, off := range f.latest {
			if g, ok := got[off]; !ok || !bytes.Equal(g.value, f.values[off].value) {
				t.Fatalf("%s: latest of %s at %d lost", step, k, off)
			}
		}
	}
	kc := newTestKeyCompactor(t, f, nil, 4<<10)
	scfg := DefaultCompactorConfig()
	scfg.TargetBytes, scfg.MinExtents, scfg.TempDir = 1<<20, 2, t.TempDir()
	sc, err := NewCompactor(scfg, f.bucket, f.meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := NewGC(GCConfig{Grace: time.Minute, OrphanGrace: MinOrphanGrace}, f.bucket, f.meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(f.bucket, CatalogFinder{Store: f.meta}, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	merged := 0
	for step := range 4 {
		round(5)
		// The size compactor merges the new WAL extents (with the key
		// compactor's small output before them), then the key compactor
		// rewrites the merged extents.
		res, err := sc.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		merged += res.ExtentsMerged
		check(fmt.Sprintf("step %d, size compaction", step))
		// A reader in flight: it looked the first extent up before the swap.
		before, _ := f.meta.FindExtent(f.topic.ID, 0, 0)
		if _, err := kc.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("step %d, key compaction", step))
		if _, err := gc.RunOnce(ctx, time.Now(), false); err != nil {
			t.Fatal(err)
		}
		rc, err := f.bucket.ReadRange(ctx, before.Object, before.Pos, before.Len)
		if err != nil {
			t.Fatalf("step %d: the old object of a reader in flight is gone within the grace: %v", step, err)
		}
		rc.Close()
	}
	if merged == 0 {
		t.Fatal("the size compactor never merged")
	}
	// Past the grace the replaced objects go; the log still reads.
	res, err := gc.RunOnce(ctx, time.Now().Add(time.Hour), false)
	if err != nil || res.Deleted == 0 {
		t.Fatalf("gc past the grace: %+v %v", res, err)
	}
	check("after gc")
}

// batchHeaders returns the header of every batch in the catalog, in order.
func (f *keyFixture) batchHeaders(t *testing.T) []recordbatch.Header {
	t.Helper()
	var out []recordbatch.Header
	for _, e := range f.meta.Extents(f.topic.ID, 0, 0, 1<<20) {
		rc, err := f.bucket.ReadRange(context.Background(), e.Object, e.Pos, e.Len)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		for rest := b.Bytes(); len(rest) > 0; {
			h, err := recordbatch.Parse(rest)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
			rest = rest[h.Size():]
		}
	}
	return out
}

// TestKeyCompactionKeepsProducersLastBatch: a batch compaction empties
// goes, except an idempotent producer's last one (kept empty, with its
// offsets and sequence), so producer state rebuilt from the log holds;
// and once the producer writes again, its old empty batch goes too.
func TestKeyCompactionKeepsProducersLastBatch(t *testing.T) {
	ctx := context.Background()
	f := newKeyFixture(t, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	k := func(key, v string) kv { return kv{[]byte(key), []byte(v)} }
	// One extent of batches by producers 1, 3, 1, 3, 1: producer 2 then
	// overwrites every key of producers 1 and 3 except g.
	f.commitMixed(t, old, []int64{1, 3, 1, 3, 1}, [][]kv{{k("a", "1"), k("b", "1")}, {k("c", "3")}, {k("d", "1")}, {k("e", "3")}, {k("g", "1")}})
	f.pid = 2
	f.commit(t, old, 2, []kv{k("a", "2"), k("b", "2"), k("c", "2"), k("d", "2"), k("e", "2")})
	c := newTestKeyCompactor(t, f, nil, 4<<10)
	if _, err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	headers := func() string {
		var got []string
		for _, h := range f.batchHeaders(t) {
			got = append(got, fmt.Sprintf("%d:%d-%d/%d", h.ProducerID, h.BaseOffset, h.LastOffset(), h.RecordCount))
		}
		return fmt.Sprint(got)
	}
	// 1:0-1 stays empty (its extent's first batch), 3:2 goes (producer
	// 3's later batch 3:4 is its last: kept empty), 1:3 goes (producer
	// 1's last is 1:5, which keeps g).
	if got, want := headers(), "[1:0-1/0 3:4-4/0 1:5-5/1 2:6-7/2 2:8-9/2 2:10-10/1]"; got != want {
		t.Fatalf("batches %s, want %s", got, want)
	}
	// Producer 3 writes again: its old last batch goes.
	f.pid = 3
	f.commit(t, old, 2, []kv{k("z", "3")})
	if _, err := c.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := headers(), "[1:0-1/0 1:5-5/1 2:6-7/2 2:8-9/2 2:10-10/1 3:11-11/1]"; got != want {
		t.Fatalf("after producer 3 wrote again: batches %s, want %s", got, want)
	}
}

// commitMixed commits one object whose batches are written by the
// producers pids.
func (f *keyFixture) commitMixed(t *testing.T, ts int64, pids []int64, batches [][]kv) {
	t.Helper()
	base := f.end
	var data []byte
	for i, recs := range batches {
		data = append(data, keyedBatch(f.end, ts, pids[i], 0, recs)...)
		for j, r := range recs {
			off := f.end + int64(j)
			f.values[off] = r
			f.latest[string(r.key)] = off
		}
		f.end += int64(len(recs))
	}
	var obj bytes.Buffer
	b := index.NewBuilder(&obj, index.BuilderOptions{})
	if err := b.Add(f.key, base, f.end-1, ts, data); err != nil {
		t.Fatal(err)
	}
	footer, size, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	name := WALObjectKey(1, uint64(base), NewNonce())
	if err := f.bucket.Put(context.Background(), name, bytes.NewReader(obj.Bytes()), size); err != nil {
		t.Fatal(err)
	}
	fp := footer.Partitions[0]
	if _, err := f.meta.CommitObject(context.Background(), metadata.ObjectCommit{Key: name, Size: size, Broker: 1, Now: ts,
		Extents: []metadata.Extent{{Topic: f.topic.ID, BaseOffset: base, LastOffset: f.end - 1, Pos: fp.Pos, Len: fp.Len, MaxTimestamp: ts}}}); err != nil {
		t.Fatal(err)
	}
}
