package tiering

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/wal"
)

// stallingCatalog is the store behind a switch: while stalled every call
// fails as during a metadata leader change. It records the commits of
// each call that reached the store, and spoil, if set, may change a
// call's commits first.
type stallingCatalog struct {
	*metadata.Store
	stalled atomic.Bool
	spoil   func(cs []metadata.ObjectCommit)
	// oneAtATime refuses calls of several commits as a whole, as a
	// catalog that cannot take batches would.
	oneAtATime bool

	mu    sync.Mutex
	calls [][]metadata.ObjectCommit
}

func (c *stallingCatalog) CommitObjects(ctx context.Context, cs []metadata.ObjectCommit) ([]metadata.CommitResult, error) {
	if c.stalled.Load() {
		return nil, fmt.Errorf("%w: injected: no metadata leader", metadata.ErrNotLeader)
	}
	if c.oneAtATime && len(cs) > 1 {
		return nil, fmt.Errorf("%w: injected: one commit at a time", metadata.ErrInvalidRequest)
	}
	cs = slices.Clone(cs)
	if c.spoil != nil {
		c.spoil(cs)
	}
	c.mu.Lock()
	c.calls = append(c.calls, cs)
	c.mu.Unlock()
	return c.Store.CommitObjects(ctx, cs)
}

func (c *stallingCatalog) callSizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, cs := range c.calls {
		out = append(out, len(cs))
	}
	return out
}

// sealOnePerPartition writes each partition's batches in a segment of its
// own: partition p's data is the only data of the p-th sealed segment.
func (f *uploadFixture) sealOnePerPartition(t *testing.T, rng *rand.Rand, next map[wal.Key]int64) {
	t.Helper()
	for p := range f.topic.Partitions {
		sealed := len(f.log.SealedSegments())
		f.appendEpoch(t, rng, 5, next, map[int32]int32{int32(p): 0})
		coldWaitFor(t, "the partition's segment sealed", func() bool { return len(f.log.SealedSegments()) > sealed })
	}
}

// stallUntilStored keeps the catalog stalled until n objects are in the
// bucket and the loop has had time to hand them to the committer.
func (f *uploadFixture) stallUntilStored(t *testing.T, cat *stallingCatalog, n int) {
	t.Helper()
	coldWaitFor(t, "the objects stored while the catalog is stalled", func() bool { return f.objects(t) >= n })
	time.Sleep(100 * time.Millisecond) // more than RetryMax: the committer retried with them in hand
	cat.stalled.Store(false)
}

// TestUploaderCommitsReadyUploadsInOneCall: uploads that became ready
// while the catalog stalled are committed together, in one catalog call
// and so one raft entry, in segment order; with CommitBatch 1 each goes
// alone as before.
func TestUploaderCommitsReadyUploadsInOneCall(t *testing.T) {
	for _, batch := range []int{0, 1} {
		t.Run(fmt.Sprintf("CommitBatch=%d", batch), func(t *testing.T) {
			f := newUploadFixture(t, 3)
			rng := rand.New(rand.NewPCG(21, 22))
			next := map[wal.Key]int64{}
			f.sealOnePerPartition(t, rng, next)
			cat := &stallingCatalog{Store: f.meta}
			cat.stalled.Store(true)
			u := f.uploaderWith(t, 1<<30, f.bucket, cat, func(c *UploaderConfig) { c.CommitBatch = batch })
			f.stallUntilStored(t, cat, 3)
			f.waitCommitted(t, next)

			sizes := cat.callSizes()
			st := u.Stats()
			t.Logf("commit calls %v, stats: %d objects in %d commits, %d failed attempts", sizes, st.Objects, st.Commits, st.CommitErrors)
			if st.Objects != 3 || st.CommitErrors == 0 {
				t.Fatalf("stats %+v", st)
			}
			if want := map[int][]int{0: {3}, 1: {1, 1, 1}}[batch]; !reflect.DeepEqual(sizes, want) {
				t.Fatalf("commit calls of %v objects, want %v", sizes, want)
			}
			if st.Commits != int64(len(sizes)) {
				t.Fatalf("stats count %d commits, the catalog saw %d", st.Commits, len(sizes))
			}
			// In segment order: partition 0's object first.
			var order []int32
			cat.mu.Lock()
			for _, cs := range cat.calls {
				for _, c := range cs {
					order = append(order, c.Extents[0].Partition)
				}
			}
			cat.mu.Unlock()
			if !reflect.DeepEqual(order, []int32{0, 1, 2}) {
				t.Fatalf("objects committed in partition order %v, want the segments' 0 1 2", order)
			}
			if len(f.fencedEpochs(partKey(f.topic, 0)))+len(f.fencedEpochs(partKey(f.topic, 1)))+len(f.fencedEpochs(partKey(f.topic, 2))) != 0 {
				t.Fatal("a partition was fenced")
			}
		})
	}
}

