//go:build !linux

package objectstore

import (
	"io"
	"os"
)

// writeBody copies r to f and returns the bytes written; a body held in
// memory (a BytesBody) is written from the caller's bytes.
func writeBody(f *os.File, r io.Reader, size int64) (int64, error) {
	if body, ok := TakeBytes(r); ok {
		n, err := f.Write(body)
		return int64(n), err
	}
	return io.Copy(f, r)
}
