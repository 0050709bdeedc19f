package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup: v0–v5.
//
// The leader sends every member's assignment; each member's SyncGroup is
// answered with its own once the leader's arrives (or at once in a Stable
// group). v5 requests naming another protocol type or protocol than the
// group's get INCONSISTENT_GROUP_PROTOCOL.

func handleSyncGroup(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.SyncGroupRequest)
	s.groups.sync(req, func(resp *kmsg.SyncGroupResponse) { rc.respond(resp) })
}
