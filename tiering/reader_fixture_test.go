package tiering

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/objectstore"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coldBatch is one batch written into a test object, kept as ground truth.
type coldBatch struct {
	base, last int64
	data       []byte
}

var coldCRC = crc32.MakeTable(crc32.Castagnoli)

// coldLeaderEpoch is the partition leader epoch every test batch carries.
const coldLeaderEpoch = 5

// makeColdBatch returns a valid RecordBatch v2 (CRC set) holding records
// records with offsets base.., each with a value of valueLen random bytes.
func makeColdBatch(tb testing.TB, rng *rand.Rand, base int64, records, valueLen int) []byte {
	tb.Helper()
	var recs []byte
	for i := range records {
		value := make([]byte, valueLen)
		for j := range value {
			value[j] = byte(rng.UintN(256))
		}
		rec := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: []byte{byte(i)}, Value: value}
		// The length prefix counts the bytes after it; encode once with a
		// one-byte zero length to learn it.
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		recs = rec.AppendTo(recs)
	}
	ts := int64(1_700_000_000_000) + base
	rb := kmsg.RecordBatch{
		FirstOffset:          base,
		Length:               int32(49 + len(recs)),
		PartitionLeaderEpoch: coldLeaderEpoch,
		Magic:                2,
		LastOffsetDelta:      int32(records - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts + int64(records-1),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(records),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	if len(b) != 12+int(rb.Length) {
		tb.Fatalf("makeColdBatch: encoded %d bytes, length field says %d", len(b), 12+int(rb.Length))
	}
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], coldCRC))
	return b
}

// coldBatchShape bounds the batches genColdBatches makes.
type coldBatchShape struct {
	minValue, maxValue int // value length range of ordinary batches
	bigEvery           int // every so many batches (on average) is big; 0 never
	bigValue           int // value length of a big batch
	maxRecords         int
}

// coldSmallBatches are about 100 B to 2 KiB, with a 9-13 KiB batch now and then:
// with 4 KiB blocks, some batches span three blocks.
var coldSmallBatches = coldBatchShape{minValue: 10, maxValue: 400, bigEvery: 15, bigValue: 3_000, maxRecords: 4}

// genColdBatches returns n batches with contiguous offsets from base.
func genColdBatches(tb testing.TB, rng *rand.Rand, base int64, n int, shape coldBatchShape) []coldBatch {
	tb.Helper()
	out := make([]coldBatch, 0, n)
	for range n {
		records := 1 + rng.IntN(shape.maxRecords)
		valueLen := shape.minValue + rng.IntN(shape.maxValue-shape.minValue+1)
		if shape.bigEvery > 0 && rng.IntN(shape.bigEvery) == 0 {
			valueLen = shape.bigValue
		}
		data := makeColdBatch(tb, rng, base, records, valueLen)
		out = append(out, coldBatch{base: base, last: base + int64(records) - 1, data: data})
		base += int64(records)
	}
	return out
}

// coldPart is one partition's batches for an object.
type coldPart struct {
	key     index.Key
	batches []coldBatch
}

func coldKey(topic byte, partition int32) index.Key {
	return index.Key{Topic: [16]byte{topic, 0xee}, Partition: partition}
}

// coldExtent is a catalog extent with the batches it holds.
type coldExtent struct {
	Extent
	batches []coldBatch
}

// coldCatalog is an ExtentFinder over a fixed set of extents.
type coldCatalog struct {
	mu      sync.Mutex
	extents map[index.Key][]coldExtent // by offset
}

func (c *coldCatalog) FindExtent(k index.Key, offset int64) (Extent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	exts := c.extents[k]
	if len(exts) == 0 || offset < exts[0].BaseOffset {
		return Extent{}, false
	}
	i := sort.Search(len(exts), func(i int) bool { return exts[i].LastOffset >= offset })
	if i == len(exts) {
		return Extent{}, false
	}
	return exts[i].Extent, true
}

func (c *coldCatalog) add(k index.Key, e coldExtent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.extents == nil {
		c.extents = map[index.Key][]coldExtent{}
	}
	exts := append(c.extents[k], e)
	sort.Slice(exts, func(i, j int) bool { return exts[i].BaseOffset < exts[j].BaseOffset })
	c.extents[k] = exts
}

// find returns the test extent FindExtent would return.
func (c *coldCatalog) find(k index.Key, offset int64) (coldExtent, bool) {
	ext, ok := c.FindExtent(k, offset)
	if !ok {
		return coldExtent{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.extents[k] {
		if e.Extent == ext {
			return e, true
		}
	}
	return coldExtent{}, false
}

// bounds returns the first and last offset of k in the catalog.
func (c *coldCatalog) bounds(k index.Key) (first, last int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	exts := c.extents[k]
	return exts[0].BaseOffset, exts[len(exts)-1].LastOffset
}

// gatedBucket holds ReadRange calls while its gate is shut.
type gatedBucket struct {
	objectstore.Bucket
	mu      sync.Mutex
	gate    chan struct{} // closed while the gate is open
	waiting atomic.Int64  // ReadRange calls held at the gate now
}

func newGatedBucket(b objectstore.Bucket) *gatedBucket {
	g := &gatedBucket{Bucket: b, gate: make(chan struct{})}
	close(g.gate)
	return g
}

func (g *gatedBucket) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
		g.gate = make(chan struct{})
	default:
	}
}

func (g *gatedBucket) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

func (g *gatedBucket) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	g.waiting.Add(1)
	select {
	case <-gate:
		g.waiting.Add(-1)
	case <-ctx.Done():
		g.waiting.Add(-1)
		return nil, ctx.Err()
	}
	return g.Bucket.ReadRange(ctx, key, off, length)
}

