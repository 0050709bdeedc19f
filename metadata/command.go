package metadata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// commandType is the first byte of every raft log entry Shale proposes.
// Values are part of the on-disk format: never renumber or reuse one.
type commandType uint8

const (
	cmdInitCluster         commandType = 1
	cmdRegisterBroker      commandType = 2
	cmdCreateTopic         commandType = 3
	cmdDeleteTopic         commandType = 4
	cmdCreatePartitions    commandType = 5
	cmdAlterTopicConfigs   commandType = 6
	cmdAllocateProducerIDs commandType = 7
	cmdCommitObject        commandType = 8
	cmdReplaceExtents      commandType = 9
	cmdTruncatePartition   commandType = 10
	cmdForgetObjects       commandType = 11
	cmdCommitOffsets       commandType = 12
	cmdDeleteGroupOffsets  commandType = 13
	cmdExpireGroupOffsets  commandType = 14
	cmdCommitObjects       commandType = 16 // several CommitObjects in one entry

	// The cluster's commands (leadership.go).
	cmdFenceBroker        commandType = 20
	cmdDrainBroker        commandType = 21
	cmdUnregisterBroker   commandType = 22
	cmdMoveLeaders        commandType = 23
	cmdCompleteHandover   commandType = 24
	cmdSetPartitionLeader commandType = 15

	// Transactions (txn.go).
	cmdInitTxnProducer  commandType = 40
	cmdAddTxnPartitions commandType = 41
	cmdTxnOffsets       commandType = 42
	cmdEndTxnPrepare    commandType = 43
	cmdEndTxnComplete   commandType = 44

	// SCRAM users own 50–53 (scram.go: cmdAlterScramCredentials = 50).
)

func (t commandType) String() string {
	switch t {
	case cmdInitCluster:
		return "InitCluster"
	case cmdRegisterBroker:
		return "RegisterBroker"
	case cmdCreateTopic:
		return "CreateTopic"
	case cmdDeleteTopic:
		return "DeleteTopic"
	case cmdCreatePartitions:
		return "CreatePartitions"
	case cmdAlterTopicConfigs:
		return "AlterTopicConfigs"
	case cmdAllocateProducerIDs:
		return "AllocateProducerIDs"
	case cmdCommitObject:
		return "CommitObject"
	case cmdCommitObjects:
		return "CommitObjects"
	case cmdReplaceExtents:
		return "ReplaceExtents"
	case cmdTruncatePartition:
		return "TruncatePartition"
	case cmdForgetObjects:
		return "ForgetObjects"
	case cmdCommitOffsets:
		return "CommitOffsets"
	case cmdDeleteGroupOffsets:
		return "DeleteGroupOffsets"
	case cmdExpireGroupOffsets:
		return "ExpireGroupOffsets"
	case cmdFenceBroker:
		return "FenceBroker"
	case cmdDrainBroker:
		return "DrainBroker"
	case cmdUnregisterBroker:
		return "UnregisterBroker"
	case cmdMoveLeaders:
		return "MoveLeaders"
	case cmdCompleteHandover:
		return "CompleteHandover"
	case cmdSetPartitionLeader:
		return "SetPartitionLeader"
	case cmdRecordKeyCompaction:
		return "RecordKeyCompaction"
	case cmdInitTxnProducer:
		return "InitTxnProducer"
	case cmdAddTxnPartitions:
		return "AddTxnPartitions"
	case cmdTxnOffsets:
		return "TxnOffsets"
	case cmdEndTxnPrepare:
		return "EndTxnPrepare"
	case cmdEndTxnComplete:
		return "EndTxnComplete"
	case cmdCreateACLs:
		return "CreateACLs"
	case cmdDeleteACLs:
		return "DeleteACLs"
	case cmdSetClientQuotas:
		return "SetClientQuotas"
	case cmdAlterScramCredentials:
		return "AlterScramCredentials"
	}
	return fmt.Sprintf("command(%d)", uint8(t))
}

