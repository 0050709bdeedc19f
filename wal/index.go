package wal

import (
	"fmt"
	"sort"

	"github.com/shalelog/shale/internal/hugepage"
)

// indexEntry locates one entry of a partition: 40 bytes, no pointers, so a
// partition's index is one flat slice the garbage collector never scans.
type indexEntry struct {
	base   int64  // BaseOffset
	maxTs  int64  // MaxTimestamp
	seg    uint64 // segment id
	pos    uint32 // frame start in the segment file
	length uint32 // payload bytes
	span   uint32 // LastOffset - BaseOffset
}

func (e indexEntry) last() int64 { return e.base + int64(e.span) }
func (e indexEntry) next() int64 { return e.base + int64(e.span) + 1 }

// partitionIndex lists a partition's entries in offset order (which is log
// order). Guarded by Log.indexMu.
type partitionIndex struct {
	entries []indexEntry
}

func (p *partitionIndex) rangeOf() PartitionRange {
	return PartitionRange{First: p.entries[0].base, Next: p.entries[len(p.entries)-1].next()}
}

// find returns the index of the first entry whose last offset is >= offset.
func (p *partitionIndex) find(offset int64) int {
	return sort.Search(len(p.entries), func(i int) bool { return p.entries[i].last() >= offset })
}

// dropSegment removes the entries of segment id, which are a prefix because
// segments are removed oldest first.
func (p *partitionIndex) dropSegment(id uint64) {
	n := 0
	for n < len(p.entries) && p.entries[n].seg == id {
		n++
	}
	rest := p.entries[n:]
	if len(rest) < cap(p.entries)/4 {
		// Shrink so a long-lived partition does not pin a stale array.
		p.entries = append([]indexEntry(nil), rest...)
	} else {
		p.entries = rest
	}
}

// segmentLocked returns the live segment with the given id. l.indexMu
// must be held.
func (l *Log) segmentLocked(id uint64) *segment {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].id >= id })
	if i < len(l.segments) && l.segments[i].id == id {
		return l.segments[i]
	}
	return nil
}

// Range returns the offsets the log holds for k.
func (l *Log) Range(k Key) (PartitionRange, bool) {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	p := l.parts[k]
	if p == nil {
		return PartitionRange{}, false
	}
	return p.rangeOf(), true
}

// Partitions returns the offsets held for every partition in the log.
func (l *Log) Partitions() map[Key]PartitionRange {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	m := make(map[Key]PartitionRange, len(l.parts))
	for k, p := range l.parts {
		m[k] = p.rangeOf()
	}
	return m
}

// OffsetForTime returns the BaseOffset of the first entry of k whose
// MaxTimestamp >= ts.
func (l *Log) OffsetForTime(k Key, ts int64) (int64, bool) {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	p := l.parts[k]
	if p == nil {
		return 0, false
	}
	for _, e := range p.entries {
		if e.maxTs >= ts {
			return e.base, true
		}
	}
	return 0, false
}

// SealedSegments lists the sealed segments, oldest first.
func (l *Log) SealedSegments() []SegmentInfo {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	var infos []SegmentInfo
	for _, s := range l.segments {
		if s.sealed {
			infos = append(infos, s.info())
		}
	}
	return infos
}

// SealedSegmentsAfter lists the sealed segments whose id is above after,
// oldest first: what a caller that has seen the segments up to after
// needs, without copying the others' partition maps.
func (l *Log) SealedSegmentsAfter(after uint64) []SegmentInfo {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	var infos []SegmentInfo
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].id > after })
	for _, s := range l.segments[i:] {
		if s.sealed {
			infos = append(infos, s.info())
		}
	}
	return infos
}

// SegmentSize is a sealed segment's id and its bytes.
type SegmentSize struct {
	ID   uint64
	Size int64
}

// SealedSizes lists the sealed segments' ids and sizes, oldest first.
func (l *Log) SealedSizes() []SegmentSize {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	out := make([]SegmentSize, 0, len(l.segments))
	for _, s := range l.segments {
		if s.sealed {
			out = append(out, SegmentSize{ID: s.id, Size: s.durable})
		}
	}
	return out
}

