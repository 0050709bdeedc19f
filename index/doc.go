// Package index defines the object format of Shale's object tier: how a run
// of Kafka RecordBatch v2 bytes, grouped by partition, is laid out in one
// object together with the footer index that lets a cold reader find any
// offset or timestamp with two ranged GETs (the tail, then one block).
//
// Uploaded WAL segments hold many partitions; compacted segments hold one.
// Both use this format. The metadata catalog maps a partition's offset range
// to (object key, byte range); the sparse index lives here, in the object, so
// the catalog stays small.
//
// # Object layout
//
//	0                                                        dataLen
//	+-----------------+-----------------+-----+-----------------+
//	| partition A     | partition B     | ... | partition N     |   data:
//	| batch|batch|... | batch|batch|... |     | batch|...       |   RecordBatch v2 bytes
//	+-----------------+-----------------+-----+-----------------+   exactly as stored
//	| footer (footerLen bytes)                                  |   per-partition index
//	+-----------------------------------------------------------+
//	| trailer (TrailerSize = 32 bytes)                          |   fixed, at the very end
//	+-----------------------------------------------------------+
//	                                   objectSize = dataLen + footerLen + 32
//
// All batches of one partition are contiguous and in ascending offset order.
// Partitions appear in the data in the order they were added; the footer
// lists them sorted by Key (topic ID bytes, then partition number).
//
// # Trailer (version 1, 32 bytes, integers big-endian)
//
//	offset size field
//	0      8    dataLen     bytes of batch data at the start of the object
//	8      8    footerLen   bytes of footer between the data and the trailer
//	16     4    footerCRC   CRC-32C (Castagnoli) of the footer bytes
//	20     4    trailerCRC  CRC-32C of trailer bytes [0, 20)
//	24     2    version     format version, 1
//	26     2    flags       reserved, 0; readers reject other values
//	28     4    magic       "SHLX"
//
// A reader fetches the last TrailerSize bytes (or, better, a guess of a few
// KiB so that the footer usually comes along), checks magic, version and
// trailerCRC, then knows exactly which bytes hold the footer. footerLen is
// bounded by MaxFooterLen, so a damaged trailer cannot ask for a huge read.
//
// # Footer (version 1)
//
// The footer is a sequence of unsigned (uvarint) and zig-zag signed (varint)
// LEB128 integers as in encoding/binary, plus fixed-width fields where noted:
//
//	footer    = count:uvarint  partition{count}          sorted by Key, no duplicates
//	partition = topic:16 bytes
//	            partition:int32 big-endian                >= 0
//	            firstOffset:uvarint                       base offset of the first batch
//	            offsetSpan:uvarint                        lastOffset - firstOffset
//	            pos:uvarint                               first byte in the object
//	            len:uvarint                               > 0; pos+len <= dataLen
//	            maxTimestamp:varint
//	            sparseCount:uvarint                       >= 1
//	            sparse{sparseCount}
//	sparse    = offsetDelta:uvarint                       Offset - previous Offset
//	            posDelta:uvarint                          Pos - previous Pos
//	            timeDelta:varint                          MaxTimestamp - previous MaxTimestamp
//
// For the first sparse entry "previous" is (firstOffset, 0, 0), and its
// offset and position deltas must be zero: every partition's sparse index
// starts at its first batch. Later entries have offsetDelta > 0 and
// posDelta > 0. Nothing may follow the last partition.
//
// A sparse entry marks a batch boundary. Offset is that batch's base offset;
// Pos is its byte position relative to the partition's first byte; and
// MaxTimestamp is the running maximum: the largest timestamp of every batch
// from the partition's first batch up to the end of the block that starts at
// this entry (a block runs to the next entry or to the end of the partition).
// Running maxima never decrease, so both Locate and LocateTime are binary
// searches, and the first block whose MaxTimestamp >= t is exactly the first
// block holding a batch with a timestamp >= t. The last entry's MaxTimestamp
// equals the partition's MaxTimestamp.
//
// The Builder starts a new entry at the first batch boundary at least
// BuilderOptions.SparseInterval bytes after the previous entry, so any batch
// starts less than SparseInterval bytes after the entry that covers it.
//
// # Robustness
//
// Objects come back from a store that Shale does not control. DecodeFooter
// checks the CRC first and then every field: each count is bounded by the
// bytes that remain (a partition needs at least 29 encoded bytes, a sparse
// entry at least 3) before anything is allocated, every loop consumes input,
// offsets and positions are checked for overflow and ordering, and byte
// ranges must lie inside the data and not overlap. Failures are
// *CorruptionError values naming the byte offset in the object.
//
// VerifyBatches checks batches fetched for a cold read: framing, magic, the
// CRC-32C Kafka defines, and offset contiguity.
//
// # Changing the format
//
// magic and version sit in the last 8 bytes of every version, so a reader can
// always tell which version it holds before interpreting anything else. A
// reader that meets a version it does not know returns an error wrapping
// ErrUnsupportedVersion (not a CorruptionError: the object is fine, the
// reader is old). A format change bumps version; readers learn the new
// version in one release and writers start producing it in a later one.
// Objects are never rewritten in place, so readers keep decoding every
// version that may still be referenced until compaction has replaced all
// objects of the old version.
package index
