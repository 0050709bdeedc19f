package broker

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/tiering"
	"github.com/shalelog/shale/wal"
)

// topicEntry is a topic as the request handlers need it: the metadata, its
// open partitions and the configs the produce path reads, parsed once.
type topicEntry struct {
	meta            metadata.Topic
	parts           []*partition.Partition
	maxMessageBytes int
	logAppendTime   bool
	compacted       bool // cleanup.policy includes compact: records need keys
}

func (t *topicEntry) partition(i int32) *partition.Partition {
	if i < 0 || int(i) >= len(t.parts) {
		return nil
	}
	return t.parts[i]
}

// topicCache mirrors the metadata store's topics for the hot path and is
// read without locks. A refresh rebuilds only the topics the store reports
// as changed since the last one (metadata.Store.TopicChangesSince): most
// raft applies (catalog and offset commits) change no topic and cost one
// generation check, and a topic change costs that topic's partitions plus
// a copy of the two maps, never every partition of the broker. Unchanged
// entries, and the *partition.Partition of unchanged partitions, are kept.
//
// LOCKING: mu serialises refreshes and guards gen; readers load the
// current snapshot atomically.
type topicCache struct {
	s    *Server
	mu   sync.Mutex
	gen  uint64 // topic generation of the store the snapshot reflects
	snap atomic.Pointer[topicSnapshot]
}

type topicSnapshot struct {
	byName map[string]*topicEntry
	byID   map[metadata.TopicID]*topicEntry
}

func newTopicCache(s *Server) *topicCache {
	c := &topicCache{s: s}
	c.snap.Store(&topicSnapshot{byName: map[string]*topicEntry{}, byID: map[metadata.TopicID]*topicEntry{}})
	return c
}

func (c *topicCache) byName(name string) *topicEntry { return c.snap.Load().byName[name] }

func (c *topicCache) all() map[string]*topicEntry { return c.snap.Load().byName }

// refresh brings the snapshot up to the metadata store, opening partitions
// of new topics and dropping those of deleted ones.
func (c *topicCache) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed, gen, all := c.s.meta.TopicChangesSince(c.gen)
	if !all && len(changed) == 0 {
		c.gen = gen
		return
	}
	old := c.snap.Load()
	var next *topicSnapshot
	if all {
		next = c.rebuildAll(old)
	} else {
		next = c.rebuild(old, changed)
	}
	c.snap.Store(next)
	// A change applied after TopicChangesSince may already be in next; it
	// is newer than gen, so the next refresh redoes it, harmlessly.
	c.gen = gen
}

// rebuildAll re-reads every topic (at start, after a snapshot restore, or
// when the cache fell behind the store's change journal).
func (c *topicCache) rebuildAll(old *topicSnapshot) *topicSnapshot {
	topics := c.s.meta.Topics()
	next := &topicSnapshot{byName: make(map[string]*topicEntry, len(topics)), byID: make(map[metadata.TopicID]*topicEntry, len(topics))}
	for _, t := range topics {
		e := c.entry(t, old.byID[t.ID])
		next.byName[t.Name] = e
		next.byID[t.ID] = e
	}
	for id := range old.byID {
		if _, ok := next.byID[id]; !ok {
			c.s.parts.Drop([16]byte(id))
		}
	}
	return next
}

// rebuild copies old and re-reads only the changed topics.
func (c *topicCache) rebuild(old *topicSnapshot, changed []metadata.TopicID) *topicSnapshot {
	next := &topicSnapshot{byName: maps.Clone(old.byName), byID: maps.Clone(old.byID)}
	for _, id := range changed {
		prev := old.byID[id]
		t, ok := c.s.meta.TopicByID(id)
		if !ok {
			if prev != nil {
				delete(next.byID, id)
				if next.byName[prev.meta.Name] == prev {
					delete(next.byName, prev.meta.Name)
				}
				c.s.parts.Drop([16]byte(id))
			}
			continue
		}
		e := c.entry(t, prev)
		if other := next.byName[t.Name]; other != nil && other.meta.ID != id {
			// The name's previous topic was deleted; its own change
			// (in this batch or an earlier one) drops its partitions.
			delete(next.byID, other.meta.ID)
		}
		next.byName[t.Name] = e
		next.byID[id] = e
	}
	return next
}