// commandVersion1 is the first body version of every command type.
// A change to a body's fields bumps that command's version (see
// commandType.version); decodeCommand keeps reading every version it ever
// wrote.
const commandVersion1 = 1

// version is the body version encodeCommand writes for t.
func (t commandType) version() uint8 {
	switch t {
	case cmdDeleteTopic:
		return 2 // v2 added Now
	case cmdCommitObject:
		return 2 // v2 added the producer section (producers.go)
	case cmdEndTxnPrepare:
		return 2 // v2 added Bump (KIP-890's bump per transaction)
	case cmdRegisterBroker, cmdCreateTopic, cmdCreatePartitions, cmdCommitOffsets:
		// v2: the same bodies, applied with the cluster's leadership
		// rules (leaders spread over live brokers, incarnations). A v1
		// entry is applied as v1 was, so old logs replay to the state
		// they made.
		return 2
	}
	return commandVersion1
}

// command is one decoded raft log entry. Each concrete type is a plain
// struct whose exported fields are its JSON body.
type command interface {
	commandType() commandType
}

type initClusterCmd struct {
	ClusterID string
}

type registerBrokerCmd struct {
	Broker Broker
	v1     bool   // a version-1 entry: store the broker as given
	index  uint64 // set by Apply: the entry's raft index
}

type createTopicCmd struct {
	Name          string
	ID            TopicID
	Partitions    int32
	Configs       map[string]string
	DefaultLeader int32 // leader when no broker is live: the proposer's id
	v1            bool  // a version-1 entry: every partition led by the lowest broker id
}

// deleteTopicCmd is DeleteTopic version 2. Now (ms, the proposer's clock)
// dates the objects the deletion turns into garbage.
type deleteTopicCmd struct {
	Name string
	Now  int64
}

// deleteTopicCmdV1 is DeleteTopic version 1, read as version 2 with Now 0.
type deleteTopicCmdV1 struct {
	Name string
}

func (deleteTopicCmdV1) commandType() commandType { return cmdDeleteTopic }

type createPartitionsCmd struct {
	Name          string
	NewTotal      int32
	DefaultLeader int32
	v1            bool
}

type alterTopicConfigsCmd struct {
	Name string
	Ops  []ConfigOp
}

type allocateProducerIDsCmd struct {
	Count int64
}

// commitObjectCmd is CommitObject: an uploaded object and its extents.
// Its body is binary (see encodeCommitObject): it is the most frequent
// command and carries many extents.
type commitObjectCmd ObjectCommit

// commitObjectsCmd is CommitObjects: several CommitObjects applied in
// order in one raft entry, each exactly as if it were an entry of its own
// (see state.commitObjects). Its body is binary (see encodeCommitObjects).
type commitObjectsCmd struct {
	Commits []commitObjectCmd
}

// replaceExtentsCmd is ReplaceExtents: compaction output replacing a run.
type replaceExtentsCmd struct {
	New        Extent
	ObjectSize int64
	Now        int64
}

// truncatePartitionCmd is TruncatePartition: advance a log start offset.
type truncatePartitionCmd struct {
	Topic       TopicID
	Partition   int32
	NewLogStart int64
	Now         int64
}

// forgetObjectsCmd is ForgetObjects: garbage the GC deleted from the bucket.
type forgetObjectsCmd struct {
	Keys []string
}

// commitOffsetsCmd is CommitOffsets. Its body is binary (see
// encodeCommitOffsets) so that thousands of partitions stay small.
type commitOffsetsCmd struct {
	Group   string
	Offsets map[TopicPartition]CommittedOffset
	// Checked (version 2) makes apply refuse the commit unless the
	// group's coordinator slot is still at SlotEpoch (slots.go).
	Checked   bool
	SlotEpoch int32
}

// deleteGroupOffsetsCmd is DeleteGroupOffsets; All deletes the whole group
// and then Parts is empty.
type deleteGroupOffsetsCmd struct {
	Group string
	Parts []TopicPartition
	All   bool
}

