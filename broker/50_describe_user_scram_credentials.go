package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeUserScramCredentials: v0.
//
// The SCRAM mechanisms and iterations of the users named (every user for
// a null or empty list), never salts or keys. A user named twice is
// DUPLICATE_RESOURCE, an unknown one RESOURCE_NOT_FOUND, with Kafka's
// messages.
func handleDescribeUserSCRAMCredentials(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	result := func(name string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		u, ok := s.meta.ScramUser(name)
		if !ok {
			msg := "Attempt to describe a user credential that does not exist"
			res.ErrorCode, res.ErrorMessage = kerr.ResourceNotFound.Code, &msg
			return res
		}
		for _, m := range u.Mechanisms {
			ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			ci.Mechanism, ci.Iterations = m.Mechanism, m.Iterations
			res.CredentialInfos = append(res.CredentialInfos, ci)
		}
		return res
	}
	if len(req.Users) == 0 {
		for _, u := range s.meta.ScramUsers() {
			resp.Results = append(resp.Results, result(u.Name))
		}
		rc.respond(resp)
		return
	}
	count := make(map[string]int, len(req.Users))
	for _, u := range req.Users {
		count[u.Name]++
	}
	for _, u := range req.Users {
		switch n := count[u.Name]; {
		case n == 0:
			continue // a duplicate, answered once
		case n > 1:
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User = u.Name
			msg := "Cannot describe SCRAM credentials for the same user twice in a single request"
			res.ErrorCode, res.ErrorMessage = kerr.DuplicateResource.Code, &msg
			resp.Results = append(resp.Results, res)
		default:
			resp.Results = append(resp.Results, result(u.Name))
		}
		count[u.Name] = 0
	}
	rc.respond(resp)
}
