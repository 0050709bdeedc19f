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
	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// Catalog is the part of the metadata store the uploader uses.
type Catalog interface {
	CommitObject(ctx context.Context, c metadata.ObjectCommit) (metadata.CommitResult, error)
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
	case c.OrphanGrace <= 0:
		return fmt.Errorf("upload orphan grace %s: must be > 0", c.OrphanGrace)
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
	RePuts        int64         // objects uploaded again because their first PUT neared the orphan grace
	Fenced        int64         // partitions (per epoch) whose data the catalog refused
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
	// never be committed; touched by the upload loop only.
	fenced map[wal.Key]int32

	start sync.Once // runs the loop, or (from Close) marks it never run

	objects, bytes, segments, putErrors, commitErrors, trimmed atomic.Int64
	rePuts, fencedParts                                        atomic.Int64
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
		uploaded: make(map[uint64]bool), fenced: make(map[wal.Key]int32),
	}, nil
}

// Kick tells the uploader a segment was sealed. It never blocks.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
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
	s.RePuts, s.Fenced = u.rePuts.Load(), u.fencedParts.Load()
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
	// producers[i] are the idempotent producers of extents[i], which
	// the catalog keeps with the commit.
	producers [][]metadata.ProducerState
	txns      [][]metadata.TxnEvent // per extent, nil when none has any
	putAt     time.Time             // when the PUT that stored key started
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

// partEntries is one partition's entries of a segment, in offset order,
// and the leader epoch each was written under.
type partEntries struct {
	key     wal.Key
	current int32 // the partition's leader epoch in the catalog
	entries []wal.Entry
	epochs  []int32
	maxTs   []int64 // largest of the entry's MaxTimestamp and its batches'
}

// entryEpoch returns the leader epoch an entry was written under (its
// first batch's PartitionLeaderEpoch: the partition stamps every batch of
// an entry with the same one) and the largest batch max timestamp.
func entryEpoch(data []byte) (epoch int32, maxTs int64, err error) {
	maxTs = -1
	for pos := 0; pos < len(data); {
		h, err := recordbatch.ParseHeader(data[pos:])
		if err != nil {
			return 0, 0, err
		}
		if pos == 0 {
			epoch = h.PartitionLeaderEpoch
		}
		maxTs = max(maxTs, h.MaxTimestamp)
		pos += h.Size()
	}
	return epoch, maxTs, nil
}

// collect reads a sealed segment and keeps, per partition, the entries the
// catalog does not have yet. Partitions of deleted topics are dropped;
// entries that can never be committed (written under an epoch the
// partition has left, or not continuing its log) fence their partition
// and are dropped. ends carries, across the segments of one wave, where
// each partition's data will end once the earlier segments are committed;
// a partition not in it starts at the catalog's end. collect updates it.
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
		epoch, maxTs, err := entryEpoch(e.Data)
		if err != nil {
			return fmt.Errorf("partition %v offsets %d..%d: %w", e.Key, e.BaseOffset, e.LastOffset, err)
		}
		if f, ok := u.fenced[e.Key]; ok && epoch <= f {
			return nil // refused before: it can never be committed
		}
		pe := parts[e.Key]
		if pe == nil {
			t, ok := u.cat.TopicByID(metadata.TopicID(e.Key.Topic))
			pl, ok2 := u.cat.PartitionLog(metadata.TopicID(e.Key.Topic), e.Key.Partition)
			if !ok || !ok2 || int(e.Key.Partition) >= len(t.Partitions) {
				gone[e.Key] = true
				return nil
			}
			pe = &partEntries{key: e.Key, current: t.Partitions[e.Key.Partition].LeaderEpoch}
			parts[e.Key] = pe
			if _, seen := ends[e.Key]; !seen {
				ends[e.Key] = pl.End
			}
		}
		if e.LastOffset < ends[e.Key] {
			return nil // committed by an earlier upload
		}
		if epoch < pe.current {
			u.fence(e.Key, epoch, fmt.Errorf("%w: data written under leader epoch %d, the partition is at epoch %d", metadata.ErrFenced, epoch, pe.current))
			return nil
		}
		if e.BaseOffset != ends[e.Key] {
			// Entries of one partition are contiguous in the WAL and the
			// catalog ends where the WAL continues; anything else means
			// the catalog moved under this broker (another leader).
			u.fence(e.Key, epoch, fmt.Errorf("%w: WAL entry at offset %d does not continue the catalog, which ends at %d (segment %d)",
				metadata.ErrOffsetGap, e.BaseOffset, ends[e.Key], seg.ID))
			gone[e.Key] = true
			return nil
		}
		start := len(arena)
		arena = append(arena, e.Data...)
		e.Data, e.Done = arena[start:len(arena):len(arena)], nil
		pe.entries = append(pe.entries, e)
		pe.epochs = append(pe.epochs, epoch)
		pe.maxTs = append(pe.maxTs, max(maxTs, e.MaxTimestamp))
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

