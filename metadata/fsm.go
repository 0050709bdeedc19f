package metadata

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/shalelog/shale/acl"
)

// MaxPartitionsPerTopic bounds a topic's partition count.
const MaxPartitionsPerTopic = 100_000

// MaxProducerIDBlock bounds one AllocateProducerIDs request.
const MaxProducerIDBlock = 1 << 20

// state is the whole replicated metadata. It is only changed by fsm.Apply
// and fsm.Restore; everything else reads it under fsm.mu.
type state struct {
	clusterID      string
	nextProducerID int64
	brokers        map[int32]Broker
	topics         map[string]Topic // by name; values are never shared with callers
	topicIDs       map[TopicID]string

	// The extent catalog. logs[id][i] is partition i of the topic with
	// that id; every topic has an entry with one partitionLog per
	// partition. objects are the referenced objects, garbage the
	// unreferenced ones (key -> since, ms); a key is in at most one.
	logs    map[TopicID][]partitionLog
	objects map[string]objectInfo
	garbage map[string]int64

	// groups holds consumer groups' committed offsets; a group with none
	// has no entry.
	groups map[string]groupOffsets

	// slots are the coordinator slots (slots.go); empty until a broker
	// registers. The array is shared with clones: apply replaces it.
	slots []Partition

	// txns are the transactional ids' states (txn.go); values share no
	// backing arrays with callers or clones (apply replaces slices).
	txns map[string]Txn

	// acls are the ACL bindings (acls.go), in creation order; apply
	// replaces the slice, never changes it in place, so it is shared
	// with clones and readers.
	acls []acl.Binding
	// quotas are the client quotas (quotas.go); inner maps are replaced,
	// never written in place.
	quotas map[QuotaEntity]map[string]float64
	// scram holds the SCRAM users' credentials (scram.go).
	scram scramUsers
}

func newState() *state {
	return &state{
		brokers:  make(map[int32]Broker),
		topics:   make(map[string]Topic),
		topicIDs: make(map[TopicID]string),
		logs:     make(map[TopicID][]partitionLog),
		objects:  make(map[string]objectInfo),
		garbage:  make(map[string]int64),
		groups:   make(map[string]groupOffsets),
	}
}

// applyResult is what fsm.Apply returns; the proposer receives it from
// raft's ApplyFuture.Response.
type applyResult struct {
	topic       Topic
	producerID  int64
	clusterID   string
	count       int // offsets deleted by DeleteGroupOffsets and ExpireGroupOffsets; moves taken by MoveLeaders
	broker      Broker
	commit      CommitResult
	commits     []CommitResult // CommitObjects: each commit's, in order
	txn         Txn
	aclsDeleted [][]acl.Binding // DeleteACLs: each filter's matches
	errs        []error         // per operation: AlterScramCredentials
	err         error
}

// fsm is Shale's raft state machine.
//
// Apply is deterministic: its outcome depends only on the current state and
// the command bytes (no clock, no randomness, no map order), so every node
// that applies the same log holds the same state. Rejections (unknown
// topic, bad config, ...) are applied as no-ops and returned as the result,
// identically on every node.
//
// LOCKING: mu guards st, changed and topicChanges. Apply, Restore and Snapshot run on
// raft's FSM goroutine and take mu for writing (Snapshot only to copy);
// readers take it for reading and copy what they return. Persist works on
// its own copy, so it runs concurrently with Apply without locks.
type fsm struct {
	log *slog.Logger

	mu           sync.RWMutex
	st           *state
	changed      chan struct{}
	topicChanges topicJournal // see topicchanges.go

	// applied is the raft index of the last entry applied (or restored);
	// appliedCh is closed whenever it moves. results keeps the outcome of
	// the last len(results) entries, so a node that forwarded a command
	// to the leader reads the outcome of its own, identical apply.
	applied   uint64
	appliedCh chan struct{}
	results   [resultRing]indexedResult

	// aclVersion moves whenever the ACL bindings may have changed (an
	// ACL command applied, a snapshot restored); read without mu.
	aclVersion atomic.Uint64
}