// RemoveSegment deletes sealed segment id and drops its entries from the
// per-partition index. Segments are removed oldest first: removing any
// other segment is an error, so every partition's entries stay a
// contiguous run. Reads already under way on the segment finish first.
func (l *Log) RemoveSegment(id uint64) error {
	// A segment is reported sealed before its seal has cut the file and
	// started the next segment (see seal): wait for that first.
	l.indexMu.RLock()
	var sealing chan struct{}
	if s := l.segmentLocked(id); s != nil {
		sealing = s.sealDone
	}
	l.indexMu.RUnlock()
	if sealing != nil {
		<-sealing
	}
	l.indexMu.Lock()
	if l.closed {
		l.indexMu.Unlock()
		return ErrClosed
	}
	s := l.segmentLocked(id)
	switch {
	case s == nil:
		l.indexMu.Unlock()
		return fmt.Errorf("remove segment %d: no such segment", id)
	case !s.sealed:
		l.indexMu.Unlock()
		return fmt.Errorf("remove segment %d: segment is active", id)
	case s != l.segments[0]:
		l.indexMu.Unlock()
		return fmt.Errorf("remove segment %d: segment %d is older", id, l.segments[0].id)
	}
	for k := range s.parts {
		p := l.parts[k]
		p.dropSegment(id)
		if len(p.entries) == 0 {
			delete(l.parts, k)
		}
	}
	l.dropKeptLocked(s)
	copy(l.segments, l.segments[1:])
	l.segments[len(l.segments)-1] = nil
	l.segments = l.segments[:len(l.segments)-1]
	l.indexMu.Unlock()

	s.readers.Wait()
	l.diskBytes.Add(-s.durable)
	if l.recycle(s) {
		return nil
	}
	if err := s.f.Close(); err != nil {
		l.log.Warn("close removed segment", "segment", id, "err", err)
	}
	if err := removeFile(s.path, l.cfg.Dir); err != nil {
		return fmt.Errorf("remove segment %d: %w", id, err)
	}
	return nil
}

// pinLocked pins s open for a reader. l.indexMu must be held.
func pinLocked(s *segment) *segment {
	s.readers.Add(1)
	return s
}

// Read returns the bytes of consecutive whole entries of partition k,
// starting at the entry that contains offset (or the first entry after
// offset if it falls in a gap), stopping before any entry whose BaseOffset
// >= maxOffset, and stopping once adding the next entry would exceed
// maxBytes -- but always at least one entry if any qualifies. It returns
// (nil, nil) when offset >= the end of what is logged for k or >= maxOffset,
// and ErrOffsetTooLow when offset is below the first offset held for k.
//
// Only durable entries are visible. Every frame's CRC is checked again; a
// mismatch is a *CorruptionError.
func (l *Log) Read(k Key, offset, maxOffset int64, maxBytes int) ([]byte, error) {
	type pick struct {
		seg    *segment
		pos    int64
		length int
		ie     indexEntry
	}
	var picksBuf [16]pick
	picks := picksBuf[:0]
	total := 0

	l.indexMu.RLock()
	if l.closed {
		l.indexMu.RUnlock()
		return nil, ErrClosed
	}
	p := l.parts[k]
	if p == nil || offset >= maxOffset {
		l.indexMu.RUnlock()
		return nil, nil
	}
	r := p.rangeOf()
	if offset >= r.Next {
		l.indexMu.RUnlock()
		return nil, nil
	}
	if offset < r.First {
		l.indexMu.RUnlock()
		return nil, ErrOffsetTooLow
	}
	var seg *segment
	for _, ie := range p.entries[p.find(offset):] {
		if ie.base >= maxOffset || (len(picks) > 0 && total+int(ie.length) > maxBytes) {
			break
		}
		if seg == nil || seg.id != ie.seg {
			seg = pinLocked(l.segmentLocked(ie.seg))
		}
		picks = append(picks, pick{seg: seg, pos: int64(ie.pos), length: int(ie.length), ie: ie})
		total += int(ie.length)
	}
	l.indexMu.RUnlock()
	defer func() {
		var last *segment
		for _, pk := range picks {
			if pk.seg != last {
				pk.seg.readers.Done()
				last = pk.seg
			}
		}
	}()
	if len(picks) == 0 {
		return nil, nil
	}

	// Read the frames back to front into one buffer: each frame's header
	// lands in the bytes the previous payload will overwrite next, so the
	// CRC is checked with no extra copy. The first header uses the spare
	// frameHeaderSize bytes in front.
	out := make([]byte, frameHeaderSize+total)
	hugepage.Advise(out)
	end := len(out)
	for i := len(picks) - 1; i >= 0; i-- {
		pk := picks[i]
		frame := out[end-pk.length-frameHeaderSize : end]
		if _, err := pk.seg.f.ReadAt(frame, pk.pos); err != nil {
			return nil, fmt.Errorf("read segment %d at %d: %w", pk.seg.id, pk.pos, err)
		}
		if err := checkIndexedFrame(frame, k, pk.ie, pk.seg.salt); err != nil {
			return nil, &CorruptionError{Path: pk.seg.path, Offset: pk.pos, Reason: err.Error()}
		}
		end -= pk.length
	}
	return out[frameHeaderSize:], nil
}

