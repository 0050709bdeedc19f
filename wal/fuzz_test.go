package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzSegment builds a segment file with n entries.
func fuzzSegment(id uint64, n int) []byte {
	b := appendSegmentHeader(nil, id, time.Unix(1700000000, 0))
	for i := range n {
		e := testEntry(testKey(i%2), int64(i*2), 2, 10+i)
		var hdr [frameHeaderSize]byte
		putFrameCRC(hdr[:], putFrameHeader(hdr[:], &e)^frameSalt(id))
		b = append(append(b, hdr[:]...), e.Data...)
	}
	return b
}

func FuzzDecodeFrame(f *testing.F) {
	seg := fuzzSegment(1, 2)
	f.Add(seg[segmentHeaderSize:])
	f.Add(seg[segmentHeaderSize : segmentHeaderSize+frameHeaderSize+3])
	f.Add([]byte{})
	f.Add(make([]byte, frameHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := decodeFrame(b, frameSalt(1))
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with size %d", err, n)
			}
			return
		}
		if n < frameHeaderSize+1 || n > len(b) || n != frameHeaderSize+len(e.Data) {
			t.Fatalf("frame size %d, data %d, input %d", n, len(e.Data), len(b))
		}
		if err := checkEntry(&e); err != nil {
			t.Fatalf("decoded an entry Append would reject: %v", err)
		}
		// A decoded frame re-encodes to the same bytes.
		var hdr [frameHeaderSize]byte
		putFrameCRC(hdr[:], putFrameHeader(hdr[:], &e)^frameSalt(1))
		if !bytes.Equal(append(hdr[:], e.Data...), b[:n]) {
			t.Fatal("re-encoded frame differs from input")
		}
	})
}

// FuzzRecover opens a log whose newest (or, with older set, an older)
// segment holds arbitrary bytes. Open must not panic; it either fails or
// recovers a prefix of the file whose entries replay.
func FuzzRecover(f *testing.F) {
	seg := fuzzSegment(1, 3)
	f.Add(seg, false)
	f.Add(seg, true)
	f.Add(seg[:len(seg)-7], false)
	f.Add(seg[:segmentHeaderSize], false)
	f.Add(seg[:segmentHeaderSize-1], false)
	f.Add([]byte{}, false)
	f.Add(append(append([]byte(nil), seg...), make([]byte, 100)...), false)
	f.Fuzz(func(t *testing.T, content []byte, older bool) {
		dir := t.TempDir()
		path := filepath.Join(dir, segmentFileName(1))
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if older {
			os.WriteFile(filepath.Join(dir, segmentFileName(2)), appendSegmentHeader(nil, 2, time.Now()), 0o644)
		}
		l, err := Open(Config{Dir: dir, SegmentMaxAge: time.Hour})
		if err != nil {
			var ce *CorruptionError
			if errors.As(err, &ce) && ce.Path != path {
				t.Fatalf("corruption reported in %s, only %s is damaged", ce.Path, path)
			}
			return
		}
		defer l.Close()
		var entries int
		if err := l.Replay(func(e Entry) error {
			entries++
			if err := checkEntry(&e); err != nil {
				t.Fatalf("replayed an invalid entry: %v", err)
			}
			return nil
		}); err != nil {
			t.Fatalf("Replay after successful Open: %v", err)
		}
		kept, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			if entries != 0 {
				t.Fatalf("segment removed but %d entries replayed", entries)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if entries > 0 && !bytes.HasPrefix(content, kept) {
			t.Fatalf("recovered segment (%d bytes) is not a prefix of the input (%d bytes)", len(kept), len(content))
		}
		if older && entries > 0 && len(kept) != len(content) {
			t.Fatalf("older segment was truncated from %d to %d bytes", len(content), len(kept))
		}
		for k, r := range l.Partitions() {
			if _, err := l.Read(k, r.First, r.Next, 1<<20); err != nil {
				t.Fatalf("Read %v after recovery: %v", k, err)
			}
		}
	})
}
