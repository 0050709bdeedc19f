package metadata

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ConfigType is the value type of a topic config, as Kafka's ConfigDef names it.
type ConfigType uint8

const (
	ConfigTypeString ConfigType = iota + 1
	ConfigTypeInt               // 32-bit signed
	ConfigTypeLong              // 64-bit signed
	ConfigTypeDouble
	ConfigTypeBoolean
	ConfigTypeList // comma-separated
)

func (t ConfigType) String() string {
	switch t {
	case ConfigTypeString:
		return "string"
	case ConfigTypeInt:
		return "int"
	case ConfigTypeLong:
		return "long"
	case ConfigTypeDouble:
		return "double"
	case ConfigTypeBoolean:
		return "boolean"
	case ConfigTypeList:
		return "list"
	}
	return "unknown"
}

// ConfigDef describes one topic config Shale understands.
type ConfigDef struct {
	Name    string
	Type    ConfigType
	Default string // Kafka's default, in string form
	Doc     string // one line

	check func(string) error // range/enum check after the type parse; nil = any
}

// Validate checks value against the config's type and range. The error
// wraps ErrInvalidConfig and names the config.
func (d ConfigDef) Validate(value string) error {
	v := strings.TrimSpace(value)
	var err error
	switch d.Type {
	case ConfigTypeInt:
		_, err = strconv.ParseInt(v, 10, 32)
		if err != nil {
			err = fmt.Errorf("%q is not a 32-bit integer", value)
		}
	case ConfigTypeLong:
		_, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			err = fmt.Errorf("%q is not a 64-bit integer", value)
		}
	case ConfigTypeDouble:
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			err = fmt.Errorf("%q is not a number", value)
		}
	case ConfigTypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			err = fmt.Errorf("%q is not true or false", value)
		}
	}
	if err == nil && d.check != nil {
		err = d.check(v)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, d.Name, err)
	}
	return nil
}

// topicConfigRegistry is built once and only ever read; exported accessors
// hand out copies, so no caller can change it.
var topicConfigRegistry = topicConfigDefs()

