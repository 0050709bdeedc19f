package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Transactions
//
// A transactional id's state lives in the state machine, so that whichever
// broker leads the id's coordinator slot (CoordinatorSlot of the
// transactional id, the same slots as groups) finds it, and a coordinator
// failover in the middle of a commit finishes that commit. Its life, as in
// Kafka's TransactionCoordinator:
//
//	(none) --InitTxnProducer--> Empty --AddTxnPartitions--> Ongoing
//	Ongoing --EndTxnPrepare--> PrepareCommit | PrepareAbort
//	Prepare* --EndTxnComplete--> CompleteCommit | CompleteAbort
//	Complete*, Empty --AddTxnPartitions--> Ongoing (the next transaction)
//	Empty, Complete* --InitTxnProducer--> Empty, epoch + 1 (fences zombies)
//	Empty, Complete* --EndTxnPrepare(abort, bump)--> CompleteAbort, epoch + 1
//
// Between prepare and complete the coordinator writes the COMMIT or ABORT
// marker into every partition of the transaction and waits until each is
// committed to the catalog; EndTxnComplete then applies the transaction's
// pending group offsets (TxnOffsetCommit) in the same step, so offsets and
// data become visible together. A transaction Ongoing past its timeout is
// aborted by the coordinator with the producer's epoch bumped, so the
// timed-out producer is fenced.
//
// Bump per transaction (KIP-890 part 2, EndTxn v5+): EndTxnPrepare with
// Bump raises the producer epoch as the transaction ends, so the markers
// carry the new epoch and every partition refuses a late Produce of the
// ended transaction, and a late EndTxn cannot end the next one. The
// EndTxn's producer id and epoch are kept (EndedBy), so its retry by a
// client that missed the answer is recognised and answered with the new
// epoch. When the epoch would pass math.MaxInt16-1, the markers carry the
// old producer id at math.MaxInt16 and the id moves to a new producer id
// at epoch 0 as the transaction completes (NextProducerID).
//
// Every command checks the producer id and epoch it names against the
// state: an older epoch is ErrProducerFenced (PRODUCER_FENCED /
// INVALID_PRODUCER_EPOCH), another id ErrInvalidProducerIDMapping, a
// transaction in the middle of completing ErrConcurrentTransactions (the
// client retries), anything else out of order ErrInvalidTxnState.

// Transaction errors, mapped to Kafka's codes by the broker.
var (
	ErrInvalidTxnState          = errors.New("invalid transaction state")
	ErrConcurrentTransactions   = errors.New("concurrent transactions")
	ErrProducerFenced           = errors.New("producer fenced")
	ErrInvalidProducerIDMapping = errors.New("invalid producer id mapping")
	ErrTransactionalIDNotFound  = errors.New("transactional id not found")
)

// TxnStatus is where a transaction is in its life.
type TxnStatus int8

const (
	TxnEmpty TxnStatus = iota
	TxnOngoing
	TxnPrepareCommit
	TxnPrepareAbort
	TxnCompleteCommit
	TxnCompleteAbort
)

func (s TxnStatus) String() string {
	switch s {
	case TxnEmpty:
		return "Empty"
	case TxnOngoing:
		return "Ongoing"
	case TxnPrepareCommit:
		return "PrepareCommit"
	case TxnPrepareAbort:
		return "PrepareAbort"
	case TxnCompleteCommit:
		return "CompleteCommit"
	case TxnCompleteAbort:
		return "CompleteAbort"
	}
	return fmt.Sprintf("TxnStatus(%d)", int8(s))
}

// Preparing reports whether the transaction is between prepare and
// complete: its markers are being written.
func (s TxnStatus) Preparing() bool { return s == TxnPrepareCommit || s == TxnPrepareAbort }

// TxnOffset is a group offset committed inside a transaction, applied
// when the transaction commits.
type TxnOffset struct {
	Group     string
	Topic     string
	Partition int32
	CommittedOffset
}

