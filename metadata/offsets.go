package metadata

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// MaxGroupIDLen bounds a consumer group id (Kafka's string limit).
const MaxGroupIDLen = 1<<15 - 1

// MaxOffsetMetadataBytes bounds a committed offset's metadata string
// (Kafka's offset.metadata.max.bytes default).
const MaxOffsetMetadataBytes = 4096

// TopicPartition names a partition by topic name, as consumer groups do.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// CommittedOffset is a consumer group's committed position in a partition.
type CommittedOffset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64 // ms
}

// groupOffsets is one group's committed offsets: topic name -> partition ->
// offset. Keying by topic first makes deleting a topic O(groups).
type groupOffsets map[string]map[int32]CommittedOffset

func (g groupOffsets) clone() groupOffsets {
	c := make(groupOffsets, len(g))
	for topic, parts := range g {
		cp := make(map[int32]CommittedOffset, len(parts))
		for p, o := range parts {
			cp[p] = o
		}
		c[topic] = cp
	}
	return c
}

func (g groupOffsets) len() int {
	n := 0
	for _, parts := range g {
		n += len(parts)
	}
	return n
}

func validateGroupID(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty group id", ErrInvalidRequest)
	}
	if len(group) > MaxGroupIDLen {
		return fmt.Errorf("%w: group id of %d bytes, the limit is %d", ErrInvalidRequest, len(group), MaxGroupIDLen)
	}
	return nil
}

// validateCommittedOffset checks one entry on its own.
func validateCommittedOffset(group string, tp TopicPartition, o CommittedOffset) error {
	switch {
	case o.Offset < -1:
		return fmt.Errorf("%w: group %q offset %d for %s-%d", ErrInvalidRequest, group, o.Offset, tp.Topic, tp.Partition)
	case o.LeaderEpoch < -1:
		return fmt.Errorf("%w: group %q leader epoch %d for %s-%d", ErrInvalidRequest, group, o.LeaderEpoch, tp.Topic, tp.Partition)
	case len(o.Metadata) > MaxOffsetMetadataBytes:
		return fmt.Errorf("%w: group %q metadata of %d bytes for %s-%d, the limit is %d", ErrOffsetMetadataTooLarge, group, len(o.Metadata), tp.Topic, tp.Partition, MaxOffsetMetadataBytes)
	}
	return nil
}

// checkOffsets validates a commit against st: every topic and partition
// must exist. The error names the first offending entry in sorted order,
// so it is the same on every node.
func (st *state) checkOffsets(group string, offsets map[TopicPartition]CommittedOffset) error {
	if err := validateGroupID(group); err != nil {
		return err
	}
	keys := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, compareTopicPartition)
	for _, tp := range keys {
		if err := validateCommittedOffset(group, tp, offsets[tp]); err != nil {
			return err
		}
		t, ok := st.topics[tp.Topic]
		if !ok {
			return fmt.Errorf("%w: commit offsets of group %q: topic %q", ErrUnknownTopic, group, tp.Topic)
		}
		if tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			return fmt.Errorf("%w: commit offsets of group %q: topic %q has no partition %d", ErrUnknownTopic, group, tp.Topic, tp.Partition)
		}
	}
	return nil
}

