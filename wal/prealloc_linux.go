//go:build linux

package wal

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate allocates f's blocks up to size bytes, extending its length.
// The new bytes read as zeros. Filesystems without fallocate get a sparse
// extension instead.
func preallocate(f *os.File, size int64) error {
	err := onFD(f, func(fd int) error { return unix.Fallocate(fd, 0, 0, size) })
	if errors.Is(err, unix.EOPNOTSUPP) {
		return f.Truncate(size)
	}
	return err
}
