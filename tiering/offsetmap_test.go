package tiering

import (
	"fmt"
	"testing"
)

func TestOffsetMap(t *testing.T) {
	if _, err := newOffsetMap(100); err == nil {
		t.Fatal("a budget below the minimum is accepted")
	}
	m, err := newOffsetMap(24 << 10) // 1024 slots, 768 keys
	if err != nil {
		t.Fatal(err)
	}
	if m.capacity() != 768 {
		t.Fatalf("capacity %d, want 768", m.capacity())
	}
	for i := range 768 {
		if !m.put(fmt.Appendf(nil, "key-%d", i), int64(i)) {
			t.Fatalf("key %d did not fit", i)
		}
	}
	// Full: a new key is refused, a known one still updates.
	if m.put([]byte("one more"), 1000) {
		t.Fatal("a full map took a new key")
	}
	if !m.put([]byte("key-5"), 2000) {
		t.Fatal("a full map refused a known key")
	}
	if off, ok := m.get([]byte("key-5")); !ok || off != 2000 {
		t.Fatalf("key-5 = %d %v", off, ok)
	}
	if off, ok := m.get([]byte("key-700")); !ok || off != 700 {
		t.Fatalf("key-700 = %d %v", off, ok)
	}
	if _, ok := m.get([]byte("one more")); ok {
		t.Fatal("a refused key is found")
	}
	if _, ok := m.get(nil); ok {
		t.Fatal("the empty key is found")
	}
	m.reset()
	if m.keys() != 0 {
		t.Fatalf("%d keys after reset", m.keys())
	}
	if _, ok := m.get([]byte("key-5")); ok {
		t.Fatal("a key survived reset")
	}
	if !m.put(nil, 3) { // the empty key is a key
		t.Fatal("empty key refused")
	}
	if off, ok := m.get([]byte{}); !ok || off != 3 {
		t.Fatalf("empty key = %d %v", off, ok)
	}
}
