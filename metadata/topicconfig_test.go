package metadata

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestValidateTopicConfig(t *testing.T) {
	cases := []struct {
		name, value string
		ok          bool
	}{
		{"cleanup.policy", "delete", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "delete,compact", true},
		{"cleanup.policy", "compact, delete", true},
		{"cleanup.policy", "", false},
		{"cleanup.policy", "remove", false},
		{"cleanup.policy", "delete,shred", false},
		{"retention.ms", "-1", true},
		{"retention.ms", "604800000", true},
		{"retention.ms", "-2", false},
		{"retention.ms", "1.5", false},
		{"retention.ms", "soon", false},
		{"retention.ms", "9223372036854775808", false},
		{"retention.bytes", "-1", true},
		{"retention.bytes", "-3", false},
		{"max.message.bytes", "0", true},
		{"max.message.bytes", "1048588", true},
		{"max.message.bytes", "-1", false},
		{"max.message.bytes", "2147483648", false}, // int, not long
		{"segment.bytes", "14", true},
		{"segment.bytes", "13", false},
		{"segment.ms", "1", true},
		{"segment.ms", "0", false},
		// Accepted and ignored, as by Kafka 3.x, but still checked.
		{"message.format.version", "3.0-IV1", true},
		{"message.format.version", "2.8", true},
		{"message.format.version", "2.8.1", true},
		{"message.format.version", "0.10.2", true},
		{"message.format.version", "0.10.2-IV0", true},
		{"message.format.version", "0.11.0.2", true},
		{"message.format.version", "0.7", false},
		{"message.format.version", "banana", false},
		{"message.format.version", "", false},
		{"message.downconversion.enable", "false", true},
		{"message.downconversion.enable", "no", false},
		{"leader.replication.throttled.replicas", "", true},
		{"leader.replication.throttled.replicas", "*", true},
		{"leader.replication.throttled.replicas", "0:1,1:2", true},
		{"follower.replication.throttled.replicas", "0:1, 3:4", true},
		{"follower.replication.throttled.replicas", "0-1", false},
		{"follower.replication.throttled.replicas", "x:1", false},
		{"message.timestamp.type", "CreateTime", true},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "createtime", false},
		{"compression.type", "zstd", true},
		{"compression.type", "producer", true},
		{"compression.type", "brotli", false},
		{"min.insync.replicas", "1", true},
		{"min.insync.replicas", "0", false},
		{"local.retention.ms", "-2", true},
		{"local.retention.ms", "-3", false},
		{"local.retention.bytes", "-2", true},
		{"delete.retention.ms", "0", true},
		{"delete.retention.ms", "-1", false},
		{"min.compaction.lag.ms", "0", true},
		{"file.delete.delay.ms", "60000", true},
		{"unclean.leader.election.enable", "true", true},
		{"unclean.leader.election.enable", "FALSE", true},
		{"unclean.leader.election.enable", "yes", false},
		{"message.timestamp.difference.max.ms", "9223372036854775807", true},
		{"message.timestamp.difference.max.ms", "-1", false},
		{"min.cleanable.dirty.ratio", "0.5", true},
		{"min.cleanable.dirty.ratio", "1", true},
		{"min.cleanable.dirty.ratio", "1.01", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"min.cleanable.dirty.ratio", "half", false},
		{"no.such.config", "1", false},
		{"", "1", false},
	}
	for _, tc := range cases {
		err := ValidateTopicConfig(tc.name, tc.value)
		if tc.ok && err != nil {
			t.Errorf("%s=%q: unexpected error %v", tc.name, tc.value, err)
		}
		if !tc.ok {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%s=%q: err %v, want ErrInvalidConfig", tc.name, tc.value, err)
			} else if tc.name != "" && !strings.Contains(err.Error(), tc.name) {
				t.Errorf("%s=%q: error %q does not name the config", tc.name, tc.value, err)
			}
		}
	}
}

func TestTopicConfigDefs(t *testing.T) {
	defs := TopicConfigDefs()
	required := []string{"cleanup.policy", "retention.ms", "retention.bytes", "max.message.bytes", "segment.bytes", "segment.ms",
		"message.timestamp.type", "compression.type", "min.insync.replicas", "local.retention.ms", "local.retention.bytes",
		"delete.retention.ms", "min.compaction.lag.ms", "file.delete.delay.ms", "unclean.leader.election.enable",
		"message.timestamp.difference.max.ms", "min.cleanable.dirty.ratio"}
	for _, name := range required {
		if _, ok := LookupTopicConfig(name); !ok {
			t.Errorf("%s missing from the registry", name)
		}
	}
	if !slices.IsSortedFunc(defs, func(a, b ConfigDef) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("registry not sorted by name (LookupTopicConfig binary-searches it)")
	}
	for i, d := range defs {
		if i > 0 && defs[i-1].Name == d.Name {
			t.Errorf("%s defined twice", d.Name)
		}
		if d.Doc == "" || d.Type.String() == "unknown" {
			t.Errorf("%s: missing doc or type", d.Name)
		}
		if err := d.Validate(d.Default); err != nil {
			t.Errorf("%s: default %q fails its own validation: %v", d.Name, d.Default, err)
		}
	}
	if d, _ := LookupTopicConfig("max.message.bytes"); d.Default != "1048588" || d.Type != ConfigTypeInt {
		t.Errorf("max.message.bytes def %+v", d)
	}
	defs[0].Name = "mutated"
	if TopicConfigDefs()[0].Name == "mutated" {
		t.Fatal("TopicConfigDefs exposes the shared registry")
	}
}

