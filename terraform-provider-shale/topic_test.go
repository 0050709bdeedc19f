package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicState is what kadm says about a topic: its partitions and its own
// config overrides.
type topicState struct {
	exists     bool
	partitions int
	overrides  map[string]string
}

// readTopic asks over the wire every time (kadm's ListTopics would answer
// from its client's metadata cache for a few seconds).
func readTopic(t *testing.T, cl *kgo.Client, name string) topicState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata of topic %s: %v", name, err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return topicState{}
	}
	s := topicState{exists: true, partitions: len(resp.Topics[0].Partitions), overrides: map[string]string{}}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, name)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", name, err)
	}
	rc, err := rcs.On(name, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs of %s: %v %v", name, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			s.overrides[c.Key] = c.MaybeValue()
		}
	}
	return s
}

func wantTopic(t *testing.T, cl *kgo.Client, name string, partitions int, overrides map[string]string) {
	t.Helper()
	got := readTopic(t, cl, name)
	if !got.exists {
		t.Fatalf("topic %s does not exist", name)
	}
	if got.partitions != partitions {
		t.Fatalf("topic %s has %d partitions, want %d", name, got.partitions, partitions)
	}
	if fmt.Sprint(got.overrides) != fmt.Sprint(overrides) {
		t.Fatalf("topic %s has overrides %v, want %v", name, got.overrides, overrides)
	}
}

// TestProviderTopic: create, no drift, an in-place update (configs and
// more partitions), drift made outside Terraform found and undone, a
// partition decrease planned as a replacement and applied, an import, and
// destroy, against a running Shale.
func TestProviderTopic(t *testing.T) { topicScenario(t, shaleTarget(t)) }

// TestProviderKfakeTopic runs the same against franz-go's kfake, which
// answers as Kafka does, with TLS and SASL on.
func TestProviderKfakeTopic(t *testing.T) { topicScenario(t, kfakeTarget(t)) }

func topicScenario(t *testing.T, tg target) {
	cl, adm := tg.cl, tg.adm
	w := newWorkspace(t)
	provider := tg.provider

	w.config(provider, `
resource "shale_topic" "orders" {
  name       = "orders"
  partitions = 3
  config = {
    "retention.ms"   = "3600000"
    "cleanup.policy" = "delete"
  }
}
`)
	w.apply()
	wantTopic(t, cl, "orders", 3, map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete"})
	w.noDrift("after create")

	// In place: one config changed, one removed, one added, two more
	// partitions. The plan must not replace the topic.
	w.config(provider, `
resource "shale_topic" "orders" {
  name       = "orders"
  partitions = 5
  config = {
    "retention.ms"     = "7200000"
    "segment.bytes"    = "16777216"
  }
}
`)
	out := w.drift("after an in-place edit")
	mustContain(t, "the plan", out, "update in-place", "0 to add, 1 to change, 0 to destroy")
	w.apply()
	wantTopic(t, cl, "orders", 5, map[string]string{"retention.ms": "7200000", "segment.bytes": "16777216"})
	w.noDrift("after the in-place update")

	// Drift: an override set outside Terraform shows in the plan and is
	// removed by the next apply.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.bytes", Value: kadm.StringPtr("1048576")}}, "orders")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter outside Terraform: %v %v", err, rs)
	}
	out = w.drift("after an override set outside Terraform")
	mustContain(t, "the drift plan", out, "retention.bytes")
	w.apply()
	wantTopic(t, cl, "orders", 5, map[string]string{"retention.ms": "7200000", "segment.bytes": "16777216"})

	// Fewer partitions: the plan says the topic is replaced, and why.
	w.config(provider, `
resource "shale_topic" "orders" {
  name       = "orders"
  partitions = 2
  config = {
    "retention.ms"     = "7200000"
    "segment.bytes"    = "16777216"
  }
}
`)
	out = w.drift("after lowering partitions")
	mustContain(t, "the replacement plan", out,
		"must be replaced", "forces replacement", "Fewer partitions replace the topic",
		"Kafka cannot remove partitions", "1 to add, 0 to change, 1 to destroy")
	w.apply()
	wantTopic(t, cl, "orders", 2, map[string]string{"retention.ms": "7200000", "segment.bytes": "16777216"})
	w.noDrift("after the replacement")

	// Import a topic made outside Terraform, with an override of its own.
	if _, err := adm.CreateTopic(ctx, 4, 1, map[string]*string{"retention.ms": kadm.StringPtr("86400000")}, "legacy"); err != nil {
		t.Fatalf("create topic outside Terraform: %v", err)
	}
	w.config(provider, `
resource "shale_topic" "orders" {
  name       = "orders"
  partitions = 2
  config = {
    "retention.ms"     = "7200000"
    "segment.bytes"    = "16777216"
  }
}

resource "shale_topic" "legacy" {
  name       = "legacy"
  partitions = 4
  config     = { "retention.ms" = "86400000" }
}
`)
	w.importResource("shale_topic.legacy", "legacy")
	w.noDrift("after the import")
	mustContain(t, "the state", w.state(), `"topic_id"`, `"replication_factor": 1`)

	// Destroy removes both topics.
	w.destroy()
	for _, name := range []string{"orders", "legacy"} {
		if readTopic(t, cl, name).exists {
			t.Fatalf("topic %s survived destroy", name)
		}
	}
}

