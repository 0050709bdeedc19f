package broker

// A group's members, its timers and the bookkeeping of joins (see group.go).

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// group is one consumer group. Every field is guarded by mu.
type group struct {
	c  *groupCoordinator
	id string

	mu           sync.Mutex
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*groupMember
	static       map[string]string // instance id -> member id
	// pending holds member ids handed out with MEMBER_ID_REQUIRED that
	// have not joined yet, with the sequence number of their expiry timer.
	pending map[string]uint64
	// pendingSyn holds members of the current generation that have not
	// sent SyncGroup; they are removed if the rebalance timeout passes.
	pendingSyn map[string]bool
	emptySince time.Time

	// initialDelay is set while the first rebalance out of Empty waits
	// for more members.
	initialDelay bool
	timer        groupTimer // rebalance, initial delay or pending sync
	timerSeq     uint64
	seq          uint64 // source of timer sequence numbers
}

// groupMember is one member of a group.
type groupMember struct {
	id               string
	instanceID       *string
	client           clientInfo
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte

	// join and sync are the replies of a JoinGroup or SyncGroup waiting
	// for the rebalance to move on; joinVersion is that JoinGroup's
	// version.
	join        func(*kmsg.JoinGroupResponse)
	joinVersion int16
	sync        func(*kmsg.SyncGroupResponse)

	session    groupTimer
	sessionSeq uint64
}

func (m *groupMember) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(a, b, func(x, y kmsg.JoinGroupRequestProtocol) bool {
		return x.Name == y.Name && string(x.Metadata) == string(y.Metadata)
	})
}

func (g *group) nextSeq() uint64 {
	g.seq++
	return g.seq
}

func (g *group) stopTimers() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.timerSeq = 0
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
			m.session = nil
		}
	}
	for id := range g.pending {
		g.pending[id] = 0
	}
}

// armTimer replaces the group timer with one calling fire after d.
func (g *group) armTimer(d time.Duration, fire func()) {
	if g.timer != nil {
		g.timer.Stop()
	}
	seq := g.nextSeq()
	g.timerSeq = seq
	g.timer = g.c.clock.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timerSeq != seq {
			return
		}
		g.timer = nil
		g.timerSeq = 0
		fire()
	})
}

func (g *group) cancelTimer() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.timerSeq = 0
}

// touch restarts m's session timer.
func (g *group) touch(m *groupMember) {
	if m.session != nil {
		m.session.Stop()
	}
	seq := g.nextSeq()
	m.sessionSeq = seq
	m.session = g.c.clock.AfterFunc(m.sessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.members[m.id] != m || m.sessionSeq != seq {
			return
		}
		if m.join != nil || m.sync != nil {
			// A member waiting on the rebalance cannot heartbeat; the
			// rebalance and pending-sync timeouts bound the wait.
			g.touch(m)
			return
		}
		g.c.log.Info("group member session expired", "group", g.id, "member", m.id)
		g.removeMember(m, kerr.UnknownMemberID.Code)
		g.membersChanged()
	})
}

// fenced reports whether instanceID names a static member other than
// memberID.
func (g *group) fenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

func (g *group) addMember(m *groupMember) {
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.touch(m)
}

// removeMember drops m, answering its waiting requests with code.
func (g *group) removeMember(m *groupMember, code int16) {
	if m.session != nil {
		m.session.Stop()
		m.session = nil
	}
	m.sessionSeq = 0
	delete(g.members, m.id)
	delete(g.pendingSyn, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if m.join != nil {
		m.join(joinError(code, m.id))
		m.join = nil
	}
	if m.sync != nil {
		m.sync(syncError(code))
		m.sync = nil
	}
	if g.leader == m.id {
		g.leader = ""
		for _, id := range g.memberIDs() {
			g.leader = id
			break
		}
	}
}

// membersChanged moves the group on after members were added or removed.
func (g *group) membersChanged() {
	switch g.state {
	case groupStable, groupCompletingRebalance:
		g.prepareRebalance()
	case groupPreparingRebalance:
		g.tryCompleteJoin()
	}
}

func (g *group) memberIDs() []string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}