// resultRing is how many recent apply outcomes an fsm remembers.
const resultRing = 4096

type indexedResult struct {
	index uint64
	res   applyResult
}

func newFSM(log *slog.Logger) *fsm {
	return &fsm{log: log, st: newState(), changed: make(chan struct{}), appliedCh: make(chan struct{}), topicChanges: newTopicJournal()}
}

// markApplied records index as applied with res. Callers hold mu.
func (f *fsm) markApplied(index uint64, res applyResult) {
	f.results[index%resultRing] = indexedResult{index: index, res: res}
	if index > f.applied {
		f.applied = index
	}
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
}

// resultAt returns the outcome of the entry at index once it is applied;
// ok is false when the index is applied but its outcome is forgotten (too
// old, or covered by a restored snapshot).
func (f *fsm) resultAt(index uint64) (res applyResult, applied, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.applied < index {
		return applyResult{}, false, false
	}
	r := f.results[index%resultRing]
	if r.index != index {
		return applyResult{}, true, false
	}
	return r.res, true, true
}

// appliedChan returns a channel closed when the applied index next moves.
func (f *fsm) appliedChan() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.appliedCh
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one committed raft log entry.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		f.mu.Lock()
		f.markApplied(l.Index, applyResult{})
		f.mu.Unlock()
		return applyResult{}
	}
	c, err := decodeCommand(l.Data)
	if err != nil {
		f.log.Error("metadata: skip raft log entry", "index", l.Index, "term", l.Term, "err", err)
		res := applyResult{err: fmt.Errorf("apply raft log %d: %w", l.Index, err)}
		f.mu.Lock()
		f.markApplied(l.Index, res)
		f.mu.Unlock()
		return res
	}
	f.mu.Lock()
	if rc, ok := c.(registerBrokerCmd); ok {
		rc.index = l.Index // the incarnation of the registration
		c = rc
	}
	res, changed := f.st.apply(c)
	if changed && (c.commandType() == cmdCreateACLs || c.commandType() == cmdDeleteACLs) {
		f.aclVersion.Add(1)
	}
	if changed {
		f.topicChanges.note(c, res)
		close(f.changed)
		f.changed = make(chan struct{})
	}
	f.markApplied(l.Index, res)
	f.mu.Unlock()
	return res
}

