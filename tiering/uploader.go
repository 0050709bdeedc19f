package tiering

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/internal/hugepage"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/wal"
)

// Catalog is the part of the metadata store the uploader uses.
//
// CommitObjects commits objects in order, each decided as if committed
// alone after the ones before it (metadata.Store.CommitObjects): results[i]
// is cs[i]'s, and its Err, when set, is a final refusal of that object
// alone. An error is the call's: its outcome is unknown and the uploader
// retries the same commits.
type Catalog interface {
	CommitObjects(ctx context.Context, cs []metadata.ObjectCommit) ([]metadata.CommitResult, error)
	PartitionLog(topic metadata.TopicID, partition int32) (metadata.PartitionLog, bool)
	TopicByID(id metadata.TopicID) (metadata.Topic, bool)
}

// UploaderConfig configures an Uploader.
type UploaderConfig struct {
	BrokerID int32
	// LocalRetainBytes is how many bytes of already-uploaded segments stay
	// in the local WAL for hot reads; older uploaded segments are removed.
	LocalRetainBytes int64
	// SparseInterval is the byte distance between sparse index entries.
	SparseInterval int64
	// Concurrency is how many segments may be on their way at once
	// (built, PUT or waiting for their commit); their commits happen in
	// segment order.
	Concurrency int
	// CommitBatch is how many stored uploads, ready at the head of the
	// queue, the committer commits together in one catalog call (one
	// raft entry): 0 means Concurrency. 1 commits each object alone.
	CommitBatch int
	// PutRate and PutBurst are the PUT budget of group commit: uploads
	// earn PutRate tokens a second, up to PutBurst saved, and every
	// segment uploaded spends one (never below zero). When acks=all
	// producers wait and no upload is on its way, the uploader seals the
	// WAL's active segment at once (group commit for the object store) if
	// a token is there, else as soon as one is. So early uploads never
	// raise the PUT rate above PutRate over a PutBurst/PutRate window,
	// and at full load, when size seals use every token, there are none.
	// A PutBurst below 1 turns group commit off: only the segment's age
	// or size seal it.
	PutRate  float64
	PutBurst float64
	// OnSegment, if set, is called from the upload loop with the trace
	// of every segment uploaded: when each step of its way happened.
	OnSegment func(SegmentTrace)
	// RetryMin and RetryMax bound the backoff between failed PUTs or
	// commits; uploads retry until they succeed or the uploader closes.
	RetryMin, RetryMax time.Duration
	// OnCommitted is called after data of partition k up to end
	// (exclusive) is committed to the catalog.
	OnCommitted func(k wal.Key, end int64)
	// OnFenced is called, once per partition and epoch, when data of
	// partition k written under leader epoch epoch can never be committed:
	// the catalog refused it (the partition has a newer epoch, or the data
	// does not continue its log). The uploader skips the partition's data
	// of that epoch and older from then on; its producers must be told
	// this broker no longer leads it.
	OnFenced func(k wal.Key, epoch int32)
	// OrphanGrace is the garbage collector's orphan grace: an object the
	// catalog does not know is deleted once it is older than that. An
	// object whose PUT started more than half of it ago is uploaded again
	// under a new key before it is committed, so a commit never names an
	// object the GC may have deleted.
	OrphanGrace time.Duration
	// ProducerExpiration is producer id expiration: the catalog forgets
	// a producer's state in a partition when no commit touched it for
	// that long (0 keeps it).
	ProducerExpiration time.Duration
	Logger             *slog.Logger
}

// DefaultUploaderConfig keeps 256 MiB of uploaded data locally.
func DefaultUploaderConfig() UploaderConfig {
	return UploaderConfig{
		BrokerID:         1,
		LocalRetainBytes: 256 << 20,
		SparseInterval:   index.DefaultSparseInterval,
		Concurrency:      4,
		RetryMin:         100 * time.Millisecond,
		RetryMax:         5 * time.Second,
		OrphanGrace:      24 * time.Hour,
		// One upload per default segment age (250ms) on average, up to
		// ten minutes of it saved for bursts of acks=all writes.
		PutRate:  4,
		PutBurst: 2400,
	}
}

