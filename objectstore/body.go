package objectstore

import (
	"errors"
	"io"
	"unsafe"
)

// Bodies held in memory. A caller that has a Put's whole body in one byte
// slice (the uploader's object, built in memory) gives it as a
// *BytesReader; the drivers then take the bytes as they are instead of
// reading them into buffers of their own: the fs driver writes them to
// the file (with O_DIRECT when they start at a BodyAlign boundary) and the
// s3 drivers send them (or slices of them, one per part). Wrappers that
// see the body on its way (Counting, the metrics package's) implement
// BytesBody too and pass the call on, counting the bytes taken as read.

// BytesBody is an optional interface of a Put's body, found by type
// assertion (use TakeBytes): a reader that has all of its unread bytes in
// memory hands them over at once.
type BytesBody interface {
	io.Reader
	// TakeBytes returns all the bytes not read yet and marks them read,
	// as if one Read had returned them all; the next Read returns io.EOF.
	// ok is false, and nothing is read, when the reader cannot (a wrapper
	// around a reader that is not a BytesBody, or whose context is done).
	//
	// The bytes stay the caller's: whoever takes them only reads them.
	TakeBytes() (b []byte, ok bool)
}

// TakeBytes returns r's unread bytes and marks them read if r is a
// BytesBody that has them (see BytesBody.TakeBytes); otherwise it returns
// false and r is untouched.
func TakeBytes(r io.Reader) ([]byte, bool) {
	if bb, ok := r.(BytesBody); ok {
		return bb.TakeBytes()
	}
	return nil, false
}

// BytesReader is a Put body held in memory: an io.Reader, io.Seeker and
// io.WriterTo over a byte slice, like bytes.Reader, that is also a
// BytesBody. A Put never modifies the bytes. A caller that retries a
// failed Put gives a new BytesReader, or seeks this one back to 0.
type BytesReader struct {
	b   []byte
	off int64 // may be past the end after a Seek
}

var (
	_ BytesBody   = (*BytesReader)(nil)
	_ io.Seeker   = (*BytesReader)(nil)
	_ io.WriterTo = (*BytesReader)(nil)
)

// NewBytesReader returns a BytesReader reading b from its start.
func NewBytesReader(b []byte) *BytesReader { return &BytesReader{b: b} }

// Len returns the number of bytes not read yet.
func (r *BytesReader) Len() int { return len(r.unread()) }

func (r *BytesReader) unread() []byte {
	if r.off >= int64(len(r.b)) {
		return nil
	}
	return r.b[r.off:]
}

// Read implements io.Reader.
func (r *BytesReader) Read(p []byte) (int, error) {
	rest := r.unread()
	if len(rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, rest)
	r.off += int64(n)
	return n, nil
}

// TakeBytes implements BytesBody.
func (r *BytesReader) TakeBytes() ([]byte, bool) {
	b := r.unread()
	r.off += int64(len(b))
	return b, true
}

// WriteTo implements io.WriterTo.
func (r *BytesReader) WriteTo(w io.Writer) (int64, error) {
	b, _ := r.TakeBytes()
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	r.off -= int64(len(b) - n)
	return int64(n), err
}

// Seek implements io.Seeker.
func (r *BytesReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = int64(len(r.b)) + offset
	default:
		return 0, errors.New("objectstore.BytesReader.Seek: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("objectstore.BytesReader.Seek: negative position")
	}
	r.off = abs
	return abs, nil
}

// BodyAlign is the address alignment at which the fs driver writes a
// body's bytes (a BytesBody's) straight from the caller's memory with
// O_DIRECT, on Linux; a body elsewhere is copied through an aligned
// buffer first.
const BodyAlign = 4096

// AlignedBuffer returns an empty slice of capacity n whose first byte is
// at a BodyAlign boundary, for a body that is filled in memory and then
// put.
func AlignedBuffer(n int) []byte {
	if n <= 0 {
		return nil
	}
	b := make([]byte, 0, n)
	if aligned(b[:n]) {
		return b // the Go heap places large allocations at page boundaries
	}
	b = make([]byte, n+BodyAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % BodyAlign); r != 0 {
		off = BodyAlign - r
	}
	return b[off : off : off+n]
}

// aligned reports whether b starts at a BodyAlign boundary.
func aligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%BodyAlign == 0
}