// Txn is one transactional id's state.
type Txn struct {
	ID            string
	ProducerID    int64
	ProducerEpoch int16
	TimeoutMs     int32
	Status        TxnStatus
	Partitions    []TopicPartition // sorted
	Groups        []string         // sorted
	Offsets       []TxnOffset      // pending, sorted by group, topic, partition
	StartTime     int64            // ms, when the transaction became Ongoing
	UpdateTime    int64            // ms, the last change
	// NextProducerID is the producer id taken at epoch 0 when the ending
	// transaction completes (its epoch ran out); nil otherwise.
	NextProducerID *int64 `json:",omitempty"`
	// EndedBy is the producer id, epoch and outcome named by the request
	// that ended the last transaction with an epoch bump (EndTxn v5+, or
	// the coordinator's timeout abort); nil when none did or a newer step
	// followed. Never modified in place.
	EndedBy *EndedBy `json:",omitempty"`
}

// EndedBy identifies the request that ended a transaction with a bump.
type EndedBy struct {
	ProducerID int64
	Epoch      int16
	Commit     bool
}

func (t Txn) clone() Txn {
	if t.NextProducerID != nil {
		next := *t.NextProducerID
		t.NextProducerID = &next
	}
	t.Partitions = slices.Clone(t.Partitions)
	t.Groups = slices.Clone(t.Groups)
	t.Offsets = slices.Clone(t.Offsets)
	return t
}

// HasPartition reports whether tp was added to the transaction.
func (t Txn) HasPartition(tp TopicPartition) bool {
	_, ok := slices.BinarySearchFunc(t.Partitions, tp, compareTopicPartition)
	return ok
}

// HasGroup reports whether group was added to the transaction.
func (t Txn) HasGroup(group string) bool {
	_, ok := slices.BinarySearch(t.Groups, group)
	return ok
}

// MaxTxnTimeout is the largest transaction timeout accepted (Kafka's
// transaction.max.timeout.ms default, 15 minutes).
const MaxTxnTimeout = 15 * 60 * 1000

type initTxnProducerCmd struct {
	ID        string
	TimeoutMs int32
	// ExpectPID and ExpectEpoch, when ExpectPID >= 0, are the producer id
	// and epoch the client says it has (InitProducerId v3+, KIP-360): the
	// bump happens only if they are the current ones.
	ExpectPID   int64
	ExpectEpoch int16
	Now         int64
}

type addTxnPartitionsCmd struct {
	ID         string
	ProducerID int64
	Epoch      int16
	Partitions []TopicPartition
	Groups     []string
	Now        int64
}

type txnOffsetsCmd struct {
	ID         string
	ProducerID int64
	Epoch      int16
	Offsets    []TxnOffset
	Now        int64
}

type endTxnPrepareCmd struct {
	ID         string
	ProducerID int64
	Epoch      int16
	Commit     bool
	// Timeout marks the coordinator's abort of a transaction that ran
	// past its timeout: the epoch named must still be current and is
	// bumped, fencing the producer.
	Timeout bool
	// Bump is KIP-890's bump per transaction (EndTxn v5+): the epoch is
	// raised as the transaction ends, an abort with nothing ongoing is
	// accepted (and bumps), and a retry of the request is recognised.
	// Added in version 2 of the command.
	Bump bool `json:",omitempty"`
	Now  int64
}

type endTxnCompleteCmd struct {
	ID         string
	ProducerID int64
	Epoch      int16
	Now        int64
}

func (initTxnProducerCmd) commandType() commandType  { return cmdInitTxnProducer }
func (addTxnPartitionsCmd) commandType() commandType { return cmdAddTxnPartitions }
func (txnOffsetsCmd) commandType() commandType       { return cmdTxnOffsets }
func (endTxnPrepareCmd) commandType() commandType    { return cmdEndTxnPrepare }
func (endTxnCompleteCmd) commandType() commandType   { return cmdEndTxnComplete }

func validateTxnID(id string) error {
	if id == "" || len(id) > 32767 {
		return fmt.Errorf("%w: transactional id of %d bytes", ErrInvalidRequest, len(id))
	}
	return nil
}

