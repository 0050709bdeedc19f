package metadata

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testConfig(t testing.TB, dir string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.HeartbeatTimeout = 50 * time.Millisecond
	cfg.ElectionTimeout = 50 * time.Millisecond
	cfg.Logger = discardLogger()
	return cfg
}

func openTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Fatalf("default config without Dir: %v", err)
	}
	good := DefaultConfig()
	good.Dir = "/tmp/x"
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.NodeID = -1 },
		func(c *Config) { c.RaftAddr = "no-port" },
		func(c *Config) { c.RaftAdvertiseAddr = "127.0.0.1:1" }, // without RaftAddr
		func(c *Config) { c.ApplyTimeout = 0 },
		func(c *Config) { c.StartTimeout = -1 },
		func(c *Config) { c.SnapshotThreshold = 0 },
		func(c *Config) { c.SnapshotRetain = 0 },
		func(c *Config) { c.HeartbeatTimeout = time.Millisecond },
		func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 },
	}
	for i, f := range bad {
		c := good
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
	if _, err := Open(DefaultConfig()); err == nil {
		t.Fatal("Open accepted a config without Dir")
	}
}

func TestStoreSingleNode(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, testConfig(t, t.TempDir()))
	if !s.IsLeader() || s.ControllerID() != 1 {
		t.Fatalf("after Open: leader=%v controller=%d", s.IsLeader(), s.ControllerID())
	}
	if id := s.ClusterID(); len(id) != 22 || validateClusterID(id) != nil {
		t.Fatalf("cluster id %q", id)
	}

	changed := s.Changed()
	tp, err := s.CreateTopic(ctx, "orders", 3, map[string]string{"retention.ms": "60000"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by CreateTopic")
	}
	if tp.ID.IsZero() || len(tp.Partitions) != 3 || tp.Partitions[2] != (Partition{Leader: 1}) || tp.ConfigInt64("retention.ms") != 60000 {
		t.Fatalf("created topic %+v", tp)
	}
	if got, ok := s.Topic("orders"); !ok || !reflect.DeepEqual(got, tp) {
		t.Fatalf("Topic = %+v, %v", got, ok)
	}
	if got, ok := s.TopicByID(tp.ID); !ok || got.Name != "orders" {
		t.Fatalf("TopicByID = %+v, %v", got, ok)
	}
	// Reads return copies.
	got, _ := s.Topic("orders")
	got.Partitions[0].Leader = 42
	got.Configs["retention.ms"] = "1"
	if again, _ := s.Topic("orders"); again.Partitions[0].Leader != 1 || again.Configs["retention.ms"] != "60000" {
		t.Fatal("mutating a returned topic changed the store")
	}

	if _, err := s.RegisterBroker(ctx, Broker{ID: 1, Host: "localhost", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterBroker(ctx, Broker{ID: 0, Host: "localhost", Port: 9093, Rack: "a"}); err != nil {
		t.Fatal(err)
	}
	if bs := s.Brokers(); len(bs) != 2 || bs[0].ID != 0 || bs[1].ID != 1 {
		t.Fatalf("Brokers = %+v", bs)
	}
	// With brokers registered, the lowest id leads new partitions.
	tp2, err := s.CreateTopic(ctx, "audit", 1, nil)
	if err != nil || tp2.Partitions[0].Leader != 0 {
		t.Fatalf("audit: %+v, %v", tp2, err)
	}
	if ts := s.Topics(); len(ts) != 2 || ts[0].Name != "audit" || ts[1].Name != "orders" {
		t.Fatalf("Topics not sorted: %+v", ts)
	}

	grown, err := s.CreatePartitions(ctx, "orders", 5)
	if err != nil || len(grown.Partitions) != 5 || grown.Partitions[4].Leader != 0 || grown.Partitions[0].Leader != 1 {
		t.Fatalf("CreatePartitions: %+v, %v", grown, err)
	}

	ops := []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpSet, Value: "compact"}}
	if err := s.AlterTopicConfigs(ctx, "orders", ops, true); err != nil {
		t.Fatal(err)
	}
	if tp, _ := s.Topic("orders"); tp.Config("cleanup.policy") != "delete" {
		t.Fatal("validateOnly changed the config")
	}
	if err := s.AlterTopicConfigs(ctx, "orders", ops, false); err != nil {
		t.Fatal(err)
	}
	if tp, _ := s.Topic("orders"); tp.Config("cleanup.policy") != "compact" {
		t.Fatalf("config after alter: %v", tp.Configs)
	}

	first, err := s.AllocateProducerIDs(ctx, 1000)
	if err != nil || first != 0 {
		t.Fatalf("AllocateProducerIDs = %d, %v", first, err)
	}
	second, err := s.AllocateProducerIDs(ctx, 1)
	if err != nil || second != 1000 {
		t.Fatalf("second AllocateProducerIDs = %d, %v", second, err)
	}

	deleted, err := s.DeleteTopic(ctx, "audit")
	if err != nil || deleted.ID != tp2.ID {
		t.Fatalf("DeleteTopic = %+v, %v", deleted, err)
	}
	if _, ok := s.TopicByID(tp2.ID); ok {
		t.Fatal("deleted topic still found by id")
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, testConfig(t, t.TempDir()))
	if _, err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"exists", second(s.CreateTopic(ctx, "t", 1, nil)), ErrTopicExists},
		{"bad name", second(s.CreateTopic(ctx, "..", 1, nil)), ErrInvalidTopicName},
		{"long name", second(s.CreateTopic(ctx, strings.Repeat("a", 250), 1, nil)), ErrInvalidTopicName},
		{"zero partitions", second(s.CreateTopic(ctx, "u", 0, nil)), ErrInvalidPartitions},
		{"-1 partitions", second(s.CreateTopic(ctx, "u", -1, nil)), ErrInvalidPartitions},
		{"bad config", second(s.CreateTopic(ctx, "u", 1, map[string]string{"retention.ms": "x"})), ErrInvalidConfig},
		{"unknown config", second(s.CreateTopic(ctx, "u", 1, map[string]string{"retention": "1"})), ErrInvalidConfig},
		{"delete unknown", second(s.DeleteTopic(ctx, "nope")), ErrUnknownTopic},
		{"grow unknown", second(s.CreatePartitions(ctx, "nope", 3)), ErrUnknownTopic},
		{"shrink", second(s.CreatePartitions(ctx, "t", 1)), ErrInvalidPartitions},
		{"alter unknown", s.AlterTopicConfigs(ctx, "nope", nil, false), ErrUnknownTopic},
		{"alter bad", s.AlterTopicConfigs(ctx, "t", []ConfigOp{{Key: "segment.ms", Value: "0"}}, true), ErrInvalidConfig},
		{"pid count", second(s.AllocateProducerIDs(ctx, 0)), ErrInvalidRequest},
		{"bad broker", second(s.RegisterBroker(ctx, Broker{ID: 1, Host: "", Port: 1})), ErrInvalidRequest},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CreateTopic(canceled, "v", 1, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	if _, ok := s.Topic("v"); ok {
		t.Error("topic created despite canceled context")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.AllocateProducerIDs(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, ok := s.Topic("t"); !ok {
		t.Error("reads after Close should return the last state")
	}
}

func second[T any](_ T, err error) error { return err }

func TestStoreRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clusterID := s.ClusterID()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := s.CreateTopic(ctx, name, 2, map[string]string{"retention.bytes": "1000"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreatePartitions(ctx, "b", 4); err != nil {
		t.Fatal(err)
	}
	firstPID, err := s.AllocateProducerIDs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	nextPID := firstPID + 10 // every later allocation must start here or above
	a, _ := s.Topic("a")
	for i := range int64(4) {
		_, err := s.CommitObject(ctx, ObjectCommit{Key: fmt.Sprintf("wal/%d", i), Size: 100, Now: 10 + i, Extents: []Extent{
			{Topic: a.ID, Partition: 0, BaseOffset: 10 * i, LastOffset: 10*i + 9, Len: 50},
			{Topic: a.ID, Partition: 1, BaseOffset: 5 * i, LastOffset: 5*i + 4, Pos: 50, Len: 50},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TruncatePartition(ctx, a.ID, 1, 12, 50); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncatePartition(ctx, a.ID, 0, 15, 51); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets(ctx, "g", map[TopicPartition]CommittedOffset{{"b", 3}: {Offset: 7, Metadata: "m", CommitTime: 60}}); err != nil {
		t.Fatal(err)
	}
	type catalogView struct {
		Logs    []PartitionLog
		Extents [][]Extent
		Garbage []GarbageObject
		Offsets map[TopicPartition]CommittedOffset
		Groups  []string
	}
	view := func(s *Store) catalogView {
		var v catalogView
		for _, tp := range s.Topics() {
			for p := range tp.Partitions {
				pl, _ := s.PartitionLog(tp.ID, int32(p))
				v.Logs = append(v.Logs, pl)
				v.Extents = append(v.Extents, s.Extents(tp.ID, int32(p), 0, 100))
			}
		}
		v.Garbage, v.Offsets, v.Groups = s.GarbageObjects(), s.GroupOffsets("g"), s.GroupsWithOffsets()
		return v
	}
	catalog := view(s)
	if len(catalog.Garbage) == 0 || len(catalog.Offsets) != 1 || catalog.Logs[0].End != 40 {
		t.Fatalf("catalog before restart: %+v", catalog)
	}
	topics := s.Topics()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	restart := func(step string) *Store {
		t.Helper()
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("%s: reopen: %v", step, err)
		}
		if got := s.ClusterID(); got != clusterID {
			t.Fatalf("%s: cluster id %q, want %q", step, got, clusterID)
		}
		if got := s.Topics(); !reflect.DeepEqual(got, topics) {
			t.Fatalf("%s: topics\n got %+v\nwant %+v", step, got, topics)
		}
		if got := view(s); !reflect.DeepEqual(got, catalog) {
			t.Fatalf("%s: catalog\n got %+v\nwant %+v", step, got, catalog)
		}
		pid, err := s.AllocateProducerIDs(ctx, 5)
		if err != nil || pid < nextPID {
			t.Fatalf("%s: producer id %d, want >= %d (err %v)", step, pid, nextPID, err)
		}
		nextPID = pid + 5
		return s
	}

	// Restart replaying the log.
	s = restart("log replay")
	// Snapshot, write more, restart from snapshot plus log tail.
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx, "d", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetObjects(ctx, []string{"wal/0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitObject(ctx, ObjectCommit{Key: "wal/9", Size: 10, Extents: []Extent{{Topic: a.ID, Partition: 0, BaseOffset: 40, LastOffset: 40, Len: 10}}}); err != nil {
		t.Fatal(err)
	}
	topics, catalog = s.Topics(), view(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = restart("snapshot + tail")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreTCPTransportRestart(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	cfg.RaftAddr = "127.0.0.1:0"
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := s.CreateTopic(ctx, "tcp", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A new ephemeral port: the sole voter is found by id, not address.
	s = openTestStore(t, cfg)
	if got, ok := s.Topic("tcp"); !ok || !reflect.DeepEqual(got, tp) {
		t.Fatalf("after restart: %+v, %v", got, ok)
	}
	if !s.IsLeader() {
		t.Fatal("restarted sole voter is not leader")
	}
}
