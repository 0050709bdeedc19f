package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/shalelog/shale/objectstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// recordValue is the deterministic value of record i: size bytes from a
// splitmix64 stream seeded by i, so a consumer can check every byte
// without the test keeping a copy.
func recordValue(i uint64, size int) []byte {
	v := make([]byte, size)
	// Seed the stream with a mix of i, so no two records share a run of
	// bytes and compression cannot shrink what the test pushes through.
	x := mix64(i + 1)
	for off := 0; off < size; off += 8 {
		x += 0x9E3779B97F4A7C15
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], mix64(x))
		copy(v[off:], b[:])
	}
	return v
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func recordKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// produceRange produces records [from, to) to topic and fails the test on
// any error (the franz-go default producer: idempotent, acks=all).
func produceRange(t *testing.T, cl *kgo.Client, topic string, from, to uint64, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: recordKey(i), Value: recordValue(i, size)}, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeAll reads topic from offset 0 until n records arrived and checks
// every record is the one its key names, each key once.
func consumeAll(t *testing.T, addr, topic string, n uint64, size int) {
	t.Helper()
	cl := shaletest.Client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	seen := make([]bool, n)
	var got uint64
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", got, n)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			i := binary.BigEndian.Uint64(r.Key)
			if i >= n || seen[i] {
				t.Fatalf("record %d seen twice or out of range (offset %d partition %d)", i, r.Offset, r.Partition)
			}
			if !bytes.Equal(r.Value, recordValue(i, size)) {
				t.Fatalf("record %d (partition %d offset %d): value differs", i, r.Partition, r.Offset)
			}
			seen[i] = true
			got++
		})
	}
}

func dirSize(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}