// notify wakes Changed watchers without a state change (leadership moved).
func (f *fsm) notify() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// apply changes st by one command. It reports whether st changed.
func (st *state) apply(c command) (applyResult, bool) {
	switch c := c.(type) {
	case initClusterCmd:
		if st.clusterID != "" {
			return applyResult{clusterID: st.clusterID}, false
		}
		if err := validateClusterID(c.ClusterID); err != nil {
			return applyResult{err: err}, false
		}
		st.clusterID = c.ClusterID
		return applyResult{clusterID: c.ClusterID}, true

	case registerBrokerCmd:
		if !c.v1 {
			return st.registerBroker(c)
		}
		if err := validateBroker(c.Broker); err != nil {
			return applyResult{err: err}, false
		}
		if old, ok := st.brokers[c.Broker.ID]; ok && old.Equal(c.Broker) {
			return applyResult{}, false
		}
		st.brokers[c.Broker.ID] = c.Broker
		return applyResult{}, true
	case fenceBrokerCmd:
		return st.fenceBroker(c)
	case drainBrokerCmd:
		return st.drainBroker(c)
	case unregisterBrokerCmd:
		return st.unregisterBroker(c)
	case moveLeadersCmd:
		return st.moveLeaders(c)
	case completeHandoverCmd:
		return st.completeHandover(c)

	case createTopicCmd:
		if err := ValidateTopicName(c.Name); err != nil {
			return applyResult{err: err}, false
		}
		if _, ok := st.topics[c.Name]; ok {
			return applyResult{err: fmt.Errorf("%w: %q", ErrTopicExists, c.Name)}, false
		}
		if c.ID.IsZero() {
			return applyResult{err: fmt.Errorf("%w: topic %q has the zero topic id", ErrInvalidRequest, c.Name)}, false
		}
		if other, ok := st.topicIDs[c.ID]; ok {
			return applyResult{err: fmt.Errorf("%w: topic id %s is already used by %q", ErrInvalidRequest, c.ID, other)}, false
		}
		if err := validatePartitionCount(c.Partitions); err != nil {
			return applyResult{err: err}, false
		}
		if err := validateTopicConfigs(c.Configs); err != nil {
			return applyResult{err: err}, false
		}
		t := Topic{Name: c.Name, ID: c.ID, Configs: make(map[string]string, len(c.Configs))}
		for k, v := range c.Configs {
			t.Configs[k] = v
		}
		t.Partitions = make([]Partition, c.Partitions)
		st.assignNew(t.Partitions, c.DefaultLeader, c.v1)
		st.topics[t.Name] = t
		st.topicIDs[t.ID] = t.Name
		st.logs[t.ID] = make([]partitionLog, c.Partitions)
		return applyResult{topic: t.Clone()}, true

	case deleteTopicCmd:
		t, ok := st.topics[c.Name]
		if !ok {
			return applyResult{err: fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)}, false
		}
		delete(st.topics, c.Name)
		delete(st.topicIDs, t.ID)
		st.dropTopicCatalog(t.ID, c.Now)
		st.dropTopicOffsets(t.Name)
		return applyResult{topic: t.Clone()}, true

	case createPartitionsCmd:
		t, ok := st.topics[c.Name]
		if !ok {
			return applyResult{err: fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)}, false
		}
		if err := validateNewPartitionTotal(t, c.NewTotal); err != nil {
			return applyResult{err: err}, false
		}
		t = t.Clone()
		have := len(t.Partitions)
		t.Partitions = append(t.Partitions, make([]Partition, int(c.NewTotal)-have)...)
		st.assignNew(t.Partitions[have:], c.DefaultLeader, c.v1)
		st.topics[t.Name] = t
		// A new slice: clones share the old one.
		logs := make([]partitionLog, c.NewTotal)
		copy(logs, st.logs[t.ID])
		st.logs[t.ID] = logs
		return applyResult{topic: t.Clone()}, true

	case alterTopicConfigsCmd:
		t, ok := st.topics[c.Name]
		if !ok {
			return applyResult{err: fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)}, false
		}
		next, err := applyConfigOps(t.Configs, c.Ops)
		if err != nil {
			return applyResult{err: fmt.Errorf("alter configs of %q: %w", c.Name, err)}, false
		}
		t = t.Clone()
		t.Configs = next
		st.topics[t.Name] = t
		return applyResult{topic: t.Clone()}, true

	case allocateProducerIDsCmd:
		if c.Count < 1 || c.Count > MaxProducerIDBlock {
			return applyResult{err: fmt.Errorf("%w: producer id count %d outside [1, %d]", ErrInvalidRequest, c.Count, MaxProducerIDBlock)}, false
		}
		if st.nextProducerID > math.MaxInt64-c.Count {
			return applyResult{err: fmt.Errorf("%w: producer ids exhausted at %d", ErrInvalidRequest, st.nextProducerID)}, false
		}
		first := st.nextProducerID
		st.nextProducerID += c.Count
		return applyResult{producerID: first}, true

	case alterScramCmd:
		return st.alterScram(c)
	case initTxnProducerCmd:
		return st.initTxnProducer(c)
	case addTxnPartitionsCmd:
		return st.addTxnPartitions(c)
	case txnOffsetsCmd:
		return st.txnOffsets(c)
	case endTxnPrepareCmd:
		return st.endTxnPrepare(c)
	case endTxnCompleteCmd:
		return st.endTxnComplete(c)

	case commitObjectCmd:
		return st.commitObject(c)
	case commitObjectsCmd:
		return st.commitObjects(c)
	case replaceExtentsCmd:
		return st.replaceExtents(c)
	case truncatePartitionCmd:
		return st.truncatePartition(c)
	case forgetObjectsCmd:
		return st.forgetObjects(c)
	case commitOffsetsCmd:
		return st.commitOffsets(c)
	case deleteGroupOffsetsCmd:
		return st.deleteGroupOffsets(c)
	case expireGroupOffsetsCmd:
		return st.expireGroupOffsets(c)
	case setPartitionLeaderCmd:
		return st.setPartitionLeader(c)
	case recordKeyCompactionCmd:
		return st.recordKeyCompaction(c)
	case createACLsCmd:
		return st.createACLs(c)
	case deleteACLsCmd:
		return st.deleteACLs(c)
	case setClientQuotasCmd:
		return st.setClientQuotas(c)
	}
	return applyResult{err: fmt.Errorf("%w: %T has no apply", ErrUnknownCommand, c)}, false
}

