package metadata

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkApplyCreateTopic(b *testing.B) {
	a := newApplier(b)
	data := make([][]byte, 0, 1024)
	i := 0
	for b.Loop() {
		if i%1024 == 0 {
			b.StopTimer()
			a = newApplier(b)
			data = data[:0]
			for j := range 1024 {
				d, _ := encodeCommand(createTopicCmd{Name: fmt.Sprintf("topic-%d", j), ID: TopicID{byte(j), byte(j >> 8), 1}, Partitions: 8,
					Configs: map[string]string{"retention.ms": "1000"}, DefaultLeader: 1})
				data = append(data, d)
			}
			b.StartTimer()
		}
		if res := a.raw(data[i%1024]); res.err != nil {
			b.Fatal(res.err)
		}
		i++
	}
}

// populated returns an fsm with n topics of 16 partitions each.
func populated(b *testing.B, n int) *applier {
	a := newApplier(b)
	for j := range n {
		a.must(createTopicCmd{Name: fmt.Sprintf("topic-%05d", j), ID: TopicID{byte(j), byte(j >> 8), byte(j >> 16), 1}, Partitions: 16,
			Configs: map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}, DefaultLeader: 1})
	}
	return a
}

func BenchmarkSnapshotEncode1000Topics(b *testing.B) {
	a := populated(b, 1000)
	for b.Loop() {
		snap, err := a.f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		var sink memSink
		if err := snap.Persist(&sink); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(sink.Len()))
	}
}

func BenchmarkSnapshotDecode1000Topics(b *testing.B) {
	data := populated(b, 1000).snapshotBytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeSnapshot(data, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreAllocateProducerIDs(b *testing.B) {
	s := openTestStore(b, testConfig(b, b.TempDir()))
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.AllocateProducerIDs(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreTopicRead(b *testing.B) {
	s := openTestStore(b, testConfig(b, b.TempDir()))
	if _, err := s.CreateTopic(context.Background(), "t", 64, map[string]string{"retention.ms": "5"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.Topic("t"); !ok {
				b.Fatal("missing")
			}
		}
	})
}

// commitBatch builds a commit of one extent in each of n partitions of
// topic id, each extent holding offsets base..base+9.
func commitBatch(key string, id TopicID, n int, base int64) commitObjectCmd {
	c := commitObjectCmd{Key: key, Broker: 1, Now: base, Extents: make([]Extent, n)}
	for p := range c.Extents {
		c.Extents[p] = Extent{Topic: id, Partition: int32(p), BaseOffset: base, LastOffset: base + 9, Object: key,
			Pos: c.Size, Len: 4096, MaxTimestamp: 1_700_000_000_000 + base, LeaderEpoch: 0}
		c.Size += 4096
	}
	return c
}

// BenchmarkCommitObject1000Extents is one upload of a WAL segment holding
// 1,000 partitions: encode on the proposer, decode and apply on a node.
func BenchmarkCommitObject1000Extents(b *testing.B) {
	a := newApplier(b)
	id := tid(1)
	a.must(createTopicCmd{Name: "t", ID: id, Partitions: 1000, DefaultLeader: 1})
	var base int64
	var size int
	for b.Loop() {
		data, err := encodeCommand(commitBatch(fmt.Sprintf("wal/%012d", base), id, 1000, base))
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
		if res := a.raw(data); res.err != nil {
			b.Fatal(res.err)
		}
		base += 10
	}
	b.ReportMetric(float64(size), "cmd-bytes")
}

// BenchmarkFindExtent100k looks up random offsets in a partition of
// 100,000 extents.
func BenchmarkFindExtent100k(b *testing.B) {
	a := newApplier(b)
	id := tid(1)
	a.must(createTopicCmd{Name: "t", ID: id, Partitions: 1, DefaultLeader: 1})
	for i := range int64(100) {
		c := commitObjectCmd{Key: fmt.Sprintf("wal/%d", i), Size: 1000 * 100, Now: i}
		for j := range int64(1000) {
			base := (i*1000 + j) * 10
			c.Extents = append(c.Extents, Extent{Topic: id, BaseOffset: base, LastOffset: base + 9, Pos: j * 100, Len: 100})
		}
		a.must(c)
	}
	k := partitionKey{id, 0}
	end := a.f.st.logs[id][0].end
	var off int64
	for b.Loop() {
		off = (off + 7_919_993) % end
		a.f.mu.RLock()
		e, ok := a.f.st.findExtent(k, off)
		a.f.mu.RUnlock()
		if !ok || e.BaseOffset > off || e.LastOffset < off {
			b.Fatalf("offset %d: %+v %v", off, e, ok)
		}
	}
}

// catalogOf1M is a state with 1,000,000 extents: 1,000 objects of 1,000
// partitions each.
func catalogOf1M(b *testing.B) *applier {
	a := newApplier(b)
	id := tid(1)
	a.must(createTopicCmd{Name: "t", ID: id, Partitions: 1000, DefaultLeader: 1})
	for i := range int64(1000) {
		a.must(commitBatch(fmt.Sprintf("wal/%012d", i), id, 1000, i*10))
	}
	return a
}

// BenchmarkSnapshot1MExtents reports the time to copy (FSM.Snapshot, on
// raft's goroutine), encode and decode a snapshot of 1,000,000 extents,
// and its size in bytes.
func BenchmarkSnapshot1MExtents(b *testing.B) {
	a := catalogOf1M(b)
	data := a.snapshotBytes()
	b.Run("Copy", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.f.Snapshot(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeSnapshot(a.f.st); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(data)))
		b.ReportMetric(float64(len(data)), "snapshot-bytes")
	})
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeSnapshot(data, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(data)))
		b.ReportMetric(float64(len(data)), "snapshot-bytes")
	})
}
