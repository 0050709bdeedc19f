package metadata

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

// TestExtentCommitTime: CommitObject records its Now on every extent it
// adds; a compacted extent takes the newest commit time of the extents it
// replaces, not the compaction's Now; both survive a snapshot round trip.
func TestExtentCommitTime(t *testing.T) {
	a := catalogApplier(t)
	a.must(object("o1", 100, ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 0, 4, 0)))
	a.must(object("o2", 200, ext(tid(1), 0, 10, 19, 0)))
	a.must(object("o3", 300, ext(tid(1), 0, 20, 29, 0)))
	a.must(replaceExtentsCmd{New: Extent{Topic: tid(1), Partition: 0, BaseOffset: 0, LastOffset: 19, Object: "c1", Len: 2000},
		ObjectSize: 2100, Now: 999})
	commitTimes := func(st *state, k partitionKey) []int64 {
		var out []int64
		for _, e := range st.listExtents(k, 0, 100) {
			out = append(out, e.CommitTime)
		}
		return out
	}
	if got, want := commitTimes(a.f.st, partitionKey{tid(1), 0}), []int64{200, 300}; !reflect.DeepEqual(got, want) {
		t.Fatalf("a-0 commit times %v, want %v", got, want)
	}
	if got, want := commitTimes(a.f.st, partitionKey{tid(1), 1}), []int64{100}; !reflect.DeepEqual(got, want) {
		t.Fatalf("a-1 commit times %v, want %v", got, want)
	}
	snap := a.snapshotBytes()
	if snap[5] != snapshotVersion {
		t.Fatalf("snapshot version %d, want %d", snap[5], snapshotVersion)
	}
	restored := newApplier(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.f.st, a.f.st) {
		t.Fatal("restored state differs")
	}
}

// TestSnapshotVersion2StillReads: a version-2 snapshot (no commit times)
// loads with every extent's commit time unknown (0) and everything else
// intact; re-encoded, it is version 3 and round-trips; a compaction over
// unknown and known commit times takes the known one.
func TestSnapshotVersion2StillReads(t *testing.T) {
	js := []byte(`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":0}],"Configs":{}}]}`)
	w := bodyWriter{}
	w.uvarint(uint64(len(js)))
	w.b = append(w.b, js...)
	w.uvarint(1) // objects
	w.string("o1")
	w.varint(1000)
	w.uvarint(0) // garbage
	w.uvarint(1) // partitions: topic 0, partition 0, log start 0, end 20, two extents from 0
	w.uvarint(0)
	w.uvarint(0)
	w.varint(0)
	w.varint(20)
	w.uvarint(2)
	w.varint(0)
	for i, ts := range []int64{-1, 1500} { // (object, last-base, pos, len, ts delta, epoch)
		w.uvarint(0)
		w.varint(9)
		w.varint(int64(i) * 100)
		w.varint(100)
		if i == 0 {
			w.varint(ts)
		} else {
			w.varint(ts - -1)
		}
		w.varint(0)
	}
	w.uvarint(0) // groups
	st, err := decodeSnapshot(frameSnapshotVersion(snapshotVersion2, w.b), "v2")
	if err != nil {
		t.Fatal(err)
	}
	k := partitionKey{tid(1), 0}
	exts := st.listExtents(k, 0, 10)
	want := []Extent{
		{Topic: tid(1), BaseOffset: 0, LastOffset: 9, Object: "o1", Pos: 0, Len: 100, MaxTimestamp: -1},
		{Topic: tid(1), BaseOffset: 10, LastOffset: 19, Object: "o1", Pos: 100, Len: 100, MaxTimestamp: 1500},
	}
	if !reflect.DeepEqual(exts, want) {
		t.Fatalf("v2 extents\n got %+v\nwant %+v", exts, want)
	}
	b, err := encodeSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	if b[5] != snapshotVersion {
		t.Fatalf("re-encoded as version %d", b[5])
	}
	st2, err := decodeSnapshot(b, "v3")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st2, st) {
		t.Fatal("v3 re-encoding does not round-trip")
	}

	a := newApplier(t)
	a.f.st = st
	a.must(object("o2", 700, ext(tid(1), 0, 20, 29, 0)))
	a.must(replaceExtentsCmd{New: Extent{Topic: tid(1), Partition: 0, BaseOffset: 10, LastOffset: 29, Object: "c1", Len: 1100},
		ObjectSize: 1200, Now: 900})
	if got := a.f.st.listExtents(k, 0, 10); len(got) != 2 || got[0].CommitTime != 0 || got[1].CommitTime != 700 {
		t.Fatalf("after compaction: %+v", got)
	}
}
