package wal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashFixture is a closed log on disk plus the model of what it holds.
type crashFixture struct {
	cfg   Config
	files map[string][]byte // segment file name -> contents
	names []string          // segment file names in order
	m     *model
	last  Entry // the last entry appended; it is in the newest segment
}

// newCrashFixture writes several sealed segments and a newest segment with
// a few entries, then closes the log.
func newCrashFixture(t *testing.T) *crashFixture {
	t.Helper()
	cfg := testConfig(t)
	cfg.SegmentMaxBytes = 2 << 10
	l := mustOpen(t, cfg)
	m := newModel()
	var last Entry
	for i := range 23 {
		last = m.appendTo(t, l, testKey(i%3), 2, 150+i, nil)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fx := &crashFixture{cfg: cfg, files: map[string][]byte{}, m: m, last: last}
	for _, p := range segmentFiles(t, cfg.Dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fx.files[filepath.Base(p)] = b
		fx.names = append(fx.names, filepath.Base(p))
	}
	if len(fx.names) < 3 {
		t.Fatalf("fixture has %d segments, want sealed ones and a newest", len(fx.names))
	}
	if n := len(frameBounds(t, fx.newest())); n < 2 {
		t.Fatalf("newest segment holds %d frames, want at least 2", n)
	}
	return fx
}

func (fx *crashFixture) newest() []byte { return fx.files[fx.names[len(fx.names)-1]] }

// restore rewrites the directory with the fixture's files, replacing the
// contents of file name with b (nil: leave as is).
func (fx *crashFixture) restore(t *testing.T, name string, b []byte) {
	t.Helper()
	for _, p := range segmentFiles(t, fx.cfg.Dir) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for n, content := range fx.files {
		if n == name {
			content = b
		}
		if err := os.WriteFile(filepath.Join(fx.cfg.Dir, n), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// without returns the fixture's model minus the dropped entries.
func (fx *crashFixture) without(t *testing.T, dropped []Entry) *model {
	t.Helper()
	m := newModel()
	drop := map[[2]int64]bool{}
	for _, e := range dropped {
		drop[[2]int64{int64(e.Key.Partition), e.BaseOffset}] = true
	}
	for k, es := range fx.m.entries {
		for _, e := range es {
			if !drop[[2]int64{int64(k.Partition), e.BaseOffset}] {
				m.entries[k] = append(m.entries[k], e)
				m.next[k] = e.LastOffset + 1
			}
		}
	}
	return m
}

// newestEntries decodes the entries of the fixture's newest segment.
func (fx *crashFixture) newestEntries(t *testing.T) []Entry {
	b := fx.newest()
	var es []Entry
	for _, fb := range frameBounds(t, b) {
		e, _, _ := decodeFrame(b[fb[0]:fb[1]], fileSalt(t, b))
		es = append(es, e)
	}
	return es
}

// checkRecovered opens the damaged log, checks it holds exactly m, and
// that the partition of `cut` continues at cut's base offset.
func (fx *crashFixture) checkRecovered(t *testing.T, m *model, cut Entry, appendAfter bool) {
	t.Helper()
	l, err := Open(fx.cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	m.verify(t, l)
	if r, _ := l.Range(cut.Key); r.Next != cut.BaseOffset {
		t.Fatalf("%v: Next = %d after recovery, want %d", cut.Key, r.Next, cut.BaseOffset)
	}
	if !appendAfter {
		return
	}
	e := testEntry(cut.Key, cut.BaseOffset, 1, 33)
	appendWait(t, l, e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(fx.cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l2.Close()
	if got, err := l2.Read(cut.Key, cut.BaseOffset, cut.BaseOffset+1, 1); err != nil || !bytes.Equal(got, e.Data) {
		t.Fatalf("entry appended after recovery: %v", err)
	}
}

// TestRecoverTornTail cuts the newest segment at every byte of its last
// frame: recovery keeps everything before it and offsets continue.
func TestRecoverTornTail(t *testing.T) {
	fx := newCrashFixture(t)
	b := fx.newest()
	bounds := frameBounds(t, b)
	lastFrame := bounds[len(bounds)-1]
	m := fx.without(t, []Entry{fx.last})
	for cut := lastFrame[0]; cut < lastFrame[1]; cut++ {
		fx.restore(t, fx.names[len(fx.names)-1], b[:cut])
		fx.checkRecovered(t, m, fx.last, cut%32 == 0)
		if t.Failed() {
			t.Fatalf("cut at %d of frame [%d, %d)", cut, lastFrame[0], lastFrame[1])
		}
	}
	// A garbage tail after whole frames (zeroed blocks after a crash) is cut too.
	fx.restore(t, fx.names[len(fx.names)-1], append(append([]byte(nil), b...), make([]byte, 4096)...))
	fx.checkRecovered(t, fx.m, testEntry(fx.last.Key, fx.last.LastOffset+1, 1, 1), true)
}

// TestRecoverFlippedByte flips each byte of the newest segment's last frame:
// the frame is dropped, everything before it stays.
func TestRecoverFlippedByte(t *testing.T) {
	fx := newCrashFixture(t)
	b := fx.newest()
	bounds := frameBounds(t, b)
	lastFrame := bounds[len(bounds)-1]
	m := fx.without(t, []Entry{fx.last})
	for pos := lastFrame[0]; pos < lastFrame[1]; pos++ {
		damaged := append([]byte(nil), b...)
		damaged[pos] ^= 0x5A
		fx.restore(t, fx.names[len(fx.names)-1], damaged)
		fx.checkRecovered(t, m, fx.last, pos%64 == 0)
		if t.Failed() {
			t.Fatalf("flip at %d of frame [%d, %d)", pos, lastFrame[0], lastFrame[1])
		}
	}
}

// TestRecoverCorruptionInNewestSegmentCutsThere shows the documented
// behaviour for a bad frame in the middle of the newest segment: it and
// everything after it in that segment are dropped.
func TestRecoverCorruptionInNewestSegmentCutsThere(t *testing.T) {
	fx := newCrashFixture(t)
	b := append([]byte(nil), fx.newest()...)
	bounds := frameBounds(t, b)
	b[bounds[0][0]+frameHeaderSize+3] ^= 1
	fx.restore(t, fx.names[len(fx.names)-1], b)
	dropped := fx.newestEntries(t)
	m := fx.without(t, dropped)
	fx.checkRecovered(t, m, dropped[0], true)
}

// TestRecoverSyncsKeptTail: a crash left the newest segment's last frame
// written but not fsynced (in the page cache only). Recovery keeps it and
// seals the segment, so it must make it durable first: after a second
// crash right after recovery, which loses every byte never fsynced, the
// log still holds every entry the first recovery reported.
func TestRecoverSyncsKeptTail(t *testing.T) {
	fx := newCrashFixture(t)
	newest := fx.names[len(fx.names)-1]
	path := filepath.Join(fx.cfg.Dir, newest)
	b := fx.newest()
	bounds := frameBounds(t, b)
	// What stable storage held at the first crash: the frames before the
	// last one (the last commit's fdatasync never returned).
	durable := b[:bounds[len(bounds)-1][0]]

	for _, tc := range []struct {
		name string
		tail []byte // bytes after the unsynced frame: none, or a recycled file's stale ones
	}{
		{"ends at the frame", nil},
		{"stale tail", bytes.Repeat([]byte{0xA5}, 300)},
	} {
		fx.restore(t, newest, append(append([]byte(nil), b...), tc.tail...))
		cfg := fx.cfg
		synced := false
		cfg.hooks.recoverySynced = func(p string) { synced = synced || p == path }
		l, err := Open(cfg)
		if err != nil {
			t.Fatalf("%s: Open: %v", tc.name, err)
		}
		fx.m.verify(t, l) // recovery kept the unsynced frame
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}

		// Second crash: the segment loses whatever recovery did not fsync.
		if !synced {
			if err := os.WriteFile(path, durable, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l2, err := Open(fx.cfg)
		if err != nil {
			t.Fatalf("%s: Open after the second crash: %v", tc.name, err)
		}
		fx.m.verify(t, l2)
		l2.Close()
		if t.Failed() {
			t.Fatalf("%s: entries recovery reported did not survive the next crash", tc.name)
		}
	}
}

// TestRecoverCorruptSealedSegment: a bad frame in an older segment fails
// Open with a CorruptionError naming the file and the frame's position.
func TestRecoverCorruptSealedSegment(t *testing.T) {
	fx := newCrashFixture(t)
	name := fx.names[0]
	for _, which := range []string{"payload", "length", "crc", "truncated"} {
		b := append([]byte(nil), fx.files[name]...)
		bounds := frameBounds(t, b)
		frame := bounds[1]
		switch which {
		case "payload":
			b[frame[0]+frameHeaderSize+10] ^= 0x80
		case "length":
			b[frame[0]+5] ^= 0x01
		case "crc":
			b[frame[0]] ^= 0xFF
		case "truncated":
			b = b[:frame[1]-1]
			frame = bounds[len(bounds)-1]
			if len(bounds) == 2 {
				frame = bounds[1]
			}
		}
		fx.restore(t, name, b)
		_, err := Open(fx.cfg)
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: Open returned %v, want a CorruptionError", which, err)
		}
		if ce.Path != filepath.Join(fx.cfg.Dir, name) {
			t.Fatalf("%s: CorruptionError names %s", which, ce.Path)
		}
		if which != "truncated" && ce.Offset != int64(frame[0]) {
			t.Fatalf("%s: CorruptionError at %d, frame starts at %d", which, ce.Offset, frame[0])
		}
	}
}

func TestRecoverSegmentHeaders(t *testing.T) {
	fx := newCrashFixture(t)
	newest := fx.names[len(fx.names)-1]
	lastID, _ := parseSegmentFileName(newest)

	// A bad header on a segment with frames is corruption, newest or not.
	for _, name := range []string{fx.names[0], newest} {
		b := append([]byte(nil), fx.files[name]...)
		b[2] ^= 1
		fx.restore(t, name, b)
		var ce *CorruptionError
		if _, err := Open(fx.cfg); !errors.As(err, &ce) || ce.Offset != 0 {
			t.Fatalf("bad header of %s: %v", name, err)
		}
	}

	// A segment whose header names another id is corruption.
	fx.restore(t, "", nil)
	renamed := filepath.Join(fx.cfg.Dir, segmentFileName(lastID+1))
	if err := os.WriteFile(renamed, fx.newest(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fx.cfg); err == nil || !strings.Contains(err.Error(), "header names segment") {
		t.Fatalf("mismatched id: %v", err)
	}
	os.Remove(renamed)

	// A crash while creating the next segment leaves a short or zeroed
	// header: reset and reused as the active segment.
	torn := [][]byte{
		nil,
		appendSegmentHeader(nil, lastID+1, time.Now())[:20],
		make([]byte, segmentHeaderSize),
	}
	for i, content := range torn {
		fx.restore(t, "", nil)
		path := filepath.Join(fx.cfg.Dir, segmentFileName(lastID+1))
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(fx.cfg)
		if err != nil {
			t.Fatalf("torn header %d: %v", i, err)
		}
		fx.m.verify(t, l)
		if got := activeID(l); got != lastID+1 {
			t.Fatalf("torn header %d: active segment %d, want the reset %d", i, got, lastID+1)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); len(b) != segmentHeaderSize {
			t.Fatalf("torn header %d: reset segment is %d bytes", i, len(b))
		}
	}

	// The same torn file followed by another segment is not a crash
	// artefact: corruption.
	fx.restore(t, "", nil)
	os.WriteFile(filepath.Join(fx.cfg.Dir, segmentFileName(lastID+1)), make([]byte, 10), 0o644)
	os.WriteFile(filepath.Join(fx.cfg.Dir, segmentFileName(lastID+2)), appendSegmentHeader(nil, lastID+2, time.Now()), 0o644)
	var ce *CorruptionError
	if _, err := Open(fx.cfg); !errors.As(err, &ce) {
		t.Fatalf("torn older segment: %v", err)
	}
}

// TestRecoverBackwardOffsets: valid frames whose offsets go backwards for a
// partition cannot come from Append and are corruption.
func TestRecoverBackwardOffsets(t *testing.T) {
	dir := t.TempDir()
	b := appendSegmentHeader(nil, 1, time.Now())
	for _, base := range []int64{10, 5} {
		e := testEntry(testKey(0), base, 1, 20)
		var hdr [frameHeaderSize]byte
		putFrameCRC(hdr[:], putFrameHeader(hdr[:], &e)^frameSalt(1))
		b = append(append(b, hdr[:]...), e.Data...)
	}
	os.WriteFile(filepath.Join(dir, segmentFileName(1)), b, 0o644)
	var ce *CorruptionError
	if _, err := Open(Config{Dir: dir}); !errors.As(err, &ce) || ce.Offset != segmentHeaderSize+frameHeaderSize+20 {
		t.Fatalf("Open: %v", err)
	}
}

// TestRecoverMissingSegment: segment ids run without gaps (sealing names
// the next id, and only the oldest segment is ever removed), so a missing
// segment between two others is lost data: Open fails with a
// CorruptionError naming the missing file. A missing oldest segment is
// what RemoveSegment leaves.
func TestRecoverMissingSegment(t *testing.T) {
	fx := newCrashFixture(t)
	fx.restore(t, "", nil)
	missing := filepath.Join(fx.cfg.Dir, fx.names[1])
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if _, err := Open(fx.cfg); !errors.As(err, &ce) || ce.Path != missing {
		t.Fatalf("Open with %s missing: %v, want a CorruptionError naming it", fx.names[1], err)
	}

	fx.restore(t, "", nil)
	if err := os.Remove(filepath.Join(fx.cfg.Dir, fx.names[0])); err != nil {
		t.Fatal(err)
	}
	l, err := Open(fx.cfg)
	if err != nil {
		t.Fatalf("Open without the oldest segment: %v", err)
	}
	l.Close()
}

// TestRecoverKeepsEmptyMiddleSegment: an empty segment between segments
// with entries (a Sync seals one when SegmentMaxBytes is no larger than a
// header)
// stays, so that the ids keep running without a gap on the next Open.
func TestRecoverKeepsEmptyMiddleSegment(t *testing.T) {
	cfg := testConfig(t)
	k := testKey(0)
	for id := uint64(1); id <= 3; id++ {
		b := appendSegmentHeader(nil, id, time.Now())
		if id != 2 {
			e := testEntry(k, int64(id), 1, 20)
			var hdr [frameHeaderSize]byte
			putFrameCRC(hdr[:], putFrameHeader(hdr[:], &e)^frameSalt(id))
			b = append(append(b, hdr[:]...), e.Data...)
		}
		if err := os.WriteFile(filepath.Join(cfg.Dir, segmentFileName(id)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		l, err := Open(cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if got := len(l.SealedSegments()); got != 3 {
			t.Errorf("%d sealed segments, want 3", got)
		}
		if r, _ := l.Range(k); r.First != 1 || r.Next != 4 {
			t.Errorf("range %+v, want [1, 4)", r)
		}
		l.Close()
	}
}

func TestRecoverRemovesEmptyOlderSegments(t *testing.T) {
	cfg := testConfig(t)
	for id := uint64(1); id <= 3; id++ {
		os.WriteFile(filepath.Join(cfg.Dir, segmentFileName(id)), appendSegmentHeader(nil, id, time.Now()), 0o644)
	}
	os.WriteFile(filepath.Join(cfg.Dir, "notes.txt"), []byte("not a segment"), 0o644)
	l := mustOpen(t, cfg)
	if files := segmentFiles(t, cfg.Dir); len(files) != 1 || filepath.Base(files[0]) != segmentFileName(3) {
		t.Fatalf("segment files after Open: %v", files)
	}
	if len(l.SealedSegments()) != 0 || l.Bytes() != segmentHeaderSize {
		t.Fatalf("sealed %v, bytes %d", l.SealedSegments(), l.Bytes())
	}
}

const killChildEnv = "SHALE_WAL_KILL_CHILD_DIR"

// killEntrySize is the payload size of the kill test's entry at base.
func killEntrySize(base int64) int { return 100 + int(base*7919%1900) }

// TestKill9 runs appenders in a child process, SIGKILLs it mid-stream and
// checks that every entry the child saw acknowledged survives.
func TestKill9(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		runKillChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		k    Key
		base int64
	}
	var acks []ack
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		p, _ := strconv.Atoi(f[1])
		base, _ := strconv.ParseInt(f[2], 10, 64)
		acks = append(acks, ack{testKey(p), base})
		if len(acks) == 3000 && !killed {
			cmd.Process.Kill() // SIGKILL; acks already in the pipe are still read
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child exited after %d acks without being killed", len(acks))
	}

	l := mustOpen(t, Config{Dir: dir})
	maxAcked := map[Key]int64{}
	for _, a := range acks {
		want := testData(a.k, a.base, killEntrySize(a.base))
		got, err := l.Read(a.k, a.base, a.base+1, 1)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("acknowledged %v@%d: read %d bytes, err %v", a.k, a.base, len(got), err)
		}
		maxAcked[a.k] = max(maxAcked[a.k], a.base)
	}
	for k, base := range maxAcked {
		r, _ := l.Range(k)
		if r.Next <= base {
			t.Fatalf("%v: Next %d, acknowledged up to %d", k, r.Next, base)
		}
		appendWait(t, l, testEntry(k, r.Next, 1, 10))
	}
	t.Logf("%d acknowledged entries survived SIGKILL; %d segments", len(acks), len(segmentFiles(t, dir)))
}

// runKillChild appends forever from four goroutines, printing one line per
// acknowledged entry, until it is killed (or a minute passes).
func runKillChild(dir string) {
	l, err := Open(Config{Dir: dir, SegmentMaxBytes: 64 << 10, SegmentMaxAge: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	for p := range 4 {
		go func() {
			k := testKey(p)
			for base := int64(0); ; base += 3 {
				e := testEntry(k, base, 3, killEntrySize(base))
				e.Done = func(err error) {
					if err != nil {
						return
					}
					outMu.Lock()
					fmt.Fprintf(os.Stdout, "ack %d %d\n", p, base)
					outMu.Unlock()
				}
				if err := l.Append(e); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
			}
		}()
	}
	time.Sleep(time.Minute)
	os.Exit(3)
}
