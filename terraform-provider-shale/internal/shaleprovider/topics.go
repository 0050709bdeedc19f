package shaleprovider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicInfo is what the cluster says about one topic.
type topicInfo struct {
	Name              string
	ID                string // hex, empty when the broker has no topic ids
	Partitions        int
	ReplicationFactor int
	// Configs holds the topic's own overrides (source DYNAMIC_TOPIC_CONFIG),
	// not the broker defaults it falls back to. A sensitive override,
	// whose value the broker does not return, is in Sensitive.
	Configs   map[string]string
	Sensitive map[string]bool
}

// errTopicNotFound is returned by describeTopic for a topic that does not
// exist.
var errTopicNotFound = errors.New("topic not found")

// listTopics asks a broker for the metadata of the named topics (all
// topics when none is named). It goes to the wire every time: kadm's
// ListTopics answers from the client's metadata cache for a few seconds,
// which would hide the change an operation waits for, and drift.
func listTopics(ctx context.Context, cl *Client, names ...string) (kadm.TopicDetails, error) {
	req := kmsg.NewPtrMetadataRequest()
	if len(names) > 0 {
		for _, n := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, rt)
		}
	} else {
		req.Topics = nil // all topics
	}
	resp, err := req.RequestWith(ctx, cl.cl)
	if err != nil {
		return nil, err
	}
	details := make(kadm.TopicDetails, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		d := kadm.TopicDetail{
			Topic:      *t.Topic,
			ID:         t.TopicID,
			IsInternal: t.IsInternal,
			Partitions: make(kadm.PartitionDetails, len(t.Partitions)),
			Err:        kerr.ErrorForCode(t.ErrorCode),
		}
		for _, p := range t.Partitions {
			d.Partitions[p.Partition] = kadm.PartitionDetail{
				Topic:       *t.Topic,
				Partition:   p.Partition,
				Leader:      p.Leader,
				LeaderEpoch: p.LeaderEpoch,
				Replicas:    p.Replicas,
				ISR:         p.ISR,
				Err:         kerr.ErrorForCode(p.ErrorCode),
			}
		}
		details[d.Topic] = d
	}
	return details, nil
}

// describeTopic reads a topic's partitions and overrides.
func describeTopic(ctx context.Context, cl *Client, name string) (topicInfo, error) {
	details, err := listTopics(ctx, cl, name)
	if err != nil {
		return topicInfo{}, fmt.Errorf("describe topic %s: %w", name, err)
	}
	d, ok := details[name]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return topicInfo{}, errTopicNotFound
	}
	if d.Err != nil {
		return topicInfo{}, fmt.Errorf("describe topic %s: %w", name, d.Err)
	}
	info := topicInfo{
		Name:       name,
		Partitions: len(d.Partitions),
		Configs:    map[string]string{},
		Sensitive:  map[string]bool{},
	}
	if d.ID != (kadm.TopicID{}) {
		info.ID = d.ID.String()
	}
	if p, ok := d.Partitions[0]; ok {
		info.ReplicationFactor = len(p.Replicas)
	}
	rcs, err := cl.adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return topicInfo{}, fmt.Errorf("describe configs of topic %s: %w", name, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return topicInfo{}, errTopicNotFound
	}
	if err != nil {
		return topicInfo{}, fmt.Errorf("describe configs of topic %s: %w", name, withMessage(err, rc.ErrMessage))
	}
	for _, c := range rc.Configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		if c.Sensitive || c.Value == nil {
			info.Sensitive[c.Key] = true
			continue
		}
		info.Configs[c.Key] = *c.Value
	}
	return info, nil
}

// awaitTopic polls metadata until ready says the topic is as wanted: a
// cluster answers a create or delete before every broker's metadata shows
// it, and a plan that follows must read what was applied.
func awaitTopic(ctx context.Context, cl *Client, name string, ready func(d kadm.TopicDetail, exists bool) bool) error {
	for {
		details, err := listTopics(ctx, cl, name)
		if err == nil {
			d, ok := details[name]
			exists := ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition)
			if ready(d, exists) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("wait for topic %s: %w (last error: %v)", name, ctx.Err(), err)
			}
			return fmt.Errorf("wait for topic %s: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hasPartitions is a ready function: the topic exists with n partitions,
// each with a leader.
func hasPartitions(n int) func(kadm.TopicDetail, bool) bool {
	return func(d kadm.TopicDetail, exists bool) bool {
		if !exists || d.Err != nil || len(d.Partitions) != n {
			return false
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
		return true
	}
}

// withMessage appends a broker's error message to err.
func withMessage(err error, msg string) error {
	if msg == "" || err == nil {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
