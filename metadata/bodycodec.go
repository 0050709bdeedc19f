package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// bodyWriter builds the binary bodies of the high-volume commands and of
// the catalog and offsets sections of a snapshot. Integers are varints
// (zig-zag for signed values, as encoding/binary writes them); a string is
// a uvarint byte length followed by its bytes; a TopicID is its 16 raw bytes.
type bodyWriter struct {
	b []byte
}

func (w *bodyWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *bodyWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *bodyWriter) topicID(id TopicID) {
	w.b = append(w.b, id[:]...)
}
func (w *bodyWriter) string(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// errShortBody is what a bodyReader reports when bytes run out or a varint
// is malformed.
var errShortBody = errors.New("truncated or malformed varint")

// bodyReader reads what bodyWriter wrote. The first failure sticks: later
// reads return zero values and err reports where it happened. It never
// panics and never allocates more than the input could describe.
type bodyReader struct {
	b   []byte
	off int
	err error
}

func (r *bodyReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *bodyReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("%v", errShortBody)
		return 0
	}
	r.off += n
	return v
}

func (r *bodyReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("%v", errShortBody)
		return 0
	}
	r.off += n
	return v
}

// int32 reads a varint that must fit an int32.
func (r *bodyReader) int32(what string) int32 {
	v := r.varint()
	if v < -1<<31 || v > 1<<31-1 {
		r.fail("%s %d does not fit 32 bits", what, v)
		return 0
	}
	return int32(v)
}

// count reads a length prefix of a list whose elements take at least
// minElem bytes each, so a hostile count cannot force a large allocation.
func (r *bodyReader) count(what string, minElem int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if rest := uint64(len(r.b) - r.off); v > rest/uint64(minElem) {
		r.fail("%s count %d exceeds the %d bytes left", what, v, rest)
		return 0
	}
	return int(v)
}

func (r *bodyReader) string(what string, maxLen int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(maxLen) {
		r.fail("%s length %d exceeds %d", what, n, maxLen)
		return ""
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("%s length %d exceeds the %d bytes left", what, n, len(r.b)-r.off)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// bytes reads a uvarint length and that many bytes, without copying.
func (r *bodyReader) bytes(what string) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("%s length %d exceeds the %d bytes left", what, n, len(r.b)-r.off)
		return nil
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *bodyReader) topicID() TopicID {
	var id TopicID
	if r.err != nil {
		return id
	}
	if len(r.b)-r.off < len(id) {
		r.fail("topic id needs 16 bytes, %d left", len(r.b)-r.off)
		return id
	}
	copy(id[:], r.b[r.off:])
	r.off += len(id)
	return id
}

func (r *bodyReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%s: no bytes left", what)
		return 0
	}
	b := r.b[r.off]
	r.off++
	return b
}

// done reports the sticky error, or an error if bytes are left over.
func (r *bodyReader) done() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
	return r.err
}
