package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// copyDir copies the segment and spare files of src into a new directory,
// the way a crash would leave them: whatever the files hold right now.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		_, seg := parseSegmentFileName(de.Name())
		_, spare := parseSpareFileName(de.Name())
		if !seg && !spare {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendDurable appends one entry of size bytes to k and waits until it is
// durable.
func appendDurable(t *testing.T, m *model, l *Log, k Key, size int) {
	t.Helper()
	done := make(chan error, 1)
	m.appendTo(t, l, k, 1, size, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRecycledSegmentStaleFramesIgnored: an uploaded segment's file becomes
// a later segment; the later segment's frames overwrite only part of it,
// and a crash at that point recovers exactly what was acknowledged -- none
// of the old frames still in the file's tail.
func TestRecycledSegmentStaleFramesIgnored(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 64 << 10
	cfg.SegmentMaxAge = time.Hour
	l := mustOpen(t, cfg)
	defer l.Close()
	m := newModel()

	// Fill segment 1 with big entries, one at a time, until it seals by
	// size.
	for activeID(l) == 1 {
		appendDurable(t, m, l, testKey(0), 4000)
	}
	quiesce(t, l)
	first := l.SealedSegments()[0]
	firstBytes, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveSegment(first.ID); err != nil {
		t.Fatal(err)
	}
	// What segment 1 held is gone from the log; an entry appended after the
	// Done that preceded the seal may be in segment 2.
	var kept []Entry
	for _, e := range m.entries[testKey(0)] {
		if e.BaseOffset >= first.Partitions[testKey(0)].Next {
			kept = append(kept, e)
		}
	}
	m.entries[testKey(0)] = kept
	if len(kept) == 0 {
		delete(m.entries, testKey(0))
	}

	// Seal until the recycled file is adopted: some segment's file is the
	// same inode as segment 1's was.
	var adopted string
	for try := 0; adopted == "" && try < 20; try++ {
		settlePreparer(t, l)
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		m.appendTo(t, l, testKey(1), 1, 100, nil)
		l.indexMu.RLock()
		active := l.active
		l.indexMu.RUnlock()
		if fi, err := os.Stat(active.path); err == nil && os.SameFile(fi, st1) {
			adopted = active.path
			break
		}
		// Seal the active segment by size.
		for id := activeID(l); activeID(l) == id; {
			appendDurable(t, m, l, testKey(1), 4000)
		}
	}
	if adopted == "" {
		t.Fatal("the removed segment's file was never reused")
	}
	quiesce(t, l)

	// The adopted file still holds segment 1's frames past what the new
	// segment wrote.
	now, err := os.ReadFile(adopted)
	if err != nil {
		t.Fatal(err)
	}
	written := l.active.written
	if int64(len(now)) <= written || !bytes.Equal(now[written:], firstBytes[written:len(now)]) {
		t.Fatalf("adopted file is %d bytes, %d written: no stale tail to test against", len(now), written)
	}

	// A crash now: the copy recovers what was acknowledged, nothing more.
	crashed := copyDir(t, cfg.Dir)
	ccfg := cfg
	ccfg.Dir = crashed
	l2 := mustOpen(t, ccfg)
	defer l2.Close()
	m.verify(t, l2)
}

// TestSparesWithinBudget: spare files are not kept while the log holds more
// than half its budget, and files on disk never exceed MaxBytes.
func TestSparesWithinBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 64 << 10
	cfg.MaxBytes = 512 << 10
	cfg.SegmentMaxAge = time.Hour
	l := mustOpen(t, cfg)
	defer l.Close()
	m := newModel()
	var full bool
	for i := 0; i < 400 && !full; i++ {
		e := testEntry(testKey(i%2), m.next[testKey(i%2)], 1, 3000)
		if err := l.Append(e); err == ErrFull {
			full = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
		m.next[testKey(i%2)] = e.LastOffset + 1
		if total := fileBytes(t, cfg.Dir); total > cfg.MaxBytes {
			t.Fatalf("files hold %d bytes, budget %d", total, cfg.MaxBytes)
		}
	}
	if !full {
		t.Fatal("the log never reported ErrFull")
	}
	quiesce(t, l)
	settlePreparer(t, l)
	l.sp.mu.Lock()
	n := len(l.sp.free)
	ready := l.sp.ready != nil
	l.sp.mu.Unlock()
	if n != 0 || ready {
		t.Fatalf("%d free spares and ready=%v while the log is over half its budget", n, ready)
	}
	checkDiskBytes(t, l)
}

// TestSpareFinishedOverBudgetIsShed: the preparer counts a spare's bytes
// and starts writing it while the log is under half its budget; appends
// take the log over half before the spare is done. The finished spare must
// then be given back, not kept ready, and every counted byte is a byte on
// disk once the preparer is idle.
func TestSpareFinishedOverBudgetIsShed(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 256 << 10
	// Half the budget leaves room for the first spare (the segment size)
	// and 4 KiB of entries.
	cfg.MaxBytes = 2 * (cfg.SegmentMaxBytes + segmentHeaderSize + 4<<10)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.hooks.beforePrepare = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	l := mustOpen(t, cfg)
	<-entered // the first spare's bytes are counted, its file not written

	m := newModel()
	for range 2 {
		appendDurable(t, m, l, testKey(0), 3000)
	}
	if l.roomForSpares(0) {
		t.Fatalf("log holds %d + %d bytes, want more than half of %d", l.Bytes(), l.extraBytes.Load(), cfg.MaxBytes)
	}
	close(release)

	settlePreparer(t, l)
	l.sp.mu.Lock()
	n, ready := len(l.sp.free), l.sp.ready != nil
	l.sp.mu.Unlock()
	if n != 0 || ready {
		t.Fatalf("%d free spares and ready=%v while the log is over half its budget", n, ready)
	}
	checkDiskBytes(t, l)
	m.verify(t, l)
}

// TestReadVersion1Segment: segments written before CRC salting (version 1)
// are still recovered and read.
func TestReadVersion1Segment(t *testing.T) {
	dir := t.TempDir()
	hdr := appendSegmentHeader(nil, 7, time.Unix(1700000000, 0))
	binary.LittleEndian.PutUint16(hdr[4:6], segmentVersionV1)
	binary.LittleEndian.PutUint32(hdr[28:32], crc32.Checksum(hdr[:28], castagnoli))
	b := hdr
	var want []Entry
	for i := range 3 {
		e := testEntry(testKey(0), int64(i*2), 2, 50)
		var fh [frameHeaderSize]byte
		putFrameCRC(fh[:], putFrameHeader(fh[:], &e)) // no salt
		b = append(append(b, fh[:]...), e.Data...)
		want = append(want, e)
	}
	if err := os.WriteFile(filepath.Join(dir, segmentFileName(7)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, Config{Dir: dir})
	defer l.Close()
	got, err := l.Read(testKey(0), 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var wantData []byte
	for _, e := range want {
		wantData = append(wantData, e.Data...)
	}
	if !bytes.Equal(got, wantData) {
		t.Fatalf("read %d bytes, want %d", len(got), len(wantData))
	}
	// New entries continue in a version 2 segment.
	appendWait(t, l, testEntry(testKey(0), 6, 1, 50))
	if id := activeID(l); id != 8 {
		t.Fatalf("active segment %d, want 8", id)
	}
}

// TestCloseLeavesNoPreallocatedTail: a clean Close cuts the active segment
// to its frames, so the next Open has nothing to drop.
func TestCloseLeavesNoPreallocatedTail(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 64 << 10
	cfg.SegmentMaxAge = time.Hour
	l := mustOpen(t, cfg)
	m := newModel()
	for activeID(l) < 3 {
		settlePreparer(t, l)
		appendDurable(t, m, l, testKey(0), 5000)
	}
	appendDurable(t, m, l, testKey(0), 100)
	quiesce(t, l)
	if l.active.size <= l.active.written {
		t.Fatalf("active segment %d is %d bytes with %d written: not preallocated", l.active.id, l.active.size, l.active.written)
	}
	path, written := l.active.path, l.active.written
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != written {
		t.Fatalf("closed active segment is %d bytes, %d written", fi.Size(), written)
	}
	l2 := mustOpen(t, cfg)
	defer l2.Close()
	m.verify(t, l2)
}
