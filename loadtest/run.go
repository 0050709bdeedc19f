package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Run performs one load run against cfg.Brokers and returns its summary.
// Progress lines go to progress every cfg.ProgressInterval (nil: none).
//
// The returned error is set when the run could not start (bad config,
// unreachable brokers, missing topic), when records failed (the summary
// is returned too and counts them), when e2e consumers did not see every
// produced record within cfg.DrainTimeout, or when ctx ended the run early.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, runID: rand.Uint64() | 1}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.execute(ctx, progress)
}

// run is the state of one Run.
//
// LOCKING: errMu guards firstErr only. Each latencyRecorder has its own
// mutex; the progress reporter takes them one at a time and never holds
// errMu at the same time.
type run struct {
	cfg        Config
	partitions int32
	// runID marks this run's e2e records (value bytes 8..16).
	runID uint64
	// startOffsets is where consumers begin, per partition; endOffsets
	// (consume mode without --count and --duration) is where they stop.
	startOffsets map[int32]int64
	endOffsets   map[int32]int64

	begin time.Time
	// warmEnd is begin + Config.Warmup: latencies of records sent
	// earlier stay out of the summary.
	warmEnd  time.Time
	produced phaseState
	consumed phaseState

	errMu    sync.Mutex
	firstErr error
}

// phaseState counts one side of the run. The counters are updated by
// client callbacks and read by the progress reporter.
type phaseState struct {
	records atomic.Int64
	bytes   atomic.Int64
	errors  atomic.Int64
	// lastAt is when the phase's last record was counted, in nanoseconds
	// since run.begin.
	lastAt    atomic.Int64
	recorders []*latencyRecorder
}

func (p *phaseState) newRecorder() *latencyRecorder {
	lr := &latencyRecorder{total: NewHistogram(), interval: NewHistogram()}
	p.recorders = append(p.recorders, lr)
	return lr
}

// latencyRecorder is one client's latencies: all of them, and those since
// the last progress line. Client callbacks run on several goroutines, so
// it has a mutex.
type latencyRecorder struct {
	mu       sync.Mutex
	total    *Histogram
	interval *Histogram
}

// record records the latency d of a record sent at sent: in the totals
// only once the warm-up is over (the run's warmEnd).
func (lr *latencyRecorder) record(d time.Duration, sent, warmEnd time.Time) {
	lr.mu.Lock()
	if !sent.Before(warmEnd) {
		lr.total.RecordDuration(d)
	}
	lr.interval.RecordDuration(d)
	lr.mu.Unlock()
}

// takeInterval merges the values since the last call into h and forgets
// them.
func (lr *latencyRecorder) takeInterval(h *Histogram) {
	lr.mu.Lock()
	h.Merge(lr.interval)
	lr.interval.Reset()
	lr.mu.Unlock()
}

func (p *phaseState) mergedTotal() *Histogram {
	h := NewHistogram()
	for _, lr := range p.recorders {
		lr.mu.Lock()
		h.Merge(lr.total)
		lr.mu.Unlock()
	}
	return h
}

func (r *run) fail(err error) {
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
}

func (r *run) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ClientID("shale-loadtest"),
		kgo.DialTimeout(5 * time.Second),
	}, extra...)
}

