package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// TestFSPutSizes stores bodies around the direct-write boundaries (block,
// chunk, the smallest direct body) and reads each back whole, on the test
// directory's filesystem and, where there is one, on tmpfs.
func TestFSPutSizes(t *testing.T) {
	dirs := []string{t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "shale-fs-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, d)
		}
	}
	sizes := []int{0, 1, 4095, 4096, 4097, directMin - 1, directMin, directMin + 1,
		directChunk - 1, directChunk, directChunk + 1, directChunk + 4096, 3*directChunk + 12345}
	ctx := context.Background()
	for _, dir := range dirs {
		b, err := NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			body := make([]byte, n)
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("wal/1/%d.obj", n)
			// A reader without WriterTo, handing out odd-sized pieces.
			if err := b.Put(ctx, key, &oddReader{r: bytes.NewReader(body)}, int64(n)); err != nil {
				t.Fatalf("%s: put %d bytes: %v", dir, n, err)
			}
			rc, err := b.ReadRange(ctx, key, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("%s: %d bytes put, %d read back, equal %v", dir, n, len(got), bytes.Equal(got, body))
			}
		}
	}
}

// TestFSPutBodyError: a body that fails in the middle of a direct write
// leaves no object and no temporary file.
func TestFSPutBodyError(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(make([]byte, directChunk+100)), &failReader{err: boom})
	if err := b.Put(context.Background(), "a/b", r, -1); !errors.Is(err, boom) {
		t.Fatalf("put: %v, want %v", err, boom)
	}
	if _, err := b.ReadRange(context.Background(), "a/b", 0, -1); !errors.Is(err, ErrNotExist) {
		t.Fatalf("read after failed put: %v, want ErrNotExist", err)
	}
	filesIn(t, dir+"/a", 0)
}

// filesIn fails unless dir holds exactly n entries (no temporary file
// left behind by a put).
func filesIn(t *testing.T, dir string, n int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Fatalf("%s holds %v, want %d entries", dir, ents, n)
	}
}

type oddReader struct{ r io.Reader }

func (o *oddReader) Read(p []byte) (int, error) {
	if len(p) > 7777 {
		p = p[:7777]
	}
	return o.r.Read(p)
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }
