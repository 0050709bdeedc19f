package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The metadata quorum as a cluster: forwarding writes to the leader,
// non-voters joining, and broker sessions.
//
// Brokers that are not controllers are raft non-voters: they receive the
// whole log and answer reads from their own state machine, but take no part
// in elections or commits. A write on any node that is not the leader is
// sent to the leader over the controller RPC (rpc.go); the leader answers
// with the raft index the command was applied at, and the forwarding node
// waits until its own state machine applied that index and reads the
// outcome of its own apply (apply is deterministic, so it is the leader's).
// A write is therefore visible on the node that made it when it returns.
//
// Sessions: every broker heartbeats the leader (Heartbeat) with the
// incarnation its registration got. The leader keeps the time of the last
// heartbeat of each broker in memory only; a broker it has not heard from
// for SessionTimeout is fenced through the log (FenceBroker), which moves
// its partitions. A new leader gives every broker a full timeout from the
// moment it took over. A broker that is told its incarnation is stale (it
// was fenced) must register again and reopen its partitions.

// forward sends c to the raft leader and returns the outcome of the
// entry as this node applied it.
func (s *Store) forward(ctx context.Context, c command) (applyResult, error) {
	b, err := encodeCommand(c)
	if err != nil {
		return applyResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyTimeout)
	defer cancel()
	hint := ""
	for attempt := 0; ; attempt++ {
		addr := hint
		if addr == "" {
			addr = s.leaderAddr(attempt)
		}
		hint = ""
		if addr == "" {
			if err := s.pause(ctx, attempt); err != nil {
				return applyResult{}, fmt.Errorf("%w: propose %s: no metadata leader: %v", ErrNotLeader, c.commandType(), err)
			}
			continue
		}
		res, err := s.rpc.call(ctx, addr, opApply, b)
		if err == nil {
			if len(res) != 8 {
				return applyResult{}, fmt.Errorf("propose %s: controller answered %d bytes, want 8", c.commandType(), len(res))
			}
			return s.awaitResult(ctx, c, binary.BigEndian.Uint64(res))
		}
		var re *rpcError
		switch {
		case errors.As(err, &re) && re.kind == errKindNotLeader:
			hint = s.peerAddr(re.msg) // the leader, when the controller knew it
		case errors.As(err, &re):
			return applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), err)
		case errors.Is(err, errNotSent):
			// Nothing was sent: try again, another controller if need be.
		default:
			// The request may have been applied: the outcome is unknown,
			// which callers treat as a retriable failure.
			return applyResult{}, fmt.Errorf("%w: propose %s: outcome unknown: %v", ErrNotLeader, c.commandType(), err)
		}
		if err := s.pause(ctx, attempt); err != nil {
			return applyResult{}, fmt.Errorf("%w: propose %s: %v", ErrNotLeader, c.commandType(), err)
		}
	}
}

// leaderAddr is where this node reaches the raft leader, or else one of
// the configured controllers in turn. A controller is reached at the
// address this node's --controllers names for it (which may differ from
// the raft address its peers use: a proxy, NAT).
func (s *Store) leaderAddr(attempt int) string {
	if addr, id := s.raft.LeaderWithID(); addr != "" && attempt%2 == 0 {
		return s.peerAddr(string(id) + "@" + string(addr))
	}
	if n := len(s.cfg.Controllers); n > 0 {
		return s.cfg.Controllers[attempt%n].Addr
	}
	return ""
}

// peerAddr turns a leader hint "ID@ADDRESS" into the address this node
// uses for that controller: the one its --controllers names, else the
// hint's address ("" for an empty hint).
func (s *Store) peerAddr(hint string) string {
	id, addr, ok := strings.Cut(hint, "@")
	if !ok {
		return hint
	}
	for _, p := range s.cfg.Controllers {
		if strconv.Itoa(int(p.ID)) == id {
			return p.Addr
		}
	}
	return addr
}

// pause sleeps a short, growing time before the next attempt.
func (s *Store) pause(ctx context.Context, attempt int) error {
	d := min(time.Duration(attempt+1)*20*time.Millisecond, 500*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return ErrClosed
	}
}

