package loadtest

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Mode is what a run does.
type Mode string

const (
	// ModeProduce writes records as fast as allowed and measures the
	// produce latency (Produce call to acknowledgement).
	ModeProduce Mode = "produce"
	// ModeConsume reads records from the start offsets of the topic's
	// partitions, without a consumer group.
	ModeConsume Mode = "consume"
	// ModeE2E produces and consumes at once and measures the latency from
	// the producer's clock reading (carried in the record value) to the
	// moment the consumer sees the record.
	ModeE2E Mode = "e2e"
)

// Config is one load run. Flags map onto it through RegisterFlags.
type Config struct {
	Mode    Mode
	Brokers []string
	Topic   string

	// CreateTopic creates Topic with Partitions partitions and
	// ReplicationFactor replicas when it does not exist yet.
	CreateTopic       bool
	Partitions        int32
	ReplicationFactor int16

	// RecordSize is the value size of every record, in bytes (no key).
	RecordSize int
	// Values is what the values hold: "random" (every record its own
	// pseudo-random bytes, incompressible: what real payloads cost a
	// broker per byte) or "text" (one line of printable text repeated in
	// every record of a producer, which compresses well).
	Values    string
	Producers int
	Consumers int

	// Acks is "all", "1" or "0".
	Acks string
	// Compression is "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	Linger      time.Duration
	// MaxInFlight, when above 0, is how many produce requests each
	// producer keeps in flight per broker; it turns idempotence off,
	// since an idempotent producer keeps at most 5. 0 leaves the
	// client's default (5 idempotent, 1 otherwise).
	MaxInFlight int
	// BatchBytes is the producer's largest record batch.
	BatchBytes int
	// BufferedRecords bounds each producer's records in flight; Produce
	// blocks when it is reached, and that wait counts as latency.
	BufferedRecords int
	// FetchBytes is the consumer's largest fetch response.
	FetchBytes int
	// FetchPartitionBytes is the most a fetch asks of one partition; 0
	// means min(FetchBytes, 16 MiB).
	FetchPartitionBytes int

	// Rate is the target of all producers together in records per
	// second; 0 is unlimited.
	Rate float64
	// Warmup leaves the latencies of records sent in the run's first
	// Warmup out of the summary (progress lines still show them): a
	// client's start-up (connections, metadata, a producer that keeps one
	// request per partition in flight until its first answer) is not the
	// steady state a latency target describes. Throughput counts every
	// record.
	Warmup time.Duration
	// Duration stops producing (or consuming, in consume mode) after
	// this long; 0 is no time limit.
	Duration time.Duration
	// Count is the number of records to produce (produce, e2e) or to
	// consume (consume); 0 is no count limit. In consume mode with
	// neither Count nor Duration, the run reads every partition up to
	// its end offset as listed when the run starts.
	Count int64

	// DrainTimeout is how long e2e consumers may take, after the last
	// produce acknowledgement, to see every produced record.
	DrainTimeout time.Duration
	// ProgressInterval is the period of the progress lines; 0 prints
	// none.
	ProgressInterval time.Duration
}

// DefaultConfig returns the settings of `shale loadtest` without flags.
func DefaultConfig() Config {
	return Config{
		Mode:              ModeProduce,
		Brokers:           []string{"127.0.0.1:9092"},
		Topic:             "loadtest",
		Partitions:        8,
		ReplicationFactor: 1,
		RecordSize:        100,
		Values:            "random",
		Producers:         1,
		Consumers:         1,
		Acks:              "1",
		Compression:       "none",
		Linger:            5 * time.Millisecond,
		BatchBytes:        1 << 20,
		BufferedRecords:   10_000,
		FetchBytes:        50 << 20,
		DrainTimeout:      30 * time.Second,
		ProgressInterval:  time.Second,
	}
}

// e2eHeaderBytes is the front of every e2e record value: the producer's
// clock reading (big-endian Unix nanoseconds), then the run's random id
// (8 bytes), so that consumers count only the records of their own run.
const e2eHeaderBytes = 16

