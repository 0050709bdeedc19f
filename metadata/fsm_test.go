package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// applier feeds commands to an fsm with increasing raft indexes.
type applier struct {
	t     testing.TB
	f     *fsm
	index uint64
}

func newApplier(t testing.TB) *applier { return &applier{t: t, f: newFSM(discardLogger())} }

func (a *applier) raw(data []byte) applyResult {
	a.t.Helper()
	a.index++
	res, ok := a.f.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: data}).(applyResult)
	if !ok {
		a.t.Fatalf("Apply returned a non-applyResult")
	}
	return res
}

func (a *applier) apply(c command) applyResult {
	a.t.Helper()
	b, err := encodeCommand(c)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.raw(b)
}

func (a *applier) must(c command) applyResult {
	a.t.Helper()
	res := a.apply(c)
	if res.err != nil {
		a.t.Fatalf("apply %s: %v", c.commandType(), res.err)
	}
	return res
}

func (a *applier) snapshotBytes() []byte {
	a.t.Helper()
	a.f.mu.RLock()
	defer a.f.mu.RUnlock()
	b, err := encodeSnapshot(a.f.st)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func tid(b byte) TopicID { return TopicID{0: b, 15: 1} }

func TestApplyInitCluster(t *testing.T) {
	a := newApplier(t)
	if res := a.apply(initClusterCmd{ClusterID: "short"}); !errors.Is(res.err, ErrInvalidRequest) {
		t.Fatalf("short cluster id: err %v", res.err)
	}
	first := "AAAAAAAAAAAAAAAAAAAAAA"
	if res := a.must(initClusterCmd{ClusterID: first}); res.clusterID != first {
		t.Fatalf("clusterID %q", res.clusterID)
	}
	// A second proposal (another leader racing) keeps the first id.
	if res := a.must(initClusterCmd{ClusterID: "BBBBBBBBBBBBBBBBBBBBBB"}); res.clusterID != first {
		t.Fatalf("second init returned %q, want %q", res.clusterID, first)
	}
	if a.f.st.clusterID != first {
		t.Fatalf("state cluster id %q", a.f.st.clusterID)
	}
}

func TestApplyRegisterBroker(t *testing.T) {
	a := newApplier(t)
	a.must(registerBrokerCmd{Broker: Broker{ID: 3, Host: "h3", Port: 9092}})
	a.must(registerBrokerCmd{Broker: Broker{ID: 1, Host: "h1", Port: 9092, Rack: "r1"}})
	a.must(registerBrokerCmd{Broker: Broker{ID: 3, Host: "h3b", Port: 9093}}) // re-registration replaces
	// Incarnations are the raft indexes of the registrations.
	want := []Broker{{ID: 1, Host: "h1", Port: 9092, Rack: "r1", Incarnation: 2}, {ID: 3, Host: "h3b", Port: 9093, Incarnation: 3}}
	if got := a.f.st.sortedBrokers(); !reflect.DeepEqual(got, want) {
		t.Fatalf("brokers %+v, want %+v", got, want)
	}
	for _, b := range []Broker{{ID: -1, Host: "h", Port: 1}, {ID: 1, Port: 1}, {ID: 1, Host: "h", Port: 0}, {ID: 1, Host: "h", Port: 70000}} {
		if res := a.apply(registerBrokerCmd{Broker: b}); !errors.Is(res.err, ErrInvalidRequest) {
			t.Errorf("broker %+v: err %v, want ErrInvalidRequest", b, res.err)
		}
	}
}

func TestApplyCreateTopic(t *testing.T) {
	a := newApplier(t)
	// No broker registered: the proposer's id leads.
	res := a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 2, DefaultLeader: 7, Configs: map[string]string{"retention.ms": "1000"}})
	want := Topic{Name: "a", ID: tid(1), Partitions: []Partition{{Leader: 7}, {Leader: 7}}, Configs: map[string]string{"retention.ms": "1000"}}
	if !reflect.DeepEqual(res.topic, want) {
		t.Fatalf("topic %+v, want %+v", res.topic, want)
	}
	// With brokers registered: the lowest id leads.
	a.must(registerBrokerCmd{Broker: Broker{ID: 5, Host: "h", Port: 1}})
	a.must(registerBrokerCmd{Broker: Broker{ID: 2, Host: "h", Port: 1}})
	res = a.must(createTopicCmd{Name: "b", ID: tid(2), Partitions: 1, DefaultLeader: 7})
	if res.topic.Partitions[0].Leader != 2 || res.topic.Partitions[0].LeaderEpoch != 0 {
		t.Fatalf("partition %+v, want leader 2 epoch 0", res.topic.Partitions[0])
	}

	cases := []struct {
		name string
		cmd  createTopicCmd
		want error
	}{
		{"exists", createTopicCmd{Name: "a", ID: tid(9), Partitions: 1}, ErrTopicExists},
		{"bad name", createTopicCmd{Name: "a/b", ID: tid(9), Partitions: 1}, ErrInvalidTopicName},
		{"zero partitions", createTopicCmd{Name: "c", ID: tid(9), Partitions: 0}, ErrInvalidPartitions},
		{"too many partitions", createTopicCmd{Name: "c", ID: tid(9), Partitions: MaxPartitionsPerTopic + 1}, ErrInvalidPartitions},
		{"bad config", createTopicCmd{Name: "c", ID: tid(9), Partitions: 1, Configs: map[string]string{"retention.ms": "soon"}}, ErrInvalidConfig},
		{"unknown config", createTopicCmd{Name: "c", ID: tid(9), Partitions: 1, Configs: map[string]string{"no.such": "1"}}, ErrInvalidConfig},
		{"zero id", createTopicCmd{Name: "c", Partitions: 1}, ErrInvalidRequest},
		{"id in use", createTopicCmd{Name: "c", ID: tid(1), Partitions: 1}, ErrInvalidRequest},
	}
	for _, tc := range cases {
		before := a.snapshotBytes()
		if res := a.apply(tc.cmd); !errors.Is(res.err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, res.err, tc.want)
		}
		if !bytes.Equal(before, a.snapshotBytes()) {
			t.Errorf("%s: rejected command changed the state", tc.name)
		}
	}
}

