package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func tp(topic string, p int32) TopicPartition { return TopicPartition{topic, p} }

func TestApplyCommitOffsets(t *testing.T) {
	a := catalogApplier(t) // a: 3 partitions, b: 1
	first := map[TopicPartition]CommittedOffset{
		tp("a", 0): {Offset: 10, LeaderEpoch: 0, Metadata: "m", CommitTime: 100},
		tp("a", 2): {Offset: 20, LeaderEpoch: -1, CommitTime: 100},
		tp("b", 0): {Offset: -1, CommitTime: 90},
	}
	a.must(commitOffsetsCmd{Group: "g1", Offsets: first})
	if got := a.f.st.groupOffsetsCopy("g1"); !reflect.DeepEqual(got, first) {
		t.Fatalf("g1 %+v, want %+v", got, first)
	}
	// A later commit overwrites only its partitions.
	a.must(commitOffsetsCmd{Group: "g1", Offsets: map[TopicPartition]CommittedOffset{tp("a", 0): {Offset: 15, CommitTime: 200}}})
	if got := a.f.st.groupOffsetsCopy("g1")[tp("a", 0)]; got != (CommittedOffset{Offset: 15, CommitTime: 200}) {
		t.Fatalf("a-0 after overwrite %+v", got)
	}
	if got := a.f.st.groupOffsetsCopy("g1")[tp("a", 2)]; got.Offset != 20 {
		t.Fatalf("a-2 lost: %+v", got)
	}
	a.must(commitOffsetsCmd{Group: "g0", Offsets: map[TopicPartition]CommittedOffset{tp("a", 1): {Offset: 1}}})
	if got := a.f.st.sortedGroups(); !reflect.DeepEqual(got, []string{"g0", "g1"}) {
		t.Fatalf("groups %v", got)
	}
	if got := a.f.st.groupOffsetsCopy("none"); got == nil || len(got) != 0 {
		t.Fatalf("unknown group: %v", got)
	}

	// All or nothing: one bad entry rejects the whole commit.
	mixed := func(bad TopicPartition, o CommittedOffset) commitOffsetsCmd {
		return commitOffsetsCmd{Group: "g1", Offsets: map[TopicPartition]CommittedOffset{tp("a", 0): {Offset: 99}, bad: o}}
	}
	err := a.mustReject(mixed(tp("zzz", 0), CommittedOffset{}), ErrUnknownTopic)
	if !strings.Contains(err.Error(), `"zzz"`) {
		t.Fatalf("error %q does not name the topic", err)
	}
	a.mustReject(mixed(tp("a", 3), CommittedOffset{}), ErrUnknownTopic)
	a.mustReject(mixed(tp("a", -1), CommittedOffset{}), ErrUnknownTopic)
	a.mustReject(mixed(tp("b", 0), CommittedOffset{Metadata: strings.Repeat("x", MaxOffsetMetadataBytes+1)}), ErrOffsetMetadataTooLarge)
	a.mustReject(mixed(tp("b", 0), CommittedOffset{Offset: -2}), ErrInvalidRequest)
	a.mustReject(mixed(tp("b", 0), CommittedOffset{LeaderEpoch: -2}), ErrInvalidRequest)
	a.mustReject(commitOffsetsCmd{Group: "", Offsets: first}, ErrInvalidRequest)
	if res, changed := a.f.st.apply(commitOffsetsCmd{Group: "g1"}); res.err != nil || changed {
		t.Fatalf("empty commit: err %v changed %v", res.err, changed)
	}
}

