package metadata

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"
)

// MaxObjectKeyLen bounds an object key, as S3 does.
const MaxObjectKeyLen = 1024

// Extent is one partition's byte range inside an uploaded object: the
// batches holding offsets BaseOffset..LastOffset.
type Extent struct {
	Topic        TopicID
	Partition    int32
	BaseOffset   int64  // first offset
	LastOffset   int64  // last offset, inclusive
	Object       string // object key
	Pos, Len     int64  // byte range of this partition's batches inside the object
	MaxTimestamp int64  // ms
	LeaderEpoch  int32  // epoch of the leader that uploaded it
	// CommitTime (ms) is when the extent entered the catalog: the Now of
	// the CommitObject that added it; for a compacted extent the newest
	// CommitTime of the extents it replaced (compaction does not make data
	// younger, as Kafka's cleaner keeps the last segment's modification
	// time). 0 means unknown: the extent was restored from a snapshot
	// older than version 3. Retention falls back on it when MaxTimestamp
	// is negative (no batch carries a timestamp). Set by the catalog;
	// ignored in an ObjectCommit or a Replacement.
	CommitTime int64
}

// PartitionLog summarizes a partition's committed log in the catalog.
type PartitionLog struct {
	LogStart int64 // first offset readable (Kafka's log start offset)
	End      int64 // next offset after the last committed extent = the high watermark
	Bytes    int64 // sum of Len of extents still referenced
	Extents  int
}

// ObjectCommit is an uploaded object and the extents it holds. Each
// extent's Object must be Key or empty (it is then taken to be Key).
type ObjectCommit struct {
	Key     string
	Size    int64
	Broker  int32
	Extents []Extent
	Now     int64 // ms; set by the caller
	// Producers[i], when Producers is not nil, are the idempotent
	// producers with batches in Extents[i] and their last batches in it
	// (see producers.go); the catalog keeps them per partition.
	Producers [][]ProducerState
	// Txns[i], when Txns is not nil, are the transaction events of
	// Extents[i] in offset order (txnlog.go).
	Txns [][]TxnEvent
	// ProducerExpiry (ms) drops producer state not changed for that long
	// in the partitions this commit touches; 0 keeps it (producers.go).
	ProducerExpiry int64
	// v1 marks a version-1 entry, which carried no producer section and
	// so does not start producer tracking.
	v1 bool
}

// Replacement is a compactor's output: one new single-partition object
// holding exactly the offsets of a run of existing extents.
type Replacement struct {
	New        Extent
	ObjectSize int64
	Now        int64 // ms; set by the caller
}

// GarbageObject is an object no extent references any more, and since
// when (ms). The GC deletes it from the bucket after a grace period and
// then calls ForgetObjects.
type GarbageObject struct {
	Key   string
	Since int64
}

// partitionKey names one partition by topic id.
type partitionKey struct {
	topic     TopicID
	partition int32
}

// partitionLog is the catalog of one partition. extents is sorted by base,
// contiguous (each base is the previous last + 1), and when non-empty
// extents[0].base <= logStart <= extents[0].last and the last extent ends
// at end-1; when empty, logStart == end.
//
// Copy-on-write: state.clone shares extents backing arrays with the
// snapshot being persisted. Apply therefore never writes an element below
// len(extents) in place: it appends (writing past every clone's view),
// reslices the front (truncation), or builds a new array (replacement).
type partitionLog struct {
	logStart int64
	end      int64
	bytes    int64
	extents  []extentRec
	epochs   []EpochStart // leader-epoch history, see epochs.go
	// keyCompaction is how far compaction by key has cleaned the log
	// (keycompaction.go).
	keyCompaction keyCompactionRec

	// Idempotent producers, see producers.go. producers is not shared
	// with clones (state.clone copies it).
	producers        map[int64]producerRec
	producersTracked bool
	producersFrom    int64

	// Transactions, see txnlog.go: openTxns (producer -> first offset) is
	// not shared with clones; aborted is append-only, sorted by marker.
	openTxns map[int64]int64
	aborted  []AbortedTxn
}

// extentRec is an Extent as the catalog holds it: topic and partition are
// implied by where it is stored, and object shares the string of its
// objects map key. 72 bytes each.
type extentRec struct {
	base, last   int64
	pos, length  int64
	maxTimestamp int64
	commitTime   int64
	leaderEpoch  int32
	object       string
}

