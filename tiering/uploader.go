package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/wal"
)

// Catalog is the part of the metadata store the uploader uses.
type Catalog interface {
	CommitObject(ctx context.Context, c metadata.ObjectCommit) error
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
	// Concurrency is how many segments are uploaded at once; their
	// commits still happen one by one in segment order.
	Concurrency int
	// RetryMin and RetryMax bound the backoff between failed PUTs or
	// commits; uploads retry until they succeed or the uploader closes.
	RetryMin, RetryMax time.Duration
	// OnCommitted is called after data of partition k up to end
	// (exclusive) is committed to the catalog.
	OnCommitted func(k wal.Key, end int64)
	Logger      *slog.Logger
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
	}
}

// Validate reports the first bad setting.
func (c UploaderConfig) Validate() error {
	switch {
	case c.LocalRetainBytes < 0:
		return fmt.Errorf("local retain bytes %d: must be >= 0", c.LocalRetainBytes)
	case c.Concurrency < 1 || c.Concurrency > 64:
		return fmt.Errorf("upload concurrency %d: must be between 1 and 64", c.Concurrency)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("upload retry backoff [%s, %s]: need 0 < min <= max", c.RetryMin, c.RetryMax)
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
	Trimmed       int64         // local segments removed after upload
	LastUploadLag time.Duration // first entry of the last segment to its commit
	Pending       int           // sealed segments not yet uploaded
}

// Uploader turns sealed WAL segments into objects of the index format,
// commits their extents to the catalog in segment order, advances the high
// watermark of each partition in them, and trims uploaded segments from the
// local WAL beyond the local retention budget.
//
// It works in waves of up to Concurrency segments: their objects are
// built one after the other (each continuing the offsets the previous one
// ends at), PUT in parallel, and committed one by one in segment order, so
// each partition's extents stay contiguous in the catalog while PUT
// latency overlaps. A failed PUT or commit is retried with capped
// exponential backoff until it succeeds or the uploader closes; meanwhile
// the WAL keeps accepting acks=1 writes until its byte budget is full.
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

	objects, bytes, segments, putErrors, commitErrors, trimmed atomic.Int64
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
	return &Uploader{
		cfg: cfg, log: log, bucket: bucket, cat: cat, logger: cfg.Logger,
		kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		uploaded: make(map[uint64]bool),
	}, nil
}

// Kick tells the uploader a segment was sealed. It never blocks.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Start runs the upload loop until Close.
func (u *Uploader) Start() { go u.loop() }

// Close stops the loop; an upload in progress is abandoned (its object, if
// written, becomes an orphan the garbage collector removes).
func (u *Uploader) Close() error {
	u.cancel()
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
	return s
}

func (u *Uploader) loop() {
	defer close(u.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		u.uploadPending()
		u.trim()
		select {
		case <-u.ctx.Done():
			return
		case <-u.kick:
		case <-tick.C:
		}
	}
}

// uploadPending uploads every sealed segment not yet handled, oldest first,
// in waves of up to Concurrency segments.
func (u *Uploader) uploadPending() {
	segs := u.log.SealedSegments()
	sort.Slice(segs, func(i, j int) bool { return segs[i].ID < segs[j].ID })
	var pending []wal.SegmentInfo
	for _, s := range segs {
		if !u.isUploaded(s.ID) {
			pending = append(pending, s)
		}
	}
	u.mu.Lock()
	u.stats.Pending = len(pending)
	u.mu.Unlock()
	for len(pending) > 0 {
		n := min(len(pending), u.cfg.Concurrency)
		if err := u.uploadWave(pending[:n]); err != nil {
			return // closing
		}
		pending = pending[n:]
	}
}

// upload is one segment's object on its way to the catalog.
type upload struct {
	seg     wal.SegmentInfo
	key     string
	body    []byte
	extents []metadata.Extent
}

// uploadWave builds, uploads and commits consecutive segments. Only
// closing the uploader makes it return early (with an error).
func (u *Uploader) uploadWave(segs []wal.SegmentInfo) error {
	ends := map[wal.Key]int64{}
	ups := make([]*upload, len(segs))
	for i, seg := range segs {
		up, err := u.prepare(seg, ends)
		if err != nil {
			return err
		}
		ups[i] = up
	}
	errs := make(chan error, len(ups))
	for _, up := range ups {
		go func() {
			if up == nil || up.body == nil {
				errs <- nil
				return
			}
			errs <- u.put(up)
		}()
	}
	var putErr error
	for range ups {
		if err := <-errs; err != nil {
			putErr = err
		}
	}
	if putErr != nil {
		return putErr
	}
	for _, up := range ups {
		if up.body != nil {
			if err := u.commit(up); err != nil {
				return err
			}
		}
		u.mu.Lock()
		u.uploaded[up.seg.ID] = true
		u.stats.Pending--
		u.mu.Unlock()
		u.segments.Add(1)
	}
	for _, up := range ups {
		if up.body != nil && len(u.bodies) < maxSpareBodies {
			u.bodies = append(u.bodies, up.body[:0])
		}
		up.body = nil
	}
	return nil
}

