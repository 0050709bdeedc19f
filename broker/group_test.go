package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// manualClock is a groupClock that moves only when told to.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) groupTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d, firing due timers in time order, each at
// its own instant.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *manualTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.fired = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// memOffsets is an offsetStore in memory. gate, when set, holds every
// CommitOffsets until it is closed.
type memOffsets struct {
	mu      sync.Mutex
	groups  map[string]map[metadata.TopicPartition]metadata.CommittedOffset
	gate    chan struct{}
	failErr error
	writes  int
}

func newMemOffsets() *memOffsets {
	return &memOffsets{groups: map[string]map[metadata.TopicPartition]metadata.CommittedOffset{}}
}

func (m *memOffsets) CommitOffsets(ctx context.Context, group string, offsets map[metadata.TopicPartition]metadata.CommittedOffset) error {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failErr != nil {
		return m.failErr
	}
	m.writes++
	g := m.groups[group]
	if g == nil {
		g = map[metadata.TopicPartition]metadata.CommittedOffset{}
		m.groups[group] = g
	}
	for tp, o := range offsets {
		g[tp] = o
	}
	return nil
}

func (m *memOffsets) GroupOffsets(group string) map[metadata.TopicPartition]metadata.CommittedOffset {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.groups[group]) == 0 {
		return nil
	}
	out := map[metadata.TopicPartition]metadata.CommittedOffset{}
	for tp, o := range m.groups[group] {
		out[tp] = o
	}
	return out
}

func (m *memOffsets) GroupsWithOffsets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for g, o := range m.groups {
		if len(o) > 0 {
			out = append(out, g)
		}
	}
	return out
}

func (m *memOffsets) DeleteGroupOffsets(ctx context.Context, group string, parts []metadata.TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if parts == nil {
		delete(m.groups, group)
		return nil
	}
	for _, tp := range parts {
		delete(m.groups[group], tp)
	}
	return nil
}

func (m *memOffsets) ExpireGroupOffsets(ctx context.Context, group string, committedBefore int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	n := 0
	for tp, o := range m.groups[group] {
		if o.CommitTime < committedBefore {
			delete(m.groups[group], tp)
			n++
		}
	}
	return n, nil
}

type groupFixture struct {
	t     testing.TB
	c     *groupCoordinator
	clock *manualClock
	store *memOffsets
}

// newGroupFixture is a coordinator over a manual clock and memory offsets
// where topic "t" has 12 partitions and "u" has 3.
func newGroupFixture(t testing.TB, mutate func(*groupConfig)) *groupFixture {
	t.Helper()
	cfg := defaultGroupConfig()
	cfg.InitialRebalanceDelay = 0
	if mutate != nil {
		mutate(&cfg)
	}
	clock := newManualClock()
	store := newMemOffsets()
	parts := func(topic string) int32 {
		switch topic {
		case "t":
			return 12
		case "u":
			return 3
		}
		return 0
	}
	c, err := newGroupCoordinator(cfg, store, parts, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return &groupFixture{t: t, c: c, clock: clock, store: store}
}

func subscription(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

type joinOpt func(*kmsg.JoinGroupRequest)

func withInstance(id string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = &id }
}

func withVersion(v int16) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }

func withProtocols(names ...string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) {
		r.Protocols = nil
		for _, n := range names {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = n
			p.Metadata = subscription("t")
			r.Protocols = append(r.Protocols, p)
		}
	}
}

func (f *groupFixture) join(memberID string, opts ...joinOpt) chan *kmsg.JoinGroupResponse {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 7
	req.Group = "g"
	req.MemberID = memberID
	req.SessionTimeoutMillis = 10_000
	req.RebalanceTimeoutMillis = 20_000
	req.ProtocolType = "consumer"
	withProtocols("range")(req)
	for _, o := range opts {
		o(req)
	}
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	f.c.join(req, clientInfo{id: "client", host: "/127.0.0.1"}, func(r *kmsg.JoinGroupResponse) { ch <- r })
	return ch
}

func (f *groupFixture) sync(memberID string, gen int32, assign map[string]string) chan *kmsg.SyncGroupResponse {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = "g"
	req.MemberID = memberID
	req.Generation = gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID = id
		ga.MemberAssignment = []byte(a)
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	f.c.sync(req, func(r *kmsg.SyncGroupResponse) { ch <- r })
	return ch
}

