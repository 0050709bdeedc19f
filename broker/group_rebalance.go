package broker

// The rebalance of a group: preparing it, completing the join, the
// protocol and leader chosen (see group.go).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// prepareRebalance starts a rebalance: every member must rejoin.
func (g *group) prepareRebalance() {
	if g.state == groupPreparingRebalance {
		g.tryCompleteJoin()
		return
	}
	if g.state == groupCompletingRebalance {
		for _, m := range g.members {
			if m.sync != nil {
				m.sync(syncError(kerr.RebalanceInProgress.Code))
				m.sync = nil
			}
		}
	}
	for _, m := range g.members {
		m.assignment = nil
	}
	clear(g.pendingSyn)
	fromEmpty := g.state == groupEmpty
	g.state = groupPreparingRebalance
	if fromEmpty && g.c.cfg.InitialRebalanceDelay > 0 {
		g.initialDelay = true
		g.armTimer(g.c.cfg.InitialRebalanceDelay, func() {
			g.initialDelay = false
			if g.state != groupPreparingRebalance {
				return
			}
			if g.allJoined() {
				g.completeJoin()
				return
			}
			g.armTimer(g.maxRebalanceTimeout(), g.rebalanceTimedOut)
		})
		return
	}
	g.initialDelay = false
	g.armTimer(g.maxRebalanceTimeout(), g.rebalanceTimedOut)
	g.tryCompleteJoin()
}

func (g *group) rebalanceTimedOut() {
	if g.state == groupPreparingRebalance {
		g.completeJoin()
	}
}

func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

func (g *group) tryCompleteJoin() {
	if g.state == groupPreparingRebalance && !g.initialDelay && g.allJoined() {
		g.completeJoin()
	}
}

// completeJoin ends PreparingRebalance: members that did not rejoin are
// dropped, a new generation starts and every member gets its JoinGroup
// answer (the leader with everyone's metadata).
func (g *group) completeJoin() {
	g.cancelTimer()
	g.initialDelay = false
	for _, id := range g.memberIDs() {
		if m := g.members[id]; m.join == nil {
			g.c.log.Info("group member did not rejoin in time", "group", g.id, "member", id)
			g.removeMember(m, kerr.UnknownMemberID.Code)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.state = groupEmpty
		g.protocol = ""
		g.leader = ""
		g.emptySince = g.c.clock.Now()
		return
	}
	g.protocol = g.selectProtocol()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.memberIDs()[0]
	}
	g.state = groupCompletingRebalance
	for _, id := range g.memberIDs() {
		m := g.members[id]
		resp := g.joinResponse(m.id, g.leader)
		if m.id == g.leader {
			resp.Members = g.memberMetadata()
		}
		m.join(resp)
		m.join = nil
		g.pendingSyn[m.id] = true
		g.touch(m)
	}
	g.armTimer(g.maxRebalanceTimeout(), g.syncTimedOut)
}

// syncTimedOut drops the members of this generation that never synced.
func (g *group) syncTimedOut() {
	if g.state != groupCompletingRebalance && g.state != groupStable {
		return
	}
	removed := false
	for _, id := range g.memberIDs() {
		if g.pendingSyn[id] {
			g.c.log.Info("group member did not sync in time", "group", g.id, "member", id)
			g.removeMember(g.members[id], kerr.UnknownMemberID.Code)
			removed = true
		}
	}
	if removed {
		g.prepareRebalance()
	}
}

func (g *group) joinResponse(memberID, leader string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &p
	resp.LeaderID = leader
	resp.MemberID = memberID
	return resp
}

func (g *group) memberMetadata() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, id := range g.memberIDs() {
		m := g.members[id]
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

// selectProtocol picks the protocol every member supports that most
// members list first among those; ties go to the leader's preference.
func (g *group) selectProtocol() string {
	var first *groupMember
	if m, ok := g.members[g.leader]; ok {
		first = m
	} else {
		first = g.members[g.memberIDs()[0]]
	}
	supported := func(name string) bool {
		for _, m := range g.members {
			if !slices.ContainsFunc(m.protocols, func(p kmsg.JoinGroupRequestProtocol) bool { return p.Name == name }) {
				return false
			}
		}
		return true
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if supported(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range first.protocols {
		if n, ok := votes[p.Name]; ok && n > bestVotes {
			best, bestVotes = p.Name, n
		}
	}
	return best
}

// compatible reports whether a member joining with protocolType and
// protocols can join beside the members other than memberID.
func (g *group) compatible(memberID, protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	others := 0
	for id := range g.members {
		if id != memberID {
			others++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for id, m := range g.members {
			if id == memberID {
				continue
			}
			if !slices.ContainsFunc(m.protocols, func(q kmsg.JoinGroupRequestProtocol) bool { return q.Name == p.Name }) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func joinError(code int16, memberID string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.ErrorCode = code
	resp.Generation = -1
	resp.MemberID = memberID
	return resp
}

func syncError(code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ErrorCode = code
	resp.MemberAssignment = []byte{}
	return resp
}
