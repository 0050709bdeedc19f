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
