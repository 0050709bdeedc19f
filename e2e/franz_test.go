package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testContext is a context that ends after d or when the test ends.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fromStart is a ConsumePartitions option reading partitions 0..n-1 of topic
// from offset 0, without any consumer group.
func fromStart(topic string, n int32) kgo.Opt {
	offsets := make(map[int32]kgo.Offset, n)
	for p := range n {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	return kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
}

// consumeN reads partitions 0..n-1 of topic from the start with a fresh
// direct-assignment client until want records have arrived, failing the
// test on a fetch error or when they do not arrive in time. Records come
// back in fetch order, which keeps the order within each partition.
func consumeN(t testing.TB, addr, topic string, partitions int32, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := shaletest.Client(t, addr, append([]kgo.Opt{fromStart(topic, partitions)}, opts...)...)
	ctx := testContext(t, 60*time.Second)
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: got %d of %d records before the deadline", topic, len(got), want)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		got = append(got, fs.Records()...)
	}
	if len(got) > want {
		t.Fatalf("consume %s: got %d records, produced %d", topic, len(got), want)
	}
	return got
}

// endOffsets lists the high watermarks of topic's partitions.
func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	listed, err := adm.ListEndOffsets(testContext(t, 30*time.Second), topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("list end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// keyedRecord is record i of a keyed run: key k = i % keys carries its own
// sequence number seq = i / keys in the value.
func keyedRecord(i, keys int) *kgo.Record {
	k, seq := i%keys, i/keys
	return &kgo.Record{
		Key:   fmt.Appendf(nil, "key-%05d", k),
		Value: fmt.Appendf(nil, "%d:%d:%s", k, seq, strings.Repeat("v", i%17)),
	}
}

type producedAt struct {
	partition int32
	offset    int64
	done      bool
}

// produceKeyed sends total keyed records asynchronously with one promise
// each, flushes, and returns where each record landed (partition and, when
// the producer waits for acks, offset).
func produceKeyed(t testing.TB, cl *kgo.Client, topic string, total, keys int) []producedAt {
	t.Helper()
	ctx := testContext(t, 120*time.Second)
	at := make([]producedAt, total)
	var (
		mu       sync.Mutex
		failures int
		firstErr error
	)
	for i := range total {
		r := keyedRecord(i, keys)
		r.Topic = topic
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failures++
				if firstErr == nil {
					firstErr = fmt.Errorf("record %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			at[i] = producedAt{partition: r.Partition, offset: r.Offset, done: true}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if failures > 0 {
		t.Fatalf("%d of %d records failed; first: %v", failures, total, firstErr)
	}
	for i := range at {
		if !at[i].done {
			t.Fatalf("record %d: promise never called", i)
		}
	}
	return at
}

// checkKeyed verifies consumed records against a keyed run of total
// records: every record exactly once, offsets contiguous from 0 in each
// partition, each key in one partition and its sequence numbers increasing
// by one in offset order. With checkOffsets, each record must also sit at
// the partition and offset its produce acknowledgement reported.
func checkKeyed(t testing.TB, got []*kgo.Record, at []producedAt, keys int, checkOffsets bool) map[int32]int64 {
	t.Helper()
	total := len(at)
	if len(got) != total {
		t.Fatalf("consumed %d records, produced %d", len(got), total)
	}
	nextOffset := map[int32]int64{}
	keyPartition := make(map[int]int32, keys)
	nextSeq := make([]int, keys)
	errs := 0
	fail := func(format string, args ...any) {
		errs++
		if errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range got {
		if want := nextOffset[r.Partition]; r.Offset != want {
			fail("partition %d: offset %d follows %d (offsets must be contiguous from 0)", r.Partition, r.Offset, want-1)
		}
		nextOffset[r.Partition] = r.Offset + 1
		parts := strings.SplitN(string(r.Value), ":", 3)
		if len(parts) != 3 {
			fail("%d/%d: malformed value %q", r.Partition, r.Offset, r.Value)
			continue
		}
		k, err1 := strconv.Atoi(parts[0])
		seq, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || k < 0 || k >= keys {
			fail("%d/%d: malformed value %q", r.Partition, r.Offset, r.Value)
			continue
		}
		i := seq*keys + k
		if i >= total {
			fail("%d/%d: value %q is not from this run", r.Partition, r.Offset, r.Value)
			continue
		}
		want := keyedRecord(i, keys)
		if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) {
			fail("%d/%d: key %q value %q, want key %q value %q", r.Partition, r.Offset, r.Key, r.Value, want.Key, want.Value)
		}
		if p, ok := keyPartition[k]; ok && p != r.Partition {
			fail("key %d is in partitions %d and %d", k, p, r.Partition)
		}
		keyPartition[k] = r.Partition
		if seq != nextSeq[k] {
			fail("%d/%d: key %d has sequence %d, want %d (lost, duplicated or reordered)", r.Partition, r.Offset, k, seq, nextSeq[k])
		}
		nextSeq[k] = seq + 1
		if at[i].partition != r.Partition {
			fail("record %d was acknowledged in partition %d but read from %d", i, at[i].partition, r.Partition)
		}
		if checkOffsets && at[i].offset != r.Offset {
			fail("record %d was acknowledged at %d/%d but read at %d/%d", i, at[i].partition, at[i].offset, r.Partition, r.Offset)
		}
	}
	for k, n := range nextSeq {
		if want := (total - k + keys - 1) / keys; n != want {
			fail("key %d: read %d records, produced %d", k, n, want)
		}
	}
	if errs > 10 {
		t.Errorf("... %d errors in all", errs)
	}
	if errs > 0 {
		t.FailNow()
	}
	return nextOffset
}

// TestFranzIdempotentKeyed100k produces 100,000 keyed records over 8
// partitions with franz-go's default producer (idempotent, acks=all) and
// reads them back with direct partition assignment.
func TestFranzIdempotentKeyed100k(t *testing.T) {
	t.Parallel()
	const (
		topic      = "keyed-100k"
		partitions = 8
		total      = 100_000
		keys       = 1000
	)
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, partitions, nil)
	producer := shaletest.Client(t, n.Addr())
	at := produceKeyed(t, producer, topic, total, keys)

	got := consumeN(t, n.Addr(), topic, partitions, total)
	ends := checkKeyed(t, got, at, keys, true)

	listed := endOffsets(t, shaletest.Admin(t, n.Addr()), topic)
	if len(listed) != partitions {
		t.Fatalf("end offsets for %d partitions, want %d", len(listed), partitions)
	}
	used := 0
	for p, end := range listed {
		if end != ends[p] {
			t.Errorf("partition %d: high watermark %d, consumed %d records", p, end, ends[p])
		}
		if end > 0 {
			used++
		}
	}
	if used < partitions {
		t.Errorf("only %d of %d partitions got records from %d keys", used, partitions, keys)
	}
}

// TestFranzAcks produces with each ack level and reads everything back.
func TestFranzAcks(t *testing.T) {
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	cases := []struct {
		name  string
		opts  []kgo.Opt
		acked bool // the producer learns offsets
	}{
		{"acks=1", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck())}, true},
		{"acks=0", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.NoAck())}, false},
		{"acks=all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, true},
		{"acks=all-not-idempotent", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks())}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const partitions, total, keys = 4, 5000, 100
			topic := fmt.Sprintf("acks-%d", i)
			shaletest.CreateTopic(t, n.Addr(), topic, partitions, nil)
			producer := shaletest.Client(t, n.Addr(), c.opts...)
			at := produceKeyed(t, producer, topic, total, keys)
			// acks=0: nothing is acknowledged, so the records become
			// readable some time after Flush; consumeN waits for them.
			got := consumeN(t, n.Addr(), topic, partitions, total)
			checkKeyed(t, got, at, keys, c.acked)
		})
	}
}