// TestUploaderBatchRefusalIsPerObject: the catalog refuses one object of
// a batch as a whole (its partition does not exist: ErrUnknownTopic in
// that object's result). Only that object's partition is fenced; the
// objects before and after it in the same raft entry are committed.
func TestUploaderBatchRefusalIsPerObject(t *testing.T) {
	f := newUploadFixture(t, 3)
	rng := rand.New(rand.NewPCG(23, 24))
	next := map[wal.Key]int64{}
	f.sealOnePerPartition(t, rng, next)
	cat := &stallingCatalog{Store: f.meta}
	cat.spoil = func(cs []metadata.ObjectCommit) {
		for i, c := range cs {
			if c.Extents[0].Partition == 1 {
				c.Extents = slices.Clone(c.Extents)
				c.Extents[0].Partition = 99 // not a partition of the topic
				cs[i] = c
			}
		}
	}
	cat.stalled.Store(true)
	u := f.uploaderWith(t, 1<<30, f.bucket, cat, nil)
	f.stallUntilStored(t, cat, 3)
	k0, k1, k2 := partKey(f.topic, 0), partKey(f.topic, 1), partKey(f.topic, 2)
	f.waitCommitted(t, map[wal.Key]int64{k0: next[k0], k2: next[k2]})
	coldWaitFor(t, "partition 1 fenced", func() bool { return len(f.fencedEpochs(k1)) > 0 })

	if sizes := cat.callSizes(); !reflect.DeepEqual(sizes, []int{3}) {
		t.Fatalf("commit calls of %v objects, want one of 3", sizes)
	}
	if got := f.fencedEpochs(k1); !reflect.DeepEqual(got, []int32{0}) {
		t.Fatalf("partition 1 fenced at %v, want [0]", got)
	}
	if len(f.fencedEpochs(k0)) != 0 || len(f.fencedEpochs(k2)) != 0 {
		t.Fatalf("partitions 0 and 2 fenced: %v %v", f.fencedEpochs(k0), f.fencedEpochs(k2))
	}
	if pl, _ := f.meta.PartitionLog(f.topic.ID, 1); pl.End != 0 || f.told(k1) != 0 {
		t.Fatalf("partition 1 committed: %+v, told %d", pl, f.told(k1))
	}
	st := u.Stats()
	if st.Objects != 2 || st.Commits != 1 {
		t.Fatalf("stats %+v: want 2 objects in 1 commit", st)
	}
}

// TestUploaderBatchRefusedAsAWhole: a catalog that refuses a call of
// several commits as a whole (ErrInvalidRequest for the call, not for an
// object) gets each object in a call of its own; none is dropped.
func TestUploaderBatchRefusedAsAWhole(t *testing.T) {
	f := newUploadFixture(t, 3)
	rng := rand.New(rand.NewPCG(25, 26))
	next := map[wal.Key]int64{}
	f.sealOnePerPartition(t, rng, next)
	cat := &stallingCatalog{Store: f.meta, oneAtATime: true}
	cat.stalled.Store(true)
	u := f.uploaderWith(t, 1<<30, f.bucket, cat, nil)
	f.stallUntilStored(t, cat, 3)
	f.waitCommitted(t, next)
	if sizes := cat.callSizes(); !reflect.DeepEqual(sizes, []int{1, 1, 1}) {
		t.Fatalf("commit calls of %v objects, want 1 1 1", sizes)
	}
	for p := range f.topic.Partitions {
		if got := f.fencedEpochs(partKey(f.topic, int32(p))); len(got) != 0 {
			t.Fatalf("partition %d fenced at %v", p, got)
		}
	}
	if st := u.Stats(); st.Objects != 3 {
		t.Fatalf("stats %+v", st)
	}
}
