package broker

import (
	"context"
	"testing"

	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestProduceNotLedHereAnswersNotLeader: a partition another broker leads,
// one whose leader epoch moved past the one this broker opened it with,
// and one the uploader fenced all answer NOT_LEADER_OR_FOLLOWER, so
// clients refresh their metadata and go to the leader; the others keep
// taking writes.
func TestProduceNotLedHereAnswersNotLeader(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "f", 4, nil)
	c := dialWire(t, ws.addr)
	ctx := context.Background()
	produce := func(p int32) int16 {
		t.Helper()
		return produceResult(t, c.roundTrip(produceRequest("f", p, 1, testRecords(2, 10, -1, -1, -1)))).ErrorCode
	}
	for p := range int32(4) {
		if code := produce(p); code != 0 {
			t.Fatalf("partition %d: error %d before any move", p, code)
		}
	}
	if _, err := ws.meta.SetPartitionLeader(ctx, "f", 0, ws.cfg.NodeID+6); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.meta.SetPartitionLeader(ctx, "f", 1, ws.cfg.NodeID); err != nil {
		t.Fatal(err)
	}
	ws.topics.refresh()
	f, _ := ws.meta.Topic("f")
	ws.parts.Fence(wal.Key{Topic: [16]byte(f.ID), Partition: 2}, 0)
	// Partition 1 is led here again under a new epoch: it is reopened and
	// takes writes; 0 is led elsewhere and 2 was fenced by the uploader.
	for p, want := range []bool{true, false, true, false} {
		if got := ws.parts.Get(wal.Key{Topic: [16]byte(f.ID), Partition: int32(p)}).Fenced(); got != want {
			t.Errorf("partition %d: fenced %v after the metadata refresh, want %v", p, got, want)
		}
	}
	for p, want := range []int16{kerr.NotLeaderForPartition.Code, 0, kerr.NotLeaderForPartition.Code, 0} {
		if code := produce(int32(p)); code != want {
			t.Errorf("partition %d: error %d, want %d", p, code, want)
		}
	}
}
