package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup: v0–v5.
//
// The leader sends every member's assignment; each member's SyncGroup is
// answered with its own once the leader's arrives (or at once in a Stable
// group). v5 requests naming another protocol type or protocol than the
// group's get INCONSISTENT_GROUP_PROTOCOL. A follower's SyncGroup waiting
// for the leader is tied to its connection like a waiting JoinGroup (see
// connReply).

func handleSyncGroup(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.SyncGroupRequest)
	if code := groupRequestCheck(s, rc, req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		rc.respond(resp)
		return
	}
	s.groups.sync(req, connReply[*kmsg.SyncGroupResponse](rc))
}