// setup makes sure the topic exists, learns its partitions and lists the
// offsets consumers start (and maybe stop) at.
func (r *run) setup(ctx context.Context) error {
	cl, err := kgo.NewClient(r.clientOpts()...)
	if err != nil {
		return fmt.Errorf("create admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	if r.cfg.CreateTopic {
		resp, err := adm.CreateTopic(ctx, r.cfg.Partitions, r.cfg.ReplicationFactor, nil, r.cfg.Topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.cfg.Topic, err)
		}
	}
	// A new topic may take a moment to show in metadata.
	for {
		details, err := adm.ListTopics(ctx, r.cfg.Topic)
		if err != nil {
			return fmt.Errorf("describe topic %s: %w", r.cfg.Topic, err)
		}
		td, ok := details[r.cfg.Topic]
		if ok && td.Err == nil && len(td.Partitions) > 0 {
			r.partitions = int32(len(td.Partitions))
			break
		}
		var why error = errors.New("not found")
		if ok && td.Err != nil {
			why = td.Err
		}
		if !r.cfg.CreateTopic || ctx.Err() != nil {
			return fmt.Errorf("describe topic %s: %w (use --create-topic to create it)", r.cfg.Topic, why)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}

	list := func(f func(context.Context, ...string) (kadm.ListedOffsets, error), what string) (map[int32]int64, error) {
		listed, err := f(ctx, r.cfg.Topic)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list %s offsets of %s: %w", what, r.cfg.Topic, err)
		}
		out := make(map[int32]int64, r.partitions)
		listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		if int32(len(out)) != r.partitions {
			return nil, fmt.Errorf("list %s offsets of %s: got %d of %d partitions", what, r.cfg.Topic, len(out), r.partitions)
		}
		return out, nil
	}
	switch r.cfg.Mode {
	case ModeConsume:
		if r.startOffsets, err = list(adm.ListStartOffsets, "start"); err != nil {
			return err
		}
		if r.cfg.Count == 0 && r.cfg.Duration == 0 {
			if r.endOffsets, err = list(adm.ListEndOffsets, "end"); err != nil {
				return err
			}
		}
	case ModeE2E:
		// Consumers begin where the topic ends now, so they see exactly
		// the records this run produces.
		if r.startOffsets, err = list(adm.ListEndOffsets, "end"); err != nil {
			return err
		}
	}
	return nil
}

