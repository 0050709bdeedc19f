package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
)

func testConfig(addr string, mode Mode, topic string) Config {
	cfg := DefaultConfig()
	cfg.Mode = mode
	cfg.Brokers = []string{addr}
	cfg.Topic = topic
	cfg.CreateTopic = true
	cfg.Partitions = 4
	cfg.RecordSize = 64
	cfg.Linger = time.Millisecond
	cfg.ProgressInterval = 0
	return cfg
}

func runOK(t *testing.T, cfg Config) *Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("%s run: %v", cfg.Mode, err)
	}
	return s
}

// endOffsetSum is the number of records in topic, read back from the
// broker rather than from the tool's own counters.
func endOffsetSum(t *testing.T, addr, topic string) int64 {
	t.Helper()
	adm := shaletest.Admin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	var sum int64
	listed.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

func TestProduceThenConsumeCountsAreExact(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()

	cfg := testConfig(addr, ModeProduce, "lt-exact")
	cfg.Producers = 3
	cfg.Count = 2001 // not a multiple of the producer count
	cfg.Acks = "all"
	cfg.Compression = "lz4"
	p := runOK(t, cfg)
	if p.Produce == nil || p.Produce.Records != 2001 || p.Produce.Bytes != 2001*64 || p.Errors != 0 {
		t.Fatalf("produce summary = %+v, want 2001 records of 64 bytes and no errors", p.Produce)
	}
	if p.Produce.Latency == nil || p.Produce.Latency.Count != 2001 {
		t.Fatalf("produce latency = %+v, want 2001 samples", p.Produce.Latency)
	}
	l := p.Produce.Latency
	if !(l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) || l.Min <= 0 {
		t.Fatalf("latency percentiles out of order: %+v", l)
	}
	if got := endOffsetSum(t, addr, "lt-exact"); got != 2001 {
		t.Fatalf("broker holds %d records, want 2001", got)
	}

	// Read to the end offsets (no count, no duration), 3 consumers over
	// 4 partitions so that one consumer reads two.
	c := testConfig(addr, ModeConsume, "lt-exact")
	c.CreateTopic = false
	c.Consumers = 3
	got := runOK(t, c)
	if got.Consume == nil || got.Consume.Records != 2001 || got.Consume.Bytes != 2001*64 {
		t.Fatalf("consume to end: %+v, want 2001 records of 64 bytes", got.Consume)
	}
	if got.Consume.Latency != nil {
		t.Fatalf("plain consume reported a latency: %+v", got.Consume.Latency)
	}

	// A count below what is there stops exactly at the count, even with
	// several consumers racing for it.
	c.Count = 777
	c.Consumers = 4
	got = runOK(t, c)
	if got.Consume.Records != 777 || got.Consume.Bytes != 777*64 {
		t.Fatalf("consume --count 777: %d records, %d bytes", got.Consume.Records, got.Consume.Bytes)
	}
}

// With a warm-up, latencies of records sent before it ends stay out of
// the summary's totals but not out of the progress lines; throughput
// counts every record.
func TestWarmupLeavesEarlyLatenciesOut(t *testing.T) {
	begin := time.Now()
	warmEnd := begin.Add(time.Second)
	lr := &latencyRecorder{total: NewHistogram(), interval: NewHistogram()}
	lr.record(900*time.Millisecond, begin, warmEnd)                       // sent during the warm-up
	lr.record(5*time.Millisecond, warmEnd, warmEnd)                       // sent as it ends
	lr.record(7*time.Millisecond, warmEnd.Add(time.Millisecond), warmEnd) // after
	if got := lr.total.Count(); got != 2 {
		t.Fatalf("%d latencies in the totals, want the 2 sent after the warm-up", got)
	}
	if max := time.Duration(lr.total.Percentile(100)); max > 10*time.Millisecond {
		t.Fatalf("totals' max %v: the warm-up's 900ms was counted", max)
	}
	if got := lr.interval.Count(); got != 3 {
		t.Fatalf("%d latencies for the progress line, want all 3", got)
	}
	// No warm-up: every latency counts.
	lr = &latencyRecorder{total: NewHistogram(), interval: NewHistogram()}
	lr.record(time.Millisecond, begin, begin)
	if lr.total.Count() != 1 {
		t.Fatal("without a warm-up a latency was left out")
	}
}

func TestE2ECountsAndLatency(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	// Records already in the topic are not part of an e2e run, also
	// when the high watermark (where e2e consumers start) still trails
	// them, as it may with acks=1.
	pre := testConfig(addr, ModeProduce, "lt-e2e")
	pre.Count = 100
	pre.Acks = "1"
	runOK(t, pre)

	cfg := testConfig(addr, ModeE2E, "lt-e2e")
	cfg.Producers = 2
	cfg.Consumers = 2
	cfg.Count = 1500
	s := runOK(t, cfg)
	if s.Produce.Records != 1500 || s.Consume.Records != 1500 {
		t.Fatalf("e2e: produced %d, consumed %d, want 1500 each", s.Produce.Records, s.Consume.Records)
	}
	if s.Consume.Latency == nil || s.Consume.Latency.Count != 1500 {
		t.Fatalf("e2e latency = %+v, want 1500 samples", s.Consume.Latency)
	}
	// A record is seen after its own produce call: every e2e latency is
	// positive.
	if s.Consume.Latency.Min <= 0 {
		t.Fatalf("e2e min latency %v, want > 0", s.Consume.Latency.Min)
	}
	// The high watermark reaches acks=1 records once they are durable.
	deadline := time.Now().Add(20 * time.Second)
	for got := endOffsetSum(t, addr, "lt-e2e"); got != 1600; got = endOffsetSum(t, addr, "lt-e2e") {
		if got > 1600 || time.Now().After(deadline) {
			t.Fatalf("broker holds %d records, want 1600", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDurationAndRateLimit(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	cfg := testConfig(n.Addr(), ModeProduce, "lt-rate")
	cfg.Duration = 1500 * time.Millisecond
	cfg.Rate = 400
	cfg.Producers = 2
	// acks=all: acknowledged records are below the high watermark, which
	// is what ListEndOffsets reports.
	cfg.Acks = "all"
	cfg.ProgressInterval = 500 * time.Millisecond
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Run(ctx, cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	// The pacing sends record i at i/rate: 1.5s at 400/s is at most
	// 600 records plus one millisecond of run-ahead per producer (and
	// one record each at time zero).
	if s.Produce.Records > 600+2*1+2 {
		t.Fatalf("produced %d records in 1.5s at 400/s", s.Produce.Records)
	}
	if s.Produce.Records == 0 {
		t.Fatal("produced nothing")
	}
	if got := endOffsetSum(t, n.Addr(), "lt-rate"); got != s.Produce.Records {
		t.Fatalf("broker holds %d records, summary says %d", got, s.Produce.Records)
	}
	if !strings.Contains(progress.String(), "produce") || strings.Count(progress.String(), "\n") < 1 {
		t.Fatalf("no progress lines:\n%s", progress.String())
	}
}

func TestMissingTopicIsAnError(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	cfg := testConfig(n.Addr(), ModeConsume, "no-such-topic")
	cfg.CreateTopic = false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Run(ctx, cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "no-such-topic") {
		t.Fatalf("Run on a missing topic: %v, want an error naming it", err)
	}
}

func TestSummaryJSONRoundTrip(t *testing.T) {
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * 1000)
	}
	s := &Summary{Mode: ModeProduce, Topic: "t", Partitions: 8, RecordSize: 100, Producers: 1, Acks: "1", Compression: "none",
		Elapsed: 2 * time.Second, Produce: newPhase(1000, 100000, 0, 2*time.Second, h)}
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Produce.RecordsPerSec != 500 || back.Produce.MBPerSec != 0.05 || back.Produce.Latency.P99 != s.Produce.Latency.P99 {
		t.Fatalf("round trip: %+v", back.Produce)
	}
	for _, key := range []string{`"records_per_sec"`, `"mb_per_sec"`, `"p99_9_ns"`, `"p50_ns"`, `"max_ns"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, buf.String())
		}
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "500 records/s") || !strings.Contains(text.String(), "p99.9") {
		t.Fatalf("text summary:\n%s", text.String())
	}
}

// Random values are incompressible: zstd cannot shrink a megabyte of
// consecutive values, while the text values shrink several times.
func TestRandomValuesAreIncompressible(t *testing.T) {
	pool := randomPool(100, 1)
	batch := pool[:1<<20]
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if n := len(enc.EncodeAll(batch, nil)); n < len(batch)*99/100 {
		t.Fatalf("a MiB of random values compresses to %d bytes", n)
	}
	text := bytes.Repeat(payload(100, 1), (1<<20)/100)
	if n := len(enc.EncodeAll(text, nil)); n > len(text)/4 {
		t.Fatalf("a MiB of text values compresses only to %d bytes", n)
	}
}
