package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestRecordKeyCompaction(t *testing.T) {
	a := epochApplier(t) // a-0 holds offsets 0..39 in five extents
	a.must(recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: 20, Reclaimed: 7, Now: 100})
	a.must(recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: 10, Reclaimed: 3, Now: 200}) // never goes back
	a.must(recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: 1000, Now: 300})             // capped at the end
	kc := a.f.st.logs[tid(1)][0].keyCompaction
	if want := (keyCompactionRec{cleanedTo: 40, lastCompaction: 300, reclaimed: 10, passes: 3}); kc != want {
		t.Fatalf("state %+v, want %+v", kc, want)
	}
	a.mustReject(recordKeyCompactionCmd{Topic: tid(1), Partition: 9, CleanedTo: 1}, ErrCatalogChanged)
	a.mustReject(recordKeyCompactionCmd{Topic: tid(9), Partition: 0, CleanedTo: 1}, ErrCatalogChanged)
	a.mustReject(recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: -1}, ErrInvalidRequest)

	// Encoded and decoded as a command.
	b, err := encodeCommand(recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: 5, Reclaimed: 1, Now: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeCommand(b)
	if err != nil || c != (recordKeyCompactionCmd{Topic: tid(1), Partition: 0, CleanedTo: 5, Reclaimed: 1, Now: 2}) {
		t.Fatalf("decoded %+v %v", c, err)
	}
	if b[0] != 30 {
		t.Fatalf("command type %d, want 30", b[0])
	}

	// Snapshot round trip (version 5).
	snap := a.snapshotBytes()
	if v := binary.BigEndian.Uint16(snap[4:]); v != snapshotVersion {
		t.Fatalf("snapshot version %d", v)
	}
	restored := newApplier(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.f.st, a.f.st) {
		t.Fatal("restored state differs")
	}
	if !bytes.Equal(restored.snapshotBytes(), snap) {
		t.Fatal("re-encoding the restored state gives different bytes")
	}
	// A cleaned-to offset past the log end is corruption, not a panic.
	bad := a.f.st.clone()
	bad.logs[tid(1)][0].keyCompaction.cleanedTo = 1 << 40
	badSnap, err := encodeSnapshot(bad)
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if _, err := decodeSnapshot(badSnap, "test"); !errors.As(err, &ce) {
		t.Fatalf("decode of a bad key-compaction section: %v", err)
	}
}
