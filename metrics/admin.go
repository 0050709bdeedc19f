package metrics

import (
	"errors"
	"time"
)

// Admin is what the metrics listener's admin endpoints ask the node.
type Admin interface {
	// Ready reports nil when the node serves, or why not (/readyz).
	Ready() error
	// TopicStorage describes where a topic's data is (/v1/topics/NAME).
	TopicStorage(name string) (TopicStorage, error)
}

// ErrNoTopic is returned by TopicStorage for a topic that does not exist.
var ErrNoTopic = errors.New("no such topic")

// TopicStorage is where one topic's records are: the object tier's range
// and objects per partition (from the catalog) and the range this
// broker's WAL holds (hot: read from local disk).
type TopicStorage struct {
	Topic      string             `json:"topic"`
	ID         string             `json:"id"`
	Broker     int32              `json:"broker"` // the broker that answered (its WAL ranges)
	Partitions []PartitionStorage `json:"partitions"`
}

// PartitionStorage is one partition's ranges. Offsets are [from, to):
// cold [LogStart, HighWatermark) is in objects; hot [HotFrom, HotTo) is in
// the answering broker's WAL (it overlaps the cold range by what is kept
// locally after upload, and runs past it by what is not uploaded yet).
type PartitionStorage struct {
	Partition     int32 `json:"partition"`
	Leader        int32 `json:"leader"`
	LogStart      int64 `json:"log_start"`
	HighWatermark int64 `json:"high_watermark"`
	Extents       int   `json:"extents"` // object slices in the catalog
	Objects       int   `json:"objects"` // distinct objects they are in
	StoredBytes   int64 `json:"stored_bytes"`
	// Hot is false when this broker's WAL holds nothing of the partition.
	Hot     bool  `json:"hot"`
	HotFrom int64 `json:"hot_from"`
	HotTo   int64 `json:"hot_to"`
	// OldestCommit is the commit time of the oldest extent, if known.
	OldestCommit time.Time `json:"oldest_commit,omitzero"`
}