// objectInfo is a referenced object: its size and how many extents point
// into it.
type objectInfo struct {
	size int64
	refs int64
}

func (r extentRec) extent(k partitionKey) Extent {
	return Extent{Topic: k.topic, Partition: k.partition, BaseOffset: r.base, LastOffset: r.last, Object: r.object,
		Pos: r.pos, Len: r.length, MaxTimestamp: r.maxTimestamp, LeaderEpoch: r.leaderEpoch, CommitTime: r.commitTime}
}

func (pl *partitionLog) summary() PartitionLog {
	return PartitionLog{LogStart: pl.logStart, End: pl.end, Bytes: pl.bytes, Extents: len(pl.extents)}
}

// search returns the index of the first extent whose last >= offset.
func (pl *partitionLog) search(offset int64) int {
	return sort.Search(len(pl.extents), func(i int) bool { return pl.extents[i].last >= offset })
}

// partitionName formats a partition for messages: "orders-3", or the id
// when the topic no longer exists.
func (st *state) partitionName(k partitionKey) string {
	if name, ok := st.topicIDs[k.topic]; ok {
		return fmt.Sprintf("%s-%d", name, k.partition)
	}
	return fmt.Sprintf("%s-%d", k.topic, k.partition)
}

// partitionLog returns the catalog of a partition, or an ErrUnknownTopic.
func (st *state) partitionLog(k partitionKey) (*partitionLog, error) {
	parts, ok := st.logs[k.topic]
	if !ok {
		return nil, fmt.Errorf("%w: topic id %s", ErrUnknownTopic, k.topic)
	}
	if k.partition < 0 || int(k.partition) >= len(parts) {
		return nil, fmt.Errorf("%w: topic %q has no partition %d", ErrUnknownTopic, st.topicIDs[k.topic], k.partition)
	}
	return &parts[k.partition], nil
}

// release drops one reference to an object; at zero it becomes garbage
// since now.
func (st *state) release(key string, now int64) {
	info, ok := st.objects[key]
	if !ok {
		return // unreachable while the invariants hold
	}
	info.refs--
	if info.refs > 0 {
		st.objects[key] = info
		return
	}
	delete(st.objects, key)
	st.garbage[key] = now
}

func (st *state) knownObject(key string) bool {
	if _, ok := st.objects[key]; ok {
		return true
	}
	_, ok := st.garbage[key]
	return ok
}

func validateObjectKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty object key", ErrInvalidRequest)
	case len(key) > MaxObjectKeyLen:
		return fmt.Errorf("%w: object key of %d bytes, the limit is %d", ErrInvalidRequest, len(key), MaxObjectKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: object key %q is not UTF-8", ErrInvalidRequest, key)
	}
	return nil
}

// validateExtent checks what an extent must satisfy on its own, inside an
// object of objectSize bytes.
func validateExtent(e Extent, objectSize int64) error {
	switch {
	case e.Partition < 0:
		return fmt.Errorf("%w: extent partition %d is negative", ErrInvalidRequest, e.Partition)
	case e.BaseOffset < 0 || e.LastOffset < e.BaseOffset || e.LastOffset == 1<<63-1:
		return fmt.Errorf("%w: extent of partition %d has offsets %d..%d", ErrInvalidRequest, e.Partition, e.BaseOffset, e.LastOffset)
	case e.Pos < 0 || e.Len <= 0 || e.Pos > objectSize-e.Len:
		return fmt.Errorf("%w: extent of partition %d at bytes [%d,+%d) outside the object's %d bytes", ErrInvalidRequest, e.Partition, e.Pos, e.Len, objectSize)
	case e.LeaderEpoch < 0:
		return fmt.Errorf("%w: extent of partition %d has leader epoch %d", ErrInvalidRequest, e.Partition, e.LeaderEpoch)
	}
	return nil
}