// fence records that partition k's data of leader epoch epoch (and older)
// can never be committed, and tells OnFenced once per partition and epoch.
func (u *Uploader) fence(k wal.Key, epoch int32, why error) {
	if f, ok := u.fenced[k]; ok && f >= epoch {
		return
	}
	u.fenced[k] = epoch
	u.fencedParts.Add(1)
	u.logger.Warn("partition's data refused by the catalog; it is not led here under this epoch any more",
		"partition", k.String(), "epoch", epoch, "reason", why)
	if u.cfg.OnFenced != nil {
		u.cfg.OnFenced(k, epoch)
	}
}

// extentProducers returns the idempotent producers with batches in
// entries and each one's last batches there (at most
// metadata.MaxProducerBatches, reset by an epoch bump), in the order
// they first appear: what the catalog keeps so that a new leader answers
// retried batches (metadata/producers.go).
func extentProducers(entries []wal.Entry) ([]metadata.ProducerState, error) {
	var out []metadata.ProducerState
	var at map[int64]int
	for _, e := range entries {
		for pos := 0; pos < len(e.Data); {
			h, err := recordbatch.ParseHeader(e.Data[pos:])
			if err != nil {
				return nil, fmt.Errorf("partition %v offsets %d..%d: %w", e.Key, e.BaseOffset, e.LastOffset, err)
			}
			pos += h.Size()
			if h.ProducerID < 0 || h.BaseSequence < 0 {
				continue
			}
			if at == nil {
				at = make(map[int64]int)
			}
			i, ok := at[h.ProducerID]
			if !ok {
				i = len(out)
				at[h.ProducerID] = i
				out = append(out, metadata.ProducerState{ID: h.ProducerID, Epoch: h.ProducerEpoch})
			}
			p := &out[i]
			if h.ProducerEpoch != p.Epoch {
				if h.ProducerEpoch < p.Epoch {
					continue // the partition refuses these; never here
				}
				p.Epoch, p.Batches = h.ProducerEpoch, p.Batches[:0]
			}
			if len(p.Batches) == metadata.MaxProducerBatches {
				p.Batches = append(p.Batches[:0], p.Batches[1:]...)
			}
			p.Batches = append(p.Batches, metadata.ProducerBatch{
				FirstSeq: h.BaseSequence, LastSeq: h.LastSequence(),
				BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(),
			})
		}
	}
	return out, nil
}

