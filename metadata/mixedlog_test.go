package metadata

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// mixedLog is commandLog followed by a fixed pseudo-random sequence of
// catalog and offsets commands interleaved with topic creation and
// deletion. A scratch state machine follows along so that most commands
// are valid; some are deliberately not (gaps, fencing, conflicts, out of
// range, unknown topics, retries).
func mixedLog(t testing.TB) []command {
	rng := rand.New(rand.NewPCG(7, 11))
	a := newApplier(t)
	cmds := slices.Clone(commandLog())
	for _, c := range cmds {
		a.apply(c)
	}
	now := int64(1_000)
	add := func(c command) {
		cmds = append(cmds, c)
		a.apply(c)
	}
	var lastCommit commitObjectCmd
	nextID := byte(100)
	for step := range 600 {
		now += 1 + rng.Int64N(5)
		topics := a.f.st.sortedTopics()
		pick := func() (Topic, int32) {
			tp := topics[rng.IntN(len(topics))]
			return tp, rng.Int32N(int32(len(tp.Partitions)))
		}
		switch r := rng.IntN(100); {
		case r < 45: // commit an object
			c := commitObjectCmd{Key: fmt.Sprintf("wal/%06d", step), Broker: 1, Now: now}
			ends := make(map[partitionKey]int64)
			for range 1 + rng.IntN(4) {
				tp, p := pick()
				k := partitionKey{tp.ID, p}
				end, ok := ends[k]
				if !ok {
					end = a.f.st.logs[tp.ID][p].end
				}
				n := 1 + rng.Int64N(20)
				e := Extent{Topic: tp.ID, Partition: p, BaseOffset: end, LastOffset: end + n - 1, Object: c.Key,
					Pos: c.Size, Len: 50 * n, MaxTimestamp: now - rng.Int64N(100)}
				switch rng.IntN(20) {
				case 0:
					e.BaseOffset++ // gap
					e.LastOffset++
				case 1:
					e.LeaderEpoch = 1 // fenced
				case 2:
					e.Topic = tid(250) // a deleted (never created) topic: dropped
				}
				c.Size += e.Len
				ends[k] = e.LastOffset + 1
				c.Extents = append(c.Extents, e)
				// Idempotent producers: a few ids, one batch per offset
				// at most, up to the five the catalog keeps.
				var ps []ProducerState
				for id := range rng.Int64N(3) {
					pst := ProducerState{ID: id, Epoch: int16(rng.IntN(2))}
					for off := e.BaseOffset + id; off <= e.LastOffset && len(pst.Batches) < MaxProducerBatches; off += 3 {
						pst.Batches = append(pst.Batches, ProducerBatch{FirstSeq: int32(off), LastSeq: int32(off), BaseOffset: off, LastOffset: off})
					}
					if len(pst.Batches) > 0 {
						ps = append(ps, pst)
					}
				}
				c.Producers = append(c.Producers, ps)
			}
			if rng.IntN(4) == 0 {
				c.ProducerExpiry = 50
			}
			c.Size += 100
			if rng.IntN(10) == 0 && lastCommit.Key != "" {
				c = lastCommit // a retried proposal
			}
			lastCommit = c
			add(c)
		case r < 55: // compact a run
			tp, p := pick()
			pl := a.f.st.logs[tp.ID][p]
			if len(pl.extents) < 2 {
				continue
			}
			i := rng.IntN(len(pl.extents) - 1)
			j := i + 1 + rng.IntN(len(pl.extents)-i-1)
			base, last := pl.extents[i].base, pl.extents[j].last
			if rng.IntN(8) == 0 {
				base++ // conflict
			}
			size := 100 * (last - base + 1)
			add(replaceExtentsCmd{New: Extent{Topic: tp.ID, Partition: p, BaseOffset: base, LastOffset: last,
				Object: fmt.Sprintf("compacted/%06d", step), Pos: 0, Len: size, MaxTimestamp: now}, ObjectSize: size, Now: now})
		case r < 63: // retention
			tp, p := pick()
			pl := a.f.st.logs[tp.ID][p]
			add(truncatePartitionCmd{Topic: tp.ID, Partition: p, NewLogStart: pl.logStart + rng.Int64N(pl.end-pl.logStart+3), Now: now})
		case r < 68: // GC
			g := a.f.st.sortedGarbage()
			var keys []string
			for _, o := range g {
				if rng.IntN(2) == 0 {
					keys = append(keys, o.Key)
				}
			}
			keys = append(keys, "never-seen", lastCommit.Key)
			add(forgetObjectsCmd{Keys: keys})
		case r < 85: // offsets
			offs := make(map[TopicPartition]CommittedOffset)
			for range 1 + rng.IntN(6) {
				tp, p := pick()
				offs[TopicPartition{tp.Name, p}] = CommittedOffset{Offset: rng.Int64N(1000), LeaderEpoch: -1, Metadata: fmt.Sprint(step % 3), CommitTime: now}
			}
			if rng.IntN(15) == 0 {
				offs[TopicPartition{"no-such-topic", 0}] = CommittedOffset{}
			}
			add(commitOffsetsCmd{Group: fmt.Sprintf("group-%d", rng.IntN(5)), Offsets: offs})
		case r < 88:
			group := fmt.Sprintf("group-%d", rng.IntN(5))
			if rng.IntN(3) == 0 {
				add(deleteGroupOffsetsCmd{Group: group, All: true})
			} else {
				tp, p := pick()
				add(deleteGroupOffsetsCmd{Group: group, Parts: []TopicPartition{{tp.Name, p}}})
			}
		case r < 92:
			add(expireGroupOffsetsCmd{Group: fmt.Sprintf("group-%d", rng.IntN(5)), CommittedBefore: now - 200})
		case r < 95:
			if len(topics) > 3 {
				tp, _ := pick()
				add(deleteTopicCmd{Name: tp.Name, Now: now})
			}
		default:
			nextID++
			add(createTopicCmd{Name: fmt.Sprintf("new-%03d", nextID), ID: tid(nextID), Partitions: 1 + rng.Int32N(4), DefaultLeader: 1})
		}
	}
	st := a.f.st
	if len(st.objects) == 0 || len(st.garbage) == 0 || len(st.groups) == 0 {
		t.Fatalf("mixed log left objects=%d garbage=%d groups=%d: not exercising the catalog", len(st.objects), len(st.garbage), len(st.groups))
	}
	return cmds
}

