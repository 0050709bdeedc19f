package tiering

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
)

// CompactionCatalog is the part of the metadata store the compactor uses.
type CompactionCatalog interface {
	Topics() []metadata.Topic
	PartitionLog(topic metadata.TopicID, partition int32) (metadata.PartitionLog, bool)
	Extents(topic metadata.TopicID, partition int32, fromOffset int64, max int) []metadata.Extent
	ReplaceExtents(ctx context.Context, r metadata.Replacement) error
}

// CompactorConfig configures the compactor.
type CompactorConfig struct {
	// TargetBytes is the size of the single-partition objects compaction
	// writes; a run of small extents is merged into objects of up to this.
	TargetBytes int64
	// MinExtents is the shortest run of small extents worth merging when
	// the run is smaller than TargetBytes.
	MinExtents int
	// TempDir holds the object being written before its upload.
	TempDir string
	// SparseInterval is the byte distance between sparse index entries.
	SparseInterval int64
}

// DefaultCompactorConfig merges into 256 MiB objects, runs of 16 or more.
func DefaultCompactorConfig() CompactorConfig {
	return CompactorConfig{TargetBytes: 256 << 20, MinExtents: 16, TempDir: os.TempDir(), SparseInterval: 256 << 10}
}

// Validate reports the first bad setting.
func (c CompactorConfig) Validate() error {
	switch {
	case c.TargetBytes < 1<<20:
		return fmt.Errorf("compaction target %d: must be at least 1MiB", c.TargetBytes)
	case c.MinExtents < 2:
		return fmt.Errorf("compaction min extents %d: must be at least 2", c.MinExtents)
	case c.TempDir == "":
		return errors.New("compaction temp dir: must be set")
	}
	return index.BuilderOptions{SparseInterval: c.SparseInterval}.Validate()
}

// CompactionResult says what one pass did.
type CompactionResult struct {
	Objects       int   // new objects written
	ExtentsMerged int   // extents replaced
	Bytes         int64 // bytes rewritten
	Conflicts     int   // replacements refused because the catalog moved
}

// Compactor merges a partition's small extents (slices of multi-partition
// WAL objects) into large single-partition objects, so that a replay reads
// long sequential ranges and the catalog stays small. A merge reads the
// extents' byte ranges, verifies every batch, writes a new object of the
// index format, uploads it, and swaps the extents for it in one raft
// command that fails if the run changed meanwhile (retention, another
// compaction); the replaced objects become garbage once no extent
// references them, and the GC deletes them after its grace period, so
// readers that looked up the old extents finish.
//
// The new object is deleted at once only when the state machine refused
// the swap (ErrCatalogChanged). When the outcome is unknown (the context
// was cancelled at shutdown, leadership was lost, the store closed) the
// raft entry may still apply and make the catalog point at the object, so
// it stays; if the swap never happened it is an orphan under part/, which
// the GC's orphan sweep deletes after the orphan grace.
type Compactor struct {
	cfg    CompactorConfig
	bucket objectstore.Bucket
	cat    CompactionCatalog
	logger *slog.Logger
}

// NewCompactor returns a compactor.
func NewCompactor(cfg CompactorConfig, bucket objectstore.Bucket, cat CompactionCatalog, logger *slog.Logger) (*Compactor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Compactor{cfg: cfg, bucket: bucket, cat: cat, logger: logger}, nil
}

// RunOnce compacts every partition that has a run worth merging.
func (c *Compactor) RunOnce(ctx context.Context) (CompactionResult, error) {
	var res CompactionResult
	for _, t := range c.cat.Topics() {
		for i := range t.Partitions {
			p := int32(i)
			pl, ok := c.cat.PartitionLog(t.ID, p)
			if !ok || pl.Extents < 2 {
				continue
			}
			exts := c.cat.Extents(t.ID, p, pl.LogStart, maxExtentsPerPass)
			for _, run := range planCompaction(exts, c.cfg.TargetBytes, c.cfg.MinExtents) {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				n, err := c.compact(ctx, t, p, run)
				switch {
				case errors.Is(err, metadata.ErrCatalogChanged):
					res.Conflicts++
					continue
				case err != nil:
					return res, fmt.Errorf("compact %s/%d [%d, %d]: %w", t.Name, p, run[0].BaseOffset, run[len(run)-1].LastOffset, err)
				}
				res.Objects++
				res.ExtentsMerged += len(run)
				res.Bytes += n
			}
		}
	}
	return res, nil
}

// planCompaction splits a partition's extents into runs to merge. The
// newest extent is left alone (it is the hot tail, likely to be followed
// soon by more). A run is a stretch of consecutive extents each smaller
// than half the target, cut when it reaches the target; it is merged when
// it reaches the target or has at least minExtents extents.
func planCompaction(exts []metadata.Extent, target int64, minExtents int) [][]metadata.Extent {
	if len(exts) < 2 {
		return nil
	}
	exts = exts[:len(exts)-1]
	var runs [][]metadata.Extent
	var run []metadata.Extent
	var size int64
	flush := func(full bool) {
		if len(run) >= 2 && (full || len(run) >= minExtents) {
			runs = append(runs, run)
		}
		run, size = nil, 0
	}
	for _, e := range exts {
		if !mergeable(e, target) {
			flush(false)
			continue
		}
		if len(run) > 0 && (size+e.Len > target || e.BaseOffset != run[len(run)-1].LastOffset+1) {
			flush(size >= target/2)
		}
		run = append(run, e)
		size += e.Len
		if size >= target {
			flush(true)
		}
	}
	flush(false)
	return runs
}

