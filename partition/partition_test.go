package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"testing"

	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kerr"
)

// makeBatch builds a valid uncompressed RecordBatch v2 of n records whose
// values take about payload bytes in all.
func makeBatch(n int, pid int64, epoch int16, seq int32, payload int) []byte {
	b := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+payload+16*n)
	for i := range n {
		var rec []byte
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, 0)        // timestamp delta
		rec = binary.AppendVarint(rec, int64(i)) // offset delta
		rec = binary.AppendVarint(rec, -1)       // null key
		value := payload / n
		if i == n-1 {
			value = payload - value*(n-1)
		}
		rec = binary.AppendVarint(rec, int64(value))
		rec = append(rec, make([]byte, value)...)
		rec = binary.AppendVarint(rec, 0) // no headers
		b = binary.AppendVarint(b, int64(len(rec)))
		b = append(b, rec...)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], 1000)
	binary.BigEndian.PutUint64(b[35:], 1000)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func openWAL(t testing.TB) *wal.Log {
	cfg := wal.DefaultConfig()
	cfg.Dir = t.TempDir()
	l, err := wal.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestAppendAssignsOffsetsAndReads(t *testing.T) {
	l := openWAL(t)
	p := New(wal.Key{Partition: 3}, l, nil, State{})
	ctx := context.Background()
	var want int64
	for i := 1; i <= 20; i++ {
		a, err := p.Append(makeBatch(i, -1, -1, -1, 10), AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if a.BaseOffset != want || a.LastOffset != want+int64(i)-1 {
			t.Fatalf("batch %d: offsets [%d,%d], want base %d", i, a.BaseOffset, a.LastOffset, want)
		}
		if err := a.WaitLocal(ctx); err != nil {
			t.Fatal(err)
		}
		want += int64(i)
	}
	if hw := p.HighWatermark(); hw != want {
		t.Fatalf("high watermark %d, want %d", hw, want)
	}
	r, err := p.Read(ctx, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := recordbatch.Parse(r.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset > 5 || h.LastOffset() < 5 {
		t.Fatalf("read at 5 returned batch [%d,%d]", h.BaseOffset, h.LastOffset())
	}
	if _, err := p.Read(ctx, want+1, 100); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past end: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	if r, err := p.Read(ctx, want, 100); err != nil || r.Data != nil {
		t.Fatalf("read at end: %v %d bytes, want none", err, r.Len())
	}
}

func TestIdempotentSequences(t *testing.T) {
	l := openWAL(t)
	p := New(wal.Key{}, l, nil, State{})
	a0, err := p.Append(makeBatch(3, 7, 0, 0, 5), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A retry of the same batch returns its original offsets.
	dup, err := p.Append(makeBatch(3, 7, 0, 0, 5), AppendOptions{})
	if err != nil || !dup.Duplicate || dup.BaseOffset != a0.BaseOffset {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	if _, err := p.Append(makeBatch(1, 7, 0, 5, 5), AppendOptions{}); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := p.Append(makeBatch(1, 7, 0, 3, 5), AppendOptions{}); err != nil {
		t.Fatalf("next in sequence: %v", err)
	}
	if _, err := p.Append(makeBatch(1, 8, 0, 4, 5), AppendOptions{}); !errors.Is(err, kerr.UnknownProducerID) {
		t.Fatalf("new producer not at 0: %v", err)
	}
	if _, err := p.Append(makeBatch(1, 7, 1, 0, 5), AppendOptions{}); err != nil {
		t.Fatalf("bumped epoch at 0: %v", err)
	}
	if _, err := p.Append(makeBatch(1, 7, 0, 4, 5), AppendOptions{}); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
}

func TestRejectsBadBatches(t *testing.T) {
	p := New(wal.Key{}, openWAL(t), nil, State{})
	b := makeBatch(2, -1, -1, -1, 100)
	b[len(b)-1] ^= 1
	if _, err := p.Append(b, AppendOptions{}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("bad crc: %v", err)
	}
	if _, err := p.Append(makeBatch(2, -1, -1, -1, 100), AppendOptions{MaxMessageBytes: 100}); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := p.Append(makeBatch(2, -1, -1, -1, 100)[:50], AppendOptions{}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("truncated: %v", err)
	}
	if p.NextOffset() != 0 {
		t.Fatalf("rejected batches took offsets: next %d", p.NextOffset())
	}
}

// BenchmarkAssignOffsets measures the produce path up to the WAL enqueue:
// validation, sequence checks and offset assignment, without waiting for
// the fsync.
func BenchmarkAssignOffsets(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			l := openWAL(b)
			p := New(wal.Key{}, l, nil, State{})
			batch := makeBatch(10, -1, -1, -1, size)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf := make([]byte, len(batch))
				copy(buf, batch)
				if _, err := p.Append(buf, AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			l.Sync()
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// coldBytes is an object tier that answers every read with the same bytes.
type coldBytes []byte

func (c coldBytes) ReadPieces(context.Context, wal.Key, int64, int64, int) ([][]byte, error) {
	return [][]byte{c}, nil
}

// TestFencedPartitionAnswersNotLeader: once the catalog refused data the
// partition wrote under its epoch, waiting producers and new appends get
// NOT_LEADER_OR_FOLLOWER, even after another leader's commits raise the
// high watermark past their offsets, and reads never serve the local
// un-committed tail.
func TestFencedPartitionAnswersNotLeader(t *testing.T) {
	l := openWAL(t)
	cold := coldBytes("another leader's batches")
	p := New(wal.Key{Partition: 1}, l, cold, State{LeaderEpoch: 3})
	ctx := context.Background()
	a1, err := p.Append(makeBatch(2, -1, -1, -1, 10), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.WaitLocal(ctx); err != nil {
		t.Fatal(err)
	}
	p.Committed(2)
	a2, err := p.Append(makeBatch(3, -1, -1, -1, 10), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.WaitLocal(ctx); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- a2.WaitCommitted(ctx) }()

	p.Fence(2) // an older incarnation's data: not this partition's
	if _, err := p.Append(makeBatch(1, -1, -1, -1, 10), AppendOptions{}); err != nil {
		t.Fatalf("append after fencing an older epoch: %v", err)
	}
	p.Fence(3)
	if err := <-waited; !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("acks=all wait: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if _, err := p.Append(makeBatch(1, -1, -1, -1, 10), AppendOptions{}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	// Committed data is still answered; the waiter of a1 is done.
	if err := a1.WaitCommitted(ctx); err != nil {
		t.Fatal(err)
	}
	// Another leader commits offsets 2..9: the high watermark passes a2,
	// whose own bytes never reached the catalog.
	p.Committed(10)
	if err := a2.WaitCommitted(ctx); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("acks=all wait after another leader's commit: %v", err)
	}
	if err := a2.WaitLocal(ctx); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("acks=1 wait after fencing: %v", err)
	}
	r, err := p.Read(ctx, 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.Bytes()); got != string(cold) {
		t.Fatalf("read at 2 served %d local bytes, want the catalog's", len(got))
	}
	// Below the fencing point the local WAL still serves.
	r, err = p.Read(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := recordbatch.ParseHeader(r.Bytes()); err != nil || h.BaseOffset != 0 {
		t.Fatalf("read at 0: %+v %v", h, err)
	}
}