// TestProviderTopicDataSources reads shale_cluster, shale_topics and
// shale_topic and compares them with what kadm reports. The provider is
// installed from a filesystem mirror with `tofu init`, as an operator
// installs it.
func TestProviderTopicDataSources(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	adm := shaletest.Admin(t, n.Addr())
	shaletest.CreateTopic(t, n.Addr(), "clicks", 6, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	shaletest.CreateTopic(t, n.Addr(), "views", 1, nil)
	w := newMirrorWorkspace(t)
	w.config(shaleProvider(n.Addr()), `
data "shale_cluster" "this" {}
data "shale_topics" "all" {}
data "shale_topic" "clicks" { name = "clicks" }

output "cluster_id"    { value = data.shale_cluster.this.cluster_id }
output "controller_id" { value = data.shale_cluster.this.controller_id }
output "brokers"       { value = data.shale_cluster.this.brokers }
output "names"         { value = data.shale_topics.all.names }
output "topics"        { value = data.shale_topics.all.topics }
output "clicks"        { value = data.shale_topic.clicks }
`)
	mustContain(t, "tofu init", w.must("init", "-no-color"), "Installing shalelog/shale v"+mirrorVersion)
	lock, err := os.ReadFile(filepath.Join(w.dir, ".terraform.lock.hcl"))
	if err != nil {
		t.Fatalf("tofu init wrote no lock file: %v", err)
	}
	mustContain(t, "the lock file", string(lock), `/shalelog/shale" {`, `version = "`+mirrorVersion+`"`, `"h1:`)
	w.apply()
	out := w.outputs()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var clusterID string
	var controller int32
	var brokers []struct {
		NodeID int32  `json:"node_id"`
		Host   string `json:"host"`
		Port   int32  `json:"port"`
	}
	unmarshal(t, out["cluster_id"], &clusterID)
	unmarshal(t, out["controller_id"], &controller)
	unmarshal(t, out["brokers"], &brokers)
	if clusterID != md.Cluster || clusterID == "" {
		t.Errorf("cluster_id %q, kadm says %q", clusterID, md.Cluster)
	}
	if controller != md.Controller {
		t.Errorf("controller_id %d, kadm says %d", controller, md.Controller)
	}
	if len(brokers) != len(md.Brokers) || len(brokers) == 0 ||
		brokers[0].NodeID != md.Brokers[0].NodeID || brokers[0].Host != md.Brokers[0].Host || brokers[0].Port != md.Brokers[0].Port {
		t.Errorf("brokers %+v, kadm says %+v", brokers, md.Brokers)
	}

	var names []string
	var topics []struct {
		Name       string `json:"name"`
		Partitions int    `json:"partitions"`
	}
	unmarshal(t, out["names"], &names)
	unmarshal(t, out["topics"], &topics)
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, listed.Names()) {
		t.Errorf("names %v, kadm says %v", names, listed.Names())
	}
	for _, tp := range topics {
		if want := len(listed[tp.Name].Partitions); tp.Partitions != want {
			t.Errorf("topic %s: %d partitions, kadm says %d", tp.Name, tp.Partitions, want)
		}
	}
	if len(topics) != len(names) || !slices.Contains(names, "clicks") || !slices.Contains(names, "views") {
		t.Errorf("topics %+v, names %v", topics, names)
	}

	var clicks struct {
		Partitions        int               `json:"partitions"`
		ReplicationFactor int               `json:"replication_factor"`
		Config            map[string]string `json:"config"`
		TopicID           string            `json:"topic_id"`
	}
	unmarshal(t, out["clicks"], &clicks)
	if clicks.Partitions != 6 || clicks.ReplicationFactor != 1 || clicks.Config["cleanup.policy"] != "compact" || len(clicks.Config) != 1 {
		t.Errorf("shale_topic.clicks = %+v", clicks)
	}
	if want := listed["clicks"].ID.String(); clicks.TopicID != want {
		t.Errorf("topic_id %q, kadm says %q", clicks.TopicID, want)
	}

	// A missing topic is an error that names it.
	w.config(shaleProvider(n.Addr()), `data "shale_topic" "gone" { name = "no-such-topic" }`)
	msg, code := w.run("plan", "-no-color")
	if code == 0 {
		t.Fatalf("plan over a missing topic succeeded:\n%s", msg)
	}
	mustContain(t, "the plan", msg, `Topic "no-such-topic" does not exist`)
}

func unmarshal(t *testing.T, raw json.RawMessage, into any) {
	t.Helper()
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}
