package metadata

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Partition leadership and broker liveness in the state machine.
//
// Every partition has one leader broker and a leader epoch. The epoch is
// bumped on every change of leader (and on every change to "no leader"),
// so data a broker wrote under an epoch can be told apart from data of any
// later leadership: the catalog accepts an extent only under the
// partition's current epoch (see commitObject).
//
// A broker is live when it is registered, not fenced and not draining.
// Leaders are only ever given to live brokers, chosen deterministically:
// the live broker leading the fewest partitions, the lowest id on a tie.
// Everything here runs inside Apply and is deterministic: it iterates
// brokers and topics in sorted order and never reads a clock.
//
// The commands:
//   - RegisterBroker (v2) gives the broker a new incarnation (the raft index
//     of its registration), unfences it and hands every partition without a
//     leader to the live brokers. Partitions the broker still leads keep
//     their epoch: its write-ahead log continues that leadership, so its
//     acks=1 tail is uploaded after a restart.
//   - FenceBroker (a lapsed session, or an operator) fences one incarnation
//     and moves each partition it led to a live broker (epoch+1), or to no
//     leader (-1) when none is live.
//   - DrainBroker marks a broker draining: it gets no new leaderships, and
//     each partition it leads gets a handover to a live broker.
//   - MoveLeaders starts graceful handovers (or, with Force, moves at once).
//     A handover names the next leader; the current leader stops taking
//     writes, uploads and commits its tail and then proposes
//     CompleteHandover under its epoch, which makes the target leader with
//     epoch+1. No acknowledged write is lost on a graceful move.
//   - UnregisterBroker removes a fenced broker.

// NoLeader is the leader id of a partition no live broker can lead.
const NoLeader int32 = -1

// LeaderMove asks for partition Topic:Partition, currently at leader epoch
// Epoch, to be led by To.
type LeaderMove struct {
	Topic     TopicID
	Partition int32
	Epoch     int32
	To        int32
}

// fenceBrokerCmd fences one incarnation of a broker.
type fenceBrokerCmd struct {
	ID          int32
	Incarnation int64
}

// drainBrokerCmd sets or clears a broker's draining mark.
type drainBrokerCmd struct {
	ID       int32
	Draining bool
}

// unregisterBrokerCmd removes a fenced broker.
type unregisterBrokerCmd struct {
	ID int32
}

// moveLeadersCmd starts handovers (or forced moves) of partitions.
type moveLeadersCmd struct {
	Moves []LeaderMove
	Force bool
}

// completeHandoverCmd is proposed by a partition's leader once its tail is
// committed: the handover target becomes leader.
type completeHandoverCmd struct {
	Topic     TopicID
	Partition int32
	Epoch     int32
}

func (fenceBrokerCmd) commandType() commandType      { return cmdFenceBroker }
func (drainBrokerCmd) commandType() commandType      { return cmdDrainBroker }
func (unregisterBrokerCmd) commandType() commandType { return cmdUnregisterBroker }
func (moveLeadersCmd) commandType() commandType      { return cmdMoveLeaders }
func (completeHandoverCmd) commandType() commandType { return cmdCompleteHandover }

// live reports whether b may be given leaderships.
func (b Broker) live() bool { return !b.Fenced && !b.Draining }

// leaderLoad counts the partitions each live broker leads.
func (st *state) leaderLoad() map[int32]int {
	load := make(map[int32]int, len(st.brokers))
	for id, b := range st.brokers {
		if b.live() {
			load[id] = 0
		}
	}
	for _, t := range st.topics {
		for _, p := range t.Partitions {
			if _, ok := load[p.Leader]; ok {
				load[p.Leader]++
			}
		}
	}
	return load
}

// pickLeader returns the least loaded live broker in load (lowest id on a
// tie) and counts the new leadership, or NoLeader when load is empty.
func pickLeader(load map[int32]int) int32 {
	best, bestLoad := NoLeader, 0
	for id, n := range load {
		if best == NoLeader || n < bestLoad || n == bestLoad && id < best {
			best, bestLoad = id, n
		}
	}
	if best != NoLeader {
		load[best]++
	}
	return best
}

// setLeader gives partition i of the topic named name to leader with the
// next epoch. It copies the topic's partition slice (Topic values are
// shared with snapshot clones).
func (st *state) setLeader(name string, i int32, leader int32) {
	t := st.topics[name]
	t.Partitions = slices.Clone(t.Partitions)
	p := &t.Partitions[i]
	p.Leader = leader
	p.LeaderEpoch++
	p.Handover, p.HandoverTo = false, 0
	st.topics[name] = t
}

