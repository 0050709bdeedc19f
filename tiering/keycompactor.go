package tiering

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/recordbatch"
)

// KeyCompactionCatalog is the part of the metadata store the key
// compactor uses.
type KeyCompactionCatalog interface {
	Topics() []metadata.Topic
	PartitionLog(topic metadata.TopicID, partition int32) (metadata.PartitionLog, bool)
	Extents(topic metadata.TopicID, partition int32, fromOffset int64, max int) []metadata.Extent
	ReplaceExtents(ctx context.Context, r metadata.Replacement) error
	KeyCompactionState(topic metadata.TopicID, partition int32) (metadata.KeyCompactionState, bool)
	RecordKeyCompaction(ctx context.Context, c metadata.KeyCompaction) error
	// For transactional data (metadata/txnlog.go): nothing at or above
	// the last stable offset is compacted, aborted records never stand
	// for their key and are removed, and markers stay.
	LastStableOffset(topic metadata.TopicID, partition int32) (lso, end int64, ok bool)
	AbortedTxns(topic metadata.TopicID, partition int32, from, to int64) []metadata.AbortedTxn
}

// KeyCompactorConfig configures the key compactor.
type KeyCompactorConfig struct {
	// MapBytes is the offset map's memory budget: the most keys one pass
	// can deduplicate is MapBytes/24*0.75. A dirty range with more keys
	// takes several passes.
	MapBytes int64
	// TargetBytes bounds the objects a pass writes (a topic's segment.bytes,
	// when set, bounds them too).
	TargetBytes int64
	// TempDir holds the objects being written before their upload.
	TempDir string
	// SparseInterval is the byte distance between sparse index entries.
	SparseInterval int64
	// ReadBufferBytes is the read buffer of a streamed extent.
	ReadBufferBytes int
}

// DefaultKeyCompactorConfig: a 64 MiB offset map (about 2 million keys per
// pass), objects of up to 256 MiB.
func DefaultKeyCompactorConfig() KeyCompactorConfig {
	return KeyCompactorConfig{MapBytes: 64 << 20, TargetBytes: 256 << 20, TempDir: os.TempDir(),
		SparseInterval: 256 << 10, ReadBufferBytes: 1 << 20}
}

// Validate reports the first bad setting.
func (c KeyCompactorConfig) Validate() error {
	switch {
	case c.MapBytes < minOffsetMapBytes:
		return fmt.Errorf("key compaction map bytes %d: must be at least %d", c.MapBytes, minOffsetMapBytes)
	case c.TargetBytes < 1<<10:
		return fmt.Errorf("key compaction target %d: must be at least 1KiB", c.TargetBytes)
	case c.TempDir == "":
		return errors.New("key compaction temp dir: must be set")
	case c.ReadBufferBytes < 4<<10:
		return fmt.Errorf("key compaction read buffer %d: must be at least 4KiB", c.ReadBufferBytes)
	}
	return index.BuilderOptions{SparseInterval: c.SparseInterval}.Validate()
}

// KeyCompactionResult says what one RunOnce did.
type KeyCompactionResult struct {
	Partitions   int   // partitions compacted
	Passes       int   // passes (one offset map each)
	Objects      int   // new objects swapped in
	BytesRead    int64 // bytes of extents read
	BytesWritten int64 // bytes of new objects
	Reclaimed    int64 // bytes removed from the catalog
	Conflicts    int   // swaps refused because the catalog moved
}

// KeyCompactorStats counts the key compactor's work since it started.
type KeyCompactorStats struct {
	Passes    int64
	Objects   int64
	Gets      int64 // ranged GETs
	GetBytes  int64
	Puts      int64
	PutBytes  int64
	Deletes   int64 // new objects deleted after a refused swap
	Reclaimed int64
	Conflicts int64
}

type keyCompactorCounters struct {
	passes, objects, gets, getBytes, puts, putBytes, deletes, reclaimed, conflicts atomic.Int64
}

