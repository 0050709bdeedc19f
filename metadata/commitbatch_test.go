package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// batchCommits is a run of commits against catalogApplier's topics that
// meets every rule of CommitObject, in order:
//
//	0 a-0 0..9 and a-1 0..4, with producers and an open transaction
//	1 a-0 10..19 (the transaction commits) and a-1 with a gap: refused,
//	  a-0 accepted (a refused extent in the middle of the batch)
//	2 a-1 written under epoch 2, which is fenced (a-1 is at epoch 3)
//	3 malformed (an extent outside its object): ErrInvalidRequest
//	4 a-2 in a partition topic b does not have: ErrUnknownTopic
//	5 a retry of commit 0: skipped, nothing changes
//	6 key "o0" again with new data: ErrInvalidRequest (keys are written once)
//	7 a deleted topic's extent and a-0 20..29: the first is dropped
//	8 only refused extents: the object becomes garbage
//	9 a-1 5..9 under the current epoch: accepted after the refusals
func batchCommits() []commitObjectCmd {
	var cs []commitObjectCmd
	c0 := object("o0", 10, ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 0, 4, 0))
	c0.Extents[1].LeaderEpoch = 3
	c0.Producers = [][]ProducerState{
		{{ID: 7, Epoch: 1, Batches: []ProducerBatch{pbatch(0, 4, 0, 4), pbatch(5, 9, 5, 9)}}},
		{{ID: 8, Epoch: 0, Batches: []ProducerBatch{pbatch(0, 4, 0, 4)}}},
	}
	c0.Txns = [][]TxnEvent{{{ProducerID: 7, Offset: 5, Kind: TxnData}}, nil}
	cs = append(cs, c0)

	c1 := object("o1", 11, ext(tid(1), 0, 10, 19, 0), ext(tid(1), 1, 7, 9, 0))
	c1.Extents[1].LeaderEpoch = 3
	c1.Producers = [][]ProducerState{{{ID: 7, Epoch: 1, Batches: []ProducerBatch{pbatch(10, 19, 10, 19)}}}, nil}
	c1.Txns = [][]TxnEvent{{{ProducerID: 7, Offset: 15, Kind: TxnCommit}}, nil}
	c1.ProducerExpiry = 1000
	cs = append(cs, c1)

	c2 := object("o2", 12, ext(tid(1), 1, 5, 9, 0))
	c2.Extents[0].LeaderEpoch = 2
	cs = append(cs, c2)

	c3 := object("o3", 13, ext(tid(1), 0, 20, 29, 0))
	c3.Extents[0].Pos = c3.Size // beyond the object
	cs = append(cs, c3)

	cs = append(cs, object("o4", 14, ext(tid(2), 5, 0, 9, 0)))
	cs = append(cs, c0) // a retry
	cs = append(cs, object("o0", 15, ext(tid(1), 2, 0, 9, 0)))
	cs = append(cs, object("o7", 16, ext(tid(250), 0, 0, 9, 0), ext(tid(1), 0, 20, 29, 0)))
	c8 := object("o8", 17, ext(tid(1), 0, 50, 59, 0), ext(tid(1), 1, 5, 9, 0))
	c8.Extents[1].LeaderEpoch = 1
	cs = append(cs, c8)
	c9 := object("o9", 18, ext(tid(1), 1, 5, 9, 0))
	c9.Extents[0].LeaderEpoch = 3
	cs = append(cs, c9)
	return cs
}

// fencedApplier is catalogApplier with partition a-1 at leader epoch 3.
func fencedApplier(t *testing.T) *applier {
	t.Helper()
	a := catalogApplier(t)
	a.f.st.topics["a"].Partitions[1].LeaderEpoch = 3
	return a
}

// commitOutcome formats a commit's result and error for comparison.
func commitOutcome(res CommitResult, err error) string {
	return fmt.Sprintf("%v | err %v", res.Refused, err)
}

