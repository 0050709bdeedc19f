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

// BenchmarkProduceMetricsInterleaved is BenchmarkProduceMetricsOverhead
// with the three nodes (off, on, scraped every second) running side by
// side and the load moving from one to the next every chunk of records,
// so that a busy neighbour on a shared machine slows every mode alike. It
// reports ns per record for each mode; b.N is the records of all three.
//
//	go test ./e2e -run '^$' -bench ProduceMetricsInterleaved -benchtime 15000000x -count 3
func BenchmarkProduceMetricsInterleaved(b *testing.B) {
	modes := []string{"off", "on", "scraped-1s"}
	clients := make([]*kgo.Client, len(modes))
	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	defer scrapes.Wait()
	defer close(stop)
	for i, mode := range modes {
		n := shaletest.StartNode(b, func(c *node.Config) {
			if mode != "off" {
				c.Observe.MetricsListen = "127.0.0.1:0"
			}
		})
		shaletest.CreateTopic(b, n.Addr(), "bench", 8, nil)
		clients[i] = shaletest.Client(b, n.Addr(), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<20))
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
					if resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics"); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
	}
	const chunk = 250_000
	value := make([]byte, 100)
	ctx := context.Background()
	spent := make([]time.Duration, len(modes))
	records := make([]int, len(modes))
	b.SetBytes(int64(len(value)))
	b.ResetTimer()
	for done, turn := 0, 0; done < b.N; turn++ {
		i := turn % len(modes)
		k := min(chunk, b.N-done)
		start := time.Now()
		var failed error
		var mu sync.Mutex
		for range k {
			clients[i].Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			})
		}
		if err := clients[i].Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if failed != nil {
			b.Fatal(failed)
		}
		spent[i] += time.Since(start)
		records[i] += k
		done += k
	}
	b.StopTimer()
	for i, mode := range modes {
		if records[i] > 0 {
			b.ReportMetric(float64(spent[i].Nanoseconds())/float64(records[i]), "ns/rec-"+mode)
		}
	}
}