// KeyCompactor compacts partitions of topics whose cleanup.policy includes
// compact, as Kafka's log cleaner does, on the object tier: for each key
// only its latest record is kept, offsets never move (removed records
// leave gaps), tombstones go after delete.retention.ms.
//
// One pass over a partition:
//
//  1. Selection. The cleanable range ends at the first extent younger than
//     min.compaction.lag.ms (by its max timestamp, or its commit time when
//     it has none), and at the high watermark: the catalog holds only
//     uploaded data, so the local tail is never touched. The dirty part
//     starts where the last pass ended (CleanedTo, in the catalog). The
//     partition is compacted when dirty bytes / all bytes reach
//     min.cleanable.dirty.ratio, or when its oldest dirty extent is older
//     than max.compaction.lag.ms.
//  2. The offset map. The dirty part is streamed (one ranged GET per
//     extent, batch by batch) and each key's hash is mapped to its latest
//     offset, until the map's budget is full: the pass then covers the
//     dirty part up to the start of the extent where that happened (up
//     to that record if it is the first extent mapped), and the next pass
//     goes on from there.
//  3. The rewrite. Every extent from the log start up to the mapped end is
//     streamed again; a record is kept unless the map holds a later offset
//     for its key, it has no key, or it is a tombstone older than
//     delete.retention.ms. A batch keeping every record is copied as it
//     is; one keeping some is re-encoded with them (Rebuild: same base
//     offset, last offset delta, producer fields); one keeping none is
//     dropped, except the first and last batch of each extent (kept empty,
//     so extents keep their offset bounds) and an idempotent producer's
//     last batch (kept empty, so producer state rebuilt from the log after
//     a leader change holds). Extents that do not change are not
//     rewritten. Changed extents are written into new single-partition
//     objects of up to TargetBytes, each uploaded and swapped for the run
//     of extents it replaces with one ReplaceExtents, which fails if the
//     run changed meanwhile (retention, DeleteRecords, the size
//     compactor). The swaps go in offset order and the pass stops at the
//     first refusal, so a tombstone is never dropped while an older record
//     of its key survives before it.
//  4. RecordKeyCompaction advances CleanedTo to the mapped end.
//
// Readers holding old extents finish on the old objects: they become
// garbage and the GC deletes them after its grace. The new-object rule is
// the size compactor's: deleted only when the swap was refused
// (ErrCatalogChanged), else left for the orphan sweep.
type KeyCompactor struct {
	cfg    KeyCompactorConfig
	bucket objectstore.Bucket
	cat    KeyCompactionCatalog
	logger *slog.Logger
	omap   *offsetMap // allocated at the first pass, reused
	stats  keyCompactorCounters
	// tombstones is, per partition, the time of the oldest tombstone the
	// last pass kept in the cleaned range: once it is delete.retention.ms
	// old, a purge pass is due even if nothing is dirty. In memory only:
	// after a leader change, such tombstones go with the next pass the
	// dirty ratio starts.
	tombstones map[index.Key]int64
	// producers is, per partition, each idempotent producer's last batch
	// in what the last pass rewrote (see keyPass.lastBatch). In memory
	// only, like tombstones.
	producers map[index.Key]map[int64]int64
	// now returns the time; tests replace it.
	now func() time.Time
}

// NewKeyCompactor returns a key compactor.
func NewKeyCompactor(cfg KeyCompactorConfig, bucket objectstore.Bucket, cat KeyCompactionCatalog, logger *slog.Logger) (*KeyCompactor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &KeyCompactor{cfg: cfg, bucket: bucket, cat: cat, logger: logger, now: time.Now,
		tombstones: make(map[index.Key]int64), producers: make(map[index.Key]map[int64]int64)}, nil
}

// Stats returns the compactor's counters.
func (c *KeyCompactor) Stats() KeyCompactorStats {
	s := &c.stats
	return KeyCompactorStats{Passes: s.passes.Load(), Objects: s.objects.Load(), Gets: s.gets.Load(), GetBytes: s.getBytes.Load(),
		Puts: s.puts.Load(), PutBytes: s.putBytes.Load(), Deletes: s.deletes.Load(), Reclaimed: s.reclaimed.Load(), Conflicts: s.conflicts.Load()}
}

// IsCompacted reports whether a topic's cleanup.policy includes compact.
func IsCompacted(t metadata.Topic) bool {
	for _, p := range t.ConfigList("cleanup.policy") {
		if p == "compact" {
			return true
		}
	}
	return false
}

