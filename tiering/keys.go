package tiering

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Object keys. Every key is written once: a random nonce makes a re-upload
// of the same segment (after a crash between PUT and catalog commit, or
// after the WAL directory was wiped and segment numbers restarted) a new
// object, never an overwrite. Layout:
//
//	wal/<broker id>/<segment id, 20 digits>-<nonce>.obj       uploaded WAL segment (many partitions)
//	part/<topic id hex>/<partition>/<base offset, 20 digits>-<nonce>.obj   compacted (one partition)
//
// Zero-padded numbers keep a listing in upload order. The broker id and
// partition are decimal without padding or sign, the topic id is 32
// lowercase hex digits and the nonce 16.
//
// These two prefixes are Shale's key spaces in a bucket (or under the
// bucket prefix it is given): the garbage collector lists only them and
// considers only keys IsObjectKey accepts, so other objects sharing the
// bucket are never touched.

// walPrefix starts every uploaded WAL segment's key.
const walPrefix = "wal/"

// compactedPrefix starts every compacted object's key.
const compactedPrefix = "part/"

// objectKeyPrefixes are the key spaces Shale writes, in listing order.
var objectKeyPrefixes = [...]string{walPrefix, compactedPrefix}

// nonceLen is the length of NewNonce's result.
const nonceLen = 16

// WALObjectKey names the object of an uploaded WAL segment.
func WALObjectKey(broker int32, segment uint64, nonce string) string {
	return fmt.Sprintf("%s%d/%020d-%s.obj", walPrefix, broker, segment, nonce)
}

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

// IsObjectKey reports whether key is exactly what WALObjectKey or
// CompactedObjectKey returns for some arguments with a NewNonce nonce:
// the keys Shale writes, and the only ones its garbage collector may
// delete as orphans.
func IsObjectKey(key string) bool {
	if rest, ok := strings.CutPrefix(key, walPrefix); ok {
		broker, file, ok := strings.Cut(rest, "/")
		return ok && isDecimal(broker, 31) && isSegmentFile(file, 64)
	}
	if rest, ok := strings.CutPrefix(key, compactedPrefix); ok {
		parts := strings.Split(rest, "/")
		return len(parts) == 3 && len(parts[0]) == 32 && isLowerHex(parts[0]) &&
			isDecimal(parts[1], 31) && isSegmentFile(parts[2], 63)
	}
	return false
}

// isDecimal reports whether s is a number below 1<<bits written as %d.
func isDecimal(s string, bits int) bool {
	if s == "" || s[0] < '0' || s[0] > '9' || len(s) > 1 && s[0] == '0' {
		return false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n < 1<<bits
}

// isSegmentFile reports whether s is "<20 digits>-<nonce>.obj" with the
// number below 1<<bits.
func isSegmentFile(s string, bits int) bool {
	num, rest, ok := strings.Cut(s, "-")
	if !ok || len(num) != 20 || strings.Trim(num, "0123456789") != "" {
		return false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || bits < 64 && n >= 1<<bits {
		return false
	}
	nonce, ok := strings.CutSuffix(rest, ".obj")
	return ok && len(nonce) == nonceLen && isLowerHex(nonce)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
