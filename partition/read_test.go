package partition

import (
	"bytes"
	"testing"

	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// A large read of the WAL comes back in pieces of at most 1 MiB (whole
// entries of at most that), not in one buffer of maxBytes, and holds the
// batches from the one holding the offset on, within maxBytes.
func TestReadWALInBoundedPieces(t *testing.T) {
	p := New(wal.Key{Partition: 1}, openWAL(t), nil, State{})
	const batchBytes = 100 << 10
	const pieceBound = 1 << 20
	var all []byte
	for range 40 { // 4 MB
		b := makeBatch(5, -1, -1, -1, batchBytes)
		a, err := p.Append(b, AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WaitLocal(t.Context()); err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, maxBytes := range []int{1, 3 << 20, 1 << 30} {
		r, err := p.Read(t.Context(), 7, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Bytes()
		want := all[len(all)/40:] // from the second batch, which holds offset 7
		if len(got) == 0 || (len(got) > maxBytes && len(r.Data) > 1) {
			t.Fatalf("maxBytes %d: read %d bytes", maxBytes, len(got))
		}
		if !bytes.Equal(got, want[:min(len(got), len(want))]) {
			t.Fatalf("maxBytes %d: the %d bytes read are not the batches from offset 5", maxBytes, len(got))
		}
		if maxBytes >= len(want) && len(got) != len(want) {
			t.Fatalf("maxBytes %d: read %d of %d bytes", maxBytes, len(got), len(want))
		}
		for i, piece := range r.Data {
			if len(piece) > pieceBound {
				t.Fatalf("maxBytes %d: piece %d of %d bytes, above %d", maxBytes, i, len(piece), pieceBound)
			}
			if err := recordbatch.Split(piece, func(recordbatch.Header, []byte) error { return nil }); err != nil {
				t.Fatalf("maxBytes %d: piece %d is not whole batches: %v", maxBytes, i, err)
			}
		}
	}
}
