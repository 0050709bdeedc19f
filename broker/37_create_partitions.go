package broker

import (
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreatePartitions: v0–v3.
//
// Raises a topic's partition count (never lowers it: INVALID_PARTITIONS).
// ValidateOnly checks without changing anything. ALTER on the topic is
// required (TOPIC_AUTHORIZATION_FAILED).
func handleCreatePartitions(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case !rc.authorizedTopic(acl.OpAlter, rt.Topic):
			err = topicAuthError(rt.Topic)
		case req.ValidateOnly:
			err = validateCreatePartitions(s, rt.Topic, rt.Count)
		default:
			_, err = s.meta.CreatePartitions(s.ctx, rt.Topic, rt.Count)
		}
		st.ErrorCode, st.ErrorMessage = kafkaError(err)
		resp.Topics = append(resp.Topics, st)
	}
	s.topics.refresh()
	rc.respond(resp)
}

func validateCreatePartitions(s *Server, topic string, count int32) error {
	t, ok := s.meta.Topic(topic)
	switch {
	case !ok:
		return fmt.Errorf("%w: topic %q", metadata.ErrUnknownTopic, topic)
	case int(count) <= len(t.Partitions):
		return fmt.Errorf("%w: topic %q has %d partitions; the new count %d must be larger", metadata.ErrInvalidPartitions, topic, len(t.Partitions), count)
	case count > metadata.MaxPartitionsPerTopic:
		return fmt.Errorf("%w: %d partitions is more than the limit of %d", metadata.ErrInvalidPartitions, count, metadata.MaxPartitionsPerTopic)
	}
	return nil
}
