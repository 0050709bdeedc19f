//go:build !linux

package wal

import "os"

// syncData flushes f's data to stable storage. Platforms without fdatasync
// use a full fsync.
func syncData(f *os.File) error { return f.Sync() }

// dirLock is a no-op outside Linux; one Log per directory is then the
// caller's responsibility.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }

// preallocate extends f to size bytes (sparse); the new bytes read as zeros.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

// writeAtv writes iovs back to back at off.
func writeAtv(f *os.File, iovs [][]byte, off int64) error {
	for _, b := range iovs {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}
