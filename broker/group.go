package broker

// Consumer groups: the coordinator of Kafka's classic group protocol.
//
// This broker coordinates every group (FindCoordinator names it for any
// key). A group's membership lives in memory only; its committed offsets
// live in the metadata state machine (offsetStore), so after a restart a
// group starts Empty with its offsets and its members rejoin.
//
// The classic rebalance, per group:
//
//	            first JoinGroup
//	  Empty ─────────────────────────▶ PreparingRebalance ◀──────────────┐
//	    ▲                               │  every member rejoined        │ a member joins with new
//	    │ no member rejoined            │  (or the rebalance timeout)   │ protocols, leaves, its
//	    └───────────────────────────────┤                               │ session expires, or a
//	                                    ▼                               │ follower never syncs
//	                          CompletingRebalance ── leader's ───▶ Stable
//	                                                 SyncGroup
//
//	Dead: the group was deleted (DeleteGroups) or swept away while empty
//	with no offsets; a request that still holds it is told to find the
//	coordinator again, and then meets a fresh group.
//
// Every completed join starts a new generation. Commits, heartbeats and
// syncs name the generation and member they belong to and are refused
// (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) as Kafka
// refuses them. JoinGroup v4+ members first get MEMBER_ID_REQUIRED and an id
// to rejoin with (KIP-394). Static members (group.instance.id, KIP-345) keep
// their place across restarts: a known instance rejoining a Stable group
// gets a new member id and its old assignment without a rebalance, and the
// incarnation it replaced is fenced (FENCED_INSTANCE_ID).
//
// JoinGroup and SyncGroup answer when the rebalance step they wait for
// completes, from whichever goroutine completes it (a later request or a
// timer); the connection's reader never blocks on them. A waiting reply is
// tied to its connection: if the connection closes first, its response
// slot is released (connReply), and closing the coordinator answers every
// waiting request with NOT_COORDINATOR.
//
// Offsets expire (offsets.retention.minutes, KIP-211) only for groups
// without members: an offset goes once the group has been empty for the
// retention and the offset itself is older than the retention. Groups that
// exist only through their offsets (after a restart, or standalone
// commits) count as empty since the coordinator started.
//
// Not yet: the KIP-848 consumer protocol (ConsumerGroupHeartbeat),
// transactional offset commits, per-request offset retention (OffsetCommit
// v2-v4 RetentionTimeMillis is ignored), and the five-minute join timeout
// for new members.
//
// LOCKING: groupCoordinator.mu guards the group map and the per-group
// write chains; each group's mu guards that group. A goroutine holding a
// group's mu never takes groupCoordinator.mu; the reverse order is allowed.
// Replies are sent with the group's mu held: sending only encodes and
// publishes the response frame, it never blocks.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetStore is where committed offsets are durable: the metadata
// store's Raft state machine.
type offsetStore interface {
	// CommitOffsets stores offsets for group in one write.
	CommitOffsets(ctx context.Context, group string, offsets map[metadata.TopicPartition]metadata.CommittedOffset) error
	// GroupOffsets returns group's committed offsets (nil if none).
	GroupOffsets(group string) map[metadata.TopicPartition]metadata.CommittedOffset
	// GroupsWithOffsets lists every group holding an offset.
	GroupsWithOffsets() []string
	// DeleteGroupOffsets drops the offsets of parts, or all of group's
	// offsets when parts is nil.
	DeleteGroupOffsets(ctx context.Context, group string, parts []metadata.TopicPartition) error
	// ExpireGroupOffsets drops group's offsets committed before
	// committedBefore (unix ms) and reports how many went.
	ExpireGroupOffsets(ctx context.Context, group string, committedBefore int64) (int, error)
}

// groupClock is the coordinator's time: the wall clock in the broker, a
// manual one in tests.
type groupClock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) groupTimer
}

type groupTimer interface{ Stop() bool }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) AfterFunc(d time.Duration, f func()) groupTimer {
	return time.AfterFunc(d, f)
}

// groupConfig tunes the coordinator.
type groupConfig struct {
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members (group.initial.rebalance.delay.ms).
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout
	// members may ask for (group.min/max.session.timeout.ms).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is how long an empty group keeps its offsets
	// (offsets.retention.minutes).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often expired offsets are looked for
	// (offsets.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	// MaxMetadataBytes bounds a committed offset's metadata string
	// (offset.metadata.max.bytes).
	MaxMetadataBytes int
	// WriteTimeout bounds one offset write to the metadata store.
	WriteTimeout time.Duration
}

func defaultGroupConfig() groupConfig {
	return groupConfig{
		InitialRebalanceDelay:  3 * time.Second,
		MinSessionTimeout:      6 * time.Second,
		MaxSessionTimeout:      30 * time.Minute,
		OffsetsRetention:       7 * 24 * time.Hour,
		RetentionCheckInterval: time.Minute,
		MaxMetadataBytes:       metadata.MaxOffsetMetadataBytes,
		WriteTimeout:           30 * time.Second,
	}
}

