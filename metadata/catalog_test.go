package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// catalogApplier has topic "a" (tid(1), 3 partitions) and "b" (tid(2), 1).
func catalogApplier(t *testing.T) *applier {
	t.Helper()
	a := newApplier(t)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 3, DefaultLeader: 1})
	a.must(createTopicCmd{Name: "b", ID: tid(2), Partitions: 1, DefaultLeader: 1})
	return a
}

// ext is an extent of 100 bytes per offset at pos.
func ext(topic TopicID, p int32, base, last, pos int64) Extent {
	return Extent{Topic: topic, Partition: p, BaseOffset: base, LastOffset: last, Pos: pos, Len: 100 * (last - base + 1), MaxTimestamp: 1000 + last}
}

// object builds a commit of key holding exts back to back from byte 0.
func object(key string, now int64, exts ...Extent) commitObjectCmd {
	var size int64
	for i := range exts {
		exts[i].Pos = size
		exts[i].Object = key
		size += exts[i].Len
	}
	return commitObjectCmd{Key: key, Size: size + 64, Broker: 1, Extents: exts, Now: now}
}

func (a *applier) plog(id TopicID, p int32) PartitionLog {
	a.t.Helper()
	pl, ok := a.f.st.partitionSummary(partitionKey{id, p})
	if !ok {
		a.t.Fatalf("no partition %s-%d", id, p)
	}
	return pl
}

func (a *applier) refs(key string) int64 { return a.f.st.objects[key].refs }

// mustUnchanged applies c, wants an error matching want, and checks that
// the state did not change.
func (a *applier) mustReject(c command, want error) error {
	a.t.Helper()
	before := a.snapshotBytes()
	res := a.apply(c)
	if !errors.Is(res.err, want) {
		a.t.Fatalf("%s: err %v, want %v", c.commandType(), res.err, want)
	}
	if !bytes.Equal(before, a.snapshotBytes()) {
		a.t.Fatalf("%s: rejected command changed the state", c.commandType())
	}
	return res.err
}

func TestApplyCommitObject(t *testing.T) {
	a := catalogApplier(t)
	if got := a.plog(tid(1), 2); got != (PartitionLog{}) {
		t.Fatalf("new partition %+v", got)
	}
	a.must(object("o1", 10, ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 0, 4, 0), ext(tid(2), 0, 0, 0, 0)))
	if got, want := a.plog(tid(1), 0), (PartitionLog{LogStart: 0, End: 10, Bytes: 1000, Extents: 1}); got != want {
		t.Fatalf("a-0 %+v, want %+v", got, want)
	}
	if got := a.plog(tid(2), 0); got.End != 1 || got.Bytes != 100 {
		t.Fatalf("b-0 %+v", got)
	}
	if a.refs("o1") != 3 || len(a.f.st.garbage) != 0 {
		t.Fatalf("o1 refs %d, garbage %v", a.refs("o1"), a.f.st.garbage)
	}
	// Two consecutive extents of one partition in one object.
	a.must(object("o2", 20, ext(tid(1), 0, 10, 19, 0), ext(tid(1), 0, 20, 24, 0)))
	if got := a.plog(tid(1), 0); got.End != 25 || got.Extents != 3 || got.Bytes != 2500 {
		t.Fatalf("a-0 after o2 %+v", got)
	}
	want := ext(tid(1), 0, 10, 19, 0)
	want.Object = "o2"
	want.CommitTime = 20 // the commit's Now
	if got, ok := a.f.st.findExtent(partitionKey{tid(1), 0}, 12); !ok || got != want {
		t.Fatalf("find 12 = %+v %v, want %+v", got, ok, want)
	}
	// An extent's Object may be empty: it means the commit's key.
	c := object("o3", 30, ext(tid(1), 2, 0, 0, 0))
	c.Extents[0].Object = ""
	a.must(c)
	if e, _ := a.f.st.findExtent(partitionKey{tid(1), 2}, 0); e.Object != "o3" {
		t.Fatalf("object %q, want o3", e.Object)
	}
}

