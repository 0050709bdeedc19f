package metadata

import (
	"errors"
	"fmt"
)

// Sentinel errors. Methods return them wrapped with a message that names what
// is wrong; callers test with errors.Is and map them to Kafka error codes.
var (
	// ErrTopicExists: a topic with that name already exists (TOPIC_ALREADY_EXISTS).
	ErrTopicExists = errors.New("topic already exists")
	// ErrUnknownTopic: no topic with that name or id (UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID).
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrInvalidTopicName: the name breaks Kafka's topic naming rules (INVALID_TOPIC_EXCEPTION).
	ErrInvalidTopicName = errors.New("invalid topic name")
	// ErrInvalidPartitions: a partition count out of range or not growing (INVALID_PARTITIONS).
	ErrInvalidPartitions = errors.New("invalid partitions")
	// ErrInvalidConfig: an unknown config name or a bad value (INVALID_CONFIG).
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidRequest: a malformed request such as a non-positive producer id
	// count or a duplicate config key (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotLeader: this node is not the raft leader, so it cannot propose (NOT_CONTROLLER).
	ErrNotLeader = errors.New("not the metadata leader")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("metadata store closed")
	// ErrUnknownCommand: a raft log entry carries a command type or version
	// this build does not understand.
	ErrUnknownCommand = errors.New("unknown metadata command")
	// ErrFenced: an extent was uploaded by a leader whose epoch is no longer
	// the partition's current leader epoch (FENCED_LEADER_EPOCH).
	ErrFenced = errors.New("fenced leader epoch")
	// ErrOffsetGap: an extent does not start where the partition's committed
	// log ends, so committing it would leave a hole or an overlap.
	ErrOffsetGap = errors.New("offset gap")
	// ErrCatalogChanged: the extents a compaction meant to replace are no
	// longer exactly in the catalog (truncated, replaced, topic deleted);
	// the compactor drops its output and retries later.
	ErrCatalogChanged = errors.New("extent catalog changed")
	// ErrOffsetMetadataTooLarge: a committed offset's metadata exceeds
	// MaxOffsetMetadataBytes (OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = errors.New("offset metadata too large")
	// ErrUnknownBroker: no registered broker with that id.
	ErrUnknownBroker = errors.New("unknown broker")
	// ErrStaleIncarnation: a broker's heartbeat or fencing names an
	// incarnation that is not its current registration; the broker must
	// register again.
	ErrStaleIncarnation = errors.New("stale broker incarnation")
	// ErrOffsetOutOfRange: an offset beyond the partition's end (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("offset out of range")
)

// CorruptionError reports bytes that fail their integrity checks: a bad
// magic, version, length or checksum in a snapshot, or a damaged raft log
// record in the bolt store. Where names the file or object, Offset the byte
// offset (snapshots) or raft log index (log store) of the damage.
type CorruptionError struct {
	Where  string
	Offset uint64
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt metadata in %s at %d: %s", e.Where, e.Offset, e.Reason)
}
