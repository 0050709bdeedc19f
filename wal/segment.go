package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// segmentFileSuffix ends every segment file name; the name before it is the
// segment id zero-padded to 20 digits, so names sort in log order.
const segmentFileSuffix = ".wal"

func segmentFileName(id uint64) string {
	return fmt.Sprintf("%020d%s", id, segmentFileSuffix)
}

// parseSegmentFileName returns the id in a segment file name.
func parseSegmentFileName(name string) (uint64, bool) {
	if len(name) != 20+len(segmentFileSuffix) || name[20:] != segmentFileSuffix {
		return 0, false
	}
	id, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	ID   uint64
	Path string
	Size int64 // bytes in the file, header included
	// FirstEntryTime is when the first entry was written. For segments
	// recovered by Open it is the segment's creation time from its header,
	// which is no later than its first entry.
	FirstEntryTime time.Time
	// SealedAt is when the segment was sealed (zero while it is active,
	// and for segments found sealed by Open).
	SealedAt time.Time
	// Partitions holds, per partition, the offsets of the entries in this
	// segment: First is the first entry's BaseOffset, Next is one past the
	// last entry's LastOffset. The map is the caller's to keep.
	Partitions map[Key]PartitionRange
}

// segment is one open segment file.
//
// The commit goroutine alone writes the active segment and its written
// field. Fields marked "indexMu" change only with Log.indexMu held for
// writing. readers pins the file open: every reader Adds under
// Log.indexMu (read) while the segment is still listed, and whoever closes
// the file first unlists it under Log.indexMu (write), then Waits.
type segment struct {
	id      uint64
	path    string
	f       *os.File
	created time.Time
	salt    uint32 // XORed into every frame CRC (0 in version 1 segments)

	written int64 // commit goroutine: bytes written to the file
	// size is the file's length, which in the active segment may run past
	// written: preallocated or recycled space, overwritten in place
	// (commit goroutine).
	size int64

	durable    int64                  // indexMu: bytes written and fsynced
	entries    int                    // indexMu: entries in the segment
	firstEntry time.Time              // indexMu: zero while empty
	parts      map[Key]PartitionRange // indexMu
	sealed     bool                   // indexMu
	sealedAt   time.Time              // indexMu
	// kept holds the segment's entries as appended while keeping is set
	// (every entry published so far is in it), for ReadSegmentInto;
	// keptBytes is their payload bytes (indexMu; see Config.UploadMemoryBytes).
	kept      []keptEntry
	keeping   bool
	keptBytes int64
	// sealDone is closed once the seal has cut the file and started the
	// next segment (nil for segments sealed by Open); indexMu.
	sealDone chan struct{}

	readers sync.WaitGroup
}

// keptEntry is one entry of a segment kept in memory: what ReadSegmentInto
// hands out, without the file's frame around it.
type keptEntry struct {
	key   Key
	base  int64
	maxTs int64
	span  uint32
	data  []byte
}

// info snapshots the segment. Log.indexMu must be held.
func (s *segment) info() SegmentInfo {
	first := s.firstEntry
	if first.IsZero() {
		first = s.created
	}
	return SegmentInfo{
		ID:             s.id,
		Path:           s.path,
		Size:           s.durable,
		FirstEntryTime: first,
		SealedAt:       s.sealedAt,
		Partitions:     maps.Clone(s.parts),
	}
}

// createSegment creates segment id in dir, writes its header and makes both
// the file and its directory entry durable.
func createSegment(dir string, id uint64, now time.Time) (*segment, error) {
	path := filepath.Join(dir, segmentFileName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	s := newSegment(id, path, f, now)
	if err := s.writeHeader(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync directory: %w", err)
	}
	return s, nil
}

// newSegment returns the in-memory state of a new (version 2) segment
// whose file f is open at path.
func newSegment(id uint64, path string, f *os.File, created time.Time) *segment {
	return &segment{id: id, path: path, f: f, created: created, salt: frameSalt(id),
		parts: make(map[Key]PartitionRange)}
}

// writeHeader writes the segment header at position 0 and fsyncs.
func (s *segment) writeHeader() error {
	hdr := appendSegmentHeader(make([]byte, 0, segmentHeaderSize), s.id, s.created)
	if _, err := s.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("write segment header: %w", err)
	}
	if err := syncData(s.f); err != nil {
		return fmt.Errorf("sync segment header: %w", err)
	}
	s.written, s.durable = segmentHeaderSize, segmentHeaderSize
	s.size = max(s.size, segmentHeaderSize)
	return nil
}

