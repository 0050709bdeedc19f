// Package metadata is Shale's metadata quorum: hashicorp/raft with a durable
// log on local disk, file snapshots, and a deterministic state machine that
// holds the cluster id, brokers, topics (id, partitions with leader and
// leader epoch, config overrides) and the producer-id allocator.
//
// One node runs as a single-voter cluster (Config.RaftAddr empty: in-memory
// transport); three or five voters form a quorum over TCP. Store.Open starts
// a node; writes (CreateTopic, ...) are proposed through raft and return once
// applied locally; reads (Topic, Topics, ...) come from the local state
// machine and return copies.
//
// # Files in Config.Dir
//
//	raft.db      bbolt: raft log entries and raft's stable keys (BoltStore)
//	snapshots/   raft.FileSnapshotStore: <term>-<index>-<ms>/{meta.json,state.bin}
//
// raft.db is written in fsynced bolt transactions; each log record carries a
// CRC32C over its index and bytes, so a damaged record is reported as a
// *CorruptionError naming the file and raft index rather than applied. The
// record layout is documented on BoltStore.
//
// # Command encoding (the Data of each raft log entry)
//
//	+----------+----------+--------------------------------+
//	| type u8  | ver u8   | body: JSON of the command      |
//	+----------+----------+--------------------------------+
//
//	type 1 InitCluster          {ClusterID}
//	type 2 RegisterBroker       {Broker{ID,Host,Port,Rack}}
//	type 3 CreateTopic          {Name, ID (UUID text), Partitions, Configs, DefaultLeader}
//	type 4 DeleteTopic          {Name}
//	type 5 CreatePartitions     {Name, NewTotal, DefaultLeader}
//	type 6 AlterTopicConfigs    {Name, Ops[{Key, Op, Value}]}
//	type 7 AllocateProducerIDs  {Count}
//
// Every body is version 1 today. Integrity comes from the log store's CRC.
// Unknown types, unknown versions and unknown JSON fields are rejected: the
// entry is logged and its error returned as the apply result; nothing
// panics and the state is untouched, identically on every node.
//
// Apply is deterministic. Everything random (topic ids, the cluster id) is
// drawn by the proposer and carried in the command; apply never reads the
// clock; maps are only iterated where order cannot matter (minimum broker id)
// or after sorting. Rejections (topic exists, bad config, ...) are decided
// in apply as well as checked up front by the Store methods, so a race
// between two proposers resolves the same way on every node.
//
// Adding a command: give it the next type number (never reuse one), a
// struct implementing command, a case in decodeCommand and in state.apply,
// and a Store method that proposes it. Changing a body's fields means a new
// version number for that type, with decodeCommand still reading the old one.
//
// # Snapshot encoding (state.bin)
//
//	+--------+---------+-----------+-----------------+-----------+
//	| magic  | version | body len  | body            | crc32c    |
//	| "SHMS" | u16 BE  | u64 BE    | JSON            | u32 BE    |
//	+--------+---------+-----------+-----------------+-----------+
//
//	body v1: {ClusterID, NextProducerID, Brokers[] by id, Topics[] by name}
//
// The CRC (Castagnoli) covers version, length and body. Restore checks
// magic, version, length, CRC and every invariant apply maintains (valid
// names, unique ids, valid configs) before replacing the state. Equal states
// encode to equal bytes. FSM.Snapshot copies the state under the lock and
// returns; FSMSnapshot.Persist encodes and writes the copy while Apply
// continues. Migration: a new body layout gets snapshot version 2, and
// decodeSnapshot keeps reading version 1.
package metadata