func (f *groupFixture) heartbeat(memberID string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = "g"
	req.MemberID = memberID
	req.Generation = gen
	return f.c.heartbeat(req)
}

func (f *groupFixture) commit(memberID string, gen int32, offset int64) int16 {
	f.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group = "g"
	req.MemberID = memberID
	req.Generation = gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition = 0
	rp.Offset = offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ch := make(chan *kmsg.OffsetCommitResponse, 1)
	f.c.commitOffsets(req, func(r *kmsg.OffsetCommitResponse) { ch <- r })
	resp := wait(f.t, ch)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (f *groupFixture) state() groupState {
	g := f.c.get("g")
	if g == nil {
		return groupDead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// now takes a response that must already have been sent.
func now[T any](t testing.TB, ch chan T) T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	default:
		t.Fatal("no response was sent")
		panic("unreachable")
	}
}

// wait takes a response sent from another goroutine.
func wait[T any](t testing.TB, ch chan T) T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no response within 10s")
		panic("unreachable")
	}
}

func notYet[T any](t testing.TB, ch chan T) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected response %+v", r)
	default:
	}
}

func code(t testing.TB, want, got int16) {
	t.Helper()
	if want != got {
		t.Fatalf("error code %v, want %v", kerr.ErrorForCode(got), kerr.ErrorForCode(want))
	}
}

// joinOne brings a single dynamic member into a Stable group and returns
// its id and generation.
func (f *groupFixture) joinOne() (string, int32) {
	t := f.t
	t.Helper()
	r := now(t, f.join(""))
	code(t, kerr.MemberIDRequired.Code, r.ErrorCode)
	id := r.MemberID
	r = now(t, f.join(id))
	code(t, 0, r.ErrorCode)
	s := now(t, f.sync(id, r.Generation, map[string]string{id: "a1"}))
	code(t, 0, s.ErrorCode)
	return id, r.Generation
}

func TestGroupJoinSyncHeartbeatLeave(t *testing.T) {
	f := newGroupFixture(t, nil)

	// KIP-394: the first join only hands out an id.
	r := now(t, f.join(""))
	code(t, kerr.MemberIDRequired.Code, r.ErrorCode)
	if r.MemberID == "" {
		t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	if f.state() != groupEmpty {
		t.Fatalf("state %v after MEMBER_ID_REQUIRED, want Empty", f.state())
	}
	a := r.MemberID
	r = now(t, f.join(a))
	code(t, 0, r.ErrorCode)
	if r.Generation != 1 || r.LeaderID != a || len(r.Members) != 1 || *r.Protocol != "range" {
		t.Fatalf("first join: gen %d leader %q members %d protocol %q", r.Generation, r.LeaderID, len(r.Members), *r.Protocol)
	}
	if f.state() != groupCompletingRebalance {
		t.Fatalf("state %v, want CompletingRebalance", f.state())
	}
	code(t, kerr.RebalanceInProgress.Code, f.commit(a, 1, 5))
	s := now(t, f.sync(a, 1, map[string]string{a: "all"}))
	code(t, 0, s.ErrorCode)
	if string(s.MemberAssignment) != "all" || f.state() != groupStable {
		t.Fatalf("sync: assignment %q state %v", s.MemberAssignment, f.state())
	}
	code(t, 0, f.heartbeat(a, 1))
	code(t, 0, f.commit(a, 1, 5))

	// A second member (JoinGroup v3: no id handshake) starts a rebalance.
	bJoin := f.join("", withVersion(3))
	notYet(t, bJoin)
	code(t, kerr.RebalanceInProgress.Code, f.heartbeat(a, 1))
	// Commits of the current generation still go through while preparing.
	code(t, 0, f.commit(a, 1, 6))
	aJoin := f.join(a)
	ra, rb := now(t, aJoin), now(t, bJoin)
	code(t, 0, ra.ErrorCode)
	code(t, 0, rb.ErrorCode)
	b := rb.MemberID
	if ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != a || rb.LeaderID != a {
		t.Fatalf("second generation: %d/%d leaders %q/%q", ra.Generation, rb.Generation, ra.LeaderID, rb.LeaderID)
	}
	if len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader got %d members, follower %d; want 2 and 0", len(ra.Members), len(rb.Members))
	}
	// The follower's sync waits for the leader's.
	bSync := f.sync(b, 2, nil)
	notYet(t, bSync)
	code(t, kerr.IllegalGeneration.Code, now(t, f.sync(a, 1, nil)).ErrorCode)
	sa := now(t, f.sync(a, 2, map[string]string{a: "A", b: "B"}))
	sb := now(t, bSync)
	if string(sa.MemberAssignment) != "A" || string(sb.MemberAssignment) != "B" {
		t.Fatalf("assignments %q %q", sa.MemberAssignment, sb.MemberAssignment)
	}
	code(t, kerr.IllegalGeneration.Code, f.heartbeat(a, 1))
	code(t, kerr.IllegalGeneration.Code, f.commit(a, 1, 7))
	code(t, kerr.UnknownMemberID.Code, f.heartbeat("nobody", 2))

	// b leaves: a is told to rejoin and ends up alone in generation 3.
	top, codes := f.c.leave("g", []leaveMember{{memberID: b}, {memberID: "nobody"}})
	code(t, 0, top)
	code(t, 0, codes[0])
	code(t, kerr.UnknownMemberID.Code, codes[1])
	code(t, kerr.RebalanceInProgress.Code, f.heartbeat(a, 2))
	ra = now(t, f.join(a))
	if ra.Generation != 3 || len(ra.Members) != 1 {
		t.Fatalf("after leave: gen %d members %d", ra.Generation, len(ra.Members))
	}
	// a leaves too: the group is Empty and takes standalone commits.
	now(t, f.sync(a, 3, map[string]string{a: "all"}))
	f.c.leave("g", []leaveMember{{memberID: a}})
	if f.state() != groupEmpty {
		t.Fatalf("state %v after everyone left, want Empty", f.state())
	}
	code(t, 0, f.commit("", -1, 9))
	if got := f.store.GroupOffsets("g")[metadata.TopicPartition{Topic: "t"}].Offset; got != 9 {
		t.Fatalf("committed offset %d, want 9", got)
	}
}