// expireGroupOffsetsCmd is ExpireGroupOffsets.
type expireGroupOffsetsCmd struct {
	Group           string
	CommittedBefore int64
}

func (commitObjectCmd) commandType() commandType       { return cmdCommitObject }
func (commitObjectsCmd) commandType() commandType      { return cmdCommitObjects }
func (replaceExtentsCmd) commandType() commandType     { return cmdReplaceExtents }
func (truncatePartitionCmd) commandType() commandType  { return cmdTruncatePartition }
func (forgetObjectsCmd) commandType() commandType      { return cmdForgetObjects }
func (commitOffsetsCmd) commandType() commandType      { return cmdCommitOffsets }
func (deleteGroupOffsetsCmd) commandType() commandType { return cmdDeleteGroupOffsets }
func (expireGroupOffsetsCmd) commandType() commandType { return cmdExpireGroupOffsets }

func (initClusterCmd) commandType() commandType         { return cmdInitCluster }
func (registerBrokerCmd) commandType() commandType      { return cmdRegisterBroker }
func (createTopicCmd) commandType() commandType         { return cmdCreateTopic }
func (deleteTopicCmd) commandType() commandType         { return cmdDeleteTopic }
func (createPartitionsCmd) commandType() commandType    { return cmdCreatePartitions }
func (alterTopicConfigsCmd) commandType() commandType   { return cmdAlterTopicConfigs }
func (allocateProducerIDsCmd) commandType() commandType { return cmdAllocateProducerIDs }

