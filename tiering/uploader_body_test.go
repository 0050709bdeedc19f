package tiering

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/wal"
)

// Spare object bodies: a new one has room for a slightly larger segment,
// and the spares keep the largest bodies, so that a run of small segments
// does not leave full-size ones to be allocated anew every time.
func TestUploaderBodySpares(t *testing.T) {
	u := &Uploader{}
	b := u.bodyBuffer(16 << 20)
	if cap(b) < 16<<20+2<<20 {
		t.Fatalf("new body of %d bytes for 16 MiB: no headroom", cap(b))
	}
	u.keepBody(b)
	for range maxSpareBodies + 2 {
		u.keepBody(make([]byte, 0, 1<<20))
	}
	if len(u.bodies) != maxSpareBodies {
		t.Fatalf("%d spares, want %d", len(u.bodies), maxSpareBodies)
	}
	got := u.bodyBuffer(17 << 20)
	if &got[:1][0] != &b[:1][0] {
		t.Fatal("the large spare was dropped for small ones")
	}
	// A larger body replaces the smallest spare.
	big := make([]byte, 0, 32<<20)
	u.keepBody(big)
	found := false
	for _, s := range u.bodies {
		if cap(s) == 32<<20 {
			found = true
		}
	}
	if !found {
		t.Fatal("a larger body was not kept")
	}
}

// New object bodies start at an objectstore.BodyAlign boundary, so that
// the fs store writes them straight from the uploader's memory.
func TestUploaderBodyAligned(t *testing.T) {
	u := &Uploader{}
	for _, n := range []int{1, 4097, 1 << 20, 16<<20 + 12345} {
		b := u.bodyBuffer(n)
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1]))); p%objectstore.BodyAlign != 0 {
			t.Fatalf("body for %d bytes at %#x", n, p)
		}
	}
}

// takeFirstFails is a store whose first Put takes the body's bytes and
// fails; it records whether every Put's body was the uploader's memory,
// aligned, as an objectstore.BytesBody.
type takeFirstFails struct {
	objectstore.Bucket
	mu     sync.Mutex
	puts   int
	notMem int // bodies that were not an aligned BytesBody
}

func (s *takeFirstFails) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	body, ok := objectstore.TakeBytes(r)
	s.mu.Lock()
	s.puts++
	first := s.puts == 1
	if !ok || int64(len(body)) != size || len(body) > 0 && uintptr(unsafe.Pointer(&body[0]))%objectstore.BodyAlign != 0 {
		s.notMem++
	}
	s.mu.Unlock()
	if !ok {
		return s.Bucket.Put(ctx, key, r, size)
	}
	if first {
		return errors.New("injected: connection reset after the body was sent")
	}
	return s.Bucket.Put(ctx, key, objectstore.NewBytesReader(body), size)
}

// TestUploaderPutsBodyBytesAndRetries: the uploader gives the store each
// object's body as its own aligned bytes; a PUT that fails after the
// store took them is retried with the whole body, and every offset reads
// back.
func TestUploaderPutsBodyBytesAndRetries(t *testing.T) {
	f := newUploadFixture(t, 3)
	rng := rand.New(rand.NewPCG(21, 22))
	store := &takeFirstFails{Bucket: f.bucket}
	u := f.uploaderWith(t, 0, store, f.meta, nil)
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 200, next)
	f.waitCommitted(t, next)
	if st := u.Stats(); st.PutErrors == 0 {
		t.Fatalf("stats %+v: the failed PUT was not counted", st)
	}
	store.mu.Lock()
	puts, notMem := store.puts, store.notMem
	store.mu.Unlock()
	if puts < 2 || notMem != 0 {
		t.Fatalf("%d PUTs, %d of them not given the body's aligned bytes", puts, notMem)
	}
	r := newUploadReader(t, f)
	for k, end := range next {
		readsEveryOffset(t, r, k, end)
	}
}
