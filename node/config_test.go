package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFileOverDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shale.yaml")
	os.WriteFile(path, []byte(`
data_dir: /var/lib/shale
object_store: s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1
broker:
  node_id: 3
  listen: 0.0.0.0:9092
  advertised: broker-3.example:9092
  offsets_retention: 72h
wal:
  segment_max_bytes: 16MiB
  segment_max_age: 100ms
  max_bytes: 2GiB
  recycle_segments: false
tiering:
  cache_bytes: 1GiB
  compaction_target: 512MiB
  commit_batch: 0
`), 0o644)
	cfg := DefaultConfig()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.Broker.NodeID != 3, cfg.Broker.Advertised != "broker-3.example:9092",
		cfg.Broker.OffsetsRetention != 72*time.Hour,
		cfg.WAL.SegmentMaxBytes != 16<<20, time.Duration(cfg.WAL.SegmentMaxAge) != 100*time.Millisecond,
		cfg.WAL.MaxBytes != 2<<30, cfg.WAL.RecycleSegments, cfg.Tiering.CacheBytes != 1<<30, cfg.Tiering.CompactionTarget != 512<<20,
		cfg.Tiering.CommitBatch != 0:
		t.Fatalf("config not applied: %+v", cfg)
	}
	// Untouched settings keep their defaults.
	if !DefaultConfig().WAL.RecycleSegments || cfg.Tiering.BlockSize != DefaultConfig().Tiering.BlockSize || cfg.Broker.MaxRequestBytes != DefaultConfig().Broker.MaxRequestBytes {
		t.Fatalf("defaults lost: %+v", cfg)
	}
}

func TestLoadFileErrors(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":  "wal:\n  segment_bytes: 8MiB\n",
		"bad size":     "wal:\n  max_bytes: lots\n",
		"bad duration": "wal:\n  segment_max_age: soon\n",
		"not yaml":     "broker: [",
	} {
		path := filepath.Join(t.TempDir(), "shale.yaml")
		os.WriteFile(path, []byte(body), 0o644)
		cfg := DefaultConfig()
		if err := cfg.LoadFile(path); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file loaded")
	}
}

func TestValidateNamesTheSetting(t *testing.T) {
	for want, mutate := range map[string]func(*Config){
		"data_dir":           func(c *Config) { c.DataDir = "" },
		"log_level":          func(c *Config) { c.LogLevel = "loud" },
		"debug_listen":       func(c *Config) { c.DebugListen = "localhost" },
		"max_bytes":          func(c *Config) { c.WAL.MaxBytes = 1 << 17 },
		"segment_max_bytes":  func(c *Config) { c.WAL.SegmentMaxBytes = 1 },
		"local_retain_bytes": func(c *Config) { c.Tiering.LocalRetainBytes = 1 << 40 },
		"block_size":         func(c *Config) { c.Tiering.BlockSize = 1 },
		"cache_bytes":        func(c *Config) { c.Tiering.CacheBytes = 1 },
		"compaction_target":  func(c *Config) { c.Tiering.CompactionTarget = 1 },
		"commit_batch":       func(c *Config) { c.Tiering.CommitBatch = -1 },
		"listen":             func(c *Config) { c.Broker.Listen = "nowhere" },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1048576": 1 << 20, "64KiB": 64 << 10, "8MiB": 8 << 20, "1GiB": 1 << 30, "10MB": 10e6, " 2 gib ": 2 << 30} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "1.5GiB", "99999999999TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	if s := ByteSize(8 << 20).String(); s != "8MiB" {
		t.Errorf("String: %s", s)
	}
}

// TestValidateOrphanGraceMinimum: orphan_grace below an hour is refused
// with a message naming the setting; an hour is accepted.
func TestValidateOrphanGraceMinimum(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tiering.OrphanGrace = Duration(59 * time.Minute)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "orphan_grace") {
		t.Fatalf("orphan_grace 59m: got %v", err)
	}
	cfg.Tiering.OrphanGrace = Duration(time.Hour)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("orphan_grace 1h: %v", err)
	}
}

// TestDeriveFromWALBudget: sizes left unset follow the WAL budget and are
// reported; explicit ones are kept and only contradictions are errors.
func TestDeriveFromWALBudget(t *testing.T) {
	cfg := DefaultConfig()
	d, notes := cfg.Derive()
	if d.WAL.SegmentMaxBytes != 16<<20 || d.Tiering.LocalRetainBytes != 256<<20 || len(notes) != 2 {
		t.Fatalf("default budget: segment %s, retain %s, notes %q", d.WAL.SegmentMaxBytes, d.Tiering.LocalRetainBytes, notes)
	}
	cfg.WAL.MaxBytes = 64 << 20
	if err := cfg.Validate(); err != nil {
		t.Fatalf("wal max_bytes 64MiB with derived defaults: %v", err)
	}
	d, notes = cfg.Derive()
	if d.WAL.SegmentMaxBytes != 16<<20 || d.Tiering.LocalRetainBytes != 16<<20 {
		t.Fatalf("64MiB budget: segment %s, retain %s", d.WAL.SegmentMaxBytes, d.Tiering.LocalRetainBytes)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "local_retain_bytes 16MiB (derived") {
		t.Fatalf("notes: %q", notes)
	}
	cfg.WAL.MaxBytes = 1 << 20
	if d, _ = cfg.Derive(); d.WAL.SegmentMaxBytes != 256<<10 || cfg.Validate() != nil {
		t.Fatalf("1MiB budget: segment %s, %v", d.WAL.SegmentMaxBytes, cfg.Validate())
	}
	cfg.WAL.MaxBytes = 64 << 20
	cfg.Tiering.LocalRetainBytes = 256 << 20 // explicit: a contradiction
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "local_retain_bytes") {
		t.Fatalf("explicit local_retain_bytes above half the budget: %v", err)
	}
	cfg.Tiering.LocalRetainBytes = Auto
	cfg.WAL.SegmentMaxBytes = 32 << 20 // explicit: four do not fit
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "segment_max_bytes 32MiB") {
		t.Fatalf("explicit segment_max_bytes 32MiB in 64MiB: %v", err)
	}
}

func TestObserveConfigValidate(t *testing.T) {
	for want, mutate := range map[string]func(*Config){
		"metrics_listen": func(c *Config) { c.Observe.MetricsListen = "nowhere" },
		"log_format":     func(c *Config) { c.Observe.LogFormat = "xml" },
		"console":        func(c *Config) { c.Observe.Console = true },
		"prices":         func(c *Config) { c.Observe.Prices.ClassAPer1000 = -1 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestConnectionLimitsFromYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shale.yaml")
	body := "broker:\n  max_connections: 1000\n  max_connections_per_ip: 50\n  max_connections_per_ip_overrides:\n    10.0.0.1: 500\n  queued_max_request_bytes: 268435456\n  connections_max_idle: 5m\n  request_read_timeout: 20s\n  quota_window_num: 5\n  quota_window_size: 2s\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker
	if b.MaxConnections != 1000 || b.MaxConnectionsPerIP != 50 || b.MaxConnectionsPerIPOverrides["10.0.0.1"] != 500 ||
		b.QueuedMaxRequestBytes != 256<<20 || b.ConnectionsMaxIdle != 5*time.Minute || b.RequestReadTimeout != 20*time.Second ||
		b.QuotaWindowNum != 5 || b.QuotaWindowSize != 2*time.Second {
		t.Fatalf("broker limits from YAML: %+v", b)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
}
