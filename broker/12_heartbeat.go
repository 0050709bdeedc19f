package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat: v0–v4.
//
// Keeps a member's session alive. REBALANCE_IN_PROGRESS tells a member of
// the current generation to rejoin; ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID
// and FENCED_INSTANCE_ID tell it that it is no longer one.

func handleHeartbeat(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if resp.ErrorCode = groupRequestCheck(s, rc, req.Group); resp.ErrorCode == 0 {
		resp.ErrorCode = s.groups.heartbeat(req)
	}
	rc.respond(resp)
}
