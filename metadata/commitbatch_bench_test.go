package metadata

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// benchUploads builds n ready uploads of one broker's WAL segments, each
// holding one extent (10 offsets, one idempotent producer) in each of
// parts partitions of topic id, continuing where next says.
func benchUploads(id TopicID, seq *int, n, parts int, next []int64) []ObjectCommit {
	out := make([]ObjectCommit, n)
	for i := range out {
		*seq++
		c := ObjectCommit{Key: fmt.Sprintf("wal/1/%012d-x.obj", *seq), Broker: 1, Now: int64(*seq), Extents: make([]Extent, parts),
			Producers: make([][]ProducerState, parts)}
		for p := range parts {
			base := next[p]
			c.Extents[p] = Extent{Topic: id, Partition: int32(p), BaseOffset: base, LastOffset: base + 9, Pos: c.Size, Len: 4096, MaxTimestamp: int64(*seq)}
			c.Producers[p] = []ProducerState{{ID: int64(p), Batches: []ProducerBatch{{FirstSeq: int32(base), LastSeq: int32(base + 9), BaseOffset: base, LastOffset: base + 9}}}}
			c.Size += 4096
			next[p] = base + 10
		}
		out[i] = c
	}
	return out
}

// logWrites counts the raft log writes that stored entries from..to of s:
// raft stamps every entry of one write (one bolt transaction, one fsync)
// with the same AppendedAt.
func logWrites(tb testing.TB, s *Store, from, to uint64) int {
	tb.Helper()
	seen := map[int64]bool{}
	for i := from; i <= to; i++ {
		var l raft.Log
		if err := s.logs.GetLog(i, &l); err != nil {
			tb.Fatal(err)
		}
		seen[l.AppendedAt.UnixNano()] = true
	}
	return len(seen)
}

// BenchmarkStoreCommitReady is the committer's work when n uploads are
// ready at once (after a stall, or PUTs finishing together): commit them
// one by one, one CommitObject raft entry each (the uploader before
// CommitObjects), or batched in CommitObjects. A real single-voter store
// on disk: each raft entry is one bolt transaction with its fsync. Each
// upload holds 16 partitions' extents. ns/op is for all n uploads.
func BenchmarkStoreCommitReady(b *testing.B) {
	const parts = 16
	for _, n := range []int{1, 4, 16} {
		for _, mode := range []string{"one-by-one", "batched"} {
			b.Run(fmt.Sprintf("uploads=%d/%s", n, mode), func(b *testing.B) {
				s := openTestStore(b, testConfig(b, b.TempDir()))
				ctx := context.Background()
				top, err := s.CreateTopic(ctx, "t", parts, nil)
				if err != nil {
					b.Fatal(err)
				}
				next := make([]int64, parts)
				seq := 0
				first := s.raft.LastIndex() + 1
				ops := 0
				for b.Loop() {
					b.StopTimer()
					cs := benchUploads(top.ID, &seq, n, parts, next)
					b.StartTimer()
					if mode == "batched" {
						res, err := s.CommitObjects(ctx, cs)
						if err != nil || res[n-1].Err != nil || len(res[n-1].Refused) != 0 {
							b.Fatalf("%v %+v", err, res)
						}
					} else {
						for _, c := range cs {
							if res, err := s.CommitObject(ctx, c); err != nil || len(res.Refused) != 0 {
								b.Fatalf("%v %+v", err, res)
							}
						}
					}
					ops++
				}
				last := s.raft.LastIndex()
				entries := float64(last - first + 1)
				b.ReportMetric(float64(n*ops)/entries, "commits/entry")
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n*ops), "µs/upload")
				b.ReportMetric(float64(logWrites(b, s, first, last))/float64(ops), "writes/op")
				if pl, _ := s.PartitionLog(top.ID, 0); pl.End != next[0] {
					b.Fatalf("partition 0 ends at %d, want %d", pl.End, next[0])
				}
			})
		}
	}
}

// BenchmarkStoreConcurrentCommits is many brokers' commits reaching the
// leader at once (forwarded CommitObjects each proposed on their own): g
// goroutines each commit one upload of their own partitions at a time,
// with raft's BatchApplyCh off (Shale's setting) and on. entries/write
// is how many raft entries shared one log write (and fsync).
func BenchmarkStoreConcurrentCommits(b *testing.B) {
	const parts = 4 // per goroutine
	for _, g := range []int{1, 8, 32} {
		for _, batchApply := range []bool{false, true} {
			b.Run(fmt.Sprintf("proposers=%d/BatchApplyCh=%v", g, batchApply), func(b *testing.B) {
				cfg := testConfig(b, b.TempDir())
				cfg.batchApplyCh = batchApply
				s := openTestStore(b, cfg)
				ctx := context.Background()
				top, err := s.CreateTopic(ctx, "t", int32(g*parts), nil)
				if err != nil {
					b.Fatal(err)
				}
				first := s.raft.LastIndex() + 1
				work := make(chan struct{})
				var wg sync.WaitGroup
				var mu sync.Mutex
				var worst time.Duration
				for w := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						next := make([]int64, parts)
						seq := w * 1_000_000_000
						for range work {
							c := benchUploads(top.ID, &seq, 1, parts, next)[0]
							for i := range c.Extents {
								c.Extents[i].Partition += int32(w * parts)
							}
							start := time.Now()
							if _, err := s.CommitObject(ctx, c); err != nil {
								b.Error(err)
								return
							}
							d := time.Since(start)
							mu.Lock()
							worst = max(worst, d)
							mu.Unlock()
						}
					}()
				}
				ops := 0
				for b.Loop() {
					work <- struct{}{}
					ops++
				}
				close(work)
				wg.Wait()
				last := s.raft.LastIndex()
				b.ReportMetric(float64(last-first+1)/float64(logWrites(b, s, first, last)), "entries/write")
				b.ReportMetric(float64(worst.Microseconds()), "max-µs")
			})
		}
	}
}
