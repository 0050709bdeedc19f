package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete: v0.
//
// Deletes a group's committed offsets for the given partitions. A group
// with members keeps the offsets of topics they subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group with members refuses
// with NON_EMPTY_GROUP.

func handleOffsetDelete(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetDeleteRequest)
	if code := s.notCoordinator(req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		rc.respond(resp)
		return
	}
	s.groups.deleteOffsets(req, func(resp *kmsg.OffsetDeleteResponse) { rc.respond(resp) })
}
