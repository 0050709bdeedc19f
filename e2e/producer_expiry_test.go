package e2e

import (
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// An idempotent producer silent for longer than producer_id_expiration is
// forgotten: going on at its next sequence it gets UNKNOWN_PRODUCER_ID
// (OUT_OF_ORDER_SEQUENCE_NUMBER on Produce v3-v4, which predate that
// code), and it can start again at sequence 0.
func TestProtocolExpiredProducer(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "expiry", 1, nil)
	c := dialRaw(t, n.Addr())
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	ir := c.roundTrip(init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(ir.ErrorCode))
	}
	pid := ir.ProducerID
	send := func(version int16, seq int32) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := rawProduce("expiry", 0, -1, rawBatch(3, 10, pid, 0, seq))
		req.Version = version
		return produced(t, c.roundTrip(req))
	}
	if r := send(9, 0); r.ErrorCode != 0 {
		t.Fatalf("first batch: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// Within the window nothing is forgotten.
	if k := n.ExpireProducers(time.Now().Add(time.Hour)); k != 0 {
		t.Fatalf("%d producers expired an hour after their write (window 24h)", k)
	}
	if r := send(9, 3); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("second batch: offset %d, %v", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	if k := n.ExpireProducers(time.Now().Add(25 * time.Hour)); k != 1 {
		t.Fatalf("%d producers expired 25h after their last write, want 1", k)
	}
	wantCode(t, "expired producer, Produce v9", send(9, 6).ErrorCode, kerr.UnknownProducerID)
	wantCode(t, "expired producer, Produce v4", send(4, 6).ErrorCode, kerr.OutOfOrderSequenceNumber)
	if r := send(9, 0); r.ErrorCode != 0 || r.BaseOffset != 6 {
		t.Fatalf("restart at sequence 0: offset %d, %v; want offset 6", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	c.alive()
}