// txnFor returns the transaction id names after checking that producer id
// and epoch are its current ones.
func (st *state) txnFor(id string, pid int64, epoch int16) (Txn, error) {
	t, ok := st.txns[id]
	switch {
	case !ok:
		return Txn{}, fmt.Errorf("%w: %q", ErrTransactionalIDNotFound, id)
	case t.ProducerID != pid:
		return Txn{}, fmt.Errorf("%w: transactional id %q has producer id %d, the request names %d", ErrInvalidProducerIDMapping, id, t.ProducerID, pid)
	case epoch < t.ProducerEpoch:
		return Txn{}, fmt.Errorf("%w: transactional id %q is at producer epoch %d, the request names %d", ErrProducerFenced, id, t.ProducerEpoch, epoch)
	case epoch > t.ProducerEpoch:
		return Txn{}, fmt.Errorf("%w: transactional id %q is at producer epoch %d, the request names %d", ErrInvalidTxnState, id, t.ProducerEpoch, epoch)
	}
	return t, nil
}

func (st *state) initTxnProducer(c initTxnProducerCmd) (applyResult, bool) {
	if err := validateTxnID(c.ID); err != nil {
		return applyResult{err: err}, false
	}
	if c.TimeoutMs <= 0 || c.TimeoutMs > MaxTxnTimeout {
		return applyResult{err: fmt.Errorf("%w: transaction timeout %d ms outside (0, %d]", ErrInvalidRequest, c.TimeoutMs, MaxTxnTimeout)}, false
	}
	t, ok := st.txns[c.ID]
	if !ok {
		if st.nextProducerID == math.MaxInt64 {
			return applyResult{err: fmt.Errorf("%w: producer ids exhausted", ErrInvalidRequest)}, false
		}
		t = Txn{ID: c.ID, ProducerID: st.nextProducerID, TimeoutMs: c.TimeoutMs, Status: TxnEmpty, UpdateTime: c.Now}
		st.nextProducerID++
		st.setTxn(t)
		return applyResult{txn: t.clone()}, true
	}
	switch {
	case t.Status == TxnOngoing:
		return applyResult{err: fmt.Errorf("%w: transactional id %q has an ongoing transaction; abort it first", ErrConcurrentTransactions, c.ID)}, false
	case t.Status.Preparing():
		return applyResult{err: fmt.Errorf("%w: transactional id %q is completing a transaction", ErrConcurrentTransactions, c.ID)}, false
	case c.ExpectPID >= 0 && (c.ExpectPID != t.ProducerID || c.ExpectEpoch != t.ProducerEpoch):
		return applyResult{err: fmt.Errorf("%w: transactional id %q is producer %d epoch %d, the request names %d epoch %d",
			ErrProducerFenced, c.ID, t.ProducerID, t.ProducerEpoch, c.ExpectPID, c.ExpectEpoch)}, false
	}
	t = t.clone()
	if t.ProducerEpoch >= math.MaxInt16-1 {
		if st.nextProducerID == math.MaxInt64 {
			return applyResult{err: fmt.Errorf("%w: producer ids exhausted", ErrInvalidRequest)}, false
		}
		t.ProducerID, t.ProducerEpoch = st.nextProducerID, 0
		st.nextProducerID++
	} else {
		t.ProducerEpoch++
	}
	t.TimeoutMs, t.Status, t.UpdateTime = c.TimeoutMs, TxnEmpty, c.Now
	t.Partitions, t.Groups, t.Offsets, t.EndedBy = nil, nil, nil, nil
	st.setTxn(t)
	return applyResult{txn: t.clone()}, true
}

