package broker

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeClientQuotas: v0–v1 (KIP-546).
//
// The filter's components each name an entity type (user, client-id) and
// match its name exactly (match type 0), the default entity (1), or any
// name, the default included (2); an entity matches when every component
// does, and, with strict, only when it has no other entity types. A type
// named twice, a match given where the match type takes none (or missing
// where it takes one), an unknown match type or entity type are
// INVALID_REQUEST, as in Kafka. Shale keeps no ip quotas, so a filter on
// ip matches nothing.
func handleDescribeClientQuotas(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	filter, err := parseQuotaFilter(req)
	if err != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		rc.respond(resp)
		return
	}
	if !filter.none {
		for _, cq := range s.meta.ClientQuotas() {
			if !filter.matches(cq.Entity) {
				continue
			}
			e := kmsg.NewDescribeClientQuotasResponseEntry()
			for _, c := range []struct {
				typ string
				n   metadata.QuotaName
			}{{metadata.QuotaEntityUser, cq.Entity.User}, {metadata.QuotaEntityClientID, cq.Entity.ClientID}} {
				if !c.n.Set {
					continue
				}
				ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
				ent.Type = c.typ
				if !c.n.Default {
					name := c.n.Name
					ent.Name = &name
				}
				e.Entity = append(e.Entity, ent)
			}
			for _, k := range slices.Sorted(maps.Keys(cq.Values)) {
				v := kmsg.NewDescribeClientQuotasResponseEntryValue()
				v.Key, v.Value = k, cq.Values[k]
				e.Values = append(e.Values, v)
			}
			resp.Entries = append(resp.Entries, e)
		}
	}
	rc.respond(resp)
}

// quotaFilter is a parsed DescribeClientQuotas filter.
type quotaFilter struct {
	user, clientID *kmsg.DescribeClientQuotasRequestComponent
	strict         bool
	none           bool // the filter names ip: nothing matches
}

func parseQuotaFilter(req *kmsg.DescribeClientQuotasRequest) (quotaFilter, error) {
	f := quotaFilter{strict: req.Strict}
	seen := map[string]bool{}
	for i := range req.Components {
		c := &req.Components[i]
		if seen[c.EntityType] {
			return f, fmt.Errorf("entity type %s cannot appear more than once in the filter", c.EntityType)
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return f, fmt.Errorf("the match of entity type %s must be given for an exact match", c.EntityType)
			}
		case kmsg.QuotasMatchTypeDefault, kmsg.QuotasMatchTypeAny:
			if c.Match != nil {
				return f, fmt.Errorf("the match of entity type %s must be null for match type %d", c.EntityType, c.MatchType)
			}
		default:
			return f, fmt.Errorf("unknown match type %d", c.MatchType)
		}
		switch c.EntityType {
		case metadata.QuotaEntityUser:
			f.user = c
		case metadata.QuotaEntityClientID:
			f.clientID = c
		case "ip":
			f.none = true
		default:
			return f, fmt.Errorf("custom entity type %q is not supported", c.EntityType)
		}
	}
	if f.none && (f.user != nil || f.clientID != nil) {
		return f, fmt.Errorf("ip entities cannot be combined with user or client-id entities")
	}
	return f, nil
}

func (f quotaFilter) matches(e metadata.QuotaEntity) bool {
	one := func(c *kmsg.DescribeClientQuotasRequestComponent, n metadata.QuotaName) bool {
		if c == nil {
			return !f.strict || !n.Set
		}
		if !n.Set {
			return false
		}
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			return !n.Default && n.Name == *c.Match
		case kmsg.QuotasMatchTypeDefault:
			return n.Default
		}
		return true
	}
	return one(f.user, e.User) && one(f.clientID, e.ClientID)
}