// Validate reports the first bad setting.
func (c UploaderConfig) Validate() error {
	switch {
	case c.LocalRetainBytes < 0:
		return fmt.Errorf("local retain bytes %d: must be >= 0", c.LocalRetainBytes)
	case c.Concurrency < 1 || c.Concurrency > 64:
		return fmt.Errorf("upload concurrency %d: must be between 1 and 64", c.Concurrency)
	case c.CommitBatch < 0:
		return fmt.Errorf("upload commit batch %d: must be >= 0", c.CommitBatch)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("upload retry backoff [%s, %s]: need 0 < min <= max", c.RetryMin, c.RetryMax)
	case c.OrphanGrace <= 0:
		return fmt.Errorf("upload orphan grace %s: must be > 0", c.OrphanGrace)
	case c.PutBurst >= 1 && c.PutRate <= 0:
		return fmt.Errorf("upload put rate %g: must be > 0 with a put burst of %g", c.PutRate, c.PutBurst)
	case c.PutRate < 0 || c.PutBurst < 0:
		return fmt.Errorf("upload put budget (rate %g, burst %g): must be >= 0", c.PutRate, c.PutBurst)
	}
	return index.BuilderOptions{SparseInterval: c.SparseInterval}.Validate()
}

// UploaderStats are the uploader's counters since start.
type UploaderStats struct {
	Objects       int64         // objects committed
	Bytes         int64         // bytes of committed objects
	Segments      int64         // WAL segments handled (uploaded or found already committed)
	PutErrors     int64         // failed PUT attempts
	CommitErrors  int64         // failed catalog commit attempts
	Commits       int64         // catalog commit calls that succeeded (each commits one or more objects)
	RePuts        int64         // objects uploaded again because their first PUT neared the orphan grace
	Fenced        int64         // partitions (per epoch) whose data the catalog refused
	Trimmed       int64         // local segments removed after upload
	LastUploadLag time.Duration // first entry of the last segment to its commit
	Pending       int           // sealed segments not yet uploaded
	EarlySeals    int64         // segments sealed for waiting acks=all producers (group commit)
	PutTokens     float64       // the PUT budget's tokens now
}

// SegmentTrace is one segment's way to the catalog: when its first entry
// was written to the WAL, when it was sealed, when the uploader had built
// its object, when the PUT started and ended, and when the catalog
// committed it (the high watermarks advance right after).
type SegmentTrace struct {
	Segment                      uint64
	Bytes                        int64 // object bytes; 0 when nothing in it needed uploading
	FirstEntry, Sealed, Built    time.Time
	PutStart, PutDone, Committed time.Time
}

// Uploader turns sealed WAL segments into objects of the index format,
// commits their extents to the catalog in segment order, advances the high
// watermark of each partition in them, and trims uploaded segments from the
// local WAL beyond the local retention budget.
//
// It is a pipeline of up to Concurrency segments: the loop builds each
// sealed segment's object as soon as it is sealed (continuing the offsets
// the outstanding ones end at) and starts its PUT at once, without waiting
// for earlier uploads; a committer goroutine commits the stored objects
// in segment order, every one ready at the head of the queue together in
// one catalog call (one raft entry), so each partition's extents stay
// contiguous in the catalog while PUT latency overlaps. When acks=all producers wait
// (Demand) and nothing is outstanding, the loop has the WAL seal its
// active segment at once, within a PUT budget (group commit for the
// object store; see UploaderConfig.PutRate). A failed PUT or commit is retried with capped
// exponential backoff until it succeeds or the uploader closes; meanwhile
// the WAL keeps accepting acks=1 writes until its byte budget is full.
//
// Fencing: each extent carries the leader epoch its data was written under,
// read from the batches' PartitionLeaderEpoch (the partition stamps it at
// append), never the catalog's current epoch; a partition's entries of
// different epochs become separate extents. The catalog decides each
// extent on its own: the accepted ones advance their partitions, a refused
// one fences its partition at that epoch (OnFenced) and the uploader skips
// the partition's data of that epoch and older in later segments, so a
// refusal never holds back another partition or a later segment.
type Uploader struct {
	cfg    UploaderConfig
	log    *wal.Log
	bucket objectstore.Bucket
	cat    Catalog
	logger *slog.Logger

	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	uploaded map[uint64]bool
	stats    UploaderStats

	// Buffers reused from one wave to the next, touched by the upload
	// loop only: the arena collect copies a segment's entries into, and
	// object bodies whose upload is done. Reusing them keeps the
	// uploader from allocating (and the kernel from zeroing) twice the
	// ingest rate in fresh memory.
	arena  []byte
	bodies [][]byte
	// fenced holds, per partition, the newest leader epoch whose data can
	// never be committed; under fencedMu (the loop reads it, the
	// committer writes it).
	fencedMu sync.Mutex
	fenced   map[wal.Key]int32

	// The pipeline, touched by the upload loop only: uploads built and
	// not yet handed to the committer, in segment order; where each
	// partition ends once every outstanding upload is committed; how many
	// uploads are outstanding (built, not yet committed); the newest
	// segment id taken.
	queue       []*upload
	ends        map[wal.Key]int64
	outstanding int
	lastSeen    uint64
	putDone     chan *upload // PUT goroutines → loop
	toCommit    chan *upload // loop → committer, in segment order
	committedCh chan *upload // committer → loop
	flushed     chan bool    // the WAL → loop: a SealNow was served
	flushing    bool         // a SealNow is outstanding
	budget      putBudget
	workers     sync.WaitGroup

	// demand is set when an acks=all producer waits (Demand) and cleared
	// when the loop asks the WAL for a seal.
	demand atomic.Bool

	start sync.Once // runs the loop, or (from Close) marks it never run

	objects, bytes, segments, putErrors, commitErrors, trimmed atomic.Int64
	rePuts, fencedParts, earlySeals, commits                   atomic.Int64
}