// syncDir fsyncs a directory so that file creations and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// frameScanner reads consecutive frames of one segment file, verifying each
// CRC. It reuses one payload buffer: a returned payload is valid until the
// next call.
type frameScanner struct {
	r    *bufio.Reader
	pos  int64 // file position of the next frame
	end  int64
	salt uint32
	hdr  [frameHeaderSize]byte
	buf  []byte
}

func newFrameScanner(f io.ReaderAt, start, end int64, salt uint32) *frameScanner {
	return &frameScanner{
		r:    bufio.NewReaderSize(io.NewSectionReader(f, start, end-start), 256<<10),
		pos:  start,
		end:  end,
		salt: salt,
	}
}

// next returns the next frame. It returns io.EOF exactly at the end, and a
// *scanError (with the position of the bad frame) for anything else,
// including a frame cut short by the end. I/O errors are returned as they
// are.
func (s *frameScanner) next() (frameHeader, []byte, error) {
	if s.pos == s.end {
		return frameHeader{}, nil, io.EOF
	}
	if s.end-s.pos < frameHeaderSize {
		return frameHeader{}, nil, &scanError{pos: s.pos, err: errShortFrame}
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return frameHeader{}, nil, s.ioError(err)
	}
	h, err := decodeFrameHeader(s.hdr[:])
	if err != nil {
		return frameHeader{}, nil, &scanError{pos: s.pos, err: err}
	}
	if s.end-s.pos < h.frameSize() {
		return frameHeader{}, nil, &scanError{pos: s.pos, err: errShortFrame}
	}
	if cap(s.buf) < int(h.length) {
		s.buf = make([]byte, h.length)
	}
	payload := s.buf[:h.length]
	if _, err := io.ReadFull(s.r, payload); err != nil {
		return frameHeader{}, nil, s.ioError(err)
	}
	if got := frameCRC(s.hdr[:], payload, s.salt); got != h.crc {
		return frameHeader{}, nil, &scanError{pos: s.pos, err: fmt.Errorf("frame crc %08x, computed %08x", h.crc, got)}
	}
	s.pos += h.frameSize()
	return h, payload, nil
}

// ioError turns an unexpected EOF inside the section (the file shrank under
// us) into a scanError, and passes other read errors through.
func (s *frameScanner) ioError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &scanError{pos: s.pos, err: errShortFrame}
	}
	return err
}

// scanError is a frame that failed validation at pos.
type scanError struct {
	pos int64
	err error
}

func (e *scanError) Error() string { return fmt.Sprintf("at %d: %v", e.pos, e.err) }

func (e *scanError) corruption(path string) *CorruptionError {
	return &CorruptionError{Path: path, Offset: e.pos, Reason: e.err.Error()}
}

// forEachFrame calls fn for each frame of s in [segmentHeaderSize, end).
// Every failed check is reported as a CorruptionError: the caller only
// passes ranges that were fsynced and validated before.
func (s *segment) forEachFrame(end int64, fn func(e Entry) error) error {
	sc := newFrameScanner(s.f, segmentHeaderSize, end, s.salt)
	for {
		h, payload, err := sc.next()
		if err == io.EOF {
			return nil
		}
		var se *scanError
		if errors.As(err, &se) {
			return se.corruption(s.path)
		}
		if err != nil {
			return fmt.Errorf("read segment %d: %w", s.id, err)
		}
		if err := fn(h.entry(payload)); err != nil {
			return err
		}
	}
}