func (st *state) addTxnPartitions(c addTxnPartitionsCmd) (applyResult, bool) {
	t, err := st.txnFor(c.ID, c.ProducerID, c.Epoch)
	if err != nil {
		return applyResult{err: err}, false
	}
	if t.Status.Preparing() {
		return applyResult{err: fmt.Errorf("%w: transactional id %q is completing a transaction", ErrConcurrentTransactions, c.ID)}, false
	}
	for _, tp := range c.Partitions {
		tt, ok := st.topics[tp.Topic]
		if !ok || tp.Partition < 0 || int(tp.Partition) >= len(tt.Partitions) {
			return applyResult{err: fmt.Errorf("%w: %s-%d", ErrUnknownTopic, tp.Topic, tp.Partition)}, false
		}
	}
	for _, g := range c.Groups {
		if err := validateGroupID(g); err != nil {
			return applyResult{err: err}, false
		}
	}
	t = t.clone()
	if t.Status != TxnOngoing {
		t.Status, t.StartTime = TxnOngoing, c.Now
		t.Partitions, t.Groups, t.Offsets, t.EndedBy = nil, nil, nil, nil
	}
	changed := false
	for _, tp := range c.Partitions {
		if i, ok := slices.BinarySearchFunc(t.Partitions, tp, compareTopicPartition); !ok {
			t.Partitions = slices.Insert(t.Partitions, i, tp)
			changed = true
		}
	}
	for _, g := range c.Groups {
		if i, ok := slices.BinarySearch(t.Groups, g); !ok {
			t.Groups = slices.Insert(t.Groups, i, g)
			changed = true
		}
	}
	if !changed && st.txns[c.ID].Status == TxnOngoing {
		return applyResult{txn: t}, false
	}
	t.UpdateTime = c.Now
	st.setTxn(t)
	return applyResult{txn: t.clone()}, true
}

func compareTxnOffset(a, b TxnOffset) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

func (st *state) txnOffsets(c txnOffsetsCmd) (applyResult, bool) {
	t, err := st.txnFor(c.ID, c.ProducerID, c.Epoch)
	if err != nil {
		return applyResult{err: err}, false
	}
	if t.Status != TxnOngoing {
		return applyResult{err: fmt.Errorf("%w: transactional id %q is %s, not Ongoing", ErrInvalidTxnState, c.ID, t.Status)}, false
	}
	for _, o := range c.Offsets {
		if !t.HasGroup(o.Group) {
			return applyResult{err: fmt.Errorf("%w: group %q was not added to transaction %q", ErrInvalidTxnState, o.Group, c.ID)}, false
		}
		if err := validateCommittedOffset(o.Group, TopicPartition{o.Topic, o.Partition}, o.CommittedOffset); err != nil {
			return applyResult{err: err}, false
		}
	}
	t = t.clone()
	for _, o := range c.Offsets {
		if i, ok := slices.BinarySearchFunc(t.Offsets, o, compareTxnOffset); ok {
			t.Offsets[i] = o
		} else {
			t.Offsets = slices.Insert(t.Offsets, i, o)
		}
	}
	t.UpdateTime = c.Now
	st.setTxn(t)
	return applyResult{txn: t.clone()}, true
}

func (st *state) endTxnPrepare(c endTxnPrepareCmd) (applyResult, bool) {
	if t, ok := st.txns[c.ID]; ok && c.Bump && t.EndedBy != nil &&
		*t.EndedBy == (EndedBy{ProducerID: c.ProducerID, Epoch: c.Epoch, Commit: c.Commit}) &&
		(t.Status.Preparing() || t.Status == TxnCompleteCommit || t.Status == TxnCompleteAbort) {
		return applyResult{txn: t.clone()}, false // a retry of the ending request
	}
	t, err := st.txnFor(c.ID, c.ProducerID, c.Epoch)
	if err != nil {
		return applyResult{err: err}, false
	}
	want := TxnPrepareAbort
	if c.Commit {
		want = TxnPrepareCommit
	}
	done := map[TxnStatus]TxnStatus{TxnPrepareCommit: TxnCompleteCommit, TxnPrepareAbort: TxnCompleteAbort}[want]
	idle := t.Status == TxnEmpty || t.Status == TxnCompleteCommit || t.Status == TxnCompleteAbort
	switch {
	case c.Bump && idle && !c.Commit && !c.Timeout:
		// Aborting with nothing ongoing: accepted, and the epoch is
		// bumped all the same (a produce may have failed after its
		// partition was added and before the client learnt of it).
		t = t.clone()
		if err := st.bumpEpoch(&t, c); err != nil {
			return applyResult{err: err}, false
		}
		if t.NextProducerID != nil {
			t.ProducerID, t.ProducerEpoch, t.NextProducerID = *t.NextProducerID, 0, nil
		}
		t.Status, t.UpdateTime = TxnCompleteAbort, c.Now
		t.Partitions, t.Groups, t.Offsets = nil, nil, nil
		st.setTxn(t)
		return applyResult{txn: t.clone()}, true
	case c.Bump && t.Status != TxnOngoing:
		return applyResult{err: fmt.Errorf("%w: transactional id %q is %s, cannot move to %s", ErrInvalidTxnState, c.ID, t.Status, want)}, false
	case t.Status == want || t.Status == done:
		return applyResult{txn: t}, false // a retry
	case t.Status == TxnEmpty && !c.Commit && !c.Timeout:
		// Aborting with nothing added (Kafka answers success).
		return applyResult{txn: t}, false
	case t.Status != TxnOngoing:
		return applyResult{err: fmt.Errorf("%w: transactional id %q is %s, cannot move to %s", ErrInvalidTxnState, c.ID, t.Status, want)}, false
	}
	t = t.clone()
	if c.Timeout || c.Bump {
		if err := st.bumpEpoch(&t, c); err != nil {
			return applyResult{err: err}, false
		}
	}
	t.Status, t.UpdateTime = want, c.Now
	st.setTxn(t)
	return applyResult{txn: t.clone()}, true
}

