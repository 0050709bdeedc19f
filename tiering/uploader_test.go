package tiering

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
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
}

func newUploadFixture(t *testing.T, partitions int32) *uploadFixture {
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
	return &uploadFixture{log: l, meta: meta, faulty: f, bucket: objectstore.NewCounting(f), topic: topic, committed: map[wal.Key]int64{}}
}

func (f *uploadFixture) uploader(t *testing.T, retain int64) *Uploader {
	t.Helper()
	cfg := DefaultUploaderConfig()
	cfg.LocalRetainBytes = retain
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 50*time.Millisecond
	cfg.OnCommitted = func(k wal.Key, end int64) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.committed[k] = max(f.committed[k], end)
	}
	u, err := NewUploader(cfg, f.log, f.bucket, f.meta)
	if err != nil {
		t.Fatal(err)
	}
	u.Start()
	t.Cleanup(func() { u.Close() })
	return u
}

// appendBatches writes n batches to every partition, round-robin, and
// returns each partition's end offset.
func (f *uploadFixture) appendBatches(t *testing.T, rng *rand.Rand, n int, next map[wal.Key]int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		for p := range f.topic.Partitions {
			k := wal.Key{Topic: [16]byte(f.topic.ID), Partition: int32(p)}
			records := 1 + rng.IntN(4)
			b := makeColdBatch(t, rng, next[k], records, 200+rng.IntN(400))
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
