// Package node assembles one Shale process: the metadata quorum member, the
// write-ahead log, the partitions and the Kafka listener, from one Config
// that maps onto a YAML file and command-line flags.
package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/tiering"
	"github.com/shalelog/shale/wal"
	"gopkg.in/yaml.v3"
)

// Config is everything one node needs. Zero values of optional fields take
// the defaults of DefaultConfig.
type Config struct {
	// DataDir holds the WAL and the metadata unless their own dirs are set.
	DataDir  string `yaml:"data_dir"`
	LogLevel string `yaml:"log_level"`
	// ObjectStore is the bucket URL: file:///path (default: DATA_DIR/objects)
	// or s3://bucket/prefix?endpoint=...&region=...
	ObjectStore string `yaml:"object_store"`
	// DebugListen, if set, serves Go runtime profiles (/debug/pprof/) on
	// this host:port. Off by default; bind it to a private address.
	DebugListen string `yaml:"debug_listen"`
	// Roles are what this node does: "controller" (a voter of the
	// metadata quorum), "broker" (serves Kafka, owns a WAL), or both
	// (the default, and the only choice of a single node).
	Roles    string         `yaml:"roles"`
	Broker   broker.Config  `yaml:"broker"`
	WAL      WALConfig      `yaml:"wal"`
	Metadata MetadataConfig `yaml:"metadata"`
	Tiering  TieringConfig  `yaml:"tiering"`

	// Observability: metrics_listen, metrics_partition_labels,
	// log_format and the cost meter's price table (config_observe.go).
	Observe ObserveConfig `yaml:",inline"`

	// ProducerIDExpiration is how long a partition keeps an idempotent
	// producer's state (for duplicate detection) after its last write
	// there (Kafka's producer.id.expiration.ms). A producer that writes
	// again after that must start at sequence 0.
	ProducerIDExpiration Duration `yaml:"producer_id_expiration"`
}

// TieringConfig is the object tier's YAML/flag face.
type TieringConfig struct {
	// LocalRetainBytes of already-uploaded WAL segments stay on local disk
	// for hot reads.
	LocalRetainBytes ByteSize `yaml:"local_retain_bytes"`
	// CacheBytes bounds the cold-read block cache.
	CacheBytes ByteSize `yaml:"cache_bytes"`
	// BlockSize is the size of one ranged GET of a cold read.
	BlockSize ByteSize `yaml:"block_size"`
	// ReadAhead is how many blocks a sequential cold reader fetches ahead.
	ReadAhead int `yaml:"read_ahead"`
	// RetentionInterval is how often retention.ms/retention.bytes run.
	RetentionInterval Duration `yaml:"retention_interval"`
	// GCInterval is how often unreferenced objects are deleted, GCGrace how
	// long they stay first, OrphanGrace how old a never-committed upload
	// (a Shale-named object under wal/ or part/ the catalog does not know)
	// must be before it is deleted: at least tiering.MinOrphanGrace.
	GCInterval  Duration `yaml:"gc_interval"`
	GCGrace     Duration `yaml:"gc_grace"`
	OrphanGrace Duration `yaml:"orphan_grace"`
	// StatsInterval is how often the tiering figures are logged (0: never).
	StatsInterval Duration `yaml:"stats_interval"`
	// CommitBatch is how many uploaded segments, ready together, the
	// uploader commits in one Raft entry (CommitObjects): 0 means as many
	// as are on their way (4); 1, the default, commits each in a
	// CommitObject entry of its own, which builds before CommitObjects can
	// read. A node that cannot decode an entry skips it and its catalog
	// falls behind, so batching is for clusters where every node runs a
	// build that has it.
	CommitBatch int `yaml:"commit_batch"`
	// CompactionTarget is the size of the single-partition objects
	// compaction writes; CompactionMinExtents the shortest run of small
	// extents worth merging below that size; CompactionInterval how often
	// it runs (0: never).
	CompactionTarget     ByteSize `yaml:"compaction_target"`
	CompactionMinExtents int      `yaml:"compaction_min_extents"`
	CompactionInterval   Duration `yaml:"compaction_interval"`
	// KeyCompactionInterval is how often topics with cleanup.policy
	// compact are compacted by key (0: never); KeyCompactionMapBytes the
	// key compactor's offset map budget (24 bytes a slot, filled to 3/4:
	// the keys one pass deduplicates). Its objects are up to
	// CompactionTarget (or a topic's segment.bytes).
	KeyCompactionInterval Duration `yaml:"key_compaction_interval"`
	KeyCompactionMapBytes ByteSize `yaml:"key_compaction_map_bytes"`
}