// awaitResult waits until this node applied index and returns the outcome.
func (s *Store) awaitResult(ctx context.Context, c command, index uint64) (applyResult, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// raft counts an entry applied once it is handed to the FSM, a moment
	// before the FSM has run it; only when raft has been past index for a
	// while without the FSM (a snapshot restored over it) is the outcome
	// lost.
	var raftPast time.Time
	for {
		ch := s.fsm.appliedChan()
		res, applied, ok := s.fsm.resultAt(index)
		if ok {
			return res, res.err
		}
		if !applied && s.raft.AppliedIndex() >= index {
			if raftPast.IsZero() {
				raftPast = time.Now()
			}
			applied = time.Since(raftPast) > time.Second
		}
		if applied {
			return applyResult{}, fmt.Errorf("%w: propose %s: applied at index %d, outcome no longer known here", ErrNotLeader, c.commandType(), index)
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-ctx.Done():
			return applyResult{}, fmt.Errorf("%w: propose %s: committed at index %d, not yet applied here: %v", ErrNotLeader, c.commandType(), index, ctx.Err())
		case <-s.stop:
			return applyResult{}, ErrClosed
		}
	}
}

// awaitCluster is Open's wait on a cluster node: a non-voter first asks
// the controllers to add it; every node then waits (at most StartTimeout)
// until a leader is known and this node has applied what the leader had
// applied when it answered.
func (s *Store) awaitCluster(hadState bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartTimeout)
	defer cancel()
	var target uint64
	if !s.cfg.isController(s.cfg.NodeID) {
		body := binary.BigEndian.AppendUint32(nil, uint32(s.cfg.NodeID))
		body = append(body, s.trans.LocalAddr()...)
		hint := ""
		for attempt := 0; ; attempt++ {
			addr := hint
			if addr == "" {
				addr = s.cfg.Controllers[attempt%len(s.cfg.Controllers)].Addr
			}
			hint = ""
			res, err := s.rpc.call(ctx, addr, opJoin, body)
			if err == nil && len(res) == 8 {
				target = binary.BigEndian.Uint64(res)
				break
			}
			var re *rpcError
			if errors.As(err, &re) && re.kind == errKindNotLeader {
				hint = s.peerAddr(re.msg)
			} else if errors.As(err, &re) {
				return fmt.Errorf("join metadata quorum: %w", err)
			}
			if err := s.pause(ctx, attempt); err != nil {
				return fmt.Errorf("join metadata quorum via %v: %w (last: %v)", s.cfg.Controllers, err, err)
			}
		}
		s.log.Info("joined metadata quorum as a non-voter", "leader_applied", target)
	}
	for {
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			if s.raft.AppliedIndex() >= target && (target > 0 || s.raft.AppliedIndex() > 0 || !hadState) {
				return nil
			}
		}
		if err := s.pause(ctx, 5); err != nil {
			return fmt.Errorf("wait for the metadata quorum (controllers %v): %w", s.cfg.Controllers, err)
		}
	}
}

// addNonvoter adds a node as a non-voting follower of the log; a node
// already in the configuration at that address is left as it is.
func (s *Store) addNonvoter(ctx context.Context, id int32, addr string) error {
	sid := raft.ServerID(strconv.Itoa(int(id)))
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			if srv.ID == sid && srv.Address == raft.ServerAddress(addr) {
				return nil
			}
		}
	}
	return s.changeMembership(ctx, "add non-voter", func(timeout time.Duration) raft.IndexFuture {
		return s.raft.AddNonvoter(sid, raft.ServerAddress(addr), 0, timeout)
	})
}

// Heartbeat renews the session of broker id at incarnation; it returns the
// session timeout. ErrStaleIncarnation means the broker was fenced (or
// registered again elsewhere): it must register again.
func (s *Store) Heartbeat(ctx context.Context, id int32, incarnation int64) (time.Duration, error) {
	if s.IsLeader() {
		return s.sessions.heartbeat(s, id, incarnation)
	}
	body := binary.BigEndian.AppendUint32(nil, uint32(id))
	body = binary.BigEndian.AppendUint64(body, uint64(incarnation))
	for attempt := 0; ; attempt++ {
		addr := s.leaderAddr(attempt)
		if addr == "" {
			if err := s.pause(ctx, attempt); err != nil {
				return 0, fmt.Errorf("%w: heartbeat: no metadata leader", ErrNotLeader)
			}
			continue
		}
		res, err := s.rpc.call(ctx, addr, opHeartbeat, body)
		if err == nil {
			if len(res) != 4 {
				return 0, fmt.Errorf("heartbeat: controller answered %d bytes, want 4", len(res))
			}
			return time.Duration(binary.BigEndian.Uint32(res)) * time.Millisecond, nil
		}
		var re *rpcError
		if errors.As(err, &re) && re.kind != errKindNotLeader {
			return 0, err
		}
		if err := s.pause(ctx, attempt); err != nil {
			return 0, fmt.Errorf("%w: heartbeat: %v", ErrNotLeader, err)
		}
	}
}

// sessionTracker is the leader's memory of broker heartbeats.
type sessionTracker struct {
	mu    sync.Mutex
	since time.Time // when this node last became leader
	last  map[int32]time.Time
	inc   map[int32]int64 // the incarnation last seen registered, per broker
}