func TestApplyDeleteAndExpireGroupOffsets(t *testing.T) {
	a := catalogApplier(t)
	a.must(commitOffsetsCmd{Group: "g", Offsets: map[TopicPartition]CommittedOffset{
		tp("a", 0): {Offset: 1, CommitTime: 100}, tp("a", 1): {Offset: 2, CommitTime: 200},
		tp("a", 2): {Offset: 3, CommitTime: 300}, tp("b", 0): {Offset: 4, CommitTime: 150},
	}})
	res := a.must(deleteGroupOffsetsCmd{Group: "g", Parts: []TopicPartition{tp("a", 1), tp("a", 9), tp("nope", 0)}})
	if res.count != 1 || len(a.f.st.groupOffsetsCopy("g")) != 3 {
		t.Fatalf("delete one: count %d, left %v", res.count, a.f.st.groupOffsetsCopy("g"))
	}
	res = a.must(expireGroupOffsetsCmd{Group: "g", CommittedBefore: 200})
	if res.count != 2 {
		t.Fatalf("expired %d, want 2 (a-0 at 100, b-0 at 150)", res.count)
	}
	if got := a.f.st.groupOffsetsCopy("g"); len(got) != 1 || got[tp("a", 2)].Offset != 3 {
		t.Fatalf("after expiry %v", got)
	}
	if _, ok := a.f.st.groups["g"]["b"]; ok {
		t.Fatal("empty topic map left behind")
	}
	if res, changed := a.f.st.apply(expireGroupOffsetsCmd{Group: "g", CommittedBefore: 300}); res.count != 0 || changed {
		t.Fatalf("nothing to expire: count %d changed %v", res.count, changed)
	}
	a.must(expireGroupOffsetsCmd{Group: "g", CommittedBefore: 301})
	if _, ok := a.f.st.groups["g"]; ok {
		t.Fatal("group with no offsets left")
	}
	a.must(commitOffsetsCmd{Group: "g", Offsets: map[TopicPartition]CommittedOffset{tp("a", 0): {}, tp("b", 0): {}}})
	if res := a.must(deleteGroupOffsetsCmd{Group: "g", All: true}); res.count != 2 || len(a.f.st.groups) != 0 {
		t.Fatalf("delete all: count %d, groups %v", res.count, a.f.st.groups)
	}
	if res, changed := a.f.st.apply(deleteGroupOffsetsCmd{Group: "g", All: true}); res.err != nil || changed {
		t.Fatalf("delete unknown group: %v %v", res.err, changed)
	}
	for _, c := range []command{deleteGroupOffsetsCmd{All: true}, expireGroupOffsetsCmd{CommittedBefore: 1}} {
		if res := a.apply(c); !errors.Is(res.err, ErrInvalidRequest) {
			t.Errorf("%s without group: %v", c.commandType(), res.err)
		}
	}
}

func TestDeleteTopicDropsGroupOffsets(t *testing.T) {
	a := catalogApplier(t)
	a.must(commitOffsetsCmd{Group: "g1", Offsets: map[TopicPartition]CommittedOffset{tp("a", 0): {}, tp("b", 0): {}}})
	a.must(commitOffsetsCmd{Group: "g2", Offsets: map[TopicPartition]CommittedOffset{tp("a", 1): {}, tp("a", 2): {}}})
	a.must(deleteTopicCmd{Name: "a", Now: 1})
	if got := a.f.st.sortedGroups(); !reflect.DeepEqual(got, []string{"g1"}) {
		t.Fatalf("groups %v, want [g1]", got)
	}
	if got := a.f.st.groupOffsetsCopy("g1"); len(got) != 1 || !reflect.DeepEqual(got, map[TopicPartition]CommittedOffset{tp("b", 0): {}}) {
		t.Fatalf("g1 %v", got)
	}
	// A new topic with the name starts without offsets.
	a.must(createTopicCmd{Name: "a", ID: tid(7), Partitions: 1})
	if _, ok := a.f.st.groupOffsetsCopy("g1")[tp("a", 0)]; ok {
		t.Fatal("offsets of the deleted topic came back")
	}
}

func TestCommitOffsetsEncodingIsCompact(t *testing.T) {
	offsets := make(map[TopicPartition]CommittedOffset)
	for p := range int32(5000) {
		offsets[tp("orders-events", p)] = CommittedOffset{Offset: 1_000_000 + int64(p), LeaderEpoch: 3, CommitTime: 1_700_000_000_000}
	}
	b, err := encodeCommand(commitOffsetsCmd{Group: "billing", Offsets: offsets})
	if err != nil {
		t.Fatal(err)
	}
	if per := len(b) / len(offsets); per > 10 {
		t.Fatalf("%d bytes for %d partitions (%d each), want <= 10 each", len(b), len(offsets), per)
	}
	got, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, commitOffsetsCmd{Group: "billing", Offsets: offsets}) {
		t.Fatal("round trip changed the offsets")
	}
}
