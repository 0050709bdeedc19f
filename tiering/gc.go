package tiering

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
)

// What the garbage collector may delete, and nothing else:
//
//  1. Garbage: an object the catalog lists in GarbageObjects (it was
//     committed, and retention, compaction, DeleteRecords or a topic
//     deletion dropped its last extent), once Grace has passed since it
//     became garbage. The catalog never references a garbage key again
//     (keys are written once), so in-flight readers are the only users
//     left and Grace is for them.
//  2. Orphans, in a sweep: an object that is all of
//     - under one of Shale's key spaces, wal/ or part/ (only these
//       prefixes are listed, never the whole bucket or bucket prefix);
//     - named exactly as WALObjectKey or CompactedObjectKey name objects
//       (IsObjectKey), so any other object that happens to sit under
//       those prefixes is left alone;
//     - unknown to the catalog (neither referenced nor garbage), checked
//       after the listing and again just before the delete;
//     - last modified more than OrphanGrace ago by the object store's
//       clock, checked in the listing and again by a Stat just before the
//       delete (an object written again in between is kept);
//     and only while this node is the metadata leader (a follower's
//     catalog may lag and miss a recent commit).
//
// An orphan is an upload whose commit never happened: a broker crashed
// between PUT and commit, a commit was refused (fenced, deposed), or a
// compaction's swap had an unknown outcome and did not apply. Writers
// must therefore never commit an object older than OrphanGrace without
// making sure it still exists. One Shale cluster per bucket prefix: the
// objects of a second cluster under the same prefix look like orphans.

// GCCatalog is the part of the metadata store the garbage collector uses.
// A catalog that also has an IsLeader() bool method (the metadata Store)
// is swept for orphans only while IsLeader reports true.
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
	// time between an object's PUT (its modification time) and its
	// commit, plus clock skew between brokers and the object store; at
	// least MinOrphanGrace.
	OrphanGrace time.Duration
}

// MinOrphanGrace is the shortest OrphanGrace accepted: an hour covers a
// compaction's multipart upload of a large object followed by its raft
// commit, and minutes of clock skew, with a wide margin.
const MinOrphanGrace = time.Hour

// DefaultGCConfig: five minutes for dropped objects, a day for orphans.
func DefaultGCConfig() GCConfig {
	return GCConfig{Grace: 5 * time.Minute, OrphanGrace: 24 * time.Hour}
}

// Validate reports the first bad setting.
func (c GCConfig) Validate() error {
	if c.Grace < 0 || c.OrphanGrace < MinOrphanGrace {
		return fmt.Errorf("gc grace %s / orphan grace %s: grace must be >= 0 and orphan grace >= %s", c.Grace, c.OrphanGrace, MinOrphanGrace)
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
// over, and orphans: objects in Shale's key spaces that the catalog never
// knew, older than the orphan grace (the rules are listed above). Object
// keys are never reused, so deleting one can never remove live data
// written later under the same name.
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
// Shale's key spaces to find orphans (a LIST per 1000 keys: do it rarely).
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
	if l, ok := g.cat.(interface{ IsLeader() bool }); ok && !l.IsLeader() {
		return res, nil
	}
	cutoff := now.Add(-g.cfg.OrphanGrace)
	var orphans []string
	for _, prefix := range objectKeyPrefixes {
		err := g.bucket.List(ctx, prefix, func(info objectstore.ObjectInfo) error {
			if IsObjectKey(info.Key) && info.ModTime.Before(cutoff) && !g.cat.IsKnownObject(info.Key) {
				orphans = append(orphans, info.Key)
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("list %s for orphans: %w", prefix, err)
		}
	}
	for _, key := range orphans {
		// Checked again: a commit may have landed since the listing, or
		// the object may have been written again.
		if g.cat.IsKnownObject(key) {
			continue
		}
		info, err := g.bucket.Stat(ctx, key)
		switch {
		case objectstore.IsNotExist(err):
			continue
		case err != nil:
			res.DeleteErrors++
			g.logger.Warn("stat orphan object", "object", key, "err", err)
			continue
		case !info.ModTime.Before(cutoff):
			continue
		}
		if err := g.bucket.Delete(ctx, key); err != nil {
			res.DeleteErrors++
			g.logger.Warn("delete orphan object", "object", key, "err", err)
			continue
		}
		g.logger.Info("deleted orphan object", "object", key, "modified", info.ModTime)
		res.Orphans++
	}
	return res, nil
}