// refusals applies c, wants no error, and returns how each refused
// extent's partition and reason read: "a-1 fenced", "a-0 gap".
func (a *applier) refusals(c commitObjectCmd) []string {
	a.t.Helper()
	res := a.must(c)
	var out []string
	for _, r := range res.commit.Refused {
		why := "?"
		switch {
		case errors.Is(r.Err, ErrFenced):
			why = "fenced"
		case errors.Is(r.Err, ErrOffsetGap):
			why = "gap"
		}
		out = append(out, fmt.Sprintf("%s-%d %s", a.f.st.topicIDs[r.Topic], r.Partition, why))
	}
	return out
}

func TestApplyCommitObjectFenced(t *testing.T) {
	a := catalogApplier(t)
	a.f.st.topics["a"].Partitions[1].LeaderEpoch = 3
	good, stale := ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 0, 9, 0)
	stale.LeaderEpoch = 2
	// One decision per extent: the stale one is refused, the other
	// partition commits.
	res := a.must(object("o1", 1, good, stale))
	if len(res.commit.Refused) != 1 {
		t.Fatalf("refused %+v, want a-1 only", res.commit.Refused)
	}
	r := res.commit.Refused[0]
	if !errors.Is(r.Err, ErrFenced) || r.Partition != 1 || r.LeaderEpoch != 2 {
		t.Fatalf("refusal %+v", r)
	}
	for _, s := range []string{"a-1", "epoch 2", "epoch 3", `"o1"`} {
		if !strings.Contains(r.Err.Error(), s) {
			t.Errorf("reason %q does not mention %s", r.Err, s)
		}
	}
	if a.plog(tid(1), 0).End != 10 || a.plog(tid(1), 1).End != 0 || a.refs("o1") != 1 {
		t.Fatalf("a-0 %+v, a-1 %+v, o1 refs %d", a.plog(tid(1), 0), a.plog(tid(1), 1), a.refs("o1"))
	}
	// The same command again (a retried proposal): no change, the same
	// refusal.
	before := a.snapshotBytes()
	if got := a.refusals(object("o1", 1, good, stale)); !reflect.DeepEqual(got, []string{"a-1 fenced"}) {
		t.Fatalf("retry refusals %v", got)
	}
	if !bytes.Equal(before, a.snapshotBytes()) {
		t.Fatal("retry changed the state")
	}
	stale.LeaderEpoch = 4 // newer than the catalog knows: fenced as well
	if got := a.refusals(object("o2", 1, stale)); !reflect.DeepEqual(got, []string{"a-1 fenced"}) {
		t.Fatalf("refusals %v", got)
	}
	// An object whose every extent is refused holds nothing: garbage at once.
	if a.f.st.garbage["o2"] != 1 || a.f.st.objects["o2"].refs != 0 {
		t.Fatalf("o2 garbage %v objects %v", a.f.st.garbage, a.f.st.objects)
	}
	stale.LeaderEpoch = 3
	a.must(object("o3", 1, stale))
	if a.plog(tid(1), 1).End != 10 {
		t.Fatal("current epoch not accepted")
	}
	// Data written under two epochs in one object: the old run is
	// refused, and so is everything after it in that partition.
	old, cur := ext(tid(1), 1, 10, 14, 0), ext(tid(1), 1, 15, 19, 0)
	old.LeaderEpoch, cur.LeaderEpoch = 2, 3
	if got := a.refusals(object("o4", 1, old, cur, ext(tid(2), 0, 0, 4, 0))); !reflect.DeepEqual(got, []string{"a-1 fenced", "a-1 gap"}) {
		t.Fatalf("refusals %v", got)
	}
	if a.plog(tid(1), 1).End != 10 || a.plog(tid(2), 0).End != 5 {
		t.Fatalf("a-1 %+v b-0 %+v", a.plog(tid(1), 1), a.plog(tid(2), 0))
	}
}

