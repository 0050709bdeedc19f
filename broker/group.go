package broker

// Consumer groups: the coordinator of Kafka's classic group protocol.
//
// A group is coordinated by the leader of its coordinator slot
// (coordinator_slots.go); a single node coordinates every group. The code
// is split by responsibility: this file (states, configuration, the
// coordinator's lifecycle), group_members.go (members and timers),
// group_rebalance.go (the rebalance), group_requests.go (the requests),
// group_offsets.go (committed offsets). A group's membership lives in
// memory only; its committed offsets
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
	"sync"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
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