func TestGroupSessionTimeoutRemovesMember(t *testing.T) {
	f := newGroupFixture(t, nil)
	a, _ := f.joinOne()
	bJoin := f.join("", withVersion(3))
	ra := now(t, f.join(a))
	rb := now(t, bJoin)
	b := rb.MemberID
	now(t, f.sync(a, ra.Generation, map[string]string{a: "A", b: "B"}))
	now(t, f.sync(b, rb.Generation, nil))

	// a heartbeats every 3s, b never does: b's 10s session runs out.
	for i := 0; i < 3; i++ {
		f.clock.Advance(3 * time.Second)
		code(t, 0, f.heartbeat(a, ra.Generation))
	}
	f.clock.Advance(3 * time.Second)
	code(t, kerr.RebalanceInProgress.Code, f.heartbeat(a, ra.Generation))
	code(t, kerr.UnknownMemberID.Code, f.heartbeat(b, rb.Generation))
	r := now(t, f.join(a))
	if len(r.Members) != 1 || r.Generation != ra.Generation+1 {
		t.Fatalf("after expiry: gen %d members %d", r.Generation, len(r.Members))
	}
}

func TestGroupRebalanceTimeoutDropsSilentMembers(t *testing.T) {
	f := newGroupFixture(t, nil)
	a, _ := f.joinOne()
	bJoin := f.join("", withVersion(3))
	ra := now(t, f.join(a))
	b := now(t, bJoin).MemberID
	now(t, f.sync(a, ra.Generation, map[string]string{a: "A", b: "B"}))
	now(t, f.sync(b, ra.Generation, nil))

	// a rejoins with new protocols; b keeps heartbeating but never rejoins.
	aJoin := f.join(a, withProtocols("roundrobin", "range"))
	notYet(t, aJoin)
	for i := 0; i < 6; i++ {
		f.clock.Advance(3 * time.Second)
		notYet(t, aJoin)
		code(t, kerr.RebalanceInProgress.Code, f.heartbeat(b, ra.Generation))
	}
	f.clock.Advance(3 * time.Second) // 21s > the 20s rebalance timeout
	r := now(t, aJoin)
	code(t, 0, r.ErrorCode)
	if len(r.Members) != 1 || *r.Protocol != "roundrobin" {
		t.Fatalf("after rebalance timeout: members %d protocol %q", len(r.Members), *r.Protocol)
	}
	code(t, kerr.UnknownMemberID.Code, f.heartbeat(b, ra.Generation))
}

