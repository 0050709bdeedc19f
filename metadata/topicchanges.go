package metadata

import "slices"

// maxTopicChanges bounds the topic change journal. A watcher that falls
// further behind than this many topic changes rebuilds everything.
const maxTopicChanges = 4096

// topicJournal records which topics changed, so that watchers of the
// store (the broker's topic cache) rebuild only those instead of every
// partition after every applied command.
//
// The topic generation is a counter bumped once per applied command that
// changes a topic's metadata: create, delete, added partitions, configs
// (and leadership, when commands for it exist: list them in note). Catalog
// commits, truncations, offset commits, broker registrations and producer
// id blocks are not topic changes. A snapshot restore replaces everything,
// so it bumps the generation and tells every watcher to rebuild all.
//
// The journal is local to this node (not replicated, not in snapshots):
// generations are only comparable with this node's own.
//
// LOCKING: guarded by fsm.mu (written under the write lock in Apply and
// Restore, read under the read lock).
type topicJournal struct {
	gen uint64 // the current generation
	// floor is the oldest generation from which entries are complete: a
	// watcher at a generation below it must rebuild everything.
	floor   uint64
	entries []topicChange // ascending gen
}

type topicChange struct {
	gen uint64
	id  TopicID
}

// newTopicJournal starts at generation 1 with nothing recorded, so a
// watcher starting from 0 rebuilds everything once.
func newTopicJournal() topicJournal { return topicJournal{gen: 1, floor: 1} }

// note records the topic an applied command changed, if it changed one.
// Only commands that changed the state reach it.
func (j *topicJournal) note(c command, res applyResult) {
	switch c.(type) {
	case createTopicCmd, deleteTopicCmd, createPartitionsCmd, alterTopicConfigsCmd:
	case registerBrokerCmd, fenceBrokerCmd, drainBrokerCmd, unregisterBrokerCmd, moveLeadersCmd, completeHandoverCmd, setPartitionLeaderCmd:
		// Leadership changes (leadership.go) may touch any topic; they
		// are rare, so watchers rebuild everything.
		if res.err == nil {
			j.reset()
		}
		return
	default:
		return
	}
	if res.topic.ID.IsZero() {
		return
	}
	j.gen++
	if len(j.entries) == maxTopicChanges {
		// Drop the older half; watchers behind it rebuild all.
		half := maxTopicChanges / 2
		j.floor = j.entries[half-1].gen
		j.entries = append(j.entries[:0], j.entries[half:]...)
	}
	j.entries = append(j.entries, topicChange{gen: j.gen, id: res.topic.ID})
}

// reset is a snapshot restore: every topic may have changed.
func (j *topicJournal) reset() {
	j.gen++
	j.floor = j.gen
	j.entries = j.entries[:0]
}

// since returns the topics changed after generation gen (each once), the
// current generation, and whether the caller must rebuild everything
// instead (gen is older than the journal reaches, or a restore happened).
func (j *topicJournal) since(gen uint64) (changed []TopicID, now uint64, all bool) {
	if gen == j.gen {
		return nil, j.gen, false
	}
	if gen < j.floor || gen > j.gen {
		return nil, j.gen, true
	}
	i, _ := slices.BinarySearchFunc(j.entries, gen+1, func(e topicChange, g uint64) int {
		switch {
		case e.gen < g:
			return -1
		case e.gen > g:
			return 1
		}
		return 0
	})
	seen := make(map[TopicID]struct{}, len(j.entries)-i)
	for _, e := range j.entries[i:] {
		if _, dup := seen[e.id]; !dup {
			seen[e.id] = struct{}{}
			changed = append(changed, e.id)
		}
	}
	return changed, j.gen, false
}
