package wal

import "encoding/binary"

// payloadEpoch returns the leader epoch an entry was written under: the
// PartitionLeaderEpoch of the first Kafka RecordBatch (v2) in its payload,
// bytes 12 to 15, with the magic byte (2) at 16. A payload that is not a
// v2 batch has epoch -1. This is the one thing the log reads of what it
// stores: it lets a new leadership of a partition restart it at a lower
// offset (see doc.go).
func payloadEpoch(data []byte) int32 {
	if len(data) < 17 || data[16] != 2 {
		return -1
	}
	return int32(binary.BigEndian.Uint32(data[12:16]))
}