func validateObjectCommit(c ObjectCommit) error {
	if err := validateObjectKey(c.Key); err != nil {
		return err
	}
	if c.Size <= 0 {
		return fmt.Errorf("%w: object %q has size %d", ErrInvalidRequest, c.Key, c.Size)
	}
	for _, e := range c.Extents {
		if e.Object != "" && e.Object != c.Key {
			return fmt.Errorf("%w: extent of object %q names object %q", ErrInvalidRequest, c.Key, e.Object)
		}
		if err := validateExtent(e, c.Size); err != nil {
			return fmt.Errorf("commit object %q: %w", c.Key, err)
		}
	}
	if c.Producers != nil && len(c.Producers) != len(c.Extents) {
		return fmt.Errorf("%w: commit object %q: producers for %d extents, it has %d", ErrInvalidRequest, c.Key, len(c.Producers), len(c.Extents))
	}
	for i, ps := range c.Producers {
		if err := validateProducers(c.Extents[i], ps); err != nil {
			return fmt.Errorf("commit object %q: %w", c.Key, err)
		}
	}
	if c.Txns != nil && len(c.Txns) != len(c.Extents) {
		return fmt.Errorf("%w: commit object %q: transaction events for %d extents, it has %d", ErrInvalidRequest, c.Key, len(c.Txns), len(c.Extents))
	}
	for i, evs := range c.Txns {
		if err := validateTxnEvents(c.Extents[i], evs); err != nil {
			return fmt.Errorf("commit object %q: %w", c.Key, err)
		}
	}
	if c.ProducerExpiry < 0 {
		return fmt.Errorf("%w: commit object %q: producer expiry %d ms", ErrInvalidRequest, c.Key, c.ProducerExpiry)
	}
	return nil
}

func validateReplacement(r Replacement) error {
	if err := validateObjectKey(r.New.Object); err != nil {
		return err
	}
	if err := validateExtent(r.New, r.ObjectSize); err != nil {
		return fmt.Errorf("replace extents with object %q: %w", r.New.Object, err)
	}
	return nil
}

// CommitResult is what CommitObject decided for the extents it did not
// commit. Every extent not listed was committed by this command or, being
// a retry, is in the catalog already (or belongs to a deleted topic).
type CommitResult struct {
	Refused []RefusedExtent // in the commit's extent order
	// Err, set only in CommitObjects' results, is why nothing of this
	// object was applied: what CommitObject would have returned as its
	// error (ErrInvalidRequest, ErrUnknownTopic). It is final: the same
	// commit would be refused again.
	Err error
}

// RefusedExtent is an extent CommitObject refused and why. Err wraps
// ErrFenced (its LeaderEpoch is not the partition's current epoch) or
// ErrOffsetGap (it does not start where the partition's log ends) and
// names the object and partition.
type RefusedExtent struct {
	Extent
	Err error
}

// commitObject applies CommitObject. It decides each extent on its own:
// the accepted ones are committed, the refused ones reported in the
// result, in one step (see Store.CommitObject for the rules).
func (st *state) commitObject(c commitObjectCmd) (applyResult, bool) {
	if err := validateObjectCommit(ObjectCommit(c)); err != nil {
		return applyResult{err: err}, false
	}
	// Decide every extent before changing anything. ends holds the log end
	// each touched partition will have, so an object may carry several
	// consecutive extents of one partition; refused marks partitions with
	// a refused extent, whose later extents in this object are refused too.
	ends := make(map[partitionKey]int64)
	var refused map[partitionKey]bool
	var res CommitResult
	refuse := func(e Extent, err error) {
		if refused == nil {
			refused = make(map[partitionKey]bool)
		}
		refused[partitionKey{e.Topic, e.Partition}] = true
		e.Object = c.Key
		res.Refused = append(res.Refused, RefusedExtent{Extent: e, Err: err})
	}
	accepted := make([]int, 0, len(c.Extents))
	for i, e := range c.Extents {
		k := partitionKey{e.Topic, e.Partition}
		name, ok := st.topicIDs[e.Topic]
		if !ok {
			continue // the topic was deleted during the upload
		}
		pl, err := st.partitionLog(k)
		if err != nil {
			return applyResult{err: fmt.Errorf("commit object %q: %w", c.Key, err)}, false
		}
		end, ok := ends[k]
		if !ok {
			end = pl.end
		}
		switch epoch := st.topics[name].Partitions[e.Partition].LeaderEpoch; {
		case e.LeaderEpoch != epoch:
			refuse(e, fmt.Errorf("%w: commit object %q: partition %s: extent leader epoch %d, current leader epoch %d",
				ErrFenced, c.Key, st.partitionName(k), e.LeaderEpoch, epoch))
		case e.LastOffset < end:
			// A retry of something already committed: the same epoch has
			// one writer, so these are the same offsets of the same data.
		case refused[k] || e.BaseOffset != end:
			refuse(e, fmt.Errorf("%w: commit object %q: partition %s: extent starts at offset %d, the log ends at %d",
				ErrOffsetGap, c.Key, st.partitionName(k), e.BaseOffset, end))
		default:
			ends[k] = e.LastOffset + 1
			accepted = append(accepted, i)
		}
	}
	known := st.knownObject(c.Key)
	if len(accepted) == 0 {
		if known {
			return applyResult{commit: res}, false // a retry of a commit that was applied
		}
		st.garbage[c.Key] = c.Now
		return applyResult{commit: res}, true
	}
	if known {
		return applyResult{err: fmt.Errorf("%w: object %q is already in the catalog; keys are written once", ErrInvalidRequest, c.Key)}, false
	}
	for _, i := range accepted {
		e := c.Extents[i]
		pl := &st.logs[e.Topic][e.Partition]
		pl.extents = append(pl.extents, extentRec{base: e.BaseOffset, last: e.LastOffset, pos: e.Pos, length: e.Len,
			maxTimestamp: e.MaxTimestamp, commitTime: c.Now, leaderEpoch: e.LeaderEpoch, object: c.Key})
		if !c.v1 && !pl.producersTracked {
			pl.producersTracked, pl.producersFrom = true, e.BaseOffset
		}
		pl.end = e.LastOffset + 1
		pl.bytes += e.Len
		pl.noteEpoch(e.LeaderEpoch, e.BaseOffset)
		if c.Producers != nil {
			pl.noteProducers(c.Producers[i], c.Now)
		}
		if c.Txns != nil {
			pl.noteTxnEvents(c.Txns[i])
		}
		if c.ProducerExpiry > 0 {
			pl.expireProducers(c.Now - c.ProducerExpiry)
		}
	}
	st.objects[c.Key] = objectInfo{size: c.Size, refs: int64(len(accepted))}
	return applyResult{commit: res}, true
}