// maxRecordSize bounds RecordSize so that a mistyped flag cannot allocate
// without limit; Kafka's own default message limit is about 1 MiB.
const maxRecordSize = 64 << 20

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeProduce, ModeConsume, ModeE2E:
	default:
		return fmt.Errorf("mode %q is not produce, consume or e2e", c.Mode)
	}
	if len(c.Brokers) == 0 {
		return errors.New("--brokers is empty")
	}
	if c.Values != "random" && c.Values != "text" {
		return fmt.Errorf("--values %q is not random or text", c.Values)
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("--brokers has an empty address")
		}
	}
	if c.Topic == "" {
		return errors.New("--topic is empty")
	}
	if c.CreateTopic && c.Partitions < 1 {
		return fmt.Errorf("--partitions %d: must be at least 1", c.Partitions)
	}
	if c.ReplicationFactor < 1 {
		return fmt.Errorf("--replication-factor %d: must be at least 1", c.ReplicationFactor)
	}
	if c.RecordSize < 0 || c.RecordSize > maxRecordSize {
		return fmt.Errorf("--record-size %d: must be between 0 and %d", c.RecordSize, maxRecordSize)
	}
	if c.Mode == ModeE2E && c.RecordSize < e2eHeaderBytes {
		return fmt.Errorf("--record-size %d: e2e needs at least %d bytes for the send time and run id", c.RecordSize, e2eHeaderBytes)
	}
	if c.Mode != ModeConsume && c.Producers < 1 {
		return fmt.Errorf("--producers %d: must be at least 1", c.Producers)
	}
	if c.Mode != ModeProduce && c.Consumers < 1 {
		return fmt.Errorf("--consumers %d: must be at least 1", c.Consumers)
	}
	if _, err := c.acks(); err != nil {
		return err
	}
	if _, err := c.compression(); err != nil {
		return err
	}
	if c.Linger < 0 || c.Linger > time.Minute {
		return fmt.Errorf("--linger %s: must be between 0 and 1m", c.Linger)
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > 1000 {
		return fmt.Errorf("--max-in-flight %d: must be between 0 and 1000", c.MaxInFlight)
	}
	if c.BatchBytes < 1 || c.BatchBytes > 1<<30 {
		return fmt.Errorf("--batch-bytes %d: must be between 1 and 1GiB", c.BatchBytes)
	}
	if c.BufferedRecords < 1 {
		return fmt.Errorf("--buffered-records %d: must be at least 1", c.BufferedRecords)
	}
	if c.FetchBytes < 1 || c.FetchBytes > 1<<30 {
		return fmt.Errorf("--fetch-bytes %d: must be between 1 and 1GiB", c.FetchBytes)
	}
	if c.FetchPartitionBytes < 0 || c.FetchPartitionBytes > c.FetchBytes {
		return fmt.Errorf("--fetch-partition-bytes %d: must be between 1 and --fetch-bytes %d", c.FetchPartitionBytes, c.FetchBytes)
	}
	if c.Rate < 0 {
		return fmt.Errorf("--rate %g: must not be negative", c.Rate)
	}
	if c.Warmup < 0 {
		return fmt.Errorf("--warmup %s: must not be negative", c.Warmup)
	}
	if c.Warmup > 0 && c.Duration > 0 && c.Warmup >= c.Duration {
		return fmt.Errorf("--warmup %s: must be shorter than --duration %s", c.Warmup, c.Duration)
	}
	if c.Duration < 0 {
		return fmt.Errorf("--duration %s: must not be negative", c.Duration)
	}
	if c.Count < 0 {
		return fmt.Errorf("--count %d: must not be negative", c.Count)
	}
	if c.Mode != ModeConsume && c.Duration == 0 && c.Count == 0 {
		return errors.New("--duration or --count is required")
	}
	if c.DrainTimeout <= 0 {
		return fmt.Errorf("--drain-timeout %s: must be positive", c.DrainTimeout)
	}
	if c.ProgressInterval < 0 {
		return fmt.Errorf("--progress %s: must not be negative", c.ProgressInterval)
	}
	return nil
}

func (c Config) acks() (kgo.Acks, error) {
	switch c.Acks {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "0":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("--acks %q: must be all, 1 or 0", c.Acks)
}

func (c Config) compression() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: must be none, gzip, snappy, lz4 or zstd", c.Compression)
}

