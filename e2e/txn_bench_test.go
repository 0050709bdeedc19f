package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkTxnProduce compares, on the same load (1 KiB incompressible
// values over 8 partitions, one producer), idempotent produce with
// transactional produce committing every 1,000 or 10,000 records: the
// price of the markers and of EndTxn's wait for them to be committed.
func BenchmarkTxnProduce(b *testing.B) {
	for _, per := range []int{0, 1000, 10000} {
		name := "idempotent"
		if per > 0 {
			name = fmt.Sprintf("txn-%d", per)
		}
		b.Run(name, func(b *testing.B) {
			n := shaletest.StartNode(b, nil)
			shaletest.CreateTopic(b, n.Addr(), "bench", 8, nil)
			opts := []kgo.Opt{kgo.DefaultProduceTopic("bench"), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(1 << 20)}
			if per > 0 {
				opts = append(opts, kgo.TransactionalID("bench-txn"))
			}
			cl := shaletest.Client(b, n.Addr(), opts...)
			values := make([][]byte, 256)
			for i := range values {
				values[i] = make([]byte, 1024)
				rand.Read(values[i])
			}
			ctx := context.Background()
			var errOnce sync.Once
			var firstErr error
			done := func(_ *kgo.Record, err error) {
				if err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
			b.SetBytes(1024)
			b.ResetTimer()
			for i := 0; i < b.N; {
				if per > 0 {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				end := b.N
				if per > 0 {
					end = min(b.N, i+per)
				}
				for ; i < end; i++ {
					cl.Produce(ctx, &kgo.Record{Value: values[i%len(values)]}, done)
				}
				if err := cl.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if per > 0 {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
	}
}

// BenchmarkFetchIsolation reads 50,000 1 KiB records written in
// transactions of 1,000 (one in five aborted) from offset 0, at
// read_uncommitted and at read_committed: the cost of the LSO and of the
// aborted-transaction lists.
func BenchmarkFetchIsolation(b *testing.B) {
	n := shaletest.StartNode(b, nil)
	addr := n.Addr()
	shaletest.CreateTopic(b, addr, "iso", 4, nil)
	cl := shaletest.Client(b, addr, kgo.DefaultProduceTopic("iso"), kgo.TransactionalID("iso-txn"), kgo.MaxBufferedRecords(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	value := make([]byte, 1024)
	rand.Read(value)
	const total, per = 50000, 1000
	for i := 0; i < total; i += per {
		if err := cl.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		for range per {
			cl.Produce(ctx, &kgo.Record{Value: value}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(i/per%5 != 4)); err != nil {
			b.Fatal(err)
		}
	}
	for _, level := range []struct {
		name  string
		level kgo.IsolationLevel
		want  int
	}{{"read_uncommitted", kgo.ReadUncommitted(), total}, {"read_committed", kgo.ReadCommitted(), total * 4 / 5}} {
		b.Run(level.name, func(b *testing.B) {
			b.SetBytes(int64(level.want) * 1024)
			for range b.N {
				c := shaletest.Client(b, addr, kgo.ConsumeTopics("iso"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level.level))
				got := 0
				for got < level.want {
					fs := c.PollFetches(ctx)
					if ctx.Err() != nil {
						b.Fatalf("read %d of %d", got, level.want)
					}
					got += fs.NumRecords()
				}
				c.Close()
			}
		})
	}
}