// commitObjects applies CommitObjects: each commit in order, exactly as
// commitObject applies it alone, so a batch leaves the state and gives
// each commit the result a run of single CommitObject entries would. A
// commit's error (malformed, unknown partition, key already used) is its
// own: nothing of it is applied and the others go on.
func (st *state) commitObjects(c commitObjectsCmd) (applyResult, bool) {
	if len(c.Commits) == 0 {
		return applyResult{err: fmt.Errorf("%w: commit objects: no commits", ErrInvalidRequest)}, false
	}
	out := applyResult{commits: make([]CommitResult, len(c.Commits))}
	changed := false
	for i, oc := range c.Commits {
		res, ch := st.commitObject(oc)
		out.commits[i] = res.commit
		out.commits[i].Err = res.err
		changed = changed || ch
	}
	return out, changed
}

// replaceExtents applies ReplaceExtents.
func (st *state) replaceExtents(c replaceExtentsCmd) (applyResult, bool) {
	n := c.New
	if err := validateReplacement(Replacement(c)); err != nil {
		return applyResult{err: err}, false
	}
	k := partitionKey{n.Topic, n.Partition}
	pl, err := st.partitionLog(k)
	if err != nil {
		return applyResult{err: fmt.Errorf("%w: replace extents: %w", ErrCatalogChanged, err)}, false
	}
	if st.knownObject(n.Object) {
		return applyResult{err: fmt.Errorf("%w: replace extents: object %q is already in the catalog; keys are written once", ErrInvalidRequest, n.Object)}, false
	}
	i := pl.search(n.BaseOffset)
	j := pl.search(n.LastOffset)
	if i == len(pl.extents) || pl.extents[i].base != n.BaseOffset || j == len(pl.extents) || pl.extents[j].last != n.LastOffset {
		return applyResult{err: fmt.Errorf("%w: partition %s has no run of extents covering exactly offsets %d..%d",
			ErrCatalogChanged, st.partitionName(k), n.BaseOffset, n.LastOffset)}, false
	}
	// The merged extent is as old as the newest extent it replaces; an
	// unknown (0) commit time counts as older than any known one, which
	// holds: unknown ones were restored from a snapshot taken before any
	// known one was committed.
	var committed int64
	for _, old := range pl.extents[i : j+1] {
		committed = max(committed, old.commitTime)
	}
	next := make([]extentRec, 0, len(pl.extents)-(j-i))
	next = append(next, pl.extents[:i]...)
	next = append(next, extentRec{base: n.BaseOffset, last: n.LastOffset, pos: n.Pos, length: n.Len,
		maxTimestamp: n.MaxTimestamp, commitTime: committed, leaderEpoch: n.LeaderEpoch, object: n.Object})
	next = append(next, pl.extents[j+1:]...)
	for _, old := range pl.extents[i : j+1] {
		pl.bytes -= old.length
		st.release(old.object, c.Now)
	}
	pl.bytes += n.Len
	pl.extents = next
	st.objects[n.Object] = objectInfo{size: c.ObjectSize, refs: 1}
	return applyResult{}, true
}

