package partition

import (
	"github.com/shalelog/shale/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
)

// maxRememberedBatches is how many recent batches per producer are kept for
// duplicate detection; Kafka's idempotent producers keep at most five
// requests in flight per partition, so five is enough to answer every retry.
const maxRememberedBatches = 5

// batchMeta identifies an appended batch of an idempotent producer.
type batchMeta struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	lastOffset        int64
}

// producerState is what a partition remembers of one producer id.
type producerState struct {
	epoch   int16
	recent  [maxRememberedBatches]batchMeta
	n       int // valid entries in recent (oldest first)
	lastSeq int32
	// lastAppend is the broker time (ms) of the producer's last append
	// here, which producer id expiration counts from; 0 when unknown
	// (state replayed from the WAL at start-up), and then the first
	// sweep sets it to its own time, so replayed state lives at least one
	// more window.
	lastAppend int64
}

func (s *producerState) remember(m batchMeta) {
	if s.n == maxRememberedBatches {
		copy(s.recent[:], s.recent[1:])
		s.n--
	}
	s.recent[s.n] = m
	s.n++
	s.lastSeq = m.lastSeq
}

// checkResult is the outcome of checking a batch against producer state.
type checkResult int

const (
	checkAppend    checkResult = iota // new data, append it
	checkDuplicate                    // a retry of a batch already appended
)

// checkSequence applies Kafka's idempotent-producer rules to one batch. On a
// duplicate it returns the original batch's metadata.
func checkSequence(st *producerState, h *recordbatch.Header) (checkResult, batchMeta, error) {
	first, last := h.BaseSequence, h.LastSequence()
	if st == nil {
		// A producer we have no state for (new, or expired) must start
		// at sequence 0. Otherwise this is UNKNOWN_PRODUCER_ID, as Kafka
		// 1.0-2.4 answer "no record of this producer id", so the client
		// knows the broker forgot it (it resets its sequence or bumps its
		// epoch) rather than that records were lost in between. Kafka 2.5
		// and later (KIP-360) accept any sequence here; Shale does not,
		// because its producer state is rebuilt from the local WAL only,
		// so "no state" can also follow a restart, where accepting a
		// retry would write it twice. The produce handler turns this into
		// OUT_OF_ORDER_SEQUENCE_NUMBER for Produce v3-v4, whose clients
		// predate the code (it came with Produce v5 and log_start_offset).
		if first != 0 {
			return 0, batchMeta{}, kerr.UnknownProducerID
		}
		return checkAppend, batchMeta{}, nil
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return 0, batchMeta{}, kerr.InvalidProducerEpoch
	case h.ProducerEpoch > st.epoch:
		// A bumped epoch starts its sequences again at 0.
		if first != 0 {
			return 0, batchMeta{}, kerr.OutOfOrderSequenceNumber
		}
		return checkAppend, batchMeta{}, nil
	}
	for i := 0; i < st.n; i++ {
		if m := st.recent[i]; m.firstSeq == first && m.lastSeq == last {
			return checkDuplicate, m, nil
		}
	}
	if first != recordbatch.IncSequence(st.lastSeq, 1) {
		return 0, batchMeta{}, kerr.OutOfOrderSequenceNumber
	}
	return checkAppend, batchMeta{}, nil
}

// ProducerSeed is one idempotent producer's state handed to a partition
// when it opens (State.Producers): its epoch and its last batches, oldest
// first.
type ProducerSeed struct {
	ID      int64
	Epoch   int16
	Batches []SeedBatch
}

// SeedBatch is one batch of a ProducerSeed.
type SeedBatch struct {
	FirstSeq, LastSeq      int32
	BaseOffset, LastOffset int64
}

// seed adds s to states, as if its batches had been replayed.
func seed(states map[int64]*producerState, s ProducerSeed) {
	for _, b := range s.Batches {
		h := recordbatch.Header{ProducerID: s.ID, ProducerEpoch: s.Epoch, BaseSequence: b.FirstSeq, BaseOffset: b.BaseOffset}
		recordBatch(states, &h, b.LastSeq, b.LastOffset, 0)
	}
}

// record updates producer state after a batch was appended at broker time
// now (ms; 0 when unknown, see producerState.lastAppend).
func record(states map[int64]*producerState, h *recordbatch.Header, now int64) {
	recordBatch(states, h, h.LastSequence(), h.LastOffset(), now)
}

// recordBatch is record with the batch's last sequence and offset given.
// A batch at or below the producer's last recorded offset is one already
// counted (a replay over seeded state) and changes nothing.
func recordBatch(states map[int64]*producerState, h *recordbatch.Header, lastSeq int32, lastOffset int64, now int64) {
	st := states[h.ProducerID]
	if st != nil && h.ProducerEpoch < st.epoch {
		return
	}
	if st != nil && h.ProducerEpoch == st.epoch && st.n > 0 && h.BaseOffset <= st.recent[st.n-1].lastOffset {
		return
	}
	if st == nil || h.ProducerEpoch > st.epoch {
		st = &producerState{epoch: h.ProducerEpoch}
		states[h.ProducerID] = st
	}
	st.lastAppend = now
	st.remember(batchMeta{
		firstSeq:   h.BaseSequence,
		lastSeq:    lastSeq,
		baseOffset: h.BaseOffset,
		lastOffset: lastOffset,
	})
}

// ExpireProducers forgets the producers whose last append here is at least
// window ms before now (Kafka's producer.id.expiration.ms rule: state is
// kept while now - last append < window) and returns how many. State with
// an unknown append time is stamped now instead. A producer that comes
// back after expiry must start again at sequence 0 (see checkSequence).
// It holds the partition's mutex for one pass over its producers.
func (p *Partition) ExpireProducers(now, window int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, st := range p.producers {
		switch {
		case st.lastAppend == 0:
			st.lastAppend = now
		case now-st.lastAppend >= window:
			delete(p.producers, id)
			n++
		}
	}
	return n
}

// ProducerInfo is what a partition knows of one idempotent producer
// (DescribeProducers).
type ProducerInfo struct {
	ID         int64
	Epoch      int16
	LastSeq    int32
	LastAppend int64 // ms; 0 when unknown (state rebuilt at start-up)
}
