package metadata

import (
	"fmt"
	"slices"
	"sort"
)

// Leader-epoch history
//
// Each partition keeps, beside its extents, the offsets where its leader
// epochs begin: a short list of (epoch, start offset), both strictly
// increasing, like the leader-epoch-checkpoint file of a Kafka log. It
// answers OffsetForLeaderEpoch (KIP-101, KIP-320), with which consumers
// detect that the log they read was truncated by a leader change.
//
// The list is kept apart from the extents because extents do not keep
// epoch boundaries: the compactor merges extents of several epochs into one
// (which carries the last epoch), and retention deletes whole extents.
//
//   - CommitObject appends (epoch, base) when an accepted extent's epoch is
//     greater than the last one listed. Extents are only accepted under the
//     partition's current epoch, so an epoch's first extent starts where
//     the previous epoch's data ended.
//   - TruncatePartition to a new log start L drops the entries starting at
//     or below L and puts the last of them back starting at L, so the
//     epoch of the first offset still held stays known (Kafka's
//     truncateFromStart).
//   - ReplaceExtents (compaction) does not change it.
//
// Invariants (checked when a snapshot is decoded): epochs >= 0 and strictly
// increasing, and none above the partition's current epoch; start offsets
// strictly increasing, the first equal to the log start, the last at most
// the end. An empty list means no data was ever committed, or the state
// came from a version-2 snapshot of a log with no extents left.
//
// Copy-on-write like the extents (see partitionLog): apply appends to the
// list or replaces it, never writes an element below its length in place.

// Kafka's values for "no epoch" and "no offset" in OffsetForLeaderEpoch.
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// EpochStart is the first offset of a leader epoch's data in a partition.
type EpochStart struct {
	Epoch       int32
	StartOffset int64
}

// EpochHistory is a partition's leader-epoch history with the state it is
// read against. Epochs is the caller's copy.
type EpochHistory struct {
	Leader      int32 // broker id of the current leader
	LeaderEpoch int32 // the current leader epoch
	LogStart    int64
	End         int64 // the catalog end: the high watermark
	Epochs      []EpochStart
}

// EndOffsetFor answers OffsetForLeaderEpoch for requested as Kafka's
// LeaderEpochFileCache.endOffsetFor does: the largest epoch <= requested
// that the log has, and the start offset of the first epoch after it, or
// logEnd when requested is the current epoch. logEnd is the leader's log
// end offset (at least End; the caller adds the local tail not yet
// committed). The current epoch counts as present from the catalog end on
// even before it commits anything, as Kafka's leader records its epoch at
// election.
//
// Cases:
//   - requested < 0 (UNDEFINED_EPOCH): (-1, -1);
//   - requested == the current epoch: (requested, logEnd);
//   - requested newer than every epoch: (-1, -1);
//   - requested older than the oldest epoch left after retention:
//     (requested, the oldest epoch's start), that is the log start;
//   - otherwise: (the largest epoch <= requested, the next epoch's start).
//
// Kafka answers (requested, first start) for a negative epoch other than
// -1; Shale treats every negative epoch as undefined.
func (h EpochHistory) EndOffsetFor(requested int32, logEnd int64) (epoch int32, endOffset int64) {
	if requested < 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	entries := h.Epochs
	if len(entries) == 0 || entries[len(entries)-1].Epoch < h.LeaderEpoch {
		entries = append(entries[:len(entries):len(entries)], EpochStart{h.LeaderEpoch, h.End})
	}
	if requested == entries[len(entries)-1].Epoch {
		return requested, logEnd
	}
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Epoch > requested })
	switch {
	case i == len(entries):
		return UndefinedEpoch, UndefinedEpochOffset
	case i == 0:
		return requested, entries[0].StartOffset
	}
	return entries[i-1].Epoch, entries[i].StartOffset
}

// noteEpoch records that the extent at base, committed under epoch, starts
// a new epoch if it is newer than the last one listed.
func (pl *partitionLog) noteEpoch(epoch int32, base int64) {
	if n := len(pl.epochs); n > 0 && pl.epochs[n-1].Epoch >= epoch {
		return
	}
	pl.epochs = append(pl.epochs, EpochStart{epoch, base})
}

// truncateEpochs cuts the history at a new log start.
func (pl *partitionLog) truncateEpochs(logStart int64) {
	i := sort.Search(len(pl.epochs), func(i int) bool { return pl.epochs[i].StartOffset > logStart })
	if i == 0 {
		return
	}
	next := make([]EpochStart, 0, len(pl.epochs)-i+1)
	next = append(next, EpochStart{pl.epochs[i-1].Epoch, logStart})
	pl.epochs = append(next, pl.epochs[i:]...)
}

