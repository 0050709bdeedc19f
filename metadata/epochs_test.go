package metadata

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// setLeaderEpoch moves partition p of topic name to epoch, as a leader
// change does (the command doing that is not part of this package's
// tests yet).
func (a *applier) setLeaderEpoch(name string, p int32, epoch int32) {
	a.t.Helper()
	t := a.f.st.topics[name].Clone()
	t.Partitions[p].LeaderEpoch = epoch
	a.f.st.topics[name] = t
}

// commitAt commits offsets base..last of a-p under the partition's current
// epoch, in an object of its own.
func (a *applier) commitAt(p int32, base, last int64) {
	a.t.Helper()
	e := ext(tid(1), p, base, last, 0)
	e.LeaderEpoch = a.f.st.topics["a"].Partitions[p].LeaderEpoch
	a.must(object(fmt.Sprintf("a%d-%d", p, base), 10, e))
}

func (a *applier) history(p int32) EpochHistory {
	a.t.Helper()
	h, ok := a.f.st.epochHistory(partitionKey{tid(1), p})
	if !ok {
		a.t.Fatalf("no epoch history for a-%d", p)
	}
	return h
}

type epochQuery struct {
	requested int32
	epoch     int32
	end       int64
}

func checkEpochQueries(t *testing.T, h EpochHistory, logEnd int64, qs []epochQuery) {
	t.Helper()
	for _, q := range qs {
		epoch, end := h.EndOffsetFor(q.requested, logEnd)
		if epoch != q.epoch || end != q.end {
			t.Errorf("EndOffsetFor(%d, %d) over %+v = (%d, %d), want (%d, %d)", q.requested, logEnd, h, epoch, end, q.epoch, q.end)
		}
	}
}

// epochApplier has a-0 with epochs 0 (offsets 0..19, two extents),
// 2 (20..29) and 5 (30..39), and the current epoch 5.
func epochApplier(t *testing.T) *applier {
	a := catalogApplier(t)
	a.commitAt(0, 0, 9)
	a.commitAt(0, 10, 19)
	a.setLeaderEpoch("a", 0, 2)
	a.commitAt(0, 20, 29)
	a.setLeaderEpoch("a", 0, 5)
	a.commitAt(0, 30, 34)
	a.commitAt(0, 35, 39)
	return a
}

func TestEpochEndOffsetSeveralEpochs(t *testing.T) {
	a := epochApplier(t)
	h := a.history(0)
	want := EpochHistory{Leader: 1, LeaderEpoch: 5, LogStart: 0, End: 40, Epochs: []EpochStart{{0, 0}, {2, 20}, {5, 30}}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("history %+v, want %+v", h, want)
	}
	checkEpochQueries(t, h, 45, []epochQuery{
		{-1, -1, -1}, // UNDEFINED_EPOCH
		{-7, -1, -1},
		{0, 0, 20},
		{1, 0, 20}, // an epoch that wrote nothing: the largest epoch below it
		{2, 2, 30},
		{3, 2, 30},
		{4, 2, 30},
		{5, 5, 45}, // the current epoch ends at the log end given
		{6, -1, -1},
		{1 << 30, -1, -1},
	})
}

func TestEpochEndOffsetEpochWithNoData(t *testing.T) {
	a := epochApplier(t)
	// A new leader at epoch 7 has committed nothing yet: its epoch starts
	// at the catalog end.
	a.setLeaderEpoch("a", 0, 7)
	h := a.history(0)
	checkEpochQueries(t, h, 40, []epochQuery{
		{5, 5, 40},
		{6, 5, 40},
		{7, 7, 40},
		{8, -1, -1},
	})
	// Its first commit records the boundary where the virtual one was.
	a.commitAt(0, 40, 49)
	h = a.history(0)
	if want := []EpochStart{{0, 0}, {2, 20}, {5, 30}, {7, 40}}; !reflect.DeepEqual(h.Epochs, want) {
		t.Fatalf("epochs %+v, want %+v", h.Epochs, want)
	}
	checkEpochQueries(t, h, 50, []epochQuery{{6, 5, 40}, {7, 7, 50}})

	// A partition that never had data, at epoch 0 and after leader changes.
	checkEpochQueries(t, a.history(1), 0, []epochQuery{{0, 0, 0}, {-1, -1, -1}, {1, -1, -1}})
	a.setLeaderEpoch("a", 1, 3)
	checkEpochQueries(t, a.history(1), 0, []epochQuery{{0, 0, 0}, {2, 2, 0}, {3, 3, 0}, {4, -1, -1}})

	if _, ok := a.f.st.epochHistory(partitionKey{tid(1), 3}); ok {
		t.Fatal("history of a missing partition")
	}
	if _, ok := a.f.st.epochHistory(partitionKey{tid(9), 0}); ok {
		t.Fatal("history of a missing topic")
	}
}

