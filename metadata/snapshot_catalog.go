package metadata

import (
	"fmt"
	"math"
	"slices"
)

// The binary sections of a version-2 or version-3 snapshot body, after the
// JSON part. Varints as bodyWriter writes them; lists in a fixed order so
// equal states encode to equal bytes.
//
//	objects:    n uvarint | n x (key string | size varint)          by key
//	garbage:    n uvarint | n x (key string | since varint)         by since, key
//	partitions: n uvarint | n x partition (only those with End > 0), by topic
//	            name then partition:
//	    topic index uvarint (into the JSON Topics) | partition uvarint
//	    log start varint | end varint | nextents uvarint
//	    [first base offset varint, when nextents > 0]
//	    nextents x (object index uvarint (into objects) | last-base varint
//	                pos varint | len varint | max timestamp - previous
//	                extent's varint | leader epoch varint
//	                [v3: | commit time - previous extent's varint])
//	groups:     n uvarint | n x (group string | ntopics uvarint | per topic:
//	            name string | nparts uvarint | per partition: partition varint
//	            | offset varint | leader epoch varint | metadata string
//	            | commit time varint)                                by name, number
//
// Bases are implied after the first (extents are contiguous), reference
// counts and byte totals are recomputed, so a typical extent takes about
// 12 bytes (14 in version 3: extents committed together share a commit
// time, a delta of 0 in one byte). Version 2 has no commit times: decoded
// extents get CommitTime 0, unknown.
//
// Migration: version 3 (commit times) is written since extents carry
// them; versions 1 and 2 are still read. A node running a build before
// version 3 cannot read a version-3 snapshot, so a cluster is upgraded
// forward only.

// catalogSizeHint estimates the bytes encodeCatalog and encodeGroups add.
func (st *state) catalogSizeHint() int {
	n := 64 * (len(st.objects) + len(st.garbage))
	for _, parts := range st.logs {
		for _, pl := range parts {
			n += 16 + 16*len(pl.extents)
		}
	}
	return n + 32*len(st.groups)
}

func (st *state) encodeCatalog(w *bodyWriter, topics []Topic) {
	keys := make([]string, 0, len(st.objects))
	for k := range st.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	index := make(map[string]int, len(keys))
	w.uvarint(uint64(len(keys)))
	for i, k := range keys {
		index[k] = i
		w.string(k)
		w.varint(st.objects[k].size)
	}
	garbage := st.sortedGarbage()
	w.uvarint(uint64(len(garbage)))
	for _, g := range garbage {
		w.string(g.Key)
		w.varint(g.Since)
	}
	n := 0
	for _, t := range topics {
		for _, pl := range st.logs[t.ID] {
			if pl.end > 0 {
				n++
			}
		}
	}
	w.uvarint(uint64(n))
	for ti, t := range topics {
		for p, pl := range st.logs[t.ID] {
			if pl.end == 0 {
				continue
			}
			w.uvarint(uint64(ti))
			w.uvarint(uint64(p))
			w.varint(pl.logStart)
			w.varint(pl.end)
			w.uvarint(uint64(len(pl.extents)))
			if len(pl.extents) == 0 {
				continue
			}
			w.varint(pl.extents[0].base)
			var prevTS, prevCommit int64
			for _, e := range pl.extents {
				w.uvarint(uint64(index[e.object]))
				w.varint(e.last - e.base)
				w.varint(e.pos)
				w.varint(e.length)
				w.varint(e.maxTimestamp - prevTS)
				prevTS = e.maxTimestamp
				w.varint(int64(e.leaderEpoch))
				w.varint(e.commitTime - prevCommit) // wraps like the decoder's addition
				prevCommit = e.commitTime
			}
		}
	}
}