// maxSpareBodies is how many object buffers the uploader keeps for reuse.
const maxSpareBodies = 2

// bodyBuffer returns an empty buffer of at least n bytes' capacity for an
// object body, reusing one a finished upload left if it is large enough.
func (u *Uploader) bodyBuffer(n int) []byte {
	for i := len(u.bodies) - 1; i >= 0; i-- {
		if b := u.bodies[i]; cap(b) >= n {
			u.bodies = append(u.bodies[:i], u.bodies[i+1:]...)
			return b
		}
	}
	return make([]byte, 0, n)
}

func (u *Uploader) isUploaded(id uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uploaded[id]
}

// partEntries is one partition's entries of a segment, in offset order.
type partEntries struct {
	key     wal.Key
	epoch   int32
	entries []wal.Entry
}

// collect reads a sealed segment and keeps, per partition, the entries the
// catalog does not have yet. Partitions of deleted topics are dropped.
// ends carries, across the segments of one wave, where each partition's
// data will end once the earlier segments are committed; a partition not
// in it starts at the catalog's end. collect updates it.
func (u *Uploader) collect(seg wal.SegmentInfo, ends map[wal.Key]int64) ([]*partEntries, error) {
	// The entries are copied into one arena: a segment's frames (its
	// size) hold every payload. The arena is reused by the next collect,
	// so the entries are valid until then.
	if int64(cap(u.arena)) < seg.Size {
		u.arena = make([]byte, 0, seg.Size)
	}
	arena := u.arena[:0]
	parts := map[wal.Key]*partEntries{}
	gone := map[wal.Key]bool{}
	err := u.log.ReadSegment(seg.ID, func(e wal.Entry) error {
		if gone[e.Key] {
			return nil
		}
		pe := parts[e.Key]
		if pe == nil {
			t, ok := u.cat.TopicByID(metadata.TopicID(e.Key.Topic))
			pl, ok2 := u.cat.PartitionLog(metadata.TopicID(e.Key.Topic), e.Key.Partition)
			if !ok || !ok2 || int(e.Key.Partition) >= len(t.Partitions) {
				gone[e.Key] = true
				return nil
			}
			pe = &partEntries{key: e.Key, epoch: t.Partitions[e.Key.Partition].LeaderEpoch}
			parts[e.Key] = pe
			if _, seen := ends[e.Key]; !seen {
				ends[e.Key] = pl.End
			}
		}
		if e.LastOffset < ends[e.Key] {
			return nil // committed by an earlier upload
		}
		if e.BaseOffset != ends[e.Key] {
			// Entries of one partition are contiguous in the WAL and the
			// catalog ends where the WAL continues; anything else means
			// the catalog moved under this broker (another leader).
			u.logger.Error("WAL entry does not continue the catalog; not uploading it",
				"partition", e.Key.String(), "catalog_end", ends[e.Key], "entry_base", e.BaseOffset, "segment", seg.ID)
			gone[e.Key] = true
			delete(parts, e.Key)
			return nil
		}
		start := len(arena)
		arena = append(arena, e.Data...)
		e.Data, e.Done = arena[start:len(arena):len(arena)], nil
		pe.entries = append(pe.entries, e)
		ends[e.Key] = e.LastOffset + 1
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read segment %d: %w", seg.ID, err)
	}
	out := make([]*partEntries, 0, len(parts))
	for _, pe := range parts {
		if len(pe.entries) > 0 { // all committed already: nothing to upload
			out = append(out, pe)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return index.Key(out[i].key).Compare(index.Key(out[j].key)) < 0
	})
	return out, nil
}

// build writes the object for parts and returns its bytes and extents
// (without the object key).
func (u *Uploader) build(parts []*partEntries) ([]byte, []metadata.Extent, error) {
	// Size the buffer once: growing it while copying a 16 MiB segment in
	// showed up as page faults in the broker's profile.
	size := 64 << 10 // footer and trailer
	for _, pe := range parts {
		for _, e := range pe.entries {
			size += len(e.Data)
		}
	}
	buf := bytes.NewBuffer(u.bodyBuffer(size))
	b := index.NewBuilder(buf, index.BuilderOptions{SparseInterval: u.cfg.SparseInterval})
	epochs := map[wal.Key]int32{}
	for _, pe := range parts {
		epochs[pe.key] = pe.epoch
		for _, e := range pe.entries {
			if err := b.Add(index.Key(pe.key), e.BaseOffset, e.LastOffset, e.MaxTimestamp, e.Data); err != nil {
				return nil, nil, fmt.Errorf("build object: %w", err)
			}
		}
	}
	footer, _, err := b.Finish()
	if err != nil {
		return nil, nil, fmt.Errorf("build object: %w", err)
	}
	extents := make([]metadata.Extent, 0, len(footer.Partitions))
	for _, p := range footer.Partitions {
		extents = append(extents, metadata.Extent{
			Topic:        metadata.TopicID(p.Key.Topic),
			Partition:    p.Key.Partition,
			BaseOffset:   p.FirstOffset,
			LastOffset:   p.LastOffset,
			Pos:          p.Pos,
			Len:          p.Len,
			MaxTimestamp: p.MaxTimestamp,
			LeaderEpoch:  epochs[wal.Key(p.Key)],
		})
	}
	return buf.Bytes(), extents, nil
}

// prepare reads and builds one segment's object; a segment with nothing
// left to upload gets an upload with no body. Local read or build
// failures are retried after a pause: the WAL verified this data when it
// was written and on open.
func (u *Uploader) prepare(seg wal.SegmentInfo, ends map[wal.Key]int64) (*upload, error) {
	for {
		saved := maps.Clone(ends)
		parts, err := u.collect(seg, ends)
		if err == nil {
			up := &upload{seg: seg}
			if len(parts) == 0 {
				return up, nil
			}
			up.body, up.extents, err = u.build(parts)
			if err == nil {
				up.key = WALObjectKey(u.cfg.BrokerID, seg.ID, NewNonce())
				for i := range up.extents {
					up.extents[i].Object = up.key
				}
				return up, nil
			}
		}
		u.logger.Error("prepare sealed segment for upload", "segment", seg.ID, "err", err)
		clear(ends)
		maps.Copy(ends, saved)
		if err := u.sleep(u.cfg.RetryMax); err != nil {
			return nil, err
		}
	}
}

// put writes the object, retrying until it is stored or the uploader
// closes.
func (u *Uploader) put(up *upload) error {
	for attempt := 0; ; attempt++ {
		err := u.bucket.Put(u.ctx, up.key, bytes.NewReader(up.body), int64(len(up.body)))
		if err == nil {
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

// commit registers the object's extents in the catalog, retrying until it
// is committed or can never be, then advances the partitions.
func (u *Uploader) commit(up *upload) error {
	c := metadata.ObjectCommit{Key: up.key, Size: int64(len(up.body)), Broker: u.cfg.BrokerID, Extents: up.extents}
	for attempt := 0; ; attempt++ {
		c.Now = time.Now().UnixMilli()
		err := u.cat.CommitObject(u.ctx, c)
		if err == nil {
			break
		}
		if u.ctx.Err() != nil {
			return u.ctx.Err()
		}
		u.commitErrors.Add(1)
		if errors.Is(err, metadata.ErrFenced) || errors.Is(err, metadata.ErrOffsetGap) {
			// Another leader owns one of these partitions now: this
			// object can never be committed. It becomes an orphan.
			u.logger.Error("segment cannot be committed; leaving it to the garbage collector", "segment", up.seg.ID, "object", up.key, "err", err)
			return nil
		}
		u.logger.Warn("commit segment failed; retrying", "segment", up.seg.ID, "object", up.key, "attempt", attempt+1, "err", err)
		if err := u.sleep(u.backoff(attempt)); err != nil {
			return err
		}
	}
	u.objects.Add(1)
	u.bytes.Add(int64(len(up.body)))
	u.mu.Lock()
	if !up.seg.FirstEntryTime.IsZero() {
		u.stats.LastUploadLag = time.Since(up.seg.FirstEntryTime)
	}
	u.mu.Unlock()
	if u.cfg.OnCommitted != nil {
		for _, e := range up.extents {
			u.cfg.OnCommitted(wal.Key{Topic: [16]byte(e.Topic), Partition: e.Partition}, e.LastOffset+1)
		}
	}
	return nil
}

// trim removes the oldest uploaded segments while the uploaded data kept
// locally exceeds the local retention budget.
func (u *Uploader) trim() {
	for {
		segs := u.log.SealedSegments()
		if len(segs) == 0 {
			return
		}
		sort.Slice(segs, func(i, j int) bool { return segs[i].ID < segs[j].ID })
		var uploadedBytes int64
		for _, s := range segs {
			if u.isUploaded(s.ID) {
				uploadedBytes += s.Size
			}
		}
		oldest := segs[0]
		if !u.isUploaded(oldest.ID) || uploadedBytes <= u.cfg.LocalRetainBytes {
			return
		}
		if err := u.log.RemoveSegment(oldest.ID); err != nil {
			u.logger.Warn("remove uploaded segment", "segment", oldest.ID, "err", err)
			return
		}
		u.trimmed.Add(1)
		u.mu.Lock()
		delete(u.uploaded, oldest.ID)
		u.mu.Unlock()
	}
}

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
