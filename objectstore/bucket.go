package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	// Key is the object's key relative to the bucket (and its prefix, if
	// the bucket was opened with one).
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written, as the store reports it.
	ModTime time.Time
}

// Bucket is a flat namespace of immutable byte objects. It moves bytes and
// keys and knows nothing about what they mean.
//
// Every method is safe for concurrent use. Keys must satisfy ValidateKey;
// a method given a bad key returns an error and touches nothing.
type Bucket interface {
	// Put stores size bytes read from r under key. Readers see all of the
	// object or none of it, never a prefix; a Put that returns an error
	// leaves no new object behind (an earlier object under the same key,
	// if any, stays as it was). size must be the exact number of bytes r
	// yields, or negative when unknown; a body shorter or longer than a
	// non-negative size is an error. Shale writes each key once, but a Put
	// of an existing key replaces it atomically.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// ReadRange returns a body holding the bytes [off, off+length) of the
	// object, or [off, end) when length is negative. off must not be
	// negative.
	//
	// A range that runs past the end of the object is cut at the end: the
	// body holds min(length, size-off) bytes, and none when off >= size.
	// That short body is the documented answer, not an error; a body that
	// ends early for any other reason (a broken connection) returns an
	// error from Read, typically io.ErrUnexpectedEOF. A missing key gives
	// an error that wraps ErrNotExist. The caller must Close the body.
	ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)

	// Stat returns the object's size and modification time. A missing key
	// gives an error that wraps ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List calls fn for every object whose key starts with prefix, in
	// lexical (byte-wise) key order. prefix need not end at a "/"; the
	// empty prefix lists everything. If fn returns an error, List stops and
	// returns that error unchanged. Objects written or deleted while List
	// runs may or may not be seen.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// Close releases the bucket's resources. Calls after Close fail.
	Close() error
}

// PutRequestCounter is implemented by buckets whose Put may cost more than
// one class A request, such as the s3 driver's multipart uploads. Counting
// uses it to report requests as the store bills them.
type PutRequestCounter interface {
	// PutRequests returns how many class A requests a Put of size bytes
	// makes when nothing fails.
	PutRequests(size int64) int64
}

// ErrNotExist is wrapped by every error that reports a missing object.
var ErrNotExist = errors.New("object does not exist")

// ErrClosed is returned by calls on a closed bucket.
var ErrClosed = errors.New("bucket is closed")

// IsNotExist reports whether err says that an object does not exist.
func IsNotExist(err error) bool {
	return errors.Is(err, ErrNotExist)
}

// MaxKeyLen is the longest key a Bucket accepts, in bytes. It leaves room
// under S3's 1024-byte limit for a bucket prefix.
const MaxKeyLen = 768

// tempMarker begins the names of the fs driver's in-flight files; no key
// segment may begin with it, so such files can never be listed or read.
const tempMarker = ".shale-tmp-"

// ValidateKey reports why key cannot name an object, or nil if it can.
// A key is valid UTF-8 of 1 to MaxKeyLen bytes made of "/"-separated
// segments; no segment is empty, ".", ".." or begins with ".shale-tmp-",
// and no byte is NUL, a control character or a backslash. So a key never
// starts or ends with "/" and never escapes the bucket in any driver.
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("key is empty")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key is %d bytes, more than %d", len(key), MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("key %q has control byte 0x%02x at %d", key, c, i)
		}
		if c == '\\' {
			return fmt.Errorf("key %q has a backslash at %d", key, i)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("key %q has an empty segment", key)
		case seg == "." || seg == "..":
			return fmt.Errorf("key %q has a %q segment", key, seg)
		case strings.HasPrefix(seg, tempMarker):
			return fmt.Errorf("key %q has a segment starting with reserved %q", key, tempMarker)
		}
	}
	return nil
}

// validatePrefix checks a List prefix: the empty string, or text that could
// begin a valid key (it may end in "/" or in the middle of a segment).
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	k := strings.TrimSuffix(prefix, "/")
	if k == "" {
		return fmt.Errorf("prefix %q has an empty segment", prefix)
	}
	// A trailing partial segment like "." or ".." could still begin a valid
	// segment such as ".x", so only whole segments are held to the rules.
	last := strings.LastIndexByte(k, '/')
	if strings.HasSuffix(prefix, "/") {
		if err := ValidateKey(k); err != nil {
			return fmt.Errorf("bad prefix: %w", err)
		}
		return nil
	}
	if last >= 0 {
		if err := ValidateKey(k[:last]); err != nil {
			return fmt.Errorf("bad prefix: %w", err)
		}
	}
	tail := k[last+1:]
	if err := ValidateKey("x" + tail); err != nil || !utf8.ValidString(tail) {
		return fmt.Errorf("bad prefix %q: its last segment cannot begin a key", prefix)
	}
	return nil
}

// checkRange validates ReadRange arguments.
func checkRange(off, length int64) error {
	if off < 0 {
		return fmt.Errorf("negative offset %d", off)
	}
	return nil
}
