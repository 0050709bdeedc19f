package metadata

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Store is a node of the metadata quorum: raft plus the state machine.
// Writes are proposed through raft and return once applied on this node;
// reads come from this node's state machine. All methods are safe for
// concurrent use.
//
// On a follower, writes fail with ErrNotLeader and reads may lag the leader
// by the replication delay.
type Store struct {
	cfg     Config
	log     *slog.Logger
	fsm     *fsm
	raft    *raft.Raft
	logs    *BoltStore
	trans   raft.Transport
	localID raft.ServerID

	observations chan raft.Observation
	observer     *raft.Observer
	stop         chan struct{} // closed by Close
	wg           sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	// The cluster (cluster.go): the controller RPC client, the broker
	// sessions the leader tracks.
	rpc      *rpcClient
	sessions sessionTracker
	ready    chan struct{} // closed once raft runs: RPCs wait for it

	onPropose atomic.Pointer[func(time.Duration)] // see SetProposeObserver
}

// Open starts this node's raft and state machine in cfg.Dir. With
// cfg.Bootstrap and no existing state it bootstraps a single-voter cluster.
// When this node is the only voter it waits (at most cfg.StartTimeout) to
// become leader and apply the whole log, and makes sure the cluster id
// exists, so reads are current when Open returns.
func Open(cfg Config) (*Store, error) {
	return open(cfg, nil)
}

// open is Open with an optional ready-made transport (tests connect
// in-memory transports of several nodes).
func open(cfg Config, trans raft.Transport) (_ *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "metadata", "broker", cfg.NodeID)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metadata dir: %w", err)
	}
	s := &Store{
		cfg:          cfg,
		log:          log,
		fsm:          newFSM(log),
		localID:      raft.ServerID(strconv.Itoa(int(cfg.NodeID))),
		observations: make(chan raft.Observation, 64),
		stop:         make(chan struct{}),
		ready:        make(chan struct{}),
	}
	defer func() {
		if err != nil {
			s.release()
		}
	}()

	if s.logs, err = OpenBoltStore(filepath.Join(cfg.Dir, "raft.db")); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, newRaftLogger(cfg.Logger, "raft-snapshots"))
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if trans == nil {
		if trans, err = s.newTransport(cfg); err != nil {
			return nil, err
		}
	}
	s.trans = trans
	s.rpc = newRPCClient()
	if cfg.TLS != nil {
		s.rpc.tls = cfg.TLS.Client
	}

	rc := raft.DefaultConfig()
	rc.LocalID = s.localID
	rc.Logger = newRaftLogger(cfg.Logger, "raft")
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	if rc.CommitTimeout > cfg.HeartbeatTimeout/2 {
		rc.CommitTimeout = cfg.HeartbeatTimeout / 2
	}
	// BatchApplyCh stays off. Raft's leader loop already writes every
	// Apply waiting when it comes round in one log write (it drains
	// applyCh before dispatching), and concurrent proposals each block in
	// Apply until taken, so they share writes without a buffer: with 8 or
	// 32 concurrent proposers the buffer gave no more entries per write
	// and no steady latency gain (BenchmarkStoreConcurrentCommits,
	// docs/BENCHMARKS.md), while raft's doc warns it "breaks the timeout
	// guarantee on Apply". The uploader's commits are batched by
	// CommitObjects instead.
	rc.BatchApplyCh = cfg.batchApplyCh

	exists, err := raft.HasExistingState(s.logs, s.logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("check raft state: %w", err)
	}
	if len(cfg.Controllers) > 0 && cfg.isController(cfg.NodeID) && !exists {
		var boot raft.Configuration
		for _, p := range cfg.Controllers {
			boot.Servers = append(boot.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(strconv.Itoa(int(p.ID))), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(rc, s.logs, s.logs, snaps, trans, boot); err != nil {
			return nil, fmt.Errorf("bootstrap metadata quorum: %w", err)
		}
		log.Info("bootstrapped metadata quorum", "controllers", len(cfg.Controllers))
	}
	if cfg.Bootstrap && len(cfg.Controllers) == 0 {
		if !exists {
			boot := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: s.localID, Address: trans.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, s.logs, s.logs, snaps, trans, boot); err != nil {
				return nil, fmt.Errorf("bootstrap metadata cluster: %w", err)
			}
			log.Info("bootstrapped single-voter metadata cluster", "addr", trans.LocalAddr())
		}
	}

	if s.raft, err = raft.NewRaft(rc, s.fsm, s.logs, s.logs, snaps, trans); err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	s.observer = raft.NewObserver(s.observations, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(s.observer)
	close(s.ready)
	s.wg.Add(1)
	go s.watchLeadership()
	if cfg.SessionTimeout > 0 {
		s.wg.Add(1)
		go s.enforceSessions()
	}

	switch {
	case len(cfg.Controllers) > 0:
		if err := s.awaitCluster(exists); err != nil {
			return nil, err
		}
	case s.soleVoter():
		if err := s.awaitReady(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newTransport returns raft's transport: in memory without RaftAddr, else
// TCP on RaftAddr, shared with the controller RPC (rpc.go).
func (s *Store) newTransport(cfg Config) (raft.Transport, error) {
	if cfg.RaftAddr == "" {
		_, t := raft.NewInmemTransport(raft.ServerAddress("inmem:" + strconv.Itoa(int(cfg.NodeID))))
		return t, nil
	}
	var advertise net.Addr
	if cfg.RaftAdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.RaftAdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("resolve raft advertise address: %w", err)
		}
		advertise = a
	}
	ln, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("start raft transport on %s: %w", cfg.RaftAddr, err)
	}
	if advertise == nil {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("raft address %s binds every interface: set an advertised raft address", cfg.RaftAddr)
		}
	}
	var clientTLS *tls.Config
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS.Server)
		clientTLS = cfg.TLS.Client
	}
	layer := newMuxLayer(ln, advertise, s.serveRPC, clientTLS)
	return raft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, newRaftLogger(cfg.Logger, "raft-net")), nil
}