func TestEpochHistoryRetention(t *testing.T) {
	a := epochApplier(t)
	// Retention removes the first extent (epoch 0 keeps 10..19).
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 10, Now: 50})
	if got, want := a.history(0).Epochs, []EpochStart{{0, 10}, {2, 20}, {5, 30}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after truncating to 10: %+v, want %+v", got, want)
	}
	// Then every extent of epoch 0 and half of epoch 2's.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 25, Now: 51})
	h := a.history(0)
	if want := []EpochStart{{2, 25}, {5, 30}}; !reflect.DeepEqual(h.Epochs, want) {
		t.Fatalf("after truncating to 25: %+v, want %+v", h.Epochs, want)
	}
	checkEpochQueries(t, h, 40, []epochQuery{
		{0, 0, 25}, // older than the oldest epoch left: the requested epoch, ending where the log starts
		{1, 1, 25},
		{2, 2, 30},
		{4, 2, 30},
		{5, 5, 40},
	})
	// Exactly at an epoch's start.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 30, Now: 52})
	h = a.history(0)
	if want := []EpochStart{{5, 30}}; !reflect.DeepEqual(h.Epochs, want) {
		t.Fatalf("after truncating to 30: %+v", h.Epochs)
	}
	checkEpochQueries(t, h, 40, []epochQuery{{2, 2, 30}, {5, 5, 40}})
	// To the end: the history keeps the last epoch, starting at the end.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 40, Now: 53})
	h = a.history(0)
	if want := []EpochStart{{5, 40}}; !reflect.DeepEqual(h.Epochs, want) {
		t.Fatalf("after truncating to the end: %+v", h.Epochs)
	}
	checkEpochQueries(t, h, 40, []epochQuery{{4, 4, 40}, {5, 5, 40}})
	// The log goes on in the same epoch (no new boundary), then in a new one.
	a.commitAt(0, 40, 44)
	a.setLeaderEpoch("a", 0, 6)
	a.commitAt(0, 45, 49)
	if got, want := a.history(0).Epochs, []EpochStart{{5, 40}, {6, 45}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after more commits: %+v, want %+v", got, want)
	}
	// A truncation that changes nothing leaves the history alone.
	if _, changed := a.f.st.apply(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 40, Now: 54}); changed {
		t.Fatal("truncation to the current log start changed the state")
	}
	if got := a.history(0).Epochs; len(got) != 2 || got[0] != (EpochStart{5, 40}) {
		t.Fatalf("no-op truncation changed the history: %+v", got)
	}
}

func TestEpochHistoryCompaction(t *testing.T) {
	a := epochApplier(t)
	before := a.history(0)
	// The compactor merges 10..34 (epochs 0, 2 and 5) into one extent,
	// which carries the last epoch.
	e := ext(tid(1), 0, 10, 34, 0)
	e.Object, e.LeaderEpoch = "c1", 5
	a.must(replaceExtentsCmd{New: e, ObjectSize: e.Len, Now: 60})
	if got := a.f.st.listExtents(partitionKey{tid(1), 0}, 0, 10); len(got) != 3 || got[1].BaseOffset != 10 || got[1].LastOffset != 34 {
		t.Fatalf("extents after compaction: %+v", got)
	}
	after := a.history(0)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("compaction changed the epoch history:\n before %+v\n after  %+v", before, after)
	}
	checkEpochQueries(t, after, 40, []epochQuery{{0, 0, 20}, {2, 2, 30}, {5, 5, 40}})
	// Retention inside the merged extent still answers by offset.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 22, Now: 61})
	checkEpochQueries(t, a.history(0), 40, []epochQuery{{0, 0, 22}, {2, 2, 30}, {3, 2, 30}})
}

