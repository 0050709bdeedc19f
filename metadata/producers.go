package metadata

import (
	"fmt"
	"slices"
)

// Idempotent producer state in the catalog
//
// Each partition keeps, beside its extents, what its committed log holds
// of every idempotent producer that wrote to it: the producer's epoch and
// its last five batches (first and last sequence, first and last offset),
// which is what a leader needs to answer a retried batch with the offsets
// it was first written at (Kafka keeps the same in its producer snapshot
// files next to the log). With it in the catalog, a new leader (after a
// failover, a handover or a wiped disk) starts with the state as of the
// catalog end, without reading the partition's history.
//
//   - CommitObject carries, for each extent, the producers with batches
//     in it and their last batches there (ObjectCommit.Producers). Applying an
//     accepted extent merges them: a newer epoch replaces the producer's
//     entry, the same epoch appends its batches (keeping the last five),
//     an older one is ignored. The entry's LastCommit becomes the
//     commit's Now.
//   - The same command's ProducerExpiry drops, in the partitions it
//     touches, entries whose LastCommit is older than Now - ProducerExpiry
//     (producer id expiration; 0 keeps them).
//   - Tracking starts with a partition's first commit that carries the
//     producer section (CommitObject version 2): ProducersFrom is the
//     partition's end at that moment. Below it (a log written before
//     version 2) the state is incomplete and a new leader reads the
//     committed tail instead.
//   - ReplaceExtents, TruncatePartition and retention leave it as it is,
//     as Kafka keeps producer state when segments are deleted.

// MaxProducerBatches is how many recent batches are kept per producer:
// Kafka's idempotent producers have at most five requests in flight per
// partition, so five answer every retry.
const MaxProducerBatches = 5

// ProducerBatch is one appended batch of an idempotent producer.
type ProducerBatch struct {
	FirstSeq, LastSeq      int32
	BaseOffset, LastOffset int64
}

// ProducerState is one producer's state in one partition.
type ProducerState struct {
	ID      int64
	Epoch   int16
	Batches []ProducerBatch // oldest first, 1 to MaxProducerBatches
	// LastCommit (ms) is the Now of the commit that last changed the
	// entry. Set by the catalog; ignored in an extent.
	LastCommit int64
}

// producerRec is a ProducerState as the catalog holds it: a value with no
// shared backing array, so copying the map copies the state.
type producerRec struct {
	epoch      int16
	n          uint8
	batches    [MaxProducerBatches]ProducerBatch
	lastCommit int64
}

func (r *producerRec) add(b ProducerBatch) {
	if r.n > 0 && b.BaseOffset <= r.batches[r.n-1].LastOffset {
		return // already recorded (a commit retried)
	}
	if int(r.n) == MaxProducerBatches {
		copy(r.batches[:], r.batches[1:])
		r.n--
	}
	r.batches[r.n] = b
	r.n++
}

func (r *producerRec) state(id int64) ProducerState {
	return ProducerState{ID: id, Epoch: r.epoch, Batches: slices.Clone(r.batches[:r.n]), LastCommit: r.lastCommit}
}

// validateProducers checks an extent's producer section.
func validateProducers(e Extent, ps []ProducerState) error {
	seen := make(map[int64]bool, len(ps))
	for _, p := range ps {
		switch {
		case p.ID < 0 || p.Epoch < 0:
			return fmt.Errorf("%w: extent of partition %d: producer %d epoch %d", ErrInvalidRequest, e.Partition, p.ID, p.Epoch)
		case seen[p.ID]:
			return fmt.Errorf("%w: extent of partition %d: producer %d listed twice", ErrInvalidRequest, e.Partition, p.ID)
		case len(p.Batches) == 0 || len(p.Batches) > MaxProducerBatches:
			return fmt.Errorf("%w: extent of partition %d: producer %d has %d batches, want 1 to %d", ErrInvalidRequest, e.Partition, p.ID, len(p.Batches), MaxProducerBatches)
		}
		seen[p.ID] = true
		prev := e.BaseOffset - 1
		for _, b := range p.Batches {
			if b.FirstSeq < 0 || b.LastSeq < 0 || b.BaseOffset <= prev || b.LastOffset < b.BaseOffset || b.LastOffset > e.LastOffset {
				return fmt.Errorf("%w: extent %d..%d of partition %d: producer %d batch seq %d..%d at offsets %d..%d",
					ErrInvalidRequest, e.BaseOffset, e.LastOffset, e.Partition, p.ID, b.FirstSeq, b.LastSeq, b.BaseOffset, b.LastOffset)
			}
			prev = b.LastOffset
		}
	}
	return nil
}