// topicConfigDefs builds the registry, sorted by name.
//
// Besides the configs Shale honours it holds those Kafka 3.x accepts but
// ignores or that have no meaning here (message.format.version, the
// replication throttles, ...): tools set them, and a broker refusing them
// with INVALID_CONFIG breaks those tools. Their values are still checked as
// Kafka checks them, stored and described. Adding a config here makes the
// state machine accept it, so every voter must run a build that knows it
// before clients use it.
func topicConfigDefs() []ConfigDef {
	const maxLong = "9223372036854775807"
	return []ConfigDef{
		{Name: "cleanup.policy", Type: ConfigTypeList, Default: "delete",
			Doc:   "How old log data is removed: delete by retention, compact by key, or both.",
			check: listOf("delete", "compact")},
		{Name: "compression.type", Type: ConfigTypeString, Default: "producer",
			Doc:   "Compression of stored batches; producer keeps what the producer sent.",
			check: oneOf("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")},
		{Name: "delete.retention.ms", Type: ConfigTypeLong, Default: "86400000",
			Doc: "How long delete tombstones are kept in compacted topics.", check: atLeast(0)},
		{Name: "file.delete.delay.ms", Type: ConfigTypeLong, Default: "60000",
			Doc: "Delay before a deleted segment is removed from storage.", check: atLeast(0)},
		{Name: "flush.messages", Type: ConfigTypeLong, Default: maxLong,
			Doc: "Accepted for compatibility; Shale's WAL syncs by group commit.", check: atLeast(1)},
		{Name: "flush.ms", Type: ConfigTypeLong, Default: maxLong,
			Doc: "Accepted for compatibility; Shale's WAL syncs by group commit.", check: atLeast(0)},
		{Name: "follower.replication.throttled.replicas", Type: ConfigTypeList, Default: "",
			Doc:   "Accepted and ignored: Shale does not replicate partitions between brokers, so there is nothing to throttle.",
			check: throttledReplicas},
		{Name: "index.interval.bytes", Type: ConfigTypeInt, Default: "4096",
			Doc: "Bytes between entries of the sparse offset index.", check: atLeast(0)},
		{Name: "leader.replication.throttled.replicas", Type: ConfigTypeList, Default: "",
			Doc:   "Accepted and ignored: Shale does not replicate partitions between brokers, so there is nothing to throttle.",
			check: throttledReplicas},
		{Name: "local.retention.bytes", Type: ConfigTypeLong, Default: "-2",
			Doc: "Bytes kept on local disk after upload; -2 means retention.bytes.", check: atLeast(-2)},
		{Name: "local.retention.ms", Type: ConfigTypeLong, Default: "-2",
			Doc: "Time data stays on local disk after upload; -2 means retention.ms.", check: atLeast(-2)},
		{Name: "max.compaction.lag.ms", Type: ConfigTypeLong, Default: maxLong,
			Doc: "Longest time a message stays ineligible for compaction.", check: atLeast(1)},
		{Name: "max.message.bytes", Type: ConfigTypeInt, Default: "1048588",
			Doc: "Largest record batch the broker accepts.", check: atLeast(0)},
		{Name: "message.downconversion.enable", Type: ConfigTypeBoolean, Default: "true",
			Doc: "Accepted and ignored: Shale serves Fetch v4 and later only, which read batches as stored, so it never down-converts."},
		{Name: "message.format.version", Type: ConfigTypeString, Default: "3.0-IV1",
			Doc:   "Accepted and ignored, as by Kafka 3.x: batches are kept in the format producers send (RecordBatch v2).",
			check: kafkaVersion},
		{Name: "message.timestamp.after.max.ms", Type: ConfigTypeLong, Default: maxLong,
			Doc: "How far a CreateTime timestamp may be ahead of broker time.", check: atLeast(0)},
		{Name: "message.timestamp.before.max.ms", Type: ConfigTypeLong, Default: maxLong,
			Doc: "How far a CreateTime timestamp may be behind broker time.", check: atLeast(0)},
		{Name: "message.timestamp.difference.max.ms", Type: ConfigTypeLong, Default: maxLong,
			Doc: "Largest allowed gap between a CreateTime timestamp and broker time.", check: atLeast(0)},
		{Name: "message.timestamp.type", Type: ConfigTypeString, Default: "CreateTime",
			Doc: "Whether record timestamps come from the producer or the broker.", check: oneOf("CreateTime", "LogAppendTime")},
		{Name: "min.cleanable.dirty.ratio", Type: ConfigTypeDouble, Default: "0.5",
			Doc: "Dirty fraction of the log that triggers compaction.", check: between(0, 1)},
		{Name: "min.compaction.lag.ms", Type: ConfigTypeLong, Default: "0",
			Doc: "Shortest time a message stays uncompacted.", check: atLeast(0)},
		{Name: "min.insync.replicas", Type: ConfigTypeInt, Default: "1",
			Doc: "Replicas that must ack with acks=all; Shale's durability is the object store.", check: atLeast(1)},
		{Name: "preallocate", Type: ConfigTypeBoolean, Default: "false",
			Doc: "Accepted for compatibility; Shale does not preallocate segment files."},
		{Name: "remote.storage.enable", Type: ConfigTypeBoolean, Default: "false",
			Doc: "Accepted for compatibility; Shale keeps history in the object store either way."},
		{Name: "retention.bytes", Type: ConfigTypeLong, Default: "-1",
			Doc: "Largest size a partition may reach before old data is deleted; -1 is unlimited.", check: atLeast(-1)},
		{Name: "retention.ms", Type: ConfigTypeLong, Default: "604800000",
			Doc: "Longest time data is kept before deletion; -1 is unlimited.", check: atLeast(-1)},
		{Name: "segment.bytes", Type: ConfigTypeInt, Default: "1073741824",
			Doc: "Size of a compacted single-partition segment.", check: atLeast(14)},
		{Name: "segment.index.bytes", Type: ConfigTypeInt, Default: "10485760",
			Doc: "Size limit of a segment's offset index.", check: atLeast(4)},
		{Name: "segment.jitter.ms", Type: ConfigTypeLong, Default: "0",
			Doc: "Random jitter subtracted from segment.ms.", check: atLeast(0)},
		{Name: "segment.ms", Type: ConfigTypeLong, Default: "604800000",
			Doc: "Time after which a segment is rolled even if not full.", check: atLeast(1)},
		{Name: "unclean.leader.election.enable", Type: ConfigTypeBoolean, Default: "false",
			Doc: "Accepted for compatibility; Shale has no out-of-sync replicas."},
	}
}

