package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kerr"
)

func producerCount(p *Partition) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.producers)
}

// Short-lived idempotent producers leave no state behind once their last
// write is a whole expiration window old; a producer that keeps writing
// keeps its state (and its duplicate detection) however long it lives.
func TestProducerStateExpires(t *testing.T) {
	const window = 10 * time.Second
	m := NewManager(openWAL(t), nil)
	parts := make([]*Partition, 4)
	for i := range parts {
		parts[i] = m.Open(wal.Key{Partition: int32(i)}, State{})
	}
	clock := time.UnixMilli(1_700_000_000_000) // the fake clock
	tick := func(d time.Duration) { clock = clock.Add(d) }
	appendAt := func(p *Partition, pid int64, seq int32) *Appended {
		t.Helper()
		a, err := p.Append(makeBatch(1, pid, 0, seq, 10), AppendOptions{Now: clock.UnixMilli()})
		if err != nil {
			t.Fatalf("producer %d seq %d: %v", pid, seq, err)
		}
		return a
	}

	// 1000 producers write once each, 1 ms apart, to the four partitions.
	first := clock
	for pid := range int64(1000) {
		appendAt(parts[pid%4], pid, 0)
		tick(time.Millisecond)
	}
	const active = int64(5000)
	seq := int32(0)
	activeWrite := func() *Appended {
		a := appendAt(parts[0], active, seq)
		seq++
		return a
	}
	last := activeWrite()

	// Sweep every second of fake time while the active producer writes
	// every third second. After each sweep exactly the short-lived
	// producers whose write is less than a window old are left.
	for clock.Before(first.Add(3 * window)) {
		tick(time.Second)
		m.ExpireProducers(clock, window)
		want := 1 // the active producer
		for i := range 1000 {
			if clock.Sub(first.Add(time.Duration(i)*time.Millisecond)) < window {
				want++
			}
		}
		got := 0
		for _, p := range parts {
			got += producerCount(p)
		}
		if got != want {
			t.Fatalf("%v after the first write: %d producer states, want %d", clock.Sub(first), got, want)
		}
		if clock.Sub(first)/time.Second%3 == 0 {
			last = activeWrite()
		}
	}
	total := 0
	for _, p := range parts {
		total += producerCount(p)
	}
	if total != 1 {
		t.Fatalf("%d producer states left after the window, want only the active one", total)
	}
	// The active producer's retry of its last batch is still a duplicate.
	dup, err := parts[0].Append(makeBatch(1, active, 0, seq-1, 10), AppendOptions{Now: clock.UnixMilli()})
	if err != nil || !dup.Duplicate || dup.BaseOffset != last.BaseOffset {
		t.Fatalf("retry of the active producer's last batch: %+v %v", dup, err)
	}

	// An expired producer that goes on at sequence 1 is told its id is
	// unknown; at sequence 0 it starts again.
	if _, err := parts[1].Append(makeBatch(1, 1, 0, 1, 10), AppendOptions{Now: clock.UnixMilli()}); !errors.Is(err, kerr.UnknownProducerID) {
		t.Fatalf("expired producer at sequence 1: %v, want UNKNOWN_PRODUCER_ID", err)
	}
	if _, err := parts[1].Append(makeBatch(1, 1, 0, 0, 10), AppendOptions{Now: clock.UnixMilli()}); err != nil {
		t.Fatalf("expired producer at sequence 0: %v", err)
	}
}

// The boundary: state is kept while now - last write < window and removed
// at now - last write >= window (Kafka's rule).
func TestProducerExpiryBoundary(t *testing.T) {
	p := New(wal.Key{}, openWAL(t), nil, State{})
	const at, window = int64(1_000_000), int64(60_000)
	if _, err := p.Append(makeBatch(2, 9, 0, 0, 10), AppendOptions{Now: at}); err != nil {
		t.Fatal(err)
	}
	if n := p.ExpireProducers(at+window-1, window); n != 0 || producerCount(p) != 1 {
		t.Fatalf("expired %d a millisecond before the window ends", n)
	}
	// A clock that stepped back expires nothing.
	if n := p.ExpireProducers(at-window*10, window); n != 0 {
		t.Fatalf("expired %d on a clock before the last write", n)
	}
	if n := p.ExpireProducers(at+window, window); n != 1 || producerCount(p) != 0 {
		t.Fatalf("expired %d at the end of the window, %d left", n, producerCount(p))
	}
}

// Producer state rebuilt from the WAL at start-up has no append time: it
// counts from the first sweep after it, so it is never expired early.
func TestRestoredProducerExpiresAWindowAfterTheFirstSweep(t *testing.T) {
	p := New(wal.Key{}, openWAL(t), nil, State{})
	if _, err := p.Append(makeBatch(1, 4, 0, 0, 10), AppendOptions{Now: 1}); err != nil {
		t.Fatal(err)
	}
	// As after a restart: a fresh partition replays the batch.
	q := New(wal.Key{}, openWAL(t), nil, State{})
	h := mustHeader(t, makeBatch(1, 4, 0, 0, 10))
	q.RestoreProducer(&h)
	const now, window = int64(5_000_000), int64(60_000)
	if n := q.ExpireProducers(now, window); n != 0 {
		t.Fatalf("first sweep expired %d restored producers", n)
	}
	if n := q.ExpireProducers(now+window-1, window); n != 0 {
		t.Fatalf("restored producer expired %d ms after the first sweep", window-1)
	}
	if n := q.ExpireProducers(now+window, window); n != 1 {
		t.Fatalf("restored producer not expired a window after the first sweep (%d)", n)
	}
}

func mustHeader(t *testing.T, b []byte) recordbatch.Header {
	t.Helper()
	h, err := recordbatch.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A new leader seeded with the catalog's producer state answers a retry of
// a batch the previous leader wrote with its original offsets, continues
// the producer's sequence, and a replay of batches it already knows (its
// WAL over the seed) does not push the older ones out of the window.
func TestProducerSeedAnswersRetries(t *testing.T) {
	l := openWAL(t)
	seeds := []ProducerSeed{{ID: 7, Epoch: 2, Batches: []SeedBatch{
		{FirstSeq: 10, LastSeq: 12, BaseOffset: 100, LastOffset: 102},
		{FirstSeq: 13, LastSeq: 13, BaseOffset: 150, LastOffset: 150},
	}}}
	p := New(wal.Key{}, l, nil, State{LogStart: 0, HighWatermark: 200, Next: 200, Producers: seeds})
	for range 3 { // replayed batches already counted change nothing
		h := recordbatch.Header{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 13, BaseOffset: 150}
		p.RestoreProducer(&h)
	}
	dup, err := p.Append(makeBatch(3, 7, 2, 10, 30), AppendOptions{})
	if err != nil || !dup.Duplicate || dup.BaseOffset != 100 || dup.LastOffset != 102 {
		t.Fatalf("retry of the seeded batch 10..12: %+v %v, want duplicate at 100..102", dup, err)
	}
	if _, err := p.Append(makeBatch(1, 7, 2, 15, 5), AppendOptions{}); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("a gap after the seeded sequence: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	next, err := p.Append(makeBatch(1, 7, 2, 14, 5), AppendOptions{})
	if err != nil || next.Duplicate || next.BaseOffset != 200 {
		t.Fatalf("next in sequence: %+v %v, want a new batch at 200", next, err)
	}
	if _, err := p.Append(makeBatch(1, 7, 1, 0, 5), AppendOptions{}); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("an older epoch than the seed's: %v, want INVALID_PRODUCER_EPOCH", err)
	}
}
