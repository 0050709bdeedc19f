package broker

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// barrierColdReader is an object tier whose reads wait until want of them
// are in progress at once (or a bound passes), then each returns
// batch: it tells whether a fetch reads its cold partitions in parallel.
type barrierColdReader struct {
	want  int
	batch []byte

	mu      sync.Mutex
	now     int
	most    int
	reached chan struct{}
}

func (b *barrierColdReader) ReadPieces(ctx context.Context, _ wal.Key, _, _ int64, _ int) ([][]byte, error) {
	b.mu.Lock()
	b.now++
	b.most = max(b.most, b.now)
	if b.now == b.want {
		close(b.reached)
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.now--
		b.mu.Unlock()
	}()
	select {
	case <-b.reached:
		return [][]byte{b.batch}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(3 * time.Second):
		return nil, errors.New("the other cold reads never came")
	}
}

// A fetch of several partitions that the object tier serves reads them
// at once: their block GETs overlap instead of following one another.
func TestFetchReadsColdPartitionsInParallel(t *testing.T) {
	const parts = 4
	cold := &barrierColdReader{want: parts, batch: testRecords(3, 10, -1, -1, -1), reached: make(chan struct{})}
	ws := startColdWireServer(t, cold)
	ws.createTopic(t, "cold", parts, nil)
	for i := range int32(parts) {
		ws.topics.byName("cold").partition(i).Committed(3) // offsets [0, 3) are in the object tier only
	}
	c := dialWire(t, ws.addr)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.MaxBytes = 1 << 20
	req.MaxWaitMillis = 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "cold"
	for i := range int32(parts) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = i
		rp.FetchOffset = 0
		rp.CurrentLeaderEpoch = -1
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.FetchResponse)
	cold.mu.Lock()
	most := cold.most
	cold.mu.Unlock()
	if most != parts {
		t.Fatalf("at most %d cold reads at once, want all %d partitions' together", most, parts)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			t.Fatalf("partition %d: error %d, %d bytes", p.Partition, p.ErrorCode, len(p.RecordBatches))
		}
	}
}

// piecesColdReader is an object tier whose every read returns pieces and
// counts the reads.
type piecesColdReader struct {
	pieces [][]byte
	reads  atomic.Int64
}

func (p *piecesColdReader) ReadPieces(context.Context, wal.Key, int64, int64, int) ([][]byte, error) {
	p.reads.Add(1)
	return p.pieces, nil
}

// splitPieces cuts data at the given positions.
func splitPieces(data []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, data[prev:c])
		prev = c
	}
	return append(out, data[prev:])
}

// batchPrefix keeps the whole batches that fit, even when batches and
// their headers are split across pieces, and at least the first batch.
func TestBatchPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var data []byte
		var ends []int // where each batch ends
		for range 1 + rng.IntN(6) {
			data = append(data, testRecords(1+rng.IntN(5), rng.IntN(300), -1, -1, -1)...)
			ends = append(ends, len(data))
		}
		var cuts []int
		for c := rng.IntN(40); c < len(data); c += 1 + rng.IntN(200) {
			cuts = append(cuts, c)
		}
		pieces := splitPieces(data, cuts...)
		limit := rng.IntN(len(data) + 100)
		want := ends[0]
		for _, e := range ends {
			if e <= limit {
				want = e
			}
		}
		got, ok := batchPrefix(pieces, limit)
		if !ok || !bytes.Equal(bytes.Join(got, nil), data[:want]) {
			t.Fatalf("round %d: batchPrefix(limit %d) = %d bytes, %v; want %d bytes (batches end at %v, cuts %v)",
				round, limit, len(bytes.Join(got, nil)), ok, want, ends, cuts)
		}
		for i, p := range got {
			if len(p) > 0 && i < len(pieces) && &p[0] != &pieces[i][0] {
				t.Fatalf("round %d: piece %d is a copy", round, i)
			}
		}
	}
	batch := testRecords(3, 100, -1, -1, -1)
	for _, bad := range [][][]byte{
		{batch[:10]},           // header cut short
		{batch[:len(batch)-1]}, // batch cut short
		{append(append([]byte{}, batch[:8]...), 0, 0, 0, 1)}, // length too small
	} {
		if got, ok := batchPrefix(bad, 1<<20); ok {
			t.Fatalf("batchPrefix of %d bad bytes = %d pieces, ok", len(bytes.Join(bad, nil)), len(got))
		}
	}
}

// A cold partition whose read (with the whole budget) holds more than the
// budget left for it keeps the batches that fit without being read again.
func TestFetchTrimsColdReadToBudgetLeft(t *testing.T) {
	var data []byte
	var ends []int
	for range 4 {
		data = append(data, testRecords(4, 200, -1, -1, -1)...)
		ends = append(ends, len(data))
	}
	cold := &piecesColdReader{pieces: splitPieces(data, 5, ends[0]+3, ends[1]+100)}
	ws := startColdWireServer(t, cold)
	ws.createTopic(t, "cold", 2, nil)
	for i := range int32(2) {
		ws.topics.byName("cold").partition(i).Committed(16)
	}
	c := dialWire(t, ws.addr)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	// The first partition takes all of data; the second has room for
	// two and a half batches.
	req.MaxBytes = int32(len(data) + ends[1] + (ends[2]-ends[1])/2)
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "cold"
	for i := range int32(2) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = i
		rp.CurrentLeaderEpoch = -1
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.FetchResponse)
	ps := resp.Topics[0].Partitions
	if ps[0].ErrorCode != 0 || !bytes.Equal(ps[0].RecordBatches, data) {
		t.Fatalf("partition 0: error %d, %d bytes; want all %d", ps[0].ErrorCode, len(ps[0].RecordBatches), len(data))
	}
	if ps[1].ErrorCode != 0 || !bytes.Equal(ps[1].RecordBatches, data[:ends[1]]) {
		t.Fatalf("partition 1: error %d, %d bytes; want the first two batches, %d bytes", ps[1].ErrorCode, len(ps[1].RecordBatches), ends[1])
	}
	if n := cold.reads.Load(); n != 2 {
		t.Fatalf("%d cold reads for 2 partitions: a partition was read again", n)
	}
}
