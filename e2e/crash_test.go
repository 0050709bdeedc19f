package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashAck is one record the broker acknowledged.
type crashAck struct {
	partition int32
	offset    int64
	value     string
}

const (
	crashTopic      = "crash"
	crashPartitions = 3
	crashKills      = 3
	crashProducers  = 4
)

// TestCrashAcks1SurvivesKill: records acknowledged with acks=1 survive a
// SIGKILL of the broker at their acknowledged offsets, and offsets continue
// after a restart with no gap and no reuse.
func TestCrashAcks1SurvivesKill(t *testing.T) {
	testCrash(t, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
}

// TestCrashIdempotentSurvivesKill is the same with franz-go's default
// producer: idempotent, acks=all.
func TestCrashIdempotentSurvivesKill(t *testing.T) {
	testCrash(t)
}

func testCrash(t *testing.T, producerOpts ...kgo.Opt) {
	if testing.Short() {
		t.Skip("builds and kills the shale binary")
	}
	dataDir := t.TempDir()
	p := shaletest.StartProcess(t, dataDir)
	shaletest.CreateTopic(t, p.Addr, crashTopic, crashPartitions, nil)

	var acked []crashAck
	for kill := range crashKills {
		acked = append(acked, produceUntilKilled(t, p, kill, producerOpts)...)
		p = shaletest.StartProcess(t, dataDir)
		ends := checkAcked(t, p.Addr, acked)
		checkOffsetsContinue(t, p.Addr, ends, kill)
		// The records written by checkOffsetsContinue were acknowledged too.
		for part, end := range ends {
			acked = append(acked, crashAck{part, end, fmt.Sprintf("after-kill-%d-p%d", kill, part)})
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
}

// produceUntilKilled runs crashProducers goroutines producing as fast as the
// client lets them, and SIGKILLs the broker once some acknowledgements
// have come back, while produce requests are still in flight. It returns
// every record acknowledged without error.
func produceUntilKilled(t *testing.T, p *shaletest.Process, kill int, producerOpts []kgo.Opt) []crashAck {
	t.Helper()
	opts := append([]kgo.Opt{
		kgo.DefaultProduceTopic(crashTopic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(0),
		kgo.RecordRetries(0),
		kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.RetryTimeout(2 * time.Second),
	}, producerOpts...)
	cl := shaletest.Client(t, p.Addr, opts...)

	var (
		mu     sync.Mutex
		acks   []crashAck
		count  atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for g := range crashProducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				value := fmt.Sprintf("k%d-g%d-%d", kill, g, i)
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Value: []byte(value)}, func(r *kgo.Record, err error) {
					defer wg.Done()
					if err != nil {
						failed.Add(1)
						return
					}
					mu.Lock()
					acks = append(acks, crashAck{r.Partition, r.Offset, string(r.Value)})
					mu.Unlock()
					count.Add(1)
				})
			}
		}()
	}
	// Kill once a few hundred acknowledgements have arrived: the producers
	// are still sending, so requests are in flight at the kill.
	target := int64(300 + 200*kill)
	deadline := time.Now().Add(15 * time.Second)
	for count.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("only %d acknowledgements in 15s (%d failed)", count.Load(), failed.Load())
		}
		time.Sleep(time.Millisecond)
	}
	p.Kill()
	cancel()
	cl.Close() // fails what is still buffered, so wg completes
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("kill %d: %d records acknowledged, %d failed", kill, len(acks), failed.Load())
	return acks
}

// checkAcked reads every partition from offset 0 to its end and checks that
// every acknowledged record is there at its offset with its value, and that
// offsets are dense. It returns each partition's end offset.
func checkAcked(t *testing.T, addr string, acked []crashAck) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(shaletest.Client(t, addr))
	listed, err := adm.ListEndOffsets(ctx, crashTopic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of partition %d: %v", o.Partition, o.Err)
		}
		ends[o.Partition] = o.Offset
	})
	if len(ends) != crashPartitions {
		t.Fatalf("end offsets for %d partitions, want %d", len(ends), crashPartitions)
	}

	start := map[int32]kgo.Offset{}
	for part := range ends {
		start[part] = kgo.NewOffset().At(0)
	}
	cl := shaletest.Client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{crashTopic: start}))
	got := map[int32]map[int64]string{}
	remaining := 0
	for part, end := range ends {
		got[part] = map[int64]string{}
		remaining += int(end)
	}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d records still unread: %v", remaining, err)
		}
		fs.EachError(func(_ string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch partition %d: %v", part, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				t.Fatalf("partition %d: record at %d, past the end offset %d read before", r.Partition, r.Offset, ends[r.Partition])
			}
			if _, dup := got[r.Partition][r.Offset]; dup {
				t.Fatalf("partition %d: offset %d read twice", r.Partition, r.Offset)
			}
			got[r.Partition][r.Offset] = string(r.Value)
			remaining--
		})
	}
	for part, end := range ends {
		if int64(len(got[part])) != end {
			t.Fatalf("partition %d: %d records below end offset %d: offsets are not dense", part, len(got[part]), end)
		}
	}
	for _, a := range acked {
		v, ok := got[a.partition][a.offset]
		switch {
		case !ok:
			t.Fatalf("acknowledged record %q at partition %d offset %d is gone (end offset %d)", a.value, a.partition, a.offset, ends[a.partition])
		case v != a.value:
			t.Fatalf("partition %d offset %d holds %q, acknowledged as %q", a.partition, a.offset, v, a.value)
		}
	}
	return ends
}

// checkOffsetsContinue produces one record per partition and checks that
// it lands exactly at the partition's end offset found after the restart.
func checkOffsetsContinue(t *testing.T, addr string, ends map[int32]int64, kill int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := shaletest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for part, end := range ends {
		r := &kgo.Record{Topic: crashTopic, Partition: part, Value: []byte(fmt.Sprintf("after-kill-%d-p%d", kill, part))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce after restart to partition %d: %v", part, err)
		}
		if r.Offset != end {
			t.Fatalf("partition %d: first offset after restart is %d, want the end offset %d (no gap, no reuse)", part, r.Offset, end)
		}
	}
	cl.Close()
}
