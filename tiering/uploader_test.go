package tiering

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// uploadFixture is a WAL, a real single-voter metadata store and a
// filesystem bucket behind fault-injecting and counting wrappers.
type uploadFixture struct {
	log    *wal.Log
	meta   *metadata.Store
	faulty *objectstore.Faulty
	bucket *objectstore.Counting
	topic  metadata.Topic

	mu        sync.Mutex
	committed map[wal.Key]int64
	fenced    map[wal.Key][]int32 // epochs reported by OnFenced, in order
}

func newUploadFixture(t *testing.T, partitions int32) *uploadFixture {
	t.Helper()
	return newUploadFixtureWith(t, partitions, nil)
}

// newUploadFixtureWith is newUploadFixture with mutate, if not nil,
// changing the WAL's config first.
func newUploadFixtureWith(t *testing.T, partitions int32, mutate func(*wal.Config)) *uploadFixture {
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
	topic, err := meta.CreateTopic(context.Background(), "up", partitions, nil)
	if err != nil {
		t.Fatal(err)
	}
	wc := wal.DefaultConfig()
	wc.Dir = t.TempDir()
	wc.SegmentMaxBytes = 64 << 10
	wc.SegmentMaxAge = 10 * time.Millisecond
	if mutate != nil {
		mutate(&wc)
	}
	l, err := wal.Open(wc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	fs, err := objectstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := objectstore.NewFaulty(fs)
	return &uploadFixture{log: l, meta: meta, faulty: f, bucket: objectstore.NewCounting(f), topic: topic, committed: map[wal.Key]int64{}, fenced: map[wal.Key][]int32{}}
}

func (f *uploadFixture) uploader(t *testing.T, retain int64) *Uploader {
	t.Helper()
	return f.uploaderWith(t, retain, f.bucket, f.meta, nil)
}

// uploaderWith starts an uploader over bucket and cat; mutate, if not nil,
// changes its config first.
func (f *uploadFixture) uploaderWith(t *testing.T, retain int64, bucket objectstore.Bucket, cat Catalog, mutate func(*UploaderConfig)) *Uploader {
	t.Helper()
	cfg := DefaultUploaderConfig()
	cfg.LocalRetainBytes = retain
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	cfg.OnCommitted = func(k wal.Key, end int64) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.committed[k] = max(f.committed[k], end)
	}
	cfg.OnFenced = func(k wal.Key, epoch int32) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fenced[k] = append(f.fenced[k], epoch)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	u, err := NewUploader(cfg, f.log, bucket, cat)
	if err != nil {
		t.Fatal(err)
	}
	u.Start()
	t.Cleanup(func() { u.Close() })
	return u
}

// appendBatches writes n batches to every partition, round-robin, each
// stamped with its partition's current leader epoch as a partition leader
// does, and advances next to each partition's end offset.
func (f *uploadFixture) appendBatches(t *testing.T, rng *rand.Rand, n int, next map[wal.Key]int64) {
	t.Helper()
	topic, _ := f.meta.TopicByID(f.topic.ID)
	epochs := map[int32]int32{}
	for p, pm := range topic.Partitions {
		epochs[int32(p)] = pm.LeaderEpoch
	}
	f.appendEpoch(t, rng, n, next, epochs)
}

// appendEpoch writes n batches to each partition in epochs, round-robin,
// stamped with the epoch given for it, and advances next.
func (f *uploadFixture) appendEpoch(t *testing.T, rng *rand.Rand, n int, next map[wal.Key]int64, epochs map[int32]int32) {
	t.Helper()
	for i := 0; i < n; i++ {
		for p := range f.topic.Partitions {
			epoch, ok := epochs[int32(p)]
			if !ok {
				continue
			}
			k := wal.Key{Topic: [16]byte(f.topic.ID), Partition: int32(p)}
			records := 1 + rng.IntN(4)
			b := makeColdBatch(t, rng, next[k], records, 200+rng.IntN(400))
			recordbatch.SetPartitionLeaderEpoch(b, epoch)
			if err := f.log.Append(wal.Entry{Key: k, BaseOffset: next[k], LastOffset: next[k] + int64(records) - 1, MaxTimestamp: 1, Data: b}); err != nil {
				t.Fatal(err)
			}
			next[k] += int64(records)
		}
	}
	if err := f.log.Sync(); err != nil {
		t.Fatal(err)
	}
}

