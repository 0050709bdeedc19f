package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Spare files
//
// Appending to a file that grows makes every fdatasync commit a filesystem
// journal transaction (the new size and block allocation), which on ext4
// roughly doubles its latency and ties it to whatever else the journal is
// flushing. Overwriting blocks a file already owns needs none of that. So
// the log keeps the next segment's file ready before it is needed:
//
//   - RemoveSegment does not delete an uploaded segment's file while the
//     log is under half its byte budget: it renames it to a spare name
//     (NNNNNNNNNNNNNNNNNNNN.spare) and keeps it open.
//   - A preparer goroutine turns a spare (or, if none is free, a new file
//     extended with fallocate) into the next segment's file: the version 2
//     header for the next id is written and fdatasynced, the file grown to
//     the size the last sealed segment reached, capped at SegmentMaxBytes.
//   - Sealing truncates the old segment to its written length, fdatasyncs
//     it, and renames the prepared file to the next segment's name (one
//     directory fsync). Without a prepared file it creates one as before.
//
// A recycled file still holds its previous segment's frames past the new
// header. Their CRCs were salted with the previous segment id, so recovery
// never takes them for frames of the new segment: in the newest segment
// the first frame that does not verify ends the log, exactly like a torn
// tail. Older segments were truncated to their last frame before the next
// segment's name existed, so they never hold stale bytes.
//
// Spare files and the active segment's unwritten tail count against
// MaxBytes. At most maxFreeSpares recycled files are kept, none while the
// log holds more than half its budget, and an append refused for lack of
// budget makes the preparer delete every spare.

const (
	spareFileSuffix = ".spare"
	maxFreeSpares   = 1

	minPrealloc = 64 << 10
)

func spareFileName(n uint64) string { return fmt.Sprintf("%020d%s", n, spareFileSuffix) }