func TestApplyDeleteTopic(t *testing.T) {
	a := newApplier(t)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 3, DefaultLeader: 1})
	res := a.must(deleteTopicCmd{Name: "a"})
	if res.topic.Name != "a" || len(res.topic.Partitions) != 3 {
		t.Fatalf("deleted topic %+v", res.topic)
	}
	if len(a.f.st.topics) != 0 || len(a.f.st.topicIDs) != 0 {
		t.Fatalf("state still holds the topic: %+v %+v", a.f.st.topics, a.f.st.topicIDs)
	}
	if res := a.apply(deleteTopicCmd{Name: "a"}); !errors.Is(res.err, ErrUnknownTopic) {
		t.Fatalf("second delete: %v", res.err)
	}
	// The name and id are free again.
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 1, DefaultLeader: 1})
}

func TestApplyCreatePartitions(t *testing.T) {
	a := newApplier(t)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 2, DefaultLeader: 4})
	a.must(registerBrokerCmd{Broker: Broker{ID: 3, Host: "h", Port: 1}})
	// Broker 4 never registered: registering 3 hands it 4's partitions
	// (a new epoch), and the new partitions go to the only live broker.
	res := a.must(createPartitionsCmd{Name: "a", NewTotal: 4, DefaultLeader: 4})
	want := []Partition{{Leader: 3, LeaderEpoch: 1}, {Leader: 3, LeaderEpoch: 1}, {Leader: 3}, {Leader: 3}}
	if !reflect.DeepEqual(res.topic.Partitions, want) {
		t.Fatalf("partitions %+v, want %+v", res.topic.Partitions, want)
	}
	for _, n := range []int32{4, 3, -1, MaxPartitionsPerTopic + 1} {
		if res := a.apply(createPartitionsCmd{Name: "a", NewTotal: n}); !errors.Is(res.err, ErrInvalidPartitions) {
			t.Errorf("NewTotal %d: err %v", n, res.err)
		}
	}
	if res := a.apply(createPartitionsCmd{Name: "nope", NewTotal: 9}); !errors.Is(res.err, ErrUnknownTopic) {
		t.Errorf("unknown topic: err %v", res.err)
	}
}

