package broker

import (
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
// Not yet: topic ids (v10), per-request retention (v2–v4
// RetentionTimeMillis is ignored; offsets.retention.minutes applies), the
// v1 per-partition commit timestamp (the broker's clock is used).

func handleOffsetCommit(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetCommitRequest)
	if code := s.notCoordinator(req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		rc.respond(resp)
		return
	}
	s.groups.commitOffsets(req, func(resp *kmsg.OffsetCommitResponse) { rc.respond(resp) })
}
