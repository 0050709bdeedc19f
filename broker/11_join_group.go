package broker

import (
	"context"
	"net"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup: v0–v9.
//
// Answered when the rebalance the member joins completes (see group.go),
// never by blocking the connection's reader. v4+ members without an id get
// MEMBER_ID_REQUIRED and an id to rejoin with; v5+ static members rejoin
// by group.instance.id; v9 leaders of a Stable group rejoining statically
// get SkipAssignment. The v8 reason is only logged by clients; it is
// ignored here.
//
// A JoinGroup that waits for its rebalance is tied to its connection: when
// the connection closes first, its response slot is released empty at
// once, so a closed connection (and server shutdown) never waits for the
// rebalance timeout.
//
// Authorization (here and in SyncGroup, Heartbeat, LeaveGroup): READ on
// the group, else GROUP_AUTHORIZATION_FAILED. The member stays in the group as Kafka keeps it: it is
// dropped if it never syncs or its session expires.

func handleJoinGroup(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.JoinGroupRequest)
	if code := groupRequestCheck(s, rc, req.Group); code != 0 {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation = code, -1
		rc.respond(resp)
		return
	}
	s.groups.join(req, requestClient(rc), connReply[*kmsg.JoinGroupResponse](rc))
}

// groupRequestCheck is what every member request checks first: READ on the
// group, then that this broker coordinates it.
func groupRequestCheck(s *Server, rc *reqCtx, group string) int16 {
	if !rc.authorizedGroup(acl.OpRead, group) {
		return kerr.GroupAuthorizationFailed.Code
	}
	return s.notCoordinator(group)
}

// connReply returns the reply function of a group request that may wait for
// a rebalance step: it answers rc, unless rc's connection (or the server)
// closed first, in which case rc's response slot was already released
// without an answer and the reply is dropped.
func connReply[T kmsg.Response](rc *reqCtx) func(T) {
	stop := context.AfterFunc(rc.ctx(), func() {
		if rc.slot != nil {
			rc.slot.finish(nil)
		}
	})
	return func(resp T) {
		stop()
		rc.respond(resp)
	}
}

// requestClient is the client id and host of rc's connection, as
// DescribeGroups shows them ("/" and the address, like Kafka).
func requestClient(rc *reqCtx) clientInfo {
	host := ""
	if addr := rc.conn.nc.RemoteAddr(); addr != nil {
		host = addr.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	return clientInfo{id: rc.hdr.clientID, host: "/" + host}
}