func TestApplyAlterTopicConfigs(t *testing.T) {
	a := newApplier(t)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 1, DefaultLeader: 1, Configs: map[string]string{"retention.ms": "1000", "segment.ms": "5000"}})
	a.must(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{
		{Key: "retention.ms", Op: ConfigOpSet, Value: "2000"},
		{Key: "segment.ms", Op: ConfigOpDelete},
		{Key: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"},
	}})
	want := map[string]string{"retention.ms": "2000", "cleanup.policy": "delete,compact"}
	if got := a.f.st.topics["a"].Configs; !reflect.DeepEqual(got, want) {
		t.Fatalf("configs %v, want %v", got, want)
	}
	a.must(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpSubtract, Value: "delete"}}})
	if got := a.f.st.topics["a"].Configs["cleanup.policy"]; got != "compact" {
		t.Fatalf("cleanup.policy %q after subtract", got)
	}
	before := a.snapshotBytes()
	bad := [][]ConfigOp{
		{{Key: "retention.ms", Op: ConfigOpSet, Value: "x"}},
		{{Key: "retention.ms", Op: ConfigOpSet, Value: "1"}, {Key: "no.such", Op: ConfigOpSet, Value: "1"}},
		{{Key: "retention.ms", Op: ConfigOpAppend, Value: "1"}},
		{{Key: "cleanup.policy", Op: ConfigOpSubtract, Value: "compact"}},
		{{Key: "retention.ms", Op: 9}},
	}
	for i, ops := range bad {
		if res := a.apply(alterTopicConfigsCmd{Name: "a", Ops: ops}); !errors.Is(res.err, ErrInvalidConfig) {
			t.Errorf("case %d: err %v, want ErrInvalidConfig", i, res.err)
		}
	}
	if res := a.apply(alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "retention.ms", Value: "1"}, {Key: "retention.ms", Value: "2"}}}); !errors.Is(res.err, ErrInvalidRequest) {
		t.Errorf("duplicate key: err %v", res.err)
	}
	if !bytes.Equal(before, a.snapshotBytes()) {
		t.Fatal("rejected alter changed the state (ops must apply all or nothing)")
	}
	if res := a.apply(alterTopicConfigsCmd{Name: "nope"}); !errors.Is(res.err, ErrUnknownTopic) {
		t.Errorf("unknown topic: err %v", res.err)
	}
}

func TestApplyAllocateProducerIDs(t *testing.T) {
	a := newApplier(t)
	if got := a.must(allocateProducerIDsCmd{Count: 10}).producerID; got != 0 {
		t.Fatalf("first block at %d, want 0", got)
	}
	if got := a.must(allocateProducerIDsCmd{Count: 1}).producerID; got != 10 {
		t.Fatalf("second block at %d, want 10", got)
	}
	for _, n := range []int64{0, -5, MaxProducerIDBlock + 1} {
		if res := a.apply(allocateProducerIDsCmd{Count: n}); !errors.Is(res.err, ErrInvalidRequest) {
			t.Errorf("count %d: err %v", n, res.err)
		}
	}
	a.f.st.nextProducerID = 1<<63 - 5
	if res := a.apply(allocateProducerIDsCmd{Count: 10}); !errors.Is(res.err, ErrInvalidRequest) {
		t.Fatalf("exhausted: err %v", res.err)
	}
	if got := a.must(allocateProducerIDsCmd{Count: 4}).producerID; got != 1<<63-5 {
		t.Fatalf("last block at %d", got)
	}
}

