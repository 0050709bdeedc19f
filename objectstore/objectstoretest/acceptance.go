// Package objectstoretest holds the acceptance suite every objectstore
// driver and wrapper must pass.
package objectstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shalelog/shale/objectstore"
)

// LargeObjectSize is the size of the suite's large object. Drivers that
// switch to multipart uploads should set their threshold and part size
// below it (the s3 driver's minimum part size, 5 MiB, gives three parts).
const LargeObjectSize = 11<<20 + 12345

// AcceptanceTest runs the Bucket contract against buckets made by
// newBucket. Each subtest gets its own bucket, which must start empty; the
// suite closes it.
func AcceptanceTest(t *testing.T, newBucket func(t *testing.T) objectstore.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b objectstore.Bucket)
	}{
		{"PutReadWhole", testPutReadWhole},
		{"RangedReads", testRangedReads},
		{"EmptyObject", testEmptyObject},
		{"NotExist", testNotExist},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"ListOrderAndPrefix", testListOrderAndPrefix},
		{"ListStopsOnCallbackError", testListStopsOnCallbackError},
		{"OverwriteAtomic", testOverwriteAtomic},
		{"FailedPutLeavesNothing", testFailedPutLeavesNothing},
		{"SizeMismatch", testSizeMismatch},
		{"UnknownSize", testUnknownSize},
		{"LargeObject", testLargeObject},
		{"BytesBody", testBytesBody},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ContextCanceled", testContextCanceled},
		{"BadKeys", testBadKeys},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(t)
			closed := false
			t.Cleanup(func() {
				if !closed {
					b.Close()
				}
			})
			if tc.name == "Closed" {
				closed = true
			}
			tc.fn(t, b)
		})
	}
}

// payload returns n deterministic pseudo-random bytes that differ by seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5a1e))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func put(t *testing.T, b objectstore.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func read(t *testing.T, b objectstore.Bucket, key string, off, length int64) []byte {
	t.Helper()
	body, err := b.ReadRange(context.Background(), key, off, length)
	if err != nil {
		t.Fatalf("ReadRange(%q, %d, %d): %v", key, off, length, err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("ReadRange(%q, %d, %d): read body: %v", key, off, length, err)
	}
	return got
}

func list(t *testing.T, b objectstore.Bucket, prefix string) []objectstore.ObjectInfo {
	t.Helper()
	var got []objectstore.ObjectInfo
	if err := b.List(context.Background(), prefix, func(info objectstore.ObjectInfo) error {
		got = append(got, info)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func listKeys(t *testing.T, b objectstore.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for _, info := range list(t, b, prefix) {
		keys = append(keys, info.Key)
	}
	return keys
}

func mustNotExist(t *testing.T, b objectstore.Bucket, key string) {
	t.Helper()
	_, err := b.Stat(context.Background(), key)
	if !objectstore.IsNotExist(err) {
		t.Fatalf("Stat(%q) = %v, want an error wrapping ErrNotExist", key, err)
	}
}

func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testPutReadWhole(t *testing.T, b objectstore.Bucket) {
	data := payload(1, 100<<10+7)
	put(t, b, "dir/sub/object.bin", data)
	equalBytes(t, "whole read", read(t, b, "dir/sub/object.bin", 0, -1), data)
	info, err := b.Stat(context.Background(), "dir/sub/object.bin")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "dir/sub/object.bin" || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, want key dir/sub/object.bin size %d", info, len(data))
	}
	if info.ModTime.IsZero() {
		t.Fatalf("Stat ModTime is zero")
	}
}

func testRangedReads(t *testing.T, b objectstore.Bucket) {
	data := payload(2, 1000)
	put(t, b, "ranges", data)
	cases := []struct {
		off, length int64
		want        []byte
	}{
		{0, 10, data[:10]},           // start
		{500, 100, data[500:600]},    // middle
		{990, 10, data[990:]},        // exactly the end
		{990, -1, data[990:]},        // to the end
		{10, -1, data[10:]},          // to the end from inside
		{0, -1, data},                // whole
		{0, 1000, data},              // whole, explicit
		{995, 100, data[995:]},       // runs past the end: cut
		{0, 1 << 62, data},           // huge length
		{999, 1, data[999:]},         // last byte
		{1000, 10, nil},              // at the end
		{1000, -1, nil},              // at the end, to the end
		{5000, 10, nil},              // past the end
		{5000, -1, nil},              // past the end, to the end
		{10, 0, nil},                 // zero length
		{1<<62 + 1, 1 << 62, nil},    // offsets near overflow
		{1, 1<<63 - 1, data[1:]},     // length that would overflow off+length
		{999, 1<<63 - 1, data[999:]}, // ditto near the end
		{333, 333, data[333:666]},    // odd sizes
		{0, 1, data[:1]},             // first byte
		{998, 2, data[998:1000]},     // tail exactly
		{998, 3, data[998:1000]},     // tail plus one
		{500, 500, data[500:1000]},   // second half exactly
		{500, 501, data[500:1000]},   // second half plus one
		{1, 998, data[1:999]},        // all but the ends
		{0, 999, data[:999]},         // all but the last
		{999, -1, data[999:]},        // last byte to the end
		{1001, 0, nil},               // zero length past the end
		{1000, 0, nil},               // zero length at the end
		{0, 0, nil},                  // zero length at the start
	}
	for _, c := range cases {
		got := read(t, b, "ranges", c.off, c.length)
		equalBytes(t, fmt.Sprintf("ReadRange(%d, %d)", c.off, c.length), got, c.want)
	}
	if _, err := b.ReadRange(context.Background(), "ranges", -1, 10); err == nil {
		t.Fatalf("ReadRange with offset -1 succeeded")
	}
}

func testEmptyObject(t *testing.T, b objectstore.Bucket) {
	put(t, b, "empty", nil)
	for _, c := range [][2]int64{{0, -1}, {0, 10}, {0, 0}, {5, -1}, {5, 5}} {
		if got := read(t, b, "empty", c[0], c[1]); len(got) != 0 {
			t.Fatalf("ReadRange(empty, %d, %d) = %d bytes, want 0", c[0], c[1], len(got))
		}
	}
	info, err := b.Stat(context.Background(), "empty")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v; want size 0", info, err)
	}
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"empty"}) {
		t.Fatalf("List = %q, want [empty]", keys)
	}
}

