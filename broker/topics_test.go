package broker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/wal"
)

// newCacheServer is a Server over a real metadata store and WAL that is
// not started: no watcher refreshes the topic cache behind the test's back.
func newCacheServer(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	mc := metadata.DefaultConfig()
	mc.Dir = filepath.Join(dir, "meta")
	mc.HeartbeatTimeout = 100 * time.Millisecond
	mc.ElectionTimeout = 100 * time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	meta, err := metadata.Open(mc)
	if err != nil {
		tb.Fatalf("open metadata: %v", err)
	}
	tb.Cleanup(func() { meta.Close() })
	log, err := wal.Open(wal.Config{Dir: filepath.Join(dir, "wal")})
	if err != nil {
		tb.Fatalf("open wal: %v", err)
	}
	tb.Cleanup(func() { log.Close() })
	s, err := New(DefaultConfig(), meta, partition.NewManager(log, nil), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(tb testing.TB, s *Server, name string, partitions int32, configs map[string]string) metadata.Topic {
	tb.Helper()
	t, err := s.meta.CreateTopic(context.Background(), name, partitions, configs)
	if err != nil {
		tb.Fatalf("create %s: %v", name, err)
	}
	return t
}

// commitExtent commits one extent of n offsets at the partition's catalog
// end, as the uploader would.
func commitExtent(tb testing.TB, s *Server, id metadata.TopicID, part int32, n int64, key string) {
	tb.Helper()
	pl, _ := s.meta.PartitionLog(id, part)
	_, err := s.meta.CommitObject(context.Background(), metadata.ObjectCommit{Key: key, Size: 100, Broker: 1, Now: 1,
		Extents: []metadata.Extent{{Topic: id, Partition: part, BaseOffset: pl.End, LastOffset: pl.End + n - 1, Pos: 0, Len: 100, MaxTimestamp: 1}}})
	if err != nil {
		tb.Fatalf("commit %s: %v", key, err)
	}
}

// A catalog commit or an offset commit changes no topic: refreshing after
// it must keep every entry (and so every partition) as it was, and a
// config change of one topic must leave the other topics' entries alone.
func TestTopicCacheKeepsUnchangedEntries(t *testing.T) {
	s := newCacheServer(t)
	a := mustCreate(t, s, "a", 3, nil)
	mustCreate(t, s, "b", 2, nil)
	s.topics.refresh()
	ea, eb := s.topics.byName("a"), s.topics.byName("b")
	if ea == nil || eb == nil {
		t.Fatal("topics missing after refresh")
	}

	commitExtent(t, s, a.ID, 0, 10, "obj-1")
	err := s.meta.CommitOffsets(context.Background(), "g", map[metadata.TopicPartition]metadata.CommittedOffset{
		{Topic: "a", Partition: 1}: {Offset: 5}})
	if err != nil {
		t.Fatal(err)
	}
	s.topics.refresh()
	if s.topics.byName("a") != ea || s.topics.byName("b") != eb {
		t.Fatal("a catalog commit and an offset commit rebuilt topic entries")
	}

	if err := s.meta.AlterTopicConfigs(context.Background(), "a", []metadata.ConfigOp{
		{Key: "max.message.bytes", Value: "2048"}}, false); err != nil {
		t.Fatal(err)
	}
	s.topics.refresh()
	na := s.topics.byName("a")
	if na == ea || na.maxMessageBytes != 2048 {
		t.Fatalf("config change not picked up: same entry %v, max.message.bytes %d", na == ea, na.maxMessageBytes)
	}
	for i, p := range ea.parts {
		if na.parts[i] != p {
			t.Fatalf("partition %d of a was reopened by a config change", i)
		}
	}
	if s.topics.byName("b") != eb {
		t.Fatal("a config change of a rebuilt b")
	}
}

// The cache follows every kind of topic change: new topics, config
// changes, added partitions, deletes, and a name deleted and created again.
func TestTopicCacheFollowsTopicChanges(t *testing.T) {
	ctx := context.Background()
	s := newCacheServer(t)
	s.topics.refresh()
	if n := len(s.topics.all()); n != 0 {
		t.Fatalf("%d topics in an empty cache", n)
	}

	x := mustCreate(t, s, "x", 2, map[string]string{"message.timestamp.type": "LogAppendTime"})
	commitExtent(t, s, x.ID, 1, 7, "obj-x")
	s.topics.refresh()
	ex := s.topics.byName("x")
	if ex == nil || len(ex.parts) != 2 || !ex.logAppendTime || s.topics.snap.Load().byID[x.ID] != ex {
		t.Fatalf("new topic x: %+v", ex)
	}
	if hw := ex.partition(1).HighWatermark(); hw != 7 {
		t.Fatalf("x-1 opened at high watermark %d, want the catalog end 7", hw)
	}

	if _, err := s.meta.CreatePartitions(ctx, "x", 5); err != nil {
		t.Fatal(err)
	}
	s.topics.refresh()
	ex2 := s.topics.byName("x")
	if len(ex2.parts) != 5 {
		t.Fatalf("x has %d partitions after growing to 5", len(ex2.parts))
	}
	for i := range 2 {
		if ex2.parts[i] != ex.parts[i] {
			t.Fatalf("partition %d was reopened by CreatePartitions", i)
		}
	}
	for i := range 5 {
		if s.parts.Get(wal.Key{Topic: [16]byte(x.ID), Partition: int32(i)}) != ex2.parts[i] {
			t.Fatalf("partition %d of the cache is not the manager's", i)
		}
	}

	if err := s.meta.AlterTopicConfigs(ctx, "x", []metadata.ConfigOp{{Key: "message.timestamp.type", Op: metadata.ConfigOpDelete}}, false); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "y", 1, nil)
	s.topics.refresh()
	if s.topics.byName("x").logAppendTime {
		t.Fatal("deleted config override still in force")
	}
	if s.topics.byName("y") == nil {
		t.Fatal("topic y missing")
	}

	if _, err := s.meta.DeleteTopic(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	s.topics.refresh()
	if s.topics.byName("x") != nil || s.topics.snap.Load().byID[x.ID] != nil {
		t.Fatal("deleted topic x still cached")
	}
	if s.parts.Get(wal.Key{Topic: [16]byte(x.ID)}) != nil {
		t.Fatal("partitions of deleted topic x still open")
	}

	x2 := mustCreate(t, s, "x", 1, nil)
	s.topics.refresh()
	ex3 := s.topics.byName("x")
	if ex3 == nil || ex3.meta.ID != x2.ID || len(ex3.parts) != 1 || ex3.parts[0] == ex.parts[0] {
		t.Fatalf("recreated x: %+v", ex3)
	}
	if got := len(s.topics.all()); got != 2 {
		t.Fatalf("%d topics cached, want 2", got)
	}
}

// BenchmarkTopicCacheRefresh is the cost of one refresh after a change
// that touches no topic (a catalog commit, an offset commit: nearly every
// raft apply), and after a config change of one topic, with 10,000
// partitions in 100 topics.
func BenchmarkTopicCacheRefresh(b *testing.B) {
	s := newCacheServer(b)
	const topics, perTopic = 100, 100
	for i := range topics {
		mustCreate(b, s, fmt.Sprintf("t%03d", i), perTopic, nil)
	}
	s.topics.refresh()
	if n := len(s.topics.all()); n != topics {
		b.Fatalf("%d topics", n)
	}
	b.Run("no-topic-change", func(b *testing.B) {
		for b.Loop() {
			s.topics.refresh()
		}
	})
	b.Run("one-topic-config", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			if err := s.meta.AlterTopicConfigs(context.Background(), "t042", []metadata.ConfigOp{
				{Key: "retention.ms", Value: fmt.Sprint(1000 + i)}}, false); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			s.topics.refresh()
		}
	})
}