func TestGroupFollowerThatNeverSyncsIsDropped(t *testing.T) {
	f := newGroupFixture(t, nil)
	a, _ := f.joinOne()
	bJoin := f.join("", withVersion(3))
	ra := now(t, f.join(a))
	b := now(t, bJoin).MemberID
	now(t, f.sync(a, ra.Generation, map[string]string{a: "A", b: "B"}))
	for i := 0; i < 7; i++ {
		f.clock.Advance(3 * time.Second)
		f.heartbeat(a, ra.Generation)
		f.heartbeat(b, ra.Generation)
	}
	code(t, kerr.UnknownMemberID.Code, f.heartbeat(b, ra.Generation))
}

func TestGroupStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	for _, v := range []int16{7, 9} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			f := newGroupFixture(t, nil)
			aJoin := f.join("", withInstance("ia"), withVersion(v))
			ra := now(t, aJoin) // static members skip MEMBER_ID_REQUIRED
			code(t, 0, ra.ErrorCode)
			a := ra.MemberID
			now(t, f.sync(a, ra.Generation, map[string]string{a: "solo"}))
			bJoin := f.join("", withInstance("ib"), withVersion(v))
			ra = now(t, f.join(a, withInstance("ia"), withVersion(v)))
			rb := now(t, bJoin)
			b := rb.MemberID
			gen := ra.Generation
			now(t, f.sync(a, gen, map[string]string{a: "A", b: "B"}))
			now(t, f.sync(b, gen, nil))

			// b restarts: same instance, no member id.
			rb2 := now(t, f.join("", withInstance("ib"), withVersion(v)))
			code(t, 0, rb2.ErrorCode)
			if rb2.MemberID == b || rb2.Generation != gen || len(rb2.Members) != 0 || rb2.LeaderID != a {
				t.Fatalf("static follower rejoin: member %q gen %d (want %d) members %d leader %q", rb2.MemberID, rb2.Generation, gen, len(rb2.Members), rb2.LeaderID)
			}
			if f.state() != groupStable {
				t.Fatalf("state %v after static rejoin, want Stable", f.state())
			}
			code(t, 0, f.heartbeat(a, gen))
			sb := now(t, f.sync(rb2.MemberID, gen, nil))
			if string(sb.MemberAssignment) != "B" {
				t.Fatalf("static member's assignment after rejoin %q, want B", sb.MemberAssignment)
			}
			// The old incarnation is fenced.
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = "g", b, gen
			ib := "ib"
			hb.InstanceID = &ib
			code(t, kerr.FencedInstanceID.Code, f.c.heartbeat(hb))

			// The leader restarts.
			ra2 := now(t, f.join("", withInstance("ia"), withVersion(v)))
			code(t, 0, ra2.ErrorCode)
			if ra2.Generation != gen || f.state() != groupStable {
				t.Fatalf("static leader rejoin: gen %d state %v", ra2.Generation, f.state())
			}
			if v >= 9 {
				if !ra2.SkipAssignment || ra2.LeaderID != ra2.MemberID || len(ra2.Members) != 2 {
					t.Fatalf("v9 leader rejoin: skip %v leader %q members %d", ra2.SkipAssignment, ra2.LeaderID, len(ra2.Members))
				}
			} else if ra2.LeaderID != a || len(ra2.Members) != 0 {
				t.Fatalf("v%d leader rejoin: leader %q (want old id %q) members %d", v, ra2.LeaderID, a, len(ra2.Members))
			}
			sa := now(t, f.sync(ra2.MemberID, gen, nil))
			if string(sa.MemberAssignment) != "A" {
				t.Fatalf("leader's assignment after rejoin %q, want A", sa.MemberAssignment)
			}
		})
	}
}

func TestGroupStaticLeaveByInstance(t *testing.T) {
	f := newGroupFixture(t, nil)
	ra := now(t, f.join("", withInstance("ia")))
	now(t, f.sync(ra.MemberID, ra.Generation, nil))
	ia := "ia"
	_, codes := f.c.leave("g", []leaveMember{{memberID: "stale", instanceID: &ia}})
	code(t, kerr.FencedInstanceID.Code, codes[0])
	_, codes = f.c.leave("g", []leaveMember{{instanceID: &ia}})
	code(t, 0, codes[0])
	if f.state() != groupEmpty {
		t.Fatalf("state %v, want Empty", f.state())
	}
}