func TestApplyCommitObjectGap(t *testing.T) {
	a := catalogApplier(t)
	res := a.must(object("o1", 1, ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 5, 9, 0)))
	if len(res.commit.Refused) != 1 || !errors.Is(res.commit.Refused[0].Err, ErrOffsetGap) {
		t.Fatalf("refused %+v", res.commit.Refused)
	}
	for _, s := range []string{"a-1", "offset 5", "ends at 0"} {
		if err := res.commit.Refused[0].Err; !strings.Contains(err.Error(), s) {
			t.Errorf("reason %q does not mention %s", err, s)
		}
	}
	if a.plog(tid(1), 0).End != 10 || a.plog(tid(1), 1).End != 0 {
		t.Fatal("the partition without a gap was not committed")
	}
	for name, c := range map[string]commitObjectCmd{
		"overlap": object("o2", 1, ext(tid(1), 0, 5, 14, 0)),
		"hole":    object("o3", 1, ext(tid(1), 0, 11, 14, 0)),
		// Within one commit, the second extent must follow the first.
		"inner hole": object("o4", 1, ext(tid(1), 0, 16, 20, 0), ext(tid(1), 2, 0, 3, 0)),
	} {
		if got := a.refusals(c); !reflect.DeepEqual(got, []string{"a-0 gap"}) {
			t.Errorf("%s: refusals %v", name, got)
		}
	}
	if got := a.refusals(object("o5", 1, ext(tid(1), 0, 10, 14, 0), ext(tid(1), 0, 16, 20, 0))); !reflect.DeepEqual(got, []string{"a-0 gap"}) {
		t.Errorf("refusals %v", got)
	}
	if a.plog(tid(1), 0).End != 15 || a.plog(tid(1), 2).End != 4 {
		t.Fatalf("a-0 %+v a-2 %+v", a.plog(tid(1), 0), a.plog(tid(1), 2))
	}
}

func TestApplyCommitObjectRetry(t *testing.T) {
	a := catalogApplier(t)
	c := object("o1", 5, ext(tid(1), 0, 0, 9, 0), ext(tid(2), 0, 0, 3, 0))
	a.must(c)
	before := a.snapshotBytes()
	// The same command again (a proposal retried after a timeout): no-op.
	if res, changed := a.f.st.apply(c); res.err != nil || changed {
		t.Fatalf("retry: err %v changed %v", res.err, changed)
	}
	if !bytes.Equal(before, a.snapshotBytes()) || a.refs("o1") != 2 {
		t.Fatal("retry changed the state")
	}
	// The same data uploaded again under a new key: every extent is a
	// retry, so the new object is garbage at once.
	a.must(object("o1-again", 7, ext(tid(1), 0, 0, 9, 0), ext(tid(2), 0, 0, 3, 0)))
	if got := a.f.st.sortedGarbage(); !reflect.DeepEqual(got, []GarbageObject{{"o1-again", 7}}) {
		t.Fatalf("garbage %+v", got)
	}
	if a.plog(tid(1), 0).End != 10 {
		t.Fatal("retry moved the end")
	}
	// A retry mixed with new data: the old part is skipped, the new accepted.
	a.must(object("o2", 8, ext(tid(1), 0, 0, 9, 0), ext(tid(1), 1, 0, 1, 0)))
	if a.refs("o2") != 1 || a.plog(tid(1), 1).End != 2 {
		t.Fatalf("o2 refs %d, a-1 %+v", a.refs("o2"), a.plog(tid(1), 1))
	}
	// A known key carrying new extents is refused: keys are written once.
	a.mustReject(object("o2", 9, ext(tid(1), 2, 0, 1, 0)), ErrInvalidRequest)
	a.mustReject(object("o1-again", 9, ext(tid(1), 2, 0, 1, 0)), ErrInvalidRequest)
}

func TestApplyCommitObjectDeletedTopic(t *testing.T) {
	a := catalogApplier(t)
	a.must(deleteTopicCmd{Name: "b", Now: 1})
	a.must(object("o1", 5, ext(tid(2), 0, 0, 9, 0), ext(tid(1), 0, 0, 9, 0)))
	if a.refs("o1") != 1 || a.plog(tid(1), 0).End != 10 {
		t.Fatalf("o1 refs %d", a.refs("o1"))
	}
	a.must(object("o2", 6, ext(tid(2), 0, 10, 19, 0)))
	if got := a.f.st.sortedGarbage(); !reflect.DeepEqual(got, []GarbageObject{{"o2", 6}}) {
		t.Fatalf("garbage %+v", got)
	}
	// A new topic with the old name has a new id: the old id's extents
	// are still dropped.
	a.must(createTopicCmd{Name: "b", ID: tid(3), Partitions: 1})
	a.must(object("o3", 7, ext(tid(2), 0, 20, 29, 0)))
	if a.plog(tid(3), 0).End != 0 || a.f.st.garbage["o3"] != 7 {
		t.Fatal("extent of the deleted id reached the new topic")
	}
}