// NewUploader returns an uploader; Start runs it.
func NewUploader(cfg UploaderConfig, log *wal.Log, bucket objectstore.Bucket, cat Catalog) (*Uploader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := cfg.Concurrency
	return &Uploader{
		cfg: cfg, log: log, bucket: bucket, cat: cat, logger: cfg.Logger,
		kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		uploaded: make(map[uint64]bool), fenced: make(map[wal.Key]int32),
		ends:    make(map[wal.Key]int64),
		putDone: make(chan *upload, n), toCommit: make(chan *upload, n), committedCh: make(chan *upload, n),
		flushed: make(chan bool, 1),
		budget:  putBudget{rate: cfg.PutRate, burst: cfg.PutBurst, tokens: cfg.PutBurst, at: time.Now()},
	}, nil
}

// Kick tells the uploader a segment was sealed. It never blocks.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Demand tells the uploader that an acks=all producer waits for data
// appended to the WAL before the call. When no upload is on its way and
// the PUT budget allows, the uploader has the WAL seal its active segment
// at once and uploads it. It never blocks.
func (u *Uploader) Demand() {
	if u.cfg.PutBurst < 1 || u.demand.Load() {
		return
	}
	u.demand.Store(true)
	u.Kick()
}

// Start runs the upload loop until Close. Only the first call starts it.
func (u *Uploader) Start() { u.start.Do(func() { go u.loop() }) }

// Close stops the loop; an upload in progress is abandoned (its object, if
// written, becomes an orphan the garbage collector removes). An uploader
// that was never started closes at once.
func (u *Uploader) Close() error {
	u.cancel()
	u.start.Do(func() { close(u.done) })
	<-u.done
	return nil
}

// Stats returns the counters.
func (u *Uploader) Stats() UploaderStats {
	u.mu.Lock()
	s := u.stats
	u.mu.Unlock()
	s.Objects, s.Bytes, s.Segments = u.objects.Load(), u.bytes.Load(), u.segments.Load()
	s.PutErrors, s.CommitErrors, s.Trimmed = u.putErrors.Load(), u.commitErrors.Load(), u.trimmed.Load()
	s.RePuts, s.Fenced, s.EarlySeals = u.rePuts.Load(), u.fencedParts.Load(), u.earlySeals.Load()
	s.Commits = u.commits.Load()
	return s
}

func (u *Uploader) loop() {
	defer close(u.done)
	u.workers.Add(1)
	go func() { defer u.workers.Done(); u.committer() }()
	defer u.workers.Wait() // PUTs and the committer end with u.ctx
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	for {
		u.schedule()
		u.handOff()
		var flushC <-chan time.Time
		if wait := u.maybeFlush(); wait > 0 {
			flush.Reset(wait)
			flushC = flush.C
		}
		u.trim()
		select {
		case <-u.ctx.Done():
			return
		case <-u.kick:
		case up := <-u.putDone:
			if up.err != nil {
				return // closing
			}
			up.stored = true
		case up := <-u.committedCh:
			u.finish(up)
		case sealed := <-u.flushed:
			u.flushing = false
			if sealed {
				u.earlySeals.Add(1)
			}
		case <-flushC:
		case <-tick.C:
		}
		flush.Stop()
	}
}