// soleVoter reports whether the raft configuration has this node as its
// only voter.
func (s *Store) soleVoter() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters := 0
	self := false
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			voters++
			self = self || srv.ID == s.localID
		}
	}
	return voters == 1 && self
}

// awaitReady waits for leadership, applies the whole log (barrier) and
// creates the cluster id if it does not exist yet.
func (s *Store) awaitReady() error {
	deadline := time.Now().Add(s.cfg.StartTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.raft.State() != raft.Leader {
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for metadata leadership: not leader after %v", s.cfg.StartTimeout)
		}
		<-tick.C
	}
	if err := s.raft.Barrier(time.Until(deadline)).Error(); err != nil {
		return fmt.Errorf("catch up metadata log: %w", err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return s.ensureClusterID(ctx)
}

// watchLeadership wakes Changed watchers on leader changes and, on the
// leader, creates the cluster id if a multi-node bootstrap left none.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.observations:
			s.fsm.notify()
			if s.raft.State() != raft.Leader {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
			if err := s.ensureClusterID(ctx); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Warn("create cluster id", "err", err)
			}
			cancel()
		}
	}
}

func (s *Store) ensureClusterID(ctx context.Context) error {
	if s.ClusterID() != "" {
		return nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("generate cluster id: %w", err)
	}
	res, err := s.propose(ctx, initClusterCmd{ClusterID: base64.RawURLEncoding.EncodeToString(raw[:])})
	if err != nil {
		return fmt.Errorf("create cluster id: %w", err)
	}
	s.log.Info("metadata cluster id", "cluster_id", res.clusterID)
	return nil
}

// Close stops raft and closes the log store. It is idempotent; writes
// after Close fail with ErrClosed, reads return the last state.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.release() })
	return s.closeErr
}

// release tears down whatever open got to build.
func (s *Store) release() error {
	var errs []error
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	if s.raft != nil {
		if s.observer != nil {
			s.raft.DeregisterObserver(s.observer)
		}
		s.wg.Wait()
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("shut down raft: %w", err))
		}
	}
	if s.rpc != nil {
		s.rpc.Close()
	}
	if c, ok := s.trans.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft transport: %w", err))
		}
	}
	if s.logs != nil {
		if err := s.logs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// propose replicates c and waits until it is applied on this node,
// ctx is done, or the Store closes. A ctx that ends after the proposal
// was sent leaves its outcome unknown: it may still be applied.
//
// On a node that is not the raft leader, a node of a cluster (Controllers
// set) forwards c to the leader and waits until its own state machine has
// applied the entry; any other node fails with ErrNotLeader.
func (s *Store) propose(ctx context.Context, c command) (applyResult, error) {
	select {
	case <-s.stop:
		return applyResult{}, ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), err)
	}
	if s.raft.State() != raft.Leader {
		if len(s.cfg.Controllers) > 0 {
			return s.forward(ctx, c)
		}
		return applyResult{}, fmt.Errorf("%w: propose %s: leader is %d", ErrNotLeader, c.commandType(), s.ControllerID())
	}
	_, res, err := s.applyLocal(ctx, c)
	return res, err
}