// execute runs producers and consumers, prints progress and builds the
// summary.
func (r *run) execute(ctx context.Context, progress io.Writer) (*Summary, error) {
	cfg := r.cfg
	var producerClients, consumerClients []*kgo.Client
	defer func() {
		for _, cl := range append(producerClients, consumerClients...) {
			cl.Close()
		}
	}()
	if cfg.Mode != ModeConsume {
		opts, err := r.producerOpts()
		if err != nil {
			return nil, err
		}
		for range cfg.Producers {
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				return nil, fmt.Errorf("create producer: %w", err)
			}
			producerClients = append(producerClients, cl)
		}
	}
	var assignments []map[int32]int64
	if cfg.Mode != ModeProduce {
		assignments = r.assign()
		for _, a := range assignments {
			cl, err := kgo.NewClient(r.consumerOpts(a)...)
			if err != nil {
				return nil, fmt.Errorf("create consumer: %w", err)
			}
			consumerClients = append(consumerClients, cl)
		}
	}

	// consumeCtx ends the consumers: when the count is reached, the
	// duration is over, every end offset is reached, or e2e has seen
	// every produced record (or given up waiting).
	consumeCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	var consumeLimit atomic.Int64
	consumeLimit.Store(math.MaxInt64)
	if cfg.Mode == ModeConsume && cfg.Count > 0 {
		consumeLimit.Store(cfg.Count)
	}

	// Recorders exist before the progress reporter reads them.
	consumerRecorders := make([]*latencyRecorder, len(consumerClients))
	for i := range consumerRecorders {
		consumerRecorders[i] = r.consumed.newRecorder()
	}
	producerRecorders := make([]*latencyRecorder, len(producerClients))
	for i := range producerRecorders {
		producerRecorders[i] = r.produced.newRecorder()
	}

	r.begin = time.Now()
	r.warmEnd = r.begin.Add(cfg.Warmup)
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = r.begin.Add(cfg.Duration)
	}
	stopProgress := r.startProgress(progress)

	var consumersDone sync.WaitGroup
	for i, cl := range consumerClients {
		lr := consumerRecorders[i]
		consumersDone.Add(1)
		go func() {
			defer consumersDone.Done()
			r.consume(consumeCtx, cl, assignments[i], &consumeLimit, stopConsumers, lr)
		}()
	}
	if cfg.Mode == ModeConsume && cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, stopConsumers)
		defer t.Stop()
	}

	var producedAt time.Duration
	if len(producerClients) > 0 {
		var producersDone sync.WaitGroup
		quota := splitCount(cfg.Count, len(producerClients))
		for i, cl := range producerClients {
			lr := producerRecorders[i]
			producersDone.Add(1)
			go func() {
				defer producersDone.Done()
				r.produce(ctx, cl, int64(i), quota[i], cfg.Rate/float64(len(producerClients)), deadline, lr)
			}()
		}
		producersDone.Wait()
		producedAt = time.Since(r.begin)
	}

	drainTimedOut := false
	if cfg.Mode == ModeE2E {
		consumeLimit.Store(r.produced.records.Load())
		if r.consumed.records.Load() >= consumeLimit.Load() {
			stopConsumers()
		}
		t := time.AfterFunc(cfg.DrainTimeout, func() {
			if consumeCtx.Err() == nil {
				r.errMu.Lock()
				drainTimedOut = true
				r.errMu.Unlock()
				stopConsumers()
			}
		})
		defer t.Stop()
	}
	consumersDone.Wait()
	elapsed := time.Since(r.begin)
	stopProgress()

	s := &Summary{
		Mode: cfg.Mode, Topic: cfg.Topic, Partitions: r.partitions, RecordSize: cfg.RecordSize,
		Acks: cfg.Acks, Compression: cfg.Compression, Rate: cfg.Rate, Elapsed: elapsed, Warmup: cfg.Warmup,
	}
	if len(producerClients) > 0 {
		s.Producers = len(producerClients)
		s.Produce = newPhase(r.produced.records.Load(), r.produced.bytes.Load(), r.produced.errors.Load(),
			producedAt, r.produced.mergedTotal())
	}
	if len(consumerClients) > 0 {
		s.Consumers = len(consumerClients)
		s.Consume = newPhase(r.consumed.records.Load(), r.consumed.bytes.Load(), r.consumed.errors.Load(),
			time.Duration(r.consumed.lastAt.Load()), r.consumed.mergedTotal())
	}
	s.Errors = r.produced.errors.Load() + r.consumed.errors.Load()
	r.errMu.Lock()
	firstErr, timedOut := r.firstErr, drainTimedOut
	r.errMu.Unlock()
	if firstErr != nil {
		s.FirstError = firstErr.Error()
	}

	switch {
	case ctx.Err() != nil:
		return s, fmt.Errorf("run interrupted: %w", ctx.Err())
	case s.Errors > 0:
		return s, fmt.Errorf("%d errors, the first: %w", s.Errors, firstErr)
	case timedOut:
		return s, fmt.Errorf("e2e: consumed %d of %d produced records within --drain-timeout %s",
			s.Consume.Records, s.Produce.Records, cfg.DrainTimeout)
	}
	return s, nil
}

func (r *run) producerOpts() ([]kgo.Opt, error) {
	acks, err := r.cfg.acks()
	if err != nil {
		return nil, err
	}
	codec, err := r.cfg.compression()
	if err != nil {
		return nil, err
	}
	opts := r.clientOpts(
		kgo.DefaultProduceTopic(r.cfg.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(r.cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(r.cfg.BatchBytes)),
		kgo.MaxBufferedRecords(r.cfg.BufferedRecords),
	)
	if r.cfg.Acks != "all" && r.cfg.Acks != "-1" || r.cfg.MaxInFlight > 0 {
		// Idempotent writes require acks=all, and keep at most 5
		// requests in flight.
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if r.cfg.MaxInFlight > 0 {
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(r.cfg.MaxInFlight))
	}
	return opts, nil
}

func (r *run) consumerOpts(start map[int32]int64) []kgo.Opt {
	offsets := make(map[int32]kgo.Offset, len(start))
	for p, o := range start {
		offsets[p] = kgo.NewOffset().At(o)
	}
	partBytes := min(r.cfg.FetchBytes, 16<<20)
	if r.cfg.FetchPartitionBytes > 0 {
		partBytes = r.cfg.FetchPartitionBytes
	}
	return r.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: offsets}),
		kgo.FetchMaxBytes(int32(r.cfg.FetchBytes)),
		kgo.FetchMaxPartitionBytes(int32(partBytes)),
	)
}