// TestFranzRecordShapes round-trips headers, null and empty keys and
// values, explicit timestamps and a value of about 900 KB.
func TestFranzRecordShapes(t *testing.T) {
	t.Parallel()
	const topic = "shapes"
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)

	large := make([]byte, 900<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	ts := time.UnixMilli(1_600_000_000_123)
	want := []*kgo.Record{
		{Key: []byte("headers"), Value: []byte("with headers"), Headers: []kgo.RecordHeader{
			{Key: "a", Value: []byte("1")},
			{Key: "a", Value: []byte("2")},
			{Key: "empty", Value: []byte{}},
			{Key: "ключ", Value: []byte("значение")},
			{Key: "bin", Value: []byte{0, 1, 0xfe, 0xff}},
			{Key: "", Value: []byte("empty name")},
		}},
		{Key: nil, Value: []byte("null key")},
		{Key: []byte{}, Value: []byte("empty key")},
		{Key: []byte("empty value"), Value: []byte{}},
		{Key: []byte("null value"), Value: nil},
		{Key: nil, Value: nil},
		{Key: []byte("timestamp"), Value: []byte("set by the producer"), Timestamp: ts},
		{Key: []byte("large"), Value: large},
		{Key: []byte{0, 0xff, '\n', 0x80}, Value: []byte("binary key \x00\x01 and UTF-8 ✓")},
		{Key: []byte("after large"), Value: []byte("still in order")},
	}
	cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic))
	ctx := testContext(t, 60*time.Second)
	before := time.Now().Add(-time.Minute)
	if err := cl.ProduceSync(ctx, want...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	got := consumeN(t, n.Addr(), topic, 1, len(want))
	for i, r := range got {
		w := want[i]
		if r.Offset != int64(i) {
			t.Errorf("record %d: offset %d", i, r.Offset)
		}
		if !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) {
			t.Errorf("record %d: key %q (null %v), want %q (null %v)", i, r.Key, r.Key == nil, w.Key, w.Key == nil)
		}
		if !bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) {
			t.Errorf("record %d: value of %d bytes (null %v), want %d bytes (null %v)", i, len(r.Value), r.Value == nil, len(w.Value), w.Value == nil)
		}
		if len(r.Headers) != len(w.Headers) {
			t.Errorf("record %d: %d headers, want %d", i, len(r.Headers), len(w.Headers))
		} else {
			for j := range r.Headers {
				if r.Headers[j].Key != w.Headers[j].Key || !bytes.Equal(r.Headers[j].Value, w.Headers[j].Value) {
					t.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, r.Headers[j].Key, r.Headers[j].Value, w.Headers[j].Key, w.Headers[j].Value)
				}
			}
		}
		switch {
		case !w.Timestamp.IsZero() && !r.Timestamp.Equal(w.Timestamp):
			t.Errorf("record %d: timestamp %v, want %v", i, r.Timestamp, w.Timestamp)
		case w.Timestamp.IsZero() && r.Timestamp.Before(before):
			t.Errorf("record %d: timestamp %v is not the produce time", i, r.Timestamp)
		}
	}
}

