package tiering

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/wal"
)

// RetentionCatalog is the part of the metadata store retention uses.
type RetentionCatalog interface {
	Topics() []metadata.Topic
	PartitionLog(topic metadata.TopicID, partition int32) (metadata.PartitionLog, bool)
	Extents(topic metadata.TopicID, partition int32, fromOffset int64, max int) []metadata.Extent
	TruncatePartition(ctx context.Context, topic metadata.TopicID, partition int32, newLogStart int64, now int64) error
}

// RetentionResult says what one pass did.
type RetentionResult struct {
	Partitions     int   // partitions whose log start advanced
	ExtentsDropped int   // extents now below a log start
	BytesDropped   int64 // their bytes
}

// Retention applies each topic's retention.ms and retention.bytes to the
// object tier, as Kafka applies them to log segments: only whole extents
// are dropped, oldest first; time retention drops an extent once its newest
// record is older than retention.ms, or, when its batches carry no
// timestamp, once it was committed more than retention.ms ago
// (retentionTime); size retention drops the oldest
// extents while what remains would still be at least retention.bytes. The
// decision is committed through raft (the log start offset advances and
// the extents' objects lose a reference); the garbage collector deletes
// objects no extent references after a grace period. Topics whose
// cleanup.policy does not include "delete" are left alone.
type Retention struct {
	cat     RetentionCatalog
	onTrunc func(k wal.Key, logStart int64)
	logger  *slog.Logger
}

// NewRetention returns a retention enforcer. onTrunc, if set, is told of
// every log start offset it advances.
func NewRetention(cat RetentionCatalog, onTrunc func(k wal.Key, logStart int64), logger *slog.Logger) *Retention {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Retention{cat: cat, onTrunc: onTrunc, logger: logger}
}

// maxExtentsPerPass bounds one partition's work in one pass.
const maxExtentsPerPass = 1 << 16

// RunOnce applies retention to every partition as of now.
func (r *Retention) RunOnce(ctx context.Context, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	nowMs := now.UnixMilli()
	for _, t := range r.cat.Topics() {
		if !strings.Contains(t.Config("cleanup.policy"), "delete") {
			continue
		}
		retMs := t.ConfigInt64("retention.ms")
		retBytes := t.ConfigInt64("retention.bytes")
		if retMs < 0 && retBytes < 0 {
			continue
		}
		for i := range t.Partitions {
			p := int32(i)
			pl, ok := r.cat.PartitionLog(t.ID, p)
			if !ok || pl.Extents == 0 {
				continue
			}
			exts := r.cat.Extents(t.ID, p, pl.LogStart, maxExtentsPerPass)
			newStart, dropped, droppedBytes := planRetention(exts, pl.LogStart, nowMs, retMs, retBytes)
			if newStart <= pl.LogStart {
				continue
			}
			if err := r.cat.TruncatePartition(ctx, t.ID, p, newStart, nowMs); err != nil {
				return res, fmt.Errorf("apply retention to %s/%d: %w", t.Name, p, err)
			}
			r.logger.Info("retention advanced log start", "topic", t.Name, "partition", p,
				"log_start", newStart, "extents", dropped, "bytes", droppedBytes)
			res.Partitions++
			res.ExtentsDropped += dropped
			res.BytesDropped += droppedBytes
			if r.onTrunc != nil {
				r.onTrunc(wal.Key{Topic: [16]byte(t.ID), Partition: p}, newStart)
			}
		}
	}
	return res, nil
}

// retentionTime returns the time retention.ms counts from for an extent,
// as Kafka does for a segment (its largest timestamp, or its last
// modification time when no batch has a timestamp): MaxTimestamp when it
// is not negative, else the time it was committed. known is false when
// both are missing (MaxTimestamp < 0 and CommitTime 0: an extent restored
// from a snapshot older than commit times); such an extent is dropped
// only together with a later extent that is due, never on its own.
func retentionTime(e metadata.Extent) (ts int64, known bool) {
	switch {
	case e.MaxTimestamp >= 0:
		return e.MaxTimestamp, true
	case e.CommitTime > 0:
		return e.CommitTime, true
	}
	return 0, false
}

// planRetention returns the new log start offset for a partition whose
// extents from the current log start are exts (in offset order).
func planRetention(exts []metadata.Extent, logStart, nowMs, retMs, retBytes int64) (newStart int64, dropped int, droppedBytes int64) {
	newStart = logStart
	i := 0
	if retMs >= 0 {
		// j walks ahead over extents whose time is unknown; when it meets
		// a due extent, it and every extent before it go.
		for j := 0; j < len(exts); j++ {
			ts, known := retentionTime(exts[j])
			if !known {
				continue
			}
			if ts >= nowMs-retMs {
				break
			}
			for ; i <= j; i++ {
				newStart = exts[i].LastOffset + 1
				droppedBytes += exts[i].Len
			}
		}
	}
	if retBytes >= 0 {
		var remaining int64
		for _, e := range exts[i:] {
			remaining += e.Len
		}
		for ; i < len(exts) && remaining-exts[i].Len >= retBytes; i++ {
			newStart = exts[i].LastOffset + 1
			remaining -= exts[i].Len
			droppedBytes += exts[i].Len
		}
	}
	return newStart, i, droppedBytes
}
