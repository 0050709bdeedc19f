// Package wal is Shale's broker-wide write-ahead log: one sequential,
// segmented log for all partitions a broker leads, with group commit.
//
// The produce path, under the partition's mutex, assigns offsets, rewrites
// the batch's baseOffset and calls Append (so per-partition order in the log
// is offset order), releases the mutex and, for acks=1, waits for the
// entry's Done callback, which runs after the fsync that covers it. Entries
// become visible to Read, Range, Partitions and OffsetForTime once durable,
// just before their Done is called.
//
// # Files
//
// A log is a directory of segment files named by a zero-padded sequence
// number, 00000000000000000001.wal, 00000000000000000002.wal, ..., a LOCK
// file (an flock held while a Log is open) and at most two spare files
// (00000000000000000007.spare; see "Spare files" below). The
// highest-numbered segment is the active one; all others are sealed,
// end exactly at their last frame, and never change again until removed,
// oldest first, with RemoveSegment. All integers are little endian.
//
// Segment header, 32 bytes, written and fsynced before the file gets its
// segment name:
//
//	 0       4         6          8              16             24         28       32
//	+-------+---------+----------+--------------+--------------+----------+--------+
//	| magic | version | hdr len  | segment id   | created      | reserved | crc32c |
//	| SHWL  | u16 = 2 | u16 = 32 | u64          | i64 unix ns  | u32 = 0  | [0,28) |
//	+-------+---------+----------+--------------+--------------+----------+--------+
//
// Then frames, back to back, one per Entry:
//
//	 0        4        8      9          12             28          32       40       48        56
//	+--------+--------+------+----------+--------------+-----------+--------+--------+---------+- - - - - -+
//	| crc32c | length | kind | reserved | topic uuid   | partition | base   | last   | max ts  | payload   |
//	| u32    | u32    | 1    | 3 x 0    | 16 bytes     | i32       | i64    | i64    | i64 ms  | length B  |
//	+--------+--------+------+----------+--------------+-----------+--------+--------+---------+- - - - - -+
//	         |<------------------------------ covered by crc32c (Castagnoli) -------------------------->|
//
// The payload is the Entry's Data byte for byte: whole Kafka RecordBatch v2
// with offsets already assigned. The CRC covers the rest of the header and
// the payload, so a frame whose length field was torn cannot pass. length
// is at most MaxEntryBytes; last-base fits an int32.
//
// The stored crc32c field is the CRC XORed with the segment's salt,
// uint32(segment id) * 0x9e3779b1 (mod 2^32). Segment files are reused
// (below), so bytes past a segment's last frame may be frames of an older
// segment, intact and with a valid CRC; salted with a different id they
// never verify in this one. Version 1 segments (no salt, never reused) are
// still read.
//
// Format changes: a new layout gets a new header version; readers refuse
// versions they do not know (a CorruptionError naming the version), so an
// old binary never misreads a newer log. Segments are short-lived (sealed
// within SegmentMaxAge, removed once uploaded), so a migration only has to
// read the previous version, never rewrite it.
//
// # Group commit and crash safety
//
// Append encodes the frame header (CRC computed before taking the queue
// lock) into the open commit queue, which keeps the payload where the
// caller put it (the WAL owns Entry.Data). One commit goroutine repeatedly
// swaps that queue for an empty one, writes its headers and payloads with
// one vectored pwrite (pwritev) at the end of the active segment, calls
// fdatasync once, publishes the entries to the
// in-memory index and calls their Done callbacks in append order. Appends
// arriving during the fsync form the next commit; no delay is added. If a
// commit would take the segment past SegmentMaxBytes it is split at an
// entry boundary: the first part is written and fsynced, the segment is
// sealed, the rest goes to a new segment.
//
// What one fsync covers: every byte of the segment up to the end of the
// commit, including the file size. Done(nil) is only ever called after
// that fsync returned success, so an acknowledged entry is on stable
// storage. A segment is sealed only after its last commit was fsynced and
// its file was truncated to its last frame and fsynced again; the next
// segment gets its name only after that: a file whose header is already
// durable is renamed (or created, header written, fdatasynced) and the
// directory fsynced. Only then are entries written to it. So the
// directory entry of every segment holding acknowledged data is durable,
// and at most the newest segment can hold unsynced or stale bytes.
//
// # Spare files
//
// An fdatasync after appending to a growing file must commit a filesystem
// journal transaction (the new size and blocks); after overwriting blocks
// the file already has, it only writes data. On ext4 that halves the
// commit's latency and keeps it from waiting on other files' journalled
// metadata. So segment files are recycled: RemoveSegment renames an
// uploaded segment's file to a spare name (and fsyncs the directory) instead
// of deleting it, and a preparer goroutine writes the next segment's header
// into a spare (or a new file extended with fallocate when none is free),
// sized to what the last sealed segment reached, up to SegmentMaxBytes.
// Sealing adopts it with one rename. At most one recycled spare is kept,
// none while the log's files hold more than half of MaxBytes; spare files
// and the active segment's not yet written tail count against MaxBytes, and
// an append refused with ErrFull makes the preparer delete them. Open
// reuses spare files it finds and ignores their contents.
//
// A failed write or fsync fails the log permanently: the error is returned
// by every later Append and Sync and passed to the Done of every queued
// entry. Retrying fsync is not safe: Linux may have marked the failed dirty
// pages clean and dropped them, and a second fsync would report success.
//
// # Recovery
//
// Open scans the segments in order and verifies the header and every
// frame's CRC, rebuilding the index. Because at most the newest segment can
// hold unsynced bytes, a crash can only tear the tail of the newest
// segment: the last commit's pwrite may have reached disk partially, in any
// order of pages (some pages written, others zero or stale), and past it
// lie preallocated zeros or a recycled file's old frames. Recovery cuts
// the newest segment at its first frame that is short, has an impossible
// header or fails its (salted) CRC, and logs how many bytes were dropped
// (at info level when they are all zero, unused preallocated space). A
// clean Close truncates the active segment to its last frame, so a clean
// restart cuts nothing. None of the dropped bytes were acknowledged:
// everything before the cut was verified, and everything acknowledged lies
// before the first unsynced byte. A newest segment with a torn header and
// no more than a header's bytes (a crash while creating it) is reset to
// empty.
//
// What recovery keeps of the newest segment is not necessarily durable: a
// process that died between a commit's pwrite and its fdatasync leaves
// whole, valid frames in the page cache that stable storage may not hold.
// Recovery serves them and seals the segment, after which the uploader
// ships it and every partition continues after them; a later power loss
// must not take them back (that would tear a sealed segment, or silently
// reuse offsets already handed out). So recovery fdatasyncs the newest
// segment, cut or not, once it has scanned it: that makes the kept frames
// and the cut durable, and only then is the segment sealed and its
// successor created. The argument above then holds again: every segment
// but the newest is durable whole.
//
// A bad frame in any older segment is reported as a *CorruptionError (path
// and byte position) and Open fails. It cannot be a torn write (that
// segment was fsynced whole before its successor existed), so it is media
// corruption or outside interference. Skipping it would silently lose
// acknowledged records and break the partition's offset sequence; cutting
// there would lose every later segment too. The operator decides: remove
// the segment (its data may already be in the object tier) or restore it.
// The same holds for a valid frame whose offsets go backwards for its
// partition, and for a segment missing between two others: sealing names
// the next segment id+1 and only the oldest segment is ever removed, so
// segment ids run without a gap, and a missing one is a segment lost from
// the middle of the log (the error names the missing file).
//
// Offsets that jump forward are not checked: they are legal. Per partition
// the log only requires increasing offsets (Append refuses others with
// ErrOutOfOrder), and a broker that leads a partition again after another
// broker committed more of it starts at the catalog end, past the end of
// what its own log holds for that partition.
//
// One exception lets offsets go back: a new leadership. The log reads the
// leader epoch of each entry from its payload (the PartitionLeaderEpoch of
// the first Kafka batch, bytes 12..15, magic 2 at byte 16; -1 for anything
// else). An entry whose epoch is newer than the partition's last entry's
// may start below that entry's end: a broker led the partition again
// under a new epoch and starts at the catalog end, below a tail of its
// own older leadership that was never committed. From that entry on, the
// log forgets the partition's older run (Range and Read see only the new
// one); its frames stay in their segments until those are removed, and
// the uploader refuses them by their epoch. Recovery applies the same
// rule, so a log with such a restart reopens to the same state; offsets
// going back without a newer epoch are corruption.
//
// After recovery, a newest segment holding entries is sealed (it is
// complete) and a new active segment is created; an empty one is reused.
// Empty segments older than every segment holding entries are deleted; an
// empty one between two others (a Sync seals an empty segment when
// SegmentMaxBytes is no larger than a header) stays, so the ids keep
// running. Open does not call OnSeal for segments it finds;
// SealedSegments lists them.
//
// # Reads
//
// Each partition has an in-memory index: a flat slice of 40-byte entries
// {base offset, max timestamp, segment id, file position, payload length,
// last-base}, in offset order. Read finds the starting entry by binary
// search and reads each frame with pread (ReadAt) on the segment file,
// which is safe concurrently with the commit goroutine's pwrite because the
// index only names bytes already written. Frames are read back to front
// into one buffer so each frame's header lands where the previous payload
// goes next; the header and CRC are checked again without an extra copy.
//
// # Memory for the uploader
//
// The payloads of each segment's entries also stay in memory, as
// appended, up to Config.UploadMemoryBytes across segments, until
// ReadSegmentInto reads the sealed segment once (the uploader): that read
// hands out the kept payloads with no pread and no second CRC pass (the
// bytes never left memory; the CRCs in the file guard what went through
// the disk, and recovery checks them). A segment whose entries would take
// the total past the bound stops keeping and lets go of what it kept, and
// is read from its file; so is every segment found by Open. RemoveSegment
// and Close let go too. Kept payloads alias the appenders' buffers, which
// the WAL owns after Append, so nothing is copied to keep them.
//
// # O_DIRECT
//
// The format leaves room for aligned direct I/O later: the commit buffer is
// the only thing written, so it can be allocated block-aligned and each
// commit padded to the block size with a padding frame (a new frame kind,
// skipped by readers, so old segments stay readable). The next commit then
// starts on a block boundary. The alternative, rewriting the partial last
// block on each commit, needs no format change but re-exposes acknowledged
// bytes in that block to a torn write, so padding is the plan.
//
// # LOCKING
//
// Three mutexes, never held together:
//
//   - Log.mu guards the append queue (commit buffer, queued bytes,
//     backpressure tickets, next offset per partition) and the lifecycle
//     (closing, sticky failure). Append, Sync and Close take it briefly;
//     the commit goroutine takes it to swap buffers and return budget.
//   - Log.indexMu (RWMutex) guards the per-partition index, the segment
//     list and each segment's published state (durable size, entry count,
//     partition ranges, sealed). The commit goroutine takes it for writing
//     once per commit to publish; RemoveSegment and Close take it for
//     writing; all readers take it for reading and never do I/O under it.
//   - spares.mu guards the preparer's state (the prepared file, recycled
//     files, the next segment id and size). The preparer, sealing,
//     RemoveSegment and Close take it briefly, never during I/O.
//
// The active segment's file and write position belong to the commit
// goroutine alone. Readers pin each segment they read (a WaitGroup
// incremented under indexMu while the segment is still listed);
// RemoveSegment and Close unlist or mark closed under indexMu, then wait
// for the pins before closing the file. Done and OnSeal callbacks are
// called with no lock held.
package wal
