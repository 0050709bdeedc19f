package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// epochEntry is an entry whose payload looks like a Kafka batch written
// under epoch (the log reads only bytes 12..16 of it).
func epochEntry(k Key, base int64, records int, epoch int32, fill byte) Entry {
	data := bytes.Repeat([]byte{fill}, 64)
	binary.BigEndian.PutUint32(data[12:], uint32(epoch))
	data[16] = 2
	return Entry{Key: k, BaseOffset: base, LastOffset: base + int64(records) - 1, MaxTimestamp: 1, Data: data}
}

// TestRestartAtNewEpoch: a partition led again under a newer epoch
// restarts below its old tail (which the catalog never took); the log
// then serves only the new run, also after a reopen. The same epoch, or
// an older one, still may not go back.
func TestRestartAtNewEpoch(t *testing.T) {
	cfg := testConfig(t)
	l := mustOpen(t, cfg)
	k := Key{Partition: 3}
	appendWait(t, l, epochEntry(k, 0, 10, 1, 'a'))
	appendWait(t, l, epochEntry(k, 10, 10, 1, 'b'))
	if err := l.Append(epochEntry(k, 15, 5, 1, 'x')); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("same epoch going back: %v", err)
	}
	if err := l.Append(epochEntry(k, 15, 5, 0, 'x')); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("older epoch going back: %v", err)
	}
	appendWait(t, l, epochEntry(k, 12, 3, 2, 'c'))
	check := func(l *Log) {
		t.Helper()
		r, ok := l.Range(k)
		if !ok || r.First != 12 || r.Next != 15 {
			t.Fatalf("range %+v %v, want [12, 15)", r, ok)
		}
		data, err := l.Read(k, 12, 100, 1<<20)
		if err != nil || len(data) != 64 || data[20] != 'c' {
			t.Fatalf("read at 12: %d bytes %q, err %v", len(data), data, err)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, cfg)
	check(l2)
	// The restarted run continues, and may not go back in its own epoch.
	appendWait(t, l2, epochEntry(k, 15, 2, 2, 'd'))
	if err := l2.Append(epochEntry(k, 13, 1, 2, 'x')); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("going back after a reopen: %v", err)
	}
}
