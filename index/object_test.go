package index

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// testObject is an object built by buildTestObject, with the ground truth
// about every batch in it.
type testObject struct {
	data     []byte
	footer   Footer
	interval int64
	batches  map[Key][]testBatch
	order    []Key // in the order the partitions were added
}

func (o *testObject) dataLen() int64 { return int64(len(o.data)) - o.footerLen() - TrailerSize }

func (o *testObject) footerLen() int64 {
	n, err := DecodeTrailer(o.data[len(o.data)-TrailerSize:])
	if err != nil {
		panic(err)
	}
	return n
}

func randomKey(rng *rand.Rand) Key {
	var k Key
	for i := range k.Topic {
		k.Topic[i] = byte(rng.UintN(256))
	}
	if rng.IntN(3) == 0 {
		k.Topic = [16]byte{1} // several partitions of one topic
	}
	k.Partition = int32(rng.IntN(64))
	return k
}

// buildTestObject writes partitions partitions of random batches through a
// Builder. Batch sizes vary from about 100 bytes to tens of KiB so that
// sparse blocks hold from one to many batches. Timestamps wander backwards
// now and then, offsets have compaction gaps now and then.
func buildTestObject(tb testing.TB, rng *rand.Rand, partitions int, interval int64) *testObject {
	tb.Helper()
	var buf bytes.Buffer
	b := NewBuilder(&buf, BuilderOptions{SparseInterval: interval})
	o := &testObject{interval: interval, batches: make(map[Key][]testBatch)}
	for len(o.order) < partitions {
		k := randomKey(rng)
		if _, dup := o.batches[k]; dup {
			continue
		}
		o.order = append(o.order, k)
		next := rng.Int64N(1 << 40)
		ts := int64(1_700_000_000_000) + rng.Int64N(1<<20)
		var rel int64
		var all []testBatch
		for range 1 + rng.IntN(4) {
			if rng.IntN(5) == 0 {
				next += 1 + rng.Int64N(100) // gap left by compaction
			}
			var chunk []byte
			var chunkBatches []testBatch
			chunkMax := int64(math.MinInt64)
			for range 1 + rng.IntN(12) {
				records := 1 + rng.IntN(8)
				valueLen := rng.IntN(300)
				if rng.IntN(8) == 0 {
					valueLen = 2_000 + rng.IntN(6_000)
				}
				var extra int32
				if rng.IntN(6) == 0 {
					extra = int32(rng.IntN(5))
				}
				ts += int64(rng.IntN(400)) - 100
				raw := makeBatch(tb, rng, next, records, extra, ts, valueLen)
				h := readBatchHeader(raw)
				tbch := testBatch{base: next, last: h.lastOffset(), maxTimestamp: h.maxTimestamp, pos: rel, size: int64(len(raw))}
				chunkMax = max(chunkMax, h.maxTimestamp)
				chunkBatches = append(chunkBatches, tbch)
				chunk = append(chunk, raw...)
				rel += int64(len(raw))
				next = h.lastOffset() + 1
				if rng.IntN(10) == 0 {
					next += 1 + rng.Int64N(10) // gap inside one Add
				}
			}
			arg := chunkMax
			switch rng.IntN(4) {
			case 0:
				// The caller knows a later timestamp (log-append time): it
				// counts for the first batch of the Add.
				arg += 1 + rng.Int64N(1_000)
				chunkBatches[0].maxTimestamp = arg
			case 1:
				arg = -1 // no better knowledge than the headers
			}
			if err := b.Add(k, chunkBatches[0].base, chunkBatches[len(chunkBatches)-1].last, arg, chunk); err != nil {
				tb.Fatalf("Add: %v", err)
			}
			all = append(all, chunkBatches...)
		}
		o.batches[k] = all
	}
	f, size, err := b.Finish()
	if err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	if size != int64(buf.Len()) {
		tb.Fatalf("Finish reports %d bytes, wrote %d", size, buf.Len())
	}
	o.data = buf.Bytes()
	o.footer = f
	return o
}