// entry builds the cache entry of t, keeping the partitions prev (the
// topic's previous entry, or nil) already holds while their leadership is
// unchanged. Leadership is followed here (the refresh runs on every
// change of it):
//   - a partition whose leader epoch moved is fenced: what it wrote and
//     did not commit never will be, so its waiting producers get
//     NOT_LEADER_OR_FOLLOWER before the catalog's end (another leader's
//     data) raises its high watermark;
//   - a partition this broker leads under a new epoch is reopened at the
//     catalog end;
//   - a partition this broker leads with a handover pending is sealed and
//     handed over once its tail is committed (see handOver).
func (c *topicCache) entry(t metadata.Topic, prev *topicEntry) *topicEntry {
	e := &topicEntry{meta: t, parts: make([]*partition.Partition, len(t.Partitions))}
	for i, pm := range t.Partitions {
		var p *partition.Partition
		if prev != nil && i < len(prev.parts) {
			p = prev.parts[i]
		}
		led := pm.Leader == c.s.cfg.NodeID
		if p != nil && p.LeaderEpoch() == pm.LeaderEpoch {
			if !led {
				p.Fence(p.LeaderEpoch())
			}
			e.parts[i] = p
			if led && pm.Handover {
				c.handOver(t, int32(i), p)
			}
			continue
		}
		key := wal.Key{Topic: [16]byte(t.ID), Partition: int32(i)}
		st := partition.State{LeaderEpoch: pm.LeaderEpoch}
		pl, ok := c.s.meta.PartitionLog(t.ID, int32(i))
		if ok {
			st.LogStart, st.HighWatermark, st.Next = pl.LogStart, pl.End, pl.End
		}
		if led {
			st.Producers, st.RestoreTail, st.TailFrom = c.producerSeeds(t.ID, int32(i))
		}
		if p == nil {
			p = c.s.parts.Open(key, st)
		} else {
			p = c.s.parts.Reopen(key, st)
		}
		if !led || p.LeaderEpoch() != pm.LeaderEpoch {
			p.Fence(p.LeaderEpoch())
		}
		// The catalog is the truth for the high watermark and the log
		// start: catch up on commits and truncations applied while the
		// partition was being opened. Read after Open: a later commit
		// finds the partition open and reports to it directly.
		if pl, ok := c.s.meta.PartitionLog(t.ID, int32(i)); ok {
			p.Committed(pl.End)
			p.SetLogStart(pl.LogStart)
		}
		e.parts[i] = p
		if led && pm.Handover {
			c.handOver(t, int32(i), p)
		}
	}
	if n, err := strconv.Atoi(t.Config("max.message.bytes")); err == nil {
		e.maxMessageBytes = n
	}
	e.logAppendTime = t.Config("message.timestamp.type") == "LogAppendTime"
	e.compacted = tiering.IsCompacted(t)
	return e
}

// producerStateTail is how many bytes of a partition's committed tail a
// new leader reads to rebuild its idempotent producers' state when the
// catalog does not hold all of it (a log committed before the catalog
// kept producer state): retried batches are the newest ones, well inside
// it.
const producerStateTail = 16 << 20

// producerSeeds is where a new leader of a partition gets its idempotent
// producers' state: the catalog's, as of the catalog end. Only when the
// catalog started keeping it above the last producerStateTail bytes
// (older data) is the committed tail read as well (restore from tailFrom).
func (c *topicCache) producerSeeds(id metadata.TopicID, p int32) (seeds []partition.ProducerSeed, restore bool, tailFrom int64) {
	states, from, tracked := c.s.meta.ProducerStates(id, p)
	for _, s := range states {
		ps := partition.ProducerSeed{ID: s.ID, Epoch: s.Epoch, Batches: make([]partition.SeedBatch, len(s.Batches))}
		for i, b := range s.Batches {
			ps.Batches[i] = partition.SeedBatch{FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, BaseOffset: b.BaseOffset, LastOffset: b.LastOffset}
		}
		seeds = append(seeds, ps)
	}
	tailFrom = c.s.meta.TailStart(id, p, producerStateTail)
	if tracked && from <= tailFrom {
		return seeds, false, 0
	}
	return seeds, true, tailFrom
}

// handOver runs a graceful handover of partition i of t (once per
// partition object): it seals the partition, waits until everything
// appended is committed, and proposes CompleteHandover under the
// partition's epoch, so the next leader starts where this one's
// acknowledged data ends. If the epoch moves first (the partition was
// fenced, or the handover forced) it stops.
func (c *topicCache) handOver(t metadata.Topic, i int32, p *partition.Partition) {
	if p.Sealed() || p.Fenced() {
		return
	}
	p.Seal()
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !p.Drained() {
			select {
			case <-c.s.ctx.Done():
				return
			case <-p.Watch():
			case <-tick.C:
			}
			if p.Fenced() {
				return
			}
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(c.s.ctx, 10*time.Second)
			err := c.s.meta.CompleteHandover(ctx, t.ID, i, p.LeaderEpoch())
			cancel()
			if err == nil || errors.Is(err, metadata.ErrFenced) || errors.Is(err, metadata.ErrInvalidRequest) || errors.Is(err, metadata.ErrUnknownTopic) || c.s.ctx.Err() != nil {
				if err != nil && c.s.ctx.Err() == nil {
					c.s.log.Info("handover not completed", "topic", t.Name, "partition", i, "err", err)
				}
				return
			}
			c.s.log.Warn("complete handover; retrying", "topic", t.Name, "partition", i, "err", err)
			select {
			case <-c.s.ctx.Done():
				return
			case <-time.After(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond):
			}
		}
	}()
}

// watch refreshes after every metadata change until ctx ends.
func (c *topicCache) watch(ctx context.Context) {
	for {
		ch := c.s.meta.Changed()
		c.refresh()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}
