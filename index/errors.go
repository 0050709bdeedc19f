package index

import (
	"errors"
	"fmt"
)

// ErrUnsupportedVersion is wrapped by errors for objects whose trailer names
// a format version this reader does not know. It is not a CorruptionError:
// the object may be fine and the reader too old.
var ErrUnsupportedVersion = errors.New("unsupported object format version")

// CorruptionError reports bytes that fail a check: a bad magic, a CRC
// mismatch, an impossible field. Object is left empty by this package;
// callers that know the object key set it before passing the error on.
type CorruptionError struct {
	Object string // object key, filled in by the caller
	Offset int64  // byte offset in the object (or in the slice checked by VerifyBatches); -1 if unknown
	Reason string
}

func (e *CorruptionError) Error() string {
	if e.Object == "" {
		return fmt.Sprintf("corrupt object at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("corrupt object %q at offset %d: %s", e.Object, e.Offset, e.Reason)
}

func corruptf(offset int64, format string, args ...any) *CorruptionError {
	return &CorruptionError{Offset: offset, Reason: fmt.Sprintf(format, args...)}
}
