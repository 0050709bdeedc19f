package checker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// LoadConfig describes a load of unique values produced with franz-go.
type LoadConfig struct {
	Brokers   []string
	Topic     string
	Producers int  // goroutines, each with its own client (and producer id); default 1
	AcksOne   bool // acks=1 instead of acks=all
	// Idempotent enables the idempotent producer (acks=all only). Without
	// it franz-go still retries, so a retried batch may be written twice:
	// add kgo.RecordRetries(0) to Opts to count such failures instead.
	Idempotent bool
	Records    int           // stop after this many attempts over all producers; 0: no bound
	Duration   time.Duration // stop after this long; 0: no bound
	InFlight   int           // unacknowledged records per producer; default 64
	// ValuePrefix starts every value; default "L<n>", n counting the
	// Loads of the recorder, so the values of two Loads never collide.
	ValuePrefix string
	// FlushTimeout bounds how long stopping waits for records already
	// handed to the client; the rest then fail. Default 30s.
	FlushTimeout time.Duration
	// Opts are more client options, applied last (records go round robin
	// over the partitions unless Opts set another partitioner).
	Opts []kgo.Opt
}

// LoadStats are a finished Load's figures.
type LoadStats struct {
	Attempted int64
	Acked     int64
	Failed    int64
	Elapsed   time.Duration
}

func (s LoadStats) String() string {
	return fmt.Sprintf("%d attempted, %d acked, %d failed in %v", s.Attempted, s.Acked, s.Failed, s.Elapsed.Round(time.Millisecond))
}

// Load produces values "<prefix>-g<producer>-<n>" until a bound is reached
// or Stop is called, recording every attempt, acknowledgement and failure
// in a Recorder.
type Load struct {
	cfg     LoadConfig
	rec     *Recorder
	clients []*kgo.Client
	start   time.Time

	stop     chan struct{} // closed to stop producing
	stopOnce sync.Once
	loops    sync.WaitGroup // the producing goroutines
	promises sync.WaitGroup // records handed to a client, not yet answered

	attempted, acked, failed atomic.Int64
	reserved                 atomic.Int64 // attempts started, for the Records bound

	finishOnce sync.Once
	stats      LoadStats
}

// StartLoad starts producing. Production stops when ctx is done, a bound
// of cfg is reached or Stop is called; Wait or Stop then returns the
// figures.
func StartLoad(ctx context.Context, cfg LoadConfig, rec *Recorder) (*Load, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("checker: load needs brokers and a topic")
	}
	if cfg.Idempotent && cfg.AcksOne {
		return nil, errors.New("checker: an idempotent producer needs acks=all")
	}
	if cfg.Producers <= 0 {
		cfg.Producers = 1
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 64
	}
	if cfg.ValuePrefix == "" {
		cfg.ValuePrefix = rec.nextPrefix()
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 30 * time.Second
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		// Spread even a small load over every partition, so that a
		// fault meets all of them.
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	}
	if cfg.AcksOne {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	opts = append(opts, cfg.Opts...)

	l := &Load{cfg: cfg, rec: rec, stop: make(chan struct{}), start: time.Now()}
	for range cfg.Producers {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			for _, c := range l.clients {
				c.Close()
			}
			return nil, fmt.Errorf("checker: new producer client: %w", err)
		}
		l.clients = append(l.clients, cl)
	}
	var timeout <-chan time.Time
	if cfg.Duration > 0 {
		timer := time.NewTimer(cfg.Duration)
		timeout = timer.C
		go func() { <-l.stop; timer.Stop() }()
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-timeout:
		case <-l.stop:
		}
		l.halt()
	}()
	for g, cl := range l.clients {
		l.loops.Add(1)
		go l.produce(g, cl)
	}
	return l, nil
}

func (l *Load) halt() { l.stopOnce.Do(func() { close(l.stop) }) }

// failurePause is how long a producer waits after a failure before it
// produces again: a broker that refuses everything at once must not turn
// the load into a busy loop.
const failurePause = 20 * time.Millisecond

// produce is one producer's loop: at most InFlight records unanswered.
func (l *Load) produce(g int, cl *kgo.Client) {
	defer l.loops.Done()
	window := make(chan struct{}, l.cfg.InFlight)
	var failing atomic.Bool
	for i := 0; ; i++ {
		select {
		case window <- struct{}{}:
		case <-l.stop:
			return
		}
		if failing.Swap(false) {
			select {
			case <-time.After(failurePause):
			case <-l.stop:
				return
			}
		}
		select {
		case <-l.stop:
			return
		default:
		}
		if l.cfg.Records > 0 && l.reserved.Add(1) > int64(l.cfg.Records) {
			l.halt()
			return
		}
		value := fmt.Sprintf("%s-g%d-%d", l.cfg.ValuePrefix, g, i)
		l.rec.Attempt(value)
		l.attempted.Add(1)
		l.promises.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Value: []byte(value)}, func(r *kgo.Record, err error) {
			defer l.promises.Done()
			<-window
			if err != nil {
				failing.Store(true)
				l.failed.Add(1)
				l.rec.Fail(value, err)
				return
			}
			l.acked.Add(1)
			l.rec.Ack(Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: value})
		})
	}
}

// Acked is how many records this load has had acknowledged so far.
func (l *Load) Acked() int64 { return l.acked.Load() }

// Stopped is closed once the load stops producing new records.
func (l *Load) Stopped() <-chan struct{} { return l.stop }

// Stop stops producing now and returns what Wait returns.
func (l *Load) Stop() LoadStats {
	l.halt()
	return l.Wait()
}

// Wait waits until production stops, then until every record handed to a
// client is answered (at most FlushTimeout; what is left then fails), closes
// the clients and returns the figures. It may be called more than once.
func (l *Load) Wait() LoadStats {
	<-l.stop
	l.finishOnce.Do(func() {
		l.loops.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.FlushTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for _, cl := range l.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl.Flush(ctx)
				cl.Close() // fails whatever Flush left
			}()
		}
		wg.Wait()
		l.promises.Wait()
		l.stats = LoadStats{
			Attempted: l.attempted.Load(),
			Acked:     l.acked.Load(),
			Failed:    l.failed.Load(),
			Elapsed:   time.Since(l.start),
		}
	})
	return l.stats
}
