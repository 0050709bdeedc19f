package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A finished response goes out even while a later request on the same
// connection is still in progress: a pipelining producer's acks must not
// wait for its next request (an acks=all produce is in progress for up to
// a segment age). Here the later request is a long poll that only ends
// when data arrives, and the data is produced only once the first answer
// is in: were the first answer held back behind the poll, the poll would
// run out its wait and come back empty.
func TestReadyResponseIsNotHeldBehindALaterOne(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "pipe", 2, nil)

	c := dialWire(t, ws.addr)
	first := c.send(produceRequest("pipe", 0, 1, testRecords(1, 10, -1, -1, -1)))
	poll := c.send(fetchRequest("pipe", 0, 12_000, 1, 1<<20, 1)) // partition 1, empty
	if res := produceResult(t, c.recv(first)); res.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(res.ErrorCode))
	}

	other := dialWire(t, ws.addr)
	if res := produceResult(t, other.roundTrip(produceRequest("pipe", 1, 1, testRecords(1, 10, -1, -1, -1)))); res.ErrorCode != 0 {
		t.Fatalf("second produce: %v", kerr.ErrorForCode(res.ErrorCode))
	}
	fr := c.recv(poll).(*kmsg.FetchResponse)
	p := fr.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(p.ErrorCode))
	}
	if len(p.RecordBatches) == 0 {
		t.Fatal("the long poll came back empty: the first response was held until the poll's wait ran out")
	}
}