func s3Node(t *testing.T, srv *miniotest.Server, dataDir string, mutate func(*node.Config)) *node.Node {
	return shaletest.StartNode(t, func(c *node.Config) {
		c.DataDir = dataDir
		c.ObjectStore = srv.URL("shale")
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestTieringGiBWithSmallWAL produces over 1 GiB through a broker whose
// WAL may hold only 64 MiB, and reads it all back from offset 0: the local
// disk stays under its budget and every record comes back byte-identical,
// most of it from MinIO.
func TestTieringGiBWithSmallWAL(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	const walBudget = 64 << 20
	dataDir := t.TempDir()
	n := s3Node(t, srv, dataDir, func(c *node.Config) {
		c.WAL.MaxBytes = walBudget
		c.WAL.SegmentMaxBytes = 8 << 20
		c.Tiering.LocalRetainBytes = 16 << 20
	})
	shaletest.CreateTopic(t, n.Addr(), "big", 4, nil)

	walDir := filepath.Join(dataDir, "wal")
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if s := dirSize(walDir); s > maxWAL.Load() {
				maxWAL.Store(s)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	const size = 1000
	const count = (1 << 30) / size * 105 / 100 // a little over 1 GiB of values
	cl := shaletest.Client(t, n.Addr(), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(1000))
	start := time.Now()
	produceRange(t, cl, "big", 0, count, size)
	t.Logf("produced %d records of %d bytes in %s", count, size, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	consumeAll(t, n.Addr(), "big", count, size)
	t.Logf("consumed them from offset 0 in %s", time.Since(start).Round(time.Millisecond))
	close(stop)
	<-sampled
	st := n.Stats()
	t.Logf("max WAL dir size %d bytes (budget %d); objects %d, uploaded %d bytes, class A %d, GETs %d",
		maxWAL.Load(), walBudget, st.Uploader.Objects, st.Uploader.Bytes, st.Bucket.ClassA, st.Bucket.ClassB)
	if maxWAL.Load() > walBudget {
		t.Fatalf("WAL directory reached %d bytes, over its %d budget", maxWAL.Load(), walBudget)
	}
	if st.Reader.CacheMisses == 0 {
		t.Fatalf("no cold read happened: %+v", st.Reader)
	}
}

// TestTieringWALWiped: everything acknowledged with acks=all survives the
// loss of the broker's whole WAL directory.
func TestTieringWALWiped(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	dataDir := t.TempDir()
	n := s3Node(t, srv, dataDir, nil)
	shaletest.CreateTopic(t, n.Addr(), "wiped", 3, nil)
	cl := shaletest.Client(t, n.Addr())
	produceRange(t, cl, "wiped", 0, 20000, 200)
	cl.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "wal")); err != nil {
		t.Fatal(err)
	}
	n2 := s3Node(t, srv, dataDir, nil)
	consumeAll(t, n2.Addr(), "wiped", 20000, 200)
	// Offsets continue after the catalog's end, without reuse.
	cl2 := shaletest.Client(t, n2.Addr())
	produceRange(t, cl2, "wiped", 20000, 21000, 200)
	consumeAll(t, n2.Addr(), "wiped", 21000, 200)
}

// TestTieringObjectStoreOutage stops MinIO for 30 s under load: acks=1
// producers keep going while the WAL has room, nothing acknowledged is
// lost, and the broker keeps running.
func TestTieringObjectStoreOutage(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	n := s3Node(t, srv, t.TempDir(), nil)
	shaletest.CreateTopic(t, n.Addr(), "outage", 2, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	produceRange(t, cl, "outage", 0, 5000, 500)
	srv.Stop()
	outageStart := time.Now()
	// acks=1 keeps working during the outage: the WAL absorbs it.
	produceRange(t, cl, "outage", 5000, 10000, 500)
	// acks=all cannot be answered while the object store is down: it
	// times out honestly.
	// (Not idempotent: an idempotent franz-go producer never gives up on
	// a record it may have written, to keep its sequence numbers.)
	all := shaletest.Client(t, n.Addr(), kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProduceRequestTimeout(2*time.Second), kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(3*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	const probe = 1 << 40 // the acks=all probe's key, outside the acknowledged range
	err := all.ProduceSync(ctx, &kgo.Record{Topic: "outage", Key: recordKey(probe), Value: recordValue(probe, 500)}).FirstErr()
	cancel()
	if err == nil {
		t.Fatalf("acks=all produce succeeded while the object store was down")
	}
	t.Logf("acks=all during the outage: %v", err)
	if d := 30*time.Second - time.Since(outageStart); d > 0 {
		time.Sleep(d)
	}
	srv.Restart()
	produceRange(t, cl, "outage", 10000, 12000, 500)
	// The record of the failed acks=all attempt may or may not have been
	// appended; read everything and check the acknowledged ones.
	cons := shaletest.Client(t, n.Addr(), kgo.ConsumeTopics("outage"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[uint64]bool{}
	deadline, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	for len(seen) < 12000 {
		fs := cons.PollFetches(deadline)
		if deadline.Err() != nil {
			ends, _ := shaletest.Admin(t, n.Addr()).ListEndOffsets(context.Background(), "outage")
			t.Fatalf("read %d of 12000 acknowledged records; end offsets %v; stats %+v", len(seen), ends, n.Stats())
		}
		fs.EachRecord(func(r *kgo.Record) {
			i := binary.BigEndian.Uint64(r.Key)
			if !bytes.Equal(r.Value, recordValue(i, 500)) {
				t.Fatalf("record %d corrupted", i)
			}
			if i != probe {
				seen[i] = true
			}
		})
	}
	if st := n.Stats(); st.Uploader.PutErrors == 0 {
		t.Fatalf("expected failed uploads during the outage: %+v", st.Uploader)
	}
}

// TestTieringCorruptObject flips a byte in an uploaded object: the cold
// read fails with a storage error and the broker names the object; it
// never returns the damaged batch.
func TestTieringCorruptObject(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	var logBuf proc.Buffer
	dataDir := t.TempDir()
	n := s3Node(t, srv, dataDir, func(c *node.Config) { c.Tiering.LocalRetainBytes = 0 })
	shaletest.CreateTopic(t, n.Addr(), "rot", 1, nil)
	produceRange(t, shaletest.Client(t, n.Addr()), "rot", 0, 2000, 300)
	n.Close()

	b, err := objectstore.Open(context.Background(), srv.URL("shale"))
	if err != nil {
		t.Fatal(err)
	}
	var key string
	b.List(context.Background(), "wal/", func(o objectstore.ObjectInfo) error {
		if key == "" {
			key = o.Key
		}
		return nil
	})
	if key == "" {
		t.Fatal("no uploaded object")
	}
	rc, err := b.ReadRange(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	body[100] ^= 0x40 // inside the first batch's records
	if err := b.Put(context.Background(), key, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dataDir, "wal")) // force cold reads
	n2 := shaletest.StartNodeLogging(t, &logBuf, func(c *node.Config) {
		c.DataDir = dataDir
		c.ObjectStore = srv.URL("shale")
	})
	// A raw Fetch, so the retriable error is seen rather than retried
	// inside the client.
	cl := shaletest.Client(t, n2.Addr())
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 100, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "rot"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); !errors.Is(err, kerr.KafkaStorageError) || len(sp.RecordBatches) != 0 {
		t.Fatalf("fetch of the corrupt batch: error %v with %d bytes, want KAFKA_STORAGE_ERROR and no data", err, len(sp.RecordBatches))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logBuf.String(), key) {
		if time.Now().After(deadline) {
			t.Fatalf("broker log does not name the corrupt object %s:\n%s", key, logBuf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTieringRetention: retention.ms and retention.bytes remove whole
// objects from the bucket and advance the log start offset.
func TestTieringRetention(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	n := s3Node(t, srv, t.TempDir(), func(c *node.Config) {
		c.Tiering.GCGrace = 0
		c.WAL.SegmentMaxAge = node.Duration(20 * time.Millisecond)
	})
	bytesLimit := "200000"
	shaletest.CreateTopic(t, n.Addr(), "by-bytes", 1, map[string]*string{"retention.bytes": &bytesLimit})
	msLimit := "60000"
	shaletest.CreateTopic(t, n.Addr(), "by-time", 1, map[string]*string{"retention.ms": &msLimit})
	cl := shaletest.Client(t, n.Addr(), kgo.ProducerLinger(0))
	// Many small objects: one produce per WAL segment age.
	for i := uint64(0); i < 30; i++ {
		produceRange(t, cl, "by-bytes", i*100, (i+1)*100, 1000)
		produceRange(t, cl, "by-time", i*100, (i+1)*100, 1000)
		time.Sleep(30 * time.Millisecond)
	}
	ctx := context.Background()
	count := func(prefix string) int {
		c := 0
		n.Bucket().List(ctx, prefix, func(objectstore.ObjectInfo) error { c++; return nil })
		return c
	}
	before := count("")
	// Time retention: pretend a day has passed.
	res, err := n.RunRetention(ctx, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retention: %+v", res)
	if res.Partitions != 2 {
		t.Fatalf("retention advanced %d partitions, want 2", res.Partitions)
	}
	gc, err := n.RunGC(ctx, time.Now().Add(24*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	after := count("")
	t.Logf("objects before %d, after %d; gc %+v", before, after, gc)
	if gc.Deleted == 0 || after >= before {
		t.Fatalf("retention removed no objects: before %d after %d gc %+v", before, after, gc)
	}
	adm := shaletest.Admin(t, n.Addr())
	starts, err := adm.ListStartOffsets(ctx, "by-bytes", "by-time")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "by-bytes", "by-time")
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []string{"by-bytes", "by-time"} {
		s, _ := starts.Lookup(tp, 0)
		e, _ := ends.Lookup(tp, 0)
		t.Logf("%s: log start %d, end %d", tp, s.Offset, e.Offset)
		if s.Offset == 0 || s.Offset > e.Offset {
			t.Fatalf("%s: log start %d did not advance (end %d)", tp, s.Offset, e.Offset)
		}
	}
	// Time retention of a day removes everything of by-time.
	if s, _ := starts.Lookup("by-time", 0); s.Offset != 3000 {
		t.Fatalf("by-time log start %d, want 3000", s.Offset)
	}
	// Reading below the log start is OFFSET_OUT_OF_RANGE; from it works.
	s, _ := starts.Lookup("by-bytes", 0)
	cons := shaletest.Client(t, n.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"by-bytes": {0: kgo.NewOffset().AtStart()}}))
	ctx2, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	fs := cons.PollFetches(ctx2)
	if fs.NumRecords() == 0 || fs.Records()[0].Offset < s.Offset {
		t.Fatalf("consume from earliest: %d records, first offset %v, log start %d", fs.NumRecords(), fs.Records(), s.Offset)
	}
}

// TestTieringCompaction merges many small extents into single-partition
// objects: the bucket shrinks to a few objects once the replaced ones are
// collected, and a replay from offset 0 (WAL wiped, so every byte comes
// from the compacted objects) returns every record byte-identical.
func TestTieringCompaction(t *testing.T) {
	dataDir := t.TempDir()
	mutate := func(c *node.Config) {
		c.DataDir = dataDir
		c.Tiering.GCGrace = 0
		c.Tiering.CompactionInterval = 0 // run by hand
		c.Tiering.CompactionTarget = 1 << 20
		c.Tiering.CompactionMinExtents = 4
		c.WAL.SegmentMaxAge = node.Duration(10 * time.Millisecond)
	}
	n := shaletest.StartNode(t, mutate)
	shaletest.CreateTopic(t, n.Addr(), "compact", 2, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.ProducerLinger(0))
	const perRound, rounds, size = 100, 40, 700
	for r := uint64(0); r < rounds; r++ {
		produceRange(t, cl, "compact", r*perRound, (r+1)*perRound, size)
	}
	ctx := context.Background()
	count := func() int {
		c := 0
		n.Bucket().List(ctx, "", func(objectstore.ObjectInfo) error { c++; return nil })
		return c
	}
	before := count()
	res, err := n.RunCompaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := n.RunGC(ctx, time.Now().Add(time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	after := count()
	t.Logf("compaction %+v; gc %+v; objects %d -> %d", res, gc, before, after)
	if res.Objects == 0 || res.ExtentsMerged < 2*res.Objects || after >= before {
		t.Fatalf("compaction did not shrink the bucket: %+v, objects %d -> %d", res, before, after)
	}
	var part int
	n.Bucket().List(ctx, "part/", func(objectstore.ObjectInfo) error { part++; return nil })
	if part != res.Objects {
		t.Fatalf("%d compacted objects in the bucket, compaction wrote %d", part, res.Objects)
	}
	cl.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dataDir, "wal"))
	n2 := shaletest.StartNode(t, mutate)
	consumeAll(t, n2.Addr(), "compact", perRound*rounds, size)
}

// TestDeleteRecords: DeleteRecords advances the log start offset as Kafka
// does; ListOffsets earliest follows it, reads below it are out of range,
// and an offset past the high watermark is refused.
func TestDeleteRecords(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "trim", 1, nil)
	produceRange(t, shaletest.Client(t, n.Addr()), "trim", 0, 1000, 100)
	adm := shaletest.Admin(t, n.Addr())
	ctx := context.Background()
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 400})
	res, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("trim", 0); r.Err != nil || r.LowWatermark != 400 {
		t.Fatalf("delete records to 400: %+v", r)
	}
	starts, err := adm.ListStartOffsets(ctx, "trim")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starts.Lookup("trim", 0); s.Offset != 400 {
		t.Fatalf("log start %d after DeleteRecords(400)", s.Offset)
	}
	// Deleting below the current start changes nothing.
	offsets = kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 100})
	if res, err = adm.DeleteRecords(ctx, offsets); err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("trim", 0); r.Err != nil || r.LowWatermark != 400 {
		t.Fatalf("delete records to 100: %+v", r)
	}
	offsets = kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "trim", Partition: 0, At: 5000})
	if res, err = adm.DeleteRecords(ctx, offsets); err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("trim", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete records past the high watermark: %v", r.Err)
	}
	// A consumer from the start begins at 400; a fetch at 10 is out of range.
	cons := shaletest.Client(t, n.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"trim": {0: kgo.NewOffset().AtStart()}}))
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	fs := cons.PollFetches(cctx)
	if fs.NumRecords() == 0 || fs.Records()[0].Offset != 400 {
		t.Fatalf("first record after DeleteRecords: %d records", fs.NumRecords())
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "trim"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = 10, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(cctx, cons)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below the log start: error %d, want OFFSET_OUT_OF_RANGE", code)
	}
}