// decodeCatalog reads the catalog sections of a snapshot of the given
// version (2 or 3) into st, whose topics and empty logs come from the JSON
// part (topics in the JSON order). It checks every invariant apply
// maintains.
func (st *state) decodeCatalog(r *bodyReader, topics []Topic, version uint16) error {
	keys := make([]string, r.count("object", 2))
	sizes := make([]int64, len(keys))
	for i := range keys {
		keys[i] = r.string("object key", MaxObjectKeyLen)
		sizes[i] = r.varint()
		if r.err != nil {
			return r.err
		}
		if err := validateObjectKey(keys[i]); err != nil {
			return err
		}
		if sizes[i] <= 0 {
			return fmt.Errorf("object %q has size %d", keys[i], sizes[i])
		}
		if _, dup := st.objects[keys[i]]; dup {
			return fmt.Errorf("object %q appears twice", keys[i])
		}
		st.objects[keys[i]] = objectInfo{size: sizes[i]}
	}
	for range r.count("garbage object", 2) {
		key := r.string("object key", MaxObjectKeyLen)
		since := r.varint()
		if r.err != nil {
			return r.err
		}
		if err := validateObjectKey(key); err != nil {
			return err
		}
		if st.knownObject(key) {
			return fmt.Errorf("garbage object %q appears twice or is also referenced", key)
		}
		st.garbage[key] = since
	}
	refs := make([]int64, len(keys))
	seen := make(map[partitionKey]bool)
	for range r.count("partition", 6) {
		ti, p := r.uvarint(), r.uvarint()
		logStart, end := r.varint(), r.varint()
		n := r.count("extent", 6)
		if r.err != nil {
			return r.err
		}
		if ti >= uint64(len(topics)) || p >= uint64(len(topics[ti].Partitions)) {
			return fmt.Errorf("partition %d of topic index %d does not exist", p, ti)
		}
		k := partitionKey{topics[ti].ID, int32(p)}
		name := fmt.Sprintf("%s-%d", topics[ti].Name, p)
		if seen[k] {
			return fmt.Errorf("partition %s appears twice", name)
		}
		seen[k] = true
		pl := partitionLog{logStart: logStart, end: end}
		var base int64
		if n > 0 {
			pl.extents = make([]extentRec, n)
			base = r.varint()
		}
		var prevTS, prevCommit int64
		for i := range pl.extents {
			e := &pl.extents[i]
			oi := r.uvarint()
			span := r.varint()
			e.pos, e.length = r.varint(), r.varint()
			e.maxTimestamp = prevTS + r.varint()
			prevTS = e.maxTimestamp
			e.leaderEpoch = r.int32("leader epoch")
			if version >= snapshotVersion3 {
				e.commitTime = prevCommit + r.varint()
				prevCommit = e.commitTime
			}
			if r.err != nil {
				return r.err
			}
			if oi >= uint64(len(keys)) {
				return fmt.Errorf("partition %s extent %d: object index %d of %d", name, i, oi, len(keys))
			}
			if base < 0 || span < 0 || span >= math.MaxInt64-base {
				return fmt.Errorf("partition %s extent %d: base %d and span %d out of range", name, i, base, span)
			}
			e.base, e.last, e.object = base, base+span, keys[oi]
			if err := validateExtent(e.extent(k), sizes[oi]); err != nil {
				return fmt.Errorf("partition %s extent %d: %w", name, i, err)
			}
			refs[oi]++
			pl.bytes += e.length
			base = e.last + 1
		}
		if err := pl.check(); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
		st.logs[k.topic][k.partition] = pl
	}
	if r.err != nil {
		return r.err
	}
	for i, k := range keys {
		if refs[i] == 0 {
			return fmt.Errorf("object %q is referenced by no extent", k)
		}
		st.objects[k] = objectInfo{size: sizes[i], refs: refs[i]}
	}
	return nil
}

// check verifies the invariants documented on partitionLog, given that
// the extents are contiguous.
func (pl *partitionLog) check() error {
	if pl.logStart < 0 || pl.end < pl.logStart {
		return fmt.Errorf("log start %d and end %d out of order", pl.logStart, pl.end)
	}
	if len(pl.extents) == 0 {
		if pl.logStart != pl.end {
			return fmt.Errorf("no extents but log start %d != end %d", pl.logStart, pl.end)
		}
		return nil
	}
	first, last := pl.extents[0], pl.extents[len(pl.extents)-1]
	if pl.logStart < first.base || pl.logStart > first.last {
		return fmt.Errorf("log start %d outside the first extent %d..%d", pl.logStart, first.base, first.last)
	}
	if last.last+1 != pl.end {
		return fmt.Errorf("end %d but the last extent ends at %d", pl.end, last.last)
	}
	return nil
}

