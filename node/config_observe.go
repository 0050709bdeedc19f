package node

import (
	"fmt"
	"net"
)

// Auto marks a size setting left to be derived from another one (see
// Derive). It is never a valid explicit value: sizes parse as >= 0.
const Auto ByteSize = -1

// minSegmentBytes is the smallest WAL segment.
const minSegmentBytes = 64 << 10

// Default ceilings of the derived sizes: what a 1GiB WAL gets.
const (
	defaultSegmentBytes     = 16 << 20
	defaultLocalRetainBytes = 256 << 20
)

// Derive returns c with every Auto setting set from the settings it
// depends on, and one line per derived value saying how it was derived
// (printed at start). Settings given explicitly are left alone, so only
// explicit contradictions fail Validate:
//
//   - wal segment_max_bytes: a quarter of wal max_bytes, at most 16MiB and
//     at least 64KiB (the WAL needs room for four segments);
//   - tiering local_retain_bytes: a quarter of wal max_bytes, at most
//     256MiB (at most half may be kept; the rest absorbs uploads that lag).
func (c Config) Derive() (Config, []string) {
	var notes []string
	if c.WAL.SegmentMaxBytes == Auto {
		c.WAL.SegmentMaxBytes = max(min(defaultSegmentBytes, c.WAL.MaxBytes/4), minSegmentBytes)
		notes = append(notes, fmt.Sprintf("wal segment_max_bytes %s (derived: a quarter of wal max_bytes %s, at most %s)",
			c.WAL.SegmentMaxBytes, c.WAL.MaxBytes, ByteSize(defaultSegmentBytes)))
	}
	if c.Tiering.LocalRetainBytes == Auto {
		c.Tiering.LocalRetainBytes = max(min(defaultLocalRetainBytes, c.WAL.MaxBytes/4), 0)
		notes = append(notes, fmt.Sprintf("tiering local_retain_bytes %s (derived: a quarter of wal max_bytes %s, at most %s)",
			c.Tiering.LocalRetainBytes, c.WAL.MaxBytes, ByteSize(defaultLocalRetainBytes)))
	}
	return c, notes
}

// ObserveConfig is how a node shows what it does: the metrics listener
// (Prometheus /metrics, /healthz, /readyz, the cost meter's /v1/cost),
// the log format, and the object store price table of the cost meter.
type ObserveConfig struct {
	// MetricsListen, if set, serves /metrics, /healthz, /readyz and
	// /v1/cost on this host:port. Off by default.
	MetricsListen string `yaml:"metrics_listen"`
	// MetricsPartitionLabels adds per-partition series (consumer lag per
	// partition). Off by default: the series count grows with partitions.
	MetricsPartitionLabels bool `yaml:"metrics_partition_labels"`
	// Console serves the web console under / on the metrics listener.
	Console bool `yaml:"console"`
	// LogFormat is "text" (logfmt) or "json".
	LogFormat string `yaml:"log_format"`
	// Prices is the object store price table of the cost meter.
	Prices PriceConfig `yaml:"prices"`
}

// PriceConfig is an object store's price list in dollars. The defaults
// are S3 Standard's (us-east-1).
type PriceConfig struct {
	ClassAPer1000     float64 `yaml:"class_a_per_1000"`     // PUT, COPY, POST, LIST
	ClassBPer1000     float64 `yaml:"class_b_per_1000"`     // GET, HEAD
	StoragePerGBMonth float64 `yaml:"storage_per_gb_month"` // GB = 10^9 bytes
}

// DefaultObserveConfig has no metrics listener, text logs and S3 Standard
// prices.
func DefaultObserveConfig() ObserveConfig {
	return ObserveConfig{
		LogFormat: "text",
		Prices:    PriceConfig{ClassAPer1000: 0.005, ClassBPer1000: 0.0004, StoragePerGBMonth: 0.023},
	}
}

// Validate reports the first bad setting, naming it.
func (o ObserveConfig) Validate() error {
	if o.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(o.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen %q: want host:port", o.MetricsListen)
		}
	}
	if o.Console && o.MetricsListen == "" {
		return fmt.Errorf("console: needs metrics_listen (the console is served there)")
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format %q: must be text or json", o.LogFormat)
	}
	p := o.Prices
	for name, v := range map[string]float64{"class_a_per_1000": p.ClassAPer1000, "class_b_per_1000": p.ClassBPer1000, "storage_per_gb_month": p.StoragePerGBMonth} {
		if v < 0 || v != v {
			return fmt.Errorf("prices %s %v: must be >= 0", name, v)
		}
	}
	return nil
}