// assignNew gives new partitions their leaders: spread over the live
// brokers, least loaded first, or all fallback (the proposer's id) when no
// broker is live. A version-1 command gives them all the lowest registered
// broker id, as version 1 did.
func (st *state) assignNew(parts []Partition, fallback int32, v1 bool) {
	if v1 {
		leader := st.defaultLeader(fallback)
		for i := range parts {
			parts[i] = Partition{Leader: leader}
		}
		return
	}
	load := st.leaderLoad()
	for i := range parts {
		leader := pickLeader(load)
		if leader == NoLeader && len(st.brokers) == 0 {
			leader = fallback
		}
		parts[i] = Partition{Leader: leader}
	}
}

// defaultLeader is the leader version-1 commands gave new partitions: the
// lowest registered broker id, or fallback (the proposer's id) when none is
// registered.
func (st *state) defaultLeader(fallback int32) int32 {
	leader, found := int32(0), false
	for id := range st.brokers {
		if !found || id < leader {
			leader, found = id, true
		}
	}
	if !found {
		return fallback
	}
	return leader
}

func validatePartitionCount(n int32) error {
	if n < 1 || n > MaxPartitionsPerTopic {
		return fmt.Errorf("%w: %d partitions, want 1..%d", ErrInvalidPartitions, n, MaxPartitionsPerTopic)
	}
	return nil
}

func validateNewPartitionTotal(t Topic, newTotal int32) error {
	have := int32(len(t.Partitions))
	if newTotal < have {
		return fmt.Errorf("%w: topic %q has %d partitions, cannot shrink to %d", ErrInvalidPartitions, t.Name, have, newTotal)
	}
	if newTotal == have {
		return fmt.Errorf("%w: topic %q already has %d partitions", ErrInvalidPartitions, t.Name, have)
	}
	if newTotal > MaxPartitionsPerTopic {
		return fmt.Errorf("%w: %d partitions, the limit is %d", ErrInvalidPartitions, newTotal, MaxPartitionsPerTopic)
	}
	return nil
}

func validateBroker(b Broker) error {
	switch {
	case b.ID < 0:
		return fmt.Errorf("%w: broker id %d is negative", ErrInvalidRequest, b.ID)
	case b.Host == "":
		return fmt.Errorf("%w: broker %d has no host", ErrInvalidRequest, b.ID)
	case b.Port < 1 || b.Port > 65535:
		return fmt.Errorf("%w: broker %d port %d outside 1..65535", ErrInvalidRequest, b.ID, b.Port)
	}
	for i, e := range b.Listeners {
		switch {
		case e.Name == "":
			return fmt.Errorf("%w: broker %d listener %d has no name", ErrInvalidRequest, b.ID, i)
		case e.Host == "":
			return fmt.Errorf("%w: broker %d listener %s has no host", ErrInvalidRequest, b.ID, e.Name)
		case e.Port < 1 || e.Port > 65535:
			return fmt.Errorf("%w: broker %d listener %s port %d outside 1..65535", ErrInvalidRequest, b.ID, e.Name, e.Port)
		}
		for _, f := range b.Listeners[:i] {
			if f.Name == e.Name {
				return fmt.Errorf("%w: broker %d has two listeners named %s", ErrInvalidRequest, b.ID, e.Name)
			}
		}
	}
	return nil
}