func TestTopicConfigAccessors(t *testing.T) {
	tp := Topic{Configs: map[string]string{"retention.ms": "1234", "cleanup.policy": "compact,delete", "unclean.leader.election.enable": "TRUE"}}
	if got := tp.Config("retention.ms"); got != "1234" {
		t.Errorf("override: %q", got)
	}
	if got := tp.Config("segment.ms"); got != "604800000" {
		t.Errorf("default: %q", got)
	}
	if got := tp.Config("no.such"); got != "" {
		t.Errorf("unknown: %q", got)
	}
	if got := tp.ConfigInt64("retention.ms"); got != 1234 {
		t.Errorf("ConfigInt64 override: %d", got)
	}
	if got := tp.ConfigInt64("max.message.bytes"); got != 1048588 {
		t.Errorf("ConfigInt64 default: %d", got)
	}
	if got := tp.ConfigInt64("retention.bytes"); got != -1 {
		t.Errorf("ConfigInt64 retention.bytes: %d", got)
	}
	if !tp.ConfigBool("unclean.leader.election.enable") || tp.ConfigBool("preallocate") {
		t.Error("ConfigBool")
	}
	if got := tp.ConfigFloat64("min.cleanable.dirty.ratio"); got != 0.5 {
		t.Errorf("ConfigFloat64: %v", got)
	}
	if got := tp.ConfigList("cleanup.policy"); !reflect.DeepEqual(got, []string{"compact", "delete"}) {
		t.Errorf("ConfigList: %v", got)
	}
}

func TestApplyConfigOps(t *testing.T) {
	cur := map[string]string{"retention.ms": "1", "cleanup.policy": "compact"}
	cases := []struct {
		name string
		ops  []ConfigOp
		want map[string]string
		err  error
	}{
		{"set", []ConfigOp{{Key: "segment.ms", Op: ConfigOpSet, Value: "10"}},
			map[string]string{"retention.ms": "1", "cleanup.policy": "compact", "segment.ms": "10"}, nil},
		{"delete", []ConfigOp{{Key: "retention.ms", Op: ConfigOpDelete}},
			map[string]string{"cleanup.policy": "compact"}, nil},
		{"delete absent", []ConfigOp{{Key: "segment.ms", Op: ConfigOpDelete}}, cur, nil},
		{"append present", []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"}}, cur, nil},
		{"append new", []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpAppend, Value: "delete"}},
			map[string]string{"retention.ms": "1", "cleanup.policy": "compact,delete"}, nil},
		{"subtract to empty", []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpSubtract, Value: "compact"}}, nil, ErrInvalidConfig},
		{"append to scalar", []ConfigOp{{Key: "retention.ms", Op: ConfigOpAppend, Value: "2"}}, nil, ErrInvalidConfig},
		{"subtract scalar", []ConfigOp{{Key: "compression.type", Op: ConfigOpSubtract, Value: "gzip"}}, nil, ErrInvalidConfig},
		{"unknown key", []ConfigOp{{Key: "x.y", Op: ConfigOpDelete}}, nil, ErrInvalidConfig},
		{"bad value", []ConfigOp{{Key: "retention.ms", Op: ConfigOpSet, Value: "-5"}}, nil, ErrInvalidConfig},
		{"unknown op", []ConfigOp{{Key: "retention.ms", Op: 4, Value: "5"}}, nil, ErrInvalidConfig},
		{"duplicate key", []ConfigOp{{Key: "retention.ms", Op: ConfigOpSet, Value: "5"}, {Key: "retention.ms", Op: ConfigOpDelete}}, nil, ErrInvalidRequest},
	}
	for _, tc := range cases {
		got, err := applyConfigOps(cur, tc.ops)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// Appending to an absent list starts from Kafka's default.
	got, err := applyConfigOps(nil, []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"}})
	if err != nil || got["cleanup.policy"] != "delete,compact" {
		t.Errorf("append from default: %v, %v", got, err)
	}
	if cur["retention.ms"] != "1" || len(cur) != 2 {
		t.Fatal("applyConfigOps modified its input")
	}
}

func TestValidateTopicName(t *testing.T) {
	ok := []string{"a", "A.b_c-9", strings.Repeat("x", 249), "..a", "__consumer_offsets"}
	bad := []string{"", ".", "..", strings.Repeat("x", 250), "a b", "a/b", "ä", "a\x00"}
	for _, n := range ok {
		if err := ValidateTopicName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateTopicName(n); !errors.Is(err, ErrInvalidTopicName) {
			t.Errorf("%q: err %v, want ErrInvalidTopicName", n, err)
		}
	}
}

func TestTopicID(t *testing.T) {
	id := TopicID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	s := id.String()
	if s != "01234567-89ab-cdef-fedc-ba9876543210" {
		t.Fatalf("String %q", s)
	}
	for _, in := range []string{s, strings.ReplaceAll(s, "-", ""), strings.ToUpper(s)} {
		got, err := ParseTopicID(in)
		if err != nil || got != id {
			t.Errorf("ParseTopicID(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xyz", s[:35], s + "0", strings.Replace(s, "0", "g", 1)} {
		if _, err := ParseTopicID(in); err == nil {
			t.Errorf("ParseTopicID(%q) accepted", in)
		}
	}
	if !(TopicID{}).IsZero() || id.IsZero() {
		t.Fatal("IsZero")
	}
}