// applyLocal proposes c on this node, which must be the leader, and
// returns the raft index it was applied at (0 if it was not) and its
// outcome.
func (s *Store) applyLocal(ctx context.Context, c command) (uint64, applyResult, error) {
	if s.raft.State() != raft.Leader {
		return 0, applyResult{}, fmt.Errorf("%w: propose %s", ErrNotLeader, c.commandType())
	}
	b, err := encodeCommand(c)
	if err != nil {
		return 0, applyResult{}, err
	}
	timeout := s.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	proposed := time.Now()
	fut := s.raft.Apply(b, timeout)
	done := make(chan error, 1)
	go func() {
		err := fut.Error()
		if f := s.onPropose.Load(); f != nil && err == nil {
			(*f)(time.Since(proposed))
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return 0, applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), ctx.Err())
	case <-s.stop:
		return 0, applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), ErrClosed)
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return 0, applyResult{}, fmt.Errorf("%w: propose %s: %v", ErrNotLeader, c.commandType(), err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return 0, applyResult{}, fmt.Errorf("%w: propose %s: leadership lost, outcome unknown", ErrNotLeader, c.commandType())
	case errors.Is(err, raft.ErrRaftShutdown):
		return 0, applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), ErrClosed)
	default:
		return 0, applyResult{}, fmt.Errorf("propose %s: %w", c.commandType(), err)
	}
	res, ok := fut.Response().(applyResult)
	if !ok {
		return 0, applyResult{}, fmt.Errorf("propose %s: unexpected apply result %T", c.commandType(), fut.Response())
	}
	return fut.Index(), res, res.err
}

// RegisterBroker adds a broker or replaces the registration with its id,
// and returns the registration: a new incarnation, live. Partitions
// without a leader get one (see leadership.go).
func (s *Store) RegisterBroker(ctx context.Context, b Broker) (Broker, error) {
	if err := validateBroker(b); err != nil {
		return Broker{}, err
	}
	res, err := s.propose(ctx, registerBrokerCmd{Broker: b})
	return res.broker, err
}

// CreateTopic creates a topic with a fresh random TopicID. Every partition
// starts with leader = the lowest registered broker id (this node's id if
// none is registered) and leader epoch 0. partitions must be 1..
// MaxPartitionsPerTopic; the broker resolves Kafka's -1 (server default)
// before calling. configs are explicit overrides and are validated.
func (s *Store) CreateTopic(ctx context.Context, name string, partitions int32, configs map[string]string) (Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return Topic{}, err
	}
	if err := validatePartitionCount(partitions); err != nil {
		return Topic{}, err
	}
	if err := validateTopicConfigs(configs); err != nil {
		return Topic{}, err
	}
	if _, ok := s.Topic(name); ok {
		return Topic{}, fmt.Errorf("%w: %q", ErrTopicExists, name)
	}
	id, err := s.newTopicID()
	if err != nil {
		return Topic{}, err
	}
	res, err := s.propose(ctx, createTopicCmd{Name: name, ID: id, Partitions: partitions, Configs: configs, DefaultLeader: s.cfg.NodeID})
	return res.topic, err
}

// newTopicID draws random ids until one is non-zero and unused here.
func (s *Store) newTopicID() (TopicID, error) {
	for {
		var id TopicID
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("generate topic id: %w", err)
		}
		if _, used := s.TopicByID(id); !id.IsZero() && !used {
			return id, nil
		}
	}
}

// DeleteTopic removes a topic and returns it as it was. Its extents leave
// the catalog (objects left unreferenced become garbage, dated by this
// node's clock) and every group's committed offsets for it are deleted.
func (s *Store) DeleteTopic(ctx context.Context, name string) (Topic, error) {
	if _, ok := s.Topic(name); !ok {
		return Topic{}, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	res, err := s.propose(ctx, deleteTopicCmd{Name: name, Now: time.Now().UnixMilli()})
	return res.topic, err
}

// CreatePartitions grows a topic to newTotal partitions; the new ones get
// the same leader choice as CreateTopic. Shrinking or keeping the count is
// ErrInvalidPartitions, as in Kafka.
func (s *Store) CreatePartitions(ctx context.Context, name string, newTotal int32) (Topic, error) {
	t, ok := s.Topic(name)
	if !ok {
		return Topic{}, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if err := validateNewPartitionTotal(t, newTotal); err != nil {
		return Topic{}, err
	}
	res, err := s.propose(ctx, createPartitionsCmd{Name: name, NewTotal: newTotal, DefaultLeader: s.cfg.NodeID})
	return res.topic, err
}

// AlterTopicConfigs applies IncrementalAlterConfigs ops to a topic's
// overrides. With validateOnly it checks them against the current state and
// changes nothing.
func (s *Store) AlterTopicConfigs(ctx context.Context, name string, ops []ConfigOp, validateOnly bool) error {
	t, ok := s.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if _, err := applyConfigOps(t.Configs, ops); err != nil {
		return fmt.Errorf("alter configs of %q: %w", name, err)
	}
	if validateOnly {
		return nil
	}
	_, err := s.propose(ctx, alterTopicConfigsCmd{Name: name, Ops: ops})
	return err
}

// AllocateProducerIDs reserves n consecutive producer ids (1..
// MaxProducerIDBlock) and returns the first. Ids start at 0, increase
// monotonically and are never handed out twice, across restarts and
// leader changes.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if n < 1 || n > MaxProducerIDBlock {
		return 0, fmt.Errorf("%w: producer id count %d outside [1, %d]", ErrInvalidRequest, n, MaxProducerIDBlock)
	}
	res, err := s.propose(ctx, allocateProducerIDsCmd{Count: n})
	if err != nil {
		return 0, err
	}
	return res.producerID, nil
}

