package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers: v0, sent to a partition's leader. Lists the
// idempotent and transactional producers the partition holds state for:
// epoch, last sequence, last write time (-1 when the state was rebuilt at
// start-up and no write came since), and the first offset of the
// producer's transaction open at the catalog end (-1 if none), with which
// kafka-transactions.sh finds hanging transactions. The coordinator epoch
// is not kept (-1).
//
// Authorization: READ on each topic (TOPIC_AUTHORIZATION_FAILED).
func handleDescribeProducers(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		t := s.topics.byName(rt.Topic)
		allowed := rc.authorizedTopic(acl.OpRead, rt.Topic)
		for _, i := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = i
			var p *partition.Partition
			if t != nil {
				p = t.partition(i)
			}
			switch {
			case !allowed:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case t.meta.Partitions[i].Leader != s.cfg.NodeID:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				open := s.meta.OpenTxns(t.meta.ID, i)
				for _, pi := range p.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = pi.ID, int32(pi.Epoch), pi.LastSeq
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1, -1
					if pi.LastAppend > 0 {
						ap.LastTimestamp = pi.LastAppend
					}
					if first, ok := open[pi.ID]; ok {
						ap.CurrentTxnStartOffset = first
					}
					sp.ActiveProducers = append(sp.ActiveProducers, ap)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}
