package metadata

import (
	"bytes"
	"io"
	"slices"
	"testing"
)

func changesSince(a *applier, gen uint64) ([]TopicID, uint64, bool) {
	a.f.mu.RLock()
	defer a.f.mu.RUnlock()
	return a.f.topicChanges.since(gen)
}

// Only commands that change a topic's metadata count as topic changes:
// catalog commits, truncations, offset commits, broker registrations and
// producer id blocks leave the generation alone.
func TestTopicChangesFollowTopicCommands(t *testing.T) {
	a := newApplier(t)
	_, gen, all := changesSince(a, 0)
	if !all {
		t.Fatal("a watcher that has seen nothing must rebuild everything")
	}
	idA, idB := TopicID{1}, TopicID{2}
	a.must(createTopicCmd{Name: "a", ID: idA, Partitions: 2, DefaultLeader: 1})
	a.must(createTopicCmd{Name: "b", ID: idB, Partitions: 1, DefaultLeader: 1})
	ids, gen2, all := changesSince(a, gen)
	if all || gen2 <= gen || !slices.Equal(sortIDs(ids), []TopicID{idA, idB}) {
		t.Fatalf("after two creates: %v %d %v", ids, gen2, all)
	}
	gen = gen2

	// A registration may change leaders of any topic: watchers rebuild.
	a.must(registerBrokerCmd{Broker: Broker{ID: 1, Host: "h", Port: 9092}})
	if _, gen2, all := changesSince(a, gen); !all {
		t.Fatalf("a broker registration did not ask for a rebuild")
	} else {
		gen = gen2
	}
	a.must(allocateProducerIDsCmd{Count: 10})
	a.must(commitObjectCmd{Key: "o1", Size: 10, Broker: 1, Now: 1, Extents: []Extent{
		{Topic: idA, Partition: 0, BaseOffset: 0, LastOffset: 9, Len: 10, MaxTimestamp: 1}}})
	a.must(truncatePartitionCmd{Topic: idA, Partition: 0, NewLogStart: 5, Now: 2})
	a.must(commitOffsetsCmd{Group: "g", Offsets: map[TopicPartition]CommittedOffset{{Topic: "a", Partition: 0}: {Offset: 3}}})
	a.apply(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "retention.ms", Value: "bad"}}}) // rejected
	if ids, gen2, all := changesSince(a, gen); all || gen2 != gen || len(ids) != 0 {
		t.Fatalf("non-topic commands counted as topic changes: %v %d→%d %v", ids, gen, gen2, all)
	}

	a.must(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "retention.ms", Value: "1000"}}})
	ids, gen2, _ = changesSince(a, gen)
	if !slices.Equal(ids, []TopicID{idA}) {
		t.Fatalf("config change: %v", ids)
	}
	mid := gen2
	a.must(createPartitionsCmd{Name: "b", NewTotal: 3, DefaultLeader: 1})
	a.must(deleteTopicCmd{Name: "a", Now: 3})
	ids, gen2, _ = changesSince(a, mid)
	if !slices.Equal(sortIDs(ids), []TopicID{idA, idB}) {
		t.Fatalf("partitions and delete: %v", ids)
	}
	// A change is reported once however often it happened.
	ids, _, _ = changesSince(a, gen)
	if !slices.Equal(sortIDs(ids), []TopicID{idA, idB}) {
		t.Fatalf("since before three changes of two topics: %v", ids)
	}
	if ids, g, all := changesSince(a, gen2); len(ids) != 0 || all || g != gen2 {
		t.Fatalf("nothing new: %v %d %v", ids, g, all)
	}
}

// A watcher further behind than the journal reaches, and every watcher
// after a snapshot restore, is told to rebuild everything.
func TestTopicChangesOverflowAndRestore(t *testing.T) {
	a := newApplier(t)
	_, start, _ := changesSince(a, 0)
	a.must(createTopicCmd{Name: "a", ID: TopicID{1}, Partitions: 1, DefaultLeader: 1})
	for i := range maxTopicChanges + 1 {
		v := "1000"
		if i%2 == 1 {
			v = "2000"
		}
		a.must(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "retention.ms", Value: v}}})
	}
	if _, _, all := changesSince(a, start); !all {
		t.Fatal("a watcher behind the journal's start was not told to rebuild all")
	}
	_, now, _ := changesSince(a, 0)
	if ids, _, all := changesSince(a, now-1); all || !slices.Equal(ids, []TopicID{{1}}) {
		t.Fatalf("recent change: %v %v", ids, all)
	}

	snap := a.snapshotBytes()
	if err := a.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if _, after, all := changesSince(a, now); !all || after <= now {
		t.Fatalf("after restore: gen %d→%d, all %v", now, after, all)
	}
}

func sortIDs(ids []TopicID) []TopicID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(x, y TopicID) int { return bytes.Compare(x[:], y[:]) })
	return out
}