// TestFranzMessageTooLarge checks that a batch over the topic's
// max.message.bytes is refused with MESSAGE_TOO_LARGE and leaves nothing
// behind.
func TestFranzMessageTooLarge(t *testing.T) {
	t.Parallel()
	const topic = "small-messages"
	n := shaletest.StartNode(t, nil)
	limit := "10000"
	shaletest.CreateTopic(t, n.Addr(), topic, 1, map[string]*string{"max.message.bytes": &limit})
	cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	ctx := testContext(t, 30*time.Second)
	// Random bytes, so that the batch stays over the limit after the
	// producer's compression: the limit applies to the batch as sent.
	big := make([]byte, 20000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Value: big}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce 20000 bytes over max.message.bytes=10000: got %v, want MESSAGE_TOO_LARGE", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("fits")}).FirstErr(); err != nil {
		t.Fatalf("produce a small record after the refused one: %v", err)
	}
	got := consumeN(t, n.Addr(), topic, 1, 1)
	if string(got[0].Value) != "fits" || got[0].Offset != 0 {
		t.Fatalf("read %q at offset %d, want \"fits\" at 0", got[0].Value, got[0].Offset)
	}
}

// TestFranzListOffsets lists earliest, latest and by-timestamp offsets
// through kadm on a partition whose records have known timestamps (one
// record per batch, so batch-granular answers are exact).
func TestFranzListOffsets(t *testing.T) {
	t.Parallel()
	const topic = "list-offsets"
	const count = 10
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, 2, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t, 60*time.Second)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	for i := range count {
		r := &kgo.Record{Partition: 0, Value: []byte(strconv.Itoa(i)), Timestamp: time.UnixMilli(base + int64(i)*1000)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	adm := kadm.NewClient(cl)

	check := func(what string, listed kadm.ListedOffsets, err error, want map[int32]int64, wantTS map[int32]int64) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for p, off := range want {
			o, ok := listed.Lookup(topic, p)
			switch {
			case !ok:
				t.Errorf("%s: partition %d missing", what, p)
			case o.Err != nil:
				t.Errorf("%s: partition %d: %v", what, p, o.Err)
			case o.Offset != off:
				t.Errorf("%s: partition %d offset %d, want %d", what, p, o.Offset, off)
			}
			if ts, ok := wantTS[p]; ok && o.Timestamp != ts {
				t.Errorf("%s: partition %d timestamp %d, want %d (the timestamp of the record at offset %d)", what, p, o.Timestamp, ts, o.Offset)
			}
		}
	}
	l, err := adm.ListStartOffsets(ctx, topic)
	check("earliest", l, err, map[int32]int64{0: 0, 1: 0}, nil)
	l, err = adm.ListEndOffsets(ctx, topic)
	check("latest", l, err, map[int32]int64{0: count, 1: 0}, nil)
	l, err = adm.ListOffsetsAfterMilli(ctx, base-5000, topic)
	check("before every record", l, err, map[int32]int64{0: 0, 1: 0}, map[int32]int64{0: base})
	l, err = adm.ListOffsetsAfterMilli(ctx, base+3000, topic)
	check("exact timestamp", l, err, map[int32]int64{0: 3, 1: 0}, map[int32]int64{0: base + 3000})
	l, err = adm.ListOffsetsAfterMilli(ctx, base+6500, topic)
	check("between records", l, err, map[int32]int64{0: 7, 1: 0}, map[int32]int64{0: base + 7000})
	// After every record Kafka answers -1, which kadm turns into the end
	// offset.
	l, err = adm.ListOffsetsAfterMilli(ctx, base+count*1000, topic)
	check("after every record", l, err, map[int32]int64{0: count, 1: 0}, nil)
}