// extentTxnEvents returns the transaction events of entries (see
// metadata/txnlog.go): each producer's first transactional data batch in
// them and after each of its markers, and every COMMIT or ABORT marker.
func extentTxnEvents(entries []wal.Entry) ([]metadata.TxnEvent, error) {
	var out []metadata.TxnEvent
	var open map[int64]bool
	for _, e := range entries {
		for pos := 0; pos < len(e.Data); {
			h, err := recordbatch.ParseHeader(e.Data[pos:])
			if err != nil {
				return nil, fmt.Errorf("partition %v offsets %d..%d: %w", e.Key, e.BaseOffset, e.LastOffset, err)
			}
			batch := e.Data[pos:min(len(e.Data), pos+h.Size())]
			pos += h.Size()
			if !h.IsTransactional() || h.ProducerID < 0 {
				continue
			}
			if open == nil {
				open = make(map[int64]bool)
			}
			if !h.IsControl() {
				if !open[h.ProducerID] {
					open[h.ProducerID] = true
					out = append(out, metadata.TxnEvent{ProducerID: h.ProducerID, Offset: h.BaseOffset, Kind: metadata.TxnData})
				}
				continue
			}
			typ, err := recordbatch.ControlType(&h, batch)
			if err != nil {
				return nil, fmt.Errorf("partition %v offset %d: %w", e.Key, h.BaseOffset, err)
			}
			kind := metadata.TxnAbort
			switch typ {
			case recordbatch.ControlCommit:
				kind = metadata.TxnCommit
			case recordbatch.ControlAbort:
			default:
				continue
			}
			open[h.ProducerID] = false
			out = append(out, metadata.TxnEvent{ProducerID: h.ProducerID, Offset: h.BaseOffset, Kind: kind})
		}
	}
	return out, nil
}