// parseSpareFileName returns the number in a spare file name.
func parseSpareFileName(name string) (uint64, bool) {
	if len(name) != 20+len(spareFileSuffix) || name[20:] != spareFileSuffix {
		return 0, false
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	return n, err == nil
}

// spareFile is an open file that is not a segment.
type spareFile struct {
	path    string
	f       *os.File
	size    int64
	id      uint64    // segment id its header was written for; 0 if none
	created time.Time // the header's creation time
}

// spares is the preparer's state.
//
// LOCKING: mu guards the fields above shed; it is never held during I/O
// and never together with Log.mu or Log.indexMu.
type spares struct {
	mu      sync.Mutex
	ready   *spareFile   // prepared for segment ready.id
	free    []*spareFile // recycled, not prepared
	want    uint64       // id the next segment will have
	target  int64        // bytes to preallocate
	seq     uint64       // number of the next spare file name
	closing bool

	shed atomic.Bool   // delete every spare: an append found the budget short
	wake chan struct{} // capacity 1
	done chan struct{}

	// signalled is set by signal and cleared when the preparer starts a
	// round; working is set during a round. Both clear means the preparer
	// has done everything it was asked to (see idle).
	signalled, working atomic.Bool
}

// idle reports whether the preparer has finished every round asked of it.
// Only tests need to know.
func (sp *spares) idle() bool {
	// signalled first: seen clear, any round it asked for has begun, and
	// working then tells whether that round is still running.
	return !sp.signalled.Load() && !sp.working.Load()
}

func (sp *spares) signal() {
	sp.signalled.Store(true)
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// roomForSpares reports whether n more bytes of spare files keep the log
// within half its budget.
func (l *Log) roomForSpares(n int64) bool {
	if l.cfg.DisableSpares {
		return false
	}
	return l.cfg.MaxBytes == 0 || l.diskBytes.Load()+l.extraBytes.Load()+n <= l.cfg.MaxBytes/2
}

// preallocTarget is how large to make the next segment's file, given the
// length the last sealed segment reached.
func (l *Log) preallocTarget(last int64) int64 {
	n := (last + minPrealloc - 1) / minPrealloc * minPrealloc
	return min(max(n, minPrealloc), l.cfg.SegmentMaxBytes)
}

// prepareLoop is the preparer goroutine.
func (l *Log) prepareLoop() {
	defer close(l.sp.done)
	for range l.sp.wake {
		l.sp.working.Store(true)
		l.sp.signalled.Store(false)
		for l.prepareStep() {
		}
		l.sp.working.Store(false)
		l.sp.mu.Lock()
		closing := l.sp.closing
		l.sp.mu.Unlock()
		if closing {
			return
		}
	}
}

// prepareStep does one piece of the preparer's work and reports whether
// there may be more.
func (l *Log) prepareStep() bool {
	sp := &l.sp
	sp.mu.Lock()
	if sp.closing {
		sp.mu.Unlock()
		return false
	}
	// Give spares back when the budget is short.
	if sp.shed.Swap(false) || !l.roomForSpares(0) {
		drop := sp.free
		sp.free = nil
		if sp.ready != nil {
			drop = append(drop, sp.ready)
			sp.ready = nil
		}
		sp.mu.Unlock()
		for _, f := range drop {
			l.discardSpare(f)
		}
		return false
	}
	if sp.ready != nil && sp.ready.id == sp.want {
		sp.mu.Unlock()
		return false
	}
	want, target := sp.want, sp.target
	f := sp.ready
	sp.ready = nil
	if f == nil && len(sp.free) > 0 {
		f = sp.free[len(sp.free)-1]
		sp.free = sp.free[:len(sp.free)-1]
	}
	if f == nil && !l.roomForSpares(target) {
		sp.mu.Unlock()
		return false
	}
	seq := sp.seq
	if f == nil {
		sp.seq++
		f = &spareFile{path: filepath.Join(l.cfg.Dir, spareFileName(seq))}
	}
	// Count the bytes the file will grow by before they exist, so appends
	// admitted meanwhile see them.
	target = max(target, segmentHeaderSize)
	if f.size < target {
		l.extraBytes.Add(target - f.size)
		f.size = target
	}
	sp.mu.Unlock()
	if h := l.cfg.hooks.beforePrepare; h != nil {
		h()
	}

	if f.f == nil {
		file, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			l.log.Warn("create spare segment file", "err", err)
			l.extraBytes.Add(-f.size)
			return false
		}
		f.f = file
	}
	if err := l.prepareSpare(f, want); err != nil {
		l.log.Warn("prepare spare segment file", "path", f.path, "err", err)
		l.discardSpare(f)
		return false
	}
	sp.mu.Lock()
	if sp.closing {
		sp.mu.Unlock()
		l.closeSpare(f)
		return false
	}
	sp.ready = f
	// Appends may have taken the log over half its budget while the file
	// was being written: then the next step gives it back.
	again := sp.want != want || !l.roomForSpares(0)
	sp.mu.Unlock()
	return again
}

// prepareSpare writes the header of segment id into f, makes the file
// f.size bytes long (the caller counted them already) and makes both
// durable.
func (l *Log) prepareSpare(f *spareFile, id uint64) error {
	created := time.Now()
	hdr := appendSegmentHeader(make([]byte, 0, segmentHeaderSize), id, created)
	if _, err := f.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	st, err := f.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < f.size {
		if err := preallocate(f.f, f.size); err != nil {
			return fmt.Errorf("preallocate %d bytes: %w", f.size, err)
		}
	}
	if err := syncData(f.f); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	f.id, f.created = id, created
	return nil
}

// discardSpare closes and deletes f.
func (l *Log) discardSpare(f *spareFile) {
	f.f.Close()
	if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
		l.log.Warn("remove spare segment file", "path", f.path, "err", err)
	}
	l.extraBytes.Add(-f.size)
}

// closeSpare closes f and leaves it on disk for the next Open.
func (l *Log) closeSpare(f *spareFile) {
	f.f.Close()
	l.extraBytes.Add(-f.size)
}

// takeSpare returns the file prepared for segment id, if there is one.
func (l *Log) takeSpare(id uint64) *spareFile {
	l.sp.mu.Lock()
	defer l.sp.mu.Unlock()
	f := l.sp.ready
	if f == nil || f.id != id {
		return nil
	}
	l.sp.ready = nil
	return f
}

