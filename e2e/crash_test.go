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
		// Offsets continue where the recovered log ends: one acks=all
		// record per partition, which also waits until everything before
		// it is below the high watermark and so readable.
		next := produceAfterRestart(t, p.Addr, kill)
		checkAcked(t, p.Addr, acked, next, kill)
		for part, off := range next {
			acked = append(acked, crashAck{part, off, afterRestartValue(kill, part)})
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

// produceAfterRestart produces one record per partition with acks=all and
// returns the offset each one got.
func produceAfterRestart(t *testing.T, addr string, kill int) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := shaletest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	next := map[int32]int64{}
	for part := range int32(crashPartitions) {
		r := &kgo.Record{Topic: crashTopic, Partition: part, Value: []byte(afterRestartValue(kill, part))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce after restart to partition %d: %v", part, err)
		}
		next[part] = r.Offset
	}
	return next
}

func afterRestartValue(kill int, part int32) string {
	return fmt.Sprintf("after-kill-%d-p%d", kill, part)
}

// checkAcked reads every partition from offset 0 through the record
// produced after the restart (at next[partition]) and checks that offsets
// are dense, that every acknowledged record is there at its offset with its
// value, and that the new record sits right after the recovered log: no
// gap (density) and no reuse (every acknowledged offset keeps its value,
// all below the new record's).
func checkAcked(t *testing.T, addr string, acked []crashAck, next map[int32]int64, kill int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := map[int32]kgo.Offset{}
	for part := range next {
		start[part] = kgo.NewOffset().At(0)
	}
	cl := shaletest.Client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{crashTopic: start}))
	got := map[int32]map[int64]string{}
	remaining := 0
	for part, off := range next {
		got[part] = map[int64]string{}
		remaining += int(off) + 1
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
			if r.Offset > next[r.Partition] {
				return // past what this check reads
			}
			if _, dup := got[r.Partition][r.Offset]; dup {
				t.Fatalf("partition %d: offset %d read twice", r.Partition, r.Offset)
			}
			got[r.Partition][r.Offset] = string(r.Value)
			remaining--
		})
	}
	maxAcked := map[int32]int64{}
	for _, a := range acked {
		maxAcked[a.partition] = max(maxAcked[a.partition], a.offset)
		v, ok := got[a.partition][a.offset]
		switch {
		case !ok:
			t.Fatalf("acknowledged record %q at partition %d offset %d is gone", a.value, a.partition, a.offset)
		case v != a.value:
			t.Fatalf("partition %d offset %d holds %q, acknowledged as %q", a.partition, a.offset, v, a.value)
		}
	}
	for part, off := range next {
		if int64(len(got[part])) != off+1 {
			t.Fatalf("partition %d: %d records in [0, %d]: offsets are not dense", part, len(got[part]), off)
		}
		if got[part][off] != afterRestartValue(kill, part) {
			t.Fatalf("partition %d offset %d holds %q, not the record produced after the restart", part, off, got[part][off])
		}
		if _, ok := maxAcked[part]; ok && off <= maxAcked[part] {
			t.Fatalf("partition %d: offset %d given out again after the restart (acknowledged up to %d)", part, off, maxAcked[part])
		}
	}
}
