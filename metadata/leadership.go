package metadata

import (
	"context"
	"fmt"
)

// setPartitionLeaderCmd is SetPartitionLeader: a partition gets a leader
// (-1: none) and a new leader epoch.
type setPartitionLeaderCmd struct {
	Name      string
	Partition int32
	Leader    int32
}

func (setPartitionLeaderCmd) commandType() commandType { return cmdSetPartitionLeader }

// setPartitionLeader applies SetPartitionLeader. The epoch grows by one
// even when the leader stays the same: a new epoch fences everything the
// partition's previous incarnation wrote and has not committed.
func (st *state) setPartitionLeader(c setPartitionLeaderCmd) (applyResult, bool) {
	t, ok := st.topics[c.Name]
	if !ok {
		return applyResult{err: fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)}, false
	}
	if c.Partition < 0 || int(c.Partition) >= len(t.Partitions) {
		return applyResult{err: fmt.Errorf("%w: topic %q has no partition %d", ErrUnknownTopic, c.Name, c.Partition)}, false
	}
	if c.Leader < -1 {
		return applyResult{err: fmt.Errorf("%w: leader %d", ErrInvalidRequest, c.Leader)}, false
	}
	if t.Partitions[c.Partition].LeaderEpoch == 1<<31-1 {
		return applyResult{err: fmt.Errorf("%w: partition %s-%d has run out of leader epochs", ErrInvalidRequest, c.Name, c.Partition)}, false
	}
	t = t.Clone() // clones share the partitions slice
	p := &t.Partitions[c.Partition]
	p.Leader = c.Leader
	p.LeaderEpoch++
	st.topics[t.Name] = t
	return applyResult{topic: t.Clone()}, true
}

// SetPartitionLeader makes leader (-1: none) the leader of a partition and
// starts a new leader epoch, also when the leader does not change. From
// then on the catalog refuses extents of the older epochs (ErrFenced), so
// whatever the previous leader had not committed never enters the log. It
// returns the topic as it is afterwards.
func (s *Store) SetPartitionLeader(ctx context.Context, topic string, partition, leader int32) (Topic, error) {
	res, err := s.propose(ctx, setPartitionLeaderCmd{Name: topic, Partition: partition, Leader: leader})
	return res.topic, err
}
