package metadata

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestTxnLifecycle(t *testing.T) {
	a := catalogApplier(t)
	res := a.must(initTxnProducerCmd{ID: "tx", TimeoutMs: 60000, ExpectPID: -1, Now: 1})
	pid, epoch := res.txn.ProducerID, res.txn.ProducerEpoch
	if res.txn.Status != TxnEmpty || epoch != 0 {
		t.Fatalf("init: %+v", res.txn)
	}
	tp := TopicPartition{"a", 1}
	res = a.must(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{tp, {"a", 0}}, Groups: []string{"g"}, Now: 2})
	if res.txn.Status != TxnOngoing || res.txn.StartTime != 2 || !res.txn.HasPartition(tp) || !res.txn.HasGroup("g") {
		t.Fatalf("add: %+v", res.txn)
	}
	if r := a.apply(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"nope", 0}}, Now: 3}); !errors.Is(r.err, ErrUnknownTopic) {
		t.Fatalf("unknown partition: %v", r.err)
	}
	a.must(txnOffsetsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Offsets: []TxnOffset{{Group: "g", Topic: "b", Partition: 0, CommittedOffset: CommittedOffset{Offset: 42, LeaderEpoch: -1}}}, Now: 3})
	if r := a.apply(txnOffsetsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Offsets: []TxnOffset{{Group: "other", Topic: "b", CommittedOffset: CommittedOffset{Offset: 1}}}}); !errors.Is(r.err, ErrInvalidTxnState) {
		t.Fatalf("offsets of a group not added: %v", r.err)
	}
	// A zombie (older epoch) and a stranger are refused.
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch - 1, Commit: true}); !errors.Is(r.err, ErrProducerFenced) {
		t.Fatalf("older epoch: %v", r.err)
	}
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid + 9, Epoch: epoch, Commit: true}); !errors.Is(r.err, ErrInvalidProducerIDMapping) {
		t.Fatalf("other producer id: %v", r.err)
	}
	a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: true, Now: 4})
	if r := a.apply(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{tp}}); !errors.Is(r.err, ErrConcurrentTransactions) {
		t.Fatalf("add while preparing: %v", r.err)
	}
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: false}); !errors.Is(r.err, ErrInvalidTxnState) {
		t.Fatalf("abort while preparing a commit: %v", r.err)
	}
	if got := a.f.st.groupOffsetsCopy("g"); len(got) != 0 {
		t.Fatalf("offsets visible before the commit completed: %v", got)
	}
	res = a.must(endTxnCompleteCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Now: 5})
	if res.txn.Status != TxnCompleteCommit || len(res.txn.Partitions) != 0 {
		t.Fatalf("complete: %+v", res.txn)
	}
	if got := a.f.st.groupOffsetsCopy("g"); got[TopicPartition{"b", 0}].Offset != 42 {
		t.Fatalf("committed offsets after the commit: %v", got)
	}
	// Retries of both steps are answered without change.
	a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: true})
	a.must(endTxnCompleteCmd{ID: "tx", ProducerID: pid, Epoch: epoch})
	// A new producer instance bumps the epoch and fences the old one.
	res = a.must(initTxnProducerCmd{ID: "tx", TimeoutMs: 60000, ExpectPID: -1, Now: 6})
	if res.txn.ProducerID != pid || res.txn.ProducerEpoch != epoch+1 {
		t.Fatalf("re-init: %+v", res.txn)
	}
	if r := a.apply(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{tp}}); !errors.Is(r.err, ErrProducerFenced) {
		t.Fatalf("old instance after re-init: %v", r.err)
	}
	// A timed-out transaction is aborted with the epoch bumped; its
	// offsets never apply.
	e2 := epoch + 1
	a.must(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: e2, Partitions: []TopicPartition{tp}, Groups: []string{"g"}, Now: 7})
	a.must(txnOffsetsCmd{ID: "tx", ProducerID: pid, Epoch: e2, Offsets: []TxnOffset{{Group: "g", Topic: "b", Partition: 0, CommittedOffset: CommittedOffset{Offset: 99}}}})
	res = a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: e2, Commit: false, Timeout: true, Now: 8})
	if res.txn.ProducerEpoch != e2+1 || res.txn.Status != TxnPrepareAbort {
		t.Fatalf("timeout abort: %+v", res.txn)
	}
	a.must(endTxnCompleteCmd{ID: "tx", ProducerID: pid, Epoch: e2 + 1, Now: 9})
	if got := a.f.st.groupOffsetsCopy("g"); got[TopicPartition{"b", 0}].Offset != 42 {
		t.Fatalf("an aborted transaction's offsets applied: %v", got)
	}
	// State survives a snapshot.
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.sortedTxns(), a.f.st.sortedTxns()) {
		t.Fatalf("restored transactions %+v, want %+v", st.sortedTxns(), a.f.st.sortedTxns())
	}
}