func TestApplyDeterministicMixed(t *testing.T) {
	log := mixedLog(t)
	a, b := newApplier(t), newApplier(t)
	kinds := make(map[commandType]int)
	rejected := make(map[commandType]int)
	for _, c := range log {
		ra, rb := a.apply(c), b.apply(c)
		if fmt.Sprint(ra.err) != fmt.Sprint(rb.err) || !reflect.DeepEqual(ra.topic, rb.topic) || ra.producerID != rb.producerID || ra.count != rb.count ||
			fmt.Sprint(ra.commit) != fmt.Sprint(rb.commit) {
			t.Fatalf("%s: results differ: %+v vs %+v", c.commandType(), ra, rb)
		}
		kinds[c.commandType()]++
		if ra.err != nil || len(ra.commit.Refused) > 0 {
			rejected[c.commandType()]++
		}
	}
	if !bytes.Equal(a.snapshotBytes(), b.snapshotBytes()) {
		t.Fatal("two FSMs fed the same log hold different snapshots")
	}
	for typ := cmdCommitObject; typ <= cmdExpireGroupOffsets; typ++ {
		if kinds[typ] == 0 {
			t.Errorf("mixed log has no %s", typ)
		}
	}
	for _, typ := range []commandType{cmdCommitObject, cmdReplaceExtents, cmdTruncatePartition, cmdCommitOffsets} {
		if rejected[typ] == 0 || rejected[typ] == kinds[typ] {
			t.Errorf("%s: %d of %d rejected; the log should hold both kinds", typ, rejected[typ], kinds[typ])
		}
	}
}