// noteProducers merges an accepted extent's producers ps into pl (see the
// rules above). pl.producers is pl's own map (clone copies it).
func (pl *partitionLog) noteProducers(ps []ProducerState, now int64) {
	if len(ps) == 0 {
		return
	}
	if pl.producers == nil {
		pl.producers = make(map[int64]producerRec, len(ps))
	}
	for _, p := range ps {
		r, ok := pl.producers[p.ID]
		switch {
		case ok && p.Epoch < r.epoch:
			continue
		case !ok || p.Epoch > r.epoch:
			r = producerRec{epoch: p.Epoch}
		}
		for _, b := range p.Batches {
			r.add(b)
		}
		r.lastCommit = now
		pl.producers[p.ID] = r
	}
}

// expireProducers drops the entries last changed before cutoff (ms).
func (pl *partitionLog) expireProducers(cutoff int64) {
	for id, r := range pl.producers {
		if r.lastCommit < cutoff {
			delete(pl.producers, id)
		}
	}
	if len(pl.producers) == 0 {
		pl.producers = nil // as a snapshot restores it
	}
}

// ProducerStates returns a partition's idempotent producers as the catalog
// holds them, sorted by producer id, and from, the offset since which the
// catalog has tracked them; tracked is false when it never has (the log
// predates it) or there is no such partition.
func (s *Store) ProducerStates(topic TopicID, partition int32) (states []ProducerState, from int64, tracked bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.producerStates(partitionKey{topic, partition})
}

