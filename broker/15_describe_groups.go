package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups: v0–v5.
//
// A group unknown to this coordinator is described as Dead with no error,
// as Kafka does before v6; a group that exists only through committed
// offsets is Empty. Member metadata and assignments are shown only for a
// Stable group. With IncludeAuthorizedOperations (v3+) every group
// operation is allowed: there are no ACLs.

func handleDescribeGroups(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, g := range req.Groups {
		if code := s.notCoordinator(g); code != 0 {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		resp.Groups = append(resp.Groups, s.groups.describe(g, req.IncludeAuthorizedOperations))
	}
	rc.respond(resp)
}