func TestApplyCommitObjectInvalid(t *testing.T) {
	a := catalogApplier(t)
	good := func() commitObjectCmd { return object("k", 1, ext(tid(1), 0, 0, 9, 0)) }
	cases := map[string]func(c *commitObjectCmd){
		"empty key":      func(c *commitObjectCmd) { c.Key = ""; c.Extents[0].Object = "" },
		"long key":       func(c *commitObjectCmd) { c.Key = strings.Repeat("k", MaxObjectKeyLen+1); c.Extents[0].Object = "" },
		"bad utf8 key":   func(c *commitObjectCmd) { c.Key = "\xff"; c.Extents[0].Object = "" },
		"zero size":      func(c *commitObjectCmd) { c.Size = 0 },
		"beyond object":  func(c *commitObjectCmd) { c.Extents[0].Pos = c.Size - 10 },
		"negative pos":   func(c *commitObjectCmd) { c.Extents[0].Pos = -1 },
		"zero length":    func(c *commitObjectCmd) { c.Extents[0].Len = 0 },
		"last < base":    func(c *commitObjectCmd) { c.Extents[0].LastOffset = -1 },
		"negative base":  func(c *commitObjectCmd) { c.Extents[0].BaseOffset = -5 },
		"max offset":     func(c *commitObjectCmd) { c.Extents[0].LastOffset = 1<<63 - 1 },
		"negative epoch": func(c *commitObjectCmd) { c.Extents[0].LeaderEpoch = -1 },
		"neg partition":  func(c *commitObjectCmd) { c.Extents[0].Partition = -1 },
	}
	for name, mutate := range cases {
		c := good()
		mutate(&c)
		t.Run(name, func(t *testing.T) {
			a.t = t
			a.mustReject(c, ErrInvalidRequest)
		})
	}
	a.t = t
	// The body does not carry extents' Object (it is always the key), so a
	// mismatch is refused before proposing.
	other := good()
	other.Extents[0].Object = "other"
	if err := validateObjectCommit(ObjectCommit(other)); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("extent naming another object: %v", err)
	}
	c := good()
	c.Extents[0].Partition = 3
	a.mustReject(c, ErrUnknownTopic)
}

// catalogWith commits, for partitions a-0 and a-1, object "o<i>" holding
// offsets 10i..10i+9 of both, for i in 0..n-1.
func catalogWith(t *testing.T, n int) *applier {
	a := catalogApplier(t)
	for i := range int64(n) {
		a.must(object(fmt.Sprintf("o%d", i), 100+i, ext(tid(1), 0, 10*i, 10*i+9, 0), ext(tid(1), 1, 10*i, 10*i+9, 0)))
	}
	return a
}