// checkIndexedFrame verifies a frame read back for index entry ie of k.
func checkIndexedFrame(frame []byte, k Key, ie indexEntry, salt uint32) error {
	h, err := decodeFrameHeader(frame)
	if err != nil {
		return err
	}
	if h.key != k || h.baseOffset != ie.base || h.length != ie.length || h.lastOffset != ie.last() {
		return fmt.Errorf("frame is %v [%d, %d], index says %v [%d, %d]", h.key, h.baseOffset, h.lastOffset, k, ie.base, ie.last())
	}
	if got := frameCRC(frame, frame[frameHeaderSize:], salt); got != h.crc {
		return fmt.Errorf("frame crc %08x, computed %08x", h.crc, got)
	}
	return nil
}

// Replay calls fn for every durable entry in log order. e.Data aliases a
// buffer that is reused after fn returns; copy it to keep it. An error from
// fn stops the replay and is returned as is.
func (l *Log) Replay(fn func(e Entry) error) error {
	l.indexMu.RLock()
	if l.closed {
		l.indexMu.RUnlock()
		return ErrClosed
	}
	segs := make([]*segment, len(l.segments))
	ends := make([]int64, len(l.segments))
	for i, s := range l.segments {
		segs[i], ends[i] = pinLocked(s), s.durable
	}
	l.indexMu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.readers.Done()
		}
	}()
	for i, s := range segs {
		if err := s.forEachFrame(ends[i], fn); err != nil {
			return err
		}
	}
	return nil
}

// ReadSegmentInto is ReadSegment with the whole segment read into buf
// (grown if short) with one read, and every entry's Data a slice of it:
// no copy per entry. The entries stay valid until buf is reused; the
// buffer used is returned for that.
//
// A segment whose entries are still kept in memory (see
// Config.UploadMemoryBytes) is not read at all: every entry's Data is the
// payload as appended (never modified again, valid for as long as the
// caller holds it), its CRC not checked again, and buf is returned as it
// came. A sealed segment lets go of its kept entries once read so, whole;
// later reads come from its file.
func (l *Log) ReadSegmentInto(id uint64, buf []byte, fn func(e Entry) error) ([]byte, error) {
	l.indexMu.RLock()
	if l.closed {
		l.indexMu.RUnlock()
		return buf, ErrClosed
	}
	s := l.segmentLocked(id)
	if s == nil {
		l.indexMu.RUnlock()
		return buf, fmt.Errorf("read segment %d: no such segment", id)
	}
	if s.keeping {
		kept, sealed := s.kept, s.sealed
		l.indexMu.RUnlock()
		for _, k := range kept {
			e := Entry{Key: k.key, BaseOffset: k.base, LastOffset: k.base + int64(k.span), MaxTimestamp: k.maxTs, Data: k.data[:len(k.data):len(k.data)]}
			if err := fn(e); err != nil {
				return buf, err
			}
		}
		if sealed {
			l.indexMu.Lock()
			if s.keeping && len(s.kept) == len(kept) {
				l.dropKeptLocked(s)
			}
			l.indexMu.Unlock()
		}
		return buf, nil
	}
	pinLocked(s)
	end := s.durable
	l.indexMu.RUnlock()
	defer s.readers.Done()
	n := int(end - segmentHeaderSize)
	if cap(buf) < n {
		// Headroom: segments end a little past the size limit, each by
		// a different amount; without it most uploads reallocated.
		buf = make([]byte, n, n+n/8)
		hugepage.Advise(buf[:cap(buf)])
	}
	buf = buf[:n]
	if _, err := s.f.ReadAt(buf, segmentHeaderSize); err != nil {
		return buf, fmt.Errorf("read segment %d: %w", id, err)
	}
	for pos := 0; pos < n; {
		e, size, err := decodeFrame(buf[pos:], s.salt)
		if err != nil {
			se := &scanError{pos: segmentHeaderSize + int64(pos), err: err}
			return buf, se.corruption(s.path)
		}
		e.Data = e.Data[:len(e.Data):len(e.Data)]
		if err := fn(e); err != nil {
			return buf, err
		}
		pos += size
	}
	return buf, nil
}

// ReadSegment calls fn for every durable entry of segment id in log order,
// read from its file and verified. e.Data aliases a buffer that is reused
// after fn returns. An error from fn stops the iteration and is returned
// as is.
func (l *Log) ReadSegment(id uint64, fn func(e Entry) error) error {
	l.indexMu.RLock()
	if l.closed {
		l.indexMu.RUnlock()
		return ErrClosed
	}
	s := l.segmentLocked(id)
	if s == nil {
		l.indexMu.RUnlock()
		return fmt.Errorf("read segment %d: no such segment", id)
	}
	pinLocked(s)
	end := s.durable
	l.indexMu.RUnlock()
	defer s.readers.Done()
	return s.forEachFrame(end, fn)
}
