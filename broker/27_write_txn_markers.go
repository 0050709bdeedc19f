package broker

import (
	"context"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kerr"
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
// Only brokers send it. With the authorizer on, a marker needs
// CLUSTER_ACTION on the cluster, as in Kafka, or else to be one the
// metadata state expects: its producer id and epoch are those of a
// transaction in PrepareCommit (a commit marker) or PrepareAbort (an abort
// marker) and every partition it names is in that transaction. That is
// exactly the marker the transaction's coordinator is writing, so a
// coordinator on another broker needs no credentials to send it, and
// anyone else can at most write early what is about to be written anyway.
// Any other marker is CLUSTER_AUTHORIZATION_FAILED on all its partitions.
func handleWriteTxnMarkers(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	ctx, cancel := context.WithTimeout(rc.ctx(), 30*time.Second)
	defer cancel()
	clusterAction := rc.authorizedCluster(acl.OpClusterAction)
	for _, m := range req.Markers {
		allowed := clusterAction || s.markerExpected(m)
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

// markerExpected reports whether the metadata state shows a transaction
// preparing exactly marker m (see handleWriteTxnMarkers).
func (s *Server) markerExpected(m kmsg.WriteTxnMarkersRequestMarker) bool {
	want := metadata.TxnPrepareAbort
	if m.Committed {
		want = metadata.TxnPrepareCommit
	}
	for _, t := range s.meta.Transactions() {
		if t.ProducerID != m.ProducerID {
			continue
		}
		if t.Status != want || t.ProducerEpoch != m.ProducerEpoch {
			return false
		}
		for _, mt := range m.Topics {
			for _, p := range mt.Partitions {
				if !t.HasPartition(metadata.TopicPartition{Topic: mt.Topic, Partition: p}) {
					return false
				}
			}
		}
		return true
	}
	return false
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
