package broker

import (
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// IncrementalAlterConfigs: v0–v1, TOPIC resources. ALTER_CONFIGS on the
// topic is required (TOPIC_AUTHORIZATION_FAILED; CLUSTER_AUTHORIZATION_FAILED
// for a broker without it on the cluster).
//
// SET, DELETE, APPEND and SUBTRACT apply to a topic's overrides through the
// metadata store, which validates every value (INVALID_CONFIG with a message
// naming the config). Broker configs are static: INVALID_REQUEST.
func handleIncrementalAlterConfigs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := func() error {
			if err := configsAuthorized(rc, acl.OpAlterConfigs, rr.ResourceType, rr.ResourceName); err != nil {
				return err
			}
			if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
				return fmt.Errorf("%w: only topic configs can be altered; broker settings are static", kerr.InvalidRequest)
			}
			ops := make([]metadata.ConfigOp, 0, len(rr.Configs))
			for _, c := range rr.Configs {
				op := metadata.ConfigOp{Key: c.Name}
				if c.Value != nil {
					op.Value = *c.Value
				}
				switch c.Op {
				case kmsg.IncrementalAlterConfigOpSet:
					op.Op = metadata.ConfigOpSet
				case kmsg.IncrementalAlterConfigOpDelete:
					op.Op = metadata.ConfigOpDelete
				case kmsg.IncrementalAlterConfigOpAppend:
					op.Op = metadata.ConfigOpAppend
				case kmsg.IncrementalAlterConfigOpSubtract:
					op.Op = metadata.ConfigOpSubtract
				default:
					return fmt.Errorf("%w: unknown operation %d for %s", kerr.InvalidRequest, c.Op, c.Name)
				}
				if op.Op != metadata.ConfigOpDelete && c.Value == nil {
					return fmt.Errorf("%w: %s has a null value", metadata.ErrInvalidConfig, c.Name)
				}
				ops = append(ops, op)
			}
			return s.meta.AlterTopicConfigs(s.ctx, rr.ResourceName, ops, req.ValidateOnly)
		}()
		sr.ErrorCode, sr.ErrorMessage = kafkaError(err)
		resp.Resources = append(resp.Resources, sr)
	}
	s.topics.refresh()
	rc.respond(resp)
}
