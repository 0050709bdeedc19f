package broker

import (
	"runtime/debug"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets: v1–v6.
//
// Timestamp -1 is the latest offset (the high watermark; with no
// transactions the last stable offset is the same), -2 the earliest (the log
// start offset), any other value the first offset whose batch holds a
// timestamp at or after it, or -1 when there is none. The answer for a
// timestamp has batch granularity: it is the base offset of the first batch
// whose max timestamp reaches the target, which can be a few records before
// the exact record for batches that mix timestamps.
//
// A request naming a timestamp runs in a goroutine of its own, off the
// connection's reader, with the connection's context: a lookup may read
// the object tier (the catalog's extents and the sparse index in the
// object's footer narrow it to about one block), and it stops when the
// client goes away. A request with only -1 and -2 is answered at once.
//
// Authorization: DESCRIBE on each topic (TOPIC_AUTHORIZATION_FAILED).
//
// Not yet: -3 (max timestamp, v7), -4/-5 (tiered offsets, v8+).
func handleListOffsets(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ListOffsetsRequest)
	names := make([]string, len(req.Topics))
	for i := range req.Topics {
		names[i] = req.Topics[i].Topic
	}
	denied := rc.deniedTopics(acl.OpDescribe, names)
	for i := range req.Topics {
		for _, rp := range req.Topics[i].Partitions {
			if rp.Timestamp >= 0 {
				go func() {
					// As handleFrame does for handlers on the reader: a
					// bug closes the connection, not the broker.
					defer func() {
						if p := recover(); p != nil {
							s.log.Error("ListOffsets panicked", "panic", p, "stack", string(debug.Stack()))
							if rc.slot != nil {
								rc.slot.finish(nil)
							}
							rc.conn.nc.Close()
						}
					}()
					listOffsets(s, rc, req, denied)
				}()
				return
			}
		}
	}
	listOffsets(s, rc, req, denied)
}

// listOffsets answers req.
func listOffsets(s *Server, rc *reqCtx, req *kmsg.ListOffsetsRequest, denied map[string]bool) {
	ctx := rc.ctx()
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := s.topics.byName(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp = -1
			sp.Offset = -1
			if denied[rt.Topic] {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if t == nil || t.partition(rp.Partition) == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			part := t.partition(rp.Partition)
			epoch := t.meta.Partitions[rp.Partition].LeaderEpoch
			if req.Version >= 4 && rp.CurrentLeaderEpoch >= 0 {
				if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); code != 0 {
					sp.ErrorCode = code
					st.Partitions = append(st.Partitions, sp)
					continue
				}
			}
			if t.meta.Partitions[rp.Partition].Leader != s.cfg.NodeID {
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.LeaderEpoch = epoch
			switch rp.Timestamp {
			case -1:
				sp.Offset = part.HighWatermark()
				if req.IsolationLevel == 1 {
					sp.Offset = min(sp.Offset, s.lastStable(t, rp.Partition))
				}
			case -2:
				sp.Offset = part.LogStartOffset()
			default:
				if rp.Timestamp < 0 {
					sp.ErrorCode = kerr.UnsupportedVersion.Code
					break
				}
				off, ts, err := part.OffsetForTime(ctx, rp.Timestamp)
				if err != nil {
					sp.ErrorCode = errCode(err)
					break
				}
				sp.Offset, sp.Timestamp = off, ts
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}
