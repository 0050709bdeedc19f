package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Entry is what the broker appends: one partition's records from one
// produce request (one or more whole Kafka RecordBatch v2, offsets already
// assigned).
type Entry struct {
	Key          Key
	BaseOffset   int64  // first offset in Data
	LastOffset   int64  // last offset in Data (inclusive)
	MaxTimestamp int64  // max record timestamp in Data (ms)
	Data         []byte // the batches, stored byte-for-byte
	// DataCRC, when HasDataCRC is set, is the CRC-32C (Castagnoli) of
	// Data, which the caller already knows (the partition derives it from
	// the batch CRCs it verified); the frame's CRC is then combined from
	// it instead of reading Data once more. A wrong value makes the frame
	// fail its CRC check at recovery and upload, as corruption would.
	DataCRC    uint32
	HasDataCRC bool
	// Done, if non-nil, is called exactly once from the commit goroutine
	// after the fsync covering this entry (err == nil) or on failure
	// (err != nil). It is called only if Append returned nil. It must be
	// fast, must not block and must not call Append, Sync or Close.
	Done func(err error)
}

// PartitionRange is the span of offsets a log holds for one partition.
type PartitionRange struct {
	First int64 // first offset still held
	Next  int64 // next offset after the last logged
}

// Stats are cumulative counters since Open.
type Stats struct {
	Commits uint64 // group commits: one write and one fdatasync each
	Entries uint64 // entries made durable
	Bytes   uint64 // frame bytes made durable
	Fsyncs  uint64 // every fsync issued: commits, new segment files, directories
	Seals   uint64 // segments sealed
	// MemoryBytes is the payload bytes segments keep in memory for the
	// uploader now (Config.UploadMemoryBytes); not cumulative.
	MemoryBytes int64
}

// Log is the broker-wide write-ahead log. All methods are safe for
// concurrent use.
type Log struct {
	cfg  Config
	log  *slog.Logger
	lock *dirLock

	// mu guards the append queue and the lifecycle state below it.
	mu          sync.Mutex
	space       sync.Cond    // on mu: queued bytes fell, a ticket advanced, or the log stopped
	queue       *commitQueue // entries accepted but not yet taken by the committer
	queuedBytes int64        // frame bytes accepted but not yet written
	nextTicket  uint64       // backpressure: next ticket to hand out
	serving     uint64       // backpressure: ticket allowed to proceed
	waiting     int          // backpressure: appenders holding a ticket
	appended    map[Key]int64
	epochs      map[Key]int32 // leader epoch of the last entry appended per partition (see restarts in doc.go)
	closing     bool
	failed      error        // sticky write/fsync failure
	sealAsked   []func(bool) // SealNow callbacks, served by the next round

	wake          chan struct{} // capacity 1: the committer has work
	committerDone chan struct{}

	// indexMu guards parts, segments, closed and the indexMu fields of
	// each segment.
	indexMu  sync.RWMutex
	parts    map[Key]*partitionIndex
	segments []*segment // live segments in id order; the last is active
	closed   bool
	// keptBytes is the payload bytes segments keep in memory for
	// ReadSegmentInto (Config.UploadMemoryBytes).
	keptBytes int64

	active *segment // commit goroutine (and Open/Close around it)

	sp spares // the next segment's file, prepared ahead (see spare.go)

	diskBytes  atomic.Int64 // bytes written to all live segment files
	extraBytes atomic.Int64 // bytes in spare files and the active segment's unwritten tail
	stats      struct{ commits, entries, bytes, fsyncs, seals atomic.Uint64 }
}

// commitQueue is one group of accepted entries: their encoded frame
// headers back to back in hdrs, and per-entry metadata and payload in
// ents. The commit writes each header and payload in place with one
// vectored write, so an entry's bytes are not copied on their way to the
// file. Two queues alternate between the appenders and the committer, so
// their memory is reused.
type commitQueue struct {
	hdrs []byte
	ents []queued
}

// queued is one accepted entry or, with size 0, a Sync barrier.
type queued struct {
	key   Key
	base  int64
	maxTs int64
	span  uint32
	size  uint32 // frame bytes; 0 for a barrier
	data  []byte // the payload (the WAL owns it after Append)
	done  func(error)
}

// reset empties q for reuse.
func (q *commitQueue) reset() {
	q.hdrs = q.hdrs[:0]
	clear(q.ents) // drop payloads and Done closures
	q.ents = q.ents[:0]
}