// TestApplyCommitObjectsEqualsOneByOne: a CommitObjects entry leaves the
// same state as its commits applied one by one in CommitObject entries,
// and gives each commit the result it got alone: refusals in the middle
// of the batch, a fenced epoch, malformed commits, an unknown partition,
// a reused key, a retry, producer and transaction state.
func TestApplyCommitObjectsEqualsOneByOne(t *testing.T) {
	cs := batchCommits()
	one, batch := fencedApplier(t), fencedApplier(t)
	var want []string
	for _, c := range cs {
		res := one.apply(c)
		want = append(want, commitOutcome(res.commit, res.err))
	}
	res := batch.apply(commitObjectsCmd{Commits: cs})
	if res.err != nil {
		t.Fatalf("batch: %v", res.err)
	}
	if len(res.commits) != len(cs) {
		t.Fatalf("%d results for %d commits", len(res.commits), len(cs))
	}
	for i, r := range res.commits {
		if got := commitOutcome(CommitResult{Refused: r.Refused}, r.Err); got != want[i] {
			t.Errorf("commit %d: batch gave %s, alone %s", i, got, want[i])
		}
	}
	if !reflect.DeepEqual(one.f.st, batch.f.st) {
		t.Fatal("the batch left another state than its commits one by one")
	}
	if !bytes.Equal(one.snapshotBytes(), batch.snapshotBytes()) {
		t.Fatal("snapshots differ")
	}

	// The test means what it says: each rule was met.
	rs := res.commits
	switch {
	case len(rs[0].Refused) != 0 || rs[0].Err != nil:
		t.Errorf("commit 0: %+v", rs[0])
	case len(rs[1].Refused) != 1 || !errors.Is(rs[1].Refused[0].Err, ErrOffsetGap) || rs[1].Refused[0].Partition != 1:
		t.Errorf("commit 1: %+v, want a-1 refused with a gap", rs[1])
	case len(rs[2].Refused) != 1 || !errors.Is(rs[2].Refused[0].Err, ErrFenced):
		t.Errorf("commit 2: %+v, want fenced", rs[2])
	case !errors.Is(rs[3].Err, ErrInvalidRequest):
		t.Errorf("commit 3: %+v, want ErrInvalidRequest", rs[3])
	case !errors.Is(rs[4].Err, ErrUnknownTopic):
		t.Errorf("commit 4: %+v, want ErrUnknownTopic", rs[4])
	case len(rs[5].Refused) != 0 || rs[5].Err != nil:
		t.Errorf("commit 5 (retry): %+v", rs[5])
	case !errors.Is(rs[6].Err, ErrInvalidRequest):
		t.Errorf("commit 6 (reused key): %+v", rs[6])
	case rs[7].Err != nil || len(rs[7].Refused) != 0:
		t.Errorf("commit 7: %+v", rs[7])
	case len(rs[8].Refused) != 2:
		t.Errorf("commit 8: %+v, want both refused", rs[8])
	case rs[9].Err != nil || len(rs[9].Refused) != 0:
		t.Errorf("commit 9: %+v", rs[9])
	}
	if got := batch.plog(tid(1), 0); got.End != 30 || got.Extents != 3 {
		t.Errorf("a-0 %+v, want end 30 in 3 extents", got)
	}
	if got := batch.plog(tid(1), 1); got.End != 10 || got.Extents != 2 {
		t.Errorf("a-1 %+v, want end 10 in 2 extents", got)
	}
	if _, ok := batch.f.st.garbage["o8"]; !ok {
		t.Error("o8 (all refused) is not garbage")
	}
	if batch.refs("o7") != 1 || batch.refs("o0") != 2 {
		t.Errorf("refs o7 %d o0 %d", batch.refs("o7"), batch.refs("o0"))
	}
	if ps, _, tracked := batch.producers(); !tracked || len(ps) != 1 || ps[0].ID != 7 {
		t.Errorf("a-0 producers %+v (tracked %v)", ps, tracked)
	}
}