// Snapshot asks raft to snapshot the state machine now and truncate the log.
func (s *Store) Snapshot() error {
	err := s.raft.Snapshot().Error()
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("snapshot metadata: %w", err)
	}
	return nil
}

// AddVoter adds a node to the quorum as a voter. Only the leader can.
func (s *Store) AddVoter(ctx context.Context, nodeID int32, addr string) error {
	return s.changeMembership(ctx, "add voter", func(timeout time.Duration) raft.IndexFuture {
		return s.raft.AddVoter(raft.ServerID(strconv.Itoa(int(nodeID))), raft.ServerAddress(addr), 0, timeout)
	})
}

// RemoveServer removes a node from the quorum. Only the leader can.
func (s *Store) RemoveServer(ctx context.Context, nodeID int32) error {
	return s.changeMembership(ctx, "remove server", func(timeout time.Duration) raft.IndexFuture {
		return s.raft.RemoveServer(raft.ServerID(strconv.Itoa(int(nodeID))), 0, timeout)
	})
}

func (s *Store) changeMembership(ctx context.Context, what string, do func(time.Duration) raft.IndexFuture) error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	timeout := s.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	err := do(timeout).Error()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %s", ErrNotLeader, what)
	case errors.Is(err, raft.ErrLeadershipLost):
		// The change may or may not have been committed; each change
		// is safe to repeat, so the caller retries with the next leader
		// (a joining broker asks again).
		return fmt.Errorf("%w: %s: leadership lost, outcome unknown", ErrNotLeader, what)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Topic returns a copy of the named topic.
func (s *Store) Topic(name string) (Topic, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	t, ok := s.fsm.st.topics[name]
	if !ok {
		return Topic{}, false
	}
	return t.Clone(), true
}

// TopicByID returns a copy of the topic with that id.
func (s *Store) TopicByID(id TopicID) (Topic, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	name, ok := s.fsm.st.topicIDs[id]
	if !ok {
		return Topic{}, false
	}
	return s.fsm.st.topics[name].Clone(), true
}

// Topics returns copies of all topics sorted by name.
func (s *Store) Topics() []Topic {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.sortedTopics()
}

// Brokers returns all registered brokers sorted by id.
func (s *Store) Brokers() []Broker {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.sortedBrokers()
}

// ClusterID returns the cluster id (22 characters of base64url), created
// once when the cluster first elects a leader; "" before that.
func (s *Store) ClusterID() string {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.clusterID
}

// ControllerID returns the broker id of the current raft leader, or -1
// when there is none.
func (s *Store) ControllerID() int32 {
	_, id := s.raft.LeaderWithID()
	n, err := strconv.ParseInt(string(id), 10, 32)
	if id == "" || err != nil {
		return -1
	}
	return int32(n)
}

// IsLeader reports whether this node is the raft leader and may write.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Changed returns a channel that is closed after the next applied state
// change (or snapshot restore, or leadership change). Watchers re-read
// state and call Changed again for the next one; TopicChangesSince tells
// them which topics to re-read.
func (s *Store) Changed() <-chan struct{} {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.changed
}

// TopicChangesSince returns the ids of the topics whose metadata (the
// Topic: partitions, leadership, configs; or its existence) changed after
// topic generation gen, each once, and the current generation to pass
// next time. With all set the caller must re-read every topic instead:
// gen is 0 (nothing seen yet), older than the bounded journal reaches, or
// a snapshot was restored since. Catalog commits, truncations and offset
// commits are not topic changes, so the common answer is nothing, in O(1).
//
// Generations are local to this Store and not replicated. An id may name a
// topic deleted since: TopicByID then reports false.
func (s *Store) TopicChangesSince(gen uint64) (changed []TopicID, now uint64, all bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.topicChanges.since(gen)
}