func testNotExist(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	put(t, b, "exists/file", []byte("x"))
	for _, key := range []string{"missing", "exists/missing", "exists/file/below", "exists"} {
		for _, rng := range [][2]int64{{0, -1}, {0, 10}, {0, 0}, {5, 5}} {
			body, err := b.ReadRange(ctx, key, rng[0], rng[1])
			if err == nil {
				body.Close()
			}
			if !objectstore.IsNotExist(err) {
				t.Fatalf("ReadRange(%q, %d, %d) error = %v, want ErrNotExist", key, rng[0], rng[1], err)
			}
			if objectstore.IsRetriable(err) {
				t.Fatalf("ReadRange(%q): not-exist error %v reported retriable", key, err)
			}
		}
		mustNotExist(t, b, key)
	}
	if objectstore.IsNotExist(nil) {
		t.Fatalf("IsNotExist(nil) = true")
	}
}

func testDeleteIdempotent(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	put(t, b, "del/a", []byte("a"))
	put(t, b, "del/b", []byte("b"))
	if err := b.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, b, "del/a")
	if err := b.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := b.Delete(ctx, "never/was/here"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"del/b"}) {
		t.Fatalf("List after delete = %q, want [del/b]", keys)
	}
	equalBytes(t, "survivor", read(t, b, "del/b", 0, -1), []byte("b"))
	// The key can be written again.
	put(t, b, "del/a", []byte("again"))
	equalBytes(t, "rewritten", read(t, b, "del/a", 0, -1), []byte("again"))
}