func TestApplyBadCommandBytes(t *testing.T) {
	a := newApplier(t)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 1, DefaultLeader: 1})
	before := a.snapshotBytes()
	good, _ := encodeCommand(deleteTopicCmd{Name: "a"})
	cases := []struct {
		name    string
		data    []byte
		unknown bool // want ErrUnknownCommand
	}{
		{"empty", nil, false},
		{"one byte", []byte{4}, false},
		{"unknown type", append([]byte{200, 1}, good[2:]...), true},
		{"type zero", append([]byte{0, 1}, good[2:]...), true},
		{"unknown version", append([]byte{4, 3}, good[2:]...), true},
		{"v1 body with a v2 field", append([]byte{4, 1}, good[2:]...), false},
		{"bad json", []byte{4, 1, '{'}, false},
		{"unknown field", []byte(`` + "\x04\x01" + `{"Name":"a","Extra":1}`), false},
		{"trailing data", append(append([]byte{}, good...), []byte(`{}`)...), false},
		{"wrong field type", []byte("\x04\x01" + `{"Name":5}`), false},
	}
	for _, tc := range cases {
		res := a.raw(tc.data)
		if res.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := errors.Is(res.err, ErrUnknownCommand); got != tc.unknown {
			t.Errorf("%s: errors.Is(ErrUnknownCommand) = %v (%v)", tc.name, got, res.err)
		}
	}
	if !bytes.Equal(before, a.snapshotBytes()) {
		t.Fatal("bad command bytes changed the state")
	}
	// Non-command raft entries are ignored.
	if res := a.f.Apply(&raft.Log{Index: 99, Type: raft.LogConfiguration, Data: []byte{1, 2}}).(applyResult); res.err != nil {
		t.Fatalf("configuration entry: %v", res.err)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	cmds := []command{
		initClusterCmd{ClusterID: "AAAAAAAAAAAAAAAAAAAAAA"},
		registerBrokerCmd{Broker: Broker{ID: 1, Host: "h", Port: 9092, Rack: "r"}},
		createTopicCmd{Name: "t", ID: tid(3), Partitions: 3, Configs: map[string]string{"retention.ms": "1"}, DefaultLeader: 2},
		deleteTopicCmd{Name: "t"},
		createPartitionsCmd{Name: "t", NewTotal: 9, DefaultLeader: 1},
		alterTopicConfigsCmd{Name: "t", Ops: []ConfigOp{{Key: "k", Op: ConfigOpSubtract, Value: "v"}}},
		allocateProducerIDsCmd{Count: 1000},
		deleteTopicCmd{Name: "t", Now: 1_700_000_000_000},
		commitObjectCmd{Key: "wal/1", Size: 4096, Broker: 2, Now: 77, Extents: []Extent{
			{Topic: tid(3), Partition: 1, BaseOffset: 100, LastOffset: 199, Object: "wal/1", Pos: 0, Len: 2000, MaxTimestamp: 1_700_000_000_000, LeaderEpoch: 4},
			{Topic: tid(4), Partition: 0, BaseOffset: 0, LastOffset: 0, Object: "wal/1", Pos: 2000, Len: 96, MaxTimestamp: -1},
			{Topic: tid(3), Partition: 2, BaseOffset: 1 << 40, LastOffset: 1<<40 + 5, Object: "wal/1", Pos: 2096, Len: 2000},
		}},
		commitObjectCmd{Key: "empty", Size: 1},
		commitObjectsCmd{Commits: []commitObjectCmd{
			{Key: "wal/2", Size: 100, Broker: 2, Now: 78, Extents: []Extent{
				{Topic: tid(3), Partition: 1, BaseOffset: 200, LastOffset: 209, Object: "wal/2", Len: 100, MaxTimestamp: 5, LeaderEpoch: 4},
			}},
			{Key: "empty", Size: 1},
		}},
		replaceExtentsCmd{New: Extent{Topic: tid(3), Partition: 1, BaseOffset: 0, LastOffset: 199, Object: "c/1", Len: 9}, ObjectSize: 9, Now: 5},
		truncatePartitionCmd{Topic: tid(3), Partition: 2, NewLogStart: 77, Now: 6},
		forgetObjectsCmd{Keys: []string{"a", "b"}},
		commitOffsetsCmd{Group: "g", Offsets: map[TopicPartition]CommittedOffset{
			{"t", 0}: {Offset: 5, LeaderEpoch: -1, Metadata: "meta", CommitTime: 100},
			{"t", 1}: {Offset: 6, CommitTime: 90},
			{"s", 3}: {Offset: -1, LeaderEpoch: 7, CommitTime: 1 << 50},
		}},
		commitOffsetsCmd{Group: "empty", Offsets: map[TopicPartition]CommittedOffset{}},
		deleteGroupOffsetsCmd{Group: "g", Parts: []TopicPartition{{"t", 1}}},
		deleteGroupOffsetsCmd{Group: "g", All: true},
		expireGroupOffsetsCmd{Group: "g", CommittedBefore: 99},
	}
	for _, c := range cmds {
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != byte(c.commandType()) || b[1] != c.commandType().version() {
			t.Fatalf("%s: header % x", c.commandType(), b[:2])
		}
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("%s: %v", c.commandType(), err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("%s: got %+v, want %+v", c.commandType(), got, c)
		}
	}
}