func TestApplyReplaceExtents(t *testing.T) {
	a := catalogWith(t, 6)
	newExt := func(base, last int64, key string) replaceExtentsCmd {
		e := ext(tid(1), 0, base, last, 0)
		e.Object = key
		return replaceExtentsCmd{New: e, ObjectSize: e.Len, Now: 500}
	}
	a.must(newExt(10, 29, "c1"))
	if got := a.plog(tid(1), 0); got.Extents != 5 || got.Bytes != 6000 || got.End != 60 {
		t.Fatalf("a-0 after replace %+v", got)
	}
	got := a.f.st.listExtents(partitionKey{tid(1), 0}, 0, 10)
	var objs []string
	for _, e := range got {
		objs = append(objs, fmt.Sprintf("%s:%d-%d", e.Object, e.BaseOffset, e.LastOffset))
	}
	if want := "o0:0-9 c1:10-29 o3:30-39 o4:40-49 o5:50-59"; strings.Join(objs, " ") != want {
		t.Fatalf("extents %v, want %s", objs, want)
	}
	// o1 and o2 are still referenced by a-1.
	if a.refs("o1") != 1 || a.refs("o2") != 1 || a.refs("c1") != 1 || len(a.f.st.garbage) != 0 {
		t.Fatalf("refs o1=%d o2=%d c1=%d garbage %v", a.refs("o1"), a.refs("o2"), a.refs("c1"), a.f.st.garbage)
	}

	conflicts := map[string]replaceExtentsCmd{
		"base inside an extent":   newExt(15, 39, "c2"),
		"last inside an extent":   newExt(30, 45, "c2"),
		"beyond the end":          newExt(50, 69, "c2"),
		"run no longer there":     newExt(10, 19, "c2"), // replaced by c1
		"inside a replaced range": newExt(20, 29, "c2"),
	}
	for name, c := range conflicts {
		t.Run(name, func(t *testing.T) {
			a.t = t
			a.mustReject(c, ErrCatalogChanged)
		})
	}
	a.t = t
	a.mustReject(newExt(30, 39, "o0"), ErrInvalidRequest) // known key
	bad := newExt(30, 39, "c2")
	bad.ObjectSize = 10
	a.mustReject(bad, ErrInvalidRequest)

	// Replacing a-1's run too releases o1 and o2.
	r := newExt(10, 29, "c3")
	r.New.Partition = 1
	r.Now = 600
	a.must(r)
	if g := a.f.st.sortedGarbage(); !reflect.DeepEqual(g, []GarbageObject{{"o1", 600}, {"o2", 600}}) {
		t.Fatalf("garbage %+v", g)
	}
	// After truncation the first extent straddles LogStart; it can still be
	// replaced, but a run that is partly gone cannot.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 35, Now: 700})
	a.mustReject(newExt(20, 39, "c4"), ErrCatalogChanged)
	a.must(newExt(30, 49, "c4"))
	if pl := a.plog(tid(1), 0); pl.LogStart != 35 || pl.Extents != 2 {
		t.Fatalf("a-0 %+v", pl)
	}
	// A deleted topic's extents cannot be replaced.
	a.must(deleteTopicCmd{Name: "a", Now: 800})
	a.mustReject(newExt(50, 59, "c5"), ErrCatalogChanged)
}

func TestApplyTruncatePartition(t *testing.T) {
	a := catalogWith(t, 3) // a-0 and a-1: [0-9] o0, [10-19] o1, [20-29] o2
	k := partitionKey{tid(1), 0}
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 15, Now: 50})
	if got, want := a.plog(tid(1), 0), (PartitionLog{LogStart: 15, End: 30, Bytes: 2000, Extents: 2}); got != want {
		t.Fatalf("after truncate to 15: %+v, want %+v", got, want)
	}
	if a.refs("o0") != 1 || len(a.f.st.garbage) != 0 {
		t.Fatal("o0 is still referenced by a-1")
	}
	if _, ok := a.f.st.findExtent(k, 14); ok {
		t.Fatal("offset below log start found")
	}
	if e, ok := a.f.st.findExtent(k, 15); !ok || e.BaseOffset != 10 || e.Object != "o1" {
		t.Fatalf("find 15 = %+v %v (the straddling extent stays)", e, ok)
	}
	// At or below the current log start: no-op.
	for _, off := range []int64{15, 3, -1} {
		if res, changed := a.f.st.apply(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: off, Now: 51}); res.err != nil || changed {
			t.Fatalf("truncate to %d: err %v changed %v", off, res.err, changed)
		}
	}
	err := a.mustReject(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 31, Now: 52}, ErrOffsetOutOfRange)
	if !strings.Contains(err.Error(), "31") || !strings.Contains(err.Error(), "30") {
		t.Fatalf("error %q should name both offsets", err)
	}
	a.mustReject(truncatePartitionCmd{Topic: tid(9), Partition: 0, NewLogStart: 1}, ErrUnknownTopic)
	a.mustReject(truncatePartitionCmd{Topic: tid(1), Partition: 7, NewLogStart: 1}, ErrUnknownTopic)

	// a-1 to 20: o0 and o1 drop to zero references.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 1, NewLogStart: 20, Now: 60})
	if g := a.f.st.sortedGarbage(); !reflect.DeepEqual(g, []GarbageObject{{"o0", 60}}) {
		t.Fatalf("garbage %+v", g)
	}
	// To the end: no extents left, log start == end, and the log goes on.
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: 30, Now: 70})
	if got, want := a.plog(tid(1), 0), (PartitionLog{LogStart: 30, End: 30}); got != want {
		t.Fatalf("after truncate to end: %+v", got)
	}
	if g := a.f.st.sortedGarbage(); len(g) != 2 || g[1] != (GarbageObject{"o1", 70}) {
		t.Fatalf("garbage %+v", g)
	}
	if _, ok := a.f.st.findExtent(k, 30); ok {
		t.Fatal("found an extent at the end")
	}
	a.must(object("o9", 80, ext(tid(1), 0, 30, 39, 0)))
	if got := a.plog(tid(1), 0); got != (PartitionLog{LogStart: 30, End: 40, Bytes: 1000, Extents: 1}) {
		t.Fatalf("after commit past truncation: %+v", got)
	}
}

