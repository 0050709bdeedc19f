package node

import (
	"context"
	"hash/crc32"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNodeMovedPartitionAnswersNotLeader runs a whole node: once a
// partition moves to a new leader epoch, producing to it answers
// NOT_LEADER_OR_FOLLOWER, while the other partition keeps committing
// acks=all writes that consumers read back.
func TestNodeMovedPartitionAnswersNotLeader(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.WAL.SegmentMaxAge = Duration(25 * time.Millisecond)
	n, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := n.meta.CreateTopic(ctx, "f", 2, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"f": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(p int32, count int) {
		t.Helper()
		for i := range count {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "f", Partition: p, Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatalf("produce to partition %d: %v", p, err)
			}
		}
	}
	produce(0, 5)
	produce(1, 5)
	if _, err := n.meta.SetPartitionLeader(ctx, "f", 1, cfg.Broker.NodeID+5); err != nil {
		t.Fatal(err)
	}
	// Raw requests: a client would retry NOT_LEADER_OR_FOLLOWER.
	for {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10_000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "f"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 1
		rp.Records = oneRecordBatch()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		code := resp.Topics[0].Partitions[0].ErrorCode
		if code == kerr.NotLeaderForPartition.Code {
			break
		}
		if code != 0 {
			t.Fatalf("produce to the moved partition: error %d", code)
		}
		time.Sleep(10 * time.Millisecond) // the broker has not seen the move yet
	}
	produce(0, 5)
	if pl, _ := n.meta.PartitionLog(topicID(t, n, "f"), 0); pl.End != 10 {
		t.Fatalf("partition 0 committed to %d, want 10", pl.End)
	}
	if pl, _ := n.meta.PartitionLog(topicID(t, n, "f"), 1); pl.End > 6 {
		t.Fatalf("partition 1 committed to %d after its move", pl.End)
	}
	got := 0
	for got < 10 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
}

func topicID(t *testing.T, n *Node, name string) metadata.TopicID {
	t.Helper()
	tp, ok := n.meta.Topic(name)
	if !ok {
		t.Fatalf("no topic %q", name)
	}
	return tp.ID
}

// oneRecordBatch is a RecordBatch v2 holding one record, as a producer
// sends it.
func oneRecordBatch() []byte {
	rec := kmsg.Record{Value: []byte("x")}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	recs := rec.AppendTo(nil)
	rb := kmsg.RecordBatch{Length: int32(49 + len(recs)), Magic: 2, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: 1, Records: recs, FirstTimestamp: 1, MaxTimestamp: 1}
	raw := rb.AppendTo(nil)
	rb.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}