// encodeCommand lays out one raft log entry: type, version, body. The
// body is JSON, except for the binary bodies of CommitObject and
// CommitOffsets.
func encodeCommand(c command) ([]byte, error) {
	typ := c.commandType()
	out := []byte{byte(typ), typ.version()}
	switch c := c.(type) {
	case commitObjectCmd:
		return encodeCommitObject(out, c), nil
	case commitObjectsCmd:
		return encodeCommitObjects(out, c), nil
	case commitOffsetsCmd:
		return encodeCommitOffsets(out, c), nil
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return append(out, body...), nil
}

// decodeCommand parses a raft log entry written by encodeCommand. Unknown
// types and versions return ErrUnknownCommand; a malformed body returns a
// plain error. It never panics on any input.
func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("decode command: %d bytes, want at least 2", len(b))
	}
	typ, version, body := commandType(b[0]), b[1], b[2:]
	if typ == cmdDeleteTopic && version == commandVersion1 {
		c, err := decodeBody[deleteTopicCmdV1](typ, body)
		if err != nil {
			return nil, err
		}
		return deleteTopicCmd{Name: c.(deleteTopicCmdV1).Name}, nil
	}
	if version == commandVersion1 && typ.version() == 2 {
		switch typ {
		case cmdRegisterBroker:
			c, err := decodeBody[registerBrokerCmd](typ, body)
			if err != nil {
				return nil, err
			}
			r := c.(registerBrokerCmd)
			r.v1 = true
			return r, nil
		case cmdCreateTopic:
			c, err := decodeBody[createTopicCmd](typ, body)
			if err != nil {
				return nil, err
			}
			r := c.(createTopicCmd)
			r.v1 = true
			return r, nil
		case cmdCommitOffsets:
			return decodeCommitOffsets(body, commandVersion1)
		case cmdCommitObject:
			return decodeCommitObject(body, commandVersion1)
		case cmdEndTxnPrepare:
			return decodeBody[endTxnPrepareCmd](typ, body) // no Bump in v1
		case cmdCreatePartitions:
			c, err := decodeBody[createPartitionsCmd](typ, body)
			if err != nil {
				return nil, err
			}
			r := c.(createPartitionsCmd)
			r.v1 = true
			return r, nil
		}
	}
	if version != typ.version() {
		return nil, fmt.Errorf("%w: %s version %d", ErrUnknownCommand, typ, version)
	}
	switch typ {
	case cmdInitCluster:
		return decodeBody[initClusterCmd](typ, body)
	case cmdRegisterBroker:
		return decodeBody[registerBrokerCmd](typ, body)
	case cmdCreateTopic:
		return decodeBody[createTopicCmd](typ, body)
	case cmdDeleteTopic:
		return decodeBody[deleteTopicCmd](typ, body)
	case cmdCreatePartitions:
		return decodeBody[createPartitionsCmd](typ, body)
	case cmdAlterTopicConfigs:
		return decodeBody[alterTopicConfigsCmd](typ, body)
	case cmdAllocateProducerIDs:
		return decodeBody[allocateProducerIDsCmd](typ, body)
	case cmdCommitObject:
		return decodeCommitObject(body, 2)
	case cmdCommitObjects:
		return decodeCommitObjects(body)
	case cmdReplaceExtents:
		return decodeBody[replaceExtentsCmd](typ, body)
	case cmdTruncatePartition:
		return decodeBody[truncatePartitionCmd](typ, body)
	case cmdForgetObjects:
		return decodeBody[forgetObjectsCmd](typ, body)
	case cmdCommitOffsets:
		return decodeCommitOffsets(body, 2)
	case cmdDeleteGroupOffsets:
		return decodeBody[deleteGroupOffsetsCmd](typ, body)
	case cmdExpireGroupOffsets:
		return decodeBody[expireGroupOffsetsCmd](typ, body)
	case cmdFenceBroker:
		return decodeBody[fenceBrokerCmd](typ, body)
	case cmdDrainBroker:
		return decodeBody[drainBrokerCmd](typ, body)
	case cmdUnregisterBroker:
		return decodeBody[unregisterBrokerCmd](typ, body)
	case cmdMoveLeaders:
		return decodeBody[moveLeadersCmd](typ, body)
	case cmdCompleteHandover:
		return decodeBody[completeHandoverCmd](typ, body)
	case cmdSetPartitionLeader:
		return decodeBody[setPartitionLeaderCmd](typ, body)
	case cmdRecordKeyCompaction:
		return decodeBody[recordKeyCompactionCmd](typ, body)
	case cmdInitTxnProducer:
		return decodeBody[initTxnProducerCmd](typ, body)
	case cmdAddTxnPartitions:
		return decodeBody[addTxnPartitionsCmd](typ, body)
	case cmdTxnOffsets:
		return decodeBody[txnOffsetsCmd](typ, body)
	case cmdEndTxnPrepare:
		return decodeBody[endTxnPrepareCmd](typ, body)
	case cmdEndTxnComplete:
		return decodeBody[endTxnCompleteCmd](typ, body)
	case cmdCreateACLs:
		return decodeBody[createACLsCmd](typ, body)
	case cmdDeleteACLs:
		return decodeBody[deleteACLsCmd](typ, body)
	case cmdSetClientQuotas:
		return decodeBody[setClientQuotasCmd](typ, body)
	case cmdAlterScramCredentials:
		return decodeBody[alterScramCmd](typ, body)
	}
	return nil, fmt.Errorf("%w: type %d", ErrUnknownCommand, uint8(typ))
}

func decodeBody[T command](typ commandType, body []byte) (command, error) {
	var c T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode %s body: %w", typ, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode %s body: trailing data", typ)
	}
	return c, nil
}

// Decode bounds on the strings of binary bodies. They only stop absurd
// allocations; apply enforces the real limits with clear errors.
const (
	maxDecodedKeyLen   = 1 << 16
	maxDecodedNameLen  = 1 << 16
	maxDecodedMetadata = 1 << 20
)

