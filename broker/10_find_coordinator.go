package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator: v0–v4 (v4 looks up many keys at once).
//
// This broker coordinates every consumer group, so a group key always
// names it. Any other key type is INVALID_REQUEST.
//
// Transactions are not supported yet, and a transactional client must learn
// that at once rather than retry until its own timeout (a retriable code
// such as COORDINATOR_NOT_AVAILABLE makes librdkafka query again every
// 500 ms until init_transactions times out, and makes franz-go retry and
// then begin the transaction anyway). A transaction key therefore gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, non-retriable, with a message
// saying transactions are not supported:
//   - librdkafka treats exactly this code (and CLUSTER_AUTHORIZATION_FAILED)
//     in a FindCoordinator answer as a fatal transactional error, so
//     init_transactions fails at once, carrying the message;
//   - franz-go fails BeginTransaction at once with the code, since a
//     non-retriable error while loading the producer id is fatal;
//   - the Java client raises TransactionalIdAuthorizationException from
//     initTransactions.
// UNSUPPORTED_VERSION would be the wrong claim (the API version is fine)
// and CLUSTER_AUTHORIZATION_FAILED would tell users to fix ACLs cluster
// wide. InitProducerId with a transactional id answers the same code (see
// 22_init_producer_id.go).
//
// Not yet: share groups (v6).

// coordinatorTypeGroup and coordinatorTypeTransaction are FindCoordinator
// key types.
const (
	coordinatorTypeGroup       = 0
	coordinatorTypeTransaction = 1
)

// transactionsUnsupported is the message of a refused transactional id.
const transactionsUnsupported = "transactions are not supported by this Shale broker yet; use an idempotent producer without transactional.id"

func handleFindCoordinator(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := s.AdvertisedAddr()
	find := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Host, c.Port = -1, "", -1
		switch req.CoordinatorType {
		case coordinatorTypeGroup:
			id, here := s.coordinator(key)
			b, ok := s.meta.Broker(id)
			switch {
			case here:
				c.NodeID, c.Host, c.Port = s.cfg.NodeID, host, port
			case ok && !b.Fenced:
				c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
			default:
				msg := "the group's coordinator slot has no live broker yet"
				c.ErrorCode, c.ErrorMessage = kerr.CoordinatorNotAvailable.Code, &msg
			}
		case coordinatorTypeTransaction:
			msg := transactionsUnsupported
			c.ErrorCode, c.ErrorMessage = kerr.TransactionalIDAuthorizationFailed.Code, &msg
		default:
			msg := "unknown coordinator key type"
			c.ErrorCode, c.ErrorMessage = kerr.InvalidRequest.Code, &msg
		}
		return c
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, find(k))
		}
		rc.respond(resp)
		return
	}
	c := find(req.CoordinatorKey)
	resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
	resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
	rc.respond(resp)
}
