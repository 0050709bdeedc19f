package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduceFranz measures produce throughput through a real
// in-process broker with franz-go's default producer (idempotent,
// acks=all), records spread over 8 partitions. The loadtest tool (`shale
// loadtest`) measures the same with latency percentiles.
func BenchmarkProduceFranz(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			n := shaletest.StartNode(b, nil)
			shaletest.CreateTopic(b, n.Addr(), "bench", 8, nil)
			cl := shaletest.Client(b, n.Addr(), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<20))
			value := make([]byte, size)
			ctx := context.Background()
			var wg sync.WaitGroup
			var errOnce sync.Once
			var firstErr error
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						errOnce.Do(func() { firstErr = err })
					}
					wg.Done()
				})
			}
			wg.Wait()
			b.StopTimer()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
	}
}
