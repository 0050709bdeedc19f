//go:build linux

package objectstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Direct writes. A Put's file is fsynced at once and read back rarely (a
// cold read or a compaction, later), so copying the body into the page
// cache only to write it back at the fsync is wasted work: in the broker's
// profile under 1 KiB produce, the fs driver's buffered writes (the kernel
// copy into new page-cache pages, their allocation, the writeback) were a
// fifth of the broker's CPU. writeBody therefore writes the body with
// O_DIRECT, in aligned chunks from a pooled aligned buffer, and only the
// last partial block with a buffered write. A filesystem that refuses
// O_DIRECT (tmpfs, ext4 with data=journal) gets buffered writes, as
// before. The caller fsyncs either way, so durability is unchanged.

const (
	// directAlign is the alignment of O_DIRECT buffers, offsets and
	// lengths: the largest logical block size of common devices.
	directAlign = 4096
	// directChunk is the size of one direct write.
	directChunk = 2 << 20
	// directMin is the smallest body worth a direct write; smaller ones
	// are copied through the page cache as before.
	directMin = 256 << 10
)

// directBuffers keeps the aligned buffers of finished Puts (a Pool
// would drop them at every collection, and uploads run a few at a time).
var directBuffers = make(chan []byte, 4)

func getDirectBuffer() []byte {
	select {
	case b := <-directBuffers:
		return b
	default:
	}
	b := make([]byte, directChunk+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % directAlign); r != 0 {
		off = directAlign - r
	}
	return b[off : off+directChunk : off+directChunk]
}

func putDirectBuffer(b []byte) {
	select {
	case directBuffers <- b:
	default:
	}
}

// writeBody copies r to f (an empty file opened for writing) and returns
// the bytes written; size is the body's announced size, or -1.
func writeBody(f *os.File, r io.Reader, size int64) (int64, error) {
	if size >= 0 && size < directMin {
		return io.Copy(f, r)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return io.Copy(f, r)
	}
	var n int64
	var werr error
	if cerr := rc.Control(func(fd uintptr) { n, werr = writeDirect(int(fd), r) }); cerr != nil {
		return n, cerr
	}
	return n, werr
}

// writeDirect writes r to fd from offset 0, with O_DIRECT while the
// filesystem takes it.
func writeDirect(fd int, r io.Reader) (int64, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return 0, fmt.Errorf("get file flags: %w", err)
	}
	_, serr := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_DIRECT)
	direct := serr == nil
	setBuffered := func() (bool, error) {
		if !direct {
			return false, nil
		}
		direct = false
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&^unix.O_DIRECT); err != nil {
			return false, fmt.Errorf("clear O_DIRECT: %w", err)
		}
		return true, nil
	}
	defer setBuffered()

	buf := getDirectBuffer()
	defer putDirectBuffer(buf)
	var off int64
	for {
		m, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return off, rerr
		}
		chunk := buf[:m]
		if m < len(buf) {
			// The last chunk: its whole blocks direct, the rest buffered.
			if aligned := m &^ (directAlign - 1); aligned > 0 && direct {
				if err := pwriteAll(fd, chunk[:aligned], off, setBuffered); err != nil {
					return off, err
				}
				off += int64(aligned)
				chunk = chunk[aligned:]
			}
			if len(chunk) > 0 {
				if _, err := setBuffered(); err != nil {
					return off, err
				}
				if err := pwriteAll(fd, chunk, off, setBuffered); err != nil {
					return off, err
				}
				off += int64(len(chunk))
			}
			return off, nil
		}
		if err := pwriteAll(fd, chunk, off, setBuffered); err != nil {
			return off, err
		}
		off += int64(m)
	}
}

// pwriteAll writes p at off. A direct write refused with EINVAL (the
// filesystem or the device does not take it) is retried buffered, and so
// is everything after it; setBuffered reports whether it turned direct
// writes off just now.
func pwriteAll(fd int, p []byte, off int64, setBuffered func() (bool, error)) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EINVAL) {
			switched, serr := setBuffered()
			if serr != nil {
				return serr
			}
			if switched {
				continue
			}
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrShortWrite
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}