// Open opens the log in cfg.Dir, creating the directory if needed, and
// recovers the segments found there: every frame of every segment is
// verified; a torn tail of the newest segment is cut off; corruption
// anywhere else fails Open with a *CorruptionError. Recovered segments with
// entries are sealed and a new active segment is started.
func Open(cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal directory: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("lock wal directory: %w", err)
	}
	l := &Log{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "wal", "dir", cfg.Dir),
		lock:          lock,
		queue:         &commitQueue{},
		appended:      make(map[Key]int64),
		epochs:        make(map[Key]int32),
		wake:          make(chan struct{}, 1),
		committerDone: make(chan struct{}),
		parts:         make(map[Key]*partitionIndex),
		sp:            spares{wake: make(chan struct{}, 1), done: make(chan struct{})},
	}
	l.space.L = &l.mu
	if err := l.recover(); err != nil {
		for _, s := range l.segments {
			s.f.Close()
		}
		for _, f := range l.sp.free {
			f.f.Close()
		}
		lock.release()
		return nil, fmt.Errorf("recover wal %s: %w", cfg.Dir, err)
	}
	for k, p := range l.parts {
		l.appended[k] = p.rangeOf().Next
	}
	go l.prepareLoop()
	l.nextPrepared(l.active.id+1, min(l.cfg.SegmentMaxBytes, 4<<20))
	go l.run()
	return l, nil
}

// checkEntry validates an entry before it is queued.
func checkEntry(e *Entry) error {
	switch {
	case len(e.Data) == 0:
		return fmt.Errorf("append %v: empty data", e.Key)
	case len(e.Data) > MaxEntryBytes:
		return fmt.Errorf("append %v: %d bytes exceeds the %d byte entry limit", e.Key, len(e.Data), MaxEntryBytes)
	case e.Key.Partition < 0:
		return fmt.Errorf("append %v: negative partition", e.Key)
	case e.BaseOffset < 0 || e.LastOffset < e.BaseOffset || e.LastOffset-e.BaseOffset > maxEntrySpan:
		return fmt.Errorf("append %v: bad offset range [%d, %d]", e.Key, e.BaseOffset, e.LastOffset)
	}
	return nil
}

// Append queues e and returns once it is queued; e.Done reports
// durability. Entries are logged in the order their Append calls are
// admitted, and per partition offsets must increase (ErrOutOfOrder),
// except that an entry of a newer leader epoch than the partition's last
// one may restart it at a lower offset (see doc.go).
// Append blocks while MaxPendingBytes are queued, and fails with ErrFull,
// ErrClosed, or the log's sticky write/fsync error. The WAL owns e.Data
// after the call.
func (l *Log) Append(e Entry) error {
	if err := checkEntry(&e); err != nil {
		return err
	}
	var hdr [frameHeaderSize]byte
	putFrameCRC(hdr[:], putFrameHeader(hdr[:], &e)) // CRC outside the lock
	size := int64(frameHeaderSize + len(e.Data))

	l.mu.Lock()
	if err := l.admitLocked(size); err != nil {
		l.mu.Unlock()
		return err
	}
	epoch := payloadEpoch(e.Data)
	if next, ok := l.appended[e.Key]; ok && e.BaseOffset < next {
		// Only a new leadership may restart a partition lower (doc.go).
		if last, ok := l.epochs[e.Key]; !ok || epoch <= last {
			l.mu.Unlock()
			return fmt.Errorf("append %v at offset %d, next is %d: %w", e.Key, e.BaseOffset, next, ErrOutOfOrder)
		}
	}
	l.epochs[e.Key] = epoch
	q := l.queue
	q.hdrs = append(q.hdrs, hdr[:]...)
	q.ents = append(q.ents, queued{
		key:   e.Key,
		base:  e.BaseOffset,
		maxTs: e.MaxTimestamp,
		span:  uint32(e.LastOffset - e.BaseOffset),
		size:  uint32(size),
		data:  e.Data,
		done:  e.Done,
	})
	l.queuedBytes += size
	l.appended[e.Key] = e.LastOffset + 1
	l.mu.Unlock()
	l.signal()
	return nil
}

// stateErrLocked returns why no more appends are accepted, if so.
func (l *Log) stateErrLocked() error {
	if l.failed != nil {
		return l.failed
	}
	if l.closing {
		return ErrClosed
	}
	return nil
}

