package broker

import (
	"encoding/binary"
	"testing"
)

// fakeBatch is a v2 batch header claiming records, with a body of pad
// bytes (counting reads only the length and the record count).
func fakeBatch(records int32, pad int) []byte {
	b := make([]byte, batchCountEnd+pad)
	binary.BigEndian.PutUint32(b[8:12], uint32(len(b)-batchLengthEnd))
	binary.BigEndian.PutUint32(b[57:61], uint32(records))
	return b
}

// TestBatchRecordCountAcrossPieces: batches split anywhere over pieces,
// headers included, are counted once each; a trailing partial batch is
// not counted.
func TestBatchRecordCountAcrossPieces(t *testing.T) {
	var all []byte
	for i, n := range []int32{3, 1, 7} {
		all = append(all, fakeBatch(n, 10*i)...)
	}
	for cut1 := 0; cut1 <= len(all); cut1 += 7 {
		for cut2 := cut1; cut2 <= len(all); cut2 += 11 {
			if got := batchRecordCount([][]byte{all[:cut1], all[cut1:cut2], all[cut2:]}); got != 11 {
				t.Fatalf("cuts %d,%d: %d records, want 11", cut1, cut2, got)
			}
		}
	}
	partial := append(append([]byte{}, all...), fakeBatch(5, 0)[:30]...)
	if got := batchRecordCount([][]byte{partial}); got != 11 {
		t.Fatalf("with a partial batch: %d", got)
	}
	if got := batchRecordCount(nil); got != 0 {
		t.Fatalf("nothing: %d", got)
	}
}

// FuzzBatchRecordCount: produce request bytes come from clients; counting
// them for metrics must never panic or loop, whatever they hold.
func FuzzBatchRecordCount(f *testing.F) {
	f.Add(fakeBatch(2, 5), 3)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0}, 1)
	f.Add(fakeBatch(-5, 0), 20)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if cut < 0 || cut > len(b) {
			cut = len(b) / 2
		}
		n := batchRecordCount([][]byte{b[:cut], b[cut:]})
		if n != batchRecordCount([][]byte{b}) {
			t.Fatalf("split at %d changes the count", cut)
		}
		if n < 0 {
			t.Fatalf("negative count %d (a Prometheus counter panics on it)", n)
		}
	})
}
