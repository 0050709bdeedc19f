package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaBrokers asks the Kafka listener at addr, in a Metadata request of
// its own, which brokers it lists (sorted ids).
//
// Waits on the brokers a cluster lists must ask like this, every time:
// kadm's BrokerMetadata answers from the client's broker list once that
// has one, and an admin client refreshes that list on its own only every
// metadata max age (5 minutes), so a broker missing from the first answer
// (a node that had not yet applied its registration, or a broker fenced
// at the time) stays missing for the client however long it waits.
func kafkaBrokers(ctx context.Context, addr string, opts ...kgo.Opt) ([]int32, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids, nil
}

// awaitKafkaBrokers waits (at most 90s) until the Kafka listener at every
// address of addrs lists exactly the brokers want (sorted ids).
func awaitKafkaBrokers(addrs []string, want []int32, opts ...kgo.Opt) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, addr := range addrs {
		var last []int32
		var lastErr error
		for {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := kafkaBrokers(rctx, addr, opts...)
			rcancel()
			if err == nil && slices.Equal(got, want) {
				break
			}
			if err == nil {
				last = got
			} else {
				lastErr = err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("the Kafka listener at %s lists brokers %v, want %v (last error: %v)", addr, last, want, lastErr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// TestClusterFencedBrokerReturnsToMetadata freezes a broker (SIGSTOP)
// until the controllers fence it for its lapsed session, then thaws it:
// it learns from its next heartbeat that it was fenced, registers again
// (a new incarnation) and every node lists it in Metadata again, as a
// Kafka client expects of a broker that is back.
func TestClusterFencedBrokerReturnsToMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	var before int64
	for _, b := range waitStatus(t, c.raft[0], "broker 3 live", brokerLive(3)).Brokers {
		if b.ID == 3 {
			before = b.Incarnation
		}
	}
	if err := awaitKafkaBrokers(c.kafka(), []int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}

	c.procs[2].Freeze()
	waitStatus(t, c.raft[0], "broker 3 fenced", fencedAndReled(3))
	if err := awaitKafkaBrokers(c.kafka(2), []int32{1, 2}); err != nil {
		t.Fatalf("broker 3 fenced: %v", err)
	}

	c.procs[2].Thaw()
	if err := awaitKafkaBrokers(c.kafka(), []int32{1, 2, 3}); err != nil {
		for i, p := range c.procs {
			t.Logf("node %d log:\n%s", i+1, p.Log())
		}
		t.Fatalf("broker 3 thawed: %v", err)
	}
	st := waitStatus(t, c.raft[0], "broker 3 live", brokerLive(3))
	for _, b := range st.Brokers {
		if b.ID == 3 && b.Incarnation <= before {
			t.Fatalf("broker 3 live again at incarnation %d, registered at %d before it was fenced: want a new registration", b.Incarnation, before)
		}
	}
}
