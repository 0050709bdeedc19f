package broker

import (
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords: v0–v2.
//
// Advances a partition's log start offset to the given offset (-1: the high
// watermark), as Kafka does: records below it are no longer readable and
// ListOffsets earliest returns it. The change is committed through the
// metadata store; extents wholly below the new start lose their reference
// and their objects are garbage-collected after the grace period. An
// offset above the high watermark is OFFSET_OUT_OF_RANGE; one at or below
// the current log start changes nothing.
//
// Authorization: DELETE on each topic (TOPIC_AUTHORIZATION_FAILED).
func handleDeleteRecords(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	now := s.now().UnixMilli()
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := s.topics.byName(rt.Topic)
		allowed := rc.authorizedTopic(acl.OpDelete, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			err := func() error {
				if !allowed {
					return kerr.TopicAuthorizationFailed
				}
				if t == nil || t.partition(rp.Partition) == nil {
					return kerr.UnknownTopicOrPartition
				}
				part := t.partition(rp.Partition)
				hwm := part.HighWatermark()
				off := rp.Offset
				if off == -1 {
					off = hwm
				}
				if off < 0 || off > hwm {
					return fmt.Errorf("%w: offset %d is outside [0, %d]", kerr.OffsetOutOfRange, rp.Offset, hwm)
				}
				if off > part.LogStartOffset() {
					if err := s.meta.TruncatePartition(s.ctx, t.meta.ID, rp.Partition, off, now); err != nil {
						return err
					}
					part.SetLogStart(off)
				}
				sp.LowWatermark = part.LogStartOffset()
				return nil
			}()
			sp.ErrorCode, _ = kafkaError(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}
