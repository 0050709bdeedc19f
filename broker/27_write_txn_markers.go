package broker

import (
	"context"
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WriteTxnMarkers: v0–v1, sent by a transaction coordinator to a
// partition's leader. Each marker is appended as a control batch and the
// partition answers once the catalog holds it (so the coordinator can
// complete the transaction knowing the marker survives this broker).
// NOT_LEADER_OR_FOLLOWER tells the coordinator to look the leader up
// again; INVALID_PRODUCER_EPOCH that the marker is older than what the
// partition saw of the producer.
//
// Only brokers send it: it needs CLUSTER_ACTION on the cluster, else every
// partition is CLUSTER_AUTHORIZATION_FAILED (see authorize.go on the
// principal brokers use).
func handleWriteTxnMarkers(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	ctx, cancel := context.WithTimeout(rc.ctx(), 30*time.Second)
	defer cancel()
	allowed := rc.authorizedCluster(acl.OpClusterAction)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		var tps []metadata.TopicPartition
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, metadata.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
		var codes map[metadata.TopicPartition]int16
		if allowed {
			codes = s.writeMarkerCodes(ctx, m.ProducerID, m.ProducerEpoch, m.Committed, tps)
		} else {
			codes = make(map[metadata.TopicPartition]int16, len(tps))
			for _, tp := range tps {
				codes[tp] = kerr.ClusterAuthorizationFailed.Code
			}
		}
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = p
				rp.ErrorCode = codes[metadata.TopicPartition{Topic: t.Topic, Partition: p}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	rc.respond(resp)
}

// writeMarkerCodes writes one marker to tps and returns each partition's
// error code.
func (s *Server) writeMarkerCodes(ctx context.Context, pid int64, epoch int16, commit bool, tps []metadata.TopicPartition) map[metadata.TopicPartition]int16 {
	codes := make(map[metadata.TopicPartition]int16, len(tps))
	apps := make(map[metadata.TopicPartition]*partition.Appended, len(tps))
	for _, tp := range tps { // append every marker, then wait for all
		app, err := s.appendMarker(tp, pid, epoch, commit)
		if err != nil {
			codes[tp] = errCode(err)
			continue
		}
		apps[tp] = app
	}
	for tp, app := range apps {
		codes[tp] = errCode(app.WaitCommitted(ctx))
	}
	return codes
}
