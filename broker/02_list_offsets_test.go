package broker

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stuckColdReader is an object tier whose reads wait until their context
// ends, telling the test when one starts and when it was canceled.
type stuckColdReader struct {
	started  chan struct{}
	canceled chan struct{}
	once     sync.Once
}

func (s *stuckColdReader) ReadPieces(ctx context.Context, _ wal.Key, _, _ int64, _ int) ([][]byte, error) {
	s.started <- struct{}{}
	<-ctx.Done()
	s.once.Do(func() { close(s.canceled) })
	return nil, ctx.Err()
}

// OffsetForTime sends every lookup to offset 0, in the object tier.
func (s *stuckColdReader) OffsetForTime(context.Context, wal.Key, int64, int64) (int64, bool, error) {
	return 0, true, nil
}

// startColdWireServer is startWireServer over an object tier of cold.
func startColdWireServer(tb testing.TB, cold partition.ColdReader) *wireServer {
	tb.Helper()
	dir := tb.TempDir()
	mc := metadata.DefaultConfig()
	mc.Dir = filepath.Join(dir, "meta")
	mc.HeartbeatTimeout = 100 * time.Millisecond
	mc.ElectionTimeout = 100 * time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	meta, err := metadata.Open(mc)
	if err != nil {
		tb.Fatalf("open metadata: %v", err)
	}
	tb.Cleanup(func() { meta.Close() })
	log, err := wal.Open(wal.Config{Dir: filepath.Join(dir, "wal"), SegmentMaxAge: 50 * time.Millisecond})
	if err != nil {
		tb.Fatalf("open wal: %v", err)
	}
	tb.Cleanup(func() { log.Close() })
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	s, err := New(cfg, meta, partition.NewManager(log, cold), slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	ln, err := s.Listen()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(ln); err != nil {
		ln.Close()
		tb.Fatalf("start server: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return &wireServer{Server: s, addr: ln.Addr().String()}
}

// A ListOffsets by timestamp that waits on the object tier does not hold
// up the connection's reader (a request after it is read and started), and
// the lookup is canceled when the client closes the connection.
func TestListOffsetsByTimeRunsOffTheReaderAndStopsWithTheConnection(t *testing.T) {
	cold := &stuckColdReader{started: make(chan struct{}, 1), canceled: make(chan struct{})}
	ws := startColdWireServer(t, cold)
	ws.createTopic(t, "cold", 2, nil)
	coldPart := ws.topics.byName("cold").partition(0)
	coldPart.Committed(100) // offsets [0, 100) are in the (stuck) object tier
	hot := ws.topics.byName("cold").partition(1)

	c := dialWire(t, ws.addr)
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 4
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "cold"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = 5
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c.send(req)
	select {
	case <-cold.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the lookup never reached the object tier")
	}

	// An acks=0 produce sent after it is read and appended meanwhile.
	c.send(produceRequest("cold", 1, 0, testRecords(3, 10, -1, -1, -1)))
	for deadline := time.Now().Add(20 * time.Second); hot.NextOffset() != 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a request after the ListOffsets was not read while it waited")
		}
	}

	c.nc.Close()
	select {
	case <-cold.canceled:
	case <-time.After(20 * time.Second):
		t.Fatal("the lookup went on after its connection closed")
	}
}