func TestGroupJoinValidation(t *testing.T) {
	f := newGroupFixture(t, nil)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = "g"
	req.SessionTimeoutMillis = 1000
	req.ProtocolType = "consumer"
	withProtocols("range")(req)
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	f.c.join(req, clientInfo{}, func(r *kmsg.JoinGroupResponse) { ch <- r })
	code(t, kerr.InvalidSessionTimeout.Code, now(t, ch).ErrorCode)

	req.SessionTimeoutMillis = 10_000
	req.Group = ""
	f.c.join(req, clientInfo{}, func(r *kmsg.JoinGroupResponse) { ch <- r })
	code(t, kerr.InvalidGroupID.Code, now(t, ch).ErrorCode)

	a, _ := f.joinOne()
	_ = a
	code(t, kerr.InconsistentGroupProtocol.Code, now(t, f.join("", withVersion(3), withProtocols("cooperative-sticky"))).ErrorCode)
	code(t, kerr.UnknownMemberID.Code, now(t, f.join("ghost")).ErrorCode)
}

func TestGroupCommitChecks(t *testing.T) {
	f := newGroupFixture(t, nil)
	// Unknown group with a generation: a commit from a past life.
	code(t, kerr.IllegalGeneration.Code, f.commit("m", 3, 1))
	a, gen := f.joinOne()
	code(t, kerr.UnknownMemberID.Code, f.commit("", -1, 1))
	code(t, kerr.UnknownMemberID.Code, f.commit("ghost", gen, 1))
	code(t, kerr.IllegalGeneration.Code, f.commit(a, gen+1, 1))
	code(t, 0, f.commit(a, gen, 1))

	// v0 has no generation or member: it is not checked against the group.
	v0 := kmsg.NewPtrOffsetCommitRequest()
	v0.Version, v0.Group = 0, "g"
	v0.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 4, Offset: 3, LeaderEpoch: -1}}}}
	v0ch := make(chan *kmsg.OffsetCommitResponse, 1)
	f.c.commitOffsets(v0, func(r *kmsg.OffsetCommitResponse) { v0ch <- r })
	code(t, 0, wait(t, v0ch).Topics[0].Partitions[0].ErrorCode)

	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group, req.MemberID, req.Generation = "g", a, gen
	big := string(make([]byte, 4097))
	ok := "checkpoint"
	for _, tc := range []struct {
		topic string
		part  int32
		md    *string
	}{{"t", 1, &ok}, {"t", 12, nil}, {"nope", 0, nil}, {"t", 2, &big}, {"t", -1, nil}} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = tc.topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata, rp.LeaderEpoch = tc.part, 42, tc.md, 7
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	ch := make(chan *kmsg.OffsetCommitResponse, 1)
	f.c.commitOffsets(req, func(r *kmsg.OffsetCommitResponse) { ch <- r })
	resp := wait(t, ch)
	want := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.OffsetMetadataTooLarge.Code, kerr.UnknownTopicOrPartition.Code}
	for i, w := range want {
		code(t, w, resp.Topics[i].Partitions[0].ErrorCode)
	}
	got := f.c.fetchOffsets("g", []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1, 2}}}, false)
	p1, p2 := got[0].Partitions[0], got[0].Partitions[1]
	if p1.Offset != 42 || *p1.Metadata != "checkpoint" || p1.LeaderEpoch != 7 {
		t.Fatalf("partition 1: offset %d metadata %q epoch %d", p1.Offset, *p1.Metadata, p1.LeaderEpoch)
	}
	if p2.Offset != -1 || p2.LeaderEpoch != -1 {
		t.Fatalf("uncommitted partition 2: offset %d epoch %d, want -1 -1", p2.Offset, p2.LeaderEpoch)
	}
	all := f.c.fetchOffsets("g", nil, true)
	if len(all) != 1 || len(all[0].Partitions) != 3 {
		t.Fatalf("all offsets: %+v", all)
	}
}

