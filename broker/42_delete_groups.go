package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups: v0–v2.
//
// Deletes groups without members and all their committed offsets;
// NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND for a group
// with neither members nor offsets. DELETE on the group is required
// (GROUP_AUTHORIZATION_FAILED).

func handleDeleteGroups(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var here []string
	for _, g := range req.Groups {
		code := s.notCoordinator(g)
		if !rc.authorizedGroup(acl.OpDelete, g) {
			code = kerr.GroupAuthorizationFailed.Code
		}
		if code != 0 {
			dg := kmsg.NewDeleteGroupsResponseGroup()
			dg.Group, dg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		here = append(here, g)
	}
	s.groups.deleteGroups(here, func(codes []int16) {
		for i, g := range here {
			dg := kmsg.NewDeleteGroupsResponseGroup()
			dg.Group = g
			dg.ErrorCode = codes[i]
			resp.Groups = append(resp.Groups, dg)
		}
		rc.respond(resp)
	})
}
