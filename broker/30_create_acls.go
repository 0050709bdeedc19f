package broker

import (
	"errors"
	"fmt"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateAcls: v0–v3 (v0 bindings are LITERAL).
//
// Every creation is answered on its own, in order: SECURITY_DISABLED when
// the authorizer is off, CLUSTER_AUTHORIZATION_FAILED without ALTER on the
// cluster, INVALID_REQUEST with Kafka's message for a binding Kafka would
// refuse (see acl.Binding.Validate). The valid ones are written to the
// metadata log in one command; a binding that exists already is left as it
// is and answered with success. All ACL APIs (29–31) keep the bindings in
// the metadata state (metadata/acls.go), so every broker answers and
// authorizes from the same set.
func handleCreateACLs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	setAll := func(err error) {
		for i := range resp.Results {
			resp.Results[i] = kmsg.NewCreateACLsResponseResult()
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kafkaError(err)
		}
	}
	switch {
	case s.authz == nil:
		setAll(errSecurityDisabled)
		rc.respond(resp)
		return
	case !rc.authorizedCluster(acl.OpAlter):
		setAll(clusterAuthError())
		rc.respond(resp)
		return
	}
	var valid []acl.Binding
	var validAt []int
	for i, c := range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		b := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType),
			ResourceName: c.ResourceName,
			PatternType:  acl.PatternType(c.ResourcePatternType),
			Principal:    c.Principal,
			Host:         c.Host,
			Operation:    acl.Operation(c.Operation),
			Permission:   acl.Permission(c.PermissionType),
		}
		if req.Version == 0 {
			b.PatternType = acl.PatternLiteral
		}
		if err := b.Validate(); err != nil {
			res.ErrorCode, res.ErrorMessage = kafkaError(aclError(err))
		} else {
			valid = append(valid, b)
			validAt = append(validAt, i)
		}
		resp.Results[i] = res
	}
	if len(valid) > 0 {
		err := aclError(s.meta.CreateACLs(rc.ctx(), valid))
		if err != nil {
			s.log.Info("create ACLs failed", "err", err)
			for _, i := range validAt {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kafkaError(err)
			}
		}
	}
	rc.respond(resp)
}

// errSecurityDisabled answers the ACL APIs when the authorizer is off.
var errSecurityDisabled = fmt.Errorf("%w: no authorizer is configured on the broker", kerr.SecurityDisabled)

// aclError maps an invalid binding or filter (or too many of them) to
// INVALID_REQUEST with its message.
func aclError(err error) error {
	if errors.Is(err, acl.ErrInvalid) || errors.Is(err, metadata.ErrInvalidRequest) {
		return fmt.Errorf("%w: %v", kerr.InvalidRequest, err)
	}
	return err
}