func TestBuildAndDecodeManyPartitions(t *testing.T) {
	for _, interval := range []int64{1, 4 << 10, DefaultSparseInterval} {
		rng := rand.New(rand.NewPCG(uint64(interval), 7))
		o := buildTestObject(t, rng, 60, interval)
		size := int64(len(o.data))

		f, need, err := ParseTail(o.data, size)
		if err != nil || need != 0 {
			t.Fatalf("interval %d: ParseTail whole object: need %d, err %v", interval, need, err)
		}
		if !reflect.DeepEqual(*f, o.footer) {
			t.Fatalf("interval %d: decoded footer differs from the built one", interval)
		}
		checkFooterMatchesBatches(t, o, f)
		checkDataVerifies(t, o, f)
	}
}

func TestParseTailAsksForMore(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	o := buildTestObject(t, rng, 20, 1<<10)
	size := int64(len(o.data))

	_, need, err := ParseTail(o.data[size-10:], size)
	if err != nil || need != TrailerSize {
		t.Fatalf("10-byte tail: need %d, err %v; want need %d", need, err, TrailerSize)
	}
	_, need, err = ParseTail(o.data[size-TrailerSize-1:], size)
	if err != nil {
		t.Fatal(err)
	}
	if want := o.footerLen() + TrailerSize; need != want {
		t.Fatalf("short tail: need %d, want %d", need, want)
	}
	f, need2, err := ParseTail(o.data[size-need:], size)
	if err != nil || need2 != 0 {
		t.Fatalf("exact tail: need %d, err %v", need2, err)
	}
	if !reflect.DeepEqual(*f, o.footer) {
		t.Fatal("footer from exact tail differs")
	}

	// DecodeTrailer + DecodeFooter, the two-step path.
	tr := o.data[size-TrailerSize:]
	fl, err := DecodeTrailer(tr)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := DecodeFooter(o.data[size-TrailerSize-fl:size-TrailerSize], tr)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f2, f) {
		t.Fatal("DecodeFooter differs from ParseTail")
	}
	if _, err := DecodeFooter(o.data[size-TrailerSize-fl+1:size-TrailerSize], tr); err == nil {
		t.Fatal("DecodeFooter accepted a footer of the wrong length")
	}
	if _, _, err := ParseTail(o.data, size-1); err == nil {
		t.Fatal("ParseTail accepted a tail longer than the object")
	}
}

// checkFooterMatchesBatches checks every footer field, every Locate of every
// offset, and LocateTime around every batch timestamp against the truth.
func checkFooterMatchesBatches(t *testing.T, o *testObject, f *Footer) {
	t.Helper()
	if len(f.Partitions) != len(o.batches) {
		t.Fatalf("footer has %d partitions, want %d", len(f.Partitions), len(o.batches))
	}
	for i := 1; i < len(f.Partitions); i++ {
		if f.Partitions[i-1].Key.Compare(f.Partitions[i].Key) >= 0 {
			t.Fatalf("partitions not sorted at %d", i)
		}
	}
	var wantPos int64
	for _, k := range o.order {
		bs := o.batches[k]
		p, ok := f.Lookup(k)
		if !ok {
			t.Fatalf("Lookup(%v) missed", k)
		}
		last := bs[len(bs)-1]
		maxTs := int64(math.MinInt64)
		for _, b := range bs {
			maxTs = max(maxTs, b.maxTimestamp)
		}
		if p.FirstOffset != bs[0].base || p.LastOffset != last.last || p.Pos != wantPos ||
			p.Len != last.pos+last.size || p.MaxTimestamp != maxTs {
			t.Fatalf("%v: partition %+v, want first %d last %d pos %d len %d maxTs %d",
				k, *p, bs[0].base, last.last, wantPos, last.pos+last.size, maxTs)
		}
		wantPos += p.Len
		checkSparse(t, o, p, bs)
		checkLocate(t, o, p, bs)
		checkLocateTime(t, p, bs)
	}
}

func batchAt(bs []testBatch, rel int64) int {
	for i, b := range bs {
		if b.pos == rel {
			return i
		}
	}
	return -1
}

