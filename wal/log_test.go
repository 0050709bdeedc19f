package wal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Dir = "x"
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with Dir: %v", err)
	}
	if err := DefaultConfig().Validate(); err == nil {
		t.Fatal("config without Dir validated")
	}
	bad := []func(c *Config){
		func(c *Config) { c.SegmentMaxBytes = -1 },
		func(c *Config) { c.SegmentMaxBytes = MaxSegmentMaxBytes + 1 },
		func(c *Config) { c.SegmentMaxAge = -time.Second },
		func(c *Config) { c.MaxBytes = -1 },
		func(c *Config) { c.MaxPendingBytes = -1 },
	}
	for i, mutate := range bad {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: invalid config validated", i)
		}
		c.Dir = t.TempDir()
		if _, err := Open(c); err == nil {
			t.Errorf("case %d: Open accepted invalid config", i)
		}
	}
	if d := (Config{Dir: "x"}).withDefaults(); d.SegmentMaxBytes != DefaultSegmentMaxBytes ||
		d.SegmentMaxAge != DefaultSegmentMaxAge || d.MaxPendingBytes != DefaultMaxPendingBytes || d.MaxBytes != 0 {
		t.Fatalf("withDefaults = %+v", d)
	}
}

func TestAppendRejectsBadEntries(t *testing.T) {
	l := mustOpen(t, testConfig(t))
	k := testKey(0)
	bad := []Entry{
		{Key: k, BaseOffset: 0, LastOffset: 0},                                   // no data
		{Key: k, BaseOffset: -1, LastOffset: 0, Data: []byte{1}},                 // negative offset
		{Key: k, BaseOffset: 5, LastOffset: 4, Data: []byte{1}},                  // last < base
		{Key: k, BaseOffset: 0, LastOffset: 1 << 40, Data: []byte{1}},            // span too large
		{Key: Key{Partition: -1}, BaseOffset: 0, LastOffset: 0, Data: []byte{1}}, // bad partition
	}
	for i, e := range bad {
		e.Done = func(error) { t.Errorf("case %d: Done called for a rejected entry", i) }
		if err := l.Append(e); err == nil {
			t.Errorf("case %d: Append accepted %+v", i, e)
		}
	}
	if _, ok := l.Range(k); ok {
		t.Fatal("rejected entries were logged")
	}
}

