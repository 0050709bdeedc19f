package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrFull is returned by Append when accepting the entry would take the
	// segment files over Config.MaxBytes. It clears once sealed segments are
	// removed with RemoveSegment.
	ErrFull = errors.New("wal: local byte budget exhausted")

	// ErrClosed is returned by every operation on a Log after Close.
	ErrClosed = errors.New("wal: log closed")

	// ErrOffsetTooLow is returned by Read when the requested offset is below
	// the first offset the log still holds for the partition (its older
	// entries were removed with RemoveSegment or never logged here).
	ErrOffsetTooLow = errors.New("wal: offset below first offset held")

	// ErrOutOfOrder is returned by Append when an entry's BaseOffset is not
	// above the last offset already appended for its partition. Per-partition
	// offsets in the log only ever grow; gaps are allowed.
	ErrOutOfOrder = errors.New("wal: offset not above last appended offset")
)

// CorruptionError reports bytes on disk that fail validation where a torn
// write cannot explain them: a bad header, a bad CRC or an impossible frame
// anywhere but the unsynced tail of the newest segment, offsets going
// backwards, or a segment file missing between two others (then Path names
// the missing file and Offset is 0).
type CorruptionError struct {
	Path   string // segment file
	Offset int64  // byte position in the file where the bad data starts
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corrupt segment %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}