// TestApplyCommitObjectsMixedLog cuts the mixed log's runs of commits into
// CommitObjects entries of random sizes: every commit's result and the
// final state equal the log applied entry by entry.
func TestApplyCommitObjectsMixedLog(t *testing.T) {
	log := mixedLog(t)
	rng := rand.New(rand.NewPCG(3, 5))
	one, batch := newApplier(t), newApplier(t)
	batches, batched := 0, 0
	for i := 0; i < len(log); {
		c, ok := log[i].(commitObjectCmd)
		if !ok {
			one.apply(log[i])
			batch.apply(log[i])
			i++
			continue
		}
		run := []commitObjectCmd{c}
		for n := 1 + rng.IntN(6); len(run) < n && i+len(run) < len(log); {
			next, ok := log[i+len(run)].(commitObjectCmd)
			if !ok {
				break
			}
			run = append(run, next)
		}
		var want []string
		for _, c := range run {
			res := one.apply(c)
			want = append(want, commitOutcome(res.commit, res.err))
		}
		res := batch.apply(commitObjectsCmd{Commits: run})
		if res.err != nil || len(res.commits) != len(run) {
			t.Fatalf("batch at %d: %d results, %v", i, len(res.commits), res.err)
		}
		for j, r := range res.commits {
			if got := commitOutcome(CommitResult{Refused: r.Refused}, r.Err); got != want[j] {
				t.Fatalf("log entry %d: batch gave %s, alone %s", i+j, got, want[j])
			}
		}
		if len(run) > 1 {
			batches++
			batched += len(run)
		}
		i += len(run)
	}
	if batches < 20 {
		t.Fatalf("only %d batches of several commits", batches)
	}
	if !bytes.Equal(one.snapshotBytes(), batch.snapshotBytes()) || !reflect.DeepEqual(one.f.st, batch.f.st) {
		t.Fatal("batched log leaves another state")
	}
	t.Logf("%d batches holding %d commits", batches, batched)
}

