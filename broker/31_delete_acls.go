package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteAcls: v0–v3 (a v0 filter selects LITERAL bindings).
//
// Deletes every binding a filter selects, in one metadata command for the
// whole request, and answers each filter with the bindings it matched (a
// binding two filters match is listed under both). SECURITY_DISABLED when
// the authorizer is off, CLUSTER_AUTHORIZATION_FAILED without ALTER on the
// cluster, INVALID_REQUEST for a malformed filter (the others proceed).
func handleDeleteACLs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	var top error
	switch {
	case s.authz == nil:
		top = errSecurityDisabled
	case !rc.authorizedCluster(acl.OpAlter):
		top = clusterAuthError()
	}
	if top != nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kafkaError(top)
		}
		rc.respond(resp)
		return
	}
	var filters []acl.Filter
	var at []int
	for i, rf := range req.Filters {
		f := acl.Filter{
			ResourceType: acl.ResourceType(rf.ResourceType),
			ResourceName: rf.ResourceName,
			PatternType:  acl.PatternType(rf.ResourcePatternType),
			Principal:    rf.Principal,
			Host:         rf.Host,
			Operation:    acl.Operation(rf.Operation),
			Permission:   acl.Permission(rf.PermissionType),
		}
		if req.Version == 0 {
			f.PatternType = acl.PatternLiteral
		}
		if err := f.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kafkaError(aclError(err))
			continue
		}
		filters = append(filters, f)
		at = append(at, i)
	}
	if len(filters) > 0 {
		matched, err := s.meta.DeleteACLs(rc.ctx(), filters)
		err = aclError(err)
		for j, i := range at {
			res := &resp.Results[i]
			if err != nil {
				res.ErrorCode, res.ErrorMessage = kafkaError(err)
				continue
			}
			for _, b := range matched[j] {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType = kmsg.ACLResourceType(b.ResourceType)
				m.ResourceName = b.ResourceName
				m.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
				m.Principal, m.Host = b.Principal, b.Host
				m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
				res.MatchingACLs = append(res.MatchingACLs, m)
			}
		}
		if err != nil {
			s.log.Info("delete ACLs failed", "err", err)
		}
	}
	rc.respond(resp)
}
