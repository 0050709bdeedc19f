package wal

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

// SealNow seals the active segment with every entry appended before it,
// without waiting for the segment's age (an hour here), and reports it;
// on an empty active segment it seals nothing and says so.
func TestSealNowSealsWhatWasAppendedBefore(t *testing.T) {
	cfg := testConfig(t)
	l := mustOpen(t, cfg)
	k := testKey(1)

	result := make(chan bool, 1)
	l.SealNow(func(sealed bool) { result <- sealed })
	if sealed := waitResult(t, result); sealed {
		t.Fatal("SealNow on an empty log reported a seal")
	}
	if n := len(l.SealedSegments()); n != 0 {
		t.Fatalf("%d sealed segments after SealNow on an empty log", n)
	}

	// Appended, not waited for: SealNow must still seal it, since the
	// commit goroutine writes what was queued before the seal.
	for i := int64(0); i < 3; i++ {
		if err := l.Append(testEntry(k, i*10, 10, 100)); err != nil {
			t.Fatal(err)
		}
	}
	l.SealNow(func(sealed bool) { result <- sealed })
	if !waitResult(t, result) {
		t.Fatal("SealNow with three entries queued did not seal")
	}
	segs := l.SealedSegments()
	if len(segs) != 1 {
		t.Fatalf("%d sealed segments, want 1", len(segs))
	}
	if r := segs[0].Partitions[k]; r.First != 0 || r.Next != 30 {
		t.Fatalf("sealed segment holds %v of %v, want [0, 30)", r, k)
	}
	if segs[0].SealedAt.IsZero() {
		t.Fatal("sealed segment has no SealedAt")
	}
	if got := l.SealedSegmentsAfter(segs[0].ID); len(got) != 0 {
		t.Fatalf("SealedSegmentsAfter(%d) = %d segments, want none", segs[0].ID, len(got))
	}
	if got := l.SealedSizes(); len(got) != 1 || got[0].ID != segs[0].ID || got[0].Size != segs[0].Size {
		t.Fatalf("SealedSizes = %+v, want the one segment %d/%d", got, segs[0].ID, segs[0].Size)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.SealNow(func(sealed bool) { result <- sealed })
	if waitResult(t, result) {
		t.Fatal("SealNow after Close reported a seal")
	}
}

func waitResult(t *testing.T, c <-chan bool) bool {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("SealNow's callback never came")
		return false
	}
}

// ReadSegmentInto reads the same entries as ReadSegment, with one read
// into the caller's buffer, and finds a corrupted frame as ReadSegment
// does.
func TestReadSegmentIntoMatchesReadSegment(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadMemoryBytes = -1 // nothing kept in memory: every read is from the file
	l, seg := sealedTestSegment(t, cfg)
	want := readSegmentCopy(t, l, seg.ID)
	var got []Entry
	buf, err := l.ReadSegmentInto(seg.ID, make([]byte, 0, 16), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, got, want)
	if int64(len(buf)) != seg.Size-segmentHeaderSize {
		t.Fatalf("buffer holds %d bytes, the segment's frames %d", len(buf), seg.Size-segmentHeaderSize)
	}

	flipByte(t, seg.Path, seg.Size-10)
	var ce *CorruptionError
	if _, err := l.ReadSegmentInto(seg.ID, nil, func(Entry) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("ReadSegmentInto over a flipped byte: %v, want a CorruptionError", err)
	}
}

// A sealed segment kept in memory is read from memory, not from its file,
// the first time; then it lets go and later reads come from the file.
func TestReadSegmentIntoFromMemoryOnce(t *testing.T) {
	cfg := testConfig(t)
	l, seg := sealedTestSegment(t, cfg)
	want := readSegmentCopy(t, l, seg.ID)
	if got := keptBytes(l); got == 0 {
		t.Fatal("nothing kept in memory after appends within UploadMemoryBytes")
	}
	// A byte flipped on disk is not seen: the entries come from memory.
	flipByte(t, seg.Path, seg.Size-10)
	var got []Entry
	buf, err := l.ReadSegmentInto(seg.ID, make([]byte, 0, 16), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("read from memory: %v", err)
	}
	sameEntries(t, got, want)
	if len(buf) != 0 {
		t.Fatalf("buffer holds %d bytes; a kept segment is not read into it", len(buf))
	}
	if n := keptBytes(l); n != 0 {
		t.Fatalf("%d bytes still kept after the sealed segment was read", n)
	}
	var ce *CorruptionError
	if _, err := l.ReadSegmentInto(seg.ID, nil, func(Entry) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("second read over a flipped byte: %v, want a CorruptionError from the file", err)
	}
}

// Segments stop keeping entries once UploadMemoryBytes would be exceeded
// and are then read from their files; removing a segment gives its kept
// bytes back.
func TestUploadMemoryBytesBound(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 4 << 10
	cfg.UploadMemoryBytes = 10 << 10
	l := mustOpen(t, cfg)
	for i := int64(0); i < 40; i++ {
		if err := l.Append(testEntry(testKey(0), i*10, 10, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := keptBytes(l); n > cfg.UploadMemoryBytes {
		t.Fatalf("%d bytes kept, bound %d", n, cfg.UploadMemoryBytes)
	}
	sealed := l.SealedSegments()
	if len(sealed) < 4 {
		t.Fatalf("%d sealed segments, want several", len(sealed))
	}
	var fromMemory, fromFile int
	for _, si := range sealed {
		buf, err := l.ReadSegmentInto(si.ID, nil, func(Entry) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(buf) == 0 {
			fromMemory++
		} else {
			fromFile++
		}
	}
	if fromMemory == 0 || fromFile == 0 {
		t.Fatalf("%d segments read from memory, %d from files; want both under a 10 KiB bound", fromMemory, fromFile)
	}
	for _, si := range l.SealedSegments() {
		if err := l.RemoveSegment(si.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Only the active segment may still keep entries.
	l.indexMu.RLock()
	active := l.segments[len(l.segments)-1].keptBytes
	l.indexMu.RUnlock()
	if n := keptBytes(l); n != active {
		t.Fatalf("%d bytes kept after removing every sealed segment, the active one keeps %d", n, active)
	}
}

func sealedTestSegment(t *testing.T, cfg Config) (*Log, SegmentInfo) {
	t.Helper()
	l := mustOpen(t, cfg)
	for i := int64(0); i < 50; i++ {
		k := testKey(int(i % 3))
		if err := l.Append(testEntry(k, i*10, 10, 100+int(i)*7)); err != nil {
			t.Fatal(err)
		}
	}
	result := make(chan bool, 1)
	l.SealNow(func(sealed bool) { result <- sealed })
	if !waitResult(t, result) {
		t.Fatal("not sealed")
	}
	return l, l.SealedSegments()[0]
}

// readSegmentCopy reads segment id from its file with ReadSegment.
func readSegmentCopy(t *testing.T, l *Log, id uint64) []Entry {
	t.Helper()
	var want []Entry
	if err := l.ReadSegment(id, func(e Entry) error {
		e.Data = append([]byte(nil), e.Data...)
		want = append(want, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return want
}

func sameEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) || len(want) != 50 {
		t.Fatalf("%d entries, ReadSegment %d, appended 50", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.BaseOffset != w.BaseOffset || g.LastOffset != w.LastOffset || g.MaxTimestamp != w.MaxTimestamp || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("entry %d: %v@%d differs from ReadSegment's %v@%d", i, g.Key, g.BaseOffset, w.Key, w.BaseOffset)
		}
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
}

func keptBytes(l *Log) int64 {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	return l.keptBytes
}