func testListOrderAndPrefix(t *testing.T, b objectstore.Bucket) {
	// Byte order: '-' < '.' < '/' < '0' < 'a'. A filesystem walk that does
	// not account for "/" gets "l/a/..." before "l/a-c".
	keys := []string{
		"l/ab", "l/a-c", "l/a.x", "l/a/b/c", "l/a/d", "l/b",
		"l/z/y/x/w", "l/seg-00002", "l/seg-00001", "l/seg-01000",
		"l0", "l-", "m/n", "top",
	}
	for i, k := range keys {
		put(t, b, k, payload(uint64(100+i), i*3))
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	all := list(t, b, "")
	var got []string
	for _, info := range all {
		got = append(got, info.Key)
		i := slices.Index(keys, info.Key)
		if i < 0 {
			t.Fatalf("List returned unknown key %q", info.Key)
		}
		if info.Size != int64(i*3) {
			t.Fatalf("List entry %+v: want size %d", info, i*3)
		}
	}
	if !slices.Equal(got, sorted) {
		t.Fatalf("List(\"\") = %q\nwant %q", got, sorted)
	}
	prefixes := []string{
		"l/", "l/a", "l/a/", "l/a/b", "l/a-", "l/seg-0000", "l/seg-", "l/z/y/",
		"l/z/y/x/w", "l", "l/nothing", "nothing/", "m", "t", "l/a/b/c/",
	}
	for _, p := range prefixes {
		var want []string
		for _, k := range sorted {
			if strings.HasPrefix(k, p) {
				want = append(want, k)
			}
		}
		if got := listKeys(t, b, p); !slices.Equal(got, want) {
			t.Fatalf("List(%q) = %q\nwant %q", p, got, want)
		}
	}
}

func testListStopsOnCallbackError(t *testing.T, b objectstore.Bucket) {
	for i := range 5 {
		put(t, b, fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	errStop := errors.New("stop here")
	var seen []string
	err := b.List(context.Background(), "stop/", func(info objectstore.ObjectInfo) error {
		seen = append(seen, info.Key)
		if len(seen) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("List returned %v, want the callback's error", err)
	}
	if !slices.Equal(seen, []string{"stop/0", "stop/1"}) {
		t.Fatalf("List called back with %q after the error, want [stop/0 stop/1]", seen)
	}
}

// testOverwriteAtomic replaces one key again and again while readers check
// that every read returns exactly one whole version.
func testOverwriteAtomic(t *testing.T, b objectstore.Bucket) {
	const versions = 12
	version := func(i int) []byte {
		// Distinct lengths and contents; byte 0 names the version.
		p := payload(uint64(1000+i), 64<<10+i*4099)
		p[0] = byte(i)
		return p
	}
	put(t, b, "atomic", version(0))
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads > 0 {
						return
					}
				default:
				}
				body, err := b.ReadRange(ctx, "atomic", 0, -1)
				if err != nil {
					errs <- fmt.Errorf("read during overwrite: %w", err)
					return
				}
				got, err := io.ReadAll(body)
				body.Close()
				if err != nil {
					errs <- fmt.Errorf("read body during overwrite: %w", err)
					return
				}
				if len(got) == 0 || int(got[0]) >= versions || !bytes.Equal(got, version(int(got[0]))) {
					errs <- fmt.Errorf("read %d bytes that are no whole version", len(got))
					return
				}
			}
		}()
	}
	for i := 1; i < versions; i++ {
		data := version(i)
		if err := b.Put(ctx, "atomic", bytes.NewReader(data), int64(len(data))); err != nil {
			close(done)
			wg.Wait()
			t.Fatalf("overwrite %d: %v", i, err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	equalBytes(t, "final version", read(t, b, "atomic", 0, -1), version(versions-1))
	info, err := b.Stat(ctx, "atomic")
	if err != nil || info.Size != int64(len(version(versions-1))) {
		t.Fatalf("Stat after overwrites = %+v, %v", info, err)
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 'f'
	}
	r.n -= k
	return k, nil
}

func testFailedPutLeavesNothing(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	errBody := errors.New("body source failed")
	err := b.Put(ctx, "failed/new", &failingReader{n: 3000, err: errBody}, 10000)
	if !errors.Is(err, errBody) {
		t.Fatalf("Put with a failing body = %v, want its error", err)
	}
	mustNotExist(t, b, "failed/new")

	old := payload(7, 5000)
	put(t, b, "failed/old", old)
	if err := b.Put(ctx, "failed/old", &failingReader{n: 3000, err: errBody}, -1); !errors.Is(err, errBody) {
		t.Fatalf("overwrite with a failing body = %v, want its error", err)
	}
	equalBytes(t, "object after failed overwrite", read(t, b, "failed/old", 0, -1), old)
	if keys := listKeys(t, b, ""); !slices.Equal(keys, []string{"failed/old"}) {
		t.Fatalf("List after failed puts = %q, want [failed/old]", keys)
	}
}

func testSizeMismatch(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	data := payload(8, 100)
	if err := b.Put(ctx, "size/short", bytes.NewReader(data), 150); err == nil {
		t.Fatalf("Put of 100 bytes declared as 150 succeeded")
	}
	mustNotExist(t, b, "size/short")
	if err := b.Put(ctx, "size/long", bytes.NewReader(data), 50); err == nil {
		t.Fatalf("Put of 100 bytes declared as 50 succeeded")
	}
	mustNotExist(t, b, "size/long")
}

func testUnknownSize(t *testing.T, b objectstore.Bucket) {
	data := payload(9, 70000)
	// A reader that hides its length, so drivers cannot peek at it.
	if err := b.Put(context.Background(), "unknown", io.MultiReader(bytes.NewReader(data)), -1); err != nil {
		t.Fatalf("Put of unknown size: %v", err)
	}
	equalBytes(t, "unknown-size object", read(t, b, "unknown", 0, -1), data)
	if err := b.Put(context.Background(), "unknown-empty", io.MultiReader(), -1); err != nil {
		t.Fatalf("Put of unknown size, empty: %v", err)
	}
	if got := read(t, b, "unknown-empty", 0, -1); len(got) != 0 {
		t.Fatalf("empty object of unknown size read back as %d bytes", len(got))
	}
}

func testLargeObject(t *testing.T, b objectstore.Bucket) {
	data := payload(10, LargeObjectSize)
	put(t, b, "large/known", data)
	equalBytes(t, "large object", read(t, b, "large/known", 0, -1), data)
	for _, off := range []int64{5<<20 - 10, 10<<20 - 10, LargeObjectSize - 20} {
		equalBytes(t, fmt.Sprintf("large range at %d", off), read(t, b, "large/known", off, 20), data[off:off+20])
	}
	if err := b.Put(context.Background(), "large/unknown", io.MultiReader(bytes.NewReader(data)), -1); err != nil {
		t.Fatalf("Put of large object of unknown size: %v", err)
	}
	info, err := b.Stat(context.Background(), "large/unknown")
	if err != nil || info.Size != LargeObjectSize {
		t.Fatalf("Stat(large/unknown) = %+v, %v; want size %d", info, err, LargeObjectSize)
	}
	equalBytes(t, "large object of unknown size", read(t, b, "large/unknown", 0, -1), data)

	// A large body that fails part way leaves nothing.
	errBody := errors.New("large body failed")
	if err := b.Put(context.Background(), "large/failed", &failingReader{n: 7 << 20, err: errBody}, LargeObjectSize); !errors.Is(err, errBody) {
		t.Fatalf("large Put with failing body = %v, want its error", err)
	}
	mustNotExist(t, b, "large/failed")
}

// testBytesBody puts bodies held in memory (objectstore.BytesReader),
// which drivers take without copying: small, past a direct write, and
// large (multipart on the s3 drivers); starting at a BodyAlign boundary
// and not; of known and unknown size. Each reads back whole, the bodies
// are left unchanged, a reader seeked back puts again, and a size other
// than the one announced fails and leaves nothing.
func testBytesBody(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	for i, n := range []int{0, 1000, 1<<20 + 4097, LargeObjectSize + 12345} {
		for _, shift := range []int{0, 1} {
			buf := objectstore.AlignedBuffer(n + shift)[:n+shift]
			copy(buf[shift:], payload(uint64(20+i), n))
			data := buf[shift:]
			want := bytes.Clone(data)
			for _, size := range []int64{int64(n), -1} {
				key := fmt.Sprintf("bytes/%d-%d-%d", n, shift, size)
				r := objectstore.NewBytesReader(data)
				if err := b.Put(ctx, key, r, size); err != nil {
					t.Fatalf("Put(%q) of %d bytes in memory: %v", key, n, err)
				}
				equalBytes(t, key, read(t, b, key, 0, -1), want)
				equalBytes(t, key+" body after the put", data, want)
				if _, err := r.Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				if err := b.Put(ctx, key+"-again", r, size); err != nil {
					t.Fatalf("Put(%q) again from the rewound reader: %v", key, err)
				}
				equalBytes(t, key+"-again", read(t, b, key+"-again", 0, -1), want)
			}
		}
	}
	data := payload(30, 1<<20)
	for _, size := range []int64{1<<20 - 1, 1<<20 + 1} {
		key := fmt.Sprintf("bytes/mismatch-%d", size)
		if err := b.Put(ctx, key, objectstore.NewBytesReader(data), size); err == nil {
			t.Fatalf("Put of %d bytes in memory declared as %d succeeded", len(data), size)
		}
		mustNotExist(t, b, key)
	}
}

func testConcurrentPuts(t *testing.T, b objectstore.Bucket) {
	const writers, each = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("conc/w%d/obj-%d", w, i)
				data := payload(uint64(w*100+i), 1000+w*10+i)
				if err := b.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	keys := listKeys(t, b, "conc/")
	if len(keys) != writers*each {
		t.Fatalf("List found %d objects, want %d: %q", len(keys), writers*each, keys)
	}
	for w := range writers {
		for i := range each {
			key := fmt.Sprintf("conc/w%d/obj-%d", w, i)
			equalBytes(t, key, read(t, b, key, 0, -1), payload(uint64(w*100+i), 1000+w*10+i))
		}
	}
}

// cancelingReader cancels its context after yielding the first chunk and
// keeps yielding bytes, so only the driver's own checks can stop the Put.
type cancelingReader struct {
	cancel context.CancelFunc
	left   int
	sent   bool
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.sent {
		r.cancel()
	}
	r.sent = true
	k := min(len(p), r.left, 4096)
	clear(p[:k])
	r.left -= k
	return k, nil
}

func testContextCanceled(t *testing.T, b objectstore.Bucket) {
	put(t, b, "ctx/existing", []byte("here"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a canceled context = %v, want context.Canceled", what, err)
		}
		if objectstore.IsRetriable(err) {
			t.Fatalf("%s: canceled error %v reported retriable", what, err)
		}
	}
	check("Put", b.Put(ctx, "ctx/new", bytes.NewReader([]byte("x")), 1))
	_, err := b.ReadRange(ctx, "ctx/existing", 0, -1)
	check("ReadRange", err)
	_, err = b.Stat(ctx, "ctx/existing")
	check("Stat", err)
	check("List", b.List(ctx, "", func(objectstore.ObjectInfo) error { return nil }))
	check("Delete", b.Delete(ctx, "ctx/existing"))
	mustNotExist(t, b, "ctx/new")
	equalBytes(t, "object after canceled delete", read(t, b, "ctx/existing", 0, -1), []byte("here"))

	for _, size := range []int{64 << 10, LargeObjectSize} {
		ctx, cancel := context.WithCancel(context.Background())
		err := b.Put(ctx, "ctx/midway", &cancelingReader{cancel: cancel, left: size}, int64(size))
		cancel()
		check(fmt.Sprintf("Put of %d bytes canceled midway", size), err)
		mustNotExist(t, b, "ctx/midway")
	}
}

func testBadKeys(t *testing.T, b objectstore.Bucket) {
	ctx := context.Background()
	bad := []string{
		"", "/abs", "a//b", "a/", "..", "../escape", "a/../b", "a/./b", ".",
		"a\x00b", "a\\b", "a/.shale-tmp-x", strings.Repeat("k", objectstore.MaxKeyLen+1), "\xff",
	}
	for _, key := range bad {
		if err := b.Put(ctx, key, bytes.NewReader([]byte("x")), 1); err == nil {
			t.Fatalf("Put(%q) succeeded", key)
		}
		if body, err := b.ReadRange(ctx, key, 0, -1); err == nil {
			body.Close()
			t.Fatalf("ReadRange(%q) succeeded", key)
		} else if objectstore.IsNotExist(err) || objectstore.IsRetriable(err) {
			t.Fatalf("ReadRange(%q) = %v, want a plain bad-key error", key, err)
		}
		if _, err := b.Stat(ctx, key); err == nil {
			t.Fatalf("Stat(%q) succeeded", key)
		}
		if err := b.Delete(ctx, key); err == nil {
			t.Fatalf("Delete(%q) succeeded", key)
		}
	}
	for _, prefix := range []string{"/", "//", "a//", "../", "a/../"} {
		if err := b.List(ctx, prefix, func(objectstore.ObjectInfo) error { return nil }); err == nil {
			t.Fatalf("List(%q) succeeded", prefix)
		}
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Fatalf("bad keys left objects: %q", keys)
	}
}

func testClosed(t *testing.T, b objectstore.Bucket) {
	put(t, b, "closed", []byte("x"))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.Stat(context.Background(), "closed"); err == nil {
		t.Fatalf("Stat after Close succeeded")
	}
	if err := b.Put(context.Background(), "closed2", bytes.NewReader(nil), 0); err == nil {
		t.Fatalf("Put after Close succeeded")
	}
}