// newSegmentFile starts segment id: from the prepared spare file if there
// is one, else from a new file.
func (l *Log) newSegmentFile(id uint64) (*segment, error) {
	if f := l.takeSpare(id); f != nil {
		path := filepath.Join(l.cfg.Dir, segmentFileName(id))
		err := os.Rename(f.path, path)
		if err == nil {
			err = syncDir(l.cfg.Dir)
		}
		if err != nil {
			// The rename may or may not have happened; a file with either
			// name is harmless (recovery reuses spares, and a segment with
			// only a header is empty), but this one is not used.
			l.log.Warn("adopt spare segment file", "path", f.path, "segment", id, "err", err)
			f.f.Close()
			os.Remove(f.path)
			os.Remove(path)
			l.extraBytes.Add(-f.size)
		} else {
			s := newSegment(id, path, f.f, f.created)
			s.written, s.durable, s.size = segmentHeaderSize, segmentHeaderSize, f.size
			l.extraBytes.Add(-segmentHeaderSize)
			l.diskBytes.Add(segmentHeaderSize)
			l.stats.fsyncs.Add(1) // the directory
			return s, nil
		}
	}
	s, err := createSegment(l.cfg.Dir, id, time.Now())
	if err != nil {
		return nil, err
	}
	l.stats.fsyncs.Add(2) // the new file and the directory
	l.diskBytes.Add(segmentHeaderSize)
	return s, nil
}

// trimTail cuts a segment's file to its written length (dropping
// preallocated or recycled space) and makes the cut durable, so that the
// segment holds nothing but its frames before a newer segment exists.
func (l *Log) trimTail(s *segment) error {
	if s.size <= s.written {
		return nil
	}
	if err := s.f.Truncate(s.written); err != nil {
		return fmt.Errorf("truncate segment %d: %w", s.id, err)
	}
	l.stats.fsyncs.Add(1)
	if err := syncData(s.f); err != nil {
		return fmt.Errorf("sync segment %d: %w", s.id, err)
	}
	l.extraBytes.Add(-(s.size - s.written))
	s.size = s.written
	return nil
}

// recycle keeps a removed segment's file as a spare if the log has room for
// it; it reports whether it did. The file is renamed durably before it is
// reused, so the removed segment's name never comes back.
func (l *Log) recycle(s *segment) bool {
	l.sp.mu.Lock()
	ok := !l.sp.closing && len(l.sp.free) < maxFreeSpares && l.roomForSpares(s.size)
	seq := l.sp.seq
	if ok {
		l.sp.seq++
	}
	l.sp.mu.Unlock()
	if !ok {
		return false
	}
	path := filepath.Join(l.cfg.Dir, spareFileName(seq))
	if err := os.Rename(s.path, path); err != nil {
		l.log.Warn("recycle segment file", "segment", s.id, "err", err)
		return false
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		l.log.Warn("recycle segment file", "segment", s.id, "err", err)
		s.f.Close()
		os.Remove(path)
		return true // the segment's name is gone either way
	}
	f := &spareFile{path: path, f: s.f, size: s.size}
	l.extraBytes.Add(f.size)
	l.sp.mu.Lock()
	if l.sp.closing {
		l.sp.mu.Unlock()
		l.closeSpare(f)
		return true
	}
	l.sp.free = append(l.sp.free, f)
	l.sp.mu.Unlock()
	l.sp.signal()
	return true
}

// nextPrepared tells the preparer which segment comes next and how large
// the last one grew.
func (l *Log) nextPrepared(id uint64, lastSize int64) {
	l.sp.mu.Lock()
	l.sp.want = id
	l.sp.target = l.preallocTarget(lastSize)
	l.sp.mu.Unlock()
	l.sp.signal()
}

// adoptSpares takes the spare files Open found in the directory: up to
// maxFreeSpares are kept, the rest deleted.
func (l *Log) adoptSpares(names []string) {
	for _, name := range names {
		n, _ := parseSpareFileName(name)
		l.sp.seq = max(l.sp.seq, n+1)
		path := filepath.Join(l.cfg.Dir, name)
		if len(l.sp.free) >= maxFreeSpares {
			if err := os.Remove(path); err != nil {
				l.log.Warn("remove spare segment file", "path", path, "err", err)
			}
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil {
				l.sp.free = append(l.sp.free, &spareFile{path: path, f: f, size: st.Size()})
				l.extraBytes.Add(st.Size())
				continue
			}
			f.Close()
		}
		l.log.Warn("reuse spare segment file", "path", path, "err", err)
		os.Remove(path)
	}
}

// stopPreparer stops the preparer goroutine and closes the spare files,
// leaving them on disk.
func (l *Log) stopPreparer() {
	l.sp.mu.Lock()
	l.sp.closing = true
	files := l.sp.free
	l.sp.free = nil
	if l.sp.ready != nil {
		files = append(files, l.sp.ready)
		l.sp.ready = nil
	}
	l.sp.mu.Unlock()
	l.sp.signal()
	<-l.sp.done
	for _, f := range files {
		l.closeSpare(f)
	}
}
