package metadata

import (
	"fmt"
	"maps"
	"slices"
)

// Transactions in a partition's committed log
//
// A partition's transactional data is visible to read_committed consumers
// up to its last stable offset (LSO) and is filtered with its list of
// aborted transactions. Both come from the catalog, so they are the same
// whether the data is read from a leader's WAL or replayed out of the
// bucket after the WAL is gone:
//
//   - CommitObject carries, per extent, the transaction events the
//     uploader read from the batch headers (ObjectCommit.Txns): the first
//     transactional batch of a producer (TxnData, at its base offset; the
//     uploader reports one at the start of an extent and after each of
//     the producer's markers) and each COMMIT or ABORT control batch
//     (TxnCommit, TxnAbort, at the marker's offset).
//   - Applying an accepted extent's events: TxnData opens the producer's
//     transaction at that offset unless one is open; a marker closes it,
//     and an ABORT adds {producer, first offset, marker offset} to the
//     partition's aborted list (sorted by marker offset).
//   - The LSO is the smallest first offset of a transaction still open at
//     the catalog end, or the end when none is: a read_committed fetch
//     returns nothing at or above it. Data above the catalog end is never
//     read by anyone.
//   - Truncation of the log start drops aborted entries whose marker is
//     below the new start; open transactions are kept.

// TxnEventKind is what a transaction event records.
type TxnEventKind uint8

const (
	TxnData   TxnEventKind = 0 // a transactional data batch starts at Offset
	TxnCommit TxnEventKind = 1 // a COMMIT marker at Offset
	TxnAbort  TxnEventKind = 2 // an ABORT marker at Offset
)

// TxnEvent is one transaction event of an extent.
type TxnEvent struct {
	ProducerID int64
	Offset     int64
	Kind       TxnEventKind
}

// AbortedTxn is an aborted transaction of a partition: its producer, its
// first offset, and the offset of its ABORT marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

func validateTxnEvents(e Extent, evs []TxnEvent) error {
	prev := e.BaseOffset - 1
	for _, ev := range evs {
		if ev.ProducerID < 0 || ev.Kind > TxnAbort || ev.Offset < prev || ev.Offset < e.BaseOffset || ev.Offset > e.LastOffset {
			return fmt.Errorf("%w: extent %d..%d of partition %d: transaction event %d of producer %d at offset %d",
				ErrInvalidRequest, e.BaseOffset, e.LastOffset, e.Partition, ev.Kind, ev.ProducerID, ev.Offset)
		}
		prev = ev.Offset
	}
	return nil
}

// noteTxnEvents applies an accepted extent's events to pl. openTxns is
// pl's own map (clone copies it); aborted is only appended to.
func (pl *partitionLog) noteTxnEvents(evs []TxnEvent) {
	for _, ev := range evs {
		switch ev.Kind {
		case TxnData:
			if _, open := pl.openTxns[ev.ProducerID]; !open {
				if pl.openTxns == nil {
					pl.openTxns = make(map[int64]int64)
				}
				pl.openTxns[ev.ProducerID] = ev.Offset
			}
		case TxnCommit, TxnAbort:
			first, open := pl.openTxns[ev.ProducerID]
			if !open {
				continue // a marker for a transaction with no data here
			}
			delete(pl.openTxns, ev.ProducerID)
			if len(pl.openTxns) == 0 {
				pl.openTxns = nil
			}
			if ev.Kind == TxnAbort {
				pl.aborted = append(pl.aborted, AbortedTxn{ProducerID: ev.ProducerID, FirstOffset: first, LastOffset: ev.Offset})
			}
		}
	}
}

// truncateAborted drops aborted transactions whose marker is below
// logStart (reslicing the front, as clones may share the array).
func (pl *partitionLog) truncateAborted(logStart int64) {
	i, _ := slices.BinarySearchFunc(pl.aborted, logStart, func(a AbortedTxn, off int64) int {
		if a.LastOffset < off {
			return -1
		}
		return 1
	})
	pl.aborted = pl.aborted[i:]
	if len(pl.aborted) == 0 {
		pl.aborted = nil
	}
}

func (pl *partitionLog) lastStable() int64 {
	lso := pl.end
	for _, first := range pl.openTxns {
		lso = min(lso, first)
	}
	return lso
}

// LastStableOffset returns a partition's last stable offset (see above)
// and its catalog end; false if there is no such partition.
func (s *Store) LastStableOffset(topic TopicID, partition int32) (lso, end int64, ok bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil {
		return 0, 0, false
	}
	return pl.lastStable(), pl.end, true
}