// coldFixture is a bucket of test objects and a catalog over them. Reads go
// through counting(gated(faulty(store))).
type coldFixture struct {
	store   objectstore.Bucket
	faulty  *objectstore.Faulty
	gate    *gatedBucket
	bucket  *objectstore.Counting
	cat     *coldCatalog
	objects map[string][]byte
	keys    []index.Key // every partition added, in order of first appearance
}

func newColdFixture(tb testing.TB) *coldFixture {
	tb.Helper()
	fs, err := objectstore.NewFS(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { fs.Close() })
	return newColdFixtureOn(fs)
}

func newColdFixtureOn(b objectstore.Bucket) *coldFixture {
	f := &coldFixture{store: b, faulty: objectstore.NewFaulty(b), cat: &coldCatalog{}, objects: map[string][]byte{}}
	f.gate = newGatedBucket(f.faulty)
	f.bucket = objectstore.NewCounting(f.gate)
	return f
}

// buildColdObject writes parts through an index.Builder and returns the object.
func buildColdObject(tb testing.TB, parts []coldPart, sparseInterval int64) ([]byte, index.Footer) {
	tb.Helper()
	var buf bytes.Buffer
	b := index.NewBuilder(&buf, index.BuilderOptions{SparseInterval: sparseInterval})
	for _, p := range parts {
		for _, sb := range p.batches {
			if err := b.Add(p.key, sb.base, sb.last, 0, sb.data); err != nil {
				tb.Fatalf("build object: %v", err)
			}
		}
	}
	footer, size, err := b.Finish()
	if err != nil {
		tb.Fatalf("build object: %v", err)
	}
	if size != int64(buf.Len()) {
		tb.Fatalf("build object: Finish says %d bytes, wrote %d", size, buf.Len())
	}
	return buf.Bytes(), footer
}

// addObject stores an object of parts under name and adds its extents to
// the catalog, with ObjectSize set when knownSize.
func (f *coldFixture) addObject(tb testing.TB, name string, parts []coldPart, sparseInterval int64, knownSize bool) index.Footer {
	tb.Helper()
	data, footer := buildColdObject(tb, parts, sparseInterval)
	f.putObject(tb, name, data)
	for _, p := range parts {
		fp, ok := footer.Lookup(p.key)
		if !ok {
			tb.Fatalf("footer of %s lacks %v", name, p.key)
		}
		ext := Extent{Object: name, Pos: fp.Pos, Len: fp.Len, BaseOffset: fp.FirstOffset, LastOffset: fp.LastOffset}
		if knownSize {
			ext.ObjectSize = int64(len(data))
		}
		f.cat.add(p.key, coldExtent{Extent: ext, batches: p.batches})
		if !containsColdKey(f.keys, p.key) {
			f.keys = append(f.keys, p.key)
		}
	}
	return footer
}

func (f *coldFixture) putObject(tb testing.TB, name string, data []byte) {
	tb.Helper()
	if err := f.store.Put(context.Background(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		tb.Fatalf("put %s: %v", name, err)
	}
	f.objects[name] = data
}

func containsColdKey(keys []index.Key, k index.Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// expect computes what Read must return, from the ground truth.
func (f *coldFixture) expect(k index.Key, offset, end int64, maxBytes int) []byte {
	if offset >= end {
		return nil
	}
	ext, ok := f.cat.find(k, offset)
	if !ok {
		return nil
	}
	target := max(offset, ext.BaseOffset)
	var out []byte
	for _, b := range ext.batches {
		if b.last < target {
			continue
		}
		if b.base >= end || (len(out) > 0 && len(out)+len(b.data) > maxBytes) {
			break
		}
		out = append(out, b.data...)
	}
	return out
}

// standardObjects fills f with three objects: two multi-partition objects
// of four partitions (the second skipping partition 3) and one
// single-partition object continuing partition 0, like a compacted segment.
// Partition 2 has a gap of 50 offsets between its two extents.
func (f *coldFixture) standardObjects(tb testing.TB, rng *rand.Rand) {
	tb.Helper()
	keys := []index.Key{coldKey(1, 0), coldKey(1, 1), coldKey(2, 0), coldKey(2, 7)}
	next := map[index.Key]int64{keys[0]: 0, keys[1]: 1000, keys[2]: 5, keys[3]: 0}
	gen := func(k index.Key, n int) coldPart {
		bs := genColdBatches(tb, rng, next[k], n, coldSmallBatches)
		next[k] = bs[len(bs)-1].last + 1
		return coldPart{key: k, batches: bs}
	}
	f.addObject(tb, "seg/00000001", []coldPart{gen(keys[2], 30), gen(keys[0], 40), gen(keys[1], 25), gen(keys[3], 10)}, 512, true)
	next[keys[2]] += 50
	f.addObject(tb, "seg/00000002", []coldPart{gen(keys[0], 30), gen(keys[1], 20), gen(keys[2], 35)}, 1024, false)
	f.addObject(tb, "compacted/00000003", []coldPart{gen(keys[0], 80)}, 2048, true)
}

// coldWaitFor polls cond until it holds, failing the test after a generous
// deadline (a liveness bound, not a timing assertion).
func coldWaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testReaderConfig is a config with small blocks and fast retries.
func testReaderConfig() ReaderConfig {
	cfg := DefaultReaderConfig()
	cfg.BlockSize = 4 << 10
	cfg.CacheBytes = 1 << 20
	cfg.RetryBackoff = time.Millisecond
	return cfg
}

func newTestReader(tb testing.TB, f *coldFixture, cfg ReaderConfig) *Reader {
	tb.Helper()
	r, err := NewReader(f.bucket, f.cat, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}
