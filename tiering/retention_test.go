package tiering

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
)

// TestRetentionUsesCommitTimeWithoutTimestamps: an extent whose batches
// carry no timestamp (MaxTimestamp -1) is kept for retention.ms after it
// was committed, as Kafka keeps a segment without timestamps for
// retention.ms after its last modification, instead of being dropped on
// the next pass. The commit time survives a restart (log replay and
// snapshot).
func TestRetentionUsesCommitTimeWithoutTimestamps(t *testing.T) {
	ctx := context.Background()
	mc := metadata.DefaultConfig()
	mc.Dir = t.TempDir()
	mc.HeartbeatTimeout, mc.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	meta, err := metadata.Open(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { meta.Close() }()
	topic, err := meta.CreateTopic(ctx, "notime", 1, map[string]string{"retention.ms": "3600000"})
	if err != nil {
		t.Fatal(err)
	}
	committed := time.UnixMilli(1_800_000_000_000)
	commit := func(key string, base, last, maxTS int64, at time.Time) {
		t.Helper()
		_, err := meta.CommitObject(ctx, metadata.ObjectCommit{Key: key, Size: 1000, Broker: 1, Now: at.UnixMilli(),
			Extents: []metadata.Extent{{Topic: topic.ID, BaseOffset: base, LastOffset: last, Pos: 0, Len: 500, MaxTimestamp: maxTS}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	commit(WALObjectKey(1, 1, NewNonce()), 0, 9, -1, committed)
	commit(WALObjectKey(1, 2, NewNonce()), 10, 19, -1, committed.Add(30*time.Minute))
	if exts := meta.Extents(topic.ID, 0, 0, 10); len(exts) != 2 || exts[0].CommitTime != committed.UnixMilli() {
		t.Fatalf("extents %+v: want commit time %d recorded", exts, committed.UnixMilli())
	}

	r := NewRetention(meta, nil, nil)
	logStart := func() int64 {
		t.Helper()
		pl, _ := meta.PartitionLog(topic.ID, 0)
		return pl.LogStart
	}
	for _, step := range []struct {
		at   time.Duration // after the first commit
		want int64
	}{
		{time.Minute, 0},
		{59 * time.Minute, 0},
		{61 * time.Minute, 10}, // the first is an hour old, the second half an hour
		{89 * time.Minute, 10},
		{91 * time.Minute, 20},
	} {
		if _, err := r.RunOnce(ctx, committed.Add(step.at)); err != nil {
			t.Fatal(err)
		}
		if got := logStart(); got != step.want {
			t.Fatalf("%s after the commit: log start %d, want %d", step.at, got, step.want)
		}
		if step.at == 59*time.Minute {
			// Restart from a snapshot: the commit times come back.
			if err := meta.Snapshot(); err != nil {
				t.Fatal(err)
			}
			meta.Close()
			if meta, err = metadata.Open(mc); err != nil {
				t.Fatal(err)
			}
			r = NewRetention(meta, nil, nil)
		}
	}
}

// TestPlanRetentionWithoutTimestamps: an extent without timestamps is
// timed by its commit time; one whose commit time is also unknown (0,
// restored from an older snapshot) is dropped only together with a later
// extent that is due, never on its own.
func TestPlanRetentionWithoutTimestamps(t *testing.T) {
	ext := func(base, last, ts, commit int64) metadata.Extent {
		return metadata.Extent{BaseOffset: base, LastOffset: last, MaxTimestamp: ts, CommitTime: commit, Len: 100}
	}
	for _, c := range []struct {
		name    string
		exts    []metadata.Extent
		now     int64
		want    int64
		dropped int
	}{
		{"timestamp wins over commit time", []metadata.Extent{ext(0, 9, 100, 5000)}, 1000, 10, 1},
		{"commit time when no timestamp", []metadata.Extent{ext(0, 9, -1, 5000)}, 1000, 0, 0},
		{"commit time due", []metadata.Extent{ext(0, 9, -1, 400)}, 1000, 10, 1},
		{"unknown alone is kept", []metadata.Extent{ext(0, 9, -1, 0)}, 1_000_000, 0, 0},
		{"unknown goes with a due later extent", []metadata.Extent{ext(0, 9, -1, 0), ext(10, 19, -1, 0), ext(20, 29, 400, 0), ext(30, 39, -1, 0)}, 1000, 30, 3},
		{"unknown stays before a later extent not due", []metadata.Extent{ext(0, 9, 100, 0), ext(10, 19, -1, 0), ext(20, 29, 950, 0)}, 1000, 10, 1},
	} {
		got, dropped, _ := planRetention(c.exts, 0, c.now, 500, -1)
		if got != c.want || dropped != c.dropped {
			t.Errorf("%s: log start %d (%d dropped), want %d (%d)", c.name, got, dropped, c.want, c.dropped)
		}
	}
}
