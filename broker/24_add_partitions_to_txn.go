package broker

import (
	"context"
	"errors"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn: v0–v4.
//
// v0–v3 come from a transactional producer: the partitions join its
// ongoing transaction (starting one if none is), through the metadata log.
// v4 batches several transactions (brokers of KIP-890 send it); a
// transaction marked VerifyOnly is only checked: each partition answers
// whether it is already in the ongoing transaction (INVALID_TXN_STATE if
// not) and nothing is added. Every partition of a refused request carries
// the same error, except that unknown partitions get
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as in
// Kafka.
//
// Authorization: v0–v3 need WRITE on the transactional id (every partition
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and on each topic (its partitions
// TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED); v4,
// which brokers send, needs CLUSTER_ACTION (CLUSTER_AUTHORIZATION_FAILED).
func handleAddPartitionsToTxn(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	ctx, cancel := context.WithTimeout(rc.ctx(), 30*time.Second)
	defer cancel()
	if req.Version < 4 {
		if code, denied := addPartitionsDenied(rc, req); code != 0 || denied != nil {
			resp.Topics = addPartitionsErrors(req.Topics, func(topic string) int16 {
				switch {
				case code != 0:
					return code
				case denied[topic]:
					return kerr.TopicAuthorizationFailed.Code
				}
				return kerr.OperationNotAttempted.Code
			})
			rc.respond(resp)
			return
		}
		resp.Topics = s.addPartitionsToTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Topics, false)
		rc.respond(resp)
		return
	}
	if !rc.authorizedCluster(acl.OpClusterAction) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		rc.respond(resp)
		return
	}
	for _, tx := range req.Transactions {
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = tx.TransactionalID
		topics := make([]kmsg.AddPartitionsToTxnRequestTopic, len(tx.Topics))
		for i, t := range tx.Topics {
			topics[i] = kmsg.AddPartitionsToTxnRequestTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
		for _, t := range s.addPartitionsToTxn(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, topics, tx.VerifyOnly) {
			tt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			tt.Topic = t.Topic
			for _, p := range t.Partitions {
				tp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				tp.Partition, tp.ErrorCode = p.Partition, p.ErrorCode
				tt.Partitions = append(tt.Partitions, tp)
			}
			rt.Topics = append(rt.Topics, tt)
		}
		resp.Transactions = append(resp.Transactions, rt)
	}
	rc.respond(resp)
}

// addPartitionsDenied checks a v0–v3 request: a code for every partition
// when the transactional id is refused, else the topics refused.
func addPartitionsDenied(rc *reqCtx, req *kmsg.AddPartitionsToTxnRequest) (int16, map[string]bool) {
	if !rc.authorizedTxnID(acl.OpWrite, req.TransactionalID) {
		return kerr.TransactionalIDAuthorizationFailed.Code, nil
	}
	names := make([]string, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
	}
	return 0, rc.deniedTopics(acl.OpWrite, names)
}

// addPartitionsErrors answers every partition of topics with code(topic).
func addPartitionsErrors(topics []kmsg.AddPartitionsToTxnRequestTopic, code func(string) int16) []kmsg.AddPartitionsToTxnResponseTopic {
	var out []kmsg.AddPartitionsToTxnResponseTopic
	for _, rt := range topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code(rt.Topic)
			st.Partitions = append(st.Partitions, sp)
		}
		out = append(out, st)
	}
	return out
}

// addPartitionsToTxn adds (or with verifyOnly checks) topics' partitions
// in transaction id and returns the per-partition answers.
func (s *Server) addPartitionsToTxn(ctx context.Context, id string, pid int64, epoch int16, topics []kmsg.AddPartitionsToTxnRequestTopic, verifyOnly bool) []kmsg.AddPartitionsToTxnResponseTopic {
	var tps []metadata.TopicPartition
	unknown := map[metadata.TopicPartition]bool{}
	for _, rt := range topics {
		t, ok := s.meta.Topic(rt.Topic)
		for _, p := range rt.Partitions {
			tp := metadata.TopicPartition{Topic: rt.Topic, Partition: p}
			if !ok || p < 0 || int(p) >= len(t.Partitions) {
				unknown[tp] = true
			}
			tps = append(tps, tp)
		}
	}
	code := s.notTxnCoordinator(id)
	verified := map[metadata.TopicPartition]bool{}
	switch {
	case code != 0:
	case len(unknown) > 0:
		code = kerr.OperationNotAttempted.Code
	case verifyOnly:
		t, err := s.txnChecked(id, pid, epoch)
		if err != nil {
			code, _ = txnError(err)
			break
		}
		for _, tp := range tps {
			verified[tp] = t.Status == metadata.TxnOngoing && t.HasPartition(tp)
		}
	default:
		_, err := s.meta.AddTxnPartitions(ctx, id, pid, epoch, tps, nil, s.now().UnixMilli())
		code, _ = txnError(err)
	}
	var out []kmsg.AddPartitionsToTxnResponseTopic
	for _, rt := range topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			tp := metadata.TopicPartition{Topic: rt.Topic, Partition: p}
			switch {
			case unknown[tp]:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case verifyOnly && code == 0 && !verified[tp]:
				sp.ErrorCode = kerr.InvalidTxnState.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		out = append(out, st)
	}
	return out
}

// txnChecked returns transaction id's state after checking the producer
// id and epoch against it, as the state machine would.
func (s *Server) txnChecked(id string, pid int64, epoch int16) (metadata.Txn, error) {
	t, ok := s.meta.Transaction(id)
	switch {
	case !ok:
		return t, metadata.ErrTransactionalIDNotFound
	case t.ProducerID != pid:
		return t, metadata.ErrInvalidProducerIDMapping
	case epoch < t.ProducerEpoch:
		return t, metadata.ErrProducerFenced
	case epoch > t.ProducerEpoch:
		return t, errors.Join(metadata.ErrInvalidTxnState, errors.New("a newer epoch than the transaction's"))
	}
	return t, nil
}