func compareTopicPartition(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// commitOffsets applies CommitOffsets: all entries or none.
func (st *state) commitOffsets(c commitOffsetsCmd) (applyResult, bool) {
	if c.Checked && len(st.slots) > 0 {
		if slot := st.slots[CoordinatorSlot(c.Group)]; slot.LeaderEpoch != c.SlotEpoch {
			return applyResult{err: fmt.Errorf("%w: group %q: coordinator slot at epoch %d, the commit names %d",
				ErrNotCoordinator, c.Group, slot.LeaderEpoch, c.SlotEpoch)}, false
		}
	}
	if err := st.checkOffsets(c.Group, c.Offsets); err != nil {
		return applyResult{err: err}, false
	}
	if len(c.Offsets) == 0 {
		return applyResult{}, false
	}
	g := st.groups[c.Group]
	if g == nil {
		g = make(groupOffsets)
		st.groups[c.Group] = g
	}
	for tp, o := range c.Offsets {
		parts := g[tp.Topic]
		if parts == nil {
			parts = make(map[int32]CommittedOffset)
			g[tp.Topic] = parts
		}
		parts[tp.Partition] = o
	}
	return applyResult{}, true
}

// deleteGroupOffsets applies DeleteGroupOffsets.
func (st *state) deleteGroupOffsets(c deleteGroupOffsetsCmd) (applyResult, bool) {
	if err := validateGroupID(c.Group); err != nil {
		return applyResult{err: err}, false
	}
	g, ok := st.groups[c.Group]
	if !ok {
		return applyResult{}, false
	}
	if c.All {
		n := g.len()
		delete(st.groups, c.Group)
		return applyResult{count: n}, true
	}
	n := 0
	for _, tp := range c.Parts {
		parts := g[tp.Topic]
		if _, ok := parts[tp.Partition]; !ok {
			continue
		}
		delete(parts, tp.Partition)
		n++
		if len(parts) == 0 {
			delete(g, tp.Topic)
		}
	}
	if len(g) == 0 {
		delete(st.groups, c.Group)
	}
	return applyResult{count: n}, n > 0
}

// expireGroupOffsets applies ExpireGroupOffsets.
func (st *state) expireGroupOffsets(c expireGroupOffsetsCmd) (applyResult, bool) {
	if err := validateGroupID(c.Group); err != nil {
		return applyResult{err: err}, false
	}
	g, ok := st.groups[c.Group]
	if !ok {
		return applyResult{}, false
	}
	n := 0
	for topic, parts := range g {
		for p, o := range parts {
			if o.CommitTime < c.CommittedBefore {
				delete(parts, p)
				n++
			}
		}
		if len(parts) == 0 {
			delete(g, topic)
		}
	}
	if len(g) == 0 {
		delete(st.groups, c.Group)
	}
	return applyResult{count: n}, n > 0
}

// dropTopicOffsets removes every group's offsets for a deleted topic.
func (st *state) dropTopicOffsets(topic string) {
	for name, g := range st.groups {
		delete(g, topic)
		if len(g) == 0 {
			delete(st.groups, name)
		}
	}
}

// CommitOffsets stores a group's committed offsets in one raft command,
// all or nothing. Every topic and partition must exist (ErrUnknownTopic,
// wrapped); metadata longer than MaxOffsetMetadataBytes is
// ErrOffsetMetadataTooLarge. An empty map changes nothing.
func (s *Store) CommitOffsets(ctx context.Context, group string, offsets map[TopicPartition]CommittedOffset) error {
	s.fsm.mu.RLock()
	err := s.fsm.st.checkOffsets(group, offsets)
	s.fsm.mu.RUnlock()
	if err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	_, err = s.propose(ctx, commitOffsetsCmd{Group: group, Offsets: offsets})
	return err
}

// CommitOffsetsAsCoordinator is CommitOffsets by the coordinator of the
// group's slot at slotEpoch: refused with ErrNotCoordinator once the slot
// has moved on.
func (s *Store) CommitOffsetsAsCoordinator(ctx context.Context, group string, slotEpoch int32, offsets map[TopicPartition]CommittedOffset) error {
	s.fsm.mu.RLock()
	err := s.fsm.st.checkOffsets(group, offsets)
	s.fsm.mu.RUnlock()
	if err != nil || len(offsets) == 0 {
		return err
	}
	_, err = s.propose(ctx, commitOffsetsCmd{Group: group, Offsets: offsets, Checked: true, SlotEpoch: slotEpoch})
	return err
}

// GroupOffsets returns a copy of a group's committed offsets; an empty map
// if it has none.
func (s *Store) GroupOffsets(group string) map[TopicPartition]CommittedOffset {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.groupOffsetsCopy(group)
}

func (st *state) groupOffsetsCopy(group string) map[TopicPartition]CommittedOffset {
	g := st.groups[group]
	out := make(map[TopicPartition]CommittedOffset, g.len())
	for topic, parts := range g {
		for p, o := range parts {
			out[TopicPartition{topic, p}] = o
		}
	}
	return out
}

// GroupsWithOffsets returns the ids of groups with committed offsets, sorted.
func (s *Store) GroupsWithOffsets() []string {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.sortedGroups()
}

func (st *state) sortedGroups() []string {
	out := make([]string, 0, len(st.groups))
	for g := range st.groups {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// DeleteGroupOffsets deletes a group's offsets for parts; nil parts
// deletes the whole group. Missing entries are ignored.
func (s *Store) DeleteGroupOffsets(ctx context.Context, group string, parts []TopicPartition) error {
	if err := validateGroupID(group); err != nil {
		return err
	}
	if parts != nil && len(parts) == 0 {
		return nil
	}
	_, err := s.propose(ctx, deleteGroupOffsetsCmd{Group: group, Parts: parts, All: parts == nil})
	return err
}

// ExpireGroupOffsets deletes a group's offsets with CommitTime <
// committedBefore and returns how many it deleted.
func (s *Store) ExpireGroupOffsets(ctx context.Context, group string, committedBefore int64) (int, error) {
	if err := validateGroupID(group); err != nil {
		return 0, err
	}
	res, err := s.propose(ctx, expireGroupOffsetsCmd{Group: group, CommittedBefore: committedBefore})
	return res.count, err
}
