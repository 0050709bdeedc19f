package broker

import (
	"path"
	"slices"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions: v0, and ListTransactions: v0–v1. Answered from
// the metadata log this broker follows; a transactional id this broker
// does not coordinate gets NOT_COORDINATOR in DescribeTransactions, and
// ListTransactions lists the ids this broker coordinates, as Kafka's
// brokers each list their own (kafka-transactions.sh asks every broker).
//
// Authorization: DESCRIBE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED; ListTransactions leaves out the
// ids the principal may not describe); a described transaction lists only
// the topics the principal may describe.

func handleDescribeTransactions(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		ts := kmsg.NewDescribeTransactionsResponseTransactionState()
		ts.TransactionalID = id
		t, ok := s.meta.Transaction(id)
		switch {
		case !rc.authorizedTxnID(acl.OpDescribe, id):
			ts.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case s.notTxnCoordinator(id) != 0:
			ts.ErrorCode = kerr.NotCoordinator.Code
		case !ok:
			ts.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			ts.State = kafkaTxnState(t.Status)
			ts.TimeoutMillis = t.TimeoutMs
			ts.StartTimestamp = -1
			if t.Status == metadata.TxnOngoing || t.Status.Preparing() {
				ts.StartTimestamp = t.StartTime
			}
			ts.ProducerID, ts.ProducerEpoch = t.ProducerID, t.ProducerEpoch
			for _, tp := range t.Partitions {
				if !rc.authorizedTopic(acl.OpDescribe, tp.Topic) {
					continue // Kafka leaves out the topics the principal may not describe
				}
				if n := len(ts.Topics); n > 0 && ts.Topics[n-1].Topic == tp.Topic {
					ts.Topics[n-1].Partitions = append(ts.Topics[n-1].Partitions, tp.Partition)
					continue
				}
				tt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				tt.Topic, tt.Partitions = tp.Topic, []int32{tp.Partition}
				ts.Topics = append(ts.Topics, tt)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	rc.respond(resp)
}

// kafkaTxnState is Kafka's name of a transaction state.
func kafkaTxnState(s metadata.TxnStatus) string { return s.String() }

func handleListTransactions(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	known := []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"}
	for _, f := range req.StateFilters {
		if !slices.Contains(known, f) {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, f)
		}
	}
	now := s.now().UnixMilli()
	for _, t := range s.meta.Transactions() {
		state := kafkaTxnState(t.Status)
		switch {
		case s.notTxnCoordinator(t.ID) != 0:
		case !rc.authorizedTxnID(acl.OpDescribe, t.ID):
		case len(req.StateFilters) > 0 && !slices.Contains(req.StateFilters, state):
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, t.ProducerID):
		case req.DurationFilterMillis > 0 && (t.Status != metadata.TxnOngoing || time.Duration(now-t.StartTime)*time.Millisecond < time.Duration(req.DurationFilterMillis)*time.Millisecond):
		case req.TransactionalIDPattern != nil && !matchPattern(*req.TransactionalIDPattern, t.ID):
		default:
			ts := kmsg.NewListTransactionsResponseTransactionState()
			ts.TransactionalID, ts.ProducerID, ts.TransactionState = t.ID, t.ProducerID, state
			resp.TransactionStates = append(resp.TransactionStates, ts)
		}
	}
	rc.respond(resp)
}

// matchPattern is a glob match; a malformed pattern matches nothing.
func matchPattern(pattern, id string) bool {
	ok, err := path.Match(pattern, id)
	return err == nil && ok
}
