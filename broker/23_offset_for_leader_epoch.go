package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetForLeaderEpoch: v0–v4.
//
// For each partition, LeaderEpoch E is answered from the catalog's
// leader-epoch history (metadata.EpochHistory.EndOffsetFor, Kafka's
// LeaderEpochFileCache.endOffsetFor): the largest epoch <= E the log has
// and the offset where the next epoch starts; for the current epoch, the
// log end offset; -1/-1 for E = -1 (UNDEFINED_EPOCH) or an E newer than
// every epoch. Consumers (KIP-320) compare the end offset with their
// position to detect a log truncated by a leader change.
//
// The log end offset is the leader's next offset, which includes the
// acks=1 tail not yet in the object store, as Kafka's leader answers with
// its LEO. That is safe: consumers read only below the high watermark, so
// a tail a later leader loses was never read, and its epoch's answer then
// becomes the new leader's start (the catalog end). When the local
// partition was opened under an older epoch than the catalog's, only the
// catalog end counts.
//
// Errors, per partition, in Kafka's order: UNKNOWN_TOPIC_OR_PARTITION;
// (v2+, CurrentLeaderEpoch >= 0) FENCED_LEADER_EPOCH when it is older than
// the partition's epoch, UNKNOWN_LEADER_EPOCH when newer;
// NOT_LEADER_OR_FOLLOWER when another broker leads the partition.
//
// ReplicaID (v3+) is not looked at: Shale has no follower replicas, and a
// follower's request is answered like a consumer's, as Kafka does.
//
// Authorization: DESCRIBE on each topic (TOPIC_AUTHORIZATION_FAILED).
//
// Not done: a KAFKA_STORAGE_ERROR state.
func handleOffsetForLeaderEpoch(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t := s.topics.byName(rt.Topic)
		allowed := rc.authorizedTopic(acl.OpDescribe, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			if !allowed {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.ErrorCode = s.endOffsetForEpoch(t, req.Version, rp, &sp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}

// endOffsetForEpoch fills sp's epoch and end offset for one partition and
// returns its error code; on an error sp keeps -1/-1.
func (s *Server) endOffsetForEpoch(t *topicEntry, version int16, rp kmsg.OffsetForLeaderEpochRequestTopicPartition,
	sp *kmsg.OffsetForLeaderEpochResponseTopicPartition) int16 {
	if t == nil || t.partition(rp.Partition) == nil {
		return kerr.UnknownTopicOrPartition.Code
	}
	h, ok := s.meta.EpochHistory(t.meta.ID, rp.Partition)
	if !ok {
		return kerr.UnknownTopicOrPartition.Code // deleted since the topic cache was built
	}
	if version >= 2 && rp.CurrentLeaderEpoch >= 0 {
		if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, h.LeaderEpoch); code != 0 {
			return code
		}
	}
	if h.Leader != s.cfg.NodeID {
		return kerr.NotLeaderForPartition.Code
	}
	logEnd := h.End
	if part := t.partition(rp.Partition); part.LeaderEpoch() == h.LeaderEpoch {
		logEnd = max(logEnd, part.NextOffset())
	}
	sp.LeaderEpoch, sp.EndOffset = h.EndOffsetFor(rp.LeaderEpoch, logEnd)
	return 0
}
