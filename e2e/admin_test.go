package e2e

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

// topicConfigs describes topic's configs and returns them by name.
func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testContext(t, 30*time.Second), topic)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	if rc.Err != nil {
		t.Fatalf("describe configs of %s: %v (%s)", topic, rc.Err, rc.ErrMessage)
	}
	out := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		out[c.Key] = c
	}
	return out
}

// wantConfig checks one described config's value and whether it is an
// override (DYNAMIC_TOPIC_CONFIG) or the default (DEFAULT_CONFIG).
func wantConfig(t *testing.T, configs map[string]kadm.Config, name, value string, override bool) {
	t.Helper()
	c, ok := configs[name]
	if !ok {
		t.Errorf("config %s not described", name)
		return
	}
	wantSource := kmsg.ConfigSourceDefaultConfig
	if override {
		wantSource = kmsg.ConfigSourceDynamicTopicConfig
	}
	if c.Value == nil || *c.Value != value || c.Source != wantSource {
		got := "<nil>"
		if c.Value != nil {
			got = *c.Value
		}
		t.Errorf("config %s = %q (source %v), want %q (source %v)", name, got, c.Source, value, wantSource)
	}
}

// TestAdminCreateTopics covers CreateTopics: configs, validate-only and
// every refusal a client can provoke.
func TestAdminCreateTopics(t *testing.T) {
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	adm := shaletest.Admin(t, n.Addr())
	ctx := testContext(t, 60*time.Second)

	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": strp("3600000"), "cleanup.policy": strp("compact")}, "with-configs")
	if err != nil {
		t.Fatalf("create with-configs: %v (%s)", err, resp.ErrMessage)
	}
	if resp.NumPartitions != 3 || resp.ReplicationFactor != 1 || resp.ID == (kadm.TopicID{}) {
		t.Errorf("create with-configs: %d partitions, replication %d, id %v; want 3, 1, an id", resp.NumPartitions, resp.ReplicationFactor, resp.ID)
	}
	if c, ok := resp.Configs["retention.ms"]; !ok || c.Value == nil || *c.Value != "3600000" {
		t.Errorf("create response configs lack retention.ms=3600000: %+v", resp.Configs["retention.ms"])
	}
	configs := topicConfigs(t, adm, "with-configs")
	wantConfig(t, configs, "retention.ms", "3600000", true)
	wantConfig(t, configs, "cleanup.policy", "compact", true)
	wantConfig(t, configs, "max.message.bytes", "1048588", false)

	// Validate-only checks and creates nothing.
	vresp, err := adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": strp("1000")}, "validated")
	if err != nil || vresp.Error() != nil {
		t.Fatalf("validate-only create: %v %v", err, vresp.Error())
	}
	if r := vresp["validated"]; r.NumPartitions != 2 {
		t.Errorf("validate-only create: %d partitions in the response, want 2", r.NumPartitions)
	}
	vresp, err = adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": strp("soon")}, "validated")
	if err != nil || !errors.Is(vresp.Error(), kerr.InvalidConfig) {
		t.Errorf("validate-only create with a bad config: %v %v, want INVALID_CONFIG", err, vresp.Error())
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md.Topics["validated"]; ok {
		t.Errorf("validate-only create created the topic")
	}

	refusals := []struct {
		name       string
		topic      string
		partitions int32
		configs    map[string]*string
		want       error
	}{
		{"already exists", "with-configs", 1, nil, kerr.TopicAlreadyExists},
		{"slash in name", "bad/name", 1, nil, kerr.InvalidTopicException},
		{"dot-dot name", "..", 1, nil, kerr.InvalidTopicException},
		{"empty name", "", 1, nil, kerr.InvalidTopicException},
		{"name of 250 bytes", strings.Repeat("x", 250), 1, nil, kerr.InvalidTopicException},
		{"non-ASCII name", "тема", 1, nil, kerr.InvalidTopicException},
		{"bad config value", "bad-value", 1, map[string]*string{"retention.ms": strp("forever")}, kerr.InvalidConfig},
		{"bad enum value", "bad-enum", 1, map[string]*string{"cleanup.policy": strp("shred")}, kerr.InvalidConfig},
		{"unknown config", "unknown-config", 1, map[string]*string{"no.such.config": strp("1")}, kerr.InvalidConfig},
		{"zero partitions", "zero-partitions", 0, nil, kerr.InvalidPartitions},
		{"negative partitions", "negative-partitions", -5, nil, kerr.InvalidPartitions},
	}
	for _, r := range refusals {
		resp, err := adm.CreateTopics(ctx, r.partitions, 1, r.configs, r.topic)
		if err != nil {
			t.Errorf("%s: request failed: %v", r.name, err)
			continue
		}
		got := resp[r.topic]
		if !errors.Is(got.Err, r.want) {
			t.Errorf("%s: create %q: got %v (%s), want %v", r.name, r.topic, got.Err, got.ErrMessage, r.want)
		}
	}
	// Nothing refused may have been created.
	md, err = adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := md.Topics.Names(); !slices.Equal(names, []string{"with-configs"}) {
		t.Errorf("topics after the refusals: %v, want [with-configs]", names)
	}
}

// TestAdminListAndDescribe covers ListTopics, Metadata and DescribeCluster.
func TestAdminListAndDescribe(t *testing.T) {
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	cl := shaletest.Client(t, n.Addr())
	adm := kadm.NewClient(cl)
	ctx := testContext(t, 60*time.Second)
	for name, parts := range map[string]int32{"alpha": 1, "beta": 4, "gamma": 7} {
		shaletest.CreateTopic(t, n.Addr(), name, parts, nil)
	}
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := listed.Names(); !slices.Equal(names, []string{"alpha", "beta", "gamma"}) {
		t.Fatalf("ListTopics: %v", names)
	}
	md, err := adm.Metadata(ctx, "beta", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 {
		t.Fatalf("metadata brokers: %+v", md.Brokers)
	}
	b := md.Brokers[0]
	host, port, _ := net.SplitHostPort(n.Addr())
	if b.Host != host || strconv.Itoa(int(b.Port)) != port {
		t.Errorf("broker %d at %s:%d, want %s", b.NodeID, b.Host, b.Port, n.Addr())
	}
	if md.Controller != b.NodeID || md.Cluster == "" {
		t.Errorf("controller %d cluster %q, want controller %d and a cluster id", md.Controller, md.Cluster, b.NodeID)
	}
	beta := md.Topics["beta"]
	if beta.Err != nil || beta.ID == (kadm.TopicID{}) || len(beta.Partitions) != 4 || beta.IsInternal {
		t.Errorf("beta: err %v id %v partitions %d internal %v", beta.Err, beta.ID, len(beta.Partitions), beta.IsInternal)
	}
	for p, d := range beta.Partitions {
		if d.Leader != b.NodeID || !slices.Equal(d.Replicas, []int32{b.NodeID}) || !slices.Equal(d.ISR, []int32{b.NodeID}) || d.Err != nil {
			t.Errorf("beta/%d: leader %d replicas %v isr %v err %v", p, d.Leader, d.Replicas, d.ISR, d.Err)
		}
	}
	if missing := md.Topics["missing"]; !errors.Is(missing.Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("metadata for a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", missing.Err)
	}

	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("describe cluster: %v", err)
	}
	if resp.ErrorCode != 0 || resp.ClusterID != md.Cluster || resp.ControllerID != b.NodeID || len(resp.Brokers) != 1 {
		t.Fatalf("describe cluster: error %d cluster %q controller %d brokers %+v; want cluster %q controller %d one broker",
			resp.ErrorCode, resp.ClusterID, resp.ControllerID, resp.Brokers, md.Cluster, b.NodeID)
	}
	if rb := resp.Brokers[0]; rb.NodeID != b.NodeID || rb.Host != host || strconv.Itoa(int(rb.Port)) != port {
		t.Errorf("describe cluster broker: %+v, want %d at %s", rb, b.NodeID, n.Addr())
	}
}

// TestAdminConfigs covers DescribeConfigs (defaults against overrides, topic
// and broker), IncrementalAlterConfigs and the legacy AlterConfigs.
func TestAdminConfigs(t *testing.T) {
	t.Parallel()
	const topic = "configured"
	n := shaletest.StartNode(t, nil)
	adm := shaletest.Admin(t, n.Addr())
	ctx := testContext(t, 60*time.Second)
	shaletest.CreateTopic(t, n.Addr(), topic, 1, map[string]*string{"retention.ms": strp("3600000")})

	c := topicConfigs(t, adm, topic)
	wantConfig(t, c, "retention.ms", "3600000", true)
	wantConfig(t, c, "cleanup.policy", "delete", false)
	wantConfig(t, c, "retention.bytes", "-1", false)

	alter := func(what string, want error, ops ...kadm.AlterConfig) {
		t.Helper()
		resps, err := adm.AlterTopicConfigs(ctx, ops, topic)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r, err := resps.On(topic, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !errors.Is(r.Err, want) || (want == nil && r.Err != nil) {
			t.Errorf("%s: %v (%s), want %v", what, r.Err, r.ErrMessage, want)
		}
	}
	alter("set", nil,
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.bytes", Value: strp("1048576")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: strp("compact")},
	)
	c = topicConfigs(t, adm, topic)
	wantConfig(t, c, "retention.bytes", "1048576", true)
	wantConfig(t, c, "retention.ms", "604800000", false)
	wantConfig(t, c, "cleanup.policy", "delete,compact", true)

	alter("subtract", nil, kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: strp("delete")})
	wantConfig(t, topicConfigs(t, adm, topic), "cleanup.policy", "compact", true)

	// Refusals leave every config as it was.
	alter("bad value", kerr.InvalidConfig, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.bytes", Value: strp("lots")})
	alter("unknown config", kerr.InvalidConfig, kadm.AlterConfig{Op: kadm.SetConfig, Name: "no.such.config", Value: strp("1")})
	alter("append to a non-list", kerr.InvalidConfig, kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: strp("1")})
	alter("bad value among good ones", kerr.InvalidConfig,
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: strp("60000")},
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.cleanable.dirty.ratio", Value: strp("2.5")},
	)
	c = topicConfigs(t, adm, topic)
	wantConfig(t, c, "retention.bytes", "1048576", true)
	wantConfig(t, c, "segment.ms", "604800000", false)
	wantConfig(t, c, "cleanup.policy", "compact", true)

	// Validate-only alters nothing.
	if resps, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: strp("60000")}}, topic); err != nil || resps[0].Err != nil {
		t.Errorf("validate-only alter: %v %+v", err, resps)
	}
	wantConfig(t, topicConfigs(t, adm, topic), "segment.ms", "604800000", false)

	// Legacy AlterConfigs replaces the overrides as a whole.
	resps, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: strp("120000")}}, topic)
	if err != nil || len(resps) != 1 || resps[0].Err != nil {
		t.Fatalf("legacy alter: %v %+v", err, resps)
	}
	c = topicConfigs(t, adm, topic)
	wantConfig(t, c, "segment.ms", "120000", true)
	wantConfig(t, c, "retention.bytes", "-1", false)
	wantConfig(t, c, "cleanup.policy", "delete", false)
	resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: strp("-7")}}, topic)
	if err != nil || len(resps) != 1 || !errors.Is(resps[0].Err, kerr.InvalidConfig) {
		t.Errorf("legacy alter with a bad value: %v %+v, want INVALID_CONFIG", err, resps)
	}
	wantConfig(t, topicConfigs(t, adm, topic), "segment.ms", "120000", true)

	// Unknown topics.
	if resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: strp("60000")}}, "missing"); err != nil || len(resps) != 1 || !errors.Is(resps[0].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("alter configs of a missing topic: %v %+v, want UNKNOWN_TOPIC_OR_PARTITION", err, resps)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "missing")
	if err == nil && (len(rcs) != 1 || !errors.Is(rcs[0].Err, kerr.UnknownTopicOrPartition)) {
		t.Errorf("describe configs of a missing topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", rcs)
	}

	// The broker resource: static, read-only settings.
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := md.Brokers[0].NodeID
	brcs, err := adm.DescribeBrokerConfigs(ctx, id)
	if err != nil || len(brcs) != 1 || brcs[0].Err != nil {
		t.Fatalf("describe broker %d configs: %v %+v", id, err, brcs)
	}
	bc := map[string]kadm.Config{}
	for _, c := range brcs[0].Configs {
		bc[c.Key] = c
	}
	if c, ok := bc["broker.id"]; !ok || c.Value == nil || *c.Value != strconv.Itoa(int(id)) {
		t.Errorf("broker config broker.id: %+v, want %d", c, id)
	}
	// message.max.bytes is a fixed default (DEFAULT_CONFIG), not a setting
	// of the broker's configuration.
	for _, name := range []string{"num.partitions", "auto.create.topics.enable"} {
		c, ok := bc[name]
		if !ok || c.Value == nil || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
			t.Errorf("broker config %s: %+v (present %v), want a static broker config", name, c, ok)
		}
	}
	if resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: strp("3")}}, id); err != nil || len(resps) != 1 || resps[0].Err == nil {
		t.Errorf("altering a static broker config: %v %+v, want an error", err, resps)
	}
}

