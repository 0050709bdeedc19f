package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// threeBatches returns batches at offsets 10..14, 15..17, 18..25 and their
// start positions.
func threeBatches(t *testing.T) ([]byte, []int) {
	rng := rand.New(rand.NewPCG(21, 22))
	var b []byte
	var starts []int
	for _, spec := range []struct {
		base    int64
		records int
	}{{10, 5}, {15, 3}, {18, 8}} {
		starts = append(starts, len(b))
		b = append(b, makeBatch(t, rng, spec.base, spec.records, 0, 1_000+spec.base, 40)...)
	}
	return b, starts
}

func TestVerifyBatchesGood(t *testing.T) {
	b, _ := threeBatches(t)
	for _, first := range []int64{10, -1} {
		n, next, consumed, err := VerifyBatches(b, first)
		if err != nil || n != 3 || next != 26 || consumed != len(b) {
			t.Fatalf("expectFirst %d: %d, %d, %d, %v", first, n, next, consumed, err)
		}
	}
	n, next, consumed, err := VerifyBatches(nil, 7)
	if err != nil || n != 0 || next != 7 || consumed != 0 {
		t.Fatalf("empty: %d, %d, %d, %v", n, next, consumed, err)
	}
}

func TestVerifyBatchesPartialTail(t *testing.T) {
	b, starts := threeBatches(t)
	// Every cut inside the third batch leaves two whole batches and no error.
	for cut := starts[2]; cut < len(b); cut++ {
		n, next, consumed, err := VerifyBatches(b[:cut], 10)
		if err != nil || n != 2 || next != 18 || consumed != starts[2] {
			t.Fatalf("cut at %d: %d, %d, %d, %v", cut, n, next, consumed, err)
		}
	}
}

func TestVerifyBatchesOffsets(t *testing.T) {
	b, _ := threeBatches(t)
	var ce *CorruptionError
	if _, _, _, err := VerifyBatches(b, 9); !errors.As(err, &ce) || ce.Offset != 0 {
		t.Fatalf("wrong first offset: %v", err)
	}
	if _, _, _, err := VerifyBatches(b, 11); !errors.As(err, &ce) || ce.Offset != 0 {
		t.Fatalf("wrong first offset: %v", err)
	}

	// Gaps, as compaction leaves them: refused by default, accepted with
	// AllowGaps; overlaps are refused either way.
	rng := rand.New(rand.NewPCG(23, 24))
	gappy := append(makeBatch(t, rng, 10, 5, 2, 0, 10), makeBatch(t, rng, 20, 2, 0, 0, 10)...)
	second := len(gappy) - len(makeBatch(t, rng, 20, 2, 0, 0, 10))
	if _, _, _, err := VerifyBatches(gappy, 10); !errors.As(err, &ce) || ce.Offset != int64(second) {
		t.Fatalf("gap accepted in strict mode: %v", err)
	}
	n, next, _, err := VerifyBatchesWith(gappy, 5, VerifyOptions{AllowGaps: true})
	if err != nil || n != 2 || next != 22 {
		t.Fatalf("AllowGaps: %d, %d, %v", n, next, err)
	}
	overlap := append(makeBatch(t, rng, 10, 5, 0, 0, 10), makeBatch(t, rng, 14, 2, 0, 0, 10)...)
	if _, _, _, err := VerifyBatchesWith(overlap, 10, VerifyOptions{AllowGaps: true}); !errors.As(err, &ce) {
		t.Fatalf("overlap accepted: %v", err)
	}
}

// Flip one bit in every byte of the middle batch. Bytes covered by the CRC,
// the magic and the base offset must give a CorruptionError at the batch's
// position; the length field must give an error or stop the walk early; only
// the partition leader epoch, which Kafka leaves outside the CRC, may pass.
func TestVerifyBatchesFlippedByte(t *testing.T) {
	b, starts := threeBatches(t)
	mid, end := starts[1], starts[2]
	for i := mid; i < end; i++ {
		for _, mask := range []byte{0x01, 0x40} {
			bad := bytes.Clone(b)
			bad[i] ^= mask
			n, _, consumed, err := VerifyBatches(bad, 10)
			field := i - mid
			switch {
			case field >= 12 && field < 16: // partitionLeaderEpoch
				if err != nil || n != 3 {
					t.Fatalf("epoch byte %d: %d, %v", field, n, err)
				}
			case field >= 8 && field < 12: // batchLength
				if err == nil && consumed == len(b) {
					t.Fatalf("length byte %d ^ %#x: accepted all %d bytes", field, mask, consumed)
				}
				if n > 1 && err == nil {
					t.Fatalf("length byte %d: %d whole batches", field, n)
				}
			default:
				var ce *CorruptionError
				if !errors.As(err, &ce) {
					t.Fatalf("byte %d ^ %#x of the batch: %v, n %d", field, mask, err, n)
				}
				if ce.Offset != int64(mid) || n != 1 || consumed != mid {
					t.Fatalf("byte %d: corruption at %d (n %d, consumed %d), want at %d", field, ce.Offset, n, consumed, mid)
				}
			}
		}
	}
}