// RunOnce compacts every partition of a compacted topic that is due, each
// in as many passes as its dirty range needs. It is not safe to run
// concurrently with itself (one offset map).
func (c *KeyCompactor) RunOnce(ctx context.Context) (KeyCompactionResult, error) {
	var res KeyCompactionResult
	for _, t := range c.cat.Topics() {
		if !IsCompacted(t) {
			continue
		}
		for i := range t.Partitions {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := c.compactPartition(ctx, t, int32(i), &res); err != nil {
				if errors.Is(err, metadata.ErrCatalogChanged) {
					res.Conflicts++
					c.stats.conflicts.Add(1)
					continue
				}
				return res, fmt.Errorf("compact %s/%d by key: %w", t.Name, i, err)
			}
		}
	}
	return res, nil
}

// topicRules are a topic's compaction settings.
type topicRules struct {
	minLag, maxLag, deleteRetention int64
	minDirty                        float64
	target                          int64
}

func (c *KeyCompactor) rules(t metadata.Topic) topicRules {
	r := topicRules{
		minLag:          t.ConfigInt64("min.compaction.lag.ms"),
		maxLag:          t.ConfigInt64("max.compaction.lag.ms"),
		deleteRetention: t.ConfigInt64("delete.retention.ms"),
		minDirty:        t.ConfigFloat64("min.cleanable.dirty.ratio"),
		target:          c.cfg.TargetBytes,
	}
	if _, ok := t.Configs["segment.bytes"]; ok {
		r.target = max(min(r.target, t.ConfigInt64("segment.bytes")), 1<<10)
	}
	return r
}

// extentTime is when an extent's data was written, for the compaction
// lags: its max timestamp, else its commit time; ok false if unknown.
func extentTime(e metadata.Extent) (int64, bool) {
	return retentionTime(e)
}

// plan is one partition's cleanable range.
type keyPlan struct {
	firstDirty, cleanEnd int64
	clean, dirty         int64 // bytes
	due                  bool
}

// planKeyCompaction decides what of a partition is cleanable now.
func planKeyCompaction(exts []metadata.Extent, logStart, cleanedTo, nowMs int64, r topicRules) keyPlan {
	var p keyPlan
	if len(exts) == 0 {
		return p
	}
	p.cleanEnd = exts[len(exts)-1].LastOffset + 1
	for _, e := range exts {
		ts, ok := extentTime(e)
		if ok && ts > satSub(nowMs, r.minLag) {
			p.cleanEnd = e.BaseOffset
			break
		}
	}
	p.firstDirty = max(cleanedTo, logStart, exts[0].BaseOffset)
	oldestDirty := int64(math.MaxInt64)
	for _, e := range exts {
		switch {
		case e.LastOffset < p.firstDirty:
			p.clean += e.Len
		case e.BaseOffset < p.cleanEnd:
			p.dirty += e.Len
			if ts, ok := extentTime(e); ok && e.CommitTime > 0 {
				oldestDirty = min(oldestDirty, min(ts, e.CommitTime))
			} else if ok {
				oldestDirty = min(oldestDirty, ts)
			}
		}
	}
	if p.firstDirty >= p.cleanEnd || p.dirty == 0 {
		return p
	}
	ratio := float64(p.dirty) / float64(p.clean+p.dirty)
	p.due = ratio >= r.minDirty || (oldestDirty != math.MaxInt64 && satSub(nowMs, oldestDirty) >= r.maxLag)
	return p
}