// admitLocked waits until size more bytes may be queued. Waiters are
// served first come, first served, so a large entry is not starved by
// small ones. l.mu must be held.
func (l *Log) admitLocked(size int64) error {
	if err := l.stateErrLocked(); err != nil {
		return err
	}
	if l.waiting > 0 || l.overPendingLocked(size) {
		ticket := l.nextTicket
		l.nextTicket++
		l.waiting++
		for l.stateErrLocked() == nil && (ticket != l.serving || l.overPendingLocked(size)) {
			l.space.Wait()
		}
		l.waiting--
		l.serving++
		l.space.Broadcast()
		if err := l.stateErrLocked(); err != nil {
			return err
		}
	}
	// One segment header of slack: the entry may be followed by a seal.
	// Spare files count too, and are given back when the budget is short.
	if l.cfg.MaxBytes > 0 && l.diskBytes.Load()+l.extraBytes.Load()+l.queuedBytes+size+segmentHeaderSize > l.cfg.MaxBytes {
		l.sp.shed.Store(true)
		l.sp.signal()
		return ErrFull
	}
	return nil
}

// overPendingLocked reports whether queuing size more bytes must wait. An
// entry bigger than MaxPendingBytes still goes through when nothing else is
// queued.
func (l *Log) overPendingLocked(size int64) bool {
	return l.queuedBytes > 0 && l.queuedBytes+size > l.cfg.MaxPendingBytes
}

func (l *Log) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SealNow asks the commit goroutine to seal the active segment, if it
// holds any entry, right after writing everything queued before the call:
// the entries appended before SealNow end up in the sealed segment (or an
// earlier one). It never blocks. done, if not nil, is called once from the
// commit goroutine (or at once when the log is closed or failed) with
// whether a segment was sealed; it must not block. OnSeal reports the seal
// as for any other. The object tier's uploader uses it when
// acknowledgements wait for an upload and it has nothing else to do
// (group commit for the object store).
func (l *Log) SealNow(done func(sealed bool)) {
	if done == nil {
		done = func(bool) {}
	}
	l.mu.Lock()
	if l.stateErrLocked() != nil {
		l.mu.Unlock()
		done(false)
		return
	}
	l.sealAsked = append(l.sealAsked, done)
	l.mu.Unlock()
	l.signal()
}

// Sync forces a commit of everything queued before it and waits until it
// is durable.
func (l *Log) Sync() error {
	done := make(chan error, 1)
	l.mu.Lock()
	if err := l.stateErrLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	l.queue.ents = append(l.queue.ents, queued{done: func(err error) { done <- err }})
	l.mu.Unlock()
	l.signal()
	return <-done
}

// Close commits and fsyncs everything queued, calls the Done callbacks of
// queued entries, and closes the files. It returns the log's sticky error
// if it failed. Operations after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		<-l.committerDone
		return ErrClosed
	}
	l.closing = true
	l.space.Broadcast()
	l.mu.Unlock()
	l.signal()
	<-l.committerDone
	l.stopPreparer()

	var errs []error
	// Leave the active segment ending at its last frame, so the next Open
	// has no preallocated tail to cut.
	if !l.isFailed() {
		if err := l.trimTail(l.active); err != nil {
			errs = append(errs, err)
		}
	}
	l.indexMu.Lock()
	l.closed = true
	segs := l.segments
	for _, s := range segs {
		l.dropKeptLocked(s)
	}
	l.indexMu.Unlock()
	for _, s := range segs {
		s.readers.Wait()
		if err := s.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close segment %d: %w", s.id, err))
		}
	}
	if err := l.lock.release(); err != nil {
		errs = append(errs, fmt.Errorf("unlock wal directory: %w", err))
	}
	l.mu.Lock()
	failed := l.failed
	l.mu.Unlock()
	if failed != nil {
		errs = append([]error{failed}, errs...)
	}
	return errors.Join(errs...)
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.indexMu.RLock()
	kept := l.keptBytes
	l.indexMu.RUnlock()
	return Stats{
		MemoryBytes: kept,
		Commits:     l.stats.commits.Load(),
		Entries:     l.stats.entries.Load(),
		Bytes:       l.stats.bytes.Load(),
		Fsyncs:      l.stats.fsyncs.Load(),
		Seals:       l.stats.seals.Load(),
	}
}

// Bytes returns the bytes written to all segment files: their frames and
// headers. Spare files and preallocated space are not included.
func (l *Log) Bytes() int64 { return l.diskBytes.Load() }
