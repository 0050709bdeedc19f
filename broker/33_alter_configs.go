package broker

import (
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterConfigs: v0–v2, TOPIC resources (the legacy, non-incremental API
// older admin clients use). ALTER_CONFIGS on the topic is required
// (TOPIC_AUTHORIZATION_FAILED; CLUSTER_AUTHORIZATION_FAILED for a broker
// without it on the cluster).
//
// The given configs replace the topic's overrides as a whole: overrides not
// named are removed, as in Kafka.
func handleAlterConfigs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := func() error {
			if err := configsAuthorized(rc, acl.OpAlterConfigs, rr.ResourceType, rr.ResourceName); err != nil {
				return err
			}
			if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
				return fmt.Errorf("%w: only topic configs can be altered; broker settings are static", kerr.InvalidRequest)
			}
			t, ok := s.meta.Topic(rr.ResourceName)
			if !ok {
				return fmt.Errorf("%w: topic %q", metadata.ErrUnknownTopic, rr.ResourceName)
			}
			given := map[string]bool{}
			var ops []metadata.ConfigOp
			for _, c := range rr.Configs {
				if c.Value == nil {
					return fmt.Errorf("%w: %s has a null value", metadata.ErrInvalidConfig, c.Name)
				}
				given[c.Name] = true
				ops = append(ops, metadata.ConfigOp{Key: c.Name, Op: metadata.ConfigOpSet, Value: *c.Value})
			}
			for k := range t.Configs {
				if !given[k] {
					ops = append(ops, metadata.ConfigOp{Key: k, Op: metadata.ConfigOpDelete})
				}
			}
			return s.meta.AlterTopicConfigs(s.ctx, rr.ResourceName, ops, req.ValidateOnly)
		}()
		sr.ErrorCode, sr.ErrorMessage = kafkaError(err)
		resp.Resources = append(resp.Resources, sr)
	}
	s.topics.refresh()
	rc.respond(resp)
}