func (st *state) encodeGroups(w *bodyWriter) {
	groups := st.sortedGroups()
	w.uvarint(uint64(len(groups)))
	for _, name := range groups {
		g := st.groups[name]
		w.string(name)
		topics := make([]string, 0, len(g))
		for t := range g {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		w.uvarint(uint64(len(topics)))
		for _, t := range topics {
			w.string(t)
			parts := make([]int32, 0, len(g[t]))
			for p := range g[t] {
				parts = append(parts, p)
			}
			slices.Sort(parts)
			w.uvarint(uint64(len(parts)))
			for _, p := range parts {
				o := g[t][p]
				w.varint(int64(p))
				w.varint(o.Offset)
				w.varint(int64(o.LeaderEpoch))
				w.string(o.Metadata)
				w.varint(o.CommitTime)
			}
		}
	}
}

// decodeGroups reads the groups section into st, whose topics are set.
func (st *state) decodeGroups(r *bodyReader) error {
	for range r.count("group", 3) {
		name := r.string("group id", MaxGroupIDLen)
		ntopics := r.count("topic", 2)
		if r.err != nil {
			return r.err
		}
		if err := validateGroupID(name); err != nil {
			return err
		}
		if _, dup := st.groups[name]; dup {
			return fmt.Errorf("group %q appears twice", name)
		}
		if ntopics == 0 {
			return fmt.Errorf("group %q has no offsets", name)
		}
		g := make(groupOffsets, ntopics)
		for range ntopics {
			topic := r.string("topic name", MaxTopicNameLen)
			nparts := r.count("partition", 5)
			if r.err != nil {
				return r.err
			}
			t, ok := st.topics[topic]
			if !ok {
				return fmt.Errorf("group %q has offsets for unknown topic %q", name, topic)
			}
			if _, dup := g[topic]; dup {
				return fmt.Errorf("group %q lists topic %q twice", name, topic)
			}
			if nparts == 0 {
				return fmt.Errorf("group %q lists topic %q with no offsets", name, topic)
			}
			parts := make(map[int32]CommittedOffset, nparts)
			for range nparts {
				p := r.int32("partition")
				var o CommittedOffset
				o.Offset = r.varint()
				o.LeaderEpoch = r.int32("leader epoch")
				o.Metadata = r.string("metadata", MaxOffsetMetadataBytes)
				o.CommitTime = r.varint()
				if r.err != nil {
					return r.err
				}
				tp := TopicPartition{topic, p}
				if err := validateCommittedOffset(name, tp, o); err != nil {
					return err
				}
				if p < 0 || int(p) >= len(t.Partitions) {
					return fmt.Errorf("group %q has offsets for %s-%d, which does not exist", name, topic, p)
				}
				if _, dup := parts[p]; dup {
					return fmt.Errorf("group %q lists %s-%d twice", name, topic, p)
				}
				parts[p] = o
			}
			g[topic] = parts
		}
		st.groups[name] = g
	}
	return r.err
}

// partitionRefs resolves the (topic index, partition) pairs that name
// partitions in a snapshot section, refusing unknown and repeated ones;
// what names the section in errors.
type partitionRefs struct {
	topics []Topic
	what   string
	seen   map[partitionKey]bool
}

func newPartitionRefs(topics []Topic, what string) *partitionRefs {
	return &partitionRefs{topics: topics, what: what, seen: make(map[partitionKey]bool)}
}

// resolve returns the partition and its name ("topic-p").
func (pr *partitionRefs) resolve(ti, p uint64) (partitionKey, string, error) {
	if ti >= uint64(len(pr.topics)) || p >= uint64(len(pr.topics[ti].Partitions)) {
		return partitionKey{}, "", fmt.Errorf("%s of partition %d of topic index %d, which does not exist", pr.what, p, ti)
	}
	t := pr.topics[ti]
	k := partitionKey{t.ID, int32(p)}
	name := fmt.Sprintf("%s-%d", t.Name, p)
	if pr.seen[k] {
		return k, name, fmt.Errorf("%s of partition %s appear twice", pr.what, name)
	}
	pr.seen[k] = true
	return k, name, nil
}
