package broker

import "testing"

func TestFrameClasses(t *testing.T) {
	prevCap := 0
	for n := minPooledFrame; n <= maxPooledFrame; n += n/97 + 1 {
		i, c := frameClass(n)
		if c < n || c > n+n/8+1 {
			t.Fatalf("size %d: class capacity %d", n, c)
		}
		if i2, c2 := frameClass(c); i2 != i || c2 != c {
			t.Fatalf("size %d: class %d/%d, its capacity's class %d/%d", n, i, c, i2, c2)
		}
		if c < prevCap {
			t.Fatalf("size %d: capacity %d below the previous size's %d", n, c, prevCap)
		}
		prevCap = c
		if i < 0 || i >= len(framePool.free) {
			t.Fatalf("size %d: class %d out of range", n, i)
		}
	}
}

func TestFramePoolReuse(t *testing.T) {
	b := getFrame(100 << 10)
	if len(b) != 100<<10 {
		t.Fatalf("len %d", len(b))
	}
	putFrame(b)
	// Odd capacities (not from getFrame) are not pooled.
	putFrame(make([]byte, 100<<10+1))
	c := getFrame(100<<10 - 5)
	if len(c) != 100<<10-5 || cap(c) < len(c) {
		t.Fatalf("len %d cap %d", len(c), cap(c))
	}
	if small := getFrame(10); len(small) != 10 {
		t.Fatal(len(small))
	}
	// The free lists hold at most framePoolBytes.
	for range 2 * framePoolBytes / (1 << 20) {
		putFrame(make([]byte, 1<<20))
	}
	framePool.mu.Lock()
	held := framePool.bytes
	framePool.mu.Unlock()
	if held > framePoolBytes {
		t.Fatalf("%d bytes held, limit %d", held, framePoolBytes)
	}
	// Frames of another size then replace them: the lists do not stay
	// full of a size no longer asked for.
	for range 2 * framePoolBytes / (3 << 19) {
		putFrame(getFrame(3 << 19))
		f1, f2 := getFrame(3<<19), getFrame(3<<19)
		putFrame(f1)
		putFrame(f2)
	}
	framePool.mu.Lock()
	n15 := len(framePool.free[mustClass(3<<19)])
	framePool.mu.Unlock()
	if n15 < 2 {
		t.Fatalf("%d frames of 1.5 MiB kept", n15)
	}
	// A free frame up to twice the size asked for is reused.
	framePool.mu.Lock()
	clear(framePool.free[:])
	framePool.bytes = 0
	framePool.mu.Unlock()
	big := getFrame(500 << 10)
	putFrame(big)
	if f := getFrame(300 << 10); cap(f) != cap(big) {
		t.Fatalf("a 300 KiB frame got capacity %d, not the free %d", cap(f), cap(big))
	}
}

func mustClass(n int) int {
	i, _ := frameClass(n)
	return i
}