// bumpEpoch raises t's epoch for the ending request c and records c as
// the request that ended it. At the last epochs the epoch goes to
// math.MaxInt16 (the markers' epoch) and a new producer id is taken for
// when the transaction completes.
func (st *state) bumpEpoch(t *Txn, c endTxnPrepareCmd) error {
	switch {
	case t.ProducerEpoch < math.MaxInt16-1:
		t.ProducerEpoch++
	case t.ProducerEpoch == math.MaxInt16:
		return fmt.Errorf("%w: transactional id %q is at the last producer epoch", ErrInvalidTxnState, t.ID)
	default:
		if st.nextProducerID == math.MaxInt64 {
			return fmt.Errorf("%w: producer ids exhausted", ErrInvalidRequest)
		}
		next := st.nextProducerID
		st.nextProducerID++
		t.NextProducerID = &next
		t.ProducerEpoch = math.MaxInt16
	}
	t.EndedBy = &EndedBy{ProducerID: c.ProducerID, Epoch: c.Epoch, Commit: c.Commit && !c.Timeout}
	return nil
}

func (st *state) endTxnComplete(c endTxnCompleteCmd) (applyResult, bool) {
	t, err := st.txnFor(c.ID, c.ProducerID, c.Epoch)
	if err != nil {
		return applyResult{err: err}, false
	}
	switch t.Status {
	case TxnCompleteCommit, TxnCompleteAbort:
		return applyResult{txn: t}, false // a retry
	case TxnPrepareCommit, TxnPrepareAbort:
	default:
		return applyResult{err: fmt.Errorf("%w: transactional id %q is %s, not preparing", ErrInvalidTxnState, c.ID, t.Status)}, false
	}
	t = t.clone()
	if t.Status == TxnPrepareCommit {
		for _, o := range t.Offsets {
			if _, ok := st.topics[o.Topic]; !ok {
				continue // deleted meanwhile
			}
			g := st.groups[o.Group]
			if g == nil {
				g = make(groupOffsets)
				st.groups[o.Group] = g
			}
			parts := g[o.Topic]
			if parts == nil {
				parts = make(map[int32]CommittedOffset)
				g[o.Topic] = parts
			}
			parts[o.Partition] = o.CommittedOffset
		}
		t.Status = TxnCompleteCommit
	} else {
		t.Status = TxnCompleteAbort
	}
	if t.NextProducerID != nil {
		t.ProducerID, t.ProducerEpoch, t.NextProducerID = *t.NextProducerID, 0, nil
	}
	t.Partitions, t.Groups, t.Offsets, t.UpdateTime = nil, nil, nil, c.Now
	st.setTxn(t)
	return applyResult{txn: t.clone()}, true
}

func (st *state) setTxn(t Txn) {
	if st.txns == nil {
		st.txns = make(map[string]Txn)
	}
	st.txns[t.ID] = t
}