// RegisterFlags binds every setting except Mode to a flag of fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	brokers := func(s string) error {
		c.Brokers = nil
		for _, b := range strings.Split(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Brokers = append(c.Brokers, b)
			}
		}
		if len(c.Brokers) == 0 {
			return errors.New("no address given")
		}
		return nil
	}
	fs.Func("brokers", "comma-separated seed brokers (default "+strings.Join(c.Brokers, ",")+")", brokers)
	fs.Func("bootstrap-server", "the same as --brokers", brokers)
	fs.StringVar(&c.Topic, "topic", c.Topic, "topic to load")
	fs.BoolVar(&c.CreateTopic, "create-topic", c.CreateTopic, "create the topic if it does not exist")
	fs.Func("partitions", fmt.Sprintf("partitions of a created topic (default %d)", c.Partitions), func(s string) error {
		v, err := strconv.ParseInt(s, 10, 32)
		c.Partitions = int32(v)
		return numErr(s, err)
	})
	fs.Func("replication-factor", fmt.Sprintf("replicas of a created topic (default %d)", c.ReplicationFactor), func(s string) error {
		v, err := strconv.ParseInt(s, 10, 16)
		c.ReplicationFactor = int16(v)
		return numErr(s, err)
	})
	fs.Func("record-size", fmt.Sprintf("value bytes per record, e.g. 100 or 1KiB (default %d)", c.RecordSize), func(s string) error {
		v, err := ParseByteSize(s)
		c.RecordSize = int(v)
		return err
	})
	fs.StringVar(&c.Values, "values", c.Values, "record values: random (incompressible, each record its own) or text (one repeated line, compressible)")
	fs.IntVar(&c.Producers, "producers", c.Producers, "producer clients")
	fs.IntVar(&c.Consumers, "consumers", c.Consumers, "consumer clients (partitions are dealt round-robin)")
	fs.StringVar(&c.Acks, "acks", c.Acks, "all, 1 or 0")
	fs.StringVar(&c.Compression, "compression", c.Compression, "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&c.Linger, "linger", c.Linger, "producer linger")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", c.MaxInFlight, "produce requests in flight per broker and producer; above 0 it turns idempotence off (0: the client's default, 5 when idempotent)")
	fs.Func("batch-bytes", fmt.Sprintf("largest producer batch, e.g. 1MiB (default %d)", c.BatchBytes), func(s string) error {
		v, err := ParseByteSize(s)
		c.BatchBytes = int(min(v, 1<<31-1))
		return err
	})
	fs.IntVar(&c.BufferedRecords, "buffered-records", c.BufferedRecords, "records in flight per producer before Produce blocks")
	fs.Func("fetch-bytes", fmt.Sprintf("largest fetch response, e.g. 50MiB (default %d)", c.FetchBytes), func(s string) error {
		v, err := ParseByteSize(s)
		c.FetchBytes = int(min(v, 1<<31-1))
		return err
	})
	fs.Func("fetch-partition-bytes", "most a fetch asks of one partition, e.g. 1MiB (default: --fetch-bytes, at most 16MiB)", func(s string) error {
		v, err := ParseByteSize(s)
		c.FetchPartitionBytes = int(min(v, 1<<31-1))
		return err
	})
	fs.Float64Var(&c.Rate, "rate", c.Rate, "records/s of all producers together (0: unlimited)")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "leave the latencies of records sent in the first this long out of the summary (0: none)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to produce (consume mode: to consume); 0: no limit")
	fs.Int64Var(&c.Count, "count", c.Count, "records to produce (consume mode: to consume); 0: no limit")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "e2e: how long consumers may lag after producing ends")
	fs.DurationVar(&c.ProgressInterval, "progress", c.ProgressInterval, "period of progress lines on stderr (0: none)")
}

func numErr(s string, err error) error {
	if err != nil {
		return fmt.Errorf("%q is not an integer in range", s)
	}
	return nil
}

// ParseByteSize reads a byte count: a plain integer, or one with a suffix
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte size (like 100, 64KiB or 1MiB)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}
