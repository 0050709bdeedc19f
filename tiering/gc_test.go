package tiering

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
)

// gcCatalog is a GCCatalog double: a set of known keys, no garbage.
type gcCatalog struct {
	known  map[string]bool
	leader bool
}

func newGCCatalog() *gcCatalog { return &gcCatalog{known: map[string]bool{}, leader: true} }

func (c *gcCatalog) GarbageObjects() []metadata.GarbageObject      { return nil }
func (c *gcCatalog) ForgetObjects(context.Context, []string) error { return nil }
func (c *gcCatalog) IsKnownObject(key string) bool                 { return c.known[key] }
func (c *gcCatalog) IsLeader() bool                                { return c.leader }

// listRecorder records the prefixes a bucket is listed with, and can run
// a hook once a listing has finished.
type listRecorder struct {
	objectstore.Bucket
	mu        sync.Mutex
	prefixes  []string
	afterList func()
}

func (b *listRecorder) List(ctx context.Context, prefix string, fn func(objectstore.ObjectInfo) error) error {
	b.mu.Lock()
	b.prefixes = append(b.prefixes, prefix)
	b.mu.Unlock()
	err := b.Bucket.List(ctx, prefix, fn)
	if b.afterList != nil {
		b.afterList()
	}
	return err
}

// gcBucket is a filesystem bucket whose objects can be aged.
type gcBucket struct {
	*listRecorder
	root string
}

func newGCBucket(t *testing.T) *gcBucket {
	t.Helper()
	root := t.TempDir()
	fs, err := objectstore.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return &gcBucket{listRecorder: &listRecorder{Bucket: fs}, root: root}
}

// put stores a small object under key, last modified age ago.
func (b *gcBucket) put(t *testing.T, key string, age time.Duration) {
	t.Helper()
	if err := b.Put(context.Background(), key, strings.NewReader("x"), 1); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	mt := time.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(b.root, filepath.FromSlash(key)), mt, mt); err != nil {
		t.Fatal(err)
	}
}

