package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterCompactionDuringFailover: a compacted topic on three nodes
// under keyed idempotent acks=all load, compacted by key every 200 ms by
// the metadata leader, which is killed with SIGKILL mid-run (compaction
// moves to the new leader) and restarted. Afterwards a read from offset 0
// holds, for every key, exactly the last acknowledged value, once, at its
// acknowledged offset; and compaction did run (bytes reclaimed).
func TestClusterCompactionDuringFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3, "--key-compaction-interval", "200ms", "--key-compaction-map-bytes", "256KiB")
	adm := shaletest.Admin(t, c.procs[0].Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"segment.bytes":             kadm.StringPtr("1048576"),
	}, "cfail"); err != nil {
		t.Fatal(err)
	}
	type acked struct {
		value     string
		partition int32
		offset    int64
	}
	var mu sync.Mutex
	latest := map[string]acked{}
	keySeq := map[string]int{}
	maybe := map[string]map[string]bool{} // updates whose outcome is unknown (cancelled at the end)
	cl := shaletest.Client(t, c.procs[0].Addr, kgo.SeedBrokers(c.kafka()...), kgo.DefaultProduceTopic("cfail"),
		kgo.RecordDeliveryTimeout(60*time.Second))
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// 20 writers, each owning 5 of the 100 keys with one update in flight,
	// so acknowledgement order is log order for every key.
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(3, uint64(w)))
			for i := 0; runCtx.Err() == nil; i++ {
				key := fmt.Sprintf("key-%03d", w*5+rng.IntN(5))
				v := fmt.Sprintf("%s-u%06d", key, i)
				res := cl.ProduceSync(runCtx, &kgo.Record{Key: []byte(key), Value: []byte(v)})
				r, err := res.First()
				mu.Lock()
				if err == nil {
					latest[key] = acked{v, r.Partition, r.Offset}
					keySeq[key]++
				} else {
					if maybe[key] == nil {
						maybe[key] = map[string]bool{}
					}
					maybe[key][v] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(4 * time.Second)
	st, err := clusterStatus(t, c.raft[0])
	if err != nil {
		t.Fatal(err)
	}
	victim := int(st.Leader) - 1
	other := c.raft[(victim+1)%3]
	c.procs[victim].Kill()
	waitStatus(t, other, "a new metadata leader and the dead broker's partitions re-led", func(st metadata.ClusterStatus) bool {
		return int(st.Leader)-1 != victim && st.Leader >= 0 && len(st.Unhealthy) == 0
	})
	time.Sleep(3 * time.Second)
	c.procs[victim] = shaletest.StartProcesses(t, []string{c.dirs[victim]}, [][]string{c.argsFor(victim)})[0]
	waitStatus(t, other, "the restarted node live", brokerLive(int32(victim+1)))
	time.Sleep(3 * time.Second)
	stop()
	wg.Wait()
	// Let compaction catch up with what was written last.
	time.Sleep(2 * time.Second)

	ends, err := adm.ListEndOffsets(ctx, "cfail")
	if err != nil {
		t.Fatal(err)
	}
	reader := shaletest.Client(t, c.procs[(victim+1)%3].Addr, kgo.SeedBrokers(c.kafka()...), kgo.ConsumeTopics("cfail"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	last := map[string]*kgo.Record{}
	next := map[int32]int64{}
	done := func() bool {
		ok := true
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Partition] < o.Offset {
				ok = false
			}
		})
		return ok
	}
	records := 0
	for !done() {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back: %v at %v of %v", ctx.Err(), next, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			if r.Offset < next[r.Partition] {
				t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition] = r.Offset + 1
			last[string(r.Key)] = r
		})
	}
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for key, a := range latest {
		r, ok := last[key]
		if ok && r.Offset > a.offset && maybe[key][string(r.Value)] {
			continue // a later update whose acknowledgement was cut off
		}
		if !ok || string(r.Value) != a.value || r.Offset != a.offset || r.Partition != a.partition {
			lost++
			if lost < 5 {
				t.Errorf("key %s: last acknowledged %q at %d/%d, read %v", key, a.value, a.partition, a.offset, r)
			}
		}
	}
	acks := 0
	for _, n := range keySeq {
		acks += n
	}
	t.Logf("%d acknowledged updates over %d keys; metadata leader %d killed mid-run; read back %d records from offset 0; latest values lost: %d",
		acks, len(latest), victim+1, records, lost)
	if lost > 0 {
		t.Fatalf("%d keys lost their latest value", lost)
	}
	if records >= acks {
		t.Fatalf("read back %d records of %d acknowledged: nothing was compacted", records, acks)
	}
}
