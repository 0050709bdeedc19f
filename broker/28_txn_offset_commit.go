package broker

import (
	"context"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit: v0–v5, sent to the group's coordinator. The offsets are
// kept with the transaction in the metadata log (the group must have been
// added with AddOffsetsToTxn; from v5, KIP-890 part 2, the commit adds it
// itself; v4 only allows TRANSACTION_ABORTABLE in the answer) and become the group's committed offsets in
// the same step as the transaction's commit; an abort drops them.
//
// From v3 the member id, instance id and generation are checked against
// the group as for OffsetCommit (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID), so a member that left the group cannot commit for
// it (KIP-447); the producer's epoch fences zombie producers.
func handleTxnOffsetCommit(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	code := s.notCoordinator(req.Group)
	if code == 0 && req.Version >= 3 {
		code = s.groups.checkTxnCommit(req.Group, req.MemberID, req.InstanceID, req.Generation)
	}
	var offsets []metadata.TxnOffset
	now := s.now().UnixMilli()
	for _, rt := range req.Topics {
		t, ok := s.meta.Topic(rt.Topic)
		for _, p := range rt.Partitions {
			if !ok || p.Partition < 0 || int(p.Partition) >= len(t.Partitions) {
				if code == 0 {
					code = kerr.UnknownTopicOrPartition.Code
				}
				continue
			}
			meta := ""
			if p.Metadata != nil {
				meta = *p.Metadata
			}
			offsets = append(offsets, metadata.TxnOffset{Group: req.Group, Topic: rt.Topic, Partition: p.Partition,
				CommittedOffset: metadata.CommittedOffset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: meta, CommitTime: now}})
		}
	}
	if code == 0 && len(offsets) > 0 {
		ctx, cancel := context.WithTimeout(rc.ctx(), 30*time.Second)
		var err error
		if t, ok := s.meta.Transaction(req.TransactionalID); req.Version >= 5 && !(ok && t.Status == metadata.TxnOngoing && t.HasGroup(req.Group)) {
			_, err = s.meta.AddTxnPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, nil, []string{req.Group}, now)
		}
		if err == nil {
			err = s.meta.TxnOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, offsets, now)
		}
		cancel()
		code, _ = txnError(err)
	}
	for _, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}
