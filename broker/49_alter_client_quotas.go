package broker

import (
	"errors"
	"fmt"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterClientQuotas: v0–v1 (KIP-546), with validate_only.
//
// Each entry is validated and answered on its own: an entity with no
// component, an entity type named twice, an unknown entity type, an
// unknown quota key, a byte rate that is not a whole number or a value
// that is not positive are INVALID_REQUEST, as Kafka answers them. Shale
// enforces producer_byte_rate, consumer_byte_rate and request_percentage
// on users and client ids; ip entities (connection_creation_rate) are
// refused, per-IP connection caps being broker settings here. The valid
// entries are applied together in one metadata command.
func handleAlterClientQuotas(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	alts := make([]metadata.QuotaAlteration, len(req.Entries))
	parseErrs := make([]error, len(req.Entries))
	var valid []metadata.QuotaAlteration
	var at []int
	for i, e := range req.Entries {
		a, err := parseQuotaAlteration(e)
		alts[i], parseErrs[i] = a, err
		if err == nil {
			valid = append(valid, a)
			at = append(at, i)
		}
	}
	errs, err := s.meta.SetClientQuotas(rc.ctx(), valid, req.ValidateOnly)
	for i, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		for _, ent := range e.Entity {
			out := kmsg.NewAlterClientQuotasResponseEntryEntity()
			out.Type, out.Name = ent.Type, ent.Name
			re.Entity = append(re.Entity, out)
		}
		entryErr := parseErrs[i]
		if entryErr == nil {
			if err != nil {
				entryErr = err
			} else {
				for j, idx := range at {
					if idx == i {
						entryErr = errs[j]
					}
				}
			}
		}
		if entryErr != nil {
			msg := entryErr.Error()
			re.ErrorCode, re.ErrorMessage = quotaErrCode(entryErr), &msg
		}
		resp.Entries = append(resp.Entries, re)
	}
	rc.respond(resp)
}

func quotaErrCode(err error) int16 {
	if errors.Is(err, metadata.ErrInvalidRequest) {
		return kerr.InvalidRequest.Code
	}
	return errCode(err)
}

func parseQuotaAlteration(e kmsg.AlterClientQuotasRequestEntry) (metadata.QuotaAlteration, error) {
	var a metadata.QuotaAlteration
	if len(e.Entity) == 0 {
		return a, fmt.Errorf("%w: invalid empty client quota entity", metadata.ErrInvalidRequest)
	}
	for _, ent := range e.Entity {
		var n *metadata.QuotaName
		switch ent.Type {
		case metadata.QuotaEntityUser:
			n = &a.Entity.User
		case metadata.QuotaEntityClientID:
			n = &a.Entity.ClientID
		case "ip":
			return a, fmt.Errorf("%w: ip quotas are not supported by Shale (see max_connections_per_ip)", metadata.ErrInvalidRequest)
		default:
			return a, fmt.Errorf("%w: unhandled client quota entity type: %s", metadata.ErrInvalidRequest, ent.Type)
		}
		if n.Set {
			return a, fmt.Errorf("%w: duplicate %s entity in the client quota entity", metadata.ErrInvalidRequest, ent.Type)
		}
		if ent.Name == nil {
			*n = metadata.QuotaDefault()
		} else {
			*n = metadata.QuotaNamed(*ent.Name)
		}
	}
	for _, op := range e.Ops {
		a.Ops = append(a.Ops, metadata.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
	}
	return a, a.Validate()
}