func TestVerifyBatchesBadHeaders(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	good := makeBatch(t, rng, 0, 2, 0, 0, 10)
	resign := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchCRCStart:], castagnoli))
		return b
	}
	cases := map[string][]byte{
		"short length": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[8:], 48)
			return b
		}(),
		"negative length": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[8:], 0x80000000)
			return b
		}(),
		"magic 1 in a partial batch": func() []byte {
			b := bytes.Clone(good[:20])
			b[batchMagicAt] = 1
			return b
		}(),
		"negative last offset delta": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[23:], 0xffffffff)
			return resign(b)
		}(),
		"negative record count": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[57:], 0xffffffff)
			return resign(b)
		}(),
		"negative base offset": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint64(b[0:], 1<<63)
			return b
		}(),
		"offset overflow": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint64(b[0:], 1<<63-1)
			return b
		}(),
	}
	for name, b := range cases {
		_, _, _, err := VerifyBatches(b, -1)
		if !errors.As(err, new(*CorruptionError)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBuilderRefusesBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	a, c := Key{Topic: [16]byte{1}}, Key{Topic: [16]byte{2}}
	b0 := makeBatch(t, rng, 0, 5, 0, 100, 10)   // 0..4
	b5 := makeBatch(t, rng, 5, 5, 0, 100, 10)   // 5..9
	b3 := makeBatch(t, rng, 3, 5, 0, 100, 10)   // 3..7
	b20 := makeBatch(t, rng, 20, 1, 0, 100, 10) // 20
	badMagic := bytes.Clone(b0)
	badMagic[batchMagicAt] = 1

	var buf bytes.Buffer
	b := NewBuilder(&buf, BuilderOptions{})
	mustFail := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	mustFail("empty", b.Add(a, 0, 4, 0, nil))
	mustFail("negative base", b.Add(a, -1, 4, 0, b0))
	mustFail("last before base", b.Add(a, 4, 0, 0, b0))
	mustFail("base mismatch", b.Add(a, 1, 4, 0, b0))
	mustFail("last mismatch", b.Add(a, 0, 5, 0, b0))
	mustFail("last inside batch", b.Add(a, 0, 3, 0, b0))
	mustFail("bad magic", b.Add(a, 0, 4, 0, badMagic))
	mustFail("truncated", b.Add(a, 0, 4, 0, b0[:len(b0)-1]))
	mustFail("trailing garbage", b.Add(a, 0, 4, 0, append(bytes.Clone(b0), 1, 2, 3)))
	mustFail("overlap inside one add", b.Add(a, 0, 7, 0, append(bytes.Clone(b0), b3...)))
	if buf.Len() != 0 {
		t.Fatalf("refused adds wrote %d bytes", buf.Len())
	}

	if err := b.Add(a, 0, 4, 0, b0); err != nil {
		t.Fatal(err)
	}
	mustFail("backwards", b.Add(a, 0, 4, 0, b0))
	mustFail("overlap", b.Add(a, 3, 7, 0, b3))
	if err := b.Add(a, 5, 9, 0, b5); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(c, 20, 20, 0, b20); err != nil {
		t.Fatal(err)
	}
	mustFail("partition reappears", b.Add(a, 20, 20, 0, b20))
	f, size, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(buf.Len()) || len(f.Partitions) != 2 {
		t.Fatalf("size %d, wrote %d, %d partitions", size, buf.Len(), len(f.Partitions))
	}
	if !errors.Is(b.Add(c, 21, 21, 0, b20), ErrBuilderFinished) {
		t.Fatal("Add after Finish")
	}
	if _, _, err := b.Finish(); !errors.Is(err, ErrBuilderFinished) {
		t.Fatal("second Finish")
	}

	if _, _, err := NewBuilder(&buf, BuilderOptions{SparseInterval: -1}).Finish(); err == nil {
		t.Fatal("negative sparse interval accepted")
	}
}

type failingWriter struct{ after int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errDiskFull
	}
	w.after--
	return len(p), nil
}

func TestBuilderWriteErrorSticks(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	b := NewBuilder(&failingWriter{after: 1}, BuilderOptions{})
	k := Key{Partition: 1}
	if err := b.Add(k, 0, 0, 0, makeBatch(t, rng, 0, 1, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(k, 1, 1, 0, makeBatch(t, rng, 1, 1, 0, 0, 1)); !errors.Is(err, errDiskFull) {
		t.Fatalf("second add: %v", err)
	}
	if err := b.Add(k, 2, 2, 0, makeBatch(t, rng, 2, 1, 0, 0, 1)); !errors.Is(err, errDiskFull) {
		t.Fatalf("add after failure: %v", err)
	}
	if _, _, err := b.Finish(); !errors.Is(err, errDiskFull) {
		t.Fatalf("finish after failure: %v", err)
	}
	// A failing footer write is reported too.
	b = NewBuilder(&failingWriter{after: 1}, BuilderOptions{})
	if err := b.Add(k, 0, 0, 0, makeBatch(t, rng, 0, 1, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Finish(); !errors.Is(err, errDiskFull) {
		t.Fatalf("finish: %v", err)
	}
}