func TestGarbageAccounting(t *testing.T) {
	a := catalogApplier(t)
	// commit: o1 holds a-0 and b-0, o2 holds a-0 only; o-empty holds nothing new.
	a.must(object("o1", 10, ext(tid(1), 0, 0, 9, 0), ext(tid(2), 0, 0, 9, 0)))
	a.must(object("o2", 11, ext(tid(1), 0, 10, 19, 0)))
	a.must(object("o-empty", 12, ext(tid(1), 0, 0, 9, 0)))
	check := func(step string, want []GarbageObject, refs map[string]int64) {
		t.Helper()
		if got := a.f.st.sortedGarbage(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: garbage %+v, want %+v", step, got, want)
		}
		for k, n := range refs {
			if got := a.refs(k); got != n {
				t.Fatalf("%s: refs of %s = %d, want %d", step, k, got, n)
			}
		}
		if len(a.f.st.objects) != len(refs) {
			t.Fatalf("%s: %d referenced objects, want %d", step, len(a.f.st.objects), len(refs))
		}
	}
	check("commit", []GarbageObject{{"o-empty", 12}}, map[string]int64{"o1": 2, "o2": 1})
	// replace: a-0 0..19 -> c1; o2 becomes garbage, o1 keeps b-0.
	e := ext(tid(1), 0, 0, 19, 0)
	e.Object = "c1"
	a.must(replaceExtentsCmd{New: e, ObjectSize: e.Len, Now: 20})
	check("replace", []GarbageObject{{"o-empty", 12}, {"o2", 20}}, map[string]int64{"o1": 1, "c1": 1})
	// truncate: b-0 to 10 drops o1's last extent.
	a.must(truncatePartitionCmd{Topic: tid(2), Partition: 0, NewLogStart: 10, Now: 30})
	check("truncate", []GarbageObject{{"o-empty", 12}, {"o2", 20}, {"o1", 30}}, map[string]int64{"c1": 1})
	// forget: garbage goes, referenced and unknown keys are ignored.
	a.must(forgetObjectsCmd{Keys: []string{"o2", "c1", "nope"}})
	check("forget", []GarbageObject{{"o-empty", 12}, {"o1", 30}}, map[string]int64{"c1": 1})
	if !a.f.st.knownObject("c1") || !a.f.st.knownObject("o1") || a.f.st.knownObject("o2") {
		t.Fatal("knownObject wrong after forget")
	}
	if res, changed := a.f.st.apply(forgetObjectsCmd{Keys: []string{"o2", "c1"}}); res.err != nil || changed {
		t.Fatalf("forgetting nothing: err %v changed %v", res.err, changed)
	}
	// delete topic: c1 is released at the delete's time; same-time ties sort by key.
	a.must(object("o3", 35, ext(tid(1), 1, 0, 0, 0)))
	a.must(deleteTopicCmd{Name: "a", Now: 30})
	check("delete topic", []GarbageObject{{"o-empty", 12}, {"c1", 30}, {"o1", 30}, {"o3", 30}}, map[string]int64{})
	if _, ok := a.f.st.logs[tid(1)]; ok {
		t.Fatal("deleted topic's catalog remains")
	}
	a.must(forgetObjectsCmd{Keys: []string{"o-empty", "c1", "o1", "o3"}})
	check("forget all", []GarbageObject{}, map[string]int64{})
}