// commandLog is a fixed mixed sequence, including rejected commands.
func commandLog() []command {
	var cmds []command
	cmds = append(cmds, initClusterCmd{ClusterID: "AAAAAAAAAAAAAAAAAAAAAA"})
	for i := range 5 {
		cmds = append(cmds, registerBrokerCmd{Broker: Broker{ID: int32(5 - i), Host: fmt.Sprintf("b%d", i), Port: 9092}})
	}
	for i := range 40 {
		name := fmt.Sprintf("topic-%02d", i%30) // some repeat: ErrTopicExists
		cmds = append(cmds, createTopicCmd{Name: name, ID: tid(byte(i + 1)), Partitions: int32(i%4 + 1), DefaultLeader: 1,
			Configs: map[string]string{"retention.ms": fmt.Sprint(i * 1000), "cleanup.policy": "compact", "segment.ms": "100"}})
		if i%3 == 0 {
			cmds = append(cmds, createPartitionsCmd{Name: name, NewTotal: int32(i%4 + 3)})
		}
		if i%5 == 0 {
			cmds = append(cmds, alterTopicConfigsCmd{Name: name, Ops: []ConfigOp{{Key: "cleanup.policy", Op: ConfigOpAppend, Value: "delete"}, {Key: "segment.ms", Op: ConfigOpDelete}}})
		}
		if i%7 == 0 {
			cmds = append(cmds, deleteTopicCmd{Name: fmt.Sprintf("topic-%02d", i/2)})
		}
		cmds = append(cmds, allocateProducerIDsCmd{Count: int64(i + 1)})
	}
	return cmds
}

func TestDecodeDeleteTopicVersion1(t *testing.T) {
	c, err := decodeCommand([]byte("\x04\x01" + `{"Name":"a"}`))
	if err != nil || !reflect.DeepEqual(c, deleteTopicCmd{Name: "a"}) {
		t.Fatalf("v1 DeleteTopic decoded to %+v, %v", c, err)
	}
}

func TestApplyDeterministic(t *testing.T) {
	a, b := newApplier(t), newApplier(t)
	for _, c := range commandLog() {
		ra, rb := a.apply(c), b.apply(c)
		if fmt.Sprint(ra.err) != fmt.Sprint(rb.err) || !reflect.DeepEqual(ra.topic, rb.topic) || ra.producerID != rb.producerID {
			t.Fatalf("%s: results differ: %+v vs %+v", c.commandType(), ra, rb)
		}
	}
	sa, sb := a.snapshotBytes(), b.snapshotBytes()
	if !bytes.Equal(sa, sb) {
		t.Fatal("two FSMs fed the same log hold different snapshots")
	}
	if len(a.f.st.topics) == 0 || a.f.st.nextProducerID == 0 {
		t.Fatal("command log left no state: test is not exercising apply")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

func TestSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 10, len(commandLog())} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a := newApplier(t)
			for _, c := range commandLog()[:n] {
				a.apply(c)
			}
			snap, err := a.f.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			// Apply continues while Persist runs on the copy.
			a.apply(allocateProducerIDsCmd{Count: 1})
			var sink memSink
			if err := snap.Persist(&sink); err != nil {
				t.Fatal(err)
			}
			snap.Release()
			if !sink.closed || sink.canceled {
				t.Fatalf("sink closed=%v canceled=%v", sink.closed, sink.canceled)
			}

			b := newApplier(t)
			b.must(createTopicCmd{Name: "stale", ID: tid(200), Partitions: 1}) // Restore must discard it
			changed := b.f.changed
			if err := b.f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
				t.Fatal(err)
			}
			select {
			case <-changed:
			default:
				t.Fatal("Restore did not signal Changed")
			}
			want := newApplier(t)
			for _, c := range commandLog()[:n] {
				want.apply(c)
			}
			if !reflect.DeepEqual(b.f.st, want.f.st) {
				t.Fatalf("restored state differs:\n got %+v\nwant %+v", b.f.st, want.f.st)
			}
			if !bytes.Equal(b.snapshotBytes(), sink.Bytes()) {
				t.Fatal("re-encoding the restored state gives different bytes")
			}
		})
	}
}

