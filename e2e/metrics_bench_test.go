package e2e

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduceMetricsOverhead measures produce throughput (franz-go,
// acks=all, 100-byte records over 8 partitions) on three nodes in the same
// run: without a metrics listener, with one nobody scrapes, and with a
// scraper GETting /metrics every second as Prometheus would. The
// difference is what metrics cost the request path and a scrape.
//
//	go test ./e2e -run '^$' -bench ProduceMetricsOverhead -benchtime 5s -count 3
func BenchmarkProduceMetricsOverhead(b *testing.B) {
	for _, mode := range []string{"off", "on", "scraped-1s"} {
		b.Run(mode, func(b *testing.B) {
			n := shaletest.StartNode(b, func(c *node.Config) {
				if mode != "off" {
					c.Observe.MetricsListen = "127.0.0.1:0"
				}
			})
			shaletest.CreateTopic(b, n.Addr(), "bench", 8, nil)
			cl := shaletest.Client(b, n.Addr(), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<20))
			stop := make(chan struct{})
			var scrapes sync.WaitGroup
			var scraped, scrapeNanos, scrapeBytes int64
			if mode == "scraped-1s" {
				scrapes.Add(1)
				go func() {
					defer scrapes.Done()
					tick := time.NewTicker(time.Second)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						start := time.Now()
						resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
						if err != nil {
							b.Error(err)
							return
						}
						nb, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						scraped++
						scrapeNanos += int64(time.Since(start))
						scrapeBytes = nb
					}
				}()
			}
			value := make([]byte, 100)
			ctx := context.Background()
			var wg sync.WaitGroup
			var errOnce sync.Once
			var firstErr error
			b.SetBytes(int64(len(value)))
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
			close(stop)
			scrapes.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			if scraped > 0 {
				b.ReportMetric(float64(scraped), "scrapes")
				b.ReportMetric(float64(scrapeNanos)/float64(scraped)/1e6, "ms/scrape")
				b.ReportMetric(float64(scrapeBytes), "scrape-bytes")
			}
		})
	}
}

// BenchmarkScrapeMetrics measures one GET /metrics of a node with a topic
// of 8 partitions, data and a consumer group: what a scraper costs the
// broker per scrape (the response is parsed nowhere).
//
//	go test ./e2e -run '^$' -bench ScrapeMetrics -benchtime 200x
func BenchmarkScrapeMetrics(b *testing.B) {
	n := shaletest.StartNode(b, func(c *node.Config) { c.Observe.MetricsListen = "127.0.0.1:0" })
	shaletest.CreateTopic(b, n.Addr(), "bench", 8, nil)
	cl := shaletest.Client(b, n.Addr())
	ctx := context.Background()
	for i := range 1000 {
		cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: []byte{byte(i)}}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	url := "http://" + n.MetricsAddr() + "/metrics"
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		nb, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(nb)
	}
}
