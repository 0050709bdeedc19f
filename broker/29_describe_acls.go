package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeAcls: v0–v3 (a v0 filter selects LITERAL bindings).
//
// Lists the bindings the filter selects, grouped by resource pattern in
// the order the bindings were created. SECURITY_DISABLED when the
// authorizer is off, CLUSTER_AUTHORIZATION_FAILED without DESCRIBE on the
// cluster, INVALID_REQUEST for a filter with an unknown type, operation
// or permission.
func handleDescribeACLs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType),
		ResourceName: req.ResourceName,
		PatternType:  acl.PatternType(req.ResourcePatternType),
		Principal:    req.Principal,
		Host:         req.Host,
		Operation:    acl.Operation(req.Operation),
		Permission:   acl.Permission(req.PermissionType),
	}
	if req.Version == 0 {
		f.PatternType = acl.PatternLiteral
	}
	var err error
	switch {
	case s.authz == nil:
		err = errSecurityDisabled
	case !rc.authorizedCluster(acl.OpDescribe):
		err = clusterAuthError()
	default:
		err = aclError(f.Validate())
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = kafkaError(err)
		rc.respond(resp)
		return
	}
	_, bindings := s.meta.ACLs()
	type pattern struct {
		rt   acl.ResourceType
		name string
		pt   acl.PatternType
	}
	index := map[pattern]int{}
	for _, b := range bindings {
		if !f.Matches(b) {
			continue
		}
		p := pattern{b.ResourceType, b.ResourceName, b.PatternType}
		i, ok := index[p]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType = kmsg.ACLResourceType(b.ResourceType)
			res.ResourceName = b.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			i = len(resp.Resources)
			index[p] = i
			resp.Resources = append(resp.Resources, res)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, a)
	}
	rc.respond(resp)
}
