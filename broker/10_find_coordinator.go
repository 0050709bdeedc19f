package broker

import (
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator: v0–v4 (v4 looks up many keys at once).
//
// A group id and a transactional id both hash to a coordinator slot
// (metadata/slots.go); the answer is the slot's leader broker. Any other
// key type is INVALID_REQUEST. The coordinator's endpoint is that of the
// listener the request came through.
//
// Not yet: share groups (v6).

// coordinatorTypeGroup and coordinatorTypeTransaction are FindCoordinator
// key types.
const (
	coordinatorTypeGroup       = 0
	coordinatorTypeTransaction = 1
)

func handleFindCoordinator(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	find := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Host, c.Port = -1, "", -1
		switch req.CoordinatorType {
		case coordinatorTypeGroup, coordinatorTypeTransaction:
			id, here := s.coordinator(key)
			b, ok := s.meta.Broker(id)
			if here {
				b, ok = metadata.Broker{ID: s.cfg.NodeID}, true
			}
			host, port, reachable := s.endpoint(b, rc.conn.listener)
			switch {
			case ok && !b.Fenced && reachable:
				c.NodeID, c.Host, c.Port = b.ID, host, port
			default:
				msg := "the coordinator slot has no live broker yet"
				c.ErrorCode, c.ErrorMessage = kerr.CoordinatorNotAvailable.Code, &msg
			}
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