// TopicConfigDefs returns the topic configs Shale understands, sorted by name.
// The slice is the caller's own.
func TopicConfigDefs() []ConfigDef { return slices.Clone(topicConfigRegistry) }

// LookupTopicConfig returns the definition of the named topic config.
func LookupTopicConfig(name string) (ConfigDef, bool) {
	defs := topicConfigRegistry
	i, ok := slices.BinarySearchFunc(defs, name, func(d ConfigDef, n string) int { return strings.Compare(d.Name, n) })
	if !ok {
		return ConfigDef{}, false
	}
	return defs[i], true
}

// ValidateTopicConfig checks that name is a known topic config and value is
// valid for it. Errors wrap ErrInvalidConfig.
func ValidateTopicConfig(name, value string) error {
	def, ok := LookupTopicConfig(name)
	if !ok {
		return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, name)
	}
	return def.Validate(value)
}

// validateTopicConfigs checks a whole override map in sorted key order, so
// the first error reported is the same on every node.
func validateTopicConfigs(configs map[string]string) error {
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ValidateTopicConfig(k, configs[k]); err != nil {
			return err
		}
	}
	return nil
}

// throttledReplicas checks a replication throttle list as Kafka does: empty,
// "*", or partition:broker pairs.
func throttledReplicas(v string) error {
	if strings.TrimSpace(v) == "*" {
		return nil
	}
	for _, it := range splitList(v) {
		p, b, ok := strings.Cut(it, ":")
		_, perr := strconv.ParseUint(strings.TrimSpace(p), 10, 31)
		_, berr := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
		if !ok || perr != nil || berr != nil {
			return fmt.Errorf("%q is not partition:broker; want \"*\" or a list of partition:broker", it)
		}
	}
	return nil
}

// kafkaVersion checks a message format version as Kafka 3.x parses one: the
// first three dot-separated parts of a 0.x version, or the first two of a
// later one, must name a Kafka release (optionally with an -IVn suffix);
// anything after them is ignored ("2.8.1" is "2.8").
func kafkaVersion(v string) error {
	parts := strings.Split(v, ".")
	n := 2
	if strings.HasPrefix(v, "0.") {
		n = 3
	}
	key := v
	if len(parts) > n {
		key = strings.Join(parts[:n], ".")
	}
	if !kafkaVersionPattern.MatchString(key) {
		return fmt.Errorf("%q is not a Kafka version such as 2.8 or 3.0-IV1", v)
	}
	return nil
}

// kafkaVersionPattern matches the release versions (and their inter-broker
// protocol variants) that Kafka 3.x knows.
var kafkaVersionPattern = regexp.MustCompile(`^(0\.8\.[0-2]|0\.9\.0|0\.10\.[0-2]|0\.11\.0|1\.[01]|2\.[0-8]|3\.[0-9])(-IV[0-9]+)?$`)

func atLeast(min int64) func(string) error {
	return func(v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < min {
			return fmt.Errorf("%s is below the minimum %d", v, min)
		}
		return nil
	}
}

