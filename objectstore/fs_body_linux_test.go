//go:build linux

package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pwriteCall is one write the fs driver made.
type pwriteCall struct {
	addr   uintptr // of the buffer written from
	n      int
	off    int64
	direct bool // O_DIRECT was set on the file
}

// recordPwrites makes the fs driver's writes go through fn (nil: none)
// and records them until the test ends.
func recordPwrites(t *testing.T, fn func(fd int, p []byte, off int64) (int, error)) *[]pwriteCall {
	var calls []pwriteCall
	t.Cleanup(func() { pwrite = unix.Pwrite })
	pwrite = func(fd int, p []byte, off int64) (int, error) {
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		calls = append(calls, pwriteCall{addr: uintptr(unsafe.Pointer(unsafe.SliceData(p))), n: len(p), off: off, direct: flags&unix.O_DIRECT != 0})
		if fn != nil {
			return fn(fd, p, off)
		}
		return unix.Pwrite(fd, p, off)
	}
	return &calls
}

// within reports whether c wrote from b's memory, at the same offset.
func (c pwriteCall) within(b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return c.addr == start+uintptr(c.off) && c.off+int64(c.n) <= int64(len(b))
}

// testDirs are the test's directory (which takes O_DIRECT on most
// filesystems) and, where there is one, one on tmpfs (which does not
// before Linux 6.6).
func testDirs(t *testing.T) []string {
	dirs := []string{t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "shale-fs-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func readBack(t *testing.T, b Bucket, key string) []byte {
	t.Helper()
	rc, err := b.ReadRange(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFSPutBytesWritesCallerMemory: an aligned body in memory, put
// through Counting, is written from the caller's bytes (direct where the
// filesystem takes it) and never copied; it is stored and counted whole,
// and left unchanged.
func TestFSPutBytesWritesCallerMemory(t *testing.T) {
	const n = 3*directChunk + 12345
	body := AlignedBuffer(n)[:n]
	copy(body, patterned(n))
	orig := bytes.Clone(body)
	for _, dir := range testDirs(t) {
		fs, err := NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := NewCounting(fs)
		calls := recordPwrites(t, nil)
		if err := c.Put(context.Background(), "wal/1/a.obj", NewBytesReader(body), n); err != nil {
			t.Fatal(err)
		}
		pwrite = unix.Pwrite
		var direct, written int
		for _, call := range *calls {
			if !call.within(body) {
				t.Fatalf("%s: wrote %d bytes at %d from memory not the body's: %+v", dir, call.n, call.off, *calls)
			}
			written += call.n
			if call.direct {
				direct += call.n
			}
		}
		if written != n {
			t.Fatalf("%s: %d bytes written in %d calls, want %d", dir, written, len(*calls), n)
		}
		t.Logf("%s: %d calls, %d bytes direct", dir, len(*calls), direct)
		if direct != 0 && direct != n&^(directAlign-1) {
			t.Fatalf("%s: %d bytes written direct, want the whole blocks, %d", dir, direct, n&^(directAlign-1))
		}
		if !bytes.Equal(readBack(t, fs, "wal/1/a.obj"), body) {
			t.Fatalf("%s: object differs from the body", dir)
		}
		if st := c.Stats(); st.BytesIn != n || st.Puts != 1 {
			t.Fatalf("%s: stats %+v", dir, st)
		}
		if !bytes.Equal(body, orig) {
			t.Fatalf("%s: the store changed the body", dir)
		}
	}
}

// TestFSPutBytesUnaligned: a body in memory that does not start at a
// block boundary is written through the aligned buffer (its direct writes
// are from there, not from the body) and stored exactly.
func TestFSPutBytesUnaligned(t *testing.T) {
	const n = 2*directChunk + 777
	backing := AlignedBuffer(n + 1)[:n+1]
	body := backing[1:]
	copy(body, patterned(n))
	for _, dir := range testDirs(t) {
		fs, err := NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		calls := recordPwrites(t, nil)
		if err := fs.Put(context.Background(), "wal/1/u.obj", NewBytesReader(body), -1); err != nil {
			t.Fatal(err)
		}
		pwrite = unix.Pwrite
		for _, call := range *calls {
			if call.direct && (call.addr%directAlign != 0 || call.within(body)) {
				t.Fatalf("%s: direct write of %d bytes from %#x", dir, call.n, call.addr)
			}
		}
		if !bytes.Equal(readBack(t, fs, "wal/1/u.obj"), body) {
			t.Fatalf("%s: object differs from the body", dir)
		}
	}
}

// TestFSPutBytesSizes stores bodies in memory around the direct-write
// boundaries, aligned and not, and reads each back whole.
func TestFSPutBytesSizes(t *testing.T) {
	sizes := []int{0, 1, 4095, 4096, 4097, directMin - 1, directMin, directMin + 1,
		directChunk - 1, directChunk, directChunk + 1, directChunk + 4096, 3*directChunk + 12345}
	ctx := context.Background()
	for _, dir := range testDirs(t) {
		b, err := NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			for _, shift := range []int{0, 1, 512} {
				body := AlignedBuffer(n + shift)[shift : n+shift]
				copy(body, patterned(n))
				key := fmt.Sprintf("wal/1/%d-%d.obj", n, shift)
				r := ctxReader{ctx: ctx, r: &countingReader{r: NewBytesReader(body)}}
				if err := b.Put(ctx, key, r, int64(n)); err != nil {
					t.Fatalf("%s: put %d bytes: %v", dir, n, err)
				}
				if got := readBack(t, b, key); !bytes.Equal(got, body) {
					t.Fatalf("%s: %d bytes (shifted %d) put, %d read back", dir, n, shift, len(got))
				}
			}
		}
		// A size other than the one announced fails and leaves nothing.
		if err := b.Put(ctx, "wal/1/short.obj", NewBytesReader(patterned(directMin+10)), directMin+11); err == nil {
			t.Fatalf("%s: a body shorter than announced was stored", dir)
		}
		if _, err := b.Stat(ctx, "wal/1/short.obj"); !IsNotExist(err) {
			t.Fatalf("%s: stat after a failed put: %v", dir, err)
		}
	}
}

// TestFSPutBytesRetry: a Put whose write fails after the store took the
// body leaves nothing, and the caller's retry, rewinding the same reader
// (or giving a new one), stores the right bytes; the counts are those of
// the Put that succeeded.
func TestFSPutBytesRetry(t *testing.T) {
	const n = directChunk + 5000
	body := AlignedBuffer(n)[:n]
	copy(body, patterned(n))
	orig := bytes.Clone(body)
	dir := t.TempDir()
	fs, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounting(fs)
	fail := true
	recordPwrites(t, func(fd int, p []byte, off int64) (int, error) {
		if fail {
			fail = false
			return 0, unix.EIO
		}
		return unix.Pwrite(fd, p, off)
	})
	ctx := context.Background()
	r := NewBytesReader(body)
	err = c.Put(ctx, "wal/1/r.obj", r, n)
	if err == nil {
		t.Fatal("put with a failing write succeeded")
	}
	if r.Len() != 0 {
		t.Fatalf("the store took %d bytes of %d", n-r.Len(), n)
	}
	if _, err := fs.Stat(ctx, "wal/1/r.obj"); !IsNotExist(err) {
		t.Fatalf("stat after the failed put: %v", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "wal/1/r.obj", r, n); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !bytes.Equal(readBack(t, fs, "wal/1/r.obj"), orig) || !bytes.Equal(body, orig) {
		t.Fatal("the retried object, or the body, differs from what was put")
	}
	if st := c.Stats(); st.BytesIn != n || st.Puts != 2 || st.Errors != 1 {
		t.Fatalf("stats %+v", st)
	}
	filesIn(t, dir+"/wal/1", 1)
}

// TestFSPutBytesDirectRefused: a filesystem that refuses a direct write
// (EINVAL) gets the body buffered, still from the caller's memory.
func TestFSPutBytesDirectRefused(t *testing.T) {
	const n = directChunk + 3*directAlign + 10
	body := AlignedBuffer(n)[:n]
	copy(body, patterned(n))
	fs, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	calls := recordPwrites(t, func(fd int, p []byte, off int64) (int, error) {
		if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); flags&unix.O_DIRECT != 0 {
			refused++
			return 0, unix.EINVAL
		}
		return unix.Pwrite(fd, p, off)
	})
	if err := fs.Put(context.Background(), "wal/1/e.obj", NewBytesReader(body), n); err != nil {
		t.Fatal(err)
	}
	pwrite = unix.Pwrite
	for _, call := range *calls {
		if !call.within(body) {
			t.Fatalf("wrote %d bytes at %d from memory not the body's", call.n, call.off)
		}
	}
	if refused > 1 {
		t.Fatalf("%d direct writes tried after the first was refused", refused)
	}
	if !bytes.Equal(readBack(t, fs, "wal/1/e.obj"), body) {
		t.Fatal("object differs from the body")
	}
}
