package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit: v0–v9.
//
// Commits go to the metadata store in one Raft write per request, after
// every earlier write of the same group, and are answered once durable.
// Group members commit with their current generation (ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID otherwise);
// standalone commits (generation -1) go to groups without members. v0
// carries no generation and is not checked, as in Kafka. Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION and
// metadata over offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE, per
// partition.
//
// Authorization: READ on the group (GROUP_AUTHORIZATION_FAILED on every
// partition), then READ on each topic (TOPIC_AUTHORIZATION_FAILED on its
// partitions; the others are committed).
//
// Not yet: topic ids (v10), per-request retention (v2–v4
// RetentionTimeMillis is ignored; offsets.retention.minutes applies), the
// v1 per-partition commit timestamp (the broker's clock is used).

func handleOffsetCommit(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetCommitRequest)
	code := int16(0)
	if !rc.authorizedGroup(acl.OpRead, req.Group) {
		code = kerr.GroupAuthorizationFailed.Code
	} else {
		code = s.notCoordinator(req.Group)
	}
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Topics = offsetCommitErrors(req.Topics, code)
		rc.respond(resp)
		return
	}
	var allowed, denied []kmsg.OffsetCommitRequestTopic
	for _, rt := range req.Topics {
		if rc.authorizedTopic(acl.OpRead, rt.Topic) {
			allowed = append(allowed, rt)
		} else {
			denied = append(denied, rt)
		}
	}
	if len(denied) == 0 {
		s.groups.commitOffsets(req, func(resp *kmsg.OffsetCommitResponse) { rc.respond(resp) })
		return
	}
	req.Topics = allowed
	s.groups.commitOffsets(req, func(resp *kmsg.OffsetCommitResponse) {
		resp.Topics = append(resp.Topics, offsetCommitErrors(denied, kerr.TopicAuthorizationFailed.Code)...)
		rc.respond(resp)
	})
}

// offsetCommitErrors answers every partition of topics with code.
func offsetCommitErrors(topics []kmsg.OffsetCommitRequestTopic, code int16) []kmsg.OffsetCommitResponseTopic {
	var out []kmsg.OffsetCommitResponseTopic
	for _, rt := range topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		out = append(out, st)
	}
	return out
}