// TestRoundTripManyPartitions appends entries of random sizes for many
// partitions across many segment rolls, reads everything back, then
// reopens and reads it back again.
func TestRoundTripManyPartitions(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 32 << 10
	var sealed []SegmentInfo
	var sealedMu sync.Mutex
	cfg.OnSeal = func(si SegmentInfo) {
		sealedMu.Lock()
		sealed = append(sealed, si)
		sealedMu.Unlock()
	}
	l := mustOpen(t, cfg)
	m := newModel()
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for i := range 2000 {
		k := testKey(rng.IntN(24))
		wg.Add(1)
		m.appendTo(t, l, k, 1+rng.IntN(50), 1+rng.IntN(3000), func(err error) {
			if err != nil {
				t.Errorf("entry %d: %v", i, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	st := l.Stats()
	if st.Entries != 2000 || st.Seals == 0 || st.Seals != uint64(len(l.SealedSegments())) {
		t.Fatalf("stats %+v, %d sealed segments", st, len(l.SealedSegments()))
	}
	m.verify(t, l)

	sealedMu.Lock()
	if len(sealed) != int(st.Seals) {
		t.Fatalf("OnSeal called %d times, %d seals", len(sealed), st.Seals)
	}
	for i, si := range l.SealedSegments() {
		if si.ID != sealed[i].ID || si.Size != sealed[i].Size {
			t.Fatalf("SealedSegments[%d] = %d/%d bytes, OnSeal saw %d/%d", i, si.ID, si.Size, sealed[i].ID, sealed[i].Size)
		}
		fi, err := os.Stat(si.Path)
		if err != nil || fi.Size() != si.Size {
			t.Fatalf("segment %d: stat %v, size %d, info says %d", si.ID, err, fi.Size(), si.Size)
		}
		if si.Size > cfg.SegmentMaxBytes+frameHeaderSize+3000 {
			t.Fatalf("segment %d is %d bytes, limit %d plus one entry", si.ID, si.Size, cfg.SegmentMaxBytes)
		}
	}
	sealedMu.Unlock()

	checkDiskBytes(t, l)
	before := l.Partitions()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2 := mustOpen(t, cfg)
	if got := l2.Partitions(); len(got) != len(before) {
		t.Fatalf("after reopen %d partitions, before %d", len(got), len(before))
	} else {
		for k, r := range before {
			if got[k] != r {
				t.Fatalf("%v: range %+v after reopen, %+v before", k, got[k], r)
			}
		}
	}
	m.verify(t, l2)
	// Offsets continue after reopen.
	for _, k := range m.keys()[:3] {
		appendWait(t, l2, testEntry(k, m.next[k], 1, 10))
		m.entries[k] = append(m.entries[k], testEntry(k, m.next[k], 1, 10))
		m.next[k]++
	}
	m.verify(t, l2)
}

func TestReadSemantics(t *testing.T) {
	l := mustOpen(t, testConfig(t))
	k := testKey(1)
	es := []Entry{
		testEntry(k, 0, 10, 100),  // [0,9]
		testEntry(k, 10, 10, 100), // [10,19]
		testEntry(k, 20, 10, 100), // [20,29]
		testEntry(k, 40, 10, 100), // [40,49] after a gap
	}
	for _, e := range es {
		appendWait(t, l, e)
	}
	cat := func(es ...Entry) []byte {
		var b []byte
		for _, e := range es {
			b = append(b, e.Data...)
		}
		return b
	}
	cases := []struct {
		name              string
		offset, maxOffset int64
		maxBytes          int
		want              []byte
	}{
		{"start of entry", 0, 100, 1000, cat(es...)},
		{"middle of entry", 15, 100, 1000, cat(es[1:]...)},
		{"last offset of entry", 19, 100, 1000, cat(es[1:]...)},
		{"maxOffset at entry start excludes it", 15, 20, 1000, cat(es[1])},
		{"maxOffset inside entry includes it", 15, 21, 1000, cat(es[1], es[2])},
		{"maxBytes exact", 0, 100, 200, cat(es[0], es[1])},
		{"maxBytes short of next", 0, 100, 299, cat(es[0], es[1])},
		{"maxBytes below one entry still returns one", 0, 100, 1, cat(es[0])},
		{"maxBytes zero still returns one", 5, 100, 0, cat(es[0])},
		{"offset in gap starts at next entry", 35, 100, 1000, cat(es[3])},
		{"at end", 50, 100, 1000, nil},
		{"past end", 500, 1000, 1000, nil},
		{"offset at maxOffset", 10, 10, 1000, nil},
	}
	for _, c := range cases {
		got, err := l.Read(k, c.offset, c.maxOffset, c.maxBytes)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %d bytes, want %d", c.name, len(got), len(c.want))
		}
		if c.want == nil && got != nil {
			t.Errorf("%s: got non-nil empty result", c.name)
		}
	}
	if got, err := l.Read(testKey(2), 0, 100, 100); got != nil || err != nil {
		t.Errorf("unknown partition: %v, %v", got, err)
	}
	if r, ok := l.Range(k); !ok || r != (PartitionRange{First: 0, Next: 50}) {
		t.Errorf("Range = %+v, %v", r, ok)
	}
	if _, ok := l.Range(testKey(2)); ok {
		t.Error("Range of unknown partition reported ok")
	}
}

func TestOffsetForTime(t *testing.T) {
	l := mustOpen(t, testConfig(t))
	k := testKey(3)
	for i, ts := range []int64{100, 50, 300, 200, 400} {
		e := testEntry(k, int64(i*5), 5, 10)
		e.MaxTimestamp = ts
		appendWait(t, l, e)
	}
	cases := []struct {
		ts   int64
		want int64
		ok   bool
	}{{0, 0, true}, {100, 0, true}, {101, 10, true}, {250, 10, true}, {300, 10, true}, {301, 20, true}, {400, 20, true}, {401, 0, false}}
	for _, c := range cases {
		got, ok := l.OffsetForTime(k, c.ts)
		if got != c.want || ok != c.ok {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d, %v", c.ts, got, ok, c.want, c.ok)
		}
	}
	if _, ok := l.OffsetForTime(testKey(4), 0); ok {
		t.Error("OffsetForTime of unknown partition reported ok")
	}
}

func TestOutOfOrderRejected(t *testing.T) {
	cfg := testConfig(t)
	l := mustOpen(t, cfg)
	k := testKey(5)
	appendWait(t, l, testEntry(k, 10, 5, 10)) // [10,14]
	for _, base := range []int64{0, 10, 14} {
		if err := l.Append(testEntry(k, base, 1, 10)); !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("Append at %d: %v, want ErrOutOfOrder", base, err)
		}
	}
	appendWait(t, l, testEntry(k, 20, 1, 10)) // gaps are fine
	l.Close()
	l2 := mustOpen(t, cfg)
	if err := l2.Append(testEntry(k, 20, 1, 10)); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Append after reopen: %v, want ErrOutOfOrder", err)
	}
	appendWait(t, l2, testEntry(k, 21, 1, 10))
}

// TestGroupCommit holds the first fsync until many entries are queued and
// checks they share the next one, and that Done callbacks run in append
// order.
func TestGroupCommit(t *testing.T) {
	cfg := testConfig(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.hooks.beforeSync = func() error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return nil
	}
	l := mustOpen(t, cfg)

	var mu sync.Mutex
	var order []int
	done := func(i int) func(error) {
		return func(err error) {
			if err != nil {
				t.Errorf("entry %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}
	}
	k := testKey(0)
	first := testEntry(k, 0, 1, 100)
	first.Done = done(0)
	if err := l.Append(first); err != nil {
		t.Fatal(err)
	}
	<-entered // the committer is now inside the first commit's fsync

	// One appender, sequential: defines the order Done must follow.
	const n = 200
	for i := 1; i <= n; i++ {
		e := testEntry(k, int64(i), 1, 100)
		e.Done = done(i)
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	// Plus concurrent appenders on their own partitions.
	var wg sync.WaitGroup
	var concurrentDone sync.WaitGroup
	for g := 1; g <= 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				concurrentDone.Add(1)
				e := testEntry(testKey(g), int64(i), 1, 100)
				e.Done = func(err error) {
					if err != nil {
						t.Errorf("concurrent entry: %v", err)
					}
					concurrentDone.Done()
				}
				if err := l.Append(e); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(release)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	concurrentDone.Wait()

	mu.Lock()
	if len(order) != n+1 || !slices.IsSorted(order) {
		t.Fatalf("Done order: %d calls, sorted=%v", len(order), slices.IsSorted(order))
	}
	mu.Unlock()
	st := l.Stats()
	if st.Commits != 2 || st.Fsyncs != 2 || st.Entries != n+1+8*50 {
		t.Fatalf("stats %+v: want all %d queued entries in one second commit", st, n+8*50)
	}
}

// TestConcurrentAppendersStress runs many appenders, each owning some
// partitions, with reads running alongside, then checks everything.
func TestConcurrentAppendersStress(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 64 << 10
	l := mustOpen(t, cfg)
	m := newModel()
	const goroutines, perG = 8, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := testKey(r)
				if rg, ok := l.Range(k); ok {
					if _, err := l.Read(k, rg.First, rg.Next, 4096); err != nil {
						t.Errorf("concurrent Read: %v", err)
						return
					}
				}
			}
		}()
	}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				m.appendTo(t, l, testKey(g*3+i%3), 3, 200+i, nil)
			}
		}()
	}
	wg.Wait()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	readers.Wait()
	m.verify(t, l)
	if st := l.Stats(); st.Entries != goroutines*perG {
		t.Fatalf("stats %+v", st)
	}
}

