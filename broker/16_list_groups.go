package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups: v0–v5 (v4 filters by state, v5 by type; every group here is
// a "classic" group).

func handleListGroups(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Groups = s.groups.list(req.StatesFilter, req.TypesFilter)
	rc.respond(resp)
}
