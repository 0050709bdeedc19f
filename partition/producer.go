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
		// A producer we have no state for must start at sequence 0.
		if first != 0 {
			return 0, batchMeta{}, kerr.OutOfOrderSequenceNumber
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

// record updates producer state after a batch was appended.
func record(states map[int64]*producerState, h *recordbatch.Header) {
	st := states[h.ProducerID]
	if st == nil || h.ProducerEpoch > st.epoch {
		st = &producerState{epoch: h.ProducerEpoch}
		states[h.ProducerID] = st
	}
	st.remember(batchMeta{
		firstSeq:   h.BaseSequence,
		lastSeq:    h.LastSequence(),
		baseOffset: h.BaseOffset,
		lastOffset: h.LastOffset(),
	})
}