// TestSnapshotMidwayMatchesReplay restores a snapshot taken halfway
// through the mixed log and applies the rest: the result must equal
// replaying the whole log (reference counts, garbage and offsets survive).
func TestSnapshotMidwayMatchesReplay(t *testing.T) {
	log := mixedLog(t)
	for _, cut := range []int{len(commandLog()), len(log) / 2, len(log) - 3} {
		full, part := newApplier(t), newApplier(t)
		for _, c := range log[:cut] {
			full.apply(c)
			part.apply(c)
		}
		restored := newApplier(t)
		if err := restored.f.Restore(io.NopCloser(bytes.NewReader(part.snapshotBytes()))); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(restored.f.st, part.f.st) {
			t.Fatalf("cut %d: restored state differs from the original", cut)
		}
		for _, c := range log[cut:] {
			rf, rr := full.apply(c), restored.apply(c)
			if fmt.Sprint(rf.err) != fmt.Sprint(rr.err) || rf.count != rr.count {
				t.Fatalf("cut %d, %s: %v vs %v", cut, c.commandType(), rf.err, rr.err)
			}
		}
		if !bytes.Equal(full.snapshotBytes(), restored.snapshotBytes()) {
			t.Fatalf("cut %d: restored + tail differs from a full replay", cut)
		}
	}
}

// TestSnapshotCopyOnWrite persists a snapshot while the log goes on
// appending, replacing and truncating the extents it shares.
func TestSnapshotCopyOnWrite(t *testing.T) {
	log := mixedLog(t)
	a := newApplier(t)
	half := len(log) / 2
	for _, c := range log[:half] {
		a.apply(c)
	}
	want := a.snapshotBytes()
	snap, err := a.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Persist runs concurrently with Apply, as raft runs them (go test
	// -race checks the shared arrays).
	var sink memSink
	persisted := make(chan error, 1)
	go func() { persisted <- snap.Persist(&sink) }()
	for _, c := range log[half:] {
		a.apply(c)
	}
	if err := <-persisted; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("later applies changed a snapshot taken before them")
	}
}

func TestSnapshotVersion1StillReads(t *testing.T) {
	body := `{"ClusterID":"","NextProducerID":5,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":0},{"Leader":1,"LeaderEpoch":2}],"Configs":{}}]}`
	st, err := decodeSnapshot(frameSnapshot([]byte(body)), "v1")
	if err != nil {
		t.Fatal(err)
	}
	if st.nextProducerID != 5 || len(st.logs[tid(1)]) != 2 || len(st.objects) != 0 || len(st.groups) != 0 {
		t.Fatalf("v1 state: %+v", st)
	}
	// And it re-encodes as the current version.
	b, err := encodeSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	if b[5] != snapshotVersion {
		t.Fatalf("re-encoded as version %d", b[5])
	}
}