// TestDoneOrderPerPartition checks that Done callbacks arrive in offset
// order per partition with concurrent appenders.
func TestDoneOrderPerPartition(t *testing.T) {
	l := mustOpen(t, testConfig(t))
	m := newModel()
	var mu sync.Mutex
	acked := map[Key]int64{}
	var wg, doneWG sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := testKey(g)
			for range 200 {
				doneWG.Add(1)
				var base int64
				m.mu.Lock()
				base = m.next[k]
				m.mu.Unlock()
				m.appendTo(t, l, k, 2, 64, func(err error) {
					defer doneWG.Done()
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if acked[k] != base {
						t.Errorf("%v: Done for %d, expected %d next", k, base, acked[k])
					}
					acked[k] = base + 2
				})
			}
		}()
	}
	wg.Wait()
	doneWG.Wait()
	m.verify(t, l)
}

func TestStickyFailure(t *testing.T) {
	cfg := testConfig(t)
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	cfg.hooks.beforeSync = func() error {
		calls++
		if calls == 2 {
			close(entered)
			<-release
			return errInjected
		}
		return nil
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(0)
	appendWait(t, l, testEntry(k, 0, 1, 10)) // first commit succeeds

	errs := make(chan error, 10)
	for i := 1; i <= 5; i++ {
		e := testEntry(k, int64(i), 1, 10)
		e.Done = func(err error) { errs <- err }
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			<-entered // entry 1 is in the failing fsync; 2..5 queue behind it
		}
	}
	close(release)
	for range 5 {
		if err := <-errs; !errors.Is(err, errInjected) {
			t.Fatalf("Done error %v, want the injected error", err)
		}
	}
	if err := l.Append(testEntry(k, 10, 1, 10)); !errors.Is(err, errInjected) {
		t.Fatalf("Append after failure: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, errInjected) {
		t.Fatalf("Sync after failure: %v", err)
	}
	// Reads of what was durable still work.
	if got, err := l.Read(k, 0, 10, 100); err != nil || !bytes.Equal(got, testData(k, 0, 10)) {
		t.Fatalf("Read after failure: %v", err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close after failure: %v", err)
	}
	if st := l.Stats(); st.Entries != 1 {
		t.Fatalf("stats %+v: only the first entry is durable", st)
	}
}

func TestWriteFailureFailsLog(t *testing.T) {
	cfg := testConfig(t)
	cfg.hooks.beforeWrite = func() error { return errInjected }
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	e := testEntry(testKey(0), 0, 1, 10)
	e.Done = func(err error) { done <- err }
	if err := l.Append(e); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, errInjected) {
		t.Fatalf("Done: %v", err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close: %v", err)
	}
}

func TestBackpressure(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPendingBytes = 1000
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.hooks.beforeWrite = func() error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return nil
	}
	l := mustOpen(t, cfg)
	k := testKey(0)
	// Larger than the whole budget: accepted because nothing is queued.
	if err := l.Append(testEntry(k, 0, 1, 5000)); err != nil {
		t.Fatal(err)
	}
	<-entered // the committer holds it, unwritten
	returned := make(chan error, 1)
	go func() { returned <- l.Append(testEntry(k, 1, 1, 100)) }()
	for {
		select {
		case err := <-returned:
			t.Fatalf("Append returned (%v) while the pending budget was exhausted", err)
		default:
		}
		l.mu.Lock()
		w := l.waiting
		l.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Range(k); r.Next != 2 {
		t.Fatalf("Range %+v", r)
	}
}

func TestBackpressureUnblocksOnClose(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPendingBytes = 1000
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.hooks.beforeWrite = func() error {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(0)
	if err := l.Append(testEntry(k, 0, 1, 5000)); err != nil {
		t.Fatal(err)
	}
	<-entered
	returned := make(chan error, 1)
	go func() { returned <- l.Append(testEntry(k, 1, 1, 100)) }()
	for {
		l.mu.Lock()
		w := l.waiting
		l.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	if err := <-returned; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Append: %v, want ErrClosed", err)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestErrFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 4 << 10
	cfg.MaxBytes = 16 << 10
	l := mustOpen(t, cfg)
	k := testKey(0)
	var next int64
	full := false
	for range 1000 {
		e := testEntry(k, next, 1, 500)
		done := make(chan error, 1)
		e.Done = func(err error) { done <- err }
		err := l.Append(e)
		if errors.Is(err, ErrFull) {
			full = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		next++
	}
	if !full {
		t.Fatal("never got ErrFull")
	}
	if b := l.Bytes(); b > cfg.MaxBytes || b < cfg.MaxBytes-2*(500+frameHeaderSize)-segmentHeaderSize {
		t.Fatalf("Bytes() = %d at ErrFull, budget %d", b, cfg.MaxBytes)
	}
	sealed := l.SealedSegments()
	if err := l.RemoveSegment(sealed[0].ID); err != nil {
		t.Fatal(err)
	}
	appendWait(t, l, testEntry(k, next, 1, 500))
}

func TestRemoveSegment(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 2 << 10
	l := mustOpen(t, cfg)
	m := newModel()
	for i := range 60 {
		m.appendTo(t, l, testKey(i%3), 2, 300, nil)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	sealed := l.SealedSegments()
	if len(sealed) < 4 {
		t.Fatalf("%d sealed segments, want several", len(sealed))
	}
	if err := l.RemoveSegment(sealed[1].ID); err == nil {
		t.Fatal("removed a segment that is not the oldest")
	}
	if err := l.RemoveSegment(999999); err == nil {
		t.Fatal("removed a segment that does not exist")
	}
	if err := l.RemoveSegment(activeID(l)); err == nil {
		t.Fatal("removed the active segment")
	}
	quiesce(t, l)
	before := l.Bytes()
	for _, si := range sealed[:2] {
		if err := l.RemoveSegment(si.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(si.Path); !os.IsNotExist(err) {
			t.Fatalf("segment file %s still there: %v", si.Path, err)
		}
		if err := l.ReadSegment(si.ID, func(Entry) error { return nil }); err == nil {
			t.Fatal("ReadSegment of a removed segment succeeded")
		}
	}
	if l.Bytes() > before-sealed[0].Size-sealed[1].Size+segmentHeaderSize {
		t.Fatalf("Bytes() = %d; %d before removing %d and %d bytes",
			l.Bytes(), before, sealed[0].Size, sealed[1].Size)
	}
	checkDiskBytes(t, l)
	// Every partition now starts at its first entry in segment 3.
	for _, k := range m.keys() {
		r, ok := l.Range(k)
		want, inSeg := sealed[2].Partitions[k]
		if !ok || !inSeg || r.First != want.First {
			t.Fatalf("%v: Range %+v, first in segment %d is %+v", k, r, sealed[2].ID, want)
		}
		if r.First > 0 {
			if _, err := l.Read(k, r.First-1, 1<<62, 1); !errors.Is(err, ErrOffsetTooLow) {
				t.Fatalf("%v: Read below First: %v, want ErrOffsetTooLow", k, err)
			}
		}
	}
	m.verify(t, l)
	l.Close()
	l2 := mustOpen(t, cfg)
	m.verify(t, l2)
}

func TestRemoveSegmentDropsPartition(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 1 << 10
	l := mustOpen(t, cfg)
	appendWait(t, l, testEntry(testKey(7), 0, 1, 2000)) // fills segment 1 alone
	appendWait(t, l, testEntry(testKey(8), 0, 1, 10))
	sealed := l.SealedSegments()
	if len(sealed) != 1 {
		t.Fatalf("%d sealed segments", len(sealed))
	}
	if err := l.RemoveSegment(sealed[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Range(testKey(7)); ok {
		t.Fatal("partition still listed after its only segment was removed")
	}
	if got, err := l.Read(testKey(7), 0, 10, 100); got != nil || err != nil {
		t.Fatalf("Read of dropped partition: %v, %v", got, err)
	}
	// Its offsets still may not go backwards.
	if err := l.Append(testEntry(testKey(7), 0, 1, 10)); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("Append: %v", err)
	}
}

func TestReplayAndReadSegment(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 8 << 10
	l := mustOpen(t, cfg)
	var want []Entry
	next := map[Key]int64{}
	for i := range 300 {
		k := testKey(i % 5)
		e := testEntry(k, next[k], 1+i%4, 100+i)
		next[k] = e.LastOffset + 1
		want = append(want, e)
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	equal := func(a, b Entry) bool {
		return a.Key == b.Key && a.BaseOffset == b.BaseOffset && a.LastOffset == b.LastOffset &&
			a.MaxTimestamp == b.MaxTimestamp && bytes.Equal(a.Data, b.Data)
	}
	check := func(l *Log) {
		i := 0
		if err := l.Replay(func(e Entry) error {
			if i >= len(want) || !equal(e, want[i]) {
				t.Fatalf("Replay entry %d differs", i)
			}
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i != len(want) {
			t.Fatalf("Replay saw %d entries, want %d", i, len(want))
		}
	}
	check(l)

	// ReadSegment over the sealed segments plus the active one covers the log.
	i := 0
	ids := []uint64{}
	for _, si := range l.SealedSegments() {
		ids = append(ids, si.ID)
	}
	ids = append(ids, activeID(l))
	for _, id := range ids {
		seen := map[Key]PartitionRange{}
		if err := l.ReadSegment(id, func(e Entry) error {
			if !equal(e, want[i]) {
				t.Fatalf("segment %d: entry %d differs", id, i)
			}
			r, ok := seen[e.Key]
			if !ok {
				r.First = e.BaseOffset
			}
			r.Next = e.LastOffset + 1
			seen[e.Key] = r
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, si := range l.SealedSegments() {
			if si.ID == id && !mapsEqual(si.Partitions, seen) {
				t.Fatalf("segment %d: info partitions %v, entries %v", id, si.Partitions, seen)
			}
		}
	}
	if i != len(want) {
		t.Fatalf("ReadSegment saw %d entries, want %d", i, len(want))
	}
	stop := errors.New("stop")
	if err := l.Replay(func(Entry) error { return stop }); err != stop {
		t.Fatalf("Replay returned %v, want the callback's error", err)
	}
	l.Close()
	check(mustOpen(t, cfg))
}

func mapsEqual(a, b map[Key]PartitionRange) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSealByAge(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentMaxAge = 10 * time.Millisecond
	seals := make(chan SegmentInfo, 10)
	cfg.OnSeal = func(si SegmentInfo) { seals <- si }
	l := mustOpen(t, cfg)
	k := testKey(0)
	before := time.Now()
	appendWait(t, l, testEntry(k, 0, 3, 50))
	si := <-seals
	if si.Partitions[k] != (PartitionRange{First: 0, Next: 3}) || si.Size != segmentHeaderSize+frameHeaderSize+50 {
		t.Fatalf("sealed %+v", si)
	}
	if si.FirstEntryTime.Before(before) {
		t.Fatalf("FirstEntryTime %v before the append at %v", si.FirstEntryTime, before)
	}
	// The new active segment is empty and must stay unsealed; a second
	// entry starts its clock.
	appendWait(t, l, testEntry(k, 3, 1, 50))
	si2 := <-seals
	if si2.ID != si.ID+1 || si2.Partitions[k] != (PartitionRange{First: 3, Next: 4}) {
		t.Fatalf("second seal %+v", si2)
	}
	if st := l.Stats(); st.Seals != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClose(t *testing.T) {
	cfg := testConfig(t)
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(0)
	dones := make(chan error, 100)
	for i := range 100 {
		e := testEntry(k, int64(i), 1, 100)
		e.Done = func(err error) { dones <- err }
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := <-dones; err != nil {
			t.Fatalf("Done after Close: %v", err)
		}
	}
	if err := l.Append(testEntry(k, 100, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	if _, err := l.Read(k, 0, 10, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	l2 := mustOpen(t, cfg)
	if r, _ := l2.Range(k); r.Next != 100 {
		t.Fatalf("after reopen Range %+v", r)
	}
}

func TestDirectoryLocked(t *testing.T) {
	cfg := testConfig(t)
	mustOpen(t, cfg)
	if l, err := Open(cfg); err == nil {
		l.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}