func (c groupConfig) validate() error {
	switch {
	case c.InitialRebalanceDelay < 0:
		return fmt.Errorf("group initial rebalance delay %v: must be >= 0", c.InitialRebalanceDelay)
	case c.MinSessionTimeout <= 0 || c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("group session timeouts [%v, %v]: need 0 < min <= max", c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.OffsetsRetention <= 0:
		return fmt.Errorf("offsets retention %v: must be > 0", c.OffsetsRetention)
	case c.RetentionCheckInterval <= 0:
		return fmt.Errorf("offsets retention check interval %v: must be > 0", c.RetentionCheckInterval)
	case c.MaxMetadataBytes < 0:
		return fmt.Errorf("offset metadata max bytes %d: must be >= 0", c.MaxMetadataBytes)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("offset write timeout %v: must be > 0", c.WriteTimeout)
	}
	return nil
}

// groupState is a group's place in the rebalance protocol.
type groupState int8

const (
	groupEmpty groupState = iota
	groupPreparingRebalance
	groupCompletingRebalance
	groupStable
	groupDead
)

// String is the state's name in DescribeGroups and ListGroups.
func (s groupState) String() string {
	switch s {
	case groupEmpty:
		return "Empty"
	case groupPreparingRebalance:
		return "PreparingRebalance"
	case groupCompletingRebalance:
		return "CompletingRebalance"
	case groupStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// clientInfo is who sent a request, for DescribeGroups.
type clientInfo struct {
	id   string
	host string
}

// groupCoordinator owns every group.
type groupCoordinator struct {
	cfg   groupConfig
	store offsetStore
	// partitions reports the partition count of a topic, 0 if it does
	// not exist.
	partitions func(topic string) int32
	clock      groupClock
	log        *slog.Logger
	started    time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	groups map[string]*group
	// tails is, per group, the completion channel of the last offset write
	// queued for it; writes of one group run one after another in arrival
	// order so that a later commit is never overwritten by an earlier one.
	tails map[string]chan struct{}
}

func newGroupCoordinator(cfg groupConfig, store offsetStore, partitions func(string) int32, clock groupClock, logger *slog.Logger) (*groupCoordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = wallClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &groupCoordinator{
		cfg:        cfg,
		store:      store,
		partitions: partitions,
		clock:      clock,
		log:        logger,
		started:    clock.Now(),
		ctx:        ctx,
		cancel:     cancel,
		groups:     make(map[string]*group),
		tails:      make(map[string]chan struct{}),
	}, nil
}

// start runs the offset expiry loop until close.
func (c *groupCoordinator) start() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.RetentionCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				c.expireOffsets()
			}
		}
	}()
}

// close stops the coordinator, as Kafka unloads the groups it stops
// coordinating: every group turns Dead (later requests get
// COORDINATOR_NOT_AVAILABLE and look for the coordinator again), JoinGroup
// and SyncGroup requests waiting on a rebalance are answered NOT_COORDINATOR
// at once, timers stop, and the queued offset writes finish (their context
// is cancelled). Server.Close calls it before it waits for connections, so
// that shutdown never waits for a rebalance step. Calls after the first do
// nothing.
func (c *groupCoordinator) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	c.cancel()
	for _, g := range groups {
		g.mu.Lock()
		g.unload()
		g.mu.Unlock()
	}
	c.wg.Wait()
}

// unload answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR,
// stops the timers and marks the group Dead.
func (g *group) unload() {
	for _, id := range g.memberIDs() {
		m := g.members[id]
		if m.join != nil {
			m.join(joinError(kerr.NotCoordinator.Code, m.id))
			m.join = nil
		}
		if m.sync != nil {
			m.sync(syncError(kerr.NotCoordinator.Code))
			m.sync = nil
		}
	}
	g.stopTimers()
	g.state = groupDead
}

// get returns the live group named id, or nil.
func (c *groupCoordinator) get(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[id]
}

// getOrCreate returns the group named id, creating it Empty. Once the
// coordinator is closed it returns a Dead group that is not kept.
func (c *groupCoordinator) getOrCreate(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[id]
	if g == nil && c.closed {
		return &group{c: c, id: id, state: groupDead}
	}
	if g == nil {
		g = &group{
			c:          c,
			id:         id,
			members:    make(map[string]*groupMember),
			static:     make(map[string]string),
			pending:    make(map[string]uint64),
			pendingSyn: make(map[string]bool),
			emptySince: c.clock.Now(),
		}
		c.groups[id] = g
	}
	return g
}

// serialize runs fn after every write queued earlier for group. Once the
// coordinator is closed fn runs at once on the caller's goroutine (its
// context is cancelled, so it fails fast).
func (c *groupCoordinator) serialize(group string, fn func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		fn()
		return
	}
	prev := c.tails[group]
	done := make(chan struct{})
	c.tails[group] = done
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		if prev != nil {
			<-prev
		}
		fn()
		close(done)
		c.mu.Lock()
		if c.tails[group] == done {
			delete(c.tails, group)
		}
		c.mu.Unlock()
	}()
}

// newMemberID is prefix-<random uuid>, as Kafka forms member ids.
func newMemberID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

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
