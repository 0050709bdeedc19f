package index

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func addFooterSeeds(f *testing.F) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, parts := range []int{0, 1, 3} {
		o := buildTestObject(f, rng, parts, 512)
		dl := o.dataLen()
		f.Add(o.data[dl:len(o.data)-TrailerSize], uint64(dl))
		f.Add(o.data[dl:], uint64(dl)) // footer and trailer together
	}
	f.Add(appendFooter(nil, []Partition{goodPartition(Key{Partition: 3}, 10)}), uint64(2000))
}

// FuzzDecodeFooter feeds arbitrary bytes to every decoding entry point: as
// a raw object tail (where the CRCs almost always fail), and as a footer
// sealed with a valid trailer, so the parser itself sees the bytes. Anything
// it accepts must satisfy the footer's invariants and survive a round trip.
func FuzzDecodeFooter(f *testing.F) {
	addFooterSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, dataLen uint64) {
		// Raw tail of an object of a few plausible sizes.
		_, _ = DecodeTrailer(data)
		for _, extra := range []int64{0, 1, 1 << 20} {
			fo, need, err := ParseTail(data, int64(len(data))+extra)
			if err == nil && fo == nil && (need <= int64(len(data)) || need > MaxFooterLen+TrailerSize) {
				t.Fatalf("ParseTail asked for %d bytes with %d in hand", need, len(data))
			}
		}

		dl := int64(dataLen % (1 << 40))
		tail := sealFooter(data, dl)
		fo, need, err := ParseTail(tail, dl+int64(len(tail)))
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("sealed footer: %v is not a CorruptionError", err)
			}
			if ce.Offset < dl || ce.Offset >= dl+int64(len(tail)) {
				t.Fatalf("corruption at %d, outside the footer [%d, %d)", ce.Offset, dl, dl+int64(len(tail)))
			}
			return
		}
		if need != 0 {
			t.Fatalf("whole tail given, ParseTail asks for %d", need)
		}
		checkFooterInvariants(t, fo, dl)

		again, err := decodeFooter(appendFooter(nil, fo.Partitions), dl)
		if err != nil {
			t.Fatalf("re-encoded footer refused: %v", err)
		}
		if !reflect.DeepEqual(again, fo) {
			t.Fatal("re-encoded footer decodes differently")
		}
	})
}

func checkFooterInvariants(t *testing.T, f *Footer, dataLen int64) {
	for i := range f.Partitions {
		p := &f.Partitions[i]
		if i > 0 && f.Partitions[i-1].Key.Compare(p.Key) >= 0 {
			t.Fatal("keys not ascending")
		}
		if got, ok := f.Lookup(p.Key); !ok || got != p {
			t.Fatal("Lookup misses a partition")
		}
		if p.Len <= 0 || p.Pos < 0 || p.Pos+p.Len > dataLen || p.LastOffset < p.FirstOffset {
			t.Fatalf("bad partition %+v", *p)
		}
		if len(p.Sparse) == 0 || p.Sparse[0].Pos != 0 || p.Sparse[0].Offset != p.FirstOffset ||
			p.Sparse[len(p.Sparse)-1].MaxTimestamp != p.MaxTimestamp {
			t.Fatalf("bad sparse index %+v", *p)
		}
		for _, off := range []int64{p.FirstOffset - 1, p.FirstOffset, p.LastOffset, p.LastOffset + 1, (p.FirstOffset + p.LastOffset) / 2} {
			if loc := p.Locate(off); loc < p.Pos || loc > p.Pos+p.Len {
				t.Fatalf("Locate(%d) = %d outside [%d, %d]", off, loc, p.Pos, p.Pos+p.Len)
			}
		}
		if loc, ok := p.LocateTime(p.MaxTimestamp); !ok || loc < p.Pos || loc >= p.Pos+p.Len {
			t.Fatalf("LocateTime(max) = %d, %v", loc, ok)
		}
	}
}

// FuzzVerifyBatches checks that VerifyBatches never panics, reports
// corruption exactly where it stopped, and agrees with itself on the prefix
// it accepted.
func FuzzVerifyBatches(f *testing.F) {
	rng := rand.New(rand.NewPCG(43, 44))
	one := makeBatch(f, rng, 0, 3, 0, 1000, 20)
	two := append(makeBatch(f, rng, 0, 3, 0, 1000, 20), makeBatch(f, rng, 5, 2, 1, 1000, 5)...)
	f.Add(one, int64(0), false)
	f.Add(two, int64(-1), true)
	f.Add(two[:len(two)-3], int64(0), false)
	f.Add([]byte{}, int64(-1), false)
	f.Fuzz(func(t *testing.T, data []byte, expectFirst int64, allowGaps bool) {
		opts := VerifyOptions{AllowGaps: allowGaps}
		n, next, consumed, err := VerifyBatchesWith(data, expectFirst, opts)
		if consumed < 0 || consumed > len(data) || n < 0 || n > consumed/batchHeaderSize {
			t.Fatalf("n %d, consumed %d of %d", n, consumed, len(data))
		}
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Offset != int64(consumed) {
				t.Fatalf("error %v at consumed %d", err, consumed)
			}
		}
		if n == 0 && next != expectFirst {
			t.Fatalf("no batches but next %d, expectFirst %d", next, expectFirst)
		}
		n2, next2, consumed2, err2 := VerifyBatchesWith(data[:consumed], expectFirst, opts)
		if err2 != nil || n2 != n || next2 != next || consumed2 != consumed {
			t.Fatalf("prefix: %d %d %d %v; whole: %d %d %d", n2, next2, consumed2, err2, n, next, consumed)
		}
	})
}