// AbortedTxns returns the aborted transactions of a partition that
// overlap offsets [from, to): those whose marker is at or after from and
// whose first offset is before to, by marker offset.
func (s *Store) AbortedTxns(topic TopicID, partition int32, from, to int64) []AbortedTxn {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil {
		return nil
	}
	var out []AbortedTxn
	i, _ := slices.BinarySearchFunc(pl.aborted, from, func(a AbortedTxn, off int64) int {
		if a.LastOffset < off {
			return -1
		}
		return 1
	})
	for _, a := range pl.aborted[i:] {
		if a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// OpenTxns returns the transactions open at the catalog end of a
// partition: producer id -> first offset.
func (s *Store) OpenTxns(topic TopicID, partition int32) map[int64]int64 {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil || len(pl.openTxns) == 0 {
		return nil
	}
	return maps.Clone(pl.openTxns)
}

// encodeTxnSection appends CommitObject version 2's transaction section:
//
//	nevents uvarint | per event: extent index uvarint | producer id varint
//	    offset - extent base varint | kind byte
func encodeTxnSection(w *bodyWriter, extents []Extent, txns [][]TxnEvent) {
	n := 0
	for _, evs := range txns {
		n += len(evs)
	}
	w.uvarint(uint64(n))
	for i, evs := range txns {
		for _, ev := range evs {
			w.uvarint(uint64(i))
			w.varint(ev.ProducerID)
			w.varint(ev.Offset - extents[i].BaseOffset)
			w.b = append(w.b, byte(ev.Kind))
		}
	}
}

func decodeTxnSection(r *bodyReader, extents []Extent) [][]TxnEvent {
	var out [][]TxnEvent
	for range r.count("transaction event", 4) {
		i := r.uvarint()
		if r.err == nil && i >= uint64(len(extents)) {
			r.fail("transaction event for extent %d of %d", i, len(extents))
		}
		pid := r.varint()
		d := r.varint()
		kind := r.byte("transaction event kind")
		if r.err != nil {
			return nil
		}
		if out == nil {
			out = make([][]TxnEvent, len(extents))
		}
		out[i] = append(out[i], TxnEvent{ProducerID: pid, Offset: extents[i].BaseOffset + d, Kind: TxnEventKind(kind)})
	}
	return out
}

// encodeTxnLogs writes the snapshot's transaction section (version 5):
//
//	npartitions uvarint | per partition with open or aborted transactions:
//	    topic index uvarint | partition uvarint
//	    nopen uvarint | per open (by producer id): producer id varint | first offset varint
//	    naborted uvarint | per aborted: producer id varint | first offset varint | last - first varint
func (st *state) encodeTxnLogs(w *bodyWriter, topics []Topic) {
	n := 0
	for _, t := range topics {
		for _, pl := range st.logs[t.ID] {
			if len(pl.openTxns) > 0 || len(pl.aborted) > 0 {
				n++
			}
		}
	}
	w.uvarint(uint64(n))
	for ti, t := range topics {
		for p, pl := range st.logs[t.ID] {
			if len(pl.openTxns) == 0 && len(pl.aborted) == 0 {
				continue
			}
			w.uvarint(uint64(ti))
			w.uvarint(uint64(p))
			ids := make([]int64, 0, len(pl.openTxns))
			for id := range pl.openTxns {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			w.uvarint(uint64(len(ids)))
			for _, id := range ids {
				w.varint(id)
				w.varint(pl.openTxns[id])
			}
			w.uvarint(uint64(len(pl.aborted)))
			for _, a := range pl.aborted {
				w.varint(a.ProducerID)
				w.varint(a.FirstOffset)
				w.varint(a.LastOffset - a.FirstOffset)
			}
		}
	}
}

func (st *state) decodeTxnLogs(r *bodyReader, topics []Topic) error {
	refs := newPartitionRefs(topics, "transactions")
	for range r.count("partition", 4) {
		ti, p := r.uvarint(), r.uvarint()
		if r.err != nil {
			return r.err
		}
		k, name, err := refs.resolve(ti, p)
		if err != nil {
			return err
		}
		pl := &st.logs[k.topic][k.partition]
		nOpen := r.count("open transaction", 2)
		prevID := int64(-1)
		for range nOpen {
			id, first := r.varint(), r.varint()
			if r.err != nil {
				return r.err
			}
			if id <= prevID || first < 0 || first > pl.end {
				return fmt.Errorf("partition %s: open transaction of producer %d at offset %d", name, id, first)
			}
			prevID = id
			if pl.openTxns == nil {
				pl.openTxns = make(map[int64]int64, nOpen)
			}
			pl.openTxns[id] = first
		}
		nAborted := r.count("aborted transaction", 3)
		prevLast := int64(-1)
		for range nAborted {
			a := AbortedTxn{ProducerID: r.varint(), FirstOffset: r.varint()}
			d := r.varint()
			if r.err != nil {
				return r.err
			}
			if a.ProducerID < 0 || a.FirstOffset < 0 || d < 0 || d > pl.end || a.FirstOffset > pl.end-d || a.FirstOffset+d <= prevLast {
				return fmt.Errorf("partition %s: aborted transaction of producer %d at %d (+%d)", name, a.ProducerID, a.FirstOffset, d)
			}
			a.LastOffset = a.FirstOffset + d
			prevLast = a.LastOffset
			pl.aborted = append(pl.aborted, a)
		}
	}
	return r.err
}
