package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups: v0–v5.
//
// A group unknown to this coordinator is described as Dead with no error,
// as Kafka does before v6; a group that exists only through committed
// offsets is Empty. Member metadata and assignments are shown only for a
// Stable group. A group the principal may not DESCRIBE is
// GROUP_AUTHORIZATION_FAILED; IncludeAuthorizedOperations (v3+) reports
// what it may do with the group (everything without an authorizer).

func handleDescribeGroups(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, g := range req.Groups {
		if !rc.authorizedGroup(acl.OpDescribe, g) {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if code := s.notCoordinator(g); code != 0 {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg := s.groups.describe(g, req.IncludeAuthorizedOperations)
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = rc.authorizedOps(acl.ResourceGroup, g)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	rc.respond(resp)
}
