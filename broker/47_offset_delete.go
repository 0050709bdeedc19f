package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete: v0.
//
// Deletes a group's committed offsets for the given partitions. A group
// with members keeps the offsets of topics they subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group with members refuses
// with NON_EMPTY_GROUP.
//
// Authorization: DELETE on the group (GROUP_AUTHORIZATION_FAILED), READ on
// each topic (TOPIC_AUTHORIZATION_FAILED on its partitions).

func handleOffsetDelete(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetDeleteRequest)
	code := s.notCoordinator(req.Group)
	if !rc.authorizedGroup(acl.OpDelete, req.Group) {
		code = kerr.GroupAuthorizationFailed.Code
	}
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		rc.respond(resp)
		return
	}
	var allowed, denied []kmsg.OffsetDeleteRequestTopic
	for _, rt := range req.Topics {
		if rc.authorizedTopic(acl.OpRead, rt.Topic) {
			allowed = append(allowed, rt)
		} else {
			denied = append(denied, rt)
		}
	}
	req.Topics = allowed
	s.groups.deleteOffsets(req, func(resp *kmsg.OffsetDeleteResponse) {
		if resp.ErrorCode == 0 {
			for _, rt := range denied {
				st := kmsg.NewOffsetDeleteResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewOffsetDeleteResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
		}
		rc.respond(resp)
	})
}