func TestCommitObjectsEncoding(t *testing.T) {
	cs := batchCommits()
	c := commitObjectsCmd{Commits: cs}
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 16 || b[1] != 1 {
		t.Fatalf("header % x, want type 16 version 1", b[:2])
	}
	got, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: got %+v\nwant %+v", got, c)
	}
	// Each element is exactly a CommitObject version-2 body.
	single, _ := encodeCommand(cs[0])
	if !bytes.Contains(b, single[2:]) {
		t.Fatal("the first commit's CommitObject body is not in the batch")
	}
	// The smallest commit body is minCommitObjectBody bytes.
	if n := len(encodeCommitObject(nil, commitObjectCmd{})); n != minCommitObjectBody {
		t.Fatalf("empty CommitObject body is %d bytes, minCommitObjectBody says %d", n, minCommitObjectBody)
	}

	// Bad entries are clear errors, never a panic, and change nothing.
	a := fencedApplier(t)
	before := a.snapshotBytes()
	sub, _ := encodeCommand(cs[0])
	framed := func(n uint64, bodies ...[]byte) []byte {
		w := bodyWriter{b: []byte{16, 1}}
		w.uvarint(n)
		for _, body := range bodies {
			w.uvarint(uint64(len(body)))
			w.b = append(w.b, body...)
		}
		return w.b
	}
	bad := map[string][]byte{
		"no body":            {16, 1},
		"unknown version":    append([]byte{16, 2}, b[2:]...),
		"truncated":          b[:len(b)-3],
		"trailing byte":      append(append([]byte{}, b...), 0),
		"count beyond bytes": framed(1000, sub[2:]),
		"length beyond body": append(framed(1), 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
		"bad commit body":    framed(2, sub[2:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
		"commit body short":  framed(1, sub[2:len(sub)-1]),
	}
	for name, data := range bad {
		res := a.raw(data)
		if res.err == nil {
			t.Errorf("%s: applied without error", name)
			continue
		}
		if name == "unknown version" && !errors.Is(res.err, ErrUnknownCommand) {
			t.Errorf("%s: %v, want ErrUnknownCommand", name, res.err)
		}
		t.Logf("%s: %v", name, res.err)
	}
	// An empty batch decodes but is refused on apply.
	a.mustReject(commitObjectsCmd{}, ErrInvalidRequest)
	if !bytes.Equal(before, a.snapshotBytes()) {
		t.Fatal("bad entries changed the state")
	}
}

// TestStoreCommitObjects: a store commits a batch in one raft entry and
// reports each object's own outcome; a batch over the byte budget is
// split, with the same outcomes.
func TestStoreCommitObjects(t *testing.T) {
	ctx := context.Background()
	for _, budget := range []int{MaxCommitBatchBytes, 60} {
		t.Run(fmt.Sprintf("budget %d", budget), func(t *testing.T) {
			old := commitBatchBytes
			commitBatchBytes = budget
			t.Cleanup(func() { commitBatchBytes = old })
			s := openTestStore(t, testConfig(t, t.TempDir()))
			top, err := s.CreateTopic(ctx, "t", 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := func(p int32, base, last int64) Extent {
				return Extent{Topic: top.ID, Partition: p, BaseOffset: base, LastOffset: last, Len: 10}
			}
			cs := []ObjectCommit{
				{Key: "wal/1", Size: 20, Now: 1, Extents: []Extent{e(0, 0, 9), {Topic: top.ID, Partition: 1, BaseOffset: 0, LastOffset: 4, Pos: 10, Len: 10}}},
				{Key: "wal/2", Size: 0, Now: 2, Extents: []Extent{e(0, 10, 19)}}, // malformed: refused before proposing
				{Key: "wal/3", Size: 10, Now: 3, Extents: []Extent{e(0, 10, 19)}},
				{Key: "wal/4", Size: 10, Now: 4, Extents: []Extent{e(1, 9, 9)}}, // a gap
				{Key: "wal/5", Size: 10, Now: 5, Extents: []Extent{e(7, 0, 0)}}, // no such partition
				{Key: "wal/1", Size: 10, Now: 6, Extents: []Extent{e(1, 5, 9)}}, // a key used already
				{Key: "wal/6", Size: 10, Now: 7, Extents: []Extent{e(1, 5, 9)}},
			}
			before := s.raft.LastIndex()
			res, err := s.CommitObjects(ctx, cs)
			if err != nil {
				t.Fatal(err)
			}
			entries := s.raft.LastIndex() - before
			switch {
			case len(res) != len(cs):
				t.Fatalf("%d results", len(res))
			case res[0].Err != nil || len(res[0].Refused) != 0:
				t.Errorf("wal/1: %+v", res[0])
			case !errors.Is(res[1].Err, ErrInvalidRequest):
				t.Errorf("wal/2: %+v", res[1])
			case res[2].Err != nil || len(res[2].Refused) != 0:
				t.Errorf("wal/3: %+v", res[2])
			case res[3].Err != nil || len(res[3].Refused) != 1 || !errors.Is(res[3].Refused[0].Err, ErrOffsetGap):
				t.Errorf("wal/4: %+v", res[3])
			case !errors.Is(res[4].Err, ErrUnknownTopic):
				t.Errorf("wal/5: %+v", res[4])
			case !errors.Is(res[5].Err, ErrInvalidRequest):
				t.Errorf("wal/1 again: %+v", res[5])
			case res[6].Err != nil || len(res[6].Refused) != 0:
				t.Errorf("wal/6: %+v", res[6])
			}
			if pl, _ := s.PartitionLog(top.ID, 0); pl.End != 20 {
				t.Errorf("partition 0 ends at %d, want 20", pl.End)
			}
			if pl, _ := s.PartitionLog(top.ID, 1); pl.End != 10 {
				t.Errorf("partition 1 ends at %d, want 10", pl.End)
			}
			if budget == MaxCommitBatchBytes && entries != 1 {
				t.Errorf("six commits took %d raft entries, want 1", entries)
			}
			if budget < MaxCommitBatchBytes && entries < 3 {
				t.Errorf("a %d-byte budget gave %d raft entries, want several", budget, entries)
			}
			t.Logf("%d raft entries", entries)
			// The whole call again is a retry: only the objects that can
			// never be taken are refused, and nothing changes.
			again, err := s.CommitObjects(ctx, cs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range cs {
				if wantErr := i == 1 || i == 4; (again[i].Err != nil) != wantErr {
					t.Errorf("retry of %s: %+v", cs[i].Key, again[i])
				}
			}
			p0, _ := s.PartitionLog(top.ID, 0)
			p1, _ := s.PartitionLog(top.ID, 1)
			if p0.End != 20 || p0.Extents != 2 || p1.End != 10 || p1.Extents != 2 {
				t.Errorf("after the retry %+v %+v", p0, p1)
			}
		})
	}
}

// TestQuorumForwardsCommitObjects: a broker that is not a voter forwards
// its batch to the leader over the controller RPC, in one raft entry, and
// reads each object's outcome from its own apply of it.
func TestQuorumForwardsCommitObjects(t *testing.T) {
	stores := tcpQuorum(t, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := stores[3] // the non-voting broker
	if b.IsLeader() {
		t.Fatal("the broker leads")
	}
	top, err := b.CreateTopic(ctx, "t", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	leader := controllerLeader(t, stores[:3])
	e := func(p int32, base, last int64, epoch int32) Extent {
		return Extent{Topic: top.ID, Partition: p, BaseOffset: base, LastOffset: last, Len: 10, LeaderEpoch: epoch}
	}
	cs := []ObjectCommit{
		{Key: "wal/1", Size: 10, Now: 1, Extents: []Extent{e(0, 0, 9, 0)}},
		{Key: "wal/2", Size: 20, Now: 2, Extents: []Extent{e(0, 10, 19, 0), {Topic: top.ID, Partition: 1, BaseOffset: 0, LastOffset: 4, Pos: 10, Len: 10, LeaderEpoch: 5}}},
		{Key: "wal/3", Size: 10, Now: 3, Extents: []Extent{e(9, 0, 0, 0)}}, // no such partition
		{Key: "wal/4", Size: 10, Now: 4, Extents: []Extent{e(0, 30, 39, 0)}},
		{Key: "wal/5", Size: 10, Now: 5, Extents: []Extent{e(1, 0, 4, 0)}},
	}
	before := leader.raft.LastIndex()
	res, err := b.CommitObjects(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if n := leader.raft.LastIndex() - before; n != 1 {
		t.Errorf("five commits took %d raft entries, want 1", n)
	}
	switch {
	case len(res) != len(cs):
		t.Fatalf("%d results", len(res))
	case res[0].Err != nil || len(res[0].Refused) != 0:
		t.Errorf("wal/1: %+v", res[0])
	case res[1].Err != nil || len(res[1].Refused) != 1 || !errors.Is(res[1].Refused[0].Err, ErrFenced):
		t.Errorf("wal/2: %+v, want partition 1 fenced", res[1])
	case !errors.Is(res[2].Err, ErrUnknownTopic):
		t.Errorf("wal/3: %+v", res[2])
	case res[3].Err != nil || len(res[3].Refused) != 1 || !errors.Is(res[3].Refused[0].Err, ErrOffsetGap):
		t.Errorf("wal/4: %+v, want a gap", res[3])
	case res[4].Err != nil || len(res[4].Refused) != 0:
		t.Errorf("wal/5: %+v", res[4])
	}
	// The write is visible where it was made, and every node converges.
	if pl, _ := b.PartitionLog(top.ID, 0); pl.End != 20 {
		t.Errorf("broker sees partition 0 end at %d, want 20", pl.End)
	}
	for i, s := range stores {
		waitFor(t, fmt.Sprintf("node %d to apply the batch", i+1), func() bool {
			p0, _ := s.PartitionLog(top.ID, 0)
			p1, _ := s.PartitionLog(top.ID, 1)
			return p0.End == 20 && p1.End == 5 && s.IsKnownObject("wal/4")
		})
	}
}