func TestGroupCommitsApplyInArrivalOrder(t *testing.T) {
	f := newGroupFixture(t, nil)
	gate := make(chan struct{})
	f.store.mu.Lock()
	f.store.gate = gate
	f.store.mu.Unlock()
	var chs []chan *kmsg.OffsetCommitResponse
	for _, off := range []int64{10, 20, 30} {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "g", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = off
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ch := make(chan *kmsg.OffsetCommitResponse, 1)
		f.c.commitOffsets(req, func(r *kmsg.OffsetCommitResponse) { ch <- r })
		chs = append(chs, ch)
	}
	for _, ch := range chs {
		notYet(t, ch)
	}
	close(gate)
	for _, ch := range chs {
		code(t, 0, wait(t, ch).Topics[0].Partitions[0].ErrorCode)
	}
	if got := f.store.GroupOffsets("g")[metadata.TopicPartition{Topic: "t"}].Offset; got != 30 {
		t.Fatalf("offset after three queued commits %d, want 30", got)
	}
}

func TestGroupCommitStoreFailureIsRetriable(t *testing.T) {
	f := newGroupFixture(t, nil)
	f.store.failErr = errors.New("raft: leadership lost")
	code(t, kerr.CoordinatorNotAvailable.Code, f.commit("", -1, 1))
	f.store.failErr = fmt.Errorf("commit offsets: %w", metadata.ErrUnknownTopic)
	code(t, kerr.UnknownTopicOrPartition.Code, f.commit("", -1, 1))
}

func TestGroupOffsetsExpireOnlyWhenEmptyForRetention(t *testing.T) {
	f := newGroupFixture(t, func(c *groupConfig) { c.OffsetsRetention = time.Hour })
	a, gen := f.joinOne()
	code(t, 0, f.commit(a, gen, 5))
	// Members keep heartbeating for two retentions: nothing expires.
	for i := 0; i < 2*60*6; i++ {
		f.clock.Advance(5 * time.Second)
		f.heartbeat(a, gen)
	}
	f.c.expireOffsets()
	if len(f.store.GroupOffsets("g")) != 1 {
		t.Fatal("offsets of a group with members expired")
	}
	f.c.leave("g", []leaveMember{{memberID: a}})
	f.clock.Advance(59 * time.Minute)
	f.c.expireOffsets()
	if len(f.store.GroupOffsets("g")) != 1 {
		t.Fatal("offsets expired before the group was empty for the retention")
	}
	f.clock.Advance(2 * time.Minute)
	f.c.expireOffsets()
	if len(f.store.GroupOffsets("g")) != 0 {
		t.Fatal("offsets of a group empty for longer than the retention did not expire")
	}
	if f.c.get("g") != nil {
		t.Fatal("an empty group without offsets was not forgotten")
	}

	// A standalone commit: its own age counts too.
	f.clock.Advance(time.Minute)
	code(t, 0, f.commit("", -1, 7))
	f.clock.Advance(30 * time.Minute)
	f.c.expireOffsets()
	if len(f.store.GroupOffsets("g")) != 1 {
		t.Fatal("a fresh standalone commit expired")
	}
	f.clock.Advance(31 * time.Minute)
	f.c.expireOffsets()
	if len(f.store.GroupOffsets("g")) != 0 {
		t.Fatal("a standalone commit older than the retention did not expire")
	}
}

func TestGroupOffsetsOnlyGroupAfterRestart(t *testing.T) {
	f := newGroupFixture(t, nil)
	f.store.CommitOffsets(context.Background(), "old", map[metadata.TopicPartition]metadata.CommittedOffset{{Topic: "t", Partition: 3}: {Offset: 11}})
	d := f.c.describe("old", false)
	if d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("offsets-only group described as %q with %d members", d.State, len(d.Members))
	}
	if d := f.c.describe("missing", false); d.State != "Dead" {
		t.Fatalf("unknown group described as %q, want Dead", d.State)
	}
	a, _ := f.joinOne()
	lg := f.c.list(nil, nil)
	if len(lg) != 2 || lg[0].Group != "g" || lg[0].GroupState != "Stable" || lg[1].Group != "old" || lg[1].GroupState != "Empty" {
		t.Fatalf("list: %+v", lg)
	}
	if lg := f.c.list([]string{"empty"}, nil); len(lg) != 1 || lg[0].Group != "old" {
		t.Fatalf("list filtered to Empty: %+v", lg)
	}
	if lg := f.c.list(nil, []string{"consumer"}); len(lg) != 0 {
		t.Fatalf("list filtered to the consumer type: %+v", lg)
	}
	d = f.c.describe("g", true)
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 || d.Members[0].MemberID != a ||
		string(d.Members[0].MemberAssignment) != "a1" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe: %+v", d)
	}
}

