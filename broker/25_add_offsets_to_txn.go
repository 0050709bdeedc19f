package broker

import (
	"context"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn: v0–v3. The group joins the producer's transaction, so
// that the group offsets it then commits with TxnOffsetCommit apply when
// (and only if) the transaction commits.
//
// Authorization: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
// (GROUP_AUTHORIZATION_FAILED).
func handleAddOffsetsToTxn(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !rc.authorizedTxnID(acl.OpWrite, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	case !rc.authorizedGroup(acl.OpRead, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
	}
	if resp.ErrorCode != 0 {
		rc.respond(resp)
		return
	}
	if code := s.notTxnCoordinator(req.TransactionalID); code != 0 {
		resp.ErrorCode = code
		rc.respond(resp)
		return
	}
	ctx, cancel := context.WithTimeout(rc.ctx(), 30*time.Second)
	defer cancel()
	_, err := s.meta.AddTxnPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, nil, []string{req.Group}, s.now().UnixMilli())
	resp.ErrorCode, _ = txnError(err)
	rc.respond(resp)
}
