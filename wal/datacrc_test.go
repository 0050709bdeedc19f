package wal

import (
	"bytes"
	"hash/crc32"
	"testing"
)

// An entry whose caller supplies the CRC of its data is framed exactly as
// one whose data the WAL reads itself; a wrong one is caught as corruption
// when the segment is read.
func TestAppendWithDataCRC(t *testing.T) {
	l := mustOpen(t, testConfig(t))
	k := testKey(1)
	plain := testEntry(k, 0, 10, 100<<10)
	given := testEntry(k, 10, 10, 100<<10)
	given.DataCRC, given.HasDataCRC = crc32.Checksum(given.Data, castagnoli), true
	appendWait(t, l, plain)
	appendWait(t, l, given)

	var hp, hg [frameHeaderSize]byte
	given2 := given
	given2.BaseOffset, given2.LastOffset = plain.BaseOffset, plain.LastOffset
	given2.Data, given2.MaxTimestamp = plain.Data, plain.MaxTimestamp
	given2.DataCRC = crc32.Checksum(plain.Data, castagnoli)
	if a, b := putFrameHeader(hp[:], &plain), putFrameHeader(hg[:], &given2); a != b || hp != hg {
		t.Fatalf("frame CRC %08x from the data, %08x from the given CRC", a, b)
	}

	n := 0
	if err := l.ReadSegment(activeID(l), func(e Entry) error {
		want := []Entry{plain, given}[n]
		if e.BaseOffset != want.BaseOffset || !bytes.Equal(e.Data, want.Data) {
			t.Fatalf("entry %d differs", n)
		}
		n++
		return nil
	}); err != nil || n != 2 {
		t.Fatalf("ReadSegment: %d entries, %v", n, err)
	}

	bad := testEntry(k, 20, 10, 100<<10)
	bad.DataCRC, bad.HasDataCRC = crc32.Checksum(bad.Data, castagnoli)^1, true
	appendWait(t, l, bad)
	if err := l.ReadSegment(activeID(l), func(Entry) error { return nil }); err == nil {
		t.Fatal("a frame with a wrong given CRC read without error")
	}
}
