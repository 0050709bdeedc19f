package broker

// JoinGroup, SyncGroup, Heartbeat and LeaveGroup as the coordinator serves
// them (see group.go).

import (
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// join serves JoinGroup; reply is called once, now or when the rebalance
// completes.
func (c *groupCoordinator) join(req *kmsg.JoinGroupRequest, client clientInfo, reply func(*kmsg.JoinGroupResponse)) {
	if req.Group == "" || len(req.Group) > metadata.MaxGroupIDLen {
		reply(joinError(kerr.InvalidGroupID.Code, req.MemberID))
		return
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		reply(joinError(kerr.InvalidSessionTimeout.Code, req.MemberID))
		return
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version < 1 || rebalance <= 0 {
		rebalance = session
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		reply(joinError(kerr.InconsistentGroupProtocol.Code, req.MemberID))
		return
	}
	g := c.getOrCreate(req.Group)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == groupDead {
		reply(joinError(kerr.CoordinatorNotAvailable.Code, req.MemberID))
		return
	}
	excluded := req.MemberID
	if req.MemberID == "" && req.InstanceID != nil {
		excluded = g.static[*req.InstanceID]
	}
	if !g.compatible(excluded, req.ProtocolType, req.Protocols) {
		reply(joinError(kerr.InconsistentGroupProtocol.Code, req.MemberID))
		return
	}
	update := func(m *groupMember) {
		m.client = client
		m.sessionTimeout = session
		m.rebalanceTimeout = rebalance
		m.protocols = req.Protocols
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}

	if req.MemberID == "" {
		if req.InstanceID != nil {
			if oldID, ok := g.static[*req.InstanceID]; ok {
				g.rejoinStatic(g.members[oldID], req, update, reply)
				return
			}
			m := &groupMember{id: newMemberID(*req.InstanceID), instanceID: req.InstanceID}
			update(m)
			m.join, m.joinVersion = reply, req.Version
			g.addMember(m)
			g.membersChanged()
			g.prepareIfEmpty()
			return
		}
		id := newMemberID(client.id)
		if req.Version >= 4 {
			// KIP-394: the member must come back with this id, so that a
			// client that never hears the answer leaves no ghost member.
			seq := g.nextSeq()
			g.pending[id] = seq
			g.c.clock.AfterFunc(session, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				if g.pending[id] == seq {
					delete(g.pending, id)
					g.tryCompleteJoin()
				}
			})
			reply(joinError(kerr.MemberIDRequired.Code, id))
			return
		}
		m := &groupMember{id: id}
		update(m)
		m.join, m.joinVersion = reply, req.Version
		g.addMember(m)
		g.membersChanged()
		g.prepareIfEmpty()
		return
	}

	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		m := &groupMember{id: req.MemberID, instanceID: req.InstanceID}
		update(m)
		m.join, m.joinVersion = reply, req.Version
		g.addMember(m)
		g.membersChanged()
		g.prepareIfEmpty()
		return
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		if g.fenced(req.InstanceID, req.MemberID) {
			reply(joinError(kerr.FencedInstanceID.Code, req.MemberID))
			return
		}
		reply(joinError(kerr.UnknownMemberID.Code, req.MemberID))
		return
	}
	if g.fenced(req.InstanceID, req.MemberID) {
		reply(joinError(kerr.FencedInstanceID.Code, req.MemberID))
		return
	}
	changed := !sameProtocols(m.protocols, req.Protocols)
	switch g.state {
	case groupPreparingRebalance:
		if m.join != nil {
			m.join(joinError(kerr.RebalanceInProgress.Code, m.id))
		}
		update(m)
		m.join, m.joinVersion = reply, req.Version
		g.touch(m)
		g.tryCompleteJoin()
	case groupCompletingRebalance, groupStable:
		if !changed && (g.state == groupCompletingRebalance || m.id != g.leader) {
			// Nothing new: hand back the current generation.
			update(m)
			g.touch(m)
			resp := g.joinResponse(m.id, g.leader)
			if m.id == g.leader {
				resp.Members = g.memberMetadata()
			}
			reply(resp)
			return
		}
		update(m)
		m.join, m.joinVersion = reply, req.Version
		g.touch(m)
		g.prepareRebalance()
	default:
		reply(joinError(kerr.UnknownMemberID.Code, req.MemberID))
	}
}

// prepareIfEmpty starts the first rebalance of a group that just got its
// first member.
func (g *group) prepareIfEmpty() {
	if g.state == groupEmpty && len(g.members) > 0 {
		g.prepareRebalance()
	}
}