func checkSparse(t *testing.T, o *testObject, p *Partition, bs []testBatch) {
	t.Helper()
	if len(p.Sparse) == 0 || p.Sparse[0].Pos != 0 || p.Sparse[0].Offset != p.FirstOffset {
		t.Fatalf("%v: first sparse entry %+v", p.Key, p.Sparse)
	}
	running := int64(math.MinInt64)
	for j, e := range p.Sparse {
		i := batchAt(bs, e.Pos)
		if i < 0 || bs[i].base != e.Offset {
			t.Fatalf("%v: sparse entry %+v is not at a batch boundary", p.Key, e)
		}
		end := p.Len
		if j+1 < len(p.Sparse) {
			end = p.Sparse[j+1].Pos
		}
		for ; i < len(bs) && bs[i].pos < end; i++ {
			running = max(running, bs[i].maxTimestamp)
		}
		if e.MaxTimestamp != running {
			t.Fatalf("%v: sparse entry %d MaxTimestamp %d, want running max %d", p.Key, j, e.MaxTimestamp, running)
		}
		if j > 0 {
			// The entry is the first boundary at least interval bytes on.
			prev := p.Sparse[j-1].Pos
			if e.Pos-prev < o.interval {
				t.Fatalf("%v: entries %d bytes apart, interval %d", p.Key, e.Pos-prev, o.interval)
			}
			if k := batchAt(bs, e.Pos); k > 0 && bs[k-1].pos-prev >= o.interval {
				t.Fatalf("%v: entry at %d skipped an earlier boundary at %d", p.Key, e.Pos, bs[k-1].pos)
			}
		}
	}
}

func checkLocate(t *testing.T, o *testObject, p *Partition, bs []testBatch) {
	t.Helper()
	if p.FirstOffset > 0 {
		if got := p.Locate(p.FirstOffset - 1); got != p.Pos {
			t.Fatalf("%v: Locate before first = %d, want %d", p.Key, got, p.Pos)
		}
	}
	if got := p.Locate(p.LastOffset + 1); got != p.Pos+p.Len {
		t.Fatalf("%v: Locate after last = %d, want %d", p.Key, got, p.Pos+p.Len)
	}
	target := 0 // first batch whose last offset >= off
	for off := p.FirstOffset; off <= p.LastOffset; off++ {
		for bs[target].last < off {
			target++
		}
		loc := p.Locate(off)
		rel := loc - p.Pos
		if batchAt(bs, rel) < 0 {
			t.Fatalf("%v: Locate(%d) = %d is not a batch boundary", p.Key, off, loc)
		}
		want := bs[target].pos
		if rel > want {
			t.Fatalf("%v: Locate(%d) = rel %d is after the batch at %d holding it", p.Key, off, rel, want)
		}
		if off < bs[target].base {
			// A gap left by compaction: reading starts where it would for
			// the last offset before the gap and runs on into the next batch.
			if prev := p.Locate(bs[target-1].last); loc != prev {
				t.Fatalf("%v: Locate(%d) in a gap = %d, Locate(%d) = %d", p.Key, off, loc, bs[target-1].last, prev)
			}
			continue
		}
		if want-rel >= o.interval {
			t.Fatalf("%v: Locate(%d) = rel %d is %d bytes before the batch, interval %d", p.Key, off, rel, want-rel, o.interval)
		}
		if end := p.BlockEnd(loc); want >= end-p.Pos {
			t.Fatalf("%v: batch for %d at rel %d is outside block [%d, %d)", p.Key, off, want, rel, end-p.Pos)
		}
	}
}

