package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
)

// compactionFixture is a real single-voter metadata store (reopenable from
// its directory) and a filesystem bucket holding one partition's data as
// many small committed WAL objects.
type compactionFixture struct {
	mcfg   metadata.Config
	meta   *metadata.Store
	bucket objectstore.Bucket
	topic  metadata.Topic
	key    index.Key
	data   []byte // every batch of the partition, in offset order
	end    int64
}

func newCompactionFixture(t *testing.T, objects int) *compactionFixture {
	t.Helper()
	mc := metadata.DefaultConfig()
	mc.Dir = t.TempDir()
	mc.HeartbeatTimeout, mc.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	f := &compactionFixture{mcfg: mc}
	f.open(t)
	var err error
	if f.topic, err = f.meta.CreateTopic(context.Background(), "compact", 1, nil); err != nil {
		t.Fatal(err)
	}
	f.key = index.Key{Topic: [16]byte(f.topic.ID), Partition: 0}
	fs, err := objectstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	f.bucket = fs
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range objects {
		batches := genColdBatches(t, rng, f.end, 5, coldSmallBatches)
		obj, footer := buildColdObject(t, []coldPart{{key: f.key, batches: batches}}, 1<<10)
		name := WALObjectKey(1, uint64(i), NewNonce())
		if err := f.bucket.Put(context.Background(), name, bytes.NewReader(obj), int64(len(obj))); err != nil {
			t.Fatal(err)
		}
		fp := footer.Partitions[0]
		_, err := f.meta.CommitObject(context.Background(), metadata.ObjectCommit{Key: name, Size: int64(len(obj)), Broker: 1,
			Now: time.Now().UnixMilli(), Extents: []metadata.Extent{{Topic: f.topic.ID, Partition: 0,
				BaseOffset: fp.FirstOffset, LastOffset: fp.LastOffset, Pos: fp.Pos, Len: fp.Len,
				MaxTimestamp: batchMaxTimestamp(batches)}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			f.data = append(f.data, b.data...)
		}
		f.end = fp.LastOffset + 1
	}
	return f
}

func batchMaxTimestamp(bs []coldBatch) int64 {
	ts := int64(-1)
	for _, b := range bs {
		ts = max(ts, int64(1_700_000_000_000)+b.last)
	}
	return ts
}

func (f *compactionFixture) open(t *testing.T) {
	t.Helper()
	meta, err := metadata.Open(f.mcfg)
	if err != nil {
		t.Fatalf("open metadata: %v", err)
	}
	f.meta = meta
	t.Cleanup(func() { meta.Close() })
}

// restart closes the metadata store and opens it again from its directory.
func (f *compactionFixture) restart(t *testing.T) {
	t.Helper()
	if err := f.meta.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
}

func (f *compactionFixture) compactor(t *testing.T, cat CompactionCatalog) *Compactor {
	t.Helper()
	cfg := DefaultCompactorConfig()
	cfg.TargetBytes, cfg.MinExtents, cfg.TempDir = 1<<20, 2, t.TempDir()
	c, err := NewCompactor(cfg, f.bucket, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readAll reads the whole partition [0, end) through a fresh cold reader
// over the catalog and checks it is exactly the batches written.
func (f *compactionFixture) readAll(t *testing.T, step string) {
	t.Helper()
	r, err := NewReader(f.bucket, CatalogFinder{Store: f.meta}, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	for off := int64(0); off < f.end; {
		data, err := r.Read(context.Background(), f.key, off, f.end, 64<<10)
		if err != nil {
			t.Fatalf("%s: read offset %d of [0, %d): %v", step, off, f.end, err)
		}
		if len(data) == 0 {
			t.Fatalf("%s: read offset %d of [0, %d): nothing", step, off, f.end)
		}
		next := off
		for rest := data; len(rest) > 0; {
			h, n := batchSpan(t, rest)
			next = h + 1
			rest = rest[n:]
		}
		got = append(got, data...)
		off = next
	}
	if !bytes.Equal(got, f.data) {
		t.Fatalf("%s: read %d bytes, they differ from the %d written", step, len(got), len(f.data))
	}
}

// batchSpan returns the last offset and the length of the batch at b[0:].
func batchSpan(t *testing.T, b []byte) (last int64, n int) {
	t.Helper()
	if len(b) < 61 {
		t.Fatalf("short batch of %d bytes", len(b))
	}
	base := int64(b[0])<<56 | int64(b[1])<<48 | int64(b[2])<<40 | int64(b[3])<<32 | int64(b[4])<<24 | int64(b[5])<<16 | int64(b[6])<<8 | int64(b[7])
	length := int(b[8])<<24 | int(b[9])<<16 | int(b[10])<<8 | int(b[11])
	delta := int64(b[23])<<24 | int64(b[24])<<16 | int64(b[25])<<8 | int64(b[26])
	return base + delta, 12 + length
}

// swapThenFail is a catalog whose ReplaceExtents reaches the state machine
// and applies, but whose caller is told err: a shutdown cancelling the
// context while raft applied the entry, or leadership lost after the
// entry was replicated.
type swapThenFail struct {
	*metadata.Store
	err error
}

func (c swapThenFail) ReplaceExtents(_ context.Context, r metadata.Replacement) error {
	if err := c.Store.ReplaceExtents(context.Background(), r); err != nil {
		return err
	}
	return fmt.Errorf("propose ReplaceExtents: %w", c.err)
}

// TestCompactorKeepsObjectWhenSwapOutcomeUnknown: the swap applied but the
// compactor saw a cancelled context (shutdown) or a lost leadership. Its
// new object is what the catalog now points at, so it must stay: after a
// restart of the metadata store and after a GC pass that sweeps orphans,
// every offset of the range is still readable.
func TestCompactorKeepsObjectWhenSwapOutcomeUnknown(t *testing.T) {
	for _, swapErr := range []error{context.Canceled, fmt.Errorf("%w: leadership lost, outcome unknown", metadata.ErrNotLeader)} {
		t.Run(swapErr.Error(), func(t *testing.T) {
			f := newCompactionFixture(t, 12)
			f.readAll(t, "before compaction")
			c := f.compactor(t, swapThenFail{Store: f.meta, err: swapErr})
			if _, err := c.RunOnce(context.Background()); !errors.Is(err, swapErr) && !errors.Is(err, metadata.ErrNotLeader) {
				t.Fatalf("compaction: err %v, want the swap's %v", err, swapErr)
			}
			exts := f.meta.Extents(f.topic.ID, 0, 0, 100)
			if len(exts) != 2 || !strings.HasPrefix(exts[0].Object, compactedPrefix) {
				t.Fatalf("catalog after the swap: %+v", exts)
			}

			f.restart(t)
			f.readAll(t, "after restart")
			gc, err := NewGC(DefaultGCConfig(), f.bucket, f.meta, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gc.RunOnce(context.Background(), time.Now().Add(48*time.Hour), true)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deleted != 11 { // the 11 replaced WAL objects
				t.Fatalf("gc %+v: want the 11 replaced objects deleted", res)
			}
			f.readAll(t, "after restart and gc")
		})
	}
}

// truncateFirst is a catalog in which retention advances the log start
// just before the swap, so the state machine refuses it.
type truncateFirst struct{ *metadata.Store }

func (c truncateFirst) ReplaceExtents(ctx context.Context, r metadata.Replacement) error {
	first := c.Store.Extents(r.New.Topic, r.New.Partition, r.New.BaseOffset, 1)
	if len(first) != 1 {
		return fmt.Errorf("no extent at %d", r.New.BaseOffset)
	}
	if err := c.Store.TruncatePartition(ctx, r.New.Topic, r.New.Partition, first[0].LastOffset+1, r.Now); err != nil {
		return err
	}
	return c.Store.ReplaceExtents(ctx, r)
}

// TestCompactorDeletesObjectOnDefiniteRejection: a refusal by the state
// machine (the run changed) means the new object is referenced by nothing
// and never will be, so the compactor removes it at once.
func TestCompactorDeletesObjectOnDefiniteRejection(t *testing.T) {
	f := newCompactionFixture(t, 6)
	c := f.compactor(t, truncateFirst{f.meta})
	res, err := c.RunOnce(context.Background())
	if err != nil || res.Conflicts != 1 || res.Objects != 0 {
		t.Fatalf("compaction %+v, %v: want one conflict", res, err)
	}
	n := 0
	if err := f.bucket.List(context.Background(), compactedPrefix, func(objectstore.ObjectInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d compacted objects left after a refused swap", n)
	}
}
