package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func pbatch(first, last int32, base, lastOff int64) ProducerBatch {
	return ProducerBatch{FirstSeq: first, LastSeq: last, BaseOffset: base, LastOffset: lastOff}
}

// commitWithProducers commits a-0 offsets base..last in its own object at
// now, with producers ps in that extent.
func (a *applier) commitWithProducers(key string, base, last, now, expiry int64, ps ...ProducerState) applyResult {
	a.t.Helper()
	c := object(key, now, ext(tid(1), 0, base, last, 0))
	c.Producers = [][]ProducerState{ps}
	c.ProducerExpiry = expiry
	return a.apply(c)
}

func (a *applier) producers() ([]ProducerState, int64, bool) {
	return a.f.st.producerStates(partitionKey{tid(1), 0})
}

func TestCatalogProducerStateMerges(t *testing.T) {
	a := catalogApplier(t)
	if _, _, tracked := a.producers(); tracked {
		t.Fatal("a partition with no commit is tracked")
	}
	// Producer 7 writes six batches over two objects; producer 9 one.
	a.commitWithProducers("o1", 0, 9, 100, 0,
		ProducerState{ID: 7, Epoch: 0, Batches: []ProducerBatch{pbatch(0, 1, 0, 1), pbatch(2, 3, 2, 3), pbatch(4, 5, 4, 5)}},
		ProducerState{ID: 9, Epoch: 3, Batches: []ProducerBatch{pbatch(10, 12, 6, 8)}})
	a.commitWithProducers("o2", 10, 19, 200, 0,
		ProducerState{ID: 7, Epoch: 0, Batches: []ProducerBatch{pbatch(6, 7, 10, 11), pbatch(8, 9, 12, 13), pbatch(10, 11, 14, 15)}})
	states, from, tracked := a.producers()
	want := []ProducerState{
		{ID: 7, Epoch: 0, Batches: []ProducerBatch{pbatch(2, 3, 2, 3), pbatch(4, 5, 4, 5), pbatch(6, 7, 10, 11), pbatch(8, 9, 12, 13), pbatch(10, 11, 14, 15)}, LastCommit: 200},
		{ID: 9, Epoch: 3, Batches: []ProducerBatch{pbatch(10, 12, 6, 8)}, LastCommit: 100},
	}
	if !tracked || from != 0 || !reflect.DeepEqual(states, want) {
		t.Fatalf("producers %+v from %d tracked %v, want %+v from 0", states, from, tracked, want)
	}
	// A newer epoch replaces the entry; an older one is ignored.
	a.commitWithProducers("o3", 20, 29, 300, 0,
		ProducerState{ID: 7, Epoch: 1, Batches: []ProducerBatch{pbatch(0, 0, 20, 20)}},
		ProducerState{ID: 9, Epoch: 2, Batches: []ProducerBatch{pbatch(0, 0, 21, 21)}})
	states, _, _ = a.producers()
	want = []ProducerState{
		{ID: 7, Epoch: 1, Batches: []ProducerBatch{pbatch(0, 0, 20, 20)}, LastCommit: 300},
		want[1],
	}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("after an epoch bump %+v, want %+v", states, want)
	}
	// A retried commit of the same object changes nothing.
	a.commitWithProducers("o3", 20, 29, 400, 0,
		ProducerState{ID: 7, Epoch: 1, Batches: []ProducerBatch{pbatch(0, 0, 20, 20)}})
	if states2, _, _ := a.producers(); !reflect.DeepEqual(states2, want) {
		t.Fatalf("a retried commit changed producers: %+v", states2)
	}
	// Expiry drops what no commit touched for that long.
	a.commitWithProducers("o4", 30, 39, 1301, 1000,
		ProducerState{ID: 11, Epoch: 0, Batches: []ProducerBatch{pbatch(0, 0, 30, 30)}})
	states, _, _ = a.producers()
	if len(states) != 1 || states[0].ID != 11 {
		t.Fatalf("after expiry %+v, want only producer 11", states)
	}
	// The state survives a snapshot.
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	got, from, tracked := st.producerStates(partitionKey{tid(1), 0})
	if !tracked || from != 0 || !reflect.DeepEqual(got, states) {
		t.Fatalf("restored producers %+v from %d tracked %v, want %+v", got, from, tracked, states)
	}
	if !reflect.DeepEqual(st.logs, a.f.st.logs) {
		t.Fatalf("restored catalog differs")
	}
}

