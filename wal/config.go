package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultSegmentMaxBytes = 8 << 20
	DefaultSegmentMaxAge   = 250 * time.Millisecond
	DefaultMaxPendingBytes = 64 << 20
	// DefaultUploadMemoryBytes is the default UploadMemoryBytes.
	DefaultUploadMemoryBytes = 128 << 20

	// MaxSegmentMaxBytes bounds SegmentMaxBytes so that every byte position
	// in a segment fits the 32-bit positions of the in-memory index, even
	// when the last entry of a segment is MaxEntryBytes long.
	MaxSegmentMaxBytes = 2 << 30

	// MaxEntryBytes is the largest Entry.Data Append accepts and the largest
	// payload length recovery believes.
	MaxEntryBytes = 256 << 20

	// maxSegmentFileSize is the largest segment file the log can write: a
	// segment just below MaxSegmentMaxBytes plus one maximal entry. It fits
	// the 32-bit positions of the index.
	maxSegmentFileSize = MaxSegmentMaxBytes + frameHeaderSize + MaxEntryBytes
)

// Config configures a Log. The zero value of every field except Dir means
// "use the default".
type Config struct {
	// Dir holds the segment files. Required; created if missing. One Log
	// per directory.
	Dir string

	// SegmentMaxBytes seals the active segment once it reaches this size.
	// A segment may exceed it by at most one entry. Default 8 MiB.
	SegmentMaxBytes int64

	// SegmentMaxAge seals a non-empty active segment this long after its
	// first entry was written. An empty segment is never sealed. Default
	// 250ms.
	SegmentMaxAge time.Duration

	// MaxBytes is the local byte budget across all segment files, queued
	// entries included. Append returns ErrFull when an entry (plus one
	// segment header of slack for a seal it may cause) would take the log
	// over it. 0 means unlimited (the default).
	MaxBytes int64

	// MaxPendingBytes is how many bytes may be queued but not yet written
	// before Append blocks (backpressure). An entry larger than this is
	// still accepted once nothing else is queued. Default 64 MiB.
	MaxPendingBytes int64

	// UploadMemoryBytes bounds the payload bytes of segments kept in
	// memory, as they were appended, until ReadSegmentInto (the uploader)
	// has read them once: such a segment is read with no pread and no
	// second CRC pass. A segment whose entries would take the total past
	// the bound is read from its file instead. Default 128 MiB; negative
	// keeps nothing in memory.
	UploadMemoryBytes int64
	// DisableSpares turns off spare files: removed segments are deleted
	// and every segment file starts empty and grows. Spares pay off on
	// filesystems that overwrite in place (ext4, XFS); on copy-on-write
	// filesystems (btrfs, ZFS) they only cost disk space.
	DisableSpares bool

	// OnSeal, if set, is called from the commit goroutine with each segment
	// once it is sealed: its frames are fsynced, and the file is cut to
	// them and the next segment started right after the call. It must not block long and must not
	// call Append, Sync or Close. Segments found sealed by Open are not
	// reported here; list them with SealedSegments.
	OnSeal func(SegmentInfo)

	// OnCommit, if set, is called from the commit goroutine after each
	// group commit's write and fdatasync with the bytes written and how
	// long the fdatasync took (for metrics). It must return at once.
	OnCommit func(bytes int, fsync time.Duration)

	// Logger receives recovery warnings and failures. May be nil.
	Logger *slog.Logger

	// hooks lets tests inject I/O failures and pauses. Zero in production.
	hooks hooks
}

// hooks are test-only interception points on the commit path, in
// recovery and in the preparer.
type hooks struct {
	beforeWrite func() error // called before each segment write
	beforeSync  func() error // called before each segment fsync
	// recoverySynced is called with a segment file's path after recovery
	// fdatasynced it.
	recoverySynced func(path string)
	// beforePrepare is called by the preparer after it counted a spare's
	// bytes and before it writes the file.
	beforePrepare func()
}

// DefaultConfig returns a Config with every default filled in and Dir empty.
func DefaultConfig() Config {
	return Config{
		SegmentMaxBytes:   DefaultSegmentMaxBytes,
		SegmentMaxAge:     DefaultSegmentMaxAge,
		MaxPendingBytes:   DefaultMaxPendingBytes,
		UploadMemoryBytes: DefaultUploadMemoryBytes,
	}
}

// Validate reports the first invalid field. Zero values are valid (they mean
// the default) except for Dir.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("wal config: Dir is required")
	}
	if c.SegmentMaxBytes < 0 || c.SegmentMaxBytes > MaxSegmentMaxBytes {
		return fmt.Errorf("wal config: SegmentMaxBytes %d outside [0, %d]", c.SegmentMaxBytes, int64(MaxSegmentMaxBytes))
	}
	if c.SegmentMaxAge < 0 {
		return fmt.Errorf("wal config: SegmentMaxAge %v is negative", c.SegmentMaxAge)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("wal config: MaxBytes %d is negative", c.MaxBytes)
	}
	if c.MaxPendingBytes < 0 {
		return fmt.Errorf("wal config: MaxPendingBytes %d is negative", c.MaxPendingBytes)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SegmentMaxBytes == 0 {
		c.SegmentMaxBytes = d.SegmentMaxBytes
	}
	if c.SegmentMaxAge == 0 {
		c.SegmentMaxAge = d.SegmentMaxAge
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = d.MaxPendingBytes
	}
	if c.UploadMemoryBytes == 0 {
		c.UploadMemoryBytes = d.UploadMemoryBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
