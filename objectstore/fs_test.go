package objectstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/objectstore/objectstoretest"
)

func newFSBucket(t *testing.T) objectstore.Bucket {
	t.Helper()
	b, err := objectstore.NewFS(t.TempDir())
	if err != nil {
		t.Fatalf("NewFS: %v", err)
	}
	return b
}

func TestFSAcceptance(t *testing.T) {
	objectstoretest.AcceptanceTest(t, newFSBucket)
}

func TestFSTempFilesAreHiddenAndCleared(t *testing.T) {
	dir := t.TempDir()
	b, err := objectstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, "seg/a", bytes.NewReader([]byte("a")), 1); err != nil {
		t.Fatal(err)
	}
	// What a crash in the middle of a Put leaves behind.
	leftovers := []string{
		filepath.Join(dir, ".shale-tmp-123"),
		filepath.Join(dir, "seg", ".shale-tmp-456"),
	}
	for _, p := range leftovers {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	if err := b.List(ctx, "", func(info objectstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"seg/a"}) {
		t.Fatalf("List = %q, want only [seg/a]", keys)
	}
	if _, err := objectstore.NewFS(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range leftovers {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("NewFS left %s behind (stat: %v)", p, err)
		}
	}
}

func TestFSSkipsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	b := mustFS(t, dir)
	ctx := context.Background()
	if err := b.Put(ctx, "real", bytes.NewReader([]byte("r")), 1); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "back\\slash"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.List(ctx, "", func(info objectstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"real"}) {
		t.Fatalf("List = %q, want only [real]", keys)
	}
}

func TestFSDeleteRemovesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	b := mustFS(t, dir)
	ctx := context.Background()
	for _, k := range []string{"a/b/c/one", "a/keep"} {
		if err := b.Put(ctx, k, bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, "a/b/c/one"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b")); !os.IsNotExist(err) {
		t.Fatalf("empty directory a/b survived the delete (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "keep")); err != nil {
		t.Fatalf("sibling object lost: %v", err)
	}
	// Deleting a directory's name is a no-op, not an error.
	if err := b.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete of a directory name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "keep")); err != nil {
		t.Fatalf("Delete of a directory name removed its contents: %v", err)
	}
}

func TestFSObjectAndDirectoryConflict(t *testing.T) {
	b := mustFS(t, t.TempDir())
	ctx := context.Background()
	if err := b.Put(ctx, "x", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "x/y", bytes.NewReader([]byte("y")), 1); err == nil {
		t.Fatalf("Put(x/y) over object x succeeded on a filesystem")
	}
	if err := b.Put(ctx, "d/e", bytes.NewReader([]byte("e")), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "d", bytes.NewReader([]byte("d")), 1); err == nil {
		t.Fatalf("Put(d) over directory d succeeded")
	}
	if _, err := b.Stat(ctx, "d"); !objectstore.IsNotExist(err) {
		t.Fatalf("Stat of a directory = %v, want ErrNotExist", err)
	}
}

func TestNewFSRejectsAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.NewFS(p); err == nil {
		t.Fatalf("NewFS on a regular file succeeded")
	}
	if _, err := objectstore.NewFS(""); err == nil {
		t.Fatalf("NewFS(\"\") succeeded")
	}
}

func mustFS(t testing.TB, dir string) objectstore.Bucket {
	t.Helper()
	b, err := objectstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func BenchmarkFSPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 8 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			bkt := mustFS(b, b.TempDir())
			data := bytes.Repeat([]byte{7}, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				if err := bkt.Put(ctx, "bench/obj-"+byteSize(i), bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFSReadRange(b *testing.B) {
	bkt := mustFS(b, b.TempDir())
	ctx := context.Background()
	data := bytes.Repeat([]byte{3}, 8<<20)
	if err := bkt.Put(ctx, "obj", bytes.NewReader(data), int64(len(data))); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	off := int64(0)
	for b.Loop() {
		body, err := bkt.ReadRange(ctx, "obj", off, int64(len(buf)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := body.Read(buf); err != nil {
			b.Fatal(err)
		}
		body.Close()
		off = (off + int64(len(buf))) % int64(len(data))
	}
}

func BenchmarkFSList(b *testing.B) {
	bkt := mustFS(b, b.TempDir())
	ctx := context.Background()
	for i := range 1000 {
		if err := bkt.Put(ctx, "p/"+byteSize(i%10)+"/"+byteSize(i), bytes.NewReader(nil), 0); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n := 0
		if err := bkt.List(ctx, "p/", func(objectstore.ObjectInfo) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatalf("List: %d objects, %v", n, err)
		}
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}