// TestFindExtentMany checks FindExtent and Extents against a linear scan
// over thousands of extents of random sizes, with a truncated prefix.
func TestFindExtentMany(t *testing.T) {
	a := catalogApplier(t)
	rng := rand.New(rand.NewPCG(1, 2))
	k := partitionKey{tid(1), 0}
	var end int64
	for i := range 300 {
		var exts []Extent
		for range 10 {
			n := 1 + rng.Int64N(50)
			exts = append(exts, ext(tid(1), 0, end, end+n-1, 0))
			end += n
		}
		a.must(object(fmt.Sprintf("o%03d", i), int64(i), exts...))
	}
	logStart := end / 3
	a.must(truncatePartitionCmd{Topic: tid(1), Partition: 0, NewLogStart: logStart, Now: 1000})
	all := a.f.st.listExtents(k, -1, 1<<30)
	if len(all) == 0 || all[0].BaseOffset > logStart || all[0].LastOffset < logStart || all[len(all)-1].LastOffset != end-1 {
		t.Fatalf("extents after truncation: first %+v of %d", all[0], len(all))
	}
	linear := func(off int64) int {
		for i, e := range all {
			if e.LastOffset >= off {
				return i
			}
		}
		return len(all)
	}
	for range 2000 {
		off := rng.Int64N(end+20) - 10
		got, ok := a.f.st.findExtent(k, off)
		i := linear(off)
		wantOK := off >= logStart && off < end && i < len(all)
		if ok != wantOK || (ok && got != all[i]) {
			t.Fatalf("FindExtent(%d) = %+v %v, want %+v %v", off, got, ok, all[min(i, len(all)-1)], wantOK)
		}
		if ok && (got.BaseOffset > off || got.LastOffset < off) {
			t.Fatalf("FindExtent(%d) = %d..%d does not hold it", off, got.BaseOffset, got.LastOffset)
		}
		max := rng.IntN(20)
		list := a.f.st.listExtents(k, off, max)
		want := all[i:min(i+max, len(all))]
		if max == 0 || len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(list, want) {
			t.Fatalf("Extents(%d, %d): %d extents, want %d", off, max, len(list), len(want))
		}
	}
	if got := a.f.st.listExtents(partitionKey{tid(1), 9}, 0, 5); got != nil {
		t.Fatal("extents of a missing partition")
	}
}

func TestApplySetPartitionLeader(t *testing.T) {
	a := catalogApplier(t)
	a.must(object("o1", 1, ext(tid(1), 0, 0, 9, 0)))
	res := a.must(setPartitionLeaderCmd{Name: "a", Partition: 0, Leader: 2})
	if p := res.topic.Partitions[0]; p != (Partition{Leader: 2, LeaderEpoch: 1}) {
		t.Fatalf("partition %+v", p)
	}
	// Same leader again: a new epoch all the same.
	a.must(setPartitionLeaderCmd{Name: "a", Partition: 0, Leader: 2})
	if p := a.f.st.topics["a"].Partitions[0]; p.LeaderEpoch != 2 || a.f.st.topics["a"].Partitions[1].LeaderEpoch != 0 {
		t.Fatalf("partitions %+v", a.f.st.topics["a"].Partitions)
	}
	// Data of epoch 0 is fenced now; epoch 2 continues the log.
	old, cur := ext(tid(1), 0, 10, 19, 0), ext(tid(1), 0, 10, 19, 0)
	cur.LeaderEpoch = 2
	if got := a.refusals(object("o2", 2, old)); !reflect.DeepEqual(got, []string{"a-0 fenced"}) {
		t.Fatalf("refusals %v", got)
	}
	if got := a.refusals(object("o3", 3, cur)); got != nil || a.plog(tid(1), 0).End != 20 {
		t.Fatalf("refusals %v, a-0 %+v", got, a.plog(tid(1), 0))
	}
	a.mustReject(setPartitionLeaderCmd{Name: "zz", Partition: 0, Leader: 1}, ErrUnknownTopic)
	a.mustReject(setPartitionLeaderCmd{Name: "a", Partition: 3, Leader: 1}, ErrUnknownTopic)
	a.mustReject(setPartitionLeaderCmd{Name: "a", Partition: 0, Leader: -2}, ErrInvalidRequest)
}
