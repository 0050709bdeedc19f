package metadata

import (
	"fmt"
	"hash/fnv"
	"slices"
)

// Coordinator slots: consumer groups (and later transactional ids) hash to
// one of CoordinatorSlots slots; each slot has a leader broker and an
// epoch, kept in the state machine like a partition's leadership. The
// slot's leader is the group's coordinator (FindCoordinator answers it;
// every other broker answers NOT_COORDINATOR), and an offset commit
// carries the slot epoch its coordinator holds: the state machine refuses
// it once the slot moved (ErrNotCoordinator), so a deposed coordinator can
// never write over the new one's commits.
//
// Slots are created by the first RegisterBroker of version 2, given to
// live brokers evenly (fewest slots first, lowest id on a tie), moved on
// the same events as partitions (fencing, draining, unregistering) with
// their epoch bumped, and spread again when a broker registers. A moved
// slot's groups rejoin at the new coordinator: their members' state is in
// the coordinator's memory, their committed offsets in the log.

// CoordinatorSlots is how many coordinator slots a cluster has.
const CoordinatorSlots = 16

// CoordinatorSlot is the slot of a group (or transactional) id.
func CoordinatorSlot(id string) int32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int32(h.Sum32() % CoordinatorSlots)
}

// ErrNotCoordinator: an offset commit names a coordinator slot epoch that
// is no longer the slot's (NOT_COORDINATOR).
var ErrNotCoordinator = fmt.Errorf("not the group coordinator")

// slotLoad counts the slots each live broker leads.
func (st *state) slotLoad() map[int32]int {
	load := make(map[int32]int, len(st.brokers))
	for id, b := range st.brokers {
		if b.live() {
			load[id] = 0
		}
	}
	for _, s := range st.slots {
		if _, ok := load[s.Leader]; ok {
			load[s.Leader]++
		}
	}
	return load
}

// placeSlots creates the slots if there are none, gives every slot whose
// leader is not live (or gone) to a live broker, and then evens the load:
// while one broker leads two or more slots more than another, a slot of
// the busiest moves to the idlest. Each move bumps the slot's epoch.
func (st *state) placeSlots() {
	if len(st.slots) == 0 {
		st.slots = make([]Partition, CoordinatorSlots)
		for i := range st.slots {
			st.slots[i].Leader = NoLeader
		}
	} else {
		st.slots = slices.Clone(st.slots) // clones share the array
	}
	load := st.slotLoad()
	for i, s := range st.slots {
		if _, live := load[s.Leader]; live {
			continue
		}
		next := pickLeader(load)
		if next == s.Leader {
			continue
		}
		st.slots[i].Leader = next
		st.slots[i].LeaderEpoch++
	}
	for len(load) > 1 {
		hi, lo := int32(NoLeader), int32(NoLeader)
		for id, n := range load {
			if hi == NoLeader || n > load[hi] || n == load[hi] && id < hi {
				hi = id
			}
			if lo == NoLeader || n < load[lo] || n == load[lo] && id < lo {
				lo = id
			}
		}
		if load[hi]-load[lo] < 2 {
			return
		}
		for i := len(st.slots) - 1; i >= 0; i-- {
			if st.slots[i].Leader == hi {
				st.slots[i].Leader = lo
				st.slots[i].LeaderEpoch++
				break
			}
		}
		load[hi]--
		load[lo]++
	}
}

// SlotLeader returns the leader and epoch of the slot of group; ok is
// false while the cluster has no slots yet (no broker registered).
func (s *Store) SlotLeader(group string) (leader, epoch int32, ok bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	if len(s.fsm.st.slots) == 0 {
		return NoLeader, 0, false
	}
	p := s.fsm.st.slots[CoordinatorSlot(group)]
	return p.Leader, p.LeaderEpoch, true
}

// Slots returns a copy of the coordinator slots.
func (s *Store) Slots() []Partition {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return slices.Clone(s.fsm.st.slots)
}