// A log written before producer tracking (CommitObject version 1) is
// tracked from the first version-2 commit on, and says so.
func TestCatalogProducerTrackingStartsWithVersion2(t *testing.T) {
	a := catalogApplier(t)
	b, err := encodeCommand(object("old", 10, ext(tid(1), 0, 0, 9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	// A version-1 body is the version-2 body without its producer and
	// transaction sections (empty ones are three zero bytes: no entries,
	// expiry 0, no events).
	if b[len(b)-3] != 0 || b[len(b)-2] != 0 || b[len(b)-1] != 0 {
		t.Fatalf("empty producer and transaction sections %x, want 000000", b[len(b)-3:])
	}
	v1 := append([]byte{b[0], commandVersion1}, b[2:len(b)-3]...)
	if res := a.raw(v1); res.err != nil {
		t.Fatal(res.err)
	}
	if _, _, tracked := a.producers(); tracked {
		t.Fatal("a version-1 commit started tracking")
	}
	a.commitWithProducers("new", 10, 19, 20, 0, ProducerState{ID: 1, Batches: []ProducerBatch{pbatch(0, 0, 10, 10)}})
	if _, from, tracked := a.producers(); !tracked || from != 10 {
		t.Fatalf("tracked %v from %d, want from 10", tracked, from)
	}
}

func TestCatalogProducerSectionValidated(t *testing.T) {
	bad := map[string][]ProducerState{
		"negative id":        {{ID: -1, Batches: []ProducerBatch{pbatch(0, 0, 0, 0)}}},
		"negative epoch":     {{ID: 1, Epoch: -1, Batches: []ProducerBatch{pbatch(0, 0, 0, 0)}}},
		"no batches":         {{ID: 1}},
		"six batches":        {{ID: 1, Batches: []ProducerBatch{pbatch(0, 0, 0, 0), pbatch(1, 1, 1, 1), pbatch(2, 2, 2, 2), pbatch(3, 3, 3, 3), pbatch(4, 4, 4, 4), pbatch(5, 5, 5, 5)}}},
		"outside the extent": {{ID: 1, Batches: []ProducerBatch{pbatch(0, 0, 10, 10)}}},
		"offsets backwards":  {{ID: 1, Batches: []ProducerBatch{pbatch(0, 0, 5, 5), pbatch(1, 1, 4, 4)}}},
		"negative sequence":  {{ID: 1, Batches: []ProducerBatch{pbatch(-2, 0, 0, 0)}}},
		"twice":              {{ID: 1, Batches: []ProducerBatch{pbatch(0, 0, 0, 0)}}, {ID: 1, Batches: []ProducerBatch{pbatch(1, 1, 1, 1)}}},
	}
	for name, ps := range bad {
		a := catalogApplier(t)
		res := a.commitWithProducers("o", 0, 9, 10, 0, ps...)
		if !errors.Is(res.err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, res.err)
		}
		if pl, _ := a.f.st.partitionSummary(partitionKey{tid(1), 0}); pl.End != 0 {
			t.Errorf("%s: the refused commit moved the log to %d", name, pl.End)
		}
	}
	// Decoding a section that names an extent the commit lacks fails.
	c := object("o", 10, ext(tid(1), 0, 0, 9, 0))
	b, _ := encodeCommand(c)
	w := bodyWriter{b: b[:len(b)-3]}
	w.uvarint(1)
	w.uvarint(3) // extent 3 of 1
	w.varint(1)
	w.varint(0)
	w.uvarint(1)
	for range 4 {
		w.varint(0)
	}
	w.varint(0)
	w.uvarint(0)
	if _, err := decodeCommand(w.b); err == nil {
		t.Fatal("a producer entry for a missing extent decoded")
	}
}