// encodeCommitObject appends the binary CommitObject body:
//
//	key string | size varint | broker varint | now varint
//	ntopics uvarint | ntopics x topic id (16 bytes), in first-use order
//	nextents uvarint | nextents x extent, in the caller's order:
//	    topic index uvarint | partition varint | base varint
//	    last-base varint | pos varint | len varint | max timestamp varint
//	    leader epoch varint
//	version 2: the producer section (encodeProducerSection), then the
//	transaction section (encodeTxnSection)
//
// An extent's Object is not written: it is always the commit's key.
func encodeCommitObject(out []byte, c commitObjectCmd) []byte {
	w := bodyWriter{b: out}
	w.string(c.Key)
	w.varint(c.Size)
	w.varint(int64(c.Broker))
	w.varint(c.Now)
	var topics []TopicID
	index := make(map[TopicID]int)
	for _, e := range c.Extents {
		if _, ok := index[e.Topic]; !ok {
			index[e.Topic] = len(topics)
			topics = append(topics, e.Topic)
		}
	}
	w.uvarint(uint64(len(topics)))
	for _, id := range topics {
		w.topicID(id)
	}
	w.uvarint(uint64(len(c.Extents)))
	for _, e := range c.Extents {
		w.uvarint(uint64(index[e.Topic]))
		w.varint(int64(e.Partition))
		w.varint(e.BaseOffset)
		w.varint(e.LastOffset - e.BaseOffset) // wraps for hostile values; decode wraps back
		w.varint(e.Pos)
		w.varint(e.Len)
		w.varint(e.MaxTimestamp)
		w.varint(int64(e.LeaderEpoch))
	}
	producers := c.Producers
	if len(producers) != len(c.Extents) {
		producers = nil // validated before proposing; never index past Extents
	}
	encodeProducerSection(&w, c.Extents, producers, c.ProducerExpiry)
	txns := c.Txns
	if len(txns) != len(c.Extents) {
		txns = nil
	}
	encodeTxnSection(&w, c.Extents, txns)
	return w.b
}

func decodeCommitObject(body []byte, version uint8) (command, error) {
	r := bodyReader{b: body}
	var c commitObjectCmd
	c.Key = r.string("object key", maxDecodedKeyLen)
	c.Size = r.varint()
	c.Broker = r.int32("broker")
	c.Now = r.varint()
	topics := make([]TopicID, r.count("topic", 16))
	for i := range topics {
		topics[i] = r.topicID()
	}
	n := r.count("extent", 8)
	if n > 0 {
		c.Extents = make([]Extent, n)
	}
	for i := range c.Extents {
		e := &c.Extents[i]
		ti := r.uvarint()
		if r.err == nil && ti >= uint64(len(topics)) {
			r.fail("extent %d: topic index %d of %d topics", i, ti, len(topics))
		}
		if r.err != nil {
			break
		}
		e.Topic = topics[ti]
		e.Partition = r.int32("partition")
		e.BaseOffset = r.varint()
		e.LastOffset = e.BaseOffset + r.varint()
		e.Object = c.Key
		e.Pos = r.varint()
		e.Len = r.varint()
		e.MaxTimestamp = r.varint()
		e.LeaderEpoch = r.int32("leader epoch")
	}
	if version == commandVersion1 {
		c.v1 = true
	} else if r.err == nil {
		c.Producers, c.ProducerExpiry = decodeProducerSection(&r, c.Extents)
		c.Txns = decodeTxnSection(&r, c.Extents)
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("decode %s body: %w", cmdCommitObject, err)
	}
	return c, nil
}

// encodeCommitObjects appends the binary CommitObjects body (version 1):
//
//	ncommits uvarint | ncommits x (body length uvarint | body)
//
// where each body is a CommitObject version-2 body (encodeCommitObject),
// in the order the commits are applied. A new CommitObject body version
// therefore means a new CommitObjects version too.
func encodeCommitObjects(out []byte, c commitObjectsCmd) []byte {
	w := bodyWriter{b: out}
	w.uvarint(uint64(len(c.Commits)))
	var body []byte
	for _, oc := range c.Commits {
		body = encodeCommitObject(body[:0], oc)
		w.uvarint(uint64(len(body)))
		w.b = append(w.b, body...)
	}
	return w.b
}

// minCommitObjectBody is the length of the smallest CommitObject version-2
// body: seven one-byte varints (key length, size, broker, now, topic
// count, extent count, producer count), producer expiry and transaction
// event count.
const minCommitObjectBody = 9

