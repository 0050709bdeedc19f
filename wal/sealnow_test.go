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
	seg := l.SealedSegments()[0]
	var want []Entry
	if err := l.ReadSegment(seg.ID, func(e Entry) error {
		e.Data = append([]byte(nil), e.Data...)
		want = append(want, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []Entry
	buf, err := l.ReadSegmentInto(seg.ID, make([]byte, 0, 16), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 50 {
		t.Fatalf("%d entries, ReadSegment %d, appended 50", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.BaseOffset != w.BaseOffset || g.LastOffset != w.LastOffset || g.MaxTimestamp != w.MaxTimestamp || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("entry %d: %v@%d differs from ReadSegment's %v@%d", i, g.Key, g.BaseOffset, w.Key, w.BaseOffset)
		}
	}
	if int64(len(buf)) != seg.Size-segmentHeaderSize {
		t.Fatalf("buffer holds %d bytes, the segment's frames %d", len(buf), seg.Size-segmentHeaderSize)
	}

	// Flip a payload byte on disk: both readers report corruption.
	f, err := os.OpenFile(seg.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	at := seg.Size - 10
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if _, err := l.ReadSegmentInto(seg.ID, nil, func(Entry) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("ReadSegmentInto over a flipped byte: %v, want a CorruptionError", err)
	}
}