// WALConfig is the YAML/flag face of wal.Config.
type WALConfig struct {
	Dir             string   `yaml:"dir"`
	SegmentMaxBytes ByteSize `yaml:"segment_max_bytes"`
	// SegmentMaxAge is the latency/cost dial: a non-empty segment is
	// sealed and uploaded this long after its first entry at the latest,
	// and it sets the PUT budget, one upload per SegmentMaxAge on average
	// (docs/OPERATIONS.md, "Latency and PUT cost").
	SegmentMaxAge Duration `yaml:"segment_max_age"`
	// UploadBurst is how much of that PUT budget a quiet broker saves for
	// group commit: when acks=all producers wait and no upload is on its
	// way, the active segment is sealed and uploaded at once while saved
	// uploads are left, up to UploadBurst/SegmentMaxAge of them. 0 turns
	// group commit off (acks=all then waits for the age or size seal).
	UploadBurst Duration `yaml:"upload_burst"`
	MaxBytes    ByteSize `yaml:"max_bytes"`
	// UploadMemoryBytes of sealed segments' entries stay in memory, as
	// they were appended, until the uploader reads them (no read back
	// from the file, no second CRC pass); past it segments are read from
	// their files. 0 keeps nothing in memory.
	UploadMemoryBytes ByteSize `yaml:"upload_memory_bytes"`
	// RecycleSegments keeps uploaded segment files to overwrite as later
	// segments (faster fsyncs on ext4 and XFS); turn it off on
	// copy-on-write filesystems.
	RecycleSegments bool `yaml:"recycle_segments"`
}

// MetadataConfig is the YAML/flag face of metadata.Config.
type MetadataConfig struct {
	Dir      string `yaml:"dir"`
	RaftAddr string `yaml:"raft_addr"`
	// RaftAdvertise is the raft address other nodes dial when it differs
	// from RaftAddr (a wildcard bind, NAT, a proxy).
	RaftAdvertise string `yaml:"raft_advertise"`
	// Controllers is the metadata quorum, "1@host:port,2@host:port,..."
	// (raft addresses). Empty: a single node that is its own quorum.
	Controllers string `yaml:"controllers"`
	// SessionTimeout is how long a broker may go without a heartbeat
	// before the controllers fence it and move its partitions.
	SessionTimeout Duration `yaml:"session_timeout"`
	// AutoLeaderBalance lets the metadata leader spread partition leaders
	// over the live brokers every LeaderBalanceInterval (graceful moves).
	AutoLeaderBalance     bool     `yaml:"auto_leader_balance"`
	LeaderBalanceInterval Duration `yaml:"leader_balance_interval"`
	// TLS secures the raft transport and the controller RPC with mutual
	// TLS (metadata.PeerTLS): this node's certificate and key, the CA
	// that signs every node's, and optionally the name peers'
	// certificates are checked against. Every node sets it or none.
	TLS PeerTLSConfig `yaml:"tls"`
}

// PeerTLSConfig names the PEM files of a TLS link between Shale nodes.
type PeerTLSConfig struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// Enabled reports whether any file is named.
func (c PeerTLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.CAFile != "" }

// DefaultConfig is a single node on 127.0.0.1:9092 with data under
// ./shale-data.
func DefaultConfig() Config {
	return Config{
		DataDir:  "shale-data",
		LogLevel: "info",
		Roles:    "controller,broker",
		Broker:   broker.DefaultConfig(),
		Metadata: MetadataConfig{
			SessionTimeout:        Duration(6 * time.Second),
			AutoLeaderBalance:     true,
			LeaderBalanceInterval: Duration(30 * time.Second),
		},
		WAL: WALConfig{
			// 16 MiB rather than 8: at full load one PUT per segment is
			// 64 PUTs per GiB, which leaves room for compaction's writes
			// within 160 PUT-class requests per GiB (docs/BENCHMARKS.md).
			SegmentMaxBytes:   Auto, // derived from MaxBytes: see Derive
			SegmentMaxAge:     Duration(250 * time.Millisecond),
			UploadBurst:       Duration(10 * time.Minute),
			MaxBytes:          1 << 30,
			RecycleSegments:   true,
			UploadMemoryBytes: ByteSize(wal.DefaultUploadMemoryBytes),
		},
		Tiering: TieringConfig{
			LocalRetainBytes:  Auto, // derived from wal max_bytes: see Derive
			CacheBytes:        256 << 20,
			BlockSize:         4 << 20,
			ReadAhead:         4,
			RetentionInterval: Duration(time.Minute),
			GCInterval:        Duration(time.Minute),
			GCGrace:           Duration(5 * time.Minute),
			OrphanGrace:       Duration(24 * time.Hour),
			StatsInterval:     Duration(time.Minute),
			CommitBatch:       1,

			CompactionTarget:     256 << 20,
			CompactionMinExtents: 16,
			CompactionInterval:   Duration(time.Minute),

			KeyCompactionInterval: Duration(15 * time.Second), // Kafka's log.cleaner.backoff.ms
			KeyCompactionMapBytes: 64 << 20,
		},
		ProducerIDExpiration: Duration(24 * time.Hour), // Kafka's 86400000 ms
		Observe:              DefaultObserveConfig(),
	}
}

