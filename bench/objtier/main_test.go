package main

import (
	"encoding/binary"
	"testing"
)

// batch returns a record batch header of the given base offset and last
// offset delta followed by body bytes, as a Fetch answer carries it.
func batch(base int64, lastDelta int32, body int) []byte {
	b := make([]byte, 61+body)
	binary.BigEndian.PutUint64(b[0:8], uint64(base))
	binary.BigEndian.PutUint32(b[8:12], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[23:27], uint32(lastDelta))
	return b
}

func TestWalkBatches(t *testing.T) {
	a, b := batch(0, 9, 100), batch(10, 4, 50)
	whole := append(append([]byte{}, a...), b...)
	cases := []struct {
		name      string
		in        []byte
		next, end int64
		wantNext  int64
		wantBytes int
		wantErr   bool
	}{
		{"two whole batches", whole, 0, 100, 15, len(whole), false},
		{"end cuts the last batch", whole, 0, 12, 12, len(whole), false},
		{"trailing partial batch is left", whole[:len(a)+30], 0, 100, 10, len(a), false},
		{"a batch before the position does not move it back", whole, 12, 100, 15, len(whole), false},
		{"empty answer", nil, 5, 100, 5, 0, false},
		{"short header", whole[:20], 0, 100, 0, 0, false},
		{"negative length", func() []byte { c := batch(0, 0, 0); binary.BigEndian.PutUint32(c[8:12], 0xffffffff); return c }(), 0, 100, 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, n, err := walkBatches(c.in, c.next, c.end)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (next != c.wantNext || n != c.wantBytes) {
				t.Fatalf("got next %d, %d bytes; want %d, %d", next, n, c.wantNext, c.wantBytes)
			}
		})
	}
}

func FuzzWalkBatches(f *testing.F) {
	f.Add(append(batch(0, 9, 10), batch(10, 0, 3)...), int64(0), int64(100))
	f.Add(batch(7, -1, 0), int64(3), int64(8))
	f.Fuzz(func(t *testing.T, b []byte, next, end int64) {
		got, n, err := walkBatches(b, next, end)
		if n < 0 || n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		if err == nil && got != next && got > end {
			t.Fatalf("next %d beyond end %d", got, end)
		}
	})
}

func TestMedian(t *testing.T) {
	if m := median([]float64{1, 2, 9}); m != 2 {
		t.Fatalf("median of 3 = %v", m)
	}
	if m := median([]float64{1, 2, 4, 9}); m != 3 {
		t.Fatalf("median of 4 = %v", m)
	}
}
