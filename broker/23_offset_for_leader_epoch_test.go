package broker

import (
	"context"
	"testing"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// epochQuery is one partition of an OffsetForLeaderEpoch request.
type epochQuery struct {
	topic         string
	partition     int32
	current       int32 // CurrentLeaderEpoch; -1 for none
	epoch         int32 // LeaderEpoch
	wantCode      int16
	wantEpoch     int32
	wantEndOffset int64
}

func offsetForLeaderEpochRequest(version int16, replicaID int32, qs []epochQuery) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = version
	req.ReplicaID = replicaID
	for _, q := range qs {
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = q.topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = q.partition
		rp.CurrentLeaderEpoch = q.current
		rp.LeaderEpoch = q.epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// checkEpochAnswers sends qs in one request at version and checks each
// answer, in order.
func checkEpochAnswers(t *testing.T, c *wireConn, version int16, replicaID int32, qs []epochQuery) {
	t.Helper()
	resp := c.roundTrip(offsetForLeaderEpochRequest(version, replicaID, qs)).(*kmsg.OffsetForLeaderEpochResponse)
	if len(resp.Topics) != len(qs) {
		t.Fatalf("v%d: %d topics answered, asked %d", version, len(resp.Topics), len(qs))
	}
	for i, q := range qs {
		rt := resp.Topics[i]
		if rt.Topic != q.topic || len(rt.Partitions) != 1 || rt.Partitions[0].Partition != q.partition {
			t.Fatalf("v%d: answer %d is for %s %+v, want %s-%d", version, i, rt.Topic, rt.Partitions, q.topic, q.partition)
		}
		p := rt.Partitions[0]
		wantEpoch := q.wantEpoch
		if version == 0 {
			wantEpoch = -1 // not in v0 responses: the decoder leaves the default
		}
		if p.ErrorCode != q.wantCode || p.LeaderEpoch != wantEpoch || p.EndOffset != q.wantEndOffset {
			t.Errorf("v%d %s-%d current %d epoch %d: got (%s, epoch %d, end %d), want (%s, epoch %d, end %d)",
				version, q.topic, q.partition, q.current, q.epoch,
				codeName(p.ErrorCode), p.LeaderEpoch, p.EndOffset, codeName(q.wantCode), wantEpoch, q.wantEndOffset)
		}
	}
}

func codeName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return err.Error()
	}
	return "NONE"
}

func TestOffsetForLeaderEpochWire(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "olep", 2, nil)
	c := dialWire(t, ws.addr)
	if r := produceResult(t, c.roundTrip(produceRequest("olep", 0, 1, testRecords(5, 10, -1, 0, 0)))); r.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(r.ErrorCode))
	}

	// The log end of the current epoch is the leader's next offset.
	for v := int16(0); v <= 4; v++ {
		qs := []epochQuery{
			{topic: "olep", partition: 0, current: -1, epoch: 0, wantEpoch: 0, wantEndOffset: 5},
			{topic: "olep", partition: 1, current: -1, epoch: 0, wantEpoch: 0, wantEndOffset: 0},
			{topic: "olep", partition: 0, current: -1, epoch: -1, wantEpoch: -1, wantEndOffset: -1}, // UNDEFINED_EPOCH
			{topic: "olep", partition: 0, current: -1, epoch: 3, wantEpoch: -1, wantEndOffset: -1},  // newer than any epoch
			{topic: "olep", partition: 2, current: -1, epoch: 0, wantCode: kerr.UnknownTopicOrPartition.Code, wantEpoch: -1, wantEndOffset: -1},
			{topic: "olep", partition: -1, current: -1, epoch: 0, wantCode: kerr.UnknownTopicOrPartition.Code, wantEpoch: -1, wantEndOffset: -1},
			{topic: "nope", partition: 0, current: -1, epoch: 0, wantCode: kerr.UnknownTopicOrPartition.Code, wantEpoch: -1, wantEndOffset: -1},
		}
		if v >= 2 {
			qs = append(qs,
				epochQuery{topic: "olep", partition: 0, current: 0, epoch: 0, wantEpoch: 0, wantEndOffset: 5},
				epochQuery{topic: "olep", partition: 0, current: 1, epoch: 0, wantCode: kerr.UnknownLeaderEpoch.Code, wantEpoch: -1, wantEndOffset: -1},
			)
		}
		checkEpochAnswers(t, c, v, -1, qs)
	}
	// A follower's request (replica id >= 0) and a debug one (-2) get the
	// same answers as a consumer's.
	for _, replica := range []int32{2, -2} {
		checkEpochAnswers(t, c, 3, replica, []epochQuery{{topic: "olep", partition: 0, current: 0, epoch: 0, wantEpoch: 0, wantEndOffset: 5}})
	}

	// The answer follows the log as it grows.
	if r := produceResult(t, c.roundTrip(produceRequest("olep", 0, 1, testRecords(3, 10, -1, 0, 0)))); r.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(r.ErrorCode))
	}
	checkEpochAnswers(t, c, 4, -1, []epochQuery{{topic: "olep", partition: 0, current: 0, epoch: 0, wantEpoch: 0, wantEndOffset: 8}})
	c.checkAlive()
}

// TestOffsetForLeaderEpochNotLeader asks a broker about a partition another
// broker leads.
func TestOffsetForLeaderEpochNotLeader(t *testing.T) {
	ws := startWireServer(t, nil) // node 1
	// New partitions go to the lowest registered broker id.
	if _, err := ws.meta.RegisterBroker(context.Background(), metadata.Broker{ID: 0, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	ws.createTopic(t, "elsewhere", 1, nil)
	if tp, _ := ws.meta.Topic("elsewhere"); tp.Partitions[0].Leader != 0 {
		t.Fatalf("leader %d, want 0", tp.Partitions[0].Leader)
	}
	c := dialWire(t, ws.addr)
	checkEpochAnswers(t, c, 4, -1, []epochQuery{
		{topic: "elsewhere", partition: 0, current: -1, epoch: 0, wantCode: kerr.NotLeaderForPartition.Code, wantEpoch: -1, wantEndOffset: -1},
		// The epoch check comes first, as in Kafka.
		{topic: "elsewhere", partition: 0, current: 1, epoch: 0, wantCode: kerr.UnknownLeaderEpoch.Code, wantEpoch: -1, wantEndOffset: -1},
	})
}

// TestOffsetForLeaderEpochAdvertised checks the ApiVersions entry.
func TestOffsetForLeaderEpochAdvertised(t *testing.T) {
	ws := startWireServer(t, nil)
	c := dialWire(t, ws.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse)
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 23 {
			if k.MinVersion != 0 || k.MaxVersion != 4 {
				t.Fatalf("OffsetForLeaderEpoch advertised v%d-v%d, want v0-v4", k.MinVersion, k.MaxVersion)
			}
			return
		}
	}
	t.Fatal("OffsetForLeaderEpoch (23) is not advertised")
}
