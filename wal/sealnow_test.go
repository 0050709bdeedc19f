package wal

import (
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
