// Package metadata is Shale's metadata quorum: hashicorp/raft with a durable
// log on local disk, file snapshots, and a deterministic state machine that
// holds the cluster id, brokers, topics (id, partitions with leader and
// leader epoch, config overrides), the producer-id allocator, the extent
// catalog of the object tier and consumer groups' committed offsets.
//
// One node runs as a single-voter cluster (Config.RaftAddr empty: in-memory
// transport); three or five voters form a quorum over TCP. Store.Open starts
// a node; writes (CreateTopic, ...) are proposed through raft and return once
// applied locally; reads (Topic, Topics, ...) come from the local state
// machine and return copies.
//
// # Extent catalog
//
// Brokers upload sealed WAL segments as objects holding many partitions'
// batches; a partition's byte range in one object is an Extent. Per
// partition the catalog keeps the extents sorted by offset in one slice
// (binary search, 72 bytes per extent, nothing per offset; sparse indexes
// stay in the objects), the log start offset, the end (the high watermark:
// the offset after the last committed extent) and the bytes referenced.
// Extents of a partition are contiguous: an extent must start exactly at
// the end (else it is refused, ErrOffsetGap), and truncation and compaction
// keep coverage.
//
//	       LogStart = 5                             End = 41
//	         v                                            v
//	[ e0: 0..9 ][ e1: 10..19 ][ e2: 20..34 ][ e3: 35..40 ]
//	   obj A        obj A         obj B         obj C
//
// Every object has a reference count, the number of extents pointing into
// it. CommitObject sets it; ReplaceExtents (compaction), TruncatePartition
// (retention, DeleteRecords) and DeleteTopic lower it. At zero the object
// becomes garbage, dated by the command's time; the GC deletes it from the
// bucket after a grace period and then ForgetObjects drops it. An object
// the catalog does not know (IsKnownObject false) and older than the grace
// period is an orphan of a failed commit. Leader epochs fence uploads: an
// extent must carry its partition's current leader epoch (else it is
// refused, ErrFenced). CommitObject decides each extent on its own and
// reports the refused ones; the others commit.
//
// Each extent records its commit time (the CommitObject's Now; a
// compacted extent keeps the newest of the extents it replaced).
// Retention uses it for extents whose batches carry no timestamp
// (MaxTimestamp < 0), as Kafka uses a segment's modification time.
//
// Consumer groups' committed offsets are kept per group, topic name and
// partition; deleting a topic deletes every group's offsets for it.
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
//	| type u8  | ver u8   | body: JSON, or binary (8, 12)  |
//	+----------+----------+--------------------------------+
//
//	type  1 v1 InitCluster         {ClusterID}
//	type  2 v1 RegisterBroker      {Broker{ID,Host,Port,Rack}}
//	type  3 v1 CreateTopic         {Name, ID (UUID text), Partitions, Configs, DefaultLeader}
//	type  4 v2 DeleteTopic         {Name, Now}      (v1 {Name} is still read, as Now 0)
//	type  5 v1 CreatePartitions    {Name, NewTotal, DefaultLeader}
//	type  6 v1 AlterTopicConfigs   {Name, Ops[{Key, Op, Value}]}
//	type  7 v1 AllocateProducerIDs {Count}
//	type  8 v2 CommitObject        binary, below (v1: without the producer section)
//	type  9 v1 ReplaceExtents      {New Extent, ObjectSize, Now}
//	type 10 v1 TruncatePartition   {Topic, Partition, NewLogStart, Now}
//	type 11 v1 ForgetObjects       {Keys}
//	type 12 v1 CommitOffsets       binary, below
//	type 13 v1 DeleteGroupOffsets  {Group, Parts[{Topic, Partition}], All}
//	type 14 v1 ExpireGroupOffsets  {Group, CommittedBefore}
//	type 15 v1 SetPartitionLeader  {Name, Partition, Leader}  (the epoch grows by one)
//	type 16 v1 CommitObjects       binary, below: several CommitObjects in one entry
//
// The frequent, large commands have binary bodies of varints (zig-zag
// for signed values), strings as a uvarint length and bytes, topic ids as
// 16 raw bytes:
//
//	CommitObject:  key | size | broker | now | ntopics | ntopics x id[16]
//	               | nextents | nextents x (topic index | partition | base
//	               | last-base | pos | len | max timestamp | leader epoch)
//	CommitObjects: ncommits | ncommits x (body length | CommitObject v2 body),
//	               applied in order, each as a CommitObject entry would be
//	CommitOffsets: group | base time | ntopics | per topic (sorted): name
//	               | nparts | per partition (sorted): partition | offset
//	               | leader epoch | metadata | commit time - base time
//
// About 20 bytes per extent and under 10 per committed offset. Integrity
// comes from the log store's CRC.
// Unknown types, unknown versions and unknown JSON fields are rejected: the
// entry is logged and its error returned as the apply result; nothing
// panics and the state is untouched, identically on every node.
//
// Apply is deterministic. Everything random (topic ids, the cluster id) is
// drawn by the proposer and carried in the command; apply never reads the
// clock (commands that date garbage or offsets carry Now, in ms); maps are only iterated where order cannot matter (minimum broker id)
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
//	| "SHMS" | u16 BE  | u64 BE    |                 | u32 BE    |
//	+--------+---------+-----------+-----------------+-----------+
//
//	body v1: JSON {ClusterID, NextProducerID, Brokers[] by id, Topics[] by name}
//	body v2: uvarint len | the v1 JSON | objects | garbage | partitions | groups
//	body v3: v2 with each extent's commit time (delta) after its leader epoch
//	body v4: the v3 body | leader epochs
//
// The binary sections of v2 and v3 are laid out in snapshot_catalog.go: objects
// by key (key, size), garbage (key, since), each partition with End > 0
// (log start, end, its extents with implied bases, object indexes and
// delta timestamps, about 11 bytes each; v3 adds the delta commit time,
// usually one byte), then groups' offsets. Reference counts and byte
// totals are recomputed on decode, not stored. Version 4 adds each
// partition's leader-epoch history (epochs.go), which answers
// OffsetForLeaderEpoch after retention and compaction.
//
// The CRC (Castagnoli) covers version, length and body. Restore checks
// magic, version, length, CRC and every invariant apply maintains (valid
// names, unique ids, valid configs, contiguous extents inside their
// objects, every object referenced, offsets of existing partitions)
// before replacing the state. Equal states encode to equal bytes.
// FSM.Snapshot copies the state under the lock and returns: maps are
// copied, extent arrays are shared copy-on-write (apply only appends to
// them, reslices their front or replaces them), so 1,000,000 extents copy
// in well under a millisecond. FSMSnapshot.Persist encodes and writes the
// copy while Apply continues. Migration: version 2 added the catalog and
// offsets, version 3 each extent's commit time, version 4 the leader-epoch
// histories; decodeSnapshot still reads version 1 (an empty catalog),
// version 2 (commit times unknown, 0) and 3 (histories rebuilt from the
// extents' epochs) and writes version 4. An older build cannot read a
// newer version: upgrade forward only.
package metadata
