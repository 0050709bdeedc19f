//go:build !linux

package objectstore

import (
	"io"
	"os"
)

// writeBody copies r to f and returns the bytes written.
func writeBody(f *os.File, r io.Reader, size int64) (int64, error) {
	return io.Copy(f, r)
}