// truncatePartition applies TruncatePartition.
func (st *state) truncatePartition(c truncatePartitionCmd) (applyResult, bool) {
	k := partitionKey{c.Topic, c.Partition}
	pl, err := st.partitionLog(k)
	if err != nil {
		return applyResult{err: fmt.Errorf("truncate partition: %w", err)}, false
	}
	if c.NewLogStart > pl.end {
		return applyResult{err: fmt.Errorf("%w: truncate partition %s to offset %d: the log ends at %d",
			ErrOffsetOutOfRange, st.partitionName(k), c.NewLogStart, pl.end)}, false
	}
	if c.NewLogStart <= pl.logStart {
		return applyResult{}, false
	}
	i := pl.search(c.NewLogStart)
	for _, old := range pl.extents[:i] {
		pl.bytes -= old.length
		st.release(old.object, c.Now)
	}
	rest := pl.extents[i:]
	switch {
	case len(rest) == 0:
		rest = nil
	case len(rest) < cap(rest)/2:
		rest = slices.Clone(rest) // let the dropped prefix be collected
	}
	pl.extents = rest
	pl.logStart = c.NewLogStart
	pl.truncateEpochs(c.NewLogStart)
	pl.truncateAborted(c.NewLogStart)
	return applyResult{}, true
}

// forgetObjects applies ForgetObjects: only garbage is forgotten.
func (st *state) forgetObjects(c forgetObjectsCmd) (applyResult, bool) {
	changed := false
	for _, key := range c.Keys {
		if _, ok := st.garbage[key]; ok {
			delete(st.garbage, key)
			changed = true
		}
	}
	return applyResult{}, changed
}

// dropTopicCatalog releases every extent of a deleted topic.
func (st *state) dropTopicCatalog(id TopicID, now int64) {
	for _, pl := range st.logs[id] {
		for _, e := range pl.extents {
			st.release(e.object, now)
		}
	}
	delete(st.logs, id)
}