func TestTxnLogLastStableAndAborted(t *testing.T) {
	a := catalogApplier(t)
	commit := func(key string, base, last int64, evs ...TxnEvent) {
		t.Helper()
		c := object(key, 10, ext(tid(1), 0, base, last, 0))
		c.Txns = [][]TxnEvent{evs}
		a.must(c)
	}
	k := partitionKey{tid(1), 0}
	lso := func() int64 { pl, _ := a.f.st.partitionLog(k); return pl.lastStable() }
	commit("o1", 0, 9, TxnEvent{7, 2, TxnData}, TxnEvent{8, 5, TxnData})
	if got := lso(); got != 2 {
		t.Fatalf("LSO %d, want 2 (producer 7's open transaction)", got)
	}
	commit("o2", 10, 19, TxnEvent{7, 10, TxnData}, TxnEvent{7, 12, TxnAbort}, TxnEvent{7, 14, TxnData})
	if got := lso(); got != 5 {
		t.Fatalf("LSO %d, want 5", got)
	}
	commit("o3", 20, 29, TxnEvent{8, 20, TxnCommit}, TxnEvent{7, 21, TxnAbort})
	if got := lso(); got != 30 {
		t.Fatalf("LSO %d, want the end 30", got)
	}
	pl, _ := a.f.st.partitionLog(k)
	want := []AbortedTxn{{7, 2, 12}, {7, 14, 21}}
	if !reflect.DeepEqual(pl.aborted, want) {
		t.Fatalf("aborted %+v, want %+v", pl.aborted, want)
	}
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.logs, a.f.st.logs) {
		t.Fatalf("restored transaction log differs")
	}
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 15, Now: 50})
	pl, _ = a.f.st.partitionLog(k)
	if !reflect.DeepEqual(pl.aborted, want[1:]) {
		t.Fatalf("after truncation to 15: %+v", pl.aborted)
	}
	// Events outside their extent are refused.
	c := object("bad", 10, ext(tid(1), 0, 30, 39, 0))
	c.Txns = [][]TxnEvent{{{7, 40, TxnData}}}
	if r := a.apply(c); !errors.Is(r.err, ErrInvalidRequest) {
		t.Fatalf("event past its extent: %v", r.err)
	}
}

