package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup: v0–v5 (v3+ leaves many members at once, by member id or by
// group.instance.id).
//
// A member that leaves triggers a rebalance at once instead of after its
// session timeout. Before v3 the one member's error is the top-level
// error.

func handleLeaveGroup(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if resp.ErrorCode = groupRequestCheck(s, rc, req.Group); resp.ErrorCode != 0 {
		rc.respond(resp)
		return
	}
	var leaving []leaveMember
	if req.Version < 3 {
		leaving = []leaveMember{{memberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			leaving = append(leaving, leaveMember{memberID: m.MemberID, instanceID: m.InstanceID})
		}
	}
	top, codes := s.groups.leave(req.Group, leaving)
	resp.ErrorCode = top
	if req.Version < 3 {
		if top == 0 && len(codes) == 1 {
			resp.ErrorCode = codes[0]
		}
		rc.respond(resp)
		return
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = m.MemberID
		rm.InstanceID = m.InstanceID
		rm.ErrorCode = codes[i]
		resp.Members = append(resp.Members, rm)
	}
	rc.respond(resp)
}
