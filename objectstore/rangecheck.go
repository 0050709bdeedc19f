package objectstore

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BadResponseError reports an answer from an object store that breaks the
// S3 protocol: a Content-Range that is not the range asked for, a missing
// or contradictory length, a listing out of order. The store (or something
// between it and Shale) is broken, so the error is not retriable; a body
// that merely ends early is reported as io.ErrUnexpectedEOF instead, which
// is.
type BadResponseError struct {
	Op     string // "read", "list", "stat", "put"
	Key    string // the object (or list prefix) concerned
	Off    int64  // the offset asked for, for reads
	Reason string
}

func (e *BadResponseError) Error() string {
	if e.Op == "read" {
		return fmt.Sprintf("bad response to %s %s at offset %d: %s", e.Op, e.Key, e.Off, e.Reason)
	}
	return fmt.Sprintf("bad response to %s %s: %s", e.Op, e.Key, e.Reason)
}

// contentRange is a parsed "Content-Range: bytes first-last/total" header.
// total is -1 when the server sent "*".
type contentRange struct {
	first, last, total int64
}

// parseContentRange parses the value of a Content-Range header of a 206
// answer. It accepts only the single-range form "bytes FIRST-LAST/TOTAL"
// (TOTAL may be "*") with first <= last < total.
func parseContentRange(v string) (contentRange, error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return contentRange{}, fmt.Errorf("Content-Range %q does not start with \"bytes \"", v)
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return contentRange{}, fmt.Errorf("Content-Range %q has no total", v)
	}
	first, last, ok := strings.Cut(span, "-")
	if !ok {
		return contentRange{}, fmt.Errorf("Content-Range %q has no byte span", v)
	}
	var cr contentRange
	var err error
	if cr.first, err = parseDecimal(first); err != nil {
		return contentRange{}, fmt.Errorf("Content-Range %q: first byte: %v", v, err)
	}
	if cr.last, err = parseDecimal(last); err != nil {
		return contentRange{}, fmt.Errorf("Content-Range %q: last byte: %v", v, err)
	}
	if cr.last < cr.first {
		return contentRange{}, fmt.Errorf("Content-Range %q ends before it starts", v)
	}
	cr.total = -1
	if total != "*" {
		if cr.total, err = parseDecimal(total); err != nil {
			return contentRange{}, fmt.Errorf("Content-Range %q: total: %v", v, err)
		}
		if cr.last >= cr.total {
			return contentRange{}, fmt.Errorf("Content-Range %q runs past its total", v)
		}
	}
	return cr, nil
}

// parseDecimal parses a non-negative decimal of at most 19 digits, with no
// sign, spaces or other decoration.
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("%q is not a byte position", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a byte position", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// rangeAnswer is what a GET for [off, off+length) (length < 0: to the end)
// was answered with, as far as the body's framing is concerned.
type rangeAnswer struct {
	// ranged says whether a Range header was sent.
	ranged bool
	// contentLength is the Content-Length header, -1 if absent.
	contentLength int64
	// contentRange is the Content-Range header, "" if absent.
	contentRange string
}

// checkRangeAnswer works out from the answer's headers how many bytes of
// the body belong to [off, off+length) and how many to skip before them,
// or reports why the answer cannot be the one asked for.
//
// A 206 answer must name exactly the range asked for, cut at the object's
// end and no shorter, with a Content-Length that agrees. An answer without
// Content-Range is the whole object (a server may ignore Range); then the
// wanted bytes are cut out of it.
func checkRangeAnswer(key string, off, length int64, a rangeAnswer) (skip, want int64, err error) {
	bad := func(format string, args ...any) (int64, int64, error) {
		return 0, 0, &BadResponseError{Op: "read", Key: key, Off: off, Reason: fmt.Sprintf(format, args...)}
	}
	if a.contentLength < 0 {
		return bad("no Content-Length")
	}
	// end is one past the last byte asked for; -1 means to the object's end.
	end := int64(-1)
	if length >= 0 && off <= (1<<63-1)-length {
		end = off + length
	}
	if a.contentRange == "" {
		// The whole object, of contentLength bytes (asked for, or a
		// server that ignored Range): cut the range out of it.
		size := a.contentLength
		if off >= size {
			return size, 0, nil
		}
		want := size - off
		if end >= 0 {
			want = min(want, end-off)
		}
		return off, want, nil
	}
	if !a.ranged {
		return bad("Content-Range %q answers a request for the whole object", a.contentRange)
	}
	cr, err := parseContentRange(a.contentRange)
	if err != nil {
		return bad("%v", err)
	}
	n := cr.last - cr.first + 1
	switch {
	case cr.first != off:
		return bad("Content-Range %q does not start at %d", a.contentRange, off)
	case n != a.contentLength:
		return bad("Content-Range %q holds %d bytes but Content-Length is %d", a.contentRange, n, a.contentLength)
	case end >= 0 && cr.last >= end:
		return bad("Content-Range %q runs past the requested end %d", a.contentRange, end-1)
	case cr.total < 0:
		return bad("Content-Range %q does not give the object's size", a.contentRange)
	}
	// The range must be cut at the object's end, not before it.
	wantLast := cr.total - 1
	if end >= 0 {
		wantLast = min(wantLast, end-1)
	}
	if cr.last != wantLast {
		return bad("Content-Range %q stops short of byte %d", a.contentRange, wantLast)
	}
	return 0, n, nil
}

// exactBody yields exactly want bytes of body after discarding skip, and
// reports a body that ends early as io.ErrUnexpectedEOF (so IsRetriable
// says yes). It stops reading at want bytes, whatever follows.
type exactBody struct {
	body io.ReadCloser
	key  string
	off  int64 // the object offset of the next byte handed out
	skip int64
	left int64
}

func newExactBody(body io.ReadCloser, key string, off, skip, want int64) io.ReadCloser {
	return &exactBody{body: body, key: key, off: off, skip: skip, left: want}
}

func (e *exactBody) Read(p []byte) (int, error) {
	if e.skip > 0 {
		n, err := io.CopyN(io.Discard, e.body, e.skip)
		e.skip -= n
		if err != nil {
			return 0, e.short(err)
		}
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.body.Read(p)
	e.left -= int64(n)
	e.off += int64(n)
	if err != nil && e.left > 0 {
		return n, e.short(err)
	}
	// Whatever follows the wanted bytes (an error included) is not ours.
	return n, nil
}

func (e *exactBody) short(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %s: body ended %d bytes early at offset %d: %w", e.key, e.left+e.skip, e.off, err)
}

func (e *exactBody) Close() error { return e.body.Close() }
