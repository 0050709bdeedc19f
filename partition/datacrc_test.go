package partition

import (
	"context"
	"hash/crc32"
	"testing"

	"github.com/shalelog/shale/wal"
)

// Large appends are framed with a CRC derived from their batches' CRCs
// (batchesCRC): the frames must verify when the segment is read back, for
// one batch, several, and a batch whose CRC LogAppendTime recomputed.
func TestLargeAppendsFrameWithBatchCRCs(t *testing.T) {
	l := openWAL(t)
	k := wal.Key{Partition: 1}
	p := New(k, l, nil, State{})
	ctx := context.Background()
	one := makeBatch(100, -1, -1, -1, 200<<10)
	two := append(makeBatch(50, -1, -1, -1, 40<<10), makeBatch(70, -1, -1, -1, 90<<10)...)
	for i, c := range []struct {
		records []byte
		opts    AppendOptions
	}{{one, AppendOptions{}}, {two, AppendOptions{}}, {makeBatch(10, -1, -1, -1, 100<<10), AppendOptions{LogAppendTime: true, Now: 12345}}} {
		a, err := p.Append(c.records, c.opts)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if err := a.WaitLocal(ctx); err != nil {
			t.Fatal(err)
		}
		if got, ok := batchesCRC(c.records, spansOf(t, c.records)); !ok || got != crc32.Checksum(c.records, castagnoli) {
			t.Fatalf("append %d: batchesCRC %08x %v, want %08x", i, got, ok, crc32.Checksum(c.records, castagnoli))
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := l.Replay(func(wal.Entry) error { n++; return nil }); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if n != 3 {
		t.Fatalf("%d entries read back, want 3", n)
	}
	// Below the threshold the WAL reads the bytes itself.
	small := makeBatch(3, -1, -1, -1, 100)
	if _, ok := batchesCRC(small, spansOf(t, small)); ok {
		t.Fatal("a small append got a derived CRC")
	}
	// Spans that do not cover the records are refused.
	if _, ok := batchesCRC(two, spansOf(t, two)[:1]); ok {
		t.Fatal("a derived CRC over part of the records")
	}
}

func spansOf(t *testing.T, records []byte) [][2]int {
	var ss [][2]int
	pos := 0
	for pos < len(records) {
		n := 12 + int(uint32(records[pos+8])<<24|uint32(records[pos+9])<<16|uint32(records[pos+10])<<8|uint32(records[pos+11]))
		ss = append(ss, [2]int{pos, pos + n})
		pos += n
	}
	return ss
}
