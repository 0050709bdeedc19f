//go:build linux

package objectstore

import (
	"bytes"
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
// last partial block with a buffered write. A body held in memory (a
// BytesBody, such as the uploader's objects) that starts at a BodyAlign
// boundary is written direct from its own bytes, with no copy at all. A
// filesystem that refuses O_DIRECT (tmpfs before Linux 6.6, ext4 with
// data=journal) gets buffered writes, as before. The caller fsyncs either
// way, so durability is unchanged.

const (
	// directAlign is the alignment of O_DIRECT buffers, offsets and
	// lengths: the largest logical block size of common devices.
	directAlign = BodyAlign
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
// the bytes written; size is the body's announced size, or -1. A body held
// in memory (a BytesBody) is written from the caller's bytes: with
// O_DIRECT straight from them when they start at a BodyAlign boundary,
// else through the aligned buffer as a reader's bytes are.
func writeBody(f *os.File, r io.Reader, size int64) (int64, error) {
	body, whole := TakeBytes(r)
	if whole {
		size = int64(len(body))
	}
	if size >= 0 && size < directMin {
		if whole {
			n, err := f.Write(body)
			return int64(n), err
		}
		return io.Copy(f, r)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		if whole {
			n, err := f.Write(body)
			return int64(n), err
		}
		return io.Copy(f, r)
	}
	var n int64
	var werr error
	if cerr := rc.Control(func(fd uintptr) {
		switch {
		case !whole:
			n, werr = writeDirect(int(fd), r)
		case aligned(body):
			n, werr = writeDirectBytes(int(fd), body)
		default:
			n, werr = writeDirect(int(fd), bytes.NewReader(body))
		}
	}); cerr != nil {
		return n, cerr
	}
	return n, werr
}

// directFile is a file being written from offset 0, with O_DIRECT while
// the filesystem takes it.
type directFile struct {
	fd     int
	flags  int  // the file's status flags before O_DIRECT was set
	direct bool // O_DIRECT is set
}

// startDirect sets O_DIRECT on fd if the filesystem takes it. The caller
// calls setBuffered when done.
func startDirect(fd int) (*directFile, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, fmt.Errorf("get file flags: %w", err)
	}
	_, serr := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_DIRECT)
	return &directFile{fd: fd, flags: flags, direct: serr == nil}, nil
}

// setBuffered clears O_DIRECT and reports whether it was set until now.
func (d *directFile) setBuffered() (bool, error) {
	if !d.direct {
		return false, nil
	}
	d.direct = false
	if _, err := unix.FcntlInt(uintptr(d.fd), unix.F_SETFL, d.flags&^unix.O_DIRECT); err != nil {
		return false, fmt.Errorf("clear O_DIRECT: %w", err)
	}
	return true, nil
}

// writeLast writes p, the file's last bytes, at off (a multiple of
// directAlign; p starts at a directAlign boundary in memory): its whole
// blocks direct, the rest buffered. It returns the bytes written.
func (d *directFile) writeLast(p []byte, off int64) (int64, error) {
	var n int64
	if whole := len(p) &^ (directAlign - 1); whole > 0 && d.direct {
		if err := pwriteAll(d.fd, p[:whole], off, d.setBuffered); err != nil {
			return n, err
		}
		n += int64(whole)
		p = p[whole:]
	}
	if len(p) > 0 {
		if _, err := d.setBuffered(); err != nil {
			return n, err
		}
		if err := pwriteAll(d.fd, p, off+n, d.setBuffered); err != nil {
			return n, err
		}
		n += int64(len(p))
	}
	return n, nil
}

// writeDirectBytes writes body, which starts at a directAlign boundary,
// to fd from offset 0: its whole blocks with O_DIRECT straight from
// body's memory while the filesystem takes it, the rest buffered.
func writeDirectBytes(fd int, body []byte) (int64, error) {
	d, err := startDirect(fd)
	if err != nil {
		return 0, err
	}
	defer d.setBuffered()
	return d.writeLast(body, 0)
}

// writeDirect writes r to fd from offset 0, with O_DIRECT while the
// filesystem takes it, copying r's bytes into an aligned buffer.
func writeDirect(fd int, r io.Reader) (int64, error) {
	d, err := startDirect(fd)
	if err != nil {
		return 0, err
	}
	defer d.setBuffered()

	buf := getDirectBuffer()
	defer putDirectBuffer(buf)
	var off int64
	for {
		m, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return off, rerr
		}
		if m < len(buf) {
			// The last chunk: its whole blocks direct, the rest buffered.
			n, err := d.writeLast(buf[:m], off)
			return off + n, err
		}
		if err := pwriteAll(fd, buf, off, d.setBuffered); err != nil {
			return off, err
		}
		off += int64(m)
	}
}

// pwrite is unix.Pwrite; tests replace it to see what is written from
// where.
var pwrite = unix.Pwrite

// pwriteAll writes p at off. A direct write refused with EINVAL (the
// filesystem or the device does not take it) is retried buffered, and so
// is everything after it; setBuffered reports whether it turned direct
// writes off just now.
func pwriteAll(fd int, p []byte, off int64, setBuffered func() (bool, error)) error {
	for len(p) > 0 {
		n, err := pwrite(fd, p, off)
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
