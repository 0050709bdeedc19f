package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hot-consume benchmarks: a real Server (WAL-only, so fsynced data is
// readable at once) serving franz-go over loopback. Each iteration reads the
// whole pre-produced topic, so the numbers include the client's own CPU, as
// the loadtest tool's do; BenchmarkFetchWire leaves the client out.
//
//	go test ./broker/ -run '^$' -bench 'Fetch' -benchtime 5x -cpuprofile /tmp/fetch.cpu

const (
	benchPartitions = 8
	benchRecordSize = 100
)

// produceBenchTopic fills topic with records of benchRecordSize bytes,
// spread evenly over benchPartitions, and returns their count.
func produceBenchTopic(b *testing.B, ws *wireServer, topic string, totalBytes int) int {
	b.Helper()
	ws.createTopic(b, topic, benchPartitions, nil)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(ws.addr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	n := totalBytes / benchRecordSize
	value := make([]byte, benchRecordSize)
	errs := make(chan error, 1)
	for range n {
		cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatalf("produce: %v", err)
	default:
	}
	return n
}

// BenchmarkFetchHotConsume reads a 32 MiB topic of 100-byte records from
// offset 0 with one franz-go consumer per iteration.
func BenchmarkFetchHotConsume(b *testing.B) {
	ws := startWireServer(b, nil)
	const topic = "hot"
	n := produceBenchTopic(b, ws, topic, 32<<20)
	offsets := make(map[int32]kgo.Offset, benchPartitions)
	for p := range int32(benchPartitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	b.SetBytes(int64(n * benchRecordSize))
	b.ResetTimer()
	for b.Loop() {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(ws.addr),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		)
		if err != nil {
			b.Fatal(err)
		}
		// A consumer that stops getting records fails the benchmark
		// instead of hanging it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		got := 0
		for got < n {
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				b.Fatalf("poll: %v", err)
			}
			got += fs.NumRecords()
		}
		cancel()
		cl.Close()
	}
}

// BenchmarkFetchWire sends raw Fetch requests over one connection, one in
// flight, each asking for 1 MiB per partition of every partition from its
// next offset, until the topic is read: the broker's share of a consume
// with no client decoding.
func BenchmarkFetchWire(b *testing.B) {
	ws := startWireServer(b, nil)
	const topic = "wire"
	n := produceBenchTopic(b, ws, topic, 32<<20)
	c := dialWire(b, ws.addr)
	parts := make([]int32, benchPartitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	b.SetBytes(int64(n * benchRecordSize))
	b.ResetTimer()
	for b.Loop() {
		next := make([]int64, benchPartitions)
		got := 0
		for got < n {
			req := fetchRequest(topic, 0, 500, 1, 50<<20, parts...)
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].FetchOffset = next[i]
			}
			resp := c.roundTrip(req).(*kmsg.FetchResponse)
			before := got
			for _, rp := range resp.Topics[0].Partitions {
				if rp.ErrorCode != 0 {
					b.Fatalf("partition %d: error %d", rp.Partition, rp.ErrorCode)
				}
				recs, last := countRecords(b, rp.RecordBatches, next[rp.Partition])
				got += recs
				if recs > 0 {
					next[rp.Partition] = last + 1
				}
			}
			if got == before {
				b.Fatalf("fetch returned no records with %d of %d read", got, n)
			}
		}
	}
}

// countRecords counts the records at or after from in whole batches and
// returns the last offset seen.
func countRecords(b *testing.B, batches []byte, from int64) (int, int64) {
	var rb kmsg.RecordBatch
	n, last := 0, int64(-1)
	for len(batches) > 0 {
		if err := rb.ReadFrom(batches); err != nil {
			b.Fatalf("decode batch: %v", err)
		}
		size := int(rb.Length) + 12
		if size <= 12 || size > len(batches) {
			b.Fatalf("batch of %d bytes in %d", size, len(batches))
		}
		batches = batches[size:]
		lastOff := rb.FirstOffset + int64(rb.LastOffsetDelta)
		if lastOff >= from {
			n += int(lastOff - max(from, rb.FirstOffset) + 1)
		}
		last = lastOff
	}
	return n, last
}
