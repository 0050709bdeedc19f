package wal

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func benchConfig(b *testing.B) Config {
	cfg := DefaultConfig()
	cfg.Dir = b.TempDir()
	return cfg
}

// BenchmarkAppendSync measures append plus waiting for the covering fsync,
// the acks=1 produce path. "serial" is one producer (one fsync per entry);
// "parallel" runs many producers so group commit shares fsyncs.
func BenchmarkAppendSync(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d/serial", size), func(b *testing.B) {
			l := mustOpen(b, benchConfig(b))
			k := testKey(0)
			data := testData(k, 0, size)
			done := make(chan error, 1)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				e := Entry{Key: k, BaseOffset: int64(i), LastOffset: int64(i), Data: data,
					Done: func(err error) { done <- err }}
				if err := l.Append(e); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCommits(b, l)
		})
		b.Run(fmt.Sprintf("size=%d/parallel", size), func(b *testing.B) {
			l := mustOpen(b, benchConfig(b))
			var producers atomic.Int32
			b.SetBytes(int64(size))
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				k := testKey(int(producers.Add(1)))
				data := testData(k, 0, size)
				done := make(chan error, 1)
				for off := int64(0); pb.Next(); off++ {
					e := Entry{Key: k, BaseOffset: off, LastOffset: off, Data: data,
						Done: func(err error) { done <- err }}
					if err := l.Append(e); err != nil {
						b.Fatal(err)
					}
					if err := <-done; err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			reportCommits(b, l)
		})
	}
}

// BenchmarkAppendPipelined appends without waiting for each entry (Sync at
// the end): the log's raw throughput when appenders never stall.
func BenchmarkAppendPipelined(b *testing.B) {
	for _, size := range []int{100, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := mustOpen(b, benchConfig(b))
			keys := make([]Key, 64)
			for i := range keys {
				keys[i] = testKey(i)
			}
			data := testData(keys[0], 0, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				k := keys[i%len(keys)]
				off := int64(i / len(keys))
				if err := l.Append(Entry{Key: k, BaseOffset: off, LastOffset: off, Data: data}); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Sync(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportCommits(b, l)
		})
	}
}

func reportCommits(b *testing.B, l *Log) {
	st := l.Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Entries)/float64(st.Commits), "entries/commit")
	}
}

// BenchmarkRead reads from a log of 16 partitions x 1 KiB entries spread
// over many segments: one entry per call, and 64 KiB per call.
func BenchmarkRead(b *testing.B) {
	cfg := benchConfig(b)
	cfg.SegmentMaxAge = time.Hour
	l := mustOpen(b, cfg)
	const parts, perPart, size = 16, 2000, 1024
	for i := range perPart {
		for p := range parts {
			k := testKey(p)
			if err := l.Append(Entry{Key: k, BaseOffset: int64(i), LastOffset: int64(i), Data: testData(k, int64(i), size)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	for _, entries := range []int{1, 64} {
		b.Run(fmt.Sprintf("entries=%d", entries), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			b.SetBytes(int64(entries * size))
			b.ResetTimer()
			for range b.N {
				k := testKey(rng.IntN(parts))
				off := rng.Int64N(perPart - int64(entries))
				got, err := l.Read(k, off, perPart, entries*size)
				if err != nil || len(got) != entries*size {
					b.Fatalf("Read: %d bytes, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkSteadyState runs the log as a broker does under load: producers
// append 64 KiB entries and wait for their fsync, while sealed segments are
// removed once more than four are kept (uploaded and past local
// retention), so spare files are recycled. It reports ack latency
// percentiles with spare files on and off.
func BenchmarkSteadyState(b *testing.B) {
	for _, spares := range []bool{true, false} {
		b.Run(fmt.Sprintf("spares=%v", spares), func(b *testing.B) {
			cfg := benchConfig(b)
			cfg.SegmentMaxBytes = 16 << 20
			cfg.DisableSpares = !spares
			sealed := make(chan uint64, 1024)
			cfg.OnSeal = func(si SegmentInfo) { sealed <- si.ID }
			l := mustOpen(b, cfg)
			removerDone := make(chan struct{})
			go func() {
				defer close(removerDone)
				var kept []uint64
				for id := range sealed {
					kept = append(kept, id)
					for len(kept) > 4 {
						if err := l.RemoveSegment(kept[0]); err != nil {
							b.Error(err)
							return
						}
						kept = kept[1:]
					}
				}
			}()
			const size, producers = 64 << 10, 4
			lat := make([][]time.Duration, producers)
			var next atomic.Int64
			b.SetBytes(size)
			b.ResetTimer()
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k := testKey(p)
					data := testData(k, 0, size)
					done := make(chan error, 1)
					for off := int64(0); next.Add(1) <= int64(b.N); off++ {
						start := time.Now()
						e := Entry{Key: k, BaseOffset: off, LastOffset: off, Data: data,
							Done: func(err error) { done <- err }}
						if err := l.Append(e); err != nil {
							b.Error(err)
							return
						}
						if err := <-done; err != nil {
							b.Error(err)
							return
						}
						lat[p] = append(lat[p], time.Since(start))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			l.Close()
			close(sealed)
			<-removerDone
			var all []time.Duration
			for _, d := range lat {
				all = append(all, d...)
			}
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
			reportCommits(b, l)
		})
	}
}
