package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// testKey returns a distinct partition key for i.
func testKey(i int) Key {
	var k Key
	binary.BigEndian.PutUint32(k.Topic[:], uint32(i/4+1))
	k.Topic[15] = 0xAB
	k.Partition = int32(i % 4)
	return k
}

// testData returns deterministic bytes for an entry, so that reads can be
// checked against what was appended.
func testData(k Key, base int64, size int) []byte {
	b := make([]byte, size)
	seed := uint64(base)*0x9E3779B97F4A7C15 ^ uint64(k.Partition)<<32 ^ uint64(binary.BigEndian.Uint32(k.Topic[:]))
	for i := range b {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		b[i] = byte(seed)
	}
	return b
}

func testEntry(k Key, base int64, records, size int) Entry {
	return Entry{
		Key:          k,
		BaseOffset:   base,
		LastOffset:   base + int64(records) - 1,
		MaxTimestamp: 1_700_000_000_000 + base,
		Data:         testData(k, base, size),
	}
}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.SegmentMaxAge = time.Hour // tests seal by size unless they say otherwise
	return cfg
}

func mustOpen(t testing.TB, cfg Config) *Log {
	t.Helper()
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendWait appends e and waits for its Done.
func appendWait(t testing.TB, l *Log, e Entry) {
	t.Helper()
	done := make(chan error, 1)
	e.Done = func(err error) { done <- err }
	if err := l.Append(e); err != nil {
		t.Fatalf("Append %v@%d: %v", e.Key, e.BaseOffset, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Done %v@%d: %v", e.Key, e.BaseOffset, err)
	}
}

// model records what was appended per partition, to check reads against.
type model struct {
	mu      sync.Mutex
	entries map[Key][]Entry
	next    map[Key]int64
}

func newModel() *model {
	return &model{entries: make(map[Key][]Entry), next: make(map[Key]int64)}
}

// appendTo appends a new entry of the given shape to k through l and records
// it. Callers serialize per key.
func (m *model) appendTo(t testing.TB, l *Log, k Key, records, size int, done func(error)) Entry {
	t.Helper()
	m.mu.Lock()
	base := m.next[k]
	m.next[k] = base + int64(records)
	m.mu.Unlock()
	e := testEntry(k, base, records, size)
	e.Done = done
	if err := l.Append(e); err != nil {
		t.Fatalf("Append %v@%d: %v", k, base, err)
	}
	e.Done = nil
	m.mu.Lock()
	m.entries[k] = append(m.entries[k], e)
	m.mu.Unlock()
	return e
}

func (m *model) keys() []Key {
	var ks []Key
	for k := range m.entries {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

// verify checks that l holds exactly the modelled entries from each
// partition's first held entry on, reading them one at a time and all at
// once.
func (m *model) verify(t testing.TB, l *Log) {
	t.Helper()
	parts := l.Partitions()
	for _, k := range m.keys() {
		want := m.entries[k]
		r, ok := parts[k]
		if !ok {
			t.Fatalf("partition %v missing", k)
		}
		if r.Next != want[len(want)-1].LastOffset+1 {
			t.Fatalf("%v: Next = %d, want %d", k, r.Next, want[len(want)-1].LastOffset+1)
		}
		i := sort.Search(len(want), func(i int) bool { return want[i].BaseOffset >= r.First })
		if i == len(want) || want[i].BaseOffset != r.First {
			t.Fatalf("%v: First = %d is not an entry boundary", k, r.First)
		}
		var all []byte
		for _, e := range want[i:] {
			got, err := l.Read(k, e.BaseOffset, 1<<62, 1)
			if err != nil {
				t.Fatalf("Read %v@%d: %v", k, e.BaseOffset, err)
			}
			if !bytes.Equal(got, e.Data) {
				t.Fatalf("Read %v@%d: got %d bytes, want entry of %d bytes", k, e.BaseOffset, len(got), len(e.Data))
			}
			all = append(all, e.Data...)
		}
		got, err := l.Read(k, r.First, 1<<62, len(all))
		if err != nil {
			t.Fatalf("Read all of %v: %v", k, err)
		}
		if !bytes.Equal(got, all) {
			t.Fatalf("Read all of %v: got %d bytes, want %d", k, len(got), len(all))
		}
	}
	if len(parts) != len(m.entries) {
		t.Fatalf("log has %d partitions, model %d", len(parts), len(m.entries))
	}
}

// segmentFiles lists the segment files in dir in order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if _, ok := parseSegmentFileName(de.Name()); ok {
			names = append(names, filepath.Join(dir, de.Name()))
		}
	}
	sort.Strings(names)
	return names
}

// frameBounds returns the [start, end) byte ranges of the frames in a
// segment file.
func frameBounds(t testing.TB, b []byte) [][2]int {
	t.Helper()
	var out [][2]int
	pos := segmentHeaderSize
	salt := fileSalt(t, b)
	for pos < len(b) {
		_, n, err := decodeFrame(b[pos:], salt)
		if err != nil {
			t.Fatalf("decode frame at %d: %v", pos, err)
		}
		out = append(out, [2]int{pos, pos + n})
		pos += n
	}
	return out
}

// fileSalt returns the frame CRC salt of the segment file b.
func fileSalt(t testing.TB, b []byte) uint32 {
	t.Helper()
	h, err := decodeSegmentHeader(b)
	if err != nil {
		t.Fatalf("segment header: %v", err)
	}
	return h.salt()
}

var errInjected = errors.New("injected I/O error")

// activeID returns the id of l's active segment.
func activeID(l *Log) uint64 {
	l.indexMu.RLock()
	defer l.indexMu.RUnlock()
	return l.segments[len(l.segments)-1].id
}

// fileBytes sums the sizes of the segment files in dir.
func fileBytes(t testing.TB, dir string) int64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, de := range des {
		_, seg := parseSegmentFileName(de.Name())
		_, spare := parseSpareFileName(de.Name())
		if !seg && !spare {
			continue
		}
		fi, err := de.Info()
		if os.IsNotExist(err) {
			continue // a spare the preparer just deleted
		}
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	return total
}

// settlePreparer waits until the preparer has nothing left to do: it is
// idle (no round running or asked for, so no spare half made: its bytes
// counted, its file not yet written) and the next segment's file is ready,
// or the budget leaves no room for it. The deadline only keeps a broken
// preparer from hanging the test; a loaded machine may need most of it.
func settlePreparer(t testing.TB, l *Log) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		idle := l.sp.idle()
		l.sp.mu.Lock()
		done := idle && ((l.sp.ready != nil && l.sp.ready.id == l.sp.want) || !l.roomForSpares(l.sp.target))
		l.sp.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the preparer did not settle within a minute")
		}
		time.Sleep(time.Millisecond)
	}
}

// checkDiskBytes checks that the log's byte counts match the files in its
// directory: segment files and spares.
func checkDiskBytes(t testing.TB, l *Log) {
	t.Helper()
	quiesce(t, l)
	settlePreparer(t, l)
	if got, want := l.Bytes()+l.extraBytes.Load(), fileBytes(t, l.cfg.Dir); got != want {
		t.Fatalf("Bytes() %d + spare %d = %d, files hold %d", l.Bytes(), l.extraBytes.Load(), got, want)
	}
}

// quiesce waits until the commit goroutine has finished every round begun
// so far, including any seal that follows the last acknowledgements: the
// second Sync is served by a later round than the first.
func quiesce(t testing.TB, l *Log) {
	t.Helper()
	for range 2 {
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}