func (f *uploadFixture) waitCommitted(t *testing.T, next map[wal.Key]int64) {
	t.Helper()
	coldWaitFor(t, "every partition committed to the catalog", func() bool {
		for k, end := range next {
			pl, ok := f.meta.PartitionLog(metadata.TopicID(k.Topic), k.Partition)
			f.mu.Lock()
			told := f.committed[k]
			f.mu.Unlock()
			if !ok || pl.End != end || told != end {
				return false
			}
		}
		return true
	})
}

func (f *uploadFixture) objects(t *testing.T) int {
	n := 0
	if err := f.bucket.List(context.Background(), "", func(objectstore.ObjectInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUploaderCommitsContiguousExtents(t *testing.T) {
	f := newUploadFixture(t, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	u := f.uploader(t, 1<<30)
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 300, next)
	f.waitCommitted(t, next)
	for k, end := range next {
		exts := f.meta.Extents(metadata.TopicID(k.Topic), k.Partition, 0, 1<<20)
		want := int64(0)
		for _, e := range exts {
			if e.BaseOffset != want {
				t.Fatalf("%v: extent starts at %d, want %d", k, e.BaseOffset, want)
			}
			want = e.LastOffset + 1
		}
		if want != end {
			t.Fatalf("%v: extents end at %d, want %d", k, want, end)
		}
	}
	st := u.Stats()
	if st.Objects == 0 || int(st.Objects) != f.objects(t) {
		t.Fatalf("stats %+v, %d objects in the bucket", st, f.objects(t))
	}
	// Multi-partition objects: fewer objects than extents.
	if pl, _ := f.meta.PartitionLog(f.topic.ID, 0); int64(pl.Extents) > st.Objects {
		t.Fatalf("partition 0 has %d extents in %d objects", pl.Extents, st.Objects)
	}
}

func TestUploaderRetriesThroughOutageAndTrims(t *testing.T) {
	f := newUploadFixture(t, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	f.faulty.SetDown(true)
	u := f.uploader(t, 0)
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 200, next)
	coldWaitFor(t, "failed PUTs during the outage", func() bool { return u.Stats().PutErrors > 3 })
	for k := range next {
		if pl, _ := f.meta.PartitionLog(metadata.TopicID(k.Topic), k.Partition); pl.End != 0 {
			t.Fatalf("%v committed to %d while the store was down", k, pl.End)
		}
	}
	if len(f.log.SealedSegments()) == 0 {
		t.Fatal("no sealed segment waiting")
	}
	f.faulty.SetDown(false)
	f.waitCommitted(t, next)
	// Everything uploaded and nothing retained locally: the sealed
	// segments are gone from the WAL.
	coldWaitFor(t, "uploaded segments trimmed", func() bool { return len(f.log.SealedSegments()) == 0 })
	if u.Stats().Trimmed == 0 {
		t.Fatalf("stats %+v: nothing trimmed", u.Stats())
	}
}

func TestUploaderRestartDoesNotReupload(t *testing.T) {
	f := newUploadFixture(t, 2)
	rng := rand.New(rand.NewPCG(5, 6))
	u := f.uploader(t, 1<<30)
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 100, next)
	f.waitCommitted(t, next)
	u.Close()
	before := f.objects(t)
	// A new uploader finds the same sealed segments; the catalog already
	// has their data, so it writes nothing.
	u2 := f.uploader(t, 1<<30)
	coldWaitFor(t, "segments examined", func() bool { return u2.Stats().Segments >= int64(len(f.log.SealedSegments())) })
	if after := f.objects(t); after != before || u2.Stats().Objects != 0 {
		t.Fatalf("objects %d -> %d, re-uploaded %d", before, after, u2.Stats().Objects)
	}
}

func TestPlanRetention(t *testing.T) {
	ext := func(base, last, ts, size int64) metadata.Extent {
		return metadata.Extent{BaseOffset: base, LastOffset: last, MaxTimestamp: ts, Len: size}
	}
	exts := []metadata.Extent{ext(0, 9, 100, 1000), ext(10, 19, 200, 1000), ext(20, 29, 300, 1000), ext(30, 39, 400, 1000)}
	for _, c := range []struct {
		name                string
		now, retMs, retByte int64
		want                int64
		dropped             int
	}{
		{"keep forever", 1000, -1, -1, 0, 0},
		{"time drops two", 450, 200, -1, 20, 2},
		{"time drops all", 10_000, 1, -1, 40, 4},
		{"bytes keeps at least the limit", 0, -1, 2500, 10, 1},
		{"bytes exact", 0, -1, 2000, 20, 2},
		{"bytes zero drops all", 0, -1, 0, 40, 4},
		// Time drops the first; of the 3000 bytes left, dropping one more
		// leaves 2000 >= 1500, dropping another would leave 1000 < 1500.
		{"time then bytes", 250, 100, 1500, 20, 2},
	} {
		got, dropped, _ := planRetention(exts, 0, c.now, c.retMs, c.retByte)
		if got != c.want || dropped != c.dropped {
			t.Errorf("%s: log start %d (%d dropped), want %d (%d)", c.name, got, dropped, c.want, c.dropped)
		}
	}
}

func TestPlanCompaction(t *testing.T) {
	var exts []metadata.Extent
	for i := int64(0); i < 20; i++ {
		exts = append(exts, metadata.Extent{BaseOffset: i * 10, LastOffset: i*10 + 9, Len: 100})
	}
	// Target 1000: a full run of 10 small extents, then the 9 older than
	// the newest, which stays out as the hot tail.
	runs := planCompaction(exts, 1000, 4)
	if len(runs) != 2 || len(runs[0]) != 10 || len(runs[1]) != 9 || runs[1][8].LastOffset != 189 {
		t.Fatalf("runs %v", runs)
	}
	// A large extent splits runs; runs shorter than minExtents are left.
	exts[5].Len = 900
	runs = planCompaction(exts, 1000, 4)
	for _, r := range runs {
		for i, e := range r {
			if e.Len >= 500 || i > 0 && e.BaseOffset != r[i-1].LastOffset+1 {
				t.Fatalf("bad run %v", r)
			}
		}
	}
	// [0,49] (5 extents), then the large one, then [60,159] (full); the
	// last three are fewer than minExtents.
	if len(runs) != 2 || runs[0][len(runs[0])-1].LastOffset != 49 || runs[1][0].BaseOffset != 60 || len(runs[1]) != 10 {
		t.Fatalf("runs %v", runs)
	}
	if planCompaction(exts[:1], 1000, 2) != nil {
		t.Fatal("a single extent was planned")
	}
}

func partKey(topic metadata.Topic, p int32) wal.Key {
	return wal.Key{Topic: [16]byte(topic.ID), Partition: p}
}

func (f *uploadFixture) fencedEpochs(k wal.Key) []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int32(nil), f.fenced[k]...)
}