// clusterIDLen is the length of Kafka's cluster id: 16 random bytes in
// base64url without padding.
const clusterIDLen = 22

func validateClusterID(id string) error {
	if len(id) != clusterIDLen {
		return fmt.Errorf("%w: cluster id %q is %d characters, want %d", ErrInvalidRequest, id, len(id), clusterIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: cluster id %q is not base64url", ErrInvalidRequest, id)
		}
	}
	return nil
}

// clone copies st for a snapshot. Everything is deep-copied except the
// extent arrays, which are shared copy-on-write (see partitionLog): the
// clone must only be read.
func (st *state) clone() *state {
	c := &state{
		clusterID:      st.clusterID,
		nextProducerID: st.nextProducerID,
		brokers:        make(map[int32]Broker, len(st.brokers)),
		topics:         make(map[string]Topic, len(st.topics)),
		topicIDs:       make(map[TopicID]string, len(st.topicIDs)),
		logs:           make(map[TopicID][]partitionLog, len(st.logs)),
		objects:        make(map[string]objectInfo, len(st.objects)),
		garbage:        make(map[string]int64, len(st.garbage)),
		groups:         make(map[string]groupOffsets, len(st.groups)),
		slots:          st.slots,
		txns:           maps.Clone(st.txns),
		acls:           st.acls,
		quotas:         cloneQuotas(st.quotas),
		scram:          maps.Clone(st.scram),
	}
	for id, parts := range st.logs {
		parts = slices.Clone(parts)
		for i := range parts {
			if parts[i].producers != nil {
				parts[i].producers = maps.Clone(parts[i].producers)
			}
			if parts[i].openTxns != nil {
				parts[i].openTxns = maps.Clone(parts[i].openTxns)
			}
		}
		c.logs[id] = parts
	}
	for k, o := range st.objects {
		c.objects[k] = o
	}
	for k, since := range st.garbage {
		c.garbage[k] = since
	}
	for g, offs := range st.groups {
		c.groups[g] = offs.clone()
	}
	for id, b := range st.brokers {
		c.brokers[id] = b
	}
	for name, t := range st.topics {
		c.topics[name] = t.Clone()
	}
	for id, name := range st.topicIDs {
		c.topicIDs[id] = name
	}
	return c
}

// sortedTopics returns copies of all topics, sorted by name.
func (st *state) sortedTopics() []Topic {
	out := make([]Topic, 0, len(st.topics))
	for _, t := range st.topics {
		out = append(out, t.Clone())
	}
	slices.SortFunc(out, func(a, b Topic) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// sortedBrokers returns all brokers sorted by id.
func (st *state) sortedBrokers() []Broker {
	out := make([]Broker, 0, len(st.brokers))
	for _, b := range st.brokers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Snapshot copies the state under the lock; the encoding happens in Persist.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{st: f.st.clone()}, nil
}

// Restore replaces the whole state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := readSnapshot(rc, "raft snapshot")
	if err != nil {
		return fmt.Errorf("restore metadata snapshot: %w", err)
	}
	f.mu.Lock()
	f.st = st
	f.aclVersion.Add(1)
	f.topicChanges.reset()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return nil
}

type fsmSnapshot struct {
	st *state
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.st); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist metadata snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("persist metadata snapshot: %w", err)
	}
	return nil
}

func (s *fsmSnapshot) Release() {}
