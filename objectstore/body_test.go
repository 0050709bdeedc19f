package objectstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
)

// sameBytes reports whether a and b are the same memory, not just equal.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8)
	}
	return b
}

func TestBytesReader(t *testing.T) {
	body := patterned(100)
	r := NewBytesReader(body)
	var p [30]byte
	if n, err := r.Read(p[:]); n != 30 || err != nil || !bytes.Equal(p[:], body[:30]) {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if r.Len() != 70 {
		t.Fatalf("Len = %d after reading 30 of 100", r.Len())
	}
	rest, ok := TakeBytes(r)
	if !ok || !sameBytes(rest, body[30:]) {
		t.Fatalf("TakeBytes = %d bytes, %v: want the unread 70 of the caller's slice", len(rest), ok)
	}
	if n, err := r.Read(p[:]); n != 0 || err != io.EOF {
		t.Fatalf("Read after TakeBytes = %d, %v, want EOF", n, err)
	}
	if again, ok := TakeBytes(r); !ok || len(again) != 0 {
		t.Fatalf("TakeBytes at the end = %d bytes, %v", len(again), ok)
	}
	// A retry rewinds.
	if pos, err := r.Seek(0, io.SeekStart); pos != 0 || err != nil {
		t.Fatalf("Seek = %d, %v", pos, err)
	}
	var out bytes.Buffer
	if n, err := r.WriteTo(&out); n != 100 || err != nil || !bytes.Equal(out.Bytes(), body) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	if pos, err := r.Seek(-10, io.SeekEnd); pos != 90 || err != nil {
		t.Fatalf("Seek(-10, end) = %d, %v", pos, err)
	}
	if rest, _ := TakeBytes(r); !sameBytes(rest, body[90:]) {
		t.Fatalf("TakeBytes after seeking = %d bytes", len(rest))
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to -1 succeeded")
	}
	if pos, err := r.Seek(500, io.SeekStart); pos != 500 || err != nil {
		t.Fatalf("Seek past the end = %d, %v", pos, err)
	}
	if rest, ok := TakeBytes(r); !ok || len(rest) != 0 {
		t.Fatalf("TakeBytes past the end = %d bytes, %v", len(rest), ok)
	}
	if n, err := r.Read(p[:]); n != 0 || err != io.EOF {
		t.Fatalf("Read past the end = %d, %v", n, err)
	}
	// Not a BytesBody, or a wrapper around one that is not: nothing taken.
	br := bytes.NewReader(body)
	if _, ok := TakeBytes(br); ok || br.Len() != 100 {
		t.Fatal("TakeBytes took from a bytes.Reader")
	}
	cr := &countingReader{r: br}
	if _, ok := TakeBytes(ctxReader{ctx: context.Background(), r: cr}); ok || cr.n != 0 || br.Len() != 100 {
		t.Fatal("TakeBytes took from wrappers around a bytes.Reader")
	}
}

// TestBytesThroughWrappers: the bytes of a BytesReader reach the driver
// through Counting and the context check as the caller's own slice, and
// count as read; once the context is done nothing is taken and Read says
// why.
func TestBytesThroughWrappers(t *testing.T) {
	body := patterned(5000)
	cr := &countingReader{r: NewBytesReader(body)}
	got, ok := TakeBytes(ctxReader{ctx: context.Background(), r: cr})
	if !ok || !sameBytes(got, body) || cr.n != 5000 {
		t.Fatalf("took %d bytes (%v, same memory %v), counted %d", len(got), ok, sameBytes(got, body), cr.n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr = &countingReader{r: NewBytesReader(body)}
	r := ctxReader{ctx: ctx, r: cr}
	if _, ok := TakeBytes(r); ok || cr.n != 0 {
		t.Fatal("bytes taken after the context was canceled")
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

// TestCountingPutCountsTakenBytes: a Put whose driver takes the body's
// bytes counts them as a Put that reads them does.
func TestCountingPutCountsTakenBytes(t *testing.T) {
	body := patterned(12345)
	var seen []byte
	c := NewCounting(&takeBucket{take: func(b []byte) { seen = b }})
	if err := c.Put(context.Background(), "a/b", NewBytesReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if !sameBytes(seen, body) {
		t.Fatal("the driver did not get the caller's bytes")
	}
	if st := c.Stats(); st.BytesIn != 12345 || st.Puts != 1 || st.ClassA != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// takeBucket is a Bucket whose Put takes the body's bytes if it can,
// else reads it, and hands them to take.
type takeBucket struct {
	Bucket
	take func([]byte)
}

func (b *takeBucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	body, ok := TakeBytes(r)
	if !ok {
		var err error
		if body, err = io.ReadAll(r); err != nil {
			return err
		}
	}
	b.take(body)
	return nil
}

// TestPutBodySingleTakesBytes: a body in memory goes to the single
// request as the caller's slice, through the wrappers the drivers and
// Counting add, with no allocation; a reader's body is read into a new
// buffer as before.
func TestPutBodySingleTakesBytes(t *testing.T) {
	body := patterned(1 << 20)
	ctx := context.Background()
	var got []byte
	single := func(b []byte) error { got = b; return nil }
	multi := func(io.Reader) error { t.Fatal("multipart for a body under the threshold"); return nil }
	cr := &countingReader{r: NewBytesReader(body)}
	if err := putBody(ctxReader{ctx: ctx, r: cr}, int64(len(body)), 8<<20, single, multi); err != nil {
		t.Fatal(err)
	}
	if !sameBytes(got, body) || cr.n != int64(len(body)) {
		t.Fatalf("single got %d bytes (same memory %v), counted %d", len(got), sameBytes(got, body), cr.n)
	}
	// Unknown size: the same.
	got = nil
	if err := putBody(NewBytesReader(body), -1, 8<<20, single, multi); err != nil || !sameBytes(got, body) {
		t.Fatalf("size -1: %v, same memory %v", err, sameBytes(got, body))
	}
	put := func() {
		r := &countingReader{r: NewBytesReader(body)}
		if err := putBody(ctxReader{ctx: ctx, r: r}, int64(len(body)), 8<<20, single, multi); err != nil {
			t.Fatal(err)
		}
	}
	if allocs := testing.AllocsPerRun(20, put); allocs > 3 { // the three readers, at most
		t.Fatalf("%.0f allocations a put", allocs)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 20 {
		put()
	}
	runtime.ReadMemStats(&m1)
	if perPut := (m1.TotalAlloc - m0.TotalAlloc) / 20; perPut > 1024 {
		t.Fatalf("%d bytes allocated a put of %d", perPut, len(body))
	}
	// A plain reader still works, into a copy.
	got = nil
	if err := putBody(bytes.NewReader(body), int64(len(body)), 8<<20, single, multi); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) || sameBytes(got, body) {
		t.Fatal("a bytes.Reader's body was not read into a buffer of its own")
	}
}

// TestPutBodyBytesWrongSize: a body in memory of another size than the
// one announced is refused before any request.
func TestPutBodyBytesWrongSize(t *testing.T) {
	body := patterned(100)
	called := false
	single := func([]byte) error { called = true; return nil }
	multi := func(io.Reader) error { called = true; return nil }
	for _, size := range []int64{99, 101} {
		for _, threshold := range []int64{10, 1000} {
			err := putBody(NewBytesReader(body), size, threshold, single, multi)
			if err == nil || called {
				t.Fatalf("size %d threshold %d: err %v, request made %v", size, threshold, err, called)
			}
		}
	}
}

// TestPutBodyMultipartSlicesBytes: a body in memory above the threshold
// goes up in parts that are slices of the caller's bytes, however many
// wrappers were around it; the parts cover it exactly, once.
func TestPutBodyMultipartSlicesBytes(t *testing.T) {
	const partSize = 1000
	for _, n := range []int{2001, 3000, 3999} {
		for _, size := range []int64{int64(n), -1} {
			body := patterned(n)
			var mu sync.Mutex
			parts := map[int][]byte{}
			put := func(_ context.Context, num int, data []byte) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				parts[num] = data
				return num, nil
			}
			multi := func(r io.Reader) error {
				nums, err := uploadParts(context.Background(), ctxReader{ctx: context.Background(), r: r}, size, partSize, 2, put)
				if err != nil {
					return err
				}
				if len(nums) != (n+partSize-1)/partSize {
					t.Errorf("%d bytes: %d parts", n, len(nums))
				}
				return nil
			}
			single := func([]byte) error { t.Fatal("one request for a body over the threshold"); return nil }
			cr := &countingReader{r: NewBytesReader(body)}
			if err := putBody(cr, size, partSize*2, single, multi); err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if cr.n != int64(n) {
				t.Fatalf("%d bytes: counted %d", n, cr.n)
			}
			for num, data := range parts {
				off := (num - 1) * partSize
				if !sameBytes(data, body[off:min(n, off+partSize)]) {
					t.Fatalf("%d bytes: part %d (%d bytes) is not the body's bytes at %d", n, num, len(data), off)
				}
			}
		}
	}
}

// TestUploadPartsReaderStillChecksSize: a reader's body that is longer or
// shorter than announced fails as before (uploadParts now limits it).
func TestUploadPartsReaderStillChecksSize(t *testing.T) {
	put := func(context.Context, int, []byte) (int, error) { return 0, nil }
	for _, n := range []int{2999, 3001} {
		_, err := uploadParts(context.Background(), bytes.NewReader(patterned(n)), 3000, 1000, 2, put)
		if err == nil {
			t.Fatalf("%d bytes for 3000 announced: no error", n)
		}
	}
	if _, err := uploadParts(context.Background(), bytes.NewReader(patterned(3000)), 3000, 1000, 2, put); err != nil {
		t.Fatal(err)
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{1, 100, 4096, 1 << 20, 16<<20 + 12345} {
		b := AlignedBuffer(n)
		if len(b) != 0 || cap(b) != n || !aligned(b[:1]) {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d aligned %v", n, len(b), cap(b), aligned(b[:1]))
		}
	}
	if b := AlignedBuffer(0); cap(b) != 0 {
		t.Fatalf("AlignedBuffer(0) has capacity %d", cap(b))
	}
}

// BenchmarkPutBodySingle is the s3 drivers' path for a 16 MiB body sent
// in one request, through the wrappers a Put goes through: "bytes" gives
// it as a BytesReader (sent as it is), "reader" as a bytes.Reader (read
// into a new buffer first).
func BenchmarkPutBodySingle(b *testing.B) {
	body := patterned(16 << 20)
	ctx := context.Background()
	single := func([]byte) error { return nil }
	multi := func(io.Reader) error { return errors.New("multipart") }
	for _, mode := range []string{"bytes", "reader"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for range b.N {
				var r io.Reader = bytes.NewReader(body)
				if mode == "bytes" {
					r = NewBytesReader(body)
				}
				r = ctxReader{ctx: ctx, r: &countingReader{r: r}}
				if err := putBody(r, int64(len(body)), 64<<20, single, multi); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A fenced reader reads like bytes.Reader until fenced, then refuses
// every read, so a transport that reads a request body late never sees
// memory its caller has reused.
func TestFencedReaderStopsAtFence(t *testing.T) {
	f := &fencedReader{r: bytes.NewReader([]byte("abcdef"))}
	p := make([]byte, 2)
	if n, err := f.Read(p); n != 2 || err != nil || string(p) != "ab" {
		t.Fatalf("Read = %d, %v, %q", n, err, p[:n])
	}
	if f.Len() != 4 {
		t.Fatalf("Len = %d, want 4", f.Len())
	}
	if pos, err := f.Seek(0, io.SeekStart); pos != 0 || err != nil {
		t.Fatalf("Seek = %d, %v", pos, err)
	}
	if n, err := f.ReadAt(p, 4); n != 2 || err != nil || string(p) != "ef" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, p[:n])
	}
	f.fence()
	if _, err := f.Read(p); !errors.Is(err, errFenced) {
		t.Fatalf("Read after fence: %v", err)
	}
	if _, err := f.ReadAt(p, 0); !errors.Is(err, errFenced) {
		t.Fatalf("ReadAt after fence: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); !errors.Is(err, errFenced) {
		t.Fatalf("Seek after fence: %v", err)
	}
}