// TestAdminPartitionsAndDelete covers CreatePartitions, DeleteTopics and
// re-creating a deleted topic's name.
func TestAdminPartitionsAndDelete(t *testing.T) {
	t.Parallel()
	const topic = "lifecycle"
	n := shaletest.StartNode(t, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(), kgo.UnknownTopicRetries(2), kgo.RecordRetries(3), kgo.MetadataMinAge(50*time.Millisecond))
	// A client of its own: kgo caches metadata answers, and cl learns the
	// topic is gone before it is re-created.
	adm := shaletest.Admin(t, n.Addr())
	ctx := testContext(t, 60*time.Second)
	shaletest.CreateTopic(t, n.Addr(), topic, 3, map[string]*string{"retention.ms": strp("3600000")})

	if r, err := adm.ValidateCreatePartitions(ctx, 2, topic); err != nil || r[topic].Err != nil {
		t.Fatalf("validate create partitions: %v %+v", err, r)
	}
	if md, _ := adm.Metadata(ctx, topic); len(md.Topics[topic].Partitions) != 3 {
		t.Errorf("validate-only create partitions changed the count to %d", len(md.Topics[topic].Partitions))
	}
	if r, err := adm.CreatePartitions(ctx, 2, topic); err != nil || r[topic].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, r)
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil || len(md.Topics[topic].Partitions) != 5 {
		t.Fatalf("after adding 2 partitions to 3: %v, %d partitions", err, len(md.Topics[topic].Partitions))
	}
	oldID := md.Topics[topic].ID
	for _, set := range []int{5, 4} {
		r, err := adm.UpdatePartitions(ctx, set, topic)
		if err != nil || !errors.Is(r[topic].Err, kerr.InvalidPartitions) {
			t.Errorf("set partitions of a 5-partition topic to %d: %v %+v, want INVALID_PARTITIONS", set, err, r)
		}
	}
	if r, err := adm.CreatePartitions(ctx, 1, "missing"); err != nil || !errors.Is(r["missing"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("create partitions of a missing topic: %v %+v, want UNKNOWN_TOPIC_OR_PARTITION", err, r)
	}
	// The new partition takes records.
	cl.ForceMetadataRefresh()
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 4, Value: []byte("in a new partition")}).FirstErr(); err != nil {
		t.Fatalf("produce to new partition 4: %v", err)
	}
	if ends := endOffsets(t, adm, topic); ends[4] != 1 {
		t.Errorf("end offset of new partition 4: %d, want 1", ends[4])
	}

	dr, err := adm.DeleteTopics(ctx, topic)
	if err != nil || dr[topic].Err != nil {
		t.Fatalf("delete: %v %+v", err, dr)
	}
	if dr[topic].ID != oldID {
		t.Errorf("delete response topic id %v, want %v", dr[topic].ID, oldID)
	}
	if dr, err := adm.DeleteTopics(ctx, topic); err != nil || !errors.Is(dr[topic].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("deleting again: %v %+v, want UNKNOWN_TOPIC_OR_PARTITION", err, dr)
	}
	// The broker refuses a produce to the deleted topic, asked directly.
	preq := kmsg.NewPtrProduceRequest()
	preq.Acks, preq.TimeoutMillis = 1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = 4
	pt.Partitions = append(pt.Partitions, pp)
	preq.Topics = append(preq.Topics, pt)
	presp, err := preq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("raw produce: %v", err)
	}
	if len(presp.Topics) != 1 || len(presp.Topics[0].Partitions) != 1 || presp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("raw produce to a deleted topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", presp.Topics)
	}
	// And so does a client that still has the topic's metadata cached.
	err = cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("too late")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("produce to the deleted topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	if l, err := adm.ListTopics(ctx); err != nil || len(l) != 0 {
		t.Errorf("topics after delete: %v %v", l.Names(), err)
	}

	// The same name again is a new, empty topic. A fresh admin client:
	// kgo keeps the deleted topic's state in its metadata cache for a while
	// and would fail the sharded ListOffsets on its own.
	adm = shaletest.Admin(t, n.Addr())
	cr, err := adm.CreateTopic(ctx, 2, 1, nil, topic)
	if err != nil {
		t.Fatalf("re-create: %v", err)
	}
	if cr.ID == oldID || cr.ID == (kadm.TopicID{}) {
		t.Errorf("re-created topic id %v, old id %v: want a new id", cr.ID, oldID)
	}
	ends := endOffsets(t, adm, topic)
	if len(ends) != 2 || ends[0] != 0 || ends[1] != 0 {
		t.Errorf("re-created topic end offsets %v, want two empty partitions", ends)
	}
	if c := topicConfigs(t, adm, topic); c["retention.ms"].Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("re-created topic inherited config overrides: %+v", c["retention.ms"])
	}
	// A new producer too: franz-go refuses to adopt a new id for a topic it
	// already holds (UNKNOWN_TOPIC_ID until the topic is purged).
	cl = shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("new life")}).FirstErr(); err != nil {
		t.Fatalf("produce to the re-created topic: %v", err)
	}
	got := consumeN(t, n.Addr(), topic, 2, 1)
	if got[0].Partition != 1 || got[0].Offset != 0 || string(got[0].Value) != "new life" {
		t.Errorf("re-created topic holds %d/%d %q, want only 1/0 \"new life\"", got[0].Partition, got[0].Offset, got[0].Value)
	}
}