func (st *state) producerStates(k partitionKey) (states []ProducerState, from int64, tracked bool) {
	pl, err := st.partitionLog(k)
	if err != nil || !pl.producersTracked {
		return nil, 0, false
	}
	states = make([]ProducerState, 0, len(pl.producers))
	for id, r := range pl.producers {
		states = append(states, r.state(id))
	}
	slices.SortFunc(states, func(a, b ProducerState) int { return compareInt64(a.ID, b.ID) })
	return states, pl.producersFrom, true
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// encodeProducerSection appends CommitObject version 2's producer section
// for extents:
//
//	nentries uvarint | per entry: extent index uvarint | producer id varint
//	    epoch varint | nbatches uvarint | per batch: first seq varint
//	    last seq varint | base - extent base varint | last - base varint
//	producer expiry varint (ms; 0 = never)
func encodeProducerSection(w *bodyWriter, extents []Extent, producers [][]ProducerState, expiry int64) {
	n := 0
	for _, ps := range producers {
		n += len(ps)
	}
	w.uvarint(uint64(n))
	for i, ps := range producers {
		e := extents[i]
		for _, p := range ps {
			w.uvarint(uint64(i))
			w.varint(p.ID)
			w.varint(int64(p.Epoch))
			w.uvarint(uint64(len(p.Batches)))
			for _, b := range p.Batches {
				w.varint(int64(b.FirstSeq))
				w.varint(int64(b.LastSeq))
				w.varint(b.BaseOffset - e.BaseOffset)
				w.varint(b.LastOffset - b.BaseOffset)
			}
		}
	}
	w.varint(expiry)
}

// decodeProducerSection reads what encodeProducerSection wrote into
// per-extent producers. Values are range-checked by validateProducers on
// apply; producers is nil when the section lists none.
func decodeProducerSection(r *bodyReader, extents []Extent) (producers [][]ProducerState, expiry int64) {
	for range r.count("producer entry", 5) {
		i := r.uvarint()
		if r.err == nil && i >= uint64(len(extents)) {
			r.fail("producer entry for extent %d of %d", i, len(extents))
		}
		id := r.varint()
		epoch := r.varint()
		if r.err == nil && (epoch < -1<<15 || epoch >= 1<<15) {
			r.fail("producer %d epoch %d out of range", id, epoch)
		}
		nb := r.count("producer batch", 4)
		if r.err != nil {
			return nil, 0
		}
		if producers == nil {
			producers = make([][]ProducerState, len(extents))
		}
		e := extents[i]
		p := ProducerState{ID: id, Epoch: int16(epoch), Batches: make([]ProducerBatch, nb)}
		for j := range p.Batches {
			b := &p.Batches[j]
			b.FirstSeq = r.int32("first sequence")
			b.LastSeq = r.int32("last sequence")
			b.BaseOffset = e.BaseOffset + r.varint()
			b.LastOffset = b.BaseOffset + r.varint()
		}
		producers[i] = append(producers[i], p)
	}
	return producers, r.varint()
}

// encodeProducers writes the snapshot's producer section (version 5):
//
//	npartitions uvarint | per tracked partition: topic index uvarint
//	    partition uvarint | from varint | nproducers uvarint
//	    per producer (by id): id varint | epoch varint | last commit varint
//	        nbatches uvarint | per batch: first seq varint | last seq varint
//	        base offset varint | last - base varint
func (st *state) encodeProducers(w *bodyWriter, topics []Topic) {
	n := 0
	for _, t := range topics {
		for _, pl := range st.logs[t.ID] {
			if pl.producersTracked {
				n++
			}
		}
	}
	w.uvarint(uint64(n))
	for ti, t := range topics {
		for p, pl := range st.logs[t.ID] {
			if !pl.producersTracked {
				continue
			}
			w.uvarint(uint64(ti))
			w.uvarint(uint64(p))
			w.varint(pl.producersFrom)
			ids := make([]int64, 0, len(pl.producers))
			for id := range pl.producers {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			w.uvarint(uint64(len(ids)))
			for _, id := range ids {
				r := pl.producers[id]
				w.varint(id)
				w.varint(int64(r.epoch))
				w.varint(r.lastCommit)
				w.uvarint(uint64(r.n))
				for _, b := range r.batches[:r.n] {
					w.varint(int64(b.FirstSeq))
					w.varint(int64(b.LastSeq))
					w.varint(b.BaseOffset)
					w.varint(b.LastOffset - b.BaseOffset)
				}
			}
		}
	}
}

// decodeProducers reads the producer section into st, whose topics and
// catalog are set.
func (st *state) decodeProducers(r *bodyReader, topics []Topic) error {
	refs := newPartitionRefs(topics, "producers")
	for range r.count("partition", 4) {
		ti, p := r.uvarint(), r.uvarint()
		from := r.varint()
		n := r.count("producer", 4)
		if r.err != nil {
			return r.err
		}
		k, name, err := refs.resolve(ti, p)
		if err != nil {
			return err
		}
		pl := &st.logs[k.topic][k.partition]
		if from < 0 || from > pl.end {
			return fmt.Errorf("partition %s: producers tracked from offset %d, the log ends at %d", name, from, pl.end)
		}
		pl.producersTracked, pl.producersFrom = true, from
		if n > 0 {
			pl.producers = make(map[int64]producerRec, n)
		}
		prevID := int64(-1)
		for range n {
			id := r.varint()
			epoch := r.varint()
			rec := producerRec{lastCommit: r.varint()}
			nb := r.uvarint()
			if r.err != nil {
				return r.err
			}
			if id <= prevID || epoch < 0 || epoch >= 1<<15 || nb == 0 || nb > MaxProducerBatches {
				return fmt.Errorf("partition %s: producer %d (after %d) epoch %d with %d batches", name, id, prevID, epoch, nb)
			}
			prevID = id
			rec.epoch = int16(epoch)
			prev := int64(-1)
			for range nb {
				b := ProducerBatch{FirstSeq: r.int32("first sequence"), LastSeq: r.int32("last sequence"), BaseOffset: r.varint()}
				d := r.varint()
				if r.err != nil {
					return r.err
				}
				if b.FirstSeq < 0 || b.LastSeq < 0 || b.BaseOffset <= prev || d < 0 || b.BaseOffset > 1<<62 || d > 1<<62 {
					return fmt.Errorf("partition %s: producer %d: batch seq %d..%d at offset %d (+%d)", name, id, b.FirstSeq, b.LastSeq, b.BaseOffset, d)
				}
				b.LastOffset = b.BaseOffset + d
				prev = b.LastOffset
				rec.batches[rec.n] = b
				rec.n++
			}
			pl.producers[id] = rec
		}
	}
	return r.err
}