func (f *uploadFixture) told(k wal.Key) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.committed[k]
}

// TestUploaderRefusalDoesNotCascade: two partitions share every object of
// a wave; one moves to a new leader epoch while the wave is being
// uploaded. The other commits all its data, in that wave and later ones;
// the moved one commits nothing and is reported fenced once; and the WAL
// segments are handled and trimmed.
func TestUploaderRefusalDoesNotCascade(t *testing.T) {
	f := newUploadFixture(t, 2)
	rng := rand.New(rand.NewPCG(7, 8))
	k0, k1 := partKey(f.topic, 0), partKey(f.topic, 1)
	f.faulty.SetDown(true)
	u := f.uploader(t, 0)
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 200, next)
	coldWaitFor(t, "a wave failing its PUTs", func() bool { return u.Stats().PutErrors > 0 && len(f.log.SealedSegments()) >= 2 })
	if _, err := f.meta.SetPartitionLeader(context.Background(), "up", 1, 1); err != nil {
		t.Fatal(err)
	}
	f.faulty.SetDown(false)
	f.waitCommitted(t, map[wal.Key]int64{k0: next[k0]})
	// Later segments of partition 0 still commit.
	f.appendEpoch(t, rng, 100, next, map[int32]int32{0: 0})
	f.waitCommitted(t, map[wal.Key]int64{k0: next[k0]})
	coldWaitFor(t, "every segment uploaded and trimmed", func() bool { return len(f.log.SealedSegments()) == 0 })
	if pl, _ := f.meta.PartitionLog(f.topic.ID, 1); pl.End != 0 || f.told(k1) != 0 {
		t.Fatalf("fenced partition committed: catalog %+v, told %d", pl, f.told(k1))
	}
	if got := f.fencedEpochs(k1); !reflect.DeepEqual(got, []int32{0}) {
		t.Fatalf("partition 1 reported fenced at epochs %v, want [0]", got)
	}
	if got := f.fencedEpochs(k0); got != nil {
		t.Fatalf("partition 0 reported fenced at epochs %v", got)
	}
}