// Validate reports the first bad setting, naming it. Settings left to be
// derived (Auto) are checked as Derive would set them.
func (c Config) Validate() error {
	c, _ = c.Derive()
	if c.DataDir == "" {
		return errors.New("data_dir: must be set")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: must be debug, info, warn or error", c.LogLevel)
	}
	if err := c.Observe.Validate(); err != nil {
		return err
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			return fmt.Errorf("debug_listen %q: want host:port", c.DebugListen)
		}
	}
	if c.ProducerIDExpiration < Duration(time.Second) {
		return fmt.Errorf("producer_id_expiration %s: must be at least 1s", c.ProducerIDExpiration)
	}
	if err := c.Broker.Validate(); err != nil {
		return err
	}
	ctl, brk, err := c.RoleSet()
	if err != nil {
		return err
	}
	peers, err := c.Peers()
	if err != nil {
		return err
	}
	if len(peers) == 0 && !(ctl && brk) {
		return fmt.Errorf("roles %q: a node without controllers (--controllers) must be both controller and broker", c.Roles)
	}
	if len(peers) > 0 {
		if c.Metadata.RaftAddr == "" {
			return errors.New("metadata raft_addr: a node of a cluster (controllers set) needs its raft address")
		}
		isPeer := false
		for _, p := range peers {
			isPeer = isPeer || p.ID == c.Broker.NodeID
		}
		if ctl != isPeer {
			return fmt.Errorf("roles %q: node %d is %s the controllers list %q", c.Roles, c.Broker.NodeID, map[bool]string{true: "in", false: "not in"}[isPeer], c.Metadata.Controllers)
		}
		if n := len(peers); n != 1 && n != 3 && n != 5 {
			return fmt.Errorf("controllers %q: %d controllers; use 1, 3 or 5", c.Metadata.Controllers, n)
		}
	}
	if c.Metadata.SessionTimeout < Duration(500*time.Millisecond) {
		return fmt.Errorf("metadata session_timeout %s: must be at least 500ms", c.Metadata.SessionTimeout)
	}
	if c.Metadata.LeaderBalanceInterval < Duration(time.Second) {
		return fmt.Errorf("metadata leader_balance_interval %s: must be at least 1s", c.Metadata.LeaderBalanceInterval)
	}
	if c.WAL.SegmentMaxBytes < minSegmentBytes {
		return fmt.Errorf("wal segment_max_bytes %d: must be at least 64KiB", c.WAL.SegmentMaxBytes)
	}
	if c.WAL.SegmentMaxAge < Duration(time.Millisecond) {
		return fmt.Errorf("wal segment_max_age %s: must be at least 1ms", time.Duration(c.WAL.SegmentMaxAge))
	}
	if c.WAL.UploadMemoryBytes < 0 {
		return fmt.Errorf("wal upload_memory_bytes %d: must be >= 0", c.WAL.UploadMemoryBytes)
	}
	if c.WAL.UploadBurst < 0 {
		return fmt.Errorf("wal upload_burst %s: must be >= 0", time.Duration(c.WAL.UploadBurst))
	}
	if c.WAL.MaxBytes < 4*minSegmentBytes {
		return fmt.Errorf("wal max_bytes %d: must be at least %s (four of the smallest segments)", c.WAL.MaxBytes, ByteSize(4*minSegmentBytes))
	}
	if c.WAL.MaxBytes < 4*c.WAL.SegmentMaxBytes {
		return fmt.Errorf("wal max_bytes %s: must hold at least four segments of segment_max_bytes %s (%s)", c.WAL.MaxBytes, c.WAL.SegmentMaxBytes, 4*c.WAL.SegmentMaxBytes)
	}
	t := c.Tiering
	switch {
	case t.LocalRetainBytes < 0 || t.LocalRetainBytes > c.WAL.MaxBytes/2:
		return fmt.Errorf("tiering local_retain_bytes %s: must be between 0 and half of wal max_bytes %s (%s); leave it unset to derive it", t.LocalRetainBytes, c.WAL.MaxBytes, c.WAL.MaxBytes/2)
	case t.BlockSize < 64<<10 || t.BlockSize > 64<<20:
		return fmt.Errorf("tiering block_size %d: must be between 64KiB and 64MiB", t.BlockSize)
	case t.CacheBytes < 2*t.BlockSize:
		return fmt.Errorf("tiering cache_bytes %d: must hold at least two blocks (%d)", t.CacheBytes, 2*t.BlockSize)
	case t.ReadAhead < 0 || t.ReadAhead > 64:
		return fmt.Errorf("tiering read_ahead %d: must be between 0 and 64", t.ReadAhead)
	case t.RetentionInterval < Duration(time.Second):
		return fmt.Errorf("tiering retention_interval %s: must be at least 1s", t.RetentionInterval)
	case t.GCInterval < Duration(time.Second):
		return fmt.Errorf("tiering gc_interval %s: must be at least 1s", t.GCInterval)
	case t.GCGrace < 0:
		return fmt.Errorf("tiering gc_grace %s: must be >= 0", t.GCGrace)
	case t.OrphanGrace < Duration(tiering.MinOrphanGrace):
		return fmt.Errorf("tiering orphan_grace %s: must be at least %s", t.OrphanGrace, tiering.MinOrphanGrace)
	case t.StatsInterval < 0:
		return fmt.Errorf("tiering stats_interval %s: must be >= 0", t.StatsInterval)
	case t.CommitBatch < 0:
		return fmt.Errorf("tiering commit_batch %d: must be >= 0", t.CommitBatch)
	case t.CompactionTarget < 1<<20:
		return fmt.Errorf("tiering compaction_target %d: must be at least 1MiB", t.CompactionTarget)
	case t.CompactionMinExtents < 2:
		return fmt.Errorf("tiering compaction_min_extents %d: must be at least 2", t.CompactionMinExtents)
	case t.CompactionInterval < 0:
		return fmt.Errorf("tiering compaction_interval %s: must be >= 0", t.CompactionInterval)
	case t.KeyCompactionInterval < 0:
		return fmt.Errorf("tiering key_compaction_interval %s: must be >= 0", t.KeyCompactionInterval)
	case t.KeyCompactionMapBytes < 64<<10:
		return fmt.Errorf("tiering key_compaction_map_bytes %d: must be at least 64KiB", t.KeyCompactionMapBytes)
	}
	return nil
}

