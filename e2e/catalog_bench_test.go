package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
)

// BenchmarkCatalogFindExtent looks up random offsets in one partition whose
// catalog holds 1,000, 10,000 and 100,000 extents, through the metadata
// store's public FindExtent (the catalog lookup of every cold read): a
// longer history must not make a lookup noticeably slower (O(log n)). The
// extents are committed through raft as the uploader commits them, 1,000
// per object.
func BenchmarkCatalogFindExtent(b *testing.B) {
	for _, extents := range []int64{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("extents=%d", extents), func(b *testing.B) {
			s, topic := catalogWithExtents(b, extents)
			pl, ok := s.PartitionLog(topic, 0)
			if !ok || pl.End != extents*10 || pl.Extents != int(extents) {
				b.Fatalf("partition log %+v, want %d extents ending at %d", pl, extents, extents*10)
			}
			var off int64
			for b.Loop() {
				off = (off + 7_919_993) % pl.End
				e, ok := s.FindExtent(topic, 0, off)
				if !ok || e.BaseOffset > off || e.LastOffset < off {
					b.Fatalf("offset %d: got %+v, %v", off, e, ok)
				}
			}
		})
	}
}

// catalogWithExtents opens a single-voter store with one topic of one
// partition holding n extents of 10 offsets each.
func catalogWithExtents(b *testing.B, n int64) (*metadata.Store, metadata.TopicID) {
	b.Helper()
	cfg := metadata.DefaultConfig()
	cfg.Dir = b.TempDir()
	cfg.HeartbeatTimeout = 50 * time.Millisecond
	cfg.ElectionTimeout = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := metadata.Open(cfg)
	if err != nil {
		b.Fatalf("open metadata: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	t, err := s.CreateTopic(ctx, "history", 1, nil)
	if err != nil {
		b.Fatalf("create topic: %v", err)
	}
	const perObject = 1_000
	for obj := int64(0); obj*perObject < n; obj++ {
		c := metadata.ObjectCommit{Key: fmt.Sprintf("wal/1/%020d-bench.obj", obj), Size: perObject * 100, Broker: 1, Now: obj}
		for j := int64(0); j < perObject && obj*perObject+j < n; j++ {
			base := (obj*perObject + j) * 10
			c.Extents = append(c.Extents, metadata.Extent{
				Topic: t.ID, Partition: 0, BaseOffset: base, LastOffset: base + 9,
				Pos: j * 100, Len: 100, LeaderEpoch: t.Partitions[0].LeaderEpoch,
			})
		}
		if _, err := s.CommitObject(ctx, c); err != nil {
			b.Fatalf("commit object %d: %v", obj, err)
		}
	}
	return s, t.ID
}