func checkLocateTime(t *testing.T, p *Partition, bs []testBatch) {
	t.Helper()
	var probes []int64
	for _, b := range bs {
		probes = append(probes, b.maxTimestamp-1, b.maxTimestamp, b.maxTimestamp+1)
	}
	probes = append(probes, math.MinInt64, math.MaxInt64)
	for _, ts := range probes {
		target := -1
		for i, b := range bs {
			if b.maxTimestamp >= ts {
				target = i
				break
			}
		}
		loc, ok := p.LocateTime(ts)
		if target < 0 {
			if ok {
				t.Fatalf("%v: LocateTime(%d) = %d, want none", p.Key, ts, loc)
			}
			continue
		}
		if !ok {
			t.Fatalf("%v: LocateTime(%d) found nothing, batch %d has ts %d", p.Key, ts, target, bs[target].maxTimestamp)
		}
		rel := loc - p.Pos
		if batchAt(bs, rel) < 0 {
			t.Fatalf("%v: LocateTime(%d) = %d is not a batch boundary", p.Key, ts, loc)
		}
		want := bs[target].pos
		if end := p.BlockEnd(loc) - p.Pos; rel > want || want >= end {
			t.Fatalf("%v: LocateTime(%d) block [%d, %d) does not hold the first batch at %d", p.Key, ts, rel, end, want)
		}
	}
}

// checkDataVerifies runs VerifyBatches over each partition's whole range and
// over each sparse block, as a cold reader would.
func checkDataVerifies(t *testing.T, o *testObject, f *Footer) {
	t.Helper()
	for i := range f.Partitions {
		p := &f.Partitions[i]
		bs := o.batches[p.Key]
		data := o.data[p.Pos : p.Pos+p.Len]
		n, next, consumed, err := VerifyBatchesWith(data, p.FirstOffset, VerifyOptions{AllowGaps: true})
		if err != nil || n != len(bs) || next != p.LastOffset+1 || int64(consumed) != p.Len {
			t.Fatalf("%v: VerifyBatches = %d, %d, %d, %v; want %d, %d, %d", p.Key, n, next, consumed, err, len(bs), p.LastOffset+1, p.Len)
		}
		for _, e := range p.Sparse {
			start := p.Pos + e.Pos
			end := p.BlockEnd(start)
			_, _, consumed, err := VerifyBatches(o.data[start:end], e.Offset)
			if err != nil && !errors.As(err, new(*CorruptionError)) {
				t.Fatal(err)
			}
			if err == nil && int64(consumed) != end-start {
				t.Fatalf("%v: block [%d, %d) consumed %d", p.Key, start, end, consumed)
			}
		}
	}
}

func TestSinglePartitionObject(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	o := buildTestObject(t, rng, 1, 2<<10)
	f, _, err := ParseTail(o.data, int64(len(o.data)))
	if err != nil {
		t.Fatal(err)
	}
	checkFooterMatchesBatches(t, o, f)
	if f.Partitions[0].Pos != 0 || f.Partitions[0].Len != o.dataLen() {
		t.Fatalf("single partition %+v, data length %d", f.Partitions[0], o.dataLen())
	}
}

func TestEmptyObject(t *testing.T) {
	var buf bytes.Buffer
	f, size, err := NewBuilder(&buf, BuilderOptions{}).Finish()
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(buf.Len()) || len(f.Partitions) != 0 {
		t.Fatalf("size %d, wrote %d, %d partitions", size, buf.Len(), len(f.Partitions))
	}
	got, _, err := ParseTail(buf.Bytes(), size)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != 0 {
		t.Fatal("empty object decoded with partitions")
	}
	if _, ok := got.Lookup(Key{}); ok {
		t.Fatal("Lookup found a partition in an empty footer")
	}
}

func TestLookupMissingKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	o := buildTestObject(t, rng, 30, 4<<10)
	for range 1000 {
		k := randomKey(rng)
		_, want := o.batches[k]
		p, ok := o.footer.Lookup(k)
		if ok != want || (ok && p.Key != k) {
			t.Fatalf("Lookup(%v) = %v, %v; want found=%v", k, p, ok, want)
		}
	}
}

// Every single-byte change to the footer or trailer must be refused, and
// refused as corruption (or an unknown version, for the version field).
func TestFlippedFooterByteIsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	o := buildTestObject(t, rng, 25, 2<<10)
	size := int64(len(o.data))
	dataLen := o.dataLen()
	tail := o.data[dataLen:]
	for i := range tail {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(tail)
			bad[i] ^= mask
			f, need, err := ParseTail(bad, size)
			if err == nil {
				t.Fatalf("byte %d ^ %#x: accepted (footer %v, need %d)", dataLen+int64(i), mask, f != nil, need)
			}
			at := dataLen + int64(i)
			if at >= size-TrailerSize+trailerVersion && at < size-TrailerSize+trailerVersion+2 {
				if !errors.Is(err, ErrUnsupportedVersion) {
					t.Fatalf("byte %d (version): %v", at, err)
				}
				continue
			}
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("byte %d ^ %#x: %v is not a CorruptionError", at, mask, err)
			}
			if ce.Offset < dataLen || ce.Offset >= size {
				t.Fatalf("byte %d: corruption reported at %d, outside footer+trailer [%d, %d)", at, ce.Offset, dataLen, size)
			}
		}
	}
}

