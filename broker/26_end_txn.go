package broker

import (
	"context"
	"errors"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn: v0–v5. Commits or aborts the producer's transaction: prepare in
// the metadata log, markers in every partition, complete (with the group
// offsets applied on commit); answered once complete (see txn.go). A
// retry of an end that completed is answered with success; an abort with
// nothing added too, as Kafka does.
//
// v5 is KIP-890 part 2 (transaction.version 2): the producer epoch is
// bumped as the transaction ends and the answer carries the producer id
// and epoch to use next; the markers carry the new epoch, so no late
// Produce or EndTxn of this transaction can land in the next one. v4 only
// lets the answer carry TRANSACTION_ABORTABLE, which Shale never sends.
func handleEndTxn(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if code := s.notTxnCoordinator(req.TransactionalID); code != 0 {
		resp.ErrorCode = code
		rc.respond(resp)
		return
	}
	ctx, cancel := context.WithTimeout(rc.ctx(), 60*time.Second)
	defer cancel()
	bump := req.Version >= 5
	t, err := s.txns.end(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, false, bump)
	resp.ErrorCode, _ = txnError(err)
	if bump && err == nil {
		resp.ProducerID, resp.ProducerEpoch = t.ProducerID, t.ProducerEpoch
	}
	if errors.Is(err, metadata.ErrProducerFenced) && req.Version >= 2 {
		resp.ErrorCode = kerr.ProducerFenced.Code
	}
	rc.respond(resp)
}