// Transaction returns the state of transactional id id.
func (s *Store) Transaction(id string) (Txn, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	t, ok := s.fsm.st.txns[id]
	return t.clone(), ok
}

// Transactions returns every transactional id's state, sorted by id.
func (s *Store) Transactions() []Txn {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.sortedTxns()
}

func (st *state) sortedTxns() []Txn {
	out := make([]Txn, 0, len(st.txns))
	for _, t := range st.txns {
		out = append(out, t.clone())
	}
	slices.SortFunc(out, func(a, b Txn) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// InitTxnProducer gives transactional id id a producer id (the first
// time) or bumps its epoch, fencing older producers of it.
func (s *Store) InitTxnProducer(ctx context.Context, id string, timeoutMs int32, expectPID int64, expectEpoch int16, now int64) (Txn, error) {
	res, err := s.propose(ctx, initTxnProducerCmd{ID: id, TimeoutMs: timeoutMs, ExpectPID: expectPID, ExpectEpoch: expectEpoch, Now: now})
	return res.txn, err
}

// AddTxnPartitions adds partitions and groups to id's transaction,
// starting it if none is ongoing.
func (s *Store) AddTxnPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition, groups []string, now int64) (Txn, error) {
	res, err := s.propose(ctx, addTxnPartitionsCmd{ID: id, ProducerID: pid, Epoch: epoch, Partitions: parts, Groups: groups, Now: now})
	return res.txn, err
}

// TxnOffsets records group offsets to apply when id's transaction commits.
func (s *Store) TxnOffsets(ctx context.Context, id string, pid int64, epoch int16, offsets []TxnOffset, now int64) error {
	_, err := s.propose(ctx, txnOffsetsCmd{ID: id, ProducerID: pid, Epoch: epoch, Offsets: offsets, Now: now})
	return err
}

// EndTxnPrepare moves id's transaction to PrepareCommit or PrepareAbort;
// timeout (an abort by the coordinator) bumps the epoch, and so does bump
// (KIP-890's bump per transaction, EndTxn v5+; see the package notes).
func (s *Store) EndTxnPrepare(ctx context.Context, id string, pid int64, epoch int16, commit, timeout, bump bool, now int64) (Txn, error) {
	res, err := s.propose(ctx, endTxnPrepareCmd{ID: id, ProducerID: pid, Epoch: epoch, Commit: commit, Timeout: timeout, Bump: bump, Now: now})
	return res.txn, err
}

// EndTxnComplete finishes a prepared transaction once its markers are
// written, applying its group offsets if it commits.
func (s *Store) EndTxnComplete(ctx context.Context, id string, pid int64, epoch int16, now int64) (Txn, error) {
	res, err := s.propose(ctx, endTxnCompleteCmd{ID: id, ProducerID: pid, Epoch: epoch, Now: now})
	return res.txn, err
}

// validateTxnsSnapshot checks transactions read from a snapshot.
func validateTxnsSnapshot(txns []Txn) error {
	seen := make(map[string]bool, len(txns))
	for _, t := range txns {
		if err := validateTxnID(t.ID); err != nil {
			return err
		}
		if seen[t.ID] {
			return fmt.Errorf("transactional id %q appears twice", t.ID)
		}
		seen[t.ID] = true
		if t.ProducerID < 0 || t.ProducerEpoch < 0 || t.Status < TxnEmpty || t.Status > TxnCompleteAbort {
			return fmt.Errorf("transactional id %q: producer %d epoch %d status %d", t.ID, t.ProducerID, t.ProducerEpoch, t.Status)
		}
		if t.NextProducerID != nil && (*t.NextProducerID < 0 || !t.Status.Preparing()) {
			return fmt.Errorf("transactional id %q: next producer id %d while %s", t.ID, *t.NextProducerID, t.Status)
		}
		if t.EndedBy != nil && (t.EndedBy.ProducerID < 0 || t.EndedBy.Epoch < 0) {
			return fmt.Errorf("transactional id %q: ended by producer %d epoch %d", t.ID, t.EndedBy.ProducerID, t.EndedBy.Epoch)
		}
	}
	return nil
}