// reassign moves every partition matching from to a live broker (or no
// leader), in sorted topic order, and returns how many moved.
func (st *state) reassign(from func(p Partition) bool) int {
	load := st.leaderLoad()
	moved := 0
	for _, name := range st.sortedTopicNames() {
		for i, p := range st.topics[name].Partitions {
			if !from(p) {
				continue
			}
			next := pickLeader(load)
			if next == p.Leader && next != NoLeader {
				continue
			}
			st.setLeader(name, int32(i), next)
			moved++
		}
	}
	return moved
}

func (st *state) sortedTopicNames() []string {
	names := make([]string, 0, len(st.topics))
	for n := range st.topics {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// registerBroker applies RegisterBroker: a new incarnation, unfenced.
func (st *state) registerBroker(c registerBrokerCmd) (applyResult, bool) {
	if err := validateBroker(c.Broker); err != nil {
		return applyResult{err: err}, false
	}
	b := c.Broker
	b.Incarnation = int64(c.index)
	b.Fenced, b.Draining = false, false
	st.brokers[b.ID] = b
	// Partitions without a leader, or led by a broker that is gone, get
	// one now that a broker is live.
	st.reassign(func(p Partition) bool {
		if p.Leader == NoLeader {
			return true
		}
		_, ok := st.brokers[p.Leader]
		return !ok
	})
	st.placeSlots()
	return applyResult{broker: b}, true
}

// fenceBroker applies FenceBroker.
func (st *state) fenceBroker(c fenceBrokerCmd) (applyResult, bool) {
	b, ok := st.brokers[c.ID]
	if !ok {
		return applyResult{err: fmt.Errorf("%w: broker %d", ErrUnknownBroker, c.ID)}, false
	}
	if b.Incarnation != c.Incarnation && c.Incarnation >= 0 {
		return applyResult{err: fmt.Errorf("%w: broker %d incarnation %d, not %d", ErrStaleIncarnation, c.ID, b.Incarnation, c.Incarnation)}, false
	}
	if b.Fenced {
		return applyResult{broker: b}, false
	}
	b.Fenced = true
	st.brokers[c.ID] = b
	st.reassign(func(p Partition) bool { return p.Leader == c.ID })
	if len(st.slots) > 0 {
		st.placeSlots()
	}
	return applyResult{broker: b}, true
}

// drainBroker applies DrainBroker: draining brokers hand every partition
// they lead to live brokers.
func (st *state) drainBroker(c drainBrokerCmd) (applyResult, bool) {
	b, ok := st.brokers[c.ID]
	if !ok {
		return applyResult{err: fmt.Errorf("%w: broker %d", ErrUnknownBroker, c.ID)}, false
	}
	if b.Draining == c.Draining {
		return applyResult{broker: b}, false
	}
	b.Draining = c.Draining
	st.brokers[c.ID] = b
	if len(st.slots) > 0 {
		st.placeSlots()
	}
	if c.Draining {
		load := st.leaderLoad()
		for _, name := range st.sortedTopicNames() {
			t := st.topics[name]
			for i, p := range t.Partitions {
				if p.Leader != c.ID {
					continue
				}
				to := pickLeader(load)
				if to == NoLeader {
					continue // nowhere to go: it keeps leading until fenced
				}
				t = st.topics[name]
				t.Partitions = slices.Clone(t.Partitions)
				t.Partitions[i].Handover, t.Partitions[i].HandoverTo = true, to
				st.topics[name] = t
			}
		}
	}
	return applyResult{broker: b}, true
}

// unregisterBroker applies UnregisterBroker. Only a fenced broker (or one
// that leads nothing) can be removed.
func (st *state) unregisterBroker(c unregisterBrokerCmd) (applyResult, bool) {
	b, ok := st.brokers[c.ID]
	if !ok {
		return applyResult{err: fmt.Errorf("%w: broker %d", ErrUnknownBroker, c.ID)}, false
	}
	if !b.Fenced && st.leaderCount(c.ID) > 0 {
		return applyResult{err: fmt.Errorf("%w: broker %d is live and leads partitions; drain or stop it first", ErrInvalidRequest, c.ID)}, false
	}
	delete(st.brokers, c.ID)
	st.reassign(func(p Partition) bool { return p.Leader == c.ID })
	if len(st.slots) > 0 {
		st.placeSlots()
	}
	return applyResult{broker: b}, true
}

func (st *state) leaderCount(id int32) int {
	n := 0
	for _, t := range st.topics {
		for _, p := range t.Partitions {
			if p.Leader == id {
				n++
			}
		}
	}
	return n
}

// moveLeaders applies MoveLeaders. Each move is checked on its own (the
// epoch must be current and the target live); the result counts the moves
// taken.
func (st *state) moveLeaders(c moveLeadersCmd) (applyResult, bool) {
	taken := 0
	for _, m := range c.Moves {
		name, ok := st.topicIDs[m.Topic]
		if !ok || m.Partition < 0 || int(m.Partition) >= len(st.topics[name].Partitions) {
			continue
		}
		p := st.topics[name].Partitions[m.Partition]
		if p.LeaderEpoch != m.Epoch || p.Leader == m.To {
			continue
		}
		if b, ok := st.brokers[m.To]; !ok || !b.live() {
			continue
		}
		if c.Force || p.Leader == NoLeader {
			st.setLeader(name, m.Partition, m.To)
		} else {
			t := st.topics[name]
			t.Partitions = slices.Clone(t.Partitions)
			t.Partitions[m.Partition].Handover, t.Partitions[m.Partition].HandoverTo = true, m.To
			st.topics[name] = t
		}
		taken++
	}
	return applyResult{count: taken}, taken > 0
}

// completeHandover applies CompleteHandover: the leader, at Epoch, has
// committed its tail; the target takes over with the next epoch. A target
// that stopped being live is replaced by another live broker.
func (st *state) completeHandover(c completeHandoverCmd) (applyResult, bool) {
	name, ok := st.topicIDs[c.Topic]
	if !ok || c.Partition < 0 || int(c.Partition) >= len(st.topics[name].Partitions) {
		return applyResult{err: fmt.Errorf("%w: topic %s partition %d", ErrUnknownTopic, c.Topic, c.Partition)}, false
	}
	p := st.topics[name].Partitions[c.Partition]
	if p.LeaderEpoch != c.Epoch {
		return applyResult{err: fmt.Errorf("%w: handover of %s-%d at epoch %d, current epoch %d", ErrFenced, name, c.Partition, c.Epoch, p.LeaderEpoch)}, false
	}
	if !p.Handover {
		return applyResult{err: fmt.Errorf("%w: %s-%d has no handover in progress", ErrInvalidRequest, name, c.Partition)}, false
	}
	to := p.HandoverTo
	if b, ok := st.brokers[to]; !ok || !b.live() {
		load := st.leaderLoad()
		delete(load, p.Leader)
		to = pickLeader(load)
		if to == NoLeader {
			to = p.Leader
		}
	}
	st.setLeader(name, c.Partition, to)
	return applyResult{}, true
}

// BalanceMoves returns the moves that spread leadership evenly over the
// live brokers: while one leads two or more partitions more than another,
// one partition of the most loaded goes to the least loaded. max bounds
// the moves returned.
func BalanceMoves(topics []Topic, brokers []Broker, max int) []LeaderMove {
	load := map[int32]int{}
	for _, b := range brokers {
		if b.live() {
			load[b.ID] = 0
		}
	}
	if len(load) < 2 {
		return nil
	}
	type ref struct {
		t Topic
		i int32
	}
	led := map[int32][]ref{}
	for _, t := range topics {
		for i, p := range t.Partitions {
			if _, ok := load[p.Leader]; ok && !p.Handover {
				load[p.Leader]++
				led[p.Leader] = append(led[p.Leader], ref{t, int32(i)})
			}
		}
	}
	ids := make([]int32, 0, len(load))
	for id := range load {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var moves []LeaderMove
	for len(moves) < max {
		hi, lo := ids[0], ids[0]
		for _, id := range ids {
			if load[id] > load[hi] {
				hi = id
			}
			if load[id] < load[lo] {
				lo = id
			}
		}
		if load[hi]-load[lo] < 2 || len(led[hi]) == 0 {
			break
		}
		r := led[hi][len(led[hi])-1]
		led[hi] = led[hi][:len(led[hi])-1]
		load[hi]--
		load[lo]++
		moves = append(moves, LeaderMove{Topic: r.t.ID, Partition: r.i, Epoch: r.t.Partitions[r.i].LeaderEpoch, To: lo})
	}
	slices.SortFunc(moves, func(a, b LeaderMove) int {
		return cmp.Or(slices.Compare(a.Topic[:], b.Topic[:]), cmp.Compare(a.Partition, b.Partition))
	})
	return moves
}

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
	p.Handover, p.HandoverTo = false, 0
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