func decodeCommitObjects(body []byte) (command, error) {
	r := bodyReader{b: body}
	n := r.count("commit", 1+minCommitObjectBody)
	var c commitObjectsCmd
	if n > 0 {
		c.Commits = make([]commitObjectCmd, 0, n)
	}
	for i := range n {
		sub := r.bytes(fmt.Sprintf("commit %d", i))
		if r.err != nil {
			break
		}
		oc, err := decodeCommitObject(sub, 2)
		if err != nil {
			return nil, fmt.Errorf("decode %s body: commit %d of %d: %w", cmdCommitObjects, i, n, err)
		}
		c.Commits = append(c.Commits, oc.(commitObjectCmd))
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("decode %s body: %w", cmdCommitObjects, err)
	}
	return c, nil
}

// encodeCommitOffsets appends the binary CommitOffsets body, topics sorted
// by name and partitions by number so equal maps encode equally:
//
//	group string | base time varint (the first entry's CommitTime)
//	ntopics uvarint | per topic: name string | nparts uvarint | per partition:
//	    partition varint | offset varint | leader epoch varint
//	    metadata string | commit time - base time varint
//
// A typical entry (same commit time, empty metadata) takes under 10 bytes.
func encodeCommitOffsets(out []byte, c commitOffsetsCmd) []byte {
	w := bodyWriter{b: out}
	w.string(c.Group)
	byTopic := make(map[string][]int32)
	for tp := range c.Offsets {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	names := make([]string, 0, len(byTopic))
	for name, parts := range byTopic {
		names = append(names, name)
		slices.Sort(parts)
	}
	slices.Sort(names)
	var base int64
	if len(names) > 0 {
		base = c.Offsets[TopicPartition{names[0], byTopic[names[0]][0]}].CommitTime
	}
	w.varint(base)
	w.uvarint(uint64(len(names)))
	for _, name := range names {
		w.string(name)
		w.uvarint(uint64(len(byTopic[name])))
		for _, p := range byTopic[name] {
			o := c.Offsets[TopicPartition{name, p}]
			w.varint(int64(p))
			w.varint(o.Offset)
			w.varint(int64(o.LeaderEpoch))
			w.string(o.Metadata)
			w.varint(o.CommitTime - base)
		}
	}
	// Version 2: the coordinator slot epoch, +1 (0: unchecked).
	if c.Checked {
		w.varint(int64(c.SlotEpoch) + 1)
	} else {
		w.varint(0)
	}
	return w.b
}

func decodeCommitOffsets(body []byte, version uint8) (command, error) {
	r := bodyReader{b: body}
	c := commitOffsetsCmd{Group: r.string("group", maxDecodedNameLen)}
	base := r.varint()
	ntopics := r.count("topic", 2)
	c.Offsets = make(map[TopicPartition]CommittedOffset)
	for range ntopics {
		name := r.string("topic name", maxDecodedNameLen)
		nparts := r.count("partition", 5)
		for range nparts {
			tp := TopicPartition{Topic: name, Partition: r.int32("partition")}
			var o CommittedOffset
			o.Offset = r.varint()
			o.LeaderEpoch = r.int32("leader epoch")
			o.Metadata = r.string("metadata", maxDecodedMetadata)
			o.CommitTime = base + r.varint()
			if r.err != nil {
				break
			}
			if _, dup := c.Offsets[tp]; dup {
				r.fail("%s/%d appears twice", tp.Topic, tp.Partition)
				break
			}
			c.Offsets[tp] = o
		}
		if r.err != nil {
			break
		}
	}
	if version >= 2 {
		if e := r.varint(); e > 0 && e <= 1<<31 {
			c.Checked, c.SlotEpoch = true, int32(e-1)
		} else if e != 0 {
			r.fail("slot epoch %d", e-1)
		}
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("decode %s body: %w", cmdCommitOffsets, err)
	}
	return c, nil
}