func (t *sessionTracker) heartbeat(s *Store, id int32, incarnation int64) (time.Duration, error) {
	if !s.IsLeader() {
		return 0, ErrNotLeader
	}
	s.fsm.mu.RLock()
	b, ok := s.fsm.st.brokers[id]
	s.fsm.mu.RUnlock()
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: broker %d", ErrUnknownBroker, id)
	case b.Incarnation != incarnation || b.Fenced:
		return 0, fmt.Errorf("%w: broker %d is at incarnation %d (fenced %v), heartbeat names %d", ErrStaleIncarnation, id, b.Incarnation, b.Fenced, incarnation)
	}
	t.mu.Lock()
	if t.last == nil {
		t.last, t.inc = make(map[int32]time.Time), make(map[int32]int64)
	}
	t.last[id], t.inc[id] = time.Now(), incarnation
	t.mu.Unlock()
	return s.cfg.SessionTimeout, nil
}

// expired returns the brokers of bs whose session lapsed at now.
func (t *sessionTracker) expired(bs []Broker, now time.Time, timeout time.Duration) []Broker {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last, t.inc = make(map[int32]time.Time), make(map[int32]int64)
	}
	var out []Broker
	for _, b := range bs {
		if b.Fenced {
			continue
		}
		if t.inc[b.ID] != b.Incarnation {
			// A new registration counts as a heartbeat: its session
			// starts now, whatever the last incarnation's did.
			t.last[b.ID], t.inc[b.ID] = now, b.Incarnation
			continue
		}
		seen := t.last[b.ID]
		if seen.Before(t.since) {
			seen = t.since
		}
		if now.Sub(seen) > timeout {
			out = append(out, b)
		}
	}
	return out
}

// enforceSessions runs on every node; while it is the leader it fences
// brokers whose session lapsed.
func (s *Store) enforceSessions() {
	defer s.wg.Done()
	timeout := s.cfg.SessionTimeout
	tick := time.NewTicker(max(timeout/8, 10*time.Millisecond))
	defer tick.Stop()
	leading := false
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			if !s.IsLeader() {
				leading = false
				continue
			}
			if !leading {
				leading = true
				s.sessions.mu.Lock()
				s.sessions.since = now
				s.sessions.mu.Unlock()
				continue
			}
			for _, b := range s.sessions.expired(s.Brokers(), now, timeout) {
				ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
				_, err := s.propose(ctx, fenceBrokerCmd{ID: b.ID, Incarnation: b.Incarnation})
				cancel()
				if err != nil && !errors.Is(err, ErrStaleIncarnation) {
					s.log.Warn("fence broker after its session lapsed", "broker", b.ID, "err", err)
					continue
				}
				s.log.Warn("broker session lapsed: fenced, its partitions move", "broker", b.ID, "incarnation", b.Incarnation, "timeout", timeout)
			}
		}
	}
}

// FenceBroker fences one incarnation of a broker (-1: whatever its
// current one) and moves its partitions.
func (s *Store) FenceBroker(ctx context.Context, id int32, incarnation int64) error {
	_, err := s.propose(ctx, fenceBrokerCmd{ID: id, Incarnation: incarnation})
	return err
}

// DrainBroker marks a broker draining (or not): it gets no new
// leaderships and every partition it leads gets a handover.
func (s *Store) DrainBroker(ctx context.Context, id int32, draining bool) error {
	_, err := s.propose(ctx, drainBrokerCmd{ID: id, Draining: draining})
	return err
}

// UnregisterBroker removes a broker that is fenced or leads nothing.
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	_, err := s.propose(ctx, unregisterBrokerCmd{ID: id})
	return err
}

// MoveLeaders starts graceful handovers (or, with force, moves at once)
// and returns how many moves were taken.
func (s *Store) MoveLeaders(ctx context.Context, moves []LeaderMove, force bool) (int, error) {
	res, err := s.propose(ctx, moveLeadersCmd{Moves: moves, Force: force})
	return res.count, err
}

// CompleteHandover hands a partition to its handover target; the caller
// is its leader at epoch and has committed everything it acknowledged.
func (s *Store) CompleteHandover(ctx context.Context, topic TopicID, partition, epoch int32) error {
	_, err := s.propose(ctx, completeHandoverCmd{Topic: topic, Partition: partition, Epoch: epoch})
	return err
}

// Broker returns the registered broker with that id.
func (s *Store) Broker(id int32) (Broker, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	b, ok := s.fsm.st.brokers[id]
	return b, ok
}

// Voters returns the raft configuration: every server, voter or not, with
// its address.
func (s *Store) Servers() ([]raft.Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}