// mergeable reports whether an extent may join a run: a slice of an
// uploaded WAL object smaller than half the target, or an earlier
// compaction's output only while it is tiny (a slow partition's), so that
// compacted data is not rewritten again and again.
func mergeable(e metadata.Extent, target int64) bool {
	if strings.HasPrefix(e.Object, compactedPrefix) {
		return e.Len < target/16
	}
	return e.Len < target/2
}

// compact merges one run into a new object and swaps it into the catalog.
func (c *Compactor) compact(ctx context.Context, t metadata.Topic, p int32, run []metadata.Extent) (int64, error) {
	key := index.Key{Topic: [16]byte(t.ID), Partition: p}
	f, err := os.CreateTemp(c.cfg.TempDir, "shale-compact-*")
	if err != nil {
		return 0, fmt.Errorf("create temp object: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	b := index.NewBuilder(f, index.BuilderOptions{SparseInterval: c.cfg.SparseInterval})
	for _, e := range run {
		data, err := c.readExtent(ctx, e)
		if err != nil {
			return 0, err
		}
		if err := b.Add(key, e.BaseOffset, e.LastOffset, e.MaxTimestamp, data); err != nil {
			return 0, fmt.Errorf("add extent of %s: %w", e.Object, err)
		}
	}
	footer, size, err := b.Finish()
	if err != nil {
		return 0, fmt.Errorf("finish object: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	first, last := run[0], run[len(run)-1]
	objKey := CompactedObjectKey(key.Topic, p, first.BaseOffset, NewNonce())
	if err := c.bucket.Put(ctx, objKey, f, size); err != nil {
		return 0, fmt.Errorf("upload %s: %w", objKey, err)
	}
	fp := footer.Partitions[0]
	err = c.cat.ReplaceExtents(ctx, metadata.Replacement{
		New: metadata.Extent{
			Topic: t.ID, Partition: p,
			BaseOffset: first.BaseOffset, LastOffset: last.LastOffset,
			Object: objKey, Pos: fp.Pos, Len: fp.Len,
			MaxTimestamp: fp.MaxTimestamp, LeaderEpoch: last.LeaderEpoch,
		},
		ObjectSize: size,
		Now:        time.Now().UnixMilli(),
	})
	if err != nil {
		if swapRefused(err) {
			// The state machine refused the swap: nothing references the
			// object and nothing ever will, so remove it now.
			if derr := c.bucket.Delete(context.WithoutCancel(ctx), objKey); derr != nil {
				c.logger.Warn("delete unused compacted object", "object", objKey, "err", derr)
			}
		} else {
			// Unknown outcome: the entry may have applied (or still
			// apply), and the catalog then points at this object. It is
			// left alone; if the swap did not happen, the orphan sweep
			// deletes it after the orphan grace.
			c.logger.Warn("compaction swap outcome unknown; object kept", "object", objKey, "err", err)
		}
		return 0, err
	}
	c.logger.Info("compacted extents", "topic", t.Name, "partition", p, "extents", len(run),
		"first_offset", first.BaseOffset, "last_offset", last.LastOffset, "object", objKey, "bytes", size)
	return size, nil
}

// swapRefused reports whether a ReplaceExtents error is a definite
// rejection by the state machine, after which the new object is referenced
// by nothing. Only ErrCatalogChanged is: the entry applied and changed
// nothing. Every other error leaves the outcome unknown: a cancelled
// context or a closed store stops waiting for an entry raft may still
// apply, and ErrNotLeader also covers a leadership lost after the entry
// was appended (a later leader may commit it). ErrInvalidRequest is not a
// rejection of this object either: "already in the catalog" would mean the
// catalog references the key.
func swapRefused(err error) bool {
	return errors.Is(err, metadata.ErrCatalogChanged)
}

// readExtent reads one extent's bytes and verifies every batch in it.
func (c *Compactor) readExtent(ctx context.Context, e metadata.Extent) ([]byte, error) {
	rc, err := c.bucket.ReadRange(ctx, e.Object, e.Pos, e.Len)
	if err != nil {
		return nil, fmt.Errorf("read extent of %s: %w", e.Object, err)
	}
	defer rc.Close()
	data := make([]byte, e.Len)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, fmt.Errorf("read extent of %s: %w", e.Object, err)
	}
	_, next, consumed, err := index.VerifyBatchesWith(data, e.BaseOffset, index.VerifyOptions{AllowGaps: true})
	if err != nil {
		var ce *index.CorruptionError
		if errors.As(err, &ce) {
			ce.Object = e.Object
			ce.Offset += e.Pos
		}
		return nil, err
	}
	if consumed != len(data) || next != e.LastOffset+1 {
		return nil, &index.CorruptionError{Object: e.Object, Offset: e.Pos + int64(consumed),
			Reason: fmt.Sprintf("extent [%d, %d] holds batches up to %d in %d of %d bytes", e.BaseOffset, e.LastOffset, next-1, consumed, len(data))}
	}
	return data, nil
}
