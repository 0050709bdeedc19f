package broker

import (
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics: v0–v7.
//
// NumPartitions -1 means the broker default. ReplicationFactor may be -1 or
// any value up to the number of brokers: partitions have one leader and the
// object tier provides durability, so the factor is recorded as 1. Manual
// assignments must name live brokers. ValidateOnly (v1+) checks everything
// and creates nothing. v5+ returns the resulting configs.
//
// A name given more than once in one request is not created: it is
// answered once, with INVALID_REQUEST "Found multiple entries for this
// topic.", as Kafka answers it; the request's other topics proceed. The
// response lists each name once, in the order of first appearance.
//
// Authorization: CREATE on the cluster, or else on each topic
// (TOPIC_AUTHORIZATION_FAILED). The configs of v5+ are returned only with
// DESCRIBE_CONFIGS on the topic (else its config error code is
// TOPIC_AUTHORIZATION_FAILED).
func handleCreateTopics(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	brokers := int16(len(s.meta.Brokers()))
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	clusterCreate := rc.authorizedCluster(acl.OpCreate)
	answered := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions = -1
		st.ReplicationFactor = -1
		if count[rt.Topic] > 1 {
			msg := "Found multiple entries for this topic."
			st.ErrorCode, st.ErrorMessage = kerr.InvalidRequest.Code, &msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !clusterCreate && !rc.authorizedTopic(acl.OpCreate, rt.Topic) {
			st.ErrorCode, st.ErrorMessage = kafkaError(topicAuthError(rt.Topic))
			resp.Topics = append(resp.Topics, st)
			continue
		}
		err := func() error {
			n := rt.NumPartitions
			if len(rt.ReplicaAssignment) > 0 {
				if n != -1 || rt.ReplicationFactor != -1 {
					return fmt.Errorf("%w: both replica assignments and a partition count or replication factor were given", kerr.InvalidRequest)
				}
				n = int32(len(rt.ReplicaAssignment))
				for _, a := range rt.ReplicaAssignment {
					if len(a.Replicas) == 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || a.Partition < 0 {
						return fmt.Errorf("%w: bad assignment for partition %d", kerr.InvalidReplicaAssignment, a.Partition)
					}
				}
			}
			if n == -1 {
				n = s.cfg.DefaultPartitions
			}
			if n <= 0 {
				return fmt.Errorf("%w: number of partitions must be larger than 0", metadata.ErrInvalidPartitions)
			}
			if rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
				return fmt.Errorf("%w: replication factor must be larger than 0", kerr.InvalidReplicationFactor)
			}
			if rt.ReplicationFactor > brokers {
				return fmt.Errorf("%w: replication factor %d is larger than the %d available brokers", kerr.InvalidReplicationFactor, rt.ReplicationFactor, brokers)
			}
			configs := map[string]string{}
			for _, c := range rt.Configs {
				if c.Value == nil {
					return fmt.Errorf("%w: config %s has a null value", metadata.ErrInvalidConfig, c.Name)
				}
				configs[c.Name] = *c.Value
			}
			if err := metadata.ValidateTopicName(rt.Topic); err != nil {
				return err
			}
			for k, v := range configs {
				if err := metadata.ValidateTopicConfig(k, v); err != nil {
					return err
				}
			}
			if req.ValidateOnly {
				if _, ok := s.meta.Topic(rt.Topic); ok {
					return fmt.Errorf("%w: topic %q already exists", metadata.ErrTopicExists, rt.Topic)
				}
				st.NumPartitions, st.ReplicationFactor = n, 1
				return nil
			}
			t, err := s.meta.CreateTopic(s.ctx, rt.Topic, n, configs)
			if err != nil {
				return err
			}
			st.TopicID = [16]byte(t.ID)
			st.NumPartitions, st.ReplicationFactor = int32(len(t.Partitions)), 1
			if rc.authorizedTopic(acl.OpDescribeConfigs, rt.Topic) {
				st.Configs = topicConfigsForCreate(t)
			} else {
				st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			}
			return nil
		}()
		st.ErrorCode, st.ErrorMessage = kafkaError(err)
		resp.Topics = append(resp.Topics, st)
	}
	s.topics.refresh()
	rc.respond(resp)
}

func topicConfigsForCreate(t metadata.Topic) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, def := range metadata.TopicConfigDefs() {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = def.Name
		v := t.Config(def.Name)
		c.Value = &v
		c.Source = int8(kmsg.ConfigSourceDefaultConfig)
		if _, ok := t.Configs[def.Name]; ok {
			c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		}
		out = append(out, c)
	}
	return out
}
