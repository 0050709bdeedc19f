package checker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadLog reads every partition of topic from its log start to the high
// watermark it has when ReadLog begins, and returns the records in
// partition and offset order. opts are added to the client's options.
func ReadLog(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) ([]Record, error) {
	base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("checker: new client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		admCl.Close()
		return nil, fmt.Errorf("checker: list start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("checker: list end offsets of %s: %w", topic, err)
	}
	if len(ends[topic]) == 0 {
		return nil, fmt.Errorf("checker: topic %s has no partitions", topic)
	}

	from := map[int32]kgo.Offset{}
	end := map[int32]int64{} // partitions still to read, to their high watermark
	for part, lo := range ends[topic] {
		start := starts[topic][part].Offset
		if lo.Offset > start {
			from[part] = kgo.NewOffset().At(start)
			end[part] = lo.Offset
		}
	}
	if len(end) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("checker: new consumer: %w", err)
	}
	defer cl.Close()

	var out []Record
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("checker: read %s: partitions %v not read to their end: %w", topic, pending(end), err)
		}
		var fetchErr error
		fs.EachError(func(_ string, part int32, err error) {
			if fetchErr == nil {
				fetchErr = fmt.Errorf("checker: fetch %s/%d: %w", topic, part, err)
			}
		})
		if fetchErr != nil {
			return out, fetchErr
		}
		fs.EachRecord(func(r *kgo.Record) {
			hw, ok := end[r.Partition]
			if !ok || r.Offset >= hw {
				return
			}
			out = append(out, Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			if r.Offset == hw-1 {
				delete(end, r.Partition)
			}
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return comparePos(out[i].Pos(), out[j].Pos()) < 0 })
	return out, nil
}

// WaitHighWatermark waits until the high watermark of each partition of
// topic in ends is at least ends[partition] (Recorder.AckedEnds): records
// acknowledged with acks=1 are readable only once they are durable. An
// error names the partitions still short when ctx ends.
func WaitHighWatermark(ctx context.Context, brokers []string, topic string, ends map[int32]int64, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return fmt.Errorf("checker: new client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	short := map[int32]int64{}
	for {
		listed, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			clear(short)
			for part, want := range ends {
				if lo, ok := listed[topic][part]; !ok || lo.Err != nil || lo.Offset < want {
					short[part] = want
				}
			}
			if len(short) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("checker: high watermark of %s short of partitions %v: %w (last error: %v)", topic, pending(short), ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func pending(end map[int32]int64) string {
	parts := make([]int32, 0, len(end))
	for p := range end {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d (to %d)", p, end[p])
	}
	return s
}

// Tail is a consumer that reads every partition of a topic from its start
// and records each record it reads as one stream of a Recorder, so that
// Verify can tell whether what it read stayed.
type Tail struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	read   atomic.Int64

	mu      sync.Mutex
	errs    int
	lastErr error
}

// StartTail starts a consumer stream named name on topic. opts are added
// to the client's options.
func StartTail(ctx context.Context, brokers []string, topic, name string, rec *Recorder, opts ...kgo.Opt) (*Tail, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("checker: new consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tail{name: name, cl: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(_ string, _ int32, err error) {
				if errors.Is(err, context.Canceled) {
					return
				}
				t.mu.Lock()
				t.errs++
				t.lastErr = err
				t.mu.Unlock()
			})
			fs.EachRecord(func(r *kgo.Record) {
				t.read.Add(1)
				rec.Observe(name, Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			})
		}
	}()
	return t, nil
}

// Read is how many records the tail has read so far.
func (t *Tail) Read() int64 { return t.read.Load() }

// Stop stops reading, closes the client and returns how many fetch errors
// the client reported and the last one (errors are expected while a
// broker is down; the recorded stream is what Verify judges).
func (t *Tail) Stop() (int, error) {
	t.cancel()
	<-t.done
	t.cl.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errs, t.lastErr
}