// KIP-890 part 2: the epoch is bumped as each transaction ends, a retry of
// the ending request is recognised, a late request of the ended
// transaction is refused, an empty abort bumps, and an exhausted epoch
// moves the id to a new producer id.
func TestTxnBumpPerTransaction(t *testing.T) {
	a := catalogApplier(t)
	res := a.must(initTxnProducerCmd{ID: "tx", TimeoutMs: 60000, ExpectPID: -1, Now: 1})
	pid, epoch := res.txn.ProducerID, res.txn.ProducerEpoch
	tp := TopicPartition{"a", 0}
	a.must(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{tp}, Now: 2})
	res = a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: true, Bump: true, Now: 3})
	if res.txn.Status != TxnPrepareCommit || res.txn.ProducerEpoch != epoch+1 {
		t.Fatalf("prepare with bump: %+v", res.txn)
	}
	// A retry while the markers are written answers the preparing state.
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: true, Bump: true}); r.err != nil || r.txn.Status != TxnPrepareCommit {
		t.Fatalf("retry while preparing: %+v %v", r.txn, r.err)
	}
	// The old epoch can no longer add partitions (a late Produce).
	if r := a.apply(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"a", 1}}}); !errors.Is(r.err, ErrProducerFenced) {
		t.Fatalf("late add of the ended transaction: %v", r.err)
	}
	res = a.must(endTxnCompleteCmd{ID: "tx", ProducerID: pid, Epoch: epoch + 1, Now: 4})
	if res.txn.Status != TxnCompleteCommit || res.txn.ProducerEpoch != epoch+1 {
		t.Fatalf("complete: %+v", res.txn)
	}
	// A retry after completion answers the new epoch; an abort at the old
	// epoch (not what was asked) is fenced.
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: true, Bump: true}); r.err != nil || r.txn.ProducerEpoch != epoch+1 || r.txn.Status != TxnCompleteCommit {
		t.Fatalf("retry after completion: %+v %v", r.txn, r.err)
	}
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch, Commit: false, Bump: true}); !errors.Is(r.err, ErrProducerFenced) {
		t.Fatalf("abort at the ended epoch: %v", r.err)
	}
	// Commit with nothing ongoing is refused; an empty abort bumps.
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch + 1, Commit: true, Bump: true}); !errors.Is(r.err, ErrInvalidTxnState) {
		t.Fatalf("commit with nothing ongoing: %v", r.err)
	}
	res = a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch + 1, Bump: true, Now: 5})
	if res.txn.Status != TxnCompleteAbort || res.txn.ProducerEpoch != epoch+2 {
		t.Fatalf("empty abort: %+v", res.txn)
	}
	// A new transaction at the new epoch forgets the last end: a late
	// retry of it is fenced.
	a.must(addTxnPartitionsCmd{ID: "tx", ProducerID: pid, Epoch: epoch + 2, Partitions: []TopicPartition{tp}, Now: 6})
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: epoch + 1, Bump: true}); !errors.Is(r.err, ErrProducerFenced) {
		t.Fatalf("late retry once the next transaction began: %v", r.err)
	}

	// The epoch running out: markers at the last epoch, then a new id.
	tx := a.f.st.txns["tx"]
	tx.ProducerEpoch = 32766
	a.f.st.txns["tx"] = tx
	next := a.f.st.nextProducerID
	res = a.must(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: 32766, Commit: false, Bump: true, Now: 7})
	if res.txn.ProducerID != pid || res.txn.ProducerEpoch != 32767 || res.txn.NextProducerID == nil || *res.txn.NextProducerID != next {
		t.Fatalf("prepare at the last epoch: %+v", res.txn)
	}
	snap := a.snapshotBytes()
	restored := newApplier(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.f.st.txns, a.f.st.txns) {
		t.Fatal("a preparing transaction with its next producer id does not survive a snapshot")
	}
	res = a.must(endTxnCompleteCmd{ID: "tx", ProducerID: pid, Epoch: 32767, Now: 8})
	if res.txn.ProducerID != next || res.txn.ProducerEpoch != 0 || res.txn.NextProducerID != nil || res.txn.Status != TxnCompleteAbort {
		t.Fatalf("complete at the last epoch: %+v", res.txn)
	}
	if r := a.apply(endTxnPrepareCmd{ID: "tx", ProducerID: pid, Epoch: 32766, Commit: false, Bump: true}); r.err != nil || r.txn.ProducerID != next {
		t.Fatalf("retry across the new producer id: %+v %v", r.txn, r.err)
	}
	// Version-1 EndTxnPrepare entries (no Bump) still decode.
	b, err := encodeCommand(endTxnPrepareCmd{ID: "tx", ProducerID: 1, Epoch: 2, Commit: true})
	if err != nil {
		t.Fatal(err)
	}
	if b[1] != 2 {
		t.Fatalf("EndTxnPrepare written as version %d, want 2", b[1])
	}
	b[1] = 1
	if c, err := decodeCommand(b); err != nil || c != (endTxnPrepareCmd{ID: "tx", ProducerID: 1, Epoch: 2, Commit: true}) {
		t.Fatalf("version-1 entry: %+v %v", c, err)
	}
}
