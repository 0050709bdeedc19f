package broker

import (
	"context"
	"errors"
	"sync"
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