// schedule builds the objects of sealed segments not taken yet, oldest
// first, while fewer than Concurrency uploads are outstanding, and starts
// their PUTs: a segment sealed while others are on their way starts at
// once instead of waiting for them (uploads are pipelined, not waves).
// Each continues the offsets the outstanding ones end at.
func (u *Uploader) schedule() {
	if u.outstanding >= u.cfg.Concurrency {
		return
	}
	segs := u.log.SealedSegmentsAfter(u.lastSeen)
	u.mu.Lock()
	u.stats.Pending = len(segs) + u.outstanding
	u.mu.Unlock()
	for _, seg := range segs {
		if u.outstanding >= u.cfg.Concurrency {
			return
		}
		if u.isUploaded(seg.ID) {
			u.lastSeen = seg.ID
			continue
		}
		if u.outstanding == 0 {
			clear(u.ends) // everything is committed: the catalog knows where partitions end
		}
		up, err := u.prepare(seg, u.ends)
		if err != nil {
			return // closing
		}
		u.lastSeen = seg.ID
		now := time.Now()
		up.built = now
		u.budget.spend(now)
		u.outstanding++
		u.queue = append(u.queue, up)
		if up.body == nil {
			up.stored = true
			continue
		}
		u.workers.Add(1)
		go func() {
			defer u.workers.Done()
			up.err = u.put(up)
			u.putDone <- up // buffered: at most Concurrency outstanding
		}()
	}
}

// handOff passes the uploads at the head of the queue whose PUT is done
// to the committer, in segment order.
func (u *Uploader) handOff() {
	for len(u.queue) > 0 && u.queue[0].stored {
		u.toCommit <- u.queue[0] // buffered: at most Concurrency outstanding
		u.queue[0] = nil
		u.queue = u.queue[1:]
	}
}

// finish records a committed upload and keeps its buffer for reuse.
func (u *Uploader) finish(up *upload) {
	u.mu.Lock()
	u.uploaded[up.seg.ID] = true
	u.stats.Pending--
	u.stats.PutTokens = u.budget.tokens
	u.mu.Unlock()
	u.segments.Add(1)
	u.outstanding--
	if f := u.cfg.OnSegment; f != nil {
		f(SegmentTrace{
			Segment: up.seg.ID, Bytes: int64(len(up.body)),
			FirstEntry: up.seg.FirstEntryTime, Sealed: up.seg.SealedAt, Built: up.built,
			PutStart: up.putAt, PutDone: up.putDone, Committed: up.committed,
		})
	}
	if up.body != nil {
		u.keepBody(up.body)
	}
	up.body = nil
}

// maybeFlush serves Demand: with acks=all producers waiting, no upload
// outstanding and a token in the PUT budget, it asks the WAL to seal its
// active segment now. Without a token it returns how long until one is
// earned (0 otherwise).
func (u *Uploader) maybeFlush() time.Duration {
	if u.flushing || u.outstanding > 0 || !u.demand.Load() {
		return 0
	}
	if wait := u.budget.wait(time.Now()); wait > 0 {
		return wait
	}
	u.demand.Store(false)
	u.flushing = true
	u.log.SealNow(func(sealed bool) { u.flushed <- sealed }) // one at a time: never blocks
	return 0
}

// putBudget is a token bucket: rate tokens a second, at most burst saved.
// Used by the upload loop only.
type putBudget struct {
	rate, burst, tokens float64
	at                  time.Time
}

func (b *putBudget) refill(now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
	}
	b.at = now
}

// spend takes a token for an upload; an upload never waits, so tokens
// stop at zero.
func (b *putBudget) spend(now time.Time) {
	b.refill(now)
	b.tokens = max(0, b.tokens-1)
}