// assign deals the partitions round-robin to the consumers; consumers
// left without a partition are not started.
func (r *run) assign() []map[int32]int64 {
	n := min(r.cfg.Consumers, int(r.partitions))
	out := make([]map[int32]int64, n)
	for i := range out {
		out[i] = make(map[int32]int64)
	}
	for p := range r.partitions {
		out[int(p)%n][p] = r.startOffsets[p]
	}
	return out
}

// splitCount divides count among n producers; 0 (no count) stays 0.
func splitCount(count int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = count / int64(n)
		if int64(i) < count%int64(n) {
			out[i]++
		}
	}
	return out
}

// payload returns size bytes of printable pseudo-random text: 64 symbols,
// so compression codecs find some redundancy without it being trivial.
func payload(size int, seed int64) []byte {
	const symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ba1e))
	b := make([]byte, size)
	for i := range b {
		b[i] = symbols[rng.IntN(len(symbols))]
	}
	return b
}

// randomPoolBytes is the size of a producer's pool of random value bytes:
// far past any codec's window within a batch, so no value repeats within
// reach of compression.
const randomPoolBytes = 32 << 20

// randomPool returns pseudo-random bytes for a producer's values: at least
// randomPoolBytes and two values. Values are slices of it, never
// modified.
func randomPool(size int, seed int64) []byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xda7a))
	b := make([]byte, max(randomPoolBytes, 2*size))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b
}

// produce sends records until quota (0: no quota) or deadline (zero: none)
// and waits for their acknowledgements. The send time travels in
// kgo.Record.Timestamp (the promise gets the same *Record back) and, for
// e2e, in the first 8 bytes of the value.
func (r *run) produce(ctx context.Context, cl *kgo.Client, id, quota int64, rate float64, deadline time.Time, lr *latencyRecorder) {
	base := payload(r.cfg.RecordSize, id)
	var pool []byte // random values: each record takes the next RecordSize bytes
	pos := 0
	if r.cfg.Values == "random" {
		pool = randomPool(r.cfg.RecordSize, id)
	}
	embed := r.cfg.Mode == ModeE2E
	promise := func(rec *kgo.Record, err error) {
		if err != nil {
			r.produced.errors.Add(1)
			r.fail(fmt.Errorf("produce to %s: %w", r.cfg.Topic, err))
			return
		}
		lr.record(time.Since(rec.Timestamp), rec.Timestamp, r.warmEnd)
		r.produced.records.Add(1)
		r.produced.bytes.Add(int64(len(rec.Value)))
	}
	start := time.Now()
	for i := int64(0); quota == 0 || i < quota; i++ {
		if ctx.Err() != nil {
			break
		}
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			break
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			// Sleeping for less than a millisecond overshoots; running
			// up to 1ms ahead keeps the average rate exact.
			if wait := due.Sub(now); wait > time.Millisecond {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				if ctx.Err() != nil {
					break
				}
				now = time.Now()
				if !deadline.IsZero() && !now.Before(deadline) {
					break
				}
			}
		}
		value := base
		if pool != nil {
			if pos+len(base) > len(pool) {
				pos = 0
			}
			value = pool[pos : pos+len(base) : pos+len(base)]
			pos += len(base)
		}
		if embed {
			value = append(make([]byte, 0, len(value)), value...)
			binary.BigEndian.PutUint64(value, uint64(now.UnixNano()))
			binary.BigEndian.PutUint64(value[8:], r.runID)
		}
		cl.Produce(ctx, &kgo.Record{Value: value, Timestamp: now}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		r.fail(fmt.Errorf("flush producer: %w", err))
	}
}