// rebuildEpochs derives the history from the extents, for state restored
// from a version-2 snapshot, which has none. Extents merged by the
// compactor carry one epoch, so boundaries inside them are lost; extents
// dropped whole by retention leave nothing to derive from. An extent epoch
// above the current one (which apply never accepts) counts as the current.
func (pl *partitionLog) rebuildEpochs(current int32) {
	pl.epochs = nil
	for _, e := range pl.extents {
		pl.noteEpoch(min(e.leaderEpoch, current), e.base)
	}
	pl.truncateEpochs(pl.logStart)
}

// checkEpochs verifies the invariants documented above against the
// partition's current epoch.
func (pl *partitionLog) checkEpochs(current int32) error {
	for i, e := range pl.epochs {
		if e.Epoch < 0 || e.Epoch > current {
			return fmt.Errorf("leader epoch %d outside 0..%d (the current epoch)", e.Epoch, current)
		}
		if i == 0 {
			if e.StartOffset != pl.logStart {
				return fmt.Errorf("leader epoch %d starts at offset %d, the log starts at %d", e.Epoch, e.StartOffset, pl.logStart)
			}
			continue
		}
		prev := pl.epochs[i-1]
		if e.Epoch <= prev.Epoch || e.StartOffset <= prev.StartOffset {
			return fmt.Errorf("leader epoch %d at offset %d follows epoch %d at offset %d", e.Epoch, e.StartOffset, prev.Epoch, prev.StartOffset)
		}
	}
	if n := len(pl.epochs); n > 0 && pl.epochs[n-1].StartOffset > pl.end {
		return fmt.Errorf("leader epoch %d starts at offset %d, past the end %d", pl.epochs[n-1].Epoch, pl.epochs[n-1].StartOffset, pl.end)
	}
	return nil
}

// EpochHistory returns a partition's leader-epoch history and current
// leadership; false if there is no such partition.
func (s *Store) EpochHistory(topic TopicID, partition int32) (EpochHistory, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.epochHistory(partitionKey{topic, partition})
}

func (st *state) epochHistory(k partitionKey) (EpochHistory, bool) {
	pl, err := st.partitionLog(k)
	if err != nil {
		return EpochHistory{}, false
	}
	p := st.topics[st.topicIDs[k.topic]].Partitions[k.partition]
	return EpochHistory{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, LogStart: pl.logStart, End: pl.end,
		Epochs: slices.Clone(pl.epochs)}, true
}

// Snapshot section (version 3, after the groups):
//
//	count | count x (topic index | partition | n | n x (epoch | start - previous start))
//
// for each partition with a non-empty history, topics in snapshot order
// and partitions ascending; the first start is relative to 0.

func (st *state) encodeEpochs(w *bodyWriter, topics []Topic) {
	n := 0
	for _, t := range topics {
		for _, pl := range st.logs[t.ID] {
			if len(pl.epochs) > 0 {
				n++
			}
		}
	}
	w.uvarint(uint64(n))
	for ti, t := range topics {
		for p, pl := range st.logs[t.ID] {
			if len(pl.epochs) == 0 {
				continue
			}
			w.uvarint(uint64(ti))
			w.uvarint(uint64(p))
			w.uvarint(uint64(len(pl.epochs)))
			var prev int64
			for _, e := range pl.epochs {
				w.varint(int64(e.Epoch))
				w.varint(e.StartOffset - prev)
				prev = e.StartOffset
			}
		}
	}
}

// decodeEpochs reads the epochs section into st, whose topics and catalog
// are set.
func (st *state) decodeEpochs(r *bodyReader, topics []Topic) error {
	refs := newPartitionRefs(topics, "leader epochs")
	for range r.count("partition", 4) {
		ti, p := r.uvarint(), r.uvarint()
		n := r.count("leader epoch", 2)
		if r.err != nil {
			return r.err
		}
		k, name, err := refs.resolve(ti, p)
		if err != nil {
			return err
		}
		t := topics[ti]
		if n == 0 {
			return fmt.Errorf("partition %s has an empty leader epoch list", name)
		}
		epochs := make([]EpochStart, n)
		var prev int64
		for i := range epochs {
			epochs[i].Epoch = r.int32("leader epoch")
			d := r.varint()
			if r.err != nil {
				return r.err
			}
			if d < 0 || d > 1<<62 || prev > 1<<62 {
				return fmt.Errorf("partition %s leader epoch %d: start offset step %d out of range", name, i, d)
			}
			prev += d
			epochs[i].StartOffset = prev
		}
		pl := &st.logs[k.topic][k.partition]
		pl.epochs = epochs
		if err := pl.checkEpochs(t.Partitions[p].LeaderEpoch); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
	}
	return r.err
}

// rebuildAllEpochs derives every partition's history from its extents
// (snapshots before version 3).
func (st *state) rebuildAllEpochs() {
	for _, t := range st.topics {
		parts := st.logs[t.ID]
		for i := range parts {
			parts[i].rebuildEpochs(t.Partitions[i].LeaderEpoch)
		}
	}
}
