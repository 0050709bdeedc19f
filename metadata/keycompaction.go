package metadata

import (
	"context"
	"fmt"
)

// Compaction by key (cleanup.policy=compact) keeps, per partition, how far
// the log has been cleaned: every offset below CleanedTo holds at most one
// record per key, the latest of those below CleanedTo. The compactor
// (tiering/keycompactor.go) swaps its rewritten objects in with
// ReplaceExtents, one run of extents per command, and then records the
// pass with RecordKeyCompaction, which advances CleanedTo and the figures
// `shale topics describe` shows. The state is in the snapshot from
// version 5 on (encodeKeyCompactions).

// KeyCompaction is what one finished pass of the key compactor reports.
type KeyCompaction struct {
	Topic     TopicID
	Partition int32
	// CleanedTo is the offset below which the partition now holds one
	// record per key. It only advances, and never past the log end.
	CleanedTo int64
	// Reclaimed is the bytes the pass removed (old extents' bytes minus
	// the new objects' bytes it swapped in).
	Reclaimed int64
	Now       int64 // ms; set by the caller
}

// KeyCompactionState is a partition's compaction by key, as the catalog
// holds it, with the byte counts its dirty ratio comes from.
type KeyCompactionState struct {
	CleanedTo      int64 // offsets below are cleaned
	LastCompaction int64 // ms of the last pass; 0: never
	Reclaimed      int64 // bytes removed by every pass so far
	Passes         int64 // passes recorded
	CleanBytes     int64 // bytes of extents wholly below CleanedTo
	DirtyBytes     int64 // bytes of the other extents
}

// DirtyRatio is DirtyBytes over all bytes (Kafka's cleaner dirty ratio);
// 0 for an empty log.
func (s KeyCompactionState) DirtyRatio() float64 {
	if s.CleanBytes+s.DirtyBytes == 0 {
		return 0
	}
	return float64(s.DirtyBytes) / float64(s.CleanBytes+s.DirtyBytes)
}

// keyCompactionRec is the state kept in a partitionLog.
type keyCompactionRec struct {
	cleanedTo      int64
	lastCompaction int64
	reclaimed      int64
	passes         int64
}

// recordKeyCompactionCmd is RecordKeyCompaction.
type recordKeyCompactionCmd KeyCompaction

const cmdRecordKeyCompaction commandType = 30

func (recordKeyCompactionCmd) commandType() commandType { return cmdRecordKeyCompaction }

// recordKeyCompaction applies RecordKeyCompaction.
func (st *state) recordKeyCompaction(c recordKeyCompactionCmd) (applyResult, bool) {
	if c.Partition < 0 || c.CleanedTo < 0 || c.Now < 0 {
		return applyResult{err: fmt.Errorf("%w: key compaction of partition %d to offset %d at %d", ErrInvalidRequest, c.Partition, c.CleanedTo, c.Now)}, false
	}
	k := partitionKey{c.Topic, c.Partition}
	pl, err := st.partitionLog(k)
	if err != nil {
		return applyResult{err: fmt.Errorf("%w: record key compaction: %w", ErrCatalogChanged, err)}, false
	}
	kc := &pl.keyCompaction
	kc.cleanedTo = max(kc.cleanedTo, min(c.CleanedTo, pl.end))
	kc.lastCompaction = max(kc.lastCompaction, c.Now)
	kc.reclaimed += c.Reclaimed
	kc.passes++
	return applyResult{}, true
}

// RecordKeyCompaction records a finished pass of the key compactor: the
// partition is cleaned below c.CleanedTo (capped at the log end; it never
// goes back) and c.Reclaimed bytes were removed. ErrCatalogChanged when
// the partition no longer exists.
func (s *Store) RecordKeyCompaction(ctx context.Context, c KeyCompaction) error {
	if c.Partition < 0 || c.CleanedTo < 0 || c.Now < 0 {
		return fmt.Errorf("%w: key compaction of partition %d to offset %d at %d", ErrInvalidRequest, c.Partition, c.CleanedTo, c.Now)
	}
	_, err := s.propose(ctx, recordKeyCompactionCmd(c))
	return err
}

// KeyCleanedTo returns the offset below which compaction by key has
// rewritten the partition (0: never compacted, or no such partition).
// O(1): the read path asks it on every read of the local WAL.
func (s *Store) KeyCleanedTo(topic TopicID, partition int32) int64 {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil {
		return 0
	}
	return pl.keyCompaction.cleanedTo
}

// KeyCompactionState returns a partition's compaction by key; false if
// there is no such partition.
func (s *Store) KeyCompactionState(topic TopicID, partition int32) (KeyCompactionState, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil {
		return KeyCompactionState{}, false
	}
	kc := pl.keyCompaction
	out := KeyCompactionState{CleanedTo: kc.cleanedTo, LastCompaction: kc.lastCompaction, Reclaimed: kc.reclaimed, Passes: kc.passes}
	for _, e := range pl.extents {
		if e.last < kc.cleanedTo {
			out.CleanBytes += e.length
		} else {
			out.DirtyBytes += e.length
		}
	}
	return out, true
}

// encodeKeyCompactions writes the key-compaction section (snapshot version
// 5): a count, then per partition with any state: topic index, partition,
// cleanedTo, lastCompaction, reclaimed, passes.
func (st *state) encodeKeyCompactions(w *bodyWriter, topics []Topic) {
	n := 0
	for _, t := range topics {
		for _, pl := range st.logs[t.ID] {
			if pl.keyCompaction != (keyCompactionRec{}) {
				n++
			}
		}
	}
	w.uvarint(uint64(n))
	for ti, t := range topics {
		for p, pl := range st.logs[t.ID] {
			kc := pl.keyCompaction
			if kc == (keyCompactionRec{}) {
				continue
			}
			w.uvarint(uint64(ti))
			w.uvarint(uint64(p))
			w.varint(kc.cleanedTo)
			w.varint(kc.lastCompaction)
			w.varint(kc.reclaimed)
			w.varint(kc.passes)
		}
	}
}

// decodeKeyCompactions reads the key-compaction section into st, whose
// topics and catalog are set.
func (st *state) decodeKeyCompactions(r *bodyReader, topics []Topic) error {
	refs := newPartitionRefs(topics, "key compaction")
	for range r.count("key compaction", 6) {
		ti, p := r.uvarint(), r.uvarint()
		kc := keyCompactionRec{cleanedTo: r.varint(), lastCompaction: r.varint(), reclaimed: r.varint(), passes: r.varint()}
		if r.err != nil {
			return r.err
		}
		if _, _, err := refs.resolve(ti, p); err != nil {
			return err
		}
		t := topics[ti]
		pl := &st.logs[t.ID][p]
		if kc.cleanedTo < 0 || kc.cleanedTo > pl.end || kc.lastCompaction < 0 || kc.passes < 0 {
			return fmt.Errorf("key compaction of partition %s-%d: cleaned to %d (log end %d), last %d, passes %d",
				t.Name, p, kc.cleanedTo, pl.end, kc.lastCompaction, kc.passes)
		}
		pl.keyCompaction = kc
	}
	return r.err
}