// rejoinStatic serves a JoinGroup without member id from a known static
// instance: the member gets a new id and the old incarnation is fenced. A
// Stable group whose protocol would not change does not rebalance.
func (g *group) rejoinStatic(m *groupMember, req *kmsg.JoinGroupRequest, update func(*groupMember), reply func(*kmsg.JoinGroupResponse)) {
	oldID := m.id
	if m.join != nil {
		m.join(joinError(kerr.FencedInstanceID.Code, oldID))
		m.join = nil
	}
	if m.sync != nil {
		m.sync(syncError(kerr.FencedInstanceID.Code))
		m.sync = nil
	}
	newID := newMemberID(*req.InstanceID)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[*req.InstanceID] = newID
	if g.pendingSyn[oldID] {
		delete(g.pendingSyn, oldID)
		g.pendingSyn[newID] = true
	}
	wasLeader := g.leader == oldID
	if wasLeader {
		g.leader = newID
	}
	update(m)
	g.touch(m)
	switch g.state {
	case groupStable:
		if g.selectProtocol() == g.protocol {
			skip := wasLeader && req.Version >= 9
			leader := g.leader
			if wasLeader && !skip {
				// An old client told it leads would assign again, and a
				// Stable group would not pass the result on: name the old
				// id so it only syncs.
				leader = oldID
			}
			resp := g.joinResponse(newID, leader)
			if skip {
				resp.Members = g.memberMetadata()
				resp.SkipAssignment = true
			}
			reply(resp)
			return
		}
		m.join, m.joinVersion = reply, req.Version
		g.prepareRebalance()
	case groupCompletingRebalance:
		m.join, m.joinVersion = reply, req.Version
		g.prepareRebalance()
	default:
		m.join, m.joinVersion = reply, req.Version
		g.tryCompleteJoin()
	}
}

// sync serves SyncGroup; reply is called once, now or when the leader's
// assignment arrives.
func (c *groupCoordinator) sync(req *kmsg.SyncGroupRequest, reply func(*kmsg.SyncGroupResponse)) {
	g := c.get(req.Group)
	if g == nil {
		reply(syncError(kerr.UnknownMemberID.Code))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == groupDead {
		reply(syncError(kerr.CoordinatorNotAvailable.Code))
		return
	}
	m, ok := g.members[req.MemberID]
	switch {
	case g.fenced(req.InstanceID, req.MemberID):
		reply(syncError(kerr.FencedInstanceID.Code))
		return
	case !ok:
		reply(syncError(kerr.UnknownMemberID.Code))
		return
	case req.Generation != g.generation:
		reply(syncError(kerr.IllegalGeneration.Code))
		return
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		reply(syncError(kerr.InconsistentGroupProtocol.Code))
		return
	}
	switch g.state {
	case groupPreparingRebalance:
		reply(syncError(kerr.RebalanceInProgress.Code))
	case groupCompletingRebalance:
		if m.sync != nil {
			m.sync(syncError(kerr.RebalanceInProgress.Code))
		}
		m.sync = reply
		delete(g.pendingSyn, m.id)
		g.touch(m)
		if m.id != g.leader {
			return
		}
		for _, a := range req.GroupAssignment {
			if am, ok := g.members[a.MemberID]; ok {
				am.assignment = a.MemberAssignment
			}
		}
		g.state = groupStable
		if len(g.pendingSyn) == 0 {
			g.cancelTimer()
		}
		for _, id := range g.memberIDs() {
			am := g.members[id]
			if am.sync != nil {
				am.sync(g.syncResponse(am))
				am.sync = nil
			}
		}
	case groupStable:
		delete(g.pendingSyn, m.id)
		if len(g.pendingSyn) == 0 {
			g.cancelTimer()
		}
		g.touch(m)
		reply(g.syncResponse(m))
	default:
		reply(syncError(kerr.UnknownMemberID.Code))
	}
}

func (g *group) syncResponse(m *groupMember) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &p
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

// heartbeat serves Heartbeat and returns its error code.
func (c *groupCoordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	g := c.get(req.Group)
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == groupDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	m, ok := g.members[req.MemberID]
	switch {
	case g.fenced(req.InstanceID, req.MemberID):
		return kerr.FencedInstanceID.Code
	case !ok:
		return kerr.UnknownMemberID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	g.touch(m)
	if g.state == groupPreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// leaveMember is one member leaving: by member id, or by instance id with
// an optional member id.
type leaveMember struct {
	memberID   string
	instanceID *string
}

// leave serves LeaveGroup and returns one error code per member.
func (c *groupCoordinator) leave(groupID string, leaving []leaveMember) (int16, []int16) {
	codes := make([]int16, len(leaving))
	g := c.get(groupID)
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == groupDead {
		return kerr.CoordinatorNotAvailable.Code, codes
	}
	removed := false
	for i, l := range leaving {
		if l.instanceID != nil {
			id, ok := g.static[*l.instanceID]
			switch {
			case !ok:
				codes[i] = kerr.UnknownMemberID.Code
			case l.memberID != "" && l.memberID != id:
				codes[i] = kerr.FencedInstanceID.Code
			default:
				g.removeMember(g.members[id], kerr.UnknownMemberID.Code)
				removed = true
			}
			continue
		}
		if _, ok := g.pending[l.memberID]; ok {
			delete(g.pending, l.memberID)
			removed = true
			continue
		}
		m, ok := g.members[l.memberID]
		if !ok {
			codes[i] = kerr.UnknownMemberID.Code
			continue
		}
		g.removeMember(m, kerr.UnknownMemberID.Code)
		removed = true
	}
	if removed {
		g.membersChanged()
	}
	return 0, codes
}