func TestSnapshotCorruption(t *testing.T) {
	a := newApplier(t)
	for _, c := range commandLog()[:20] {
		a.apply(c)
	}
	good := a.snapshotBytes()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":       nil,
		"magic":       mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version":     mutate(func(b []byte) []byte { b[5] = 9; return b }),
		"length":      mutate(func(b []byte) []byte { b[13]++; return b }),
		"body bit":    mutate(func(b []byte) []byte { b[snapshotHeaderSz+3] ^= 1; return b }),
		"crc":         mutate(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }),
		"truncated":   good[:len(good)-1],
		"extra bytes": append(append([]byte(nil), good...), 0),
	}
	for name, b := range cases {
		_, err := decodeSnapshot(b, "test.snap")
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Where != "test.snap" {
			t.Errorf("%s: err %v, want *CorruptionError naming test.snap", name, err)
		}
	}
	// Valid framing around a body that breaks an invariant is rejected too.
	invalid := []string{
		`{"ClusterID":"","NextProducerID":-1,"Brokers":[],"Topics":[]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[{"ID":1,"Host":"h","Port":1,"Rack":""},{"ID":1,"Host":"h","Port":1,"Rack":""}],"Topics":[]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a b","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":0}],"Configs":{}}]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"00000000-0000-0000-0000-000000000000","Partitions":[{"Leader":1,"LeaderEpoch":0}],"Configs":{}}]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[],"Configs":{}}]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":0}],"Configs":{"retention.ms":"x"}}]}`,
		`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[{"Name":"a","ID":"01000000-0000-0000-0000-000000000001","Partitions":[{"Leader":1,"LeaderEpoch":-1}],"Configs":{}}]}`,
		`{"ClusterID":"x","NextProducerID":0,"Brokers":[],"Topics":[]}`,
	}
	for i, body := range invalid {
		if _, err := decodeSnapshot(frameSnapshot([]byte(body)), "s"); err == nil {
			t.Errorf("invalid body %d accepted", i)
		}
	}
	if _, err := decodeSnapshot(frameSnapshot([]byte(`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[]}`)), "s"); err != nil {
		t.Fatalf("valid empty body rejected: %v", err)
	}
}

// frameSnapshot wraps a version-1 (JSON) body in a valid header and trailer.
func frameSnapshot(body []byte) []byte {
	return frameSnapshotVersion(snapshotVersion1, body)
}

func frameSnapshotVersion(version byte, body []byte) []byte {
	b, _ := encodeSnapshot(newState())
	b = b[:snapshotHeaderSz]
	b[4], b[5] = 0, version
	b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13] = 0, 0, 0, 0, byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	b = append(b, body...)
	return appendCRC(b)
}

func appendCRC(b []byte) []byte {
	crc := crc32Castagnoli(b[4:])
	return append(b, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

func TestChangedClosesOnChangeOnly(t *testing.T) {
	a := newApplier(t)
	ch := a.f.changed
	a.apply(deleteTopicCmd{Name: "missing"}) // rejected: no change
	select {
	case <-ch:
		t.Fatal("Changed closed by a rejected command")
	default:
	}
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 1})
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed after a change")
	}
	if a.f.changed == ch {
		t.Fatal("Changed channel not replaced")
	}
}
