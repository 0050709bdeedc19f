package e2e

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestTxnBumpPerTransaction: Shale advertises transaction.version 2
// (KIP-890 part 2), so franz-go ends each transaction with EndTxn v5 and
// adds partitions through Produce v12. The epoch moves on with every
// transaction; a late Produce of an ended transaction is refused with
// INVALID_PRODUCER_EPOCH and lands nowhere, even on a partition the new
// transaction never added; a retried EndTxn v5 at the old epoch is
// answered with the new one; read_committed sees every committed record
// once. A client held at the older protocol (EndTxn v4, Produce v11)
// keeps one epoch across its transactions, as before.
func TestTxnBumpPerTransaction(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "bump", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := dialRaw(t, addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "shale-test", "1"
	avr := c.roundTrip(av).(*kmsg.ApiVersionsResponse)
	level := int16(-1)
	for _, f := range avr.FinalizedFeatures {
		if f.Name == "transaction.version" {
			level = f.MaxVersionLevel
		}
	}
	if level != 2 || avr.FinalizedFeaturesEpoch < 0 {
		t.Fatalf("transaction.version finalized at %d (features epoch %d), want 2", level, avr.FinalizedFeaturesEpoch)
	}

	adm := shaletest.Admin(t, addr)
	epochOf := func(id string) (int64, int16) {
		t.Helper()
		d, err := adm.DescribeTransactions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return d[id].ProducerID, d[id].ProducerEpoch
	}
	p := shaletest.Client(t, addr, kgo.TransactionalID("bumper"), kgo.DefaultProduceTopic("bump"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var epochs []int16
	var pid int64
	for i := range 3 {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte{'c', byte('0' + i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		id, e := epochOf("bumper")
		pid = id
		epochs = append(epochs, e)
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(epochs); i++ {
		if epochs[i] != epochs[i-1]+1 {
			t.Fatalf("epochs of successive transactions %v, want one more each", epochs)
		}
	}
	_, now := epochOf("bumper")
	if now != epochs[2]+1 {
		t.Fatalf("epoch after the last commit %d, want %d", now, epochs[2]+1)
	}

	// A late Produce v12 of the second transaction, to a partition no
	// transaction added: refused, and nothing lands.
	late := rawBatch(1, 10, pid, epochs[1], 1)
	binary.BigEndian.PutUint16(late[21:], 0x10) // transactional
	req := rawProduce("bump", 1, -1, resignBatch(late))
	req.Version = 12
	id := "bumper"
	req.TransactionID = &id
	wantCode(t, "a late produce of an ended transaction", produced(t, c.roundTrip(req)).ErrorCode, kerr.InvalidProducerEpoch)
	if _, e := epochOf("bumper"); e != now {
		t.Fatalf("the late produce moved the epoch to %d", e)
	}
	ends, err := adm.ListEndOffsets(ctx, "bump")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("bump", 1); o.Offset != 0 {
		t.Fatalf("partition 1 holds %d records after a refused late produce", o.Offset)
	}

	// The client missed the answer to its last EndTxn and retries it.
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 5
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "bumper", pid, epochs[2], true
	er := c.roundTrip(end).(*kmsg.EndTxnResponse)
	if er.ErrorCode != 0 || er.ProducerID != pid || er.ProducerEpoch != now {
		t.Fatalf("retried EndTxn v5: error %v, producer %d epoch %d; want success with %d epoch %d",
			kerr.ErrorForCode(er.ErrorCode), er.ProducerID, er.ProducerEpoch, pid, now)
	}
	// An older one is fenced.
	end.ProducerEpoch = epochs[1]
	if er := c.roundTrip(end).(*kmsg.EndTxnResponse); er.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn v5 two transactions late: %v, want PRODUCER_FENCED", kerr.ErrorForCode(er.ErrorCode))
	}

	// The producer goes on at its new epoch.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("c3")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	seen := readAll(t, addr, "bump", true)
	for _, v := range []string{"c0", "c1", "c2", "c3"} {
		if seen[v] != 1 {
			t.Fatalf("read_committed saw %q %d times (all: %v)", v, seen[v], seen)
		}
	}
	c.alive()

	// A client of the older protocol keeps its epoch.
	old := shaletest.Client(t, addr, kgo.TransactionalID("steady"), kgo.DefaultProduceTopic("bump"),
		kgo.MaxVersions(kversion.V3_9_0()))
	var oldEpochs []int16
	for i := range 2 {
		if err := old.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte{'o', byte('0' + i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := old.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		_, e := epochOf("steady")
		oldEpochs = append(oldEpochs, e)
	}
	if oldEpochs[0] != oldEpochs[1] {
		t.Fatalf("a client of EndTxn v4 saw its epoch move: %v", oldEpochs)
	}
}