// TestEpochHistoryClonesCopyOnWrite checks that a snapshot's copy of the
// state does not see later truncations and commits.
func TestEpochHistoryClonesCopyOnWrite(t *testing.T) {
	a := epochApplier(t)
	snap := a.f.st.clone()
	want, _ := snap.epochHistory(partitionKey{tid(1), 0})
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 25, Now: 50})
	a.setLeaderEpoch("a", 0, 9)
	a.commitAt(0, 40, 49)
	if got, _ := snap.epochHistory(partitionKey{tid(1), 0}); !reflect.DeepEqual(got.Epochs, want.Epochs) {
		t.Fatalf("the clone's history changed: %+v, want %+v", got.Epochs, want.Epochs)
	}
}

func TestEpochHistorySnapshotRoundTrip(t *testing.T) {
	a := epochApplier(t)
	a.commitAt(1, 0, 4)
	a.setLeaderEpoch("a", 1, 4)
	a.commitAt(1, 5, 9)
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 25, Now: 50})
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 1, NewLogStart: 10, Now: 50})
	b := a.snapshotBytes()
	if v := binary.BigEndian.Uint16(b[4:]); v != snapshotVersion {
		t.Fatalf("snapshot version %d, want %d", v, snapshotVersion)
	}
	restored := newApplier(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.f.st, a.f.st) {
		t.Fatalf("restored state differs:\n got %+v\nwant %+v", restored.f.st.logs, a.f.st.logs)
	}
	if got, want := restored.history(0).Epochs, []EpochStart{{2, 25}, {5, 30}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("restored a-0 epochs %+v, want %+v", got, want)
	}
	if got, want := restored.history(1).Epochs, []EpochStart{{4, 10}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("restored a-1 epochs %+v, want %+v", got, want)
	}
	if !bytes.Equal(restored.snapshotBytes(), b) {
		t.Fatal("re-encoding the restored state gives different bytes")
	}
}

// untracked returns a copy of st with no producer state, whose snapshot
// ends with empty producers and transactions sections (0, 0).
func untracked(st *state) *state {
	c := st.clone()
	for _, parts := range c.logs {
		for i := range parts {
			parts[i].producers, parts[i].producersTracked, parts[i].producersFrom = nil, false, 0
		}
	}
	return c
}

// v2Snapshot encodes st as a snapshot from before the epochs section
// (version 3: version 4 without it).
func v2Snapshot(t *testing.T, st *state) []byte {
	t.Helper()
	c := untracked(st)
	for _, parts := range c.logs {
		for i := range parts {
			parts[i].epochs = nil
		}
	}
	b, err := encodeSnapshot(c)
	if err != nil {
		t.Fatal(err)
	}
	// The last five sections, epochs, producers, transactions, key
	// compactions and the extension list, are one zero count each here.
	end := len(b) - snapshotTrailer
	if !bytes.Equal(b[end-5:end], []byte{0, 0, 0, 0, 0}) {
		t.Fatalf("the epochs, producers, transactions, key-compaction and extension sections of an empty history are %x, want 0000000000", b[end-5:end])
	}
	b = append(b[:end-5:end-5], make([]byte, snapshotTrailer)...)
	binary.BigEndian.PutUint16(b[4:], snapshotVersion3)
	binary.BigEndian.PutUint64(b[6:], uint64(len(b)-snapshotHeaderSz-snapshotTrailer))
	return appendCRC(b[:len(b)-snapshotTrailer])
}

func TestEpochHistoryFromVersion2Snapshot(t *testing.T) {
	a := epochApplier(t)
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 15, Now: 50})
	// An extent epoch above the current one (apply never accepts it, the
	// decoder of version 2 does) counts as the current epoch.
	a.f.st.logs[tid(1)][0].extents[3].leaderEpoch = 9
	st, err := decodeSnapshot(v2Snapshot(t, a.f.st), "v2")
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeSnapshot(b, "v3"); err != nil {
		t.Fatalf("a version-2 snapshot re-encoded as version 3 is rejected: %v", err)
	}
	// Rebuilt from the extents' epochs, cut at the log start.
	h, _ := st.epochHistory(partitionKey{tid(1), 0})
	if want := []EpochStart{{0, 15}, {2, 20}, {5, 30}}; !reflect.DeepEqual(h.Epochs, want) {
		t.Fatalf("epochs from a v2 snapshot %+v, want %+v", h.Epochs, want)
	}
	if h, _ := st.epochHistory(partitionKey{tid(1), 1}); h.Epochs != nil {
		t.Fatalf("a-1 has no data but epochs %+v", h.Epochs)
	}
}

