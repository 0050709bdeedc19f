package broker

import (
	"errors"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/sasl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterUserScramCredentials: v0.
//
// Deletes and sets SCRAM credentials, one result per user, with Kafka's
// (KRaft controller's) rules and messages: a user named more than once in
// the request is DUPLICATE_RESOURCE; an empty name or iterations outside
// 4096..16384 UNACCEPTABLE_CREDENTIAL; a mechanism other than
// SCRAM-SHA-256 (1) or SCRAM-SHA-512 (2) UNSUPPORTED_SASL_MECHANISM;
// deleting a credential that does not exist RESOURCE_NOT_FOUND. The
// client sends the salted password; the broker keeps only StoredKey and
// ServerKey derived from it. Every valid operation goes into one metadata
// command.
func handleAlterUserSCRAMCredentials(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)

	type outcome struct {
		code int16
		msg  string
	}
	results := make(map[string]*outcome)
	var order []string
	named := make(map[string]int)
	note := func(name string) {
		if named[name] == 0 {
			order = append(order, name)
		}
		named[name]++
	}
	for _, d := range req.Deletions {
		note(d.Name)
	}
	for _, u := range req.Upsertions {
		note(u.Name)
	}
	fail := func(name string, code int16, msg string) {
		if results[name] == nil {
			results[name] = &outcome{code, msg}
		}
	}
	for name, n := range named {
		if n > 1 {
			fail(name, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
		}
	}
	mechName := func(m int8) string {
		switch m {
		case metadata.ScramSHA256:
			return sasl.ScramSHA256
		case metadata.ScramSHA512:
			return sasl.ScramSHA512
		}
		return ""
	}
	var dels []metadata.ScramDeletion
	var ups []metadata.ScramUpsert
	var opUser []string // the user of each operation sent, deletions first
	for _, d := range req.Deletions {
		switch {
		case results[d.Name] != nil:
		case d.Name == "":
			fail(d.Name, kerr.UnacceptableCredential.Code, "Username must not be empty")
		case mechName(d.Mechanism) == "":
			fail(d.Name, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
		default:
			dels = append(dels, metadata.ScramDeletion{User: d.Name, Mechanism: d.Mechanism})
			opUser = append(opUser, d.Name)
		}
	}
	for _, u := range req.Upsertions {
		mech := mechName(u.Mechanism)
		switch {
		case results[u.Name] != nil:
			continue
		case u.Name == "":
			fail(u.Name, kerr.UnacceptableCredential.Code, "Username must not be empty")
			continue
		case mech == "":
			fail(u.Name, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			continue
		case u.Iterations < metadata.MinScramIterations:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too few iterations")
			continue
		case u.Iterations > metadata.MaxScramIterations:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too many iterations")
			continue
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty")
			continue
		}
		cred, err := sasl.FromSaltedPassword(mech, u.SaltedPassword, u.Salt, int(u.Iterations))
		if err != nil {
			fail(u.Name, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			continue
		}
		ups = append(ups, metadata.ScramUpsert{User: u.Name, ScramCredential: metadata.ScramCredential{
			Mechanism: u.Mechanism, Iterations: u.Iterations, Salt: cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey}})
		opUser = append(opUser, u.Name)
	}
	if len(opUser) > 0 {
		errs, err := s.meta.AlterScramCredentials(rc.ctx(), dels, ups)
		for i, name := range opUser {
			e := err
			if e == nil {
				e = errs[i]
			}
			if e == nil {
				continue
			}
			switch {
			case errors.Is(e, metadata.ErrScramNotFound):
				fail(name, kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
			case errors.Is(e, metadata.ErrDuplicateScram):
				fail(name, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
			case errors.Is(e, metadata.ErrUnsupportedScramMechanism):
				fail(name, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			case errors.Is(e, metadata.ErrUnacceptableCredential):
				fail(name, kerr.UnacceptableCredential.Code, e.Error())
			default:
				code, _ := kafkaError(e)
				fail(name, code, e.Error())
			}
		}
	}
	for _, name := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = name
		if o := results[name]; o != nil {
			msg := o.msg
			res.ErrorCode, res.ErrorMessage = o.code, &msg
		}
		resp.Results = append(resp.Results, res)
	}
	rc.respond(resp)
}
