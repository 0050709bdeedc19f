// Package checker records what a fault test's clients were told and saw,
// and verifies the log that is left at the end against it.
//
// Producers write values that are unique by construction (Load makes them
// "<prefix>-g<producer>-<n>") and record each one they try (Attempt), each
// acknowledgement with the partition and offset the broker gave
// (Ack) and each failure (Fail). Consumers record every record they read,
// per consumer stream (Observe). After the run the test reads the whole
// log back (ReadLog) and Verify compares:
//
//	lost            an acknowledged value is nowhere in the final log
//	duplicated      a value is at more than one position (in the final log,
//	                or acknowledged at two positions)
//	moved           a value acknowledged or read at one position is in the
//	                final log at another
//	offset reused   one position held two different values (across acks,
//	                reads and the final log)
//	backwards       one consumer stream read a partition's offsets out of
//	                increasing order
//	read then gone  a value a consumer read is not in the final log
//	never written   a value in the final log, or read, that no producer
//	                attempted (checked only when attempts are recorded)
//
// A value attempted but never acknowledged may or may not be in the log
// (the ack can be lost on its way back); Verify counts those as figures,
// not violations.
package checker

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Record is one record at its position: topic, partition and offset.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     string
}

// Pos is where a record sits.
type Pos struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Pos returns the record's position.
func (r Record) Pos() Pos { return Pos{r.Topic, r.Partition, r.Offset} }

func (p Pos) String() string { return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset) }

// Ack is an acknowledged record and when the acknowledgement arrived.
type Ack struct {
	Record
	At time.Time
}

// Observation is a record a consumer read and when.
type Observation struct {
	Record
	At time.Time
}

// Recorder collects a run's history. It is safe for concurrent use.
type Recorder struct {
	mu        sync.Mutex
	attempted map[string]struct{}
	acks      []Ack
	failures  int
	lastFail  error
	streams   map[string][]Observation
	order     []string // stream names in the order first seen
	loads     int      // Loads started with this recorder, for value prefixes
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{attempted: map[string]struct{}{}, streams: map[string][]Observation{}}
}

// Attempt records that a producer is about to send value.
func (r *Recorder) Attempt(value string) {
	r.mu.Lock()
	r.attempted[value] = struct{}{}
	r.mu.Unlock()
}

// Ack records that the broker acknowledged rec at its position now.
func (r *Recorder) Ack(rec Record) { r.AckAt(rec, time.Now()) }

// AckAt records an acknowledgement that arrived at the given time.
func (r *Recorder) AckAt(rec Record, at time.Time) {
	r.mu.Lock()
	r.acks = append(r.acks, Ack{rec, at})
	r.mu.Unlock()
}

// Fail records that producing value failed: the producer was not told it
// is stored.
func (r *Recorder) Fail(value string, err error) {
	r.mu.Lock()
	r.failures++
	r.lastFail = err
	r.mu.Unlock()
}

// Observe records that the consumer stream named consumer read rec now.
// One stream is one sequence of reads that should move forward; a
// consumer that starts over (a new client, a seek) takes a new name.
func (r *Recorder) Observe(consumer string, rec Record) { r.ObserveAt(consumer, rec, time.Now()) }

// ObserveAt records a read at the given time.
func (r *Recorder) ObserveAt(consumer string, rec Record, at time.Time) {
	r.mu.Lock()
	if _, ok := r.streams[consumer]; !ok {
		r.order = append(r.order, consumer)
	}
	r.streams[consumer] = append(r.streams[consumer], Observation{rec, at})
	r.mu.Unlock()
}

// Acked is how many acknowledgements have been recorded.
func (r *Recorder) Acked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acks)
}

// Failed is how many failures have been recorded, and the last error.
func (r *Recorder) Failed() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures, r.lastFail
}

// Acks returns a copy of the acknowledgements in the order recorded.
func (r *Recorder) Acks() []Ack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Ack(nil), r.acks...)
}

// FirstAckAfter returns the time of the first acknowledgement that arrived
// after t.
func (r *Recorder) FirstAckAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, a := range r.acks {
		if a.At.After(t) && (first.IsZero() || a.At.Before(first)) {
			first = a.At
		}
	}
	return first, !first.IsZero()
}

// WaitAckAfter waits until an acknowledgement that arrived after t is
// recorded and returns its time: how a test measures the time to recover
// from a fault.
func (r *Recorder) WaitAckAfter(ctx context.Context, t time.Time) (time.Time, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if at, ok := r.FirstAckAfter(t); ok {
			return at, nil
		}
		select {
		case <-ctx.Done():
			n, err := r.Failed()
			return time.Time{}, fmt.Errorf("no acknowledgement after %s: %w (%d failures so far, last: %v)",
				t.Format("15:04:05.000"), ctx.Err(), n, err)
		case <-tick.C:
		}
	}
}

// WaitAcked waits until at least n acknowledgements are recorded.
func (r *Recorder) WaitAcked(ctx context.Context, n int) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if got := r.Acked(); got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			fails, err := r.Failed()
			return fmt.Errorf("%d of %d acknowledgements: %w (%d failures, last: %v)", r.Acked(), n, ctx.Err(), fails, err)
		case <-tick.C:
		}
	}
}

// nextPrefix returns a value prefix no earlier Load of r used.
func (r *Recorder) nextPrefix() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads++
	return fmt.Sprintf("L%d", r.loads)
}

// AckedEnds returns, per partition of topic, one past the highest offset
// acknowledged: the high watermark that makes every ack readable.
func (r *Recorder) AckedEnds(topic string) map[int32]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ends := map[int32]int64{}
	for _, a := range r.acks {
		if a.Topic == topic && a.Offset+1 > ends[a.Partition] {
			ends[a.Partition] = a.Offset + 1
		}
	}
	return ends
}