// TestSnapshotCatalogInvariants frames version-2 bodies that break one
// catalog or offsets invariant each.
func TestSnapshotCatalogInvariants(t *testing.T) {
	js := []byte(`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":0}],"Configs":{}}]}`)
	body := func(sections func(w *bodyWriter)) []byte {
		w := bodyWriter{}
		w.uvarint(uint64(len(js)))
		w.b = append(w.b, js...)
		sections(&w)
		return frameSnapshotVersion(snapshotVersion2, w.b)
	}
	// objects | garbage | partitions | groups, each a small helper.
	objects := func(w *bodyWriter, keys ...string) {
		w.uvarint(uint64(len(keys)))
		for _, k := range keys {
			w.string(k)
			w.varint(1000)
		}
	}
	partition := func(w *bodyWriter, logStart, end int64, exts ...[3]int64) { // (object index, base, last)
		w.uvarint(1)
		w.uvarint(0)
		w.uvarint(0)
		w.varint(logStart)
		w.varint(end)
		w.uvarint(uint64(len(exts)))
		if len(exts) > 0 {
			w.varint(exts[0][1])
		}
		for _, e := range exts {
			w.uvarint(uint64(e[0]))
			w.varint(e[2] - e[1])
			w.varint(0)
			w.varint(10)
			w.varint(0)
			w.varint(0)
		}
	}
	noGroups := func(w *bodyWriter) { w.uvarint(0) }
	valid := body(func(w *bodyWriter) {
		objects(w, "o1")
		w.uvarint(1)
		w.string("g1")
		w.varint(5)
		partition(w, 3, 20, [3]int64{0, 0, 9}, [3]int64{0, 10, 19})
		noGroups(w)
	})
	st, err := decodeSnapshot(valid, "valid")
	if err != nil {
		t.Fatalf("valid catalog rejected: %v", err)
	}
	if pl, _ := st.partitionSummary(partitionKey{tid(1), 0}); pl != (PartitionLog{LogStart: 3, End: 20, Bytes: 20, Extents: 2}) || st.objects["o1"].refs != 2 {
		t.Fatalf("decoded %+v refs %d", pl, st.objects["o1"].refs)
	}
	bad := map[string][]byte{
		"unreferenced object": body(func(w *bodyWriter) {
			objects(w, "o1", "o2")
			w.uvarint(0)
			partition(w, 0, 10, [3]int64{0, 0, 9})
			noGroups(w)
		}),
		"duplicate object": body(func(w *bodyWriter) {
			objects(w, "o1", "o1")
			w.uvarint(0)
			partition(w, 0, 10, [3]int64{0, 0, 9})
			noGroups(w)
		}),
		"garbage referenced": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(1)
			w.string("o1")
			w.varint(1)
			partition(w, 0, 10, [3]int64{0, 0, 9})
			noGroups(w)
		}),
		"object index": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(0)
			partition(w, 0, 10, [3]int64{1, 0, 9})
			noGroups(w)
		}),
		"end mismatch": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(0)
			partition(w, 0, 11, [3]int64{0, 0, 9})
			noGroups(w)
		}),
		"log start beyond": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(0)
			partition(w, 10, 10, [3]int64{0, 0, 9})
			noGroups(w)
		}),
		"log start before": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(0)
			partition(w, 2, 10, [3]int64{0, 5, 9})
			noGroups(w)
		}),
		"empty but start<end": body(func(w *bodyWriter) { objects(w); w.uvarint(0); partition(w, 2, 10); noGroups(w) }),
		"negative span": body(func(w *bodyWriter) {
			objects(w, "o1")
			w.uvarint(0)
			partition(w, 0, 0, [3]int64{0, 5, 3})
			noGroups(w)
		}),
		"group unknown topic": body(func(w *bodyWriter) {
			objects(w)
			w.uvarint(0)
			w.uvarint(0)
			w.uvarint(1)
			w.string("g")
			w.uvarint(1)
			w.string("zz")
			w.uvarint(1)
			w.varint(0)
			w.varint(1)
			w.varint(0)
			w.string("")
			w.varint(0)
		}),
		"empty group": body(func(w *bodyWriter) {
			objects(w)
			w.uvarint(0)
			w.uvarint(0)
			w.uvarint(1)
			w.string("g")
			w.uvarint(0)
		}),
	}
	bad["trailing bytes"] = func() []byte {
		b := valid[snapshotHeaderSz : len(valid)-snapshotTrailer]
		return frameSnapshotVersion(snapshotVersion2, append(slices.Clone(b), 0))
	}()
	for name, b := range bad {
		if _, err := decodeSnapshot(b, name); err == nil {
			t.Errorf("%s: accepted", name)
		} else if _, ok := err.(*CorruptionError); !ok {
			t.Errorf("%s: %T is not a *CorruptionError", name, err)
		}
	}
}
