package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// recover rebuilds the log from the segment files in the directory. See
// "Recovery" in the package documentation.
func (l *Log) recover() error {
	dirents, err := os.ReadDir(l.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list directory: %w", err)
	}
	var ids []uint64
	var spareNames []string
	for _, de := range dirents {
		if id, ok := parseSegmentFileName(de.Name()); ok && de.Type().IsRegular() {
			ids = append(ids, id)
		}
		if _, ok := parseSpareFileName(de.Name()); ok && de.Type().IsRegular() {
			spareNames = append(spareNames, de.Name())
		}
	}
	slices.Sort(ids)
	slices.Sort(spareNames)
	// Sealing names the next segment id+1 and only the oldest segment is
	// ever removed, so the ids run without a gap. A missing one is a lost
	// segment: the offsets it held are gone from the middle of the log.
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			return &CorruptionError{Path: filepath.Join(l.cfg.Dir, segmentFileName(ids[i-1]+1)), Offset: 0,
				Reason: fmt.Sprintf("segment missing: segments %d and %d exist, and only the oldest segment is ever removed", ids[i-1], ids[i])}
		}
	}
	l.adoptSpares(spareNames)

	for i, id := range ids {
		s, err := l.recoverSegment(id, i == len(ids)-1)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
	}

	// Empty segments older than every segment with entries (and than the
	// newest) hold nothing worth keeping. An empty one between two others
	// stays, so that the ids keep running without a gap.
	var kept []*segment
	for i, s := range l.segments {
		if s.entries == 0 && len(kept) == 0 && i < len(l.segments)-1 {
			s.f.Close()
			if err := removeFile(s.path, l.cfg.Dir); err != nil {
				return fmt.Errorf("remove empty segment %d: %w", s.id, err)
			}
			l.log.Info("removed empty segment", "segment", s.id)
			continue
		}
		kept = append(kept, s)
	}
	l.segments = kept

	// The newest segment stays active if it is empty; otherwise it is
	// sealed and a new segment starts after it.
	if n := len(l.segments); n > 0 && l.segments[n-1].entries == 0 {
		l.active = l.segments[n-1]
	} else {
		id := uint64(1)
		if n > 0 {
			id = l.segments[n-1].id + 1
		}
		s, err := createSegment(l.cfg.Dir, id, time.Now())
		if err != nil {
			return fmt.Errorf("create segment %d: %w", id, err)
		}
		l.segments = append(l.segments, s)
		l.active = s
	}
	for _, s := range l.segments {
		s.sealed = s != l.active
		l.diskBytes.Add(s.durable)
		s.size = s.durable
	}
	return nil
}

// recoverSegment opens segment id, verifies every frame and indexes it. In
// the newest segment (last) a bad frame is taken for a torn tail and cut
// off, and what is kept is fdatasynced; anywhere else a bad frame is a
// *CorruptionError.
func (l *Log) recoverSegment(id uint64, last bool) (_ *segment, err error) {
	path := filepath.Join(l.cfg.Dir, segmentFileName(id))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment %d: %w", id, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat segment %d: %w", id, err)
	}
	size := st.Size()
	if size > maxSegmentFileSize {
		return nil, &CorruptionError{Path: path, Offset: maxSegmentFileSize,
			Reason: fmt.Sprintf("segment is %d bytes, larger than any the log writes", size)}
	}
	s := newSegment(id, path, f, time.Time{})

	var hdrBuf [segmentHeaderSize]byte
	n, err := f.ReadAt(hdrBuf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read segment %d header: %w", id, err)
	}
	hdr, herr := decodeSegmentHeader(hdrBuf[:n])
	if herr != nil {
		// A crash while creating the newest segment leaves at most a
		// header's worth of bytes: entries are written only after the
		// header is durable. More than that is not a torn creation.
		if !last || size > segmentHeaderSize {
			return nil, &CorruptionError{Path: path, Offset: 0, Reason: herr.Error()}
		}
		l.log.Warn("rewriting torn segment header", "segment", id, "size", size, "reason", herr)
		s.salt = frameSalt(id)
		if err := f.Truncate(0); err != nil {
			return nil, fmt.Errorf("truncate segment %d: %w", id, err)
		}
		s.created = time.Now()
		if err := s.writeHeader(); err != nil {
			return nil, fmt.Errorf("segment %d: %w", id, err)
		}
		return s, nil
	}
	if hdr.id != id {
		return nil, &CorruptionError{Path: path, Offset: 8, Reason: fmt.Sprintf("header names segment %d", hdr.id)}
	}
	s.created, s.salt = hdr.created, hdr.salt()

	sc := newFrameScanner(f, segmentHeaderSize, size, s.salt)
	for {
		h, payload, err := sc.next()
		if err == io.EOF {
			break
		}
		var se *scanError
		if errors.As(err, &se) {
			if !last {
				return nil, se.corruption(path)
			}
			// Zeros are preallocated space the log had not reached;
			// anything else is a torn write or a recycled file's old
			// frames, neither of them acknowledged.
			if unused, rerr := allZero(f, se.pos, size); rerr != nil {
				return nil, fmt.Errorf("read segment %d: %w", id, rerr)
			} else if unused {
				l.log.Info("cutting unused preallocated space of newest segment",
					"segment", id, "at", se.pos, "dropped_bytes", size-se.pos)
			} else {
				l.log.Warn("truncating torn tail of newest segment",
					"segment", id, "at", se.pos, "dropped_bytes", size-se.pos, "reason", se.err)
			}
			if err := f.Truncate(se.pos); err != nil {
				return nil, fmt.Errorf("truncate segment %d: %w", id, err)
			}
			break
		}
		if err != nil {
			return nil, err
		}
		epoch := payloadEpoch(payload)
		if p := l.parts[h.key]; p != nil && len(p.entries) > 0 {
			if next := p.rangeOf().Next; h.baseOffset < next && epoch <= l.epochs[h.key] {
				return nil, &CorruptionError{Path: path, Offset: sc.pos - h.frameSize(),
					Reason: fmt.Sprintf("offset %d of %v is below its next offset %d under leader epoch %d (the last was %d)", h.baseOffset, h.key, next, epoch, l.epochs[h.key])}
			}
		}
		l.epochs[h.key] = epoch
		l.indexLocked(s, h.key, indexEntry{
			base:   h.baseOffset,
			maxTs:  h.maxTimestamp,
			seg:    id,
			pos:    uint32(sc.pos - h.frameSize()),
			length: h.length,
			span:   uint32(h.lastOffset - h.baseOffset),
		})
		s.entries++
	}
	if last {
		// The frames kept may have been written by a commit whose
		// fdatasync never returned: readable from the page cache, not yet
		// on stable storage. This segment is about to be sealed (or
		// appended to), and its entries to be served, uploaded and
		// continued from, so make them, and any cut above, durable first.
		if err := syncData(f); err != nil {
			return nil, fmt.Errorf("sync segment %d: %w", id, err)
		}
		if h := l.cfg.hooks.recoverySynced; h != nil {
			h(path)
		}
	}
	s.written, s.durable = sc.pos, sc.pos
	if s.entries > 0 {
		s.firstEntry = s.created
	}
	return s, nil
}

// allZero reports whether bytes [from, to) of f are all zero.
func allZero(f *os.File, from, to int64) (bool, error) {
	buf := make([]byte, min(to-from, 1<<20))
	for pos := from; pos < to; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), to-pos)], pos)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if n == 0 {
			return true, nil
		}
		pos += int64(n)
	}
	return true, nil
}

// removeFile deletes path and makes the removal durable.
func removeFile(path, dir string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(dir)
}