func TestTruncatedObject(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	o := buildTestObject(t, rng, 10, 2<<10)
	size := len(o.data)
	for _, cut := range []int{0, 1, 5, TrailerSize - 1, TrailerSize, 100, size / 2, size - TrailerSize - 1, size - TrailerSize, size - TrailerSize + 1, size - 1} {
		obj := o.data[:cut]
		_, need, err := ParseTail(obj, int64(len(obj)))
		if err == nil {
			t.Fatalf("object cut to %d bytes accepted (need %d)", cut, need)
		}
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("cut to %d: %v is not a CorruptionError", cut, err)
		}
	}
	// The right tail but a wrong object size: the trailer does not describe it.
	tail := o.data[size-1000:]
	for _, wrong := range []int64{int64(size) - 1, int64(size) + 1, int64(size) * 2} {
		if _, _, err := ParseTail(tail, wrong); !errors.As(err, new(*CorruptionError)) {
			t.Fatalf("object size %d (really %d): %v", wrong, size, err)
		}
	}
	// A short read of the footer with the right trailer.
	fl := o.footerLen()
	tr := o.data[size-TrailerSize:]
	if _, err := DecodeFooter(o.data[size-TrailerSize-int(fl):size-TrailerSize-1], tr); err == nil {
		t.Fatal("DecodeFooter accepted a short footer")
	}
	if _, err := DecodeTrailer(tr[1:]); err == nil {
		t.Fatal("DecodeTrailer accepted 31 bytes")
	}
}

func TestCorruptionErrorMessage(t *testing.T) {
	e := &CorruptionError{Offset: 42, Reason: "bad"}
	if got := e.Error(); got != "corrupt object at offset 42: bad" {
		t.Fatal(got)
	}
	e.Object = "segments/0001"
	if got := e.Error(); got != `corrupt object "segments/0001" at offset 42: bad` {
		t.Fatal(got)
	}
}

// With batches of one size S, an interval of S puts an entry on every batch
// and an interval of 2S on every other one; S+1 also gives every other.
func TestSparseEntriesFallOnTheInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	var data []byte
	for i := range 10 {
		data = append(data, makeBatch(t, rng, int64(i)*3, 3, 0, int64(i), 50)...)
	}
	size := int64(len(data) / 10)
	for _, c := range []struct {
		interval int64
		every    int
	}{{size, 1}, {size - 1, 1}, {size + 1, 2}, {2 * size, 2}, {3*size - 1, 3}, {100 * size, 10}} {
		var buf bytes.Buffer
		b := NewBuilder(&buf, BuilderOptions{SparseInterval: c.interval})
		if err := b.Add(Key{}, 0, 29, 0, data); err != nil {
			t.Fatal(err)
		}
		f, _, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		sp := f.Partitions[0].Sparse
		if want := (10 + c.every - 1) / c.every; len(sp) != want {
			t.Fatalf("interval %d: %d entries, want %d", c.interval, len(sp), want)
		}
		for j, e := range sp {
			i := j * c.every
			if e.Pos != int64(i)*size || e.Offset != int64(i)*3 {
				t.Fatalf("interval %d: entry %d = %+v, want batch %d", c.interval, j, e, i)
			}
			last := min(i+c.every, 10) - 1
			if e.MaxTimestamp != int64(last)+2 { // batch i holds timestamps i..i+2
				t.Fatalf("interval %d: entry %d MaxTimestamp %d, want %d", c.interval, j, e.MaxTimestamp, last+2)
			}
		}
	}
}