func TestEpochHistorySnapshotCorruption(t *testing.T) {
	a := epochApplier(t)
	good, err := encodeSnapshot(untracked(a.f.st))
	if err != nil {
		t.Fatal(err)
	}
	// The epochs section is last but for empty producers and transactions sections (0, 0): count 1, topic index 0, partition 0,
	// 3 entries of (epoch, start delta).
	section := func(entries ...int64) []byte {
		w := bodyWriter{}
		w.uvarint(1)
		w.uvarint(0)
		w.uvarint(0)
		w.uvarint(uint64(len(entries) / 2))
		for _, v := range entries {
			w.varint(v)
		}
		return w.b
	}
	okSection := section(0, 0, 2, 20, 5, 10)
	// After it, the producers, transactions, key-compaction and extension
	// sections: empty ones.
	end := len(good) - snapshotTrailer - 4
	if !bytes.Equal(good[end:end+4], []byte{0, 0, 0, 0}) || !bytes.HasSuffix(good[:end], okSection) {
		t.Fatalf("snapshot does not end with the expected epochs section %x", okSection)
	}
	prefix := good[:end-len(okSection)]
	frame := func(sec []byte) []byte {
		b := append(append(append([]byte(nil), prefix...), sec...), 0, 0, 0, 0)
		binary.BigEndian.PutUint64(b[6:], uint64(len(b)-snapshotHeaderSz))
		return appendCRC(b)
	}
	if _, err := decodeSnapshot(frame(okSection), "s"); err != nil {
		t.Fatalf("re-framed good section rejected: %v", err)
	}
	withPartition := func(ti, p uint64, entries ...int64) []byte {
		s := section(entries...)
		w := bodyWriter{}
		w.uvarint(1)
		w.uvarint(ti)
		w.uvarint(p)
		return append(w.b, s[3:]...)
	}
	bad := map[string][]byte{
		"epochs not increasing":  section(0, 0, 2, 20, 2, 10),
		"epochs decreasing":      section(0, 0, 3, 20, 2, 10),
		"starts not increasing":  section(0, 0, 2, 20, 5, 0),
		"start past the end":     section(0, 0, 2, 20, 5, 30),
		"first start not at log": section(0, 1, 2, 19, 5, 10),
		"negative epoch":         section(-1, 0, 2, 20, 5, 10),
		"epoch above current":    section(0, 0, 2, 20, 6, 10),
		"no entries":             section(),
		"unknown topic index":    withPartition(7, 0, 0, 0),
		"unknown partition":      withPartition(0, 9, 0, 0),
		"twice":                  append(append([]byte{2}, okSection[1:]...), okSection[1:]...),
		"truncated":              okSection[:len(okSection)-1],
		"trailing bytes":         append(append([]byte(nil), okSection...), 0),
	}
	for name, sec := range bad {
		_, err := decodeSnapshot(frame(sec), "test.snap")
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %v, want a *CorruptionError", name, err)
		}
	}
}

func TestStoreEpochHistory(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, testConfig(t, t.TempDir()))
	orders, err := s.CreateTopic(ctx, "orders", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitObject(ctx, ObjectCommit{Key: "wal/1", Size: 2000, Now: 1,
		Extents: []Extent{{Topic: orders.ID, Partition: 0, BaseOffset: 0, LastOffset: 99, Pos: 0, Len: 1000}}}); err != nil {
		t.Fatal(err)
	}
	h, ok := s.EpochHistory(orders.ID, 0)
	if !ok {
		t.Fatal("no history for orders-0")
	}
	want := EpochHistory{Leader: orders.Partitions[0].Leader, LeaderEpoch: 0, LogStart: 0, End: 100, Epochs: []EpochStart{{0, 0}}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("history %+v, want %+v", h, want)
	}
	h.Epochs[0].StartOffset = 7 // the caller owns its copy
	if h2, _ := s.EpochHistory(orders.ID, 0); h2.Epochs[0].StartOffset != 0 {
		t.Fatal("EpochHistory returned the state's own slice")
	}
	if _, ok := s.EpochHistory(orders.ID, 2); ok {
		t.Fatal("history of a missing partition")
	}
}