func (b *gcBucket) exists(t *testing.T, key string) bool {
	t.Helper()
	_, err := b.Stat(context.Background(), key)
	if err != nil && !objectstore.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func newTestGC(t *testing.T, b objectstore.Bucket, cat GCCatalog) *GC {
	t.Helper()
	g, err := NewGC(DefaultGCConfig(), b, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGCOrphanSweepOnlyShaleKeys: objects in the bucket (or under its
// prefix) that Shale did not write are never deleted, however old; an
// unknown object whose key has the exact shape of a Shale key is.
func TestGCOrphanSweepOnlyShaleKeys(t *testing.T) {
	b := newGCBucket(t)
	cat := newGCCatalog()
	topic := [16]byte{1, 2, 3}
	old := 30 * 24 * time.Hour
	foreign := []string{
		"backup/db.dump",
		"notes.txt",
		"wal.obj",
		"wal/README",
		"wal/1/notes.obj",
		"wal/1/00000000000000000001-0123456789abcdef.obj.bak",
		"wal/1/00000000000000000001-0123456789ABCDEF.obj",
		"wal/1/1-0123456789abcdef.obj",
		"wal/01/00000000000000000001-0123456789abcdef.obj",
		"wal/x/00000000000000000001-0123456789abcdef.obj",
		"wal/1/extra/00000000000000000001-0123456789abcdef.obj",
		"walrus/1/00000000000000000001-0123456789abcdef.obj",
		"part/x/0/00000000000000000000-0123456789abcdef.obj",
		"part/010203/0/00000000000000000000-0123456789abcdef.obj",
		"part/01020300000000000000000000000000/-1/00000000000000000000-0123456789abcdef.obj",
		"part/01020300000000000000000000000000/0/00000000000000000000-0123456789abcde.obj",
		"partition-map.json",
	}
	for _, k := range foreign {
		b.put(t, k, old)
	}
	orphans := []string{
		WALObjectKey(1, 5, NewNonce()),
		WALObjectKey(0, 1<<63, NewNonce()),
		CompactedObjectKey(topic, 3, 1000, NewNonce()),
	}
	for _, k := range orphans {
		b.put(t, k, old)
	}
	known := WALObjectKey(1, 6, NewNonce())
	young := WALObjectKey(2, 1, NewNonce())
	b.put(t, known, old)
	b.put(t, young, time.Minute)
	cat.known[known] = true

	res, err := newTestGC(t, b, cat).RunOnce(context.Background(), time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range foreign {
		if !b.exists(t, k) {
			t.Errorf("foreign object %q was deleted", k)
		}
	}
	for _, k := range orphans {
		if b.exists(t, k) {
			t.Errorf("orphan %q was kept", k)
		}
	}
	if !b.exists(t, known) || !b.exists(t, young) {
		t.Error("a known or young object was deleted")
	}
	if res.Orphans != len(orphans) {
		t.Errorf("result %+v, want %d orphans", res, len(orphans))
	}
	// Only Shale's own key spaces were listed, never the whole bucket.
	slices.Sort(b.prefixes)
	if want := []string{compactedPrefix, walPrefix}; !slices.Equal(b.prefixes, want) {
		t.Errorf("listed prefixes %q, want %q", b.prefixes, want)
	}
}

// TestGCOrphanRewrittenDuringSweep: an orphan written again after the
// listing saw it old (a re-upload of the same key) is younger than the
// grace when it is about to be deleted, so it stays.
func TestGCOrphanRewrittenDuringSweep(t *testing.T) {
	b := newGCBucket(t)
	key := WALObjectKey(1, 9, NewNonce())
	b.put(t, key, 48*time.Hour)
	b.afterList = func() {
		b.afterList = nil
		if err := b.Put(context.Background(), key, strings.NewReader("y"), 1); err != nil {
			t.Error(err)
		}
	}
	res, err := newTestGC(t, b, newGCCatalog()).RunOnce(context.Background(), time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !b.exists(t, key) || res.Orphans != 0 {
		t.Fatalf("result %+v: the re-written object was deleted", res)
	}
}

// TestGCOrphanSweepOnlyOnLeader: a node that is not the metadata leader
// may hold a catalog that lags, in which a committed object looks unknown;
// it never sweeps.
func TestGCOrphanSweepOnlyOnLeader(t *testing.T) {
	b := newGCBucket(t)
	key := WALObjectKey(1, 9, NewNonce())
	b.put(t, key, 48*time.Hour)
	cat := newGCCatalog()
	cat.leader = false
	res, err := newTestGC(t, b, cat).RunOnce(context.Background(), time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !b.exists(t, key) || res.Orphans != 0 || len(b.prefixes) != 0 {
		t.Fatalf("result %+v, listed %q: a follower swept", res, b.prefixes)
	}
}

func TestGCConfigOrphanGraceMinimum(t *testing.T) {
	cfg := DefaultGCConfig()
	// An hour covers a compaction's multipart upload and raft commit,
	// and clock skew between brokers and the object store.
	cfg.OrphanGrace = 59 * time.Minute
	if err := cfg.Validate(); err == nil {
		t.Fatalf("orphan grace %s accepted", cfg.OrphanGrace)
	}
	cfg.OrphanGrace = MinOrphanGrace - time.Second
	if err := cfg.Validate(); err == nil {
		t.Fatalf("orphan grace %s accepted", cfg.OrphanGrace)
	}
	cfg.OrphanGrace = MinOrphanGrace
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseObjectKey(t *testing.T) {
	topic := [16]byte{0xde, 0xad}
	for _, k := range []string{
		WALObjectKey(0, 0, NewNonce()),
		WALObjectKey(1<<31-1, 1<<64-1, NewNonce()),
		CompactedObjectKey(topic, 0, 0, NewNonce()),
		CompactedObjectKey(topic, 1<<31-1, 1<<63-1, NewNonce()),
	} {
		if !IsObjectKey(k) {
			t.Errorf("%q is not recognised", k)
		}
	}
	for _, k := range []string{"", "wal/", "part/", "wal/-1/00000000000000000001-0123456789abcdef.obj",
		"wal/+1/00000000000000000001-0123456789abcdef.obj", "wal/1/00000000000000000001_0123456789abcdef.obj",
		"wal/1/99999999999999999999-0123456789abcdef.obj"} {
		if IsObjectKey(k) {
			t.Errorf("%q is recognised", k)
		}
	}
}