// satSub is a-b without overflow below MinInt64.
func satSub(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// compactPartition runs the passes one partition needs.
func (c *KeyCompactor) compactPartition(ctx context.Context, t metadata.Topic, p int32, res *KeyCompactionResult) error {
	r := c.rules(t)
	compacted := false
	// A run goes no further than the cleanable end of its first plan, so
	// that under produce load it does not chase the head of the log.
	var bound int64
	for pass := 0; ; pass++ {
		pl, ok := c.cat.PartitionLog(t.ID, p)
		if !ok || pl.Extents == 0 {
			return nil
		}
		st, _ := c.cat.KeyCompactionState(t.ID, p)
		exts := c.cat.Extents(t.ID, p, pl.LogStart, maxExtentsPerPass)
		now := c.now().UnixMilli()
		plan := planKeyCompaction(exts, pl.LogStart, st.CleanedTo, now, r)
		if lso, _, ok := c.cat.LastStableOffset(t.ID, p); ok && plan.cleanEnd > lso {
			// An open transaction's records may yet be aborted.
			plan.cleanEnd = max(lso, plan.firstDirty)
			plan.due = plan.due && plan.firstDirty < plan.cleanEnd
		}
		if pass == 0 {
			bound = plan.cleanEnd
		} else {
			// A later pass of the same run goes on while anything
			// below the first plan's end is dirty.
			plan.cleanEnd = min(plan.cleanEnd, bound)
			plan.due = plan.firstDirty < plan.cleanEnd
		}
		if !plan.due {
			pk := index.Key{Topic: [16]byte(t.ID), Partition: p}
			if ts, ok := c.tombstones[pk]; ok && ts <= satSub(now, r.deleteRetention) && !compacted {
				// Tombstones in the cleaned range are past
				// delete.retention.ms: a pass with an empty map over
				// the cleaned range removes them.
				plan.firstDirty = min(plan.firstDirty, plan.cleanEnd)
				plan.cleanEnd = plan.firstDirty // nothing is mapped
				if err := c.pass(ctx, t, p, exts, plan, r, now, res); err != nil {
					return err
				}
				compacted = true
			}
			if compacted {
				res.Partitions++
			}
			return nil
		}
		if err := c.pass(ctx, t, p, exts, plan, r, now, res); err != nil {
			return err
		}
		compacted = true
	}
}

// pass is one offset map's worth of compaction of a partition.
func (c *KeyCompactor) pass(ctx context.Context, t metadata.Topic, p int32, exts []metadata.Extent, plan keyPlan, r topicRules, now int64, res *KeyCompactionResult) error {
	if c.omap == nil {
		m, err := newOffsetMap(c.cfg.MapBytes)
		if err != nil {
			return err
		}
		c.omap = m
	}
	c.omap.reset()
	pk := index.Key{Topic: [16]byte(t.ID), Partition: p}
	w := &keyPass{c: c, topic: t, part: p, rules: r, now: now, lastBatch: make(map[int64]int64),
		seen: make(map[int64]int64), tombstone: math.MaxInt64}
	// What the previous pass saw covers the cleaned range; with nothing
	// cleaned yet, the map scan below sees every producer.
	if prev, ok := c.producers[pk]; ok {
		maps.Copy(w.lastBatch, prev)
		w.complete = true
	} else {
		w.complete = len(exts) == 0 || plan.firstDirty <= exts[0].BaseOffset
	}
	// Aborted transactions up to the cleanable end: the map must not take
	// their records as any key's latest.
	w.aborted = c.cat.AbortedTxns(t.ID, p, 0, max(plan.cleanEnd, plan.firstDirty))
	purge := plan.firstDirty >= plan.cleanEnd
	mappedEnd := plan.firstDirty
	if !purge {
		var err error
		if mappedEnd, err = w.buildMap(ctx, exts, plan.firstDirty, plan.cleanEnd); err != nil {
			return err
		}
		if mappedEnd <= plan.firstDirty {
			return fmt.Errorf("offset map of %d bytes holds no key", c.cfg.MapBytes)
		}
	}
	w.mappedEnd = mappedEnd
	var rewrite []metadata.Extent
	for _, e := range exts {
		if e.BaseOffset >= mappedEnd {
			break
		}
		rewrite = append(rewrite, e)
	}
	reclaimed, err := w.rewrite(ctx, rewrite)
	res.BytesRead += w.read
	res.BytesWritten += w.written
	res.Objects += w.objects
	res.Reclaimed += reclaimed
	if err != nil {
		return err
	}
	if err := c.cat.RecordKeyCompaction(ctx, metadata.KeyCompaction{Topic: t.ID, Partition: p, CleanedTo: mappedEnd, Reclaimed: reclaimed, Now: now}); err != nil {
		return err
	}
	if w.seen != nil {
		c.producers[pk] = w.seen
	} else {
		delete(c.producers, pk)
	}
	if w.tombstone != math.MaxInt64 {
		c.tombstones[pk] = w.tombstone
	} else {
		delete(c.tombstones, pk)
	}
	res.Passes++
	c.stats.passes.Add(1)
	c.stats.reclaimed.Add(reclaimed)
	c.logger.Info("compacted by key", "topic", t.Name, "partition", p, "from", plan.firstDirty, "to", mappedEnd,
		"keys", c.omap.keys(), "objects", w.objects, "read", w.read, "written", w.written, "reclaimed", reclaimed)
	return nil
}

// keyPass is the state of one pass.
type keyPass struct {
	c         *KeyCompactor
	topic     metadata.Topic
	part      int32
	rules     topicRules
	now       int64
	mappedEnd int64
	// lastBatch is each idempotent producer's last batch (base offset) in
	// the rewritten range, as far as known: from the previous pass's
	// rewrite (the cleaned range), then from this pass's map scan (the
	// dirty range). Its batch is kept, if only empty. complete says it
	// holds every producer of the range; when not (the first pass after
	// a restart or a leader change, or too many producers), a producer
	// not in it keeps every batch compaction empties.
	lastBatch map[int64]int64
	complete  bool
	// seen is what this pass's rewrite saw: each producer's last batch
	// in order, for the next pass.
	seen map[int64]int64
	// tombstone is the oldest time of a tombstone this pass kept.
	tombstone int64
	// aborted are the partition's aborted transactions below mappedEnd
	// (by marker offset): their records are removed.
	aborted []metadata.AbortedTxn

	read, written int64
	objects       int

	batchBuf []byte
	recBuf   []byte
	recs     []recordbatch.Record
	out      []byte
}

// maxProducersTracked bounds lastBatch; producers beyond it keep every
// batch of theirs that compaction empties, as an empty batch.
const maxProducersTracked = 1 << 16

// buildMap maps the keys of records in [from, to) and returns where it
// stopped: to, or, when a key did not fit, the base of the extent it is
// in (so the pass rewrites whole extents only; the keys of that extent
// already in the map only remove records superseded by it, which is
// right), or the record's own offset when that extent is the first one
// mapped (a partial extent, so that every pass advances).
func (w *keyPass) buildMap(ctx context.Context, exts []metadata.Extent, from, to int64) (int64, error) {
	m := w.c.omap
	for _, e := range exts {
		if e.LastOffset < from {
			continue
		}
		if e.BaseOffset >= to {
			break
		}
		stop := int64(-1)
		err := w.streamExtent(ctx, e, func(h *recordbatch.Header, batch []byte) (bool, error) {
			if h.LastOffset() < from {
				return true, nil
			}
			if h.BaseOffset >= to {
				return false, nil
			}
			if h.IsControl() || w.abortedBatch(h) {
				return true, nil // markers and aborted records stand for no key
			}
			if err := w.decode(h, batch, e); err != nil {
				return false, err
			}
			for i := range w.recs {
				rec := &w.recs[i]
				off := h.BaseOffset + int64(rec.OffsetDelta)
				if off < from || rec.KeyNull {
					continue
				}
				if off >= to {
					break
				}
				if !m.put(rec.Key, off) {
					stop = off
					return false, nil
				}
			}
			if h.ProducerID >= 0 {
				if _, ok := w.lastBatch[h.ProducerID]; ok || len(w.lastBatch) < maxProducersTracked {
					w.lastBatch[h.ProducerID] = h.BaseOffset
				} else {
					w.complete = false
				}
			}
			return true, nil
		})
		if err != nil {
			return 0, err
		}
		if stop >= 0 {
			if e.BaseOffset > from {
				return e.BaseOffset, nil
			}
			return stop, nil
		}
	}
	return to, nil
}

func (w *keyPass) decode(h *recordbatch.Header, batch []byte, e metadata.Extent) error {
	var err error
	w.recs, w.recBuf, err = recordbatch.DecodeRecords(h, batch, w.recBuf, w.recs)
	if err != nil {
		return &index.CorruptionError{Object: e.Object, Offset: -1, Reason: fmt.Sprintf("batch at offset %d: %v", h.BaseOffset, err)}
	}
	return nil
}

// keep decides whether the record at off survives this pass.
func (w *keyPass) keep(h *recordbatch.Header, rec *recordbatch.Record, off int64, e metadata.Extent) bool {
	if off >= w.mappedEnd {
		return true // beyond this pass: untouched
	}
	if rec.KeyNull {
		return false // a compacted topic keeps records by key only
	}
	if latest, ok := w.c.omap.get(rec.Key); ok && latest > off {
		return false
	}
	if rec.ValueNull {
		ts := rec.Timestamp(h)
		if ts < 0 {
			ts, _ = extentTime(e)
		}
		if ts >= 0 && ts <= satSub(w.now, w.rules.deleteRetention) {
			return false // a tombstone past delete.retention.ms
		}
		w.tombstone = min(w.tombstone, max(ts, 0))
	}
	return true
}

// rewrite streams exts (from the log start, in order) through the map and
// swaps in new objects for the runs of extents that changed. It returns
// the bytes reclaimed.
func (w *keyPass) rewrite(ctx context.Context, exts []metadata.Extent) (int64, error) {
	raw, err := os.CreateTemp(w.c.cfg.TempDir, "shale-keycompact-raw-*")
	if err != nil {
		return 0, fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(raw.Name())
	defer raw.Close()
	rw := bufio.NewWriterSize(raw, 1<<20)
	var (
		group     []metadata.Extent
		groupIn   int64
		groupOut  int64
		reclaimed int64
	)
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		if err := rw.Flush(); err != nil {
			return fmt.Errorf("write temp file: %w", err)
		}
		n, err := w.swap(ctx, raw, groupOut, group)
		if err != nil {
			return err
		}
		reclaimed += groupIn - n
		group, groupIn, groupOut = nil, 0, 0
		if _, err := raw.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := raw.Truncate(0); err != nil {
			return err
		}
		rw.Reset(raw)
		return nil
	}
	for _, e := range exts {
		if err := ctx.Err(); err != nil {
			return reclaimed, err
		}
		changed := false
		var out int64
		first := true
		err := w.streamExtent(ctx, e, func(h *recordbatch.Header, batch []byte) (bool, error) {
			isFirst, isLast := first, h.LastOffset() == e.LastOffset
			first = false
			w.noteProducer(h)
			data, same, err := w.filterBatch(h, batch, e, isFirst || isLast)
			if err != nil {
				return false, err
			}
			if !same {
				changed = true
			}
			if len(data) > 0 {
				if _, err := rw.Write(data); err != nil {
					return false, fmt.Errorf("write temp file: %w", err)
				}
				out += int64(len(data))
			}
			return true, nil
		})
		if err != nil {
			return reclaimed, err
		}
		if !changed {
			// Nothing to do here: what was written of it is dropped and
			// the run so far is swapped in on its own.
			if err := rw.Flush(); err != nil {
				return reclaimed, err
			}
			if err := raw.Truncate(groupOut); err != nil {
				return reclaimed, err
			}
			if _, err := raw.Seek(groupOut, io.SeekStart); err != nil {
				return reclaimed, err
			}
			rw.Reset(raw)
			if err := flush(); err != nil {
				return reclaimed, err
			}
			continue
		}
		group = append(group, e)
		groupIn += e.Len
		groupOut += out
		if groupOut >= w.rules.target {
			if err := flush(); err != nil {
				return reclaimed, err
			}
		}
	}
	return reclaimed, flush()
}

// filterBatch returns what of one batch is kept: the batch itself (same
// true), a rebuilt one, or nothing. mustStay keeps an emptied batch (the
// first or last of its extent).
func (w *keyPass) filterBatch(h *recordbatch.Header, batch []byte, e metadata.Extent, mustStay bool) ([]byte, bool, error) {
	if h.BaseOffset >= w.mappedEnd || h.IsControl() {
		return batch, true, nil // markers stay: readers end aborted transactions at them
	}
	if w.abortedBatch(h) {
		if mustStay || w.producerLast(h) {
			w.out = recordbatch.Rebuild(w.out[:0], h, nil)
			return w.out, false, nil
		}
		return nil, false, nil
	}
	if err := w.decode(h, batch, e); err != nil {
		return nil, false, err
	}
	n := 0
	for i := range w.recs {
		rec := &w.recs[i]
		if w.keep(h, rec, h.BaseOffset+int64(rec.OffsetDelta), e) {
			w.recs[n] = *rec
			n++
		}
	}
	kept := w.recs[:n]
	switch {
	case n == len(w.recs) && (n > 0 || mustStay || w.producerLast(h)):
		return batch, true, nil
	case n == 0 && !mustStay && !w.producerLast(h):
		return nil, false, nil
	}
	w.out = recordbatch.Rebuild(w.out[:0], h, kept)
	return w.out, false, nil
}

// abortedBatch reports whether h is transactional data of an aborted
// transaction.
func (w *keyPass) abortedBatch(h *recordbatch.Header) bool {
	if !h.IsTransactional() || h.IsControl() {
		return false
	}
	i, _ := slices.BinarySearchFunc(w.aborted, h.BaseOffset, func(a metadata.AbortedTxn, off int64) int {
		if a.LastOffset < off {
			return -1
		}
		return 1
	})
	for ; i < len(w.aborted); i++ {
		a := w.aborted[i]
		if a.ProducerID == h.ProducerID && a.FirstOffset <= h.BaseOffset && h.BaseOffset < a.LastOffset {
			return true
		}
	}
	return false
}

// producerLast reports whether an emptied batch must stay for its
// producer's sake: it is an idempotent producer's last batch in the
// rewritten range, or one of a producer the pass knows nothing of.
func (w *keyPass) producerLast(h *recordbatch.Header) bool {
	if h.ProducerID < 0 {
		return false
	}
	last, ok := w.lastBatch[h.ProducerID]
	if !ok {
		return !w.complete
	}
	return last == h.BaseOffset
}

// noteProducer records a batch the rewrite streamed, in offset order.
func (w *keyPass) noteProducer(h *recordbatch.Header) {
	if h.ProducerID < 0 || w.seen == nil {
		return
	}
	if _, ok := w.seen[h.ProducerID]; !ok && len(w.seen) >= maxProducersTracked {
		w.seen = nil // too many: the next pass knows nothing
		return
	}
	w.seen[h.ProducerID] = h.BaseOffset
}

// swap builds one object of the first size bytes of raw (whole batches
// covering exactly the offsets of group), uploads it and swaps it for
// group. It returns the new extent's length.
func (w *keyPass) swap(ctx context.Context, raw *os.File, size int64, group []metadata.Extent) (int64, error) {
	c := w.c
	key := index.Key{Topic: [16]byte(w.topic.ID), Partition: w.part}
	f, err := os.CreateTemp(c.cfg.TempDir, "shale-keycompact-*")
	if err != nil {
		return 0, fmt.Errorf("create temp object: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	b := index.NewBuilder(bw, index.BuilderOptions{SparseInterval: c.cfg.SparseInterval})
	if _, err := raw.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(io.LimitReader(raw, size), 1<<20)
	var chunk []byte
	var chunkFirst, chunkLast int64
	add := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := b.Add(key, chunkFirst, chunkLast, -1, chunk); err != nil {
			return fmt.Errorf("build compacted object: %w", err)
		}
		chunk = chunk[:0]
		return nil
	}
	var hdr [recordbatch.HeaderSize]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return 0, fmt.Errorf("read temp file: %w", err)
		}
		h, err := recordbatch.ParseHeader(hdr[:])
		if err != nil {
			return 0, fmt.Errorf("read temp file: %w", err)
		}
		if len(chunk) == 0 {
			chunkFirst = h.BaseOffset
		}
		chunkLast = h.LastOffset()
		chunk = append(chunk, hdr[:]...)
		start := len(chunk)
		chunk = append(chunk, make([]byte, h.Size()-recordbatch.HeaderSize)...)
		if _, err := io.ReadFull(br, chunk[start:]); err != nil {
			return 0, fmt.Errorf("read temp file: %w", err)
		}
		if len(chunk) >= 1<<20 {
			if err := add(); err != nil {
				return 0, err
			}
		}
	}
	if err := add(); err != nil {
		return 0, err
	}
	footer, objSize, err := b.Finish()
	if err != nil {
		return 0, fmt.Errorf("finish object: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write temp object: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	first, last := group[0], group[len(group)-1]
	fp := footer.Partitions[0]
	if fp.FirstOffset != first.BaseOffset || fp.LastOffset != last.LastOffset {
		return 0, fmt.Errorf("compacted object holds offsets [%d, %d], the extents [%d, %d]", fp.FirstOffset, fp.LastOffset, first.BaseOffset, last.LastOffset)
	}
	objKey := CompactedObjectKey(key.Topic, w.part, first.BaseOffset, NewNonce())
	c.stats.puts.Add(1)
	if err := c.bucket.Put(ctx, objKey, f, objSize); err != nil {
		return 0, fmt.Errorf("upload %s: %w", objKey, err)
	}
	c.stats.putBytes.Add(objSize)
	w.written += objSize
	err = c.cat.ReplaceExtents(ctx, metadata.Replacement{
		New: metadata.Extent{
			Topic: w.topic.ID, Partition: w.part,
			BaseOffset: first.BaseOffset, LastOffset: last.LastOffset,
			Object: objKey, Pos: fp.Pos, Len: fp.Len,
			MaxTimestamp: fp.MaxTimestamp, LeaderEpoch: last.LeaderEpoch,
		},
		ObjectSize: objSize,
		Now:        w.now,
	})
	if err != nil {
		if swapRefused(err) {
			c.stats.deletes.Add(1)
			if derr := c.bucket.Delete(context.WithoutCancel(ctx), objKey); derr != nil {
				c.logger.Warn("delete unused compacted object", "object", objKey, "err", derr)
			}
		} else {
			c.logger.Warn("key compaction swap outcome unknown; object kept", "object", objKey, "err", err)
		}
		return 0, err
	}
	w.objects++
	c.stats.objects.Add(1)
	return fp.Len, nil
}

// maxStreamedBatch bounds one batch read from an extent, so a damaged
// length cannot ask for a huge allocation.
const maxStreamedBatch = 256 << 20

// streamExtent reads one extent with a single ranged GET, batch by batch,
// verifies every batch (framing, CRC, ascending offsets, the extent's
// bounds) and calls fn with each until fn returns false. The batch is
// valid only during the call.
func (w *keyPass) streamExtent(ctx context.Context, e metadata.Extent, fn func(h *recordbatch.Header, batch []byte) (bool, error)) error {
	c := w.c
	c.stats.gets.Add(1)
	rc, err := c.bucket.ReadRange(ctx, e.Object, e.Pos, e.Len)
	if err != nil {
		return fmt.Errorf("read extent of %s: %w", e.Object, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, c.cfg.ReadBufferBytes)
	corrupt := func(at int64, format string, args ...any) error {
		return &index.CorruptionError{Object: e.Object, Offset: e.Pos + at, Reason: fmt.Sprintf(format, args...)}
	}
	gaps := index.VerifyOptions{AllowGaps: strings.HasPrefix(e.Object, compactedPrefix)}
	next := e.BaseOffset
	var pos int64
	defer func() {
		c.stats.getBytes.Add(pos)
		w.read += pos
	}()
	for pos < e.Len {
		if e.Len-pos < recordbatch.HeaderSize {
			return corrupt(pos, "extent ends %d bytes into a batch", e.Len-pos)
		}
		if cap(w.batchBuf) < recordbatch.HeaderSize {
			w.batchBuf = make([]byte, 0, 64<<10)
		}
		buf := w.batchBuf[:12]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("read extent of %s: %w", e.Object, err)
		}
		size := 12 + int64(int32(binary.BigEndian.Uint32(buf[8:])))
		if size < recordbatch.HeaderSize || size > e.Len-pos || size > maxStreamedBatch {
			return corrupt(pos, "batch of %d bytes with %d bytes left in the extent", size, e.Len-pos)
		}
		if int64(cap(w.batchBuf)) < size {
			w.batchBuf = make([]byte, size)
			copy(w.batchBuf, buf)
		}
		buf = w.batchBuf[:size]
		if _, err := io.ReadFull(br, buf[12:]); err != nil {
			return fmt.Errorf("read extent of %s: %w", e.Object, err)
		}
		n, after, _, err := index.VerifyBatchesWith(buf, next, gaps)
		if err == nil && n != 1 {
			err = errors.New("not one whole batch")
		}
		if err != nil {
			return corrupt(pos, "batch: %v", err)
		}
		if pos == 0 && int64(binary.BigEndian.Uint64(buf)) != e.BaseOffset {
			return corrupt(pos, "first batch at offset %d, the extent starts at %d", int64(binary.BigEndian.Uint64(buf)), e.BaseOffset)
		}
		if after-1 > e.LastOffset {
			return corrupt(pos, "batch ends at offset %d, past the extent's last offset %d", after-1, e.LastOffset)
		}
		h, err := recordbatch.Parse(buf)
		if err != nil {
			return corrupt(pos, "batch: %v", err)
		}
		next = after
		pos += size
		more, err := fn(&h, buf)
		if err != nil || !more {
			return err
		}
	}
	if next != e.LastOffset+1 {
		return corrupt(pos, "extent ends at offset %d, the catalog says %d", next-1, e.LastOffset)
	}
	return nil
}
