//go:build linux

package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// syncData flushes f's data and the metadata needed to read it back
// (fdatasync). EINTR is retried; any other error is final: after a failed
// fdatasync the kernel may have dropped the dirty pages, so the caller must
// not retry and claim durability.
func syncData(f *os.File) error {
	return onFD(f, unix.Fdatasync)
}

// writeAtv writes iovs back to back at off with pwritev, at most IOV_MAX
// pieces a call, until every byte is written.
func writeAtv(f *os.File, iovs [][]byte, off int64) error {
	const iovMax = 1024
	for len(iovs) > 0 {
		batch := iovs[:min(len(iovs), iovMax)]
		var n int
		err := onFD(f, func(fd int) error {
			var err error
			n, err = unix.Pwritev(fd, batch, off)
			return err
		})
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		off += int64(n)
		// Drop what was written; a short write leaves part of a piece.
		for n > 0 && len(iovs) > 0 {
			if n < len(iovs[0]) {
				iovs[0] = iovs[0][n:]
				n = 0
				break
			}
			n -= len(iovs[0])
			iovs = iovs[1:]
		}
	}
	return nil
}

// onFD calls op on f's descriptor, again as long as it fails with EINTR.
func onFD(f *os.File, op func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			opErr = op(int(fd))
			if !errors.Is(opErr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return opErr
}

// dirLock holds an exclusive advisory lock on a WAL directory so that two
// processes never append to the same log.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("directory %s is in use by another log", dir)
		}
		return nil, err
	}
	return &dirLock{f: f}, nil
}

func (d *dirLock) release() error { return d.f.Close() }
