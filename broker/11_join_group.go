package broker

import (
	"net"

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

func handleJoinGroup(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.JoinGroupRequest)
	s.groups.join(req, requestClient(rc), func(resp *kmsg.JoinGroupResponse) { rc.respond(resp) })
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
