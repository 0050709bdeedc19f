package broker

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/wal"
)

// topicEntry is a topic as the request handlers need it: the metadata, its
// open partitions and the configs the produce path reads, parsed once.
type topicEntry struct {
	meta            metadata.Topic
	parts           []*partition.Partition
	maxMessageBytes int
	logAppendTime   bool
}

func (t *topicEntry) partition(i int32) *partition.Partition {
	if i < 0 || int(i) >= len(t.parts) {
		return nil
	}
	return t.parts[i]
}

// topicCache mirrors the metadata store's topics for the hot path. It is
// rebuilt whole after every metadata change and read without locks.
//
// LOCKING: mu serialises rebuilds; readers load the current snapshot
// atomically.
type topicCache struct {
	s    *Server
	mu   sync.Mutex
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

// refresh rebuilds the snapshot from the metadata store, opening partitions
// of new topics and dropping those of deleted ones.
func (c *topicCache) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := &topicSnapshot{byName: map[string]*topicEntry{}, byID: map[metadata.TopicID]*topicEntry{}}
	for _, t := range c.s.meta.Topics() {
		e := &topicEntry{meta: t}
		for i, pm := range t.Partitions {
			key := wal.Key{Topic: [16]byte(t.ID), Partition: int32(i)}
			st := partition.State{LeaderEpoch: pm.LeaderEpoch}
			pl, ok := c.s.meta.PartitionLog(t.ID, int32(i))
			if ok {
				st.LogStart, st.HighWatermark, st.Next = pl.LogStart, pl.End, pl.End
			}
			p := c.s.parts.Open(key, st)
			if pm.Leader != c.s.cfg.NodeID || pm.LeaderEpoch != p.LeaderEpoch() {
				// Led elsewhere or under a newer epoch: what this
				// partition wrote and did not commit never will be. Fence
				// it before the catalog's end (another leader's data)
				// raises its high watermark past its waiting producers.
				p.Fence(p.LeaderEpoch())
			}
			if ok {
				// The catalog is the truth for the high watermark and the
				// log start: catch up on commits and truncations that
				// happened while the partition was being opened.
				p.Committed(pl.End)
				p.SetLogStart(pl.LogStart)
			}
			e.parts = append(e.parts, p)
		}
		if n, err := strconv.Atoi(t.Config("max.message.bytes")); err == nil {
			e.maxMessageBytes = n
		}
		e.logAppendTime = t.Config("message.timestamp.type") == "LogAppendTime"
		next.byName[t.Name] = e
		next.byID[t.ID] = e
	}
	for id := range old.byID {
		if _, ok := next.byID[id]; !ok {
			c.s.parts.Drop([16]byte(id))
		}
	}
	c.snap.Store(next)
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
