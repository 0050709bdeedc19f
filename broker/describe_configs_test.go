package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/shalelog/shale/metadata"
)

// The broker config table is sorted, every synonym it names exists, and
// every topic config either falls back to broker configs that exist or is
// one Kafka gives no broker synonym.
func TestBrokerConfigDefsAndTopicSynonyms(t *testing.T) {
	s := &Server{cfg: DefaultConfig()}
	defs := s.brokerConfigDefs()
	if !slices.IsSortedFunc(defs, func(a, b brokerConfigDef) int { return strings.Compare(a.name, b.name) }) {
		t.Error("broker config defs are not sorted by name")
	}
	known := map[string]bool{}
	for _, d := range defs {
		if known[d.name] {
			t.Errorf("broker config %s listed twice", d.name)
		}
		known[d.name] = true
		if d.doc == "" {
			t.Errorf("broker config %s has no documentation", d.name)
		}
	}
	for _, d := range defs {
		for _, g := range d.group {
			if !known[g] {
				t.Errorf("broker config %s names unknown synonym %s", d.name, g)
			}
		}
		if d.group != nil && !slices.Contains(d.group, d.name) {
			t.Errorf("broker config %s is not in its own synonym group %v", d.name, d.group)
		}
	}
	noBrokerSynonym := map[string]bool{
		"remote.storage.enable":                   true,
		"leader.replication.throttled.replicas":   true,
		"follower.replication.throttled.replicas": true,
	}
	for _, def := range metadata.TopicConfigDefs() {
		group, ok := topicConfigSynonyms[def.Name]
		if !ok {
			if !noBrokerSynonym[def.Name] {
				t.Errorf("topic config %s has no broker synonyms listed", def.Name)
			}
			continue
		}
		syn := defs.synonyms(group)
		if len(syn) == 0 {
			t.Errorf("topic config %s: none of %v holds a value", def.Name, group)
			continue
		}
		// A topic default and the broker config it falls back to agree,
		// except where Kafka words it in other units (hours).
		if v := *syn[0].Value; v != def.Default && !strings.HasSuffix(syn[0].Name, ".hours") {
			t.Errorf("topic config %s defaults to %q, its broker synonym %s says %q", def.Name, def.Default, syn[0].Name, v)
		}
	}
}