// consume reads its partitions from their start offsets. It counts a
// record only while the shared count stays within limit and, when the run
// has end offsets, only below its partition's end; it returns when ctx
// ends or its partitions are read to their ends.
func (r *run) consume(ctx context.Context, cl *kgo.Client, parts map[int32]int64, limit *atomic.Int64, stopAll func(), lr *latencyRecorder) {
	var left int64 // records below the end offsets, when there are some
	if r.endOffsets != nil {
		for p, start := range parts {
			left += max(r.endOffsets[p]-start, 0)
		}
		if left == 0 {
			return
		}
	}
	embed := r.cfg.Mode == ModeE2E
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("fetch %s/%d: %w", topic, p, err)
			}
		})
		if fetchErr != nil {
			r.consumed.errors.Add(1)
			r.fail(fetchErr)
			stopAll()
			return
		}
		counted := false
		done := false
		fetches.EachRecord(func(rec *kgo.Record) {
			if done {
				return
			}
			// The end offsets listed at the start are high watermarks,
			// which may trail records acknowledged with acks=1: e2e
			// consumers can meet older records and skip them by run id.
			if embed && (len(rec.Value) < e2eHeaderBytes || binary.BigEndian.Uint64(rec.Value[8:]) != r.runID) {
				return
			}
			if r.endOffsets != nil {
				if rec.Offset >= r.endOffsets[rec.Partition] {
					return
				}
				left--
			}
			n := r.consumed.records.Add(1)
			if n > limit.Load() {
				r.consumed.records.Add(-1)
				done = true
				return
			}
			counted = true
			r.consumed.bytes.Add(int64(len(rec.Value) + len(rec.Key)))
			if embed {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(rec.Value)))
				lr.record(time.Since(sent), sent, r.warmEnd)
			}
			if n == limit.Load() {
				done = true
			}
		})
		if counted {
			r.consumed.lastAt.Store(int64(time.Since(r.begin)))
		}
		if done {
			stopAll()
			return
		}
		if r.endOffsets != nil && left <= 0 {
			return
		}
	}
}

// startProgress prints a line every ProgressInterval until the returned
// function is called.
func (r *run) startProgress(w io.Writer) (stop func()) {
	if w == nil || r.cfg.ProgressInterval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(r.cfg.ProgressInterval)
		defer tick.Stop()
		var lastProduced, lastConsumed int64
		last := r.begin
		scratch := NewHistogram()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				secs := now.Sub(last).Seconds()
				last = now
				line := fmt.Sprintf("%7.1fs", now.Sub(r.begin).Seconds())
				side := func(name string, p *phaseState, prev *int64) {
					n := p.records.Load()
					rate := float64(n-*prev) / secs
					*prev = n
					line += fmt.Sprintf("  %s %9.0f rec/s %7.2f MB/s (total %d", name, rate, rate*float64(r.cfg.RecordSize)/1e6, n)
					if e := p.errors.Load(); e > 0 {
						line += fmt.Sprintf(", %d errors", e)
					}
					scratch.Reset()
					for _, lr := range p.recorders {
						lr.takeInterval(scratch)
					}
					if scratch.Count() > 0 {
						line += fmt.Sprintf(", p50 %s p99 %s", fmtLatency(time.Duration(scratch.Percentile(50))), fmtLatency(time.Duration(scratch.Percentile(99))))
					}
					line += ")"
				}
				if r.cfg.Mode != ModeConsume {
					side("produce", &r.produced, &lastProduced)
				}
				if r.cfg.Mode != ModeProduce {
					side("consume", &r.consumed, &lastConsumed)
				}
				fmt.Fprintln(w, line)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