func TestGroupDeleteGroupsAndOffsets(t *testing.T) {
	f := newGroupFixture(t, nil)
	a, gen := f.joinOne()
	code(t, 0, f.commit(a, gen, 5))
	f.store.CommitOffsets(context.Background(), "g", map[metadata.TopicPartition]metadata.CommittedOffset{{Topic: "u", Partition: 1}: {Offset: 3}})

	del := func(names ...string) []int16 {
		ch := make(chan []int16, 1)
		f.c.deleteGroups(names, func(c []int16) { ch <- c })
		return wait(t, ch)
	}
	offDel := func(topic string, part int32) (int16, int16) {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = "g"
		req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: part}}}}
		ch := make(chan *kmsg.OffsetDeleteResponse, 1)
		f.c.deleteOffsets(req, func(r *kmsg.OffsetDeleteResponse) { ch <- r })
		r := wait(t, ch)
		if r.ErrorCode != 0 {
			return r.ErrorCode, 0
		}
		return 0, r.Topics[0].Partitions[0].ErrorCode
	}
	codes := del("g", "nope", "")
	code(t, kerr.NonEmptyGroup.Code, codes[0])
	code(t, kerr.GroupIDNotFound.Code, codes[1])
	code(t, kerr.InvalidGroupID.Code, codes[2])

	// The member subscribes to "t": its offsets stay, "u"'s may go.
	_, pc := offDel("t", 0)
	code(t, kerr.GroupSubscribedToTopic.Code, pc)
	_, pc = offDel("u", 1)
	code(t, 0, pc)
	_, pc = offDel("zzz", 0)
	code(t, kerr.UnknownTopicOrPartition.Code, pc)
	if got := f.store.GroupOffsets("g"); len(got) != 1 {
		t.Fatalf("offsets after OffsetDelete: %v", got)
	}

	f.c.leave("g", []leaveMember{{memberID: a}})
	codes = del("g")
	code(t, 0, codes[0])
	if f.store.GroupOffsets("g") != nil || f.c.get("g") != nil {
		t.Fatal("DeleteGroups left the group or its offsets")
	}
	top, _ := offDel("t", 0)
	code(t, kerr.GroupIDNotFound.Code, top)
}

func TestParseSubscription(t *testing.T) {
	for v := int16(0); v <= 3; v++ {
		m := kmsg.NewConsumerMemberMetadata()
		m.Version = v
		m.Topics = []string{"a", "b"}
		m.UserData = []byte("x")
		got, err := parseSubscription(m.AppendTo(nil))
		if err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Fatalf("v%d: %v %v", v, got, err)
		}
	}
	if _, err := parseSubscription([]byte{0, 0, 0, 0, 0, 9}); err == nil {
		t.Fatal("truncated subscription parsed")
	}
}

func FuzzParseSubscription(f *testing.F) {
	f.Add(subscription("a", "b"))
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, err := parseSubscription(b)
		if err != nil {
			return
		}
		// What parses must survive a round trip.
		m := kmsg.NewConsumerMemberMetadata()
		if err := m.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		again, err := parseSubscription(m.AppendTo(nil))
		if err != nil || len(again) != len(topics) {
			t.Fatalf("round trip: %v %v", again, err)
		}
	})
}

func BenchmarkGroupHeartbeat(b *testing.B) {
	f := newGroupFixture(b, nil)
	a, gen := f.joinOne()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c := f.heartbeat(a, gen); c != 0 {
			b.Fatal(kerr.ErrorForCode(c))
		}
	}
}

func BenchmarkGroupCommit(b *testing.B) {
	f := newGroupFixture(b, nil)
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = "g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	for p := int32(0); p < 12; p++ {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 100
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ch := make(chan *kmsg.OffsetCommitResponse, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.c.commitOffsets(req, func(r *kmsg.OffsetCommitResponse) { ch <- r })
		<-ch
	}
}
