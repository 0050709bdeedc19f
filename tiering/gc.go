package tiering

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
)

// GCCatalog is the part of the metadata store the garbage collector uses.
type GCCatalog interface {
	GarbageObjects() []metadata.GarbageObject
	ForgetObjects(ctx context.Context, keys []string) error
	IsKnownObject(key string) bool
}

// GCConfig configures the garbage collector.
type GCConfig struct {
	// Grace is how long an object no extent references stays in the
	// bucket, so readers that looked it up before it was dropped finish.
	Grace time.Duration
	// OrphanGrace is how old an object the catalog has never heard of must
	// be before it is deleted: an upload whose commit never happened (the
	// broker crashed between PUT and commit). It must exceed the longest
	// time an upload can wait for its commit.
	OrphanGrace time.Duration
}

// DefaultGCConfig: five minutes for dropped objects, a day for orphans.
func DefaultGCConfig() GCConfig {
	return GCConfig{Grace: 5 * time.Minute, OrphanGrace: 24 * time.Hour}
}

// Validate reports the first bad setting.
func (c GCConfig) Validate() error {
	if c.Grace < 0 || c.OrphanGrace < time.Minute {
		return fmt.Errorf("gc grace %s / orphan grace %s: grace must be >= 0 and orphan grace >= 1m", c.Grace, c.OrphanGrace)
	}
	return nil
}

// GCResult says what one pass did.
type GCResult struct {
	Deleted      int // garbage objects deleted and forgotten
	Orphans      int // never-committed objects deleted
	DeleteErrors int
}

// GC deletes objects that no extent references once their grace period is
// over, and orphans: objects the catalog never knew, older than the orphan
// grace. Object keys are never reused, so deleting one can never remove
// live data written later under the same name.
type GC struct {
	cfg    GCConfig
	bucket objectstore.Bucket
	cat    GCCatalog
	logger *slog.Logger
}

// NewGC returns a garbage collector.
func NewGC(cfg GCConfig, bucket objectstore.Bucket, cat GCCatalog, logger *slog.Logger) (*GC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &GC{cfg: cfg, bucket: bucket, cat: cat, logger: logger}, nil
}

// RunOnce deletes what is due as of now. With sweepOrphans it also lists
// the bucket to find orphans (a LIST per 1000 keys: do it rarely).
func (g *GC) RunOnce(ctx context.Context, now time.Time, sweepOrphans bool) (GCResult, error) {
	var res GCResult
	var forget []string
	for _, o := range g.cat.GarbageObjects() {
		if time.UnixMilli(o.Since).After(now.Add(-g.cfg.Grace)) {
			continue
		}
		if err := g.bucket.Delete(ctx, o.Key); err != nil {
			res.DeleteErrors++
			g.logger.Warn("delete garbage object", "object", o.Key, "err", err)
			continue
		}
		forget = append(forget, o.Key)
	}
	if len(forget) > 0 {
		if err := g.cat.ForgetObjects(ctx, forget); err != nil {
			return res, fmt.Errorf("forget %d deleted objects: %w", len(forget), err)
		}
		res.Deleted = len(forget)
	}
	if !sweepOrphans {
		return res, nil
	}
	var orphans []string
	err := g.bucket.List(ctx, "", func(info objectstore.ObjectInfo) error {
		if !g.cat.IsKnownObject(info.Key) && info.ModTime.Before(now.Add(-g.cfg.OrphanGrace)) {
			orphans = append(orphans, info.Key)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("list bucket for orphans: %w", err)
	}
	for _, key := range orphans {
		// Checked again: a commit may have landed since the listing.
		if g.cat.IsKnownObject(key) {
			continue
		}
		if err := g.bucket.Delete(ctx, key); err != nil {
			res.DeleteErrors++
			continue
		}
		g.logger.Info("deleted orphan object", "object", key)
		res.Orphans++
	}
	return res, nil
}