// ObjectStoreURL is the bucket URL, defaulting to a directory under the
// data dir.
// RoleSet parses Roles.
func (c Config) RoleSet() (controller, broker bool, err error) {
	for _, r := range strings.Split(c.Roles, ",") {
		switch strings.TrimSpace(r) {
		case "controller":
			controller = true
		case "broker":
			broker = true
		default:
			return false, false, fmt.Errorf("roles %q: %q is not a role (controller, broker)", c.Roles, r)
		}
	}
	return controller, broker, nil
}

// Peers parses the controllers list.
func (c Config) Peers() ([]metadata.Peer, error) {
	if strings.TrimSpace(c.Metadata.Controllers) == "" {
		return nil, nil
	}
	p, err := metadata.ParsePeers(c.Metadata.Controllers)
	if err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	return p, nil
}

func (c Config) ObjectStoreURL() (string, error) {
	if c.ObjectStore != "" {
		return c.ObjectStore, nil
	}
	dir, err := filepath.Abs(filepath.Join(c.DataDir, "objects"))
	if err != nil {
		return "", fmt.Errorf("object store dir: %w", err)
	}
	return "file://" + dir, nil
}

// WALDir is where the WAL lives.
func (c Config) WALDir() string {
	if c.WAL.Dir != "" {
		return c.WAL.Dir
	}
	return filepath.Join(c.DataDir, "wal")
}

// MetadataDir is where the raft log and snapshots live.
func (c Config) MetadataDir() string {
	if c.Metadata.Dir != "" {
		return c.Metadata.Dir
	}
	return filepath.Join(c.DataDir, "meta")
}

// LoadFile reads a YAML config over c. Unknown keys are errors, so a typo
// does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	return nil
}

// ByteSize is a byte count written as 1048576, 64KiB, 8MiB, 1GiB, 10MB.
type ByteSize int64

// ParseByteSize parses a size with an optional unit (B, KB, KiB, MB, MiB,
// GB, GiB, TB, TiB; case-insensitive).
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1},
	}
	mul := int64(1)
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mul = u.mul
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("%q is not a byte size (examples: 1048576, 64KiB, 8MiB, 1GiB)", s)
	}
	return ByteSize(n * mul), nil
}

// String writes the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	if b == Auto {
		return "auto"
	}
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mul == 0 {
			return strconv.FormatInt(int64(b)/u.mul, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if err := b.Set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Duration is a time.Duration written as 250ms, 5s, 1h.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 250ms, 5s, 1h)", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.Set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
