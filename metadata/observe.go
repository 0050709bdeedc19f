package metadata

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// RaftStatus is this node's view of the raft log, for metrics and
// readiness.
type RaftStatus struct {
	State        string // "Leader", "Follower", "Candidate" or "Shutdown"
	Term         uint64
	CommitIndex  uint64 // highest entry known committed
	AppliedIndex uint64 // highest entry applied to this node's state machine
	LastIndex    uint64 // highest entry in this node's log
	// LastContact is how long ago a follower last heard from the leader
	// (0 on the leader and before any contact).
	LastContact time.Duration
	HasLeader   bool
}

// RaftStatus returns the current figures.
func (s *Store) RaftStatus() RaftStatus {
	st := RaftStatus{
		State:        s.raft.State().String(),
		AppliedIndex: s.raft.AppliedIndex(),
		LastIndex:    s.raft.LastIndex(),
	}
	addr, _ := s.raft.LeaderWithID()
	st.HasLeader = addr != ""
	stats := s.raft.Stats()
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	if s.raft.State() != raft.Leader {
		if lc := s.raft.LastContact(); !lc.IsZero() {
			st.LastContact = time.Since(lc)
		}
	}
	return st
}

// SetProposeObserver installs f, called with the time from proposing a
// command on this node (the leader) until it was applied here. f must
// return at once; nil removes it.
func (s *Store) SetProposeObserver(f func(time.Duration)) {
	if f == nil {
		s.onPropose.Store(nil)
		return
	}
	s.onPropose.Store(&f)
}