func between(lo, hi float64) func(string) error {
	return func(v string) error {
		f, _ := strconv.ParseFloat(v, 64)
		if f < lo || f > hi {
			return fmt.Errorf("%s is outside [%g, %g]", v, lo, hi)
		}
		return nil
	}
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(allowed, v) {
			return nil
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func listOf(allowed ...string) func(string) error {
	return func(v string) error {
		items := splitList(v)
		if len(items) == 0 {
			return fmt.Errorf("empty list, want some of %s", strings.Join(allowed, ", "))
		}
		for _, it := range items {
			if !slices.Contains(allowed, it) {
				return fmt.Errorf("%q is not one of %s", it, strings.Join(allowed, ", "))
			}
		}
		return nil
	}
}

// splitList splits a Kafka list value on commas, trimming blanks and
// dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// ConfigOpType is the operation of one IncrementalAlterConfigs entry. The
// values are Kafka's wire codes, so the broker can convert directly.
type ConfigOpType int8

const (
	ConfigOpSet      ConfigOpType = 0 // set the override to Value
	ConfigOpDelete   ConfigOpType = 1 // drop the override; the default applies again
	ConfigOpAppend   ConfigOpType = 2 // list configs: add Value's items not already present
	ConfigOpSubtract ConfigOpType = 3 // list configs: remove Value's items
)

func (o ConfigOpType) String() string {
	switch o {
	case ConfigOpSet:
		return "SET"
	case ConfigOpDelete:
		return "DELETE"
	case ConfigOpAppend:
		return "APPEND"
	case ConfigOpSubtract:
		return "SUBTRACT"
	}
	return fmt.Sprintf("op(%d)", int8(o))
}

// ConfigOp is one change of an IncrementalAlterConfigs request.
type ConfigOp struct {
	Key   string
	Op    ConfigOpType
	Value string
}

// applyConfigOps returns the override map that results from applying ops,
// in order, to current. current is not modified. Following Kafka, APPEND and
// SUBTRACT start from the current value (override, else default), work only
// on list configs, and a key may appear once per request. Every resulting
// value is validated.
func applyConfigOps(current map[string]string, ops []ConfigOp) (map[string]string, error) {
	next := make(map[string]string, len(current)+len(ops))
	for k, v := range current {
		next[k] = v
	}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		def, ok := LookupTopicConfig(op.Key)
		if !ok {
			return nil, fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, op.Key)
		}
		if seen[op.Key] {
			return nil, fmt.Errorf("%w: config %q appears more than once", ErrInvalidRequest, op.Key)
		}
		seen[op.Key] = true
		switch op.Op {
		case ConfigOpSet:
			if err := def.Validate(op.Value); err != nil {
				return nil, err
			}
			next[op.Key] = op.Value
		case ConfigOpDelete:
			delete(next, op.Key)
		case ConfigOpAppend, ConfigOpSubtract:
			if def.Type != ConfigTypeList {
				return nil, fmt.Errorf("%w: %s: %s needs a list config, this one is %s", ErrInvalidConfig, op.Key, op.Op, def.Type)
			}
			base, ok := next[op.Key]
			if !ok {
				base = def.Default
			}
			items := splitList(base)
			for _, it := range splitList(op.Value) {
				if op.Op == ConfigOpAppend && !slices.Contains(items, it) {
					items = append(items, it)
				}
				if op.Op == ConfigOpSubtract {
					items = slices.DeleteFunc(items, func(s string) bool { return s == it })
				}
			}
			v := strings.Join(items, ",")
			if err := def.Validate(v); err != nil {
				return nil, err
			}
			next[op.Key] = v
		default:
			return nil, fmt.Errorf("%w: %s: unknown operation %d", ErrInvalidConfig, op.Key, int8(op.Op))
		}
	}
	return next, nil
}