// TestUploaderCommitsTheEpochDataWasWrittenUnder: data written under
// epoch 3 is refused once the partition is at epoch 4; it is never
// committed as epoch 4.
func TestUploaderCommitsTheEpochDataWasWrittenUnder(t *testing.T) {
	f := newUploadFixture(t, 2)
	rng := rand.New(rand.NewPCG(9, 10))
	ctx := context.Background()
	k0, k1 := partKey(f.topic, 0), partKey(f.topic, 1)
	for range 3 {
		if _, err := f.meta.SetPartitionLeader(ctx, "up", 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	next := map[wal.Key]int64{}
	f.appendEpoch(t, rng, 50, next, map[int32]int32{0: 3, 1: 0})
	if _, err := f.meta.SetPartitionLeader(ctx, "up", 0, 1); err != nil {
		t.Fatal(err)
	}
	f.uploader(t, 1<<30)
	f.waitCommitted(t, map[wal.Key]int64{k1: next[k1]})
	coldWaitFor(t, "partition 0 reported fenced", func() bool { return len(f.fencedEpochs(k0)) > 0 })
	if got := f.fencedEpochs(k0); !reflect.DeepEqual(got, []int32{3}) {
		t.Fatalf("partition 0 reported fenced at epochs %v, want [3]", got)
	}
	if pl, _ := f.meta.PartitionLog(f.topic.ID, 0); pl.End != 0 || f.told(k0) != 0 {
		t.Fatalf("epoch 3 data committed: catalog %+v, told %d", pl, f.told(k0))
	}
	for _, e := range f.meta.Extents(f.topic.ID, 1, 0, 1<<20) {
		if e.LeaderEpoch != 0 {
			t.Fatalf("partition 1 extent %+v: epoch %d, written under 0", e, e.LeaderEpoch)
		}
	}
}

// TestUploaderSplitsExtentsByEpoch: one segment holds a partition's data
// of two epochs; each run becomes its own extent with its own epoch (the
// old run is refused, so is what follows it).
func TestUploaderSplitsExtentsByEpoch(t *testing.T) {
	f := newUploadFixture(t, 1)
	rng := rand.New(rand.NewPCG(11, 12))
	k0 := partKey(f.topic, 0)
	var got []metadata.ObjectCommit
	var mu sync.Mutex
	cat := recordingCatalog{Store: f.meta, fn: func(c metadata.ObjectCommit) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}}
	next := map[wal.Key]int64{}
	f.appendEpoch(t, rng, 3, next, map[int32]int32{0: 0})
	f.appendEpoch(t, rng, 3, next, map[int32]int32{0: 1})
	f.uploaderWith(t, 1<<30, f.bucket, cat, nil)
	coldWaitFor(t, "partition 0 reported fenced", func() bool { return len(f.fencedEpochs(k0)) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || len(got[0].Extents) != 2 {
		t.Fatalf("commits %+v, want one object with two extents", got)
	}
	a, b := got[0].Extents[0], got[0].Extents[1]
	if a.LeaderEpoch != 0 || b.LeaderEpoch != 1 || b.BaseOffset != a.LastOffset+1 || b.Pos != a.Pos+a.Len || b.LastOffset != next[k0]-1 {
		t.Fatalf("extents %+v %+v", a, b)
	}
}

// recordingCatalog passes commits to the store and shows them to fn.
type recordingCatalog struct {
	*metadata.Store
	fn func(metadata.ObjectCommit)
}

func (c recordingCatalog) CommitObjects(ctx context.Context, cs []metadata.ObjectCommit) ([]metadata.CommitResult, error) {
	for _, oc := range cs {
		c.fn(oc)
	}
	return c.Store.CommitObjects(ctx, cs)
}

// putGate lets one PUT through while hold is set and fails the others.
type putGate struct {
	objectstore.Bucket
	hold   atomic.Bool
	passed atomic.Int64
	// refuse, if not empty, is a key prefix whose PUTs fail while held
	// whatever passed says.
	refuse string
}

func (g *putGate) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if g.hold.Load() && ((g.refuse != "" && strings.HasPrefix(key, g.refuse)) || g.passed.Add(1) > 1) {
		return errors.New("injected: PUT refused")
	}
	return g.Bucket.Put(ctx, key, r, size)
}

// TestUploaderRePutsAnObjectGoneBeforeItsCommit: the second segment's PUT
// lands, the first segment's keeps failing for longer than the orphan
// grace (the second's commit waits for it: commits go in segment order),
// and the orphan sweep deletes the second's object meanwhile (the catalog
// never heard of it). The uploader must not commit the deleted object: it
// uploads it again, and every offset reads back once the WAL is trimmed.
func TestUploaderRePutsAnObjectGoneBeforeItsCommit(t *testing.T) {
	f := newUploadFixture(t, 2)
	rng := rand.New(rand.NewPCG(13, 14))
	ctx := context.Background()
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 200, next)
	coldWaitFor(t, "several sealed segments", func() bool { return len(f.log.SealedSegments()) >= 3 })
	first := f.log.SealedSegments()[0].ID
	gate := &putGate{Bucket: f.bucket, refuse: strings.TrimSuffix(WALObjectKey(1, first, ""), "-.obj")}
	gate.hold.Store(true)
	const grace = 100 * time.Millisecond
	u := f.uploaderWith(t, 0, gate, f.meta, func(c *UploaderConfig) { c.OrphanGrace = grace })
	coldWaitFor(t, "one PUT stored and others failing", func() bool { return f.objects(t) == 1 && u.Stats().PutErrors > 0 })
	var keys []string
	if err := f.bucket.List(ctx, "", func(o objectstore.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := f.bucket.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(grace) // the deleted object's PUT is now older than the grace
	gate.hold.Store(false)
	f.waitCommitted(t, next)
	if u.Stats().RePuts == 0 {
		t.Fatalf("stats %+v: nothing uploaded again", u.Stats())
	}
	coldWaitFor(t, "every segment trimmed", func() bool { return len(f.log.SealedSegments()) == 0 })
	r := newUploadReader(t, f)
	for k, end := range next {
		for _, e := range f.meta.Extents(metadata.TopicID(k.Topic), k.Partition, 0, 1<<20) {
			if _, err := f.bucket.Stat(ctx, e.Object); err != nil {
				t.Fatalf("%v extent [%d, %d] names object %s: %v", k, e.BaseOffset, e.LastOffset, e.Object, err)
			}
		}
		readsEveryOffset(t, r, k, end)
	}
}

// readsEveryOffset reads partition k through r from offset 0 up to end
// and fails unless every offset in between comes back.
func readsEveryOffset(t *testing.T, r *Reader, k wal.Key, end int64) {
	t.Helper()
	ctx := context.Background()
	for off := int64(0); off < end; {
		pieces, err := r.ReadPieces(ctx, index.Key(k), off, end, 1<<20)
		if err != nil {
			t.Fatalf("%v read at %d: %v", k, off, err)
		}
		data := bytes.Join(pieces, nil)
		if len(data) == 0 {
			t.Fatalf("%v read at %d: no data", k, off)
		}
		for pos := 0; pos < len(data); {
			h, err := recordbatch.ParseHeader(data[pos:])
			if err != nil {
				t.Fatalf("%v read at %d: %v", k, off, err)
			}
			if h.BaseOffset > off {
				t.Fatalf("%v: offsets %d..%d missing", k, off, h.BaseOffset-1)
			}
			off = max(off, h.LastOffset()+1)
			pos += h.Size()
		}
	}
}

func newUploadReader(t *testing.T, f *uploadFixture) *Reader {
	t.Helper()
	r, err := NewReader(f.bucket, CatalogFinder{Store: f.meta}, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// A node whose start fails after the uploader is built but before it is
// started closes it on the way out: Close must return, not wait for a loop
// that never ran (a cluster node used to hang there forever).
func TestUploaderCloseWithoutStart(t *testing.T) {
	f := newUploadFixture(t, 1)
	u, err := NewUploader(DefaultUploaderConfig(), f.log, f.bucket, f.meta)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { u.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close of an uploader never started did not return")
	}
	u.Start() // after Close: must not start a loop or panic
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
}

// setProducer stamps an idempotent producer's id, epoch and first
// sequence on a batch and recomputes its CRC.
func setProducer(b []byte, pid int64, epoch int16, seq int32) {
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// The uploader hands the catalog each extent's idempotent producers and
// their last batches, so a new leader knows them without reading the log.
func TestUploaderCommitsProducerState(t *testing.T) {
	f := newUploadFixture(t, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	k := wal.Key{Topic: [16]byte(f.topic.ID), Partition: 0}
	var next int64
	seqs := map[int64]int32{}
	var want []metadata.ProducerBatch // producer 42's batches
	for i := range 9 {
		pid := int64(42)
		if i%3 == 2 {
			pid = 43
		}
		records := 1 + rng.IntN(3)
		b := makeColdBatch(t, rng, next, records, 100)
		setProducer(b, pid, 1, seqs[pid])
		recordbatch.SetPartitionLeaderEpoch(b, 0)
		if err := f.log.Append(wal.Entry{Key: k, BaseOffset: next, LastOffset: next + int64(records) - 1, MaxTimestamp: 1, Data: b}); err != nil {
			t.Fatal(err)
		}
		if pid == 42 {
			want = append(want, metadata.ProducerBatch{FirstSeq: seqs[pid], LastSeq: seqs[pid] + int32(records) - 1, BaseOffset: next, LastOffset: next + int64(records) - 1})
		}
		seqs[pid] += int32(records)
		next += int64(records)
	}
	if err := f.log.Sync(); err != nil {
		t.Fatal(err)
	}
	f.uploader(t, 0) // segments seal by age (10 ms) in the fixture
	f.waitCommitted(t, map[wal.Key]int64{k: next})
	states, from, tracked := f.meta.ProducerStates(f.topic.ID, 0)
	if !tracked || from != 0 || len(states) != 2 {
		t.Fatalf("producer states %+v from %d tracked %v, want producers 42 and 43 from 0", states, from, tracked)
	}
	if got := states[0]; got.ID != 42 || got.Epoch != 1 || !reflect.DeepEqual(got.Batches, want[len(want)-metadata.MaxProducerBatches:]) {
		t.Fatalf("producer 42: %+v, want epoch 1 batches %+v", got, want[len(want)-metadata.MaxProducerBatches:])
	}
	if got := states[1]; got.ID != 43 || len(got.Batches) != 3 || got.Batches[2].LastSeq != seqs[43]-1 {
		t.Fatalf("producer 43: %+v, want 3 batches ending at sequence %d", got, seqs[43]-1)
	}
}
