package tiering

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Object keys. Every key is written once: a random nonce makes a re-upload
// of the same segment (after a crash between PUT and catalog commit, or
// after the WAL directory was wiped and segment numbers restarted) a new
// object, never an overwrite. Layout:
//
//	wal/<broker id>/<segment id, 20 digits>-<nonce>.obj       uploaded WAL segment (many partitions)
//	part/<topic id hex>/<partition>/<base offset, 20 digits>-<nonce>.obj   compacted (one partition)
//
// Zero-padded numbers keep a listing in upload order.

// WALObjectKey names the object of an uploaded WAL segment.
func WALObjectKey(broker int32, segment uint64, nonce string) string {
	return fmt.Sprintf("wal/%d/%020d-%s.obj", broker, segment, nonce)
}

// compactedPrefix starts every compacted object's key.
const compactedPrefix = "part/"

// CompactedObjectKey names a compacted single-partition object.
func CompactedObjectKey(topic [16]byte, partition int32, baseOffset int64, nonce string) string {
	return fmt.Sprintf("%s%s/%d/%020d-%s.obj", compactedPrefix, hex.EncodeToString(topic[:]), partition, baseOffset, nonce)
}

// NewNonce returns 8 random bytes in hex.
func NewNonce() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
