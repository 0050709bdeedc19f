package tiering

import "testing"

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