// wait is how long until a token is there (0: now).
func (b *putBudget) wait(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// upload is one segment's object on its way to the catalog.
type upload struct {
	seg     wal.SegmentInfo
	key     string
	body    []byte
	extents []metadata.Extent
	// producers[i] are the idempotent producers of extents[i], which
	// the catalog keeps with the commit.
	producers [][]metadata.ProducerState
	txns      [][]metadata.TxnEvent // per extent, nil when none has any
	putAt     time.Time             // when the PUT that stored key started
	putDone   time.Time             // when it ended
	err       error                 // the PUT's: set only when the uploader closes
	stored    bool                  // loop: the PUT is done (or there is nothing to PUT)
	built     time.Time             // loop: when the object was built
	committed time.Time             // committer: when the catalog committed it
}

// maxSpareBodies is how many object buffers the uploader keeps for reuse.
const maxSpareBodies = 4

// bodyBuffer returns an empty buffer of at least n bytes' capacity for an
// object body, reusing one a finished upload left if it is large enough.
// A new one gets an eighth more, rounded up to 1 MiB, so that the next,
// slightly larger segment's body fits in it too, and is advised for huge
// pages: a body is filled once, front to back, in fresh memory, and
// page faults on it were most of the broker's under produce. It starts at
// an objectstore.BodyAlign boundary, so that the fs store writes the body
// straight from it (put gives it as an objectstore.BytesReader).
func (u *Uploader) bodyBuffer(n int) []byte {
	for i := len(u.bodies) - 1; i >= 0; i-- {
		if b := u.bodies[i]; cap(b) >= n {
			u.bodies = append(u.bodies[:i], u.bodies[i+1:]...)
			return b
		}
	}
	size := (n + n/8 + 1<<20 - 1) &^ (1<<20 - 1)
	b := objectstore.AlignedBuffer(size)
	hugepage.Advise(b[:size])
	return b
}

// keepBody keeps a finished upload's body for reuse: among the spares, the
// largest maxSpareBodies are kept, so that a run of small segments does
// not crowd out the buffers full-size ones need.
func (u *Uploader) keepBody(b []byte) {
	if len(u.bodies) < maxSpareBodies {
		u.bodies = append(u.bodies, b[:0])
		return
	}
	smallest := 0
	for i, s := range u.bodies {
		if cap(s) < cap(u.bodies[smallest]) {
			smallest = i
		}
	}
	if cap(b) > cap(u.bodies[smallest]) {
		u.bodies[smallest] = b[:0]
	}
}

func (u *Uploader) isUploaded(id uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uploaded[id]
}

// put writes the object, retrying until it is stored or the uploader
// closes.
func (u *Uploader) put(up *upload) error {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		// The body goes to the store as it is, with no copy (see
		// objectstore.BytesBody); each attempt gives it anew.
		err := u.bucket.Put(u.ctx, up.key, objectstore.NewBytesReader(up.body), int64(len(up.body)))
		if err == nil {
			up.putAt, up.putDone = start, time.Now()
			return nil
		}
		if u.ctx.Err() != nil {
			return u.ctx.Err()
		}
		u.putErrors.Add(1)
		u.logger.Warn("upload segment failed; retrying", "segment", up.seg.ID, "object", up.key, "attempt", attempt+1, "err", err)
		if err := u.sleep(u.backoff(attempt)); err != nil {
			return err
		}
	}
}

// trim removes the oldest uploaded segments while the uploaded data kept
// locally exceeds the local retention budget, or more than
// maxRetainedSegments uploaded segments are kept (group commit can seal
// many small segments: each is an open file).
func (u *Uploader) trim() {
	segs := u.log.SealedSizes()
	var uploadedBytes int64
	uploadedCount := 0
	for _, s := range segs {
		if u.isUploaded(s.ID) {
			uploadedBytes += s.Size
			uploadedCount++
		}
	}
	for _, oldest := range segs {
		if !u.isUploaded(oldest.ID) || (uploadedBytes <= u.cfg.LocalRetainBytes && uploadedCount <= maxRetainedSegments) {
			return
		}
		if err := u.log.RemoveSegment(oldest.ID); err != nil {
			u.logger.Warn("remove uploaded segment", "segment", oldest.ID, "err", err)
			return
		}
		uploadedBytes -= oldest.Size
		uploadedCount--
		u.trimmed.Add(1)
		u.mu.Lock()
		delete(u.uploaded, oldest.ID)
		u.mu.Unlock()
	}
}

// maxRetainedSegments bounds the uploaded segments kept for hot reads.
const maxRetainedSegments = 256

func (u *Uploader) backoff(attempt int) time.Duration {
	d := u.cfg.RetryMin << min(attempt, 20)
	if d > u.cfg.RetryMax || d <= 0 {
		d = u.cfg.RetryMax
	}
	// Jitter: between half and all of d.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (u *Uploader) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-u.ctx.Done():
		return u.ctx.Err()
	}
}