// build writes the object for parts and returns its bytes and extents
// (without the object key) and each extent's producers.
func (u *Uploader) build(parts []*partEntries) ([]byte, []metadata.Extent, [][]metadata.ProducerState, [][]metadata.TxnEvent, error) {
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
	byKey := make(map[wal.Key]*partEntries, len(parts))
	for _, pe := range parts {
		byKey[pe.key] = pe
		for _, e := range pe.entries {
			if err := b.Add(index.Key(pe.key), e.BaseOffset, e.LastOffset, e.MaxTimestamp, e.Data); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
		}
	}
	footer, _, err := b.Finish()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
	}
	// One extent per run of entries written under one leader epoch: the
	// footer covers the partition's whole byte range, each extent the
	// part of it its run's batches fill (the builder writes them
	// verbatim, back to back).
	extents := make([]metadata.Extent, 0, len(footer.Partitions))
	var producers [][]metadata.ProducerState
	var txns [][]metadata.TxnEvent
	anyTxn := false
	for _, p := range footer.Partitions {
		pe := byKey[wal.Key(p.Key)]
		pos := p.Pos
		for i := 0; i < len(pe.entries); {
			ext := metadata.Extent{
				Topic:        metadata.TopicID(p.Key.Topic),
				Partition:    p.Key.Partition,
				BaseOffset:   pe.entries[i].BaseOffset,
				Pos:          pos,
				MaxTimestamp: -1,
				LeaderEpoch:  pe.epochs[i],
			}
			first := i
			for ; i < len(pe.entries) && pe.epochs[i] == ext.LeaderEpoch; i++ {
				ext.LastOffset = pe.entries[i].LastOffset
				ext.Len += int64(len(pe.entries[i].Data))
				ext.MaxTimestamp = max(ext.MaxTimestamp, pe.maxTs[i])
			}
			ps, err := extentProducers(pe.entries[first:i])
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
			evs, err := extentTxnEvents(pe.entries[first:i])
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
			anyTxn = anyTxn || len(evs) > 0
			pos += ext.Len
			extents = append(extents, ext)
			producers = append(producers, ps)
			txns = append(txns, evs)
		}
		if pos != p.Pos+p.Len || extents[len(extents)-1].LastOffset != p.LastOffset {
			return nil, nil, nil, nil, fmt.Errorf("build object: partition %v: entries end at byte %d offset %d, the footer at byte %d offset %d",
				p.Key, pos, extents[len(extents)-1].LastOffset, p.Pos+p.Len, p.LastOffset)
		}
	}
	if !anyTxn {
		txns = nil
	}
	return buf.Bytes(), extents, producers, txns, nil
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
			up.body, up.extents, up.producers, up.txns, err = u.build(parts)
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
		start := time.Now()
		err := u.bucket.Put(u.ctx, up.key, bytes.NewReader(up.body), int64(len(up.body)))
		if err == nil {
			up.putAt = start
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

// commit registers the object's extents in the catalog, retrying until the
// catalog decided on them or the uploader closes, then advances the
// partitions whose extents it accepted and fences those it refused.
//
// Before each attempt, an object whose PUT started more than half the
// orphan grace ago is uploaded again under a new key: the GC deletes
// objects the catalog does not know once they are older than the grace
// (a wave whose other PUTs kept failing, a long metadata outage), and
// checking that the old one still exists would leave it the rest of the
// grace to vanish between the check and the commit. The old object, if
// still there, is an orphan the GC removes.
func (u *Uploader) commit(up *upload) error {
	for attempt := 0; ; attempt++ {
		if time.Since(up.putAt) > u.cfg.OrphanGrace/2 {
			if err := u.rePut(up); err != nil {
				return err
			}
		}
		c := metadata.ObjectCommit{Key: up.key, Size: int64(len(up.body)), Broker: u.cfg.BrokerID, Extents: up.extents,
			Producers: up.producers, Txns: up.txns, ProducerExpiry: u.cfg.ProducerExpiration.Milliseconds(), Now: time.Now().UnixMilli()}
		res, err := u.cat.CommitObject(u.ctx, c)
		if err == nil {
			u.committed(up, res)
			return nil
		}
		if u.ctx.Err() != nil {
			return u.ctx.Err()
		}
		u.commitErrors.Add(1)
		if errors.Is(err, metadata.ErrInvalidRequest) || errors.Is(err, metadata.ErrUnknownTopic) {
			// The catalog can never take this object; retrying would hold
			// back every later segment. Its partitions cannot continue.
			u.logger.Error("segment cannot be committed; leaving its object to the garbage collector", "segment", up.seg.ID, "object", up.key, "err", err)
			for _, e := range up.extents {
				u.fence(wal.Key{Topic: [16]byte(e.Topic), Partition: e.Partition}, e.LeaderEpoch, err)
			}
			return nil
		}
		u.logger.Warn("commit segment failed; retrying", "segment", up.seg.ID, "object", up.key, "attempt", attempt+1, "err", err)
		if err := u.sleep(u.backoff(attempt)); err != nil {
			return err
		}
	}
}

// rePut uploads the object again under a fresh key.
func (u *Uploader) rePut(up *upload) error {
	old := up.key
	up.key = WALObjectKey(u.cfg.BrokerID, up.seg.ID, NewNonce())
	for i := range up.extents {
		up.extents[i].Object = up.key
	}
	if err := u.put(up); err != nil {
		return err
	}
	u.rePuts.Add(1)
	u.logger.Warn("object not committed within half the orphan grace; uploaded it again under a new key",
		"segment", up.seg.ID, "old_object", old, "object", up.key, "orphan_grace", u.cfg.OrphanGrace)
	return nil
}

// committed advances the partitions of the extents the catalog accepted
// and fences those of the extents it refused.
func (u *Uploader) committed(up *upload, res metadata.CommitResult) {
	// A partition's extents are in offset order; from its first refused
	// one on, none of them was accepted.
	refusedFrom := map[wal.Key]int64{}
	var first []metadata.RefusedExtent
	for _, r := range res.Refused {
		k := wal.Key{Topic: [16]byte(r.Topic), Partition: r.Partition}
		if _, ok := refusedFrom[k]; !ok {
			refusedFrom[k] = r.BaseOffset
			first = append(first, r)
		}
	}
	accepted := 0
	for _, e := range up.extents {
		k := wal.Key{Topic: [16]byte(e.Topic), Partition: e.Partition}
		if from, ok := refusedFrom[k]; ok && e.LastOffset >= from {
			continue
		}
		accepted++
		if u.cfg.OnCommitted != nil {
			u.cfg.OnCommitted(k, e.LastOffset+1)
		}
	}
	if accepted > 0 {
		u.objects.Add(1)
		u.bytes.Add(int64(len(up.body)))
	}
	u.mu.Lock()
	if !up.seg.FirstEntryTime.IsZero() {
		u.stats.LastUploadLag = time.Since(up.seg.FirstEntryTime)
	}
	u.mu.Unlock()
	// After the accepted extents: a partition fenced now still serves
	// what it committed from its local WAL.
	for _, r := range first {
		u.fence(wal.Key{Topic: [16]byte(r.Topic), Partition: r.Partition}, r.LeaderEpoch, r.Err)
	}
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
