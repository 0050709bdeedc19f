package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups: v0–v5 (v4 filters by state, v5 by type; every group here is
// a "classic" group).
//
// Authorization: with DESCRIBE on the cluster every group is listed, else
// only the groups the principal may DESCRIBE, as Kafka does.

func handleListGroups(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Groups = s.groups.list(req.StatesFilter, req.TypesFilter)
	if !rc.authorizedCluster(acl.OpDescribe) {
		kept := resp.Groups[:0]
		for _, g := range resp.Groups {
			if rc.authorizedGroup(acl.OpDescribe, g.Group) {
				kept = append(kept, g)
			}
		}
		resp.Groups = kept
	}
	rc.respond(resp)
}