// sortedGarbage returns the garbage sorted by Since then Key.
func (st *state) sortedGarbage() []GarbageObject {
	out := make([]GarbageObject, 0, len(st.garbage))
	for k, since := range st.garbage {
		out = append(out, GarbageObject{Key: k, Since: since})
	}
	slices.SortFunc(out, func(a, b GarbageObject) int {
		return cmp.Or(cmp.Compare(a.Since, b.Since), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// CommitObject registers an uploaded object and its extents in one raft
// command that decides each extent on its own:
//   - an extent of a topic that no longer exists (by TopicID) is dropped
//     silently (the topic was deleted during the upload);
//   - an extent whose LeaderEpoch is not the partition's current leader
//     epoch is refused (ErrFenced): only the current leader's data enters;
//   - an extent with LastOffset < End is a retry of something already
//     committed and is skipped;
//   - otherwise BaseOffset must equal End (or the end of the previous
//     accepted extent of that partition in this commit), else it is
//     refused (ErrOffsetGap); so is every later extent of a partition
//     after one of its extents was refused.
//
// The other extents are committed: a refusal never holds back another
// partition. The result lists the refused extents. The object's reference
// count is the number of extents accepted; an object with none becomes
// garbage at once (since c.Now). Committing a key the catalog already
// knows is a no-op (with the same refusals) when no extent is accepted,
// and ErrInvalidRequest otherwise (keys are written once). An error means
// nothing was applied: a malformed commit, or one naming a partition the
// topic does not have.
func (s *Store) CommitObject(ctx context.Context, c ObjectCommit) (CommitResult, error) {
	if err := validateObjectCommit(c); err != nil {
		return CommitResult{}, err
	}
	res, err := s.propose(ctx, commitObjectCmd(c))
	return res.commit, err
}

// MaxCommitBatchBytes bounds the encoded size of one CommitObjects raft
// entry: CommitObjects splits a batch whose commits take more into several
// entries (a single commit larger than that goes alone). It keeps every
// entry, its replication and the forwarding RPC (maxRPCFrame) bounded.
const MaxCommitBatchBytes = 1 << 20

// commitBatchBytes is MaxCommitBatchBytes; tests lower it.
var commitBatchBytes = MaxCommitBatchBytes

// CommitObjects commits several uploaded objects in order, each decided
// exactly as CommitObject decides it after the ones before it (same
// refusals, fencing, retries, producer and transaction state), but in as
// few raft entries as MaxCommitBatchBytes allows: one log write and one
// replication round for all of them. results[i] belongs to cs[i]; its Err
// is set when nothing of cs[i] could be applied (malformed, an unknown
// partition, a key already used), which never holds back the others.
//
// An error means the outcome of the call is unknown (no leader, ctx done,
// closed): some entries may have been applied. Retrying the same commits
// is safe: an object committed already is a retry and changes nothing.
//
// One commit is proposed as a CommitObject entry, several as a
// CommitObjects entry. If the leader cannot take a CommitObjects entry
// (ErrInvalidRequest for the whole entry: a leader running an older
// build), its commits are proposed one by one instead.
func (s *Store) CommitObjects(ctx context.Context, cs []ObjectCommit) ([]CommitResult, error) {
	results := make([]CommitResult, len(cs))
	var batch []commitObjectCmd
	var at []int // batch[j] is cs[at[j]]
	size := 0
	flush := func() error {
		defer func() { batch, at, size = batch[:0], at[:0], 0 }()
		switch len(batch) {
		case 0:
			return nil
		case 1:
			return s.commitOne(ctx, batch[0], &results[at[0]])
		}
		res, err := s.propose(ctx, commitObjectsCmd{Commits: batch})
		if errors.Is(err, ErrInvalidRequest) {
			// The entry as a whole was refused before it was applied.
			for j := range batch {
				if err := s.commitOne(ctx, batch[j], &results[at[j]]); err != nil {
					return err
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
		if len(res.commits) != len(batch) {
			return fmt.Errorf("commit objects: %d results for %d commits", len(res.commits), len(batch))
		}
		for j, r := range res.commits {
			results[at[j]] = r
		}
		return nil
	}
	for i, c := range cs {
		if err := validateObjectCommit(c); err != nil {
			results[i].Err = err
			continue
		}
		n := commitObjectSize(commitObjectCmd(c)) + binary.MaxVarintLen32 // and its length prefix
		if len(batch) > 0 && size+n > commitBatchBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, commitObjectCmd(c))
		at = append(at, i)
		size += n
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return results, nil
}

// commitOne proposes one commit as a CommitObject entry and stores its
// outcome in res. A refusal of the object itself (ErrInvalidRequest,
// ErrUnknownTopic) is its result's Err; any other error is the call's.
func (s *Store) commitOne(ctx context.Context, c commitObjectCmd, res *CommitResult) error {
	r, err := s.propose(ctx, c)
	switch {
	case err == nil:
		*res = r.commit
	case errors.Is(err, ErrInvalidRequest), errors.Is(err, ErrUnknownTopic):
		*res = CommitResult{Err: err}
	default:
		return err
	}
	return nil
}

// commitObjectSize is the bytes c takes in a CommitObjects entry, but
// for its length prefix.
func commitObjectSize(c commitObjectCmd) int {
	return len(encodeCommitObject(nil, c))
}

// PartitionLog returns a partition's catalog summary; false if there is no
// such partition. A new partition is {0, 0, 0, 0}.
func (s *Store) PartitionLog(topic TopicID, partition int32) (PartitionLog, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.partitionSummary(partitionKey{topic, partition})
}

func (st *state) partitionSummary(k partitionKey) (PartitionLog, bool) {
	pl, err := st.partitionLog(k)
	if err != nil {
		return PartitionLog{}, false
	}
	return pl.summary(), true
}

// FindExtent returns the extent holding offset or, if no extent holds it,
// the first extent after it. It returns false when the partition does not
// exist, offset < LogStart, offset >= End, or no extent follows. O(log n).
func (s *Store) FindExtent(topic TopicID, partition int32, offset int64) (Extent, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.findExtent(partitionKey{topic, partition}, offset)
}

func (st *state) findExtent(k partitionKey, offset int64) (Extent, bool) {
	pl, err := st.partitionLog(k)
	if err != nil || offset < pl.logStart || offset >= pl.end {
		return Extent{}, false
	}
	i := pl.search(offset)
	if i == len(pl.extents) {
		return Extent{}, false
	}
	return pl.extents[i].extent(k), true
}

// Extents lists up to max extents in offset order, starting with the one
// holding fromOffset or, if none holds it, the first after it. Unlike
// FindExtent it does not apply the LogStart rule: a fromOffset below
// LogStart starts at the first extent, which may straddle LogStart. max <= 0
// returns nil.
func (s *Store) Extents(topic TopicID, partition int32, fromOffset int64, max int) []Extent {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.listExtents(partitionKey{topic, partition}, fromOffset, max)
}

func (st *state) listExtents(k partitionKey, fromOffset int64, max int) []Extent {
	pl, err := st.partitionLog(k)
	if err != nil || max <= 0 {
		return nil
	}
	i := pl.search(fromOffset)
	n := min(max, len(pl.extents)-i)
	if n <= 0 {
		return nil
	}
	out := make([]Extent, n)
	for j := range out {
		out[j] = pl.extents[i+j].extent(k)
	}
	return out
}

// ReplaceExtents atomically swaps the run of extents covering exactly
// [r.New.BaseOffset, r.New.LastOffset] for r.New (compaction into a new
// single-partition object). The run must start at an extent with
// BaseOffset == New.BaseOffset and end at one with LastOffset ==
// New.LastOffset, all of it still present; otherwise ErrCatalogChanged
// (also when the topic is gone). The replaced objects' reference counts
// drop; at zero they become garbage since r.Now. New.Object must be a key
// the catalog does not know.
func (s *Store) ReplaceExtents(ctx context.Context, r Replacement) error {
	if err := validateReplacement(r); err != nil {
		return err
	}
	_, err := s.propose(ctx, replaceExtentsCmd(r))
	return err
}

// TruncatePartition advances the log start offset (retention,
// DeleteRecords). newLogStart must be <= End, else ErrOffsetOutOfRange; a
// value <= the current LogStart is a no-op. Extents whose LastOffset <
// newLogStart are dropped (their objects' reference counts drop; at zero
// they become garbage since now). An extent straddling newLogStart stays.
func (s *Store) TruncatePartition(ctx context.Context, topic TopicID, partition int32, newLogStart int64, now int64) error {
	k := partitionKey{topic, partition}
	s.fsm.mu.RLock()
	pl, err := s.fsm.st.partitionLog(k)
	noop := err == nil && newLogStart <= pl.logStart
	s.fsm.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("truncate partition: %w", err)
	}
	if noop {
		return nil // nothing to propose; apply would do nothing either
	}
	_, err = s.propose(ctx, truncatePartitionCmd{Topic: topic, Partition: partition, NewLogStart: newLogStart, Now: now})
	return err
}

// GarbageObjects returns the objects no extent references, sorted by Since
// then Key.
func (s *Store) GarbageObjects() []GarbageObject {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.sortedGarbage()
}

// ForgetObjects removes garbage objects from the catalog once the GC has
// deleted them from the bucket. Unknown keys and keys still referenced are
// ignored.
func (s *Store) ForgetObjects(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := s.propose(ctx, forgetObjectsCmd{Keys: keys})
	return err
}

// IsKnownObject reports whether key is referenced by an extent or is
// garbage awaiting deletion. An object in the bucket that is not known and
// older than a grace period is an orphan upload the GC may delete.
func (s *Store) IsKnownObject(key string) bool {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.st.knownObject(key)
}

// TailStart returns the base offset of the newest extents of a partition
// that hold at least maxBytes together (or all of them): where a new
// leader starts reading the committed tail to rebuild the idempotent
// producers' state. It returns the log end when the partition holds no
// extent.
func (s *Store) TailStart(topic TopicID, partition int32, maxBytes int64) int64 {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	pl, err := s.fsm.st.partitionLog(partitionKey{topic, partition})
	if err != nil {
		return 0
	}
	start, sum := pl.end, int64(0)
	for i := len(pl.extents) - 1; i >= 0 && sum < maxBytes; i-- {
		start = max(pl.extents[i].base, pl.logStart)
		sum += pl.extents[i].length
	}
	return start
}
