package metadata

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Client quotas, as Kafka keeps them (KIP-546): a quota entity names a
// user, a client id, or both, each either by name or as the default
// entity of its type; an entity holds values for the quota keys below.
// Brokers resolve the quota of a (user, client id) pair with Kafka's
// precedence (broker/quota.go) and enforce it locally. The state is
// replicated by SetClientQuotas (command 58) and kept in the snapshot's
// extension section 3 (sectionClientQuotas).

// The quota keys Shale enforces; any other key is refused as Kafka
// refuses a key it does not know.
const (
	QuotaProducerByteRate  = "producer_byte_rate"
	QuotaConsumerByteRate  = "consumer_byte_rate"
	QuotaRequestPercentage = "request_percentage"
)

// The entity types of client quotas.
const (
	QuotaEntityUser     = "user"
	QuotaEntityClientID = "client-id"
)

// QuotaKeys lists the quota keys Shale knows, sorted.
func QuotaKeys() []string {
	return []string{QuotaConsumerByteRate, QuotaProducerByteRate, QuotaRequestPercentage}
}

// QuotaName is one component of a quota entity: absent (Set false), the
// default entity of its type (Default), or a name.
type QuotaName struct {
	Set     bool   `json:",omitempty"`
	Default bool   `json:",omitempty"`
	Name    string `json:",omitempty"`
}

// QuotaNamed is the component naming name.
func QuotaNamed(name string) QuotaName { return QuotaName{Set: true, Name: name} }

// QuotaDefault is the default component of its type.
func QuotaDefault() QuotaName { return QuotaName{Set: true, Default: true} }

func (n QuotaName) String() string {
	switch {
	case !n.Set:
		return "-"
	case n.Default:
		return "<default>"
	}
	return n.Name
}

// QuotaEntity is a quota entity: a user, a client id, or both.
type QuotaEntity struct {
	User     QuotaName `json:",omitempty"`
	ClientID QuotaName `json:",omitempty"`
}

func (e QuotaEntity) String() string {
	switch {
	case e.User.Set && e.ClientID.Set:
		return "user=" + e.User.String() + ",client-id=" + e.ClientID.String()
	case e.User.Set:
		return "user=" + e.User.String()
	}
	return "client-id=" + e.ClientID.String()
}

// maxQuotaNameLen bounds a user or client id name in a quota entity.
const maxQuotaNameLen = 1 << 12

// Validate reports why e cannot hold quotas.
func (e QuotaEntity) Validate() error {
	if !e.User.Set && !e.ClientID.Set {
		return fmt.Errorf("%w: invalid empty client quota entity", ErrInvalidRequest)
	}
	for _, n := range []QuotaName{e.User, e.ClientID} {
		if n.Default && n.Name != "" {
			return fmt.Errorf("%w: a default quota entity has no name", ErrInvalidRequest)
		}
		if n.Set && !n.Default && n.Name == "" {
			return fmt.Errorf("%w: quota entity %s has an empty name (the default entity has a null name)", ErrInvalidRequest, e)
		}
		if !n.Set && (n.Default || n.Name != "") {
			return fmt.Errorf("%w: quota entity component without a type", ErrInvalidRequest)
		}
		if len(n.Name) > maxQuotaNameLen {
			return fmt.Errorf("%w: quota entity name of %d bytes (at most %d)", ErrInvalidRequest, len(n.Name), maxQuotaNameLen)
		}
	}
	return nil
}

// QuotaOp sets (Remove false) or removes one quota key of an entity.
type QuotaOp struct {
	Key    string
	Value  float64 `json:",omitempty"`
	Remove bool    `json:",omitempty"`
}

// ValidateQuotaOp reports why op cannot be applied, with the wording of
// Kafka's errors (all INVALID_REQUEST).
func ValidateQuotaOp(op QuotaOp) error {
	switch op.Key {
	case QuotaProducerByteRate, QuotaConsumerByteRate, QuotaRequestPercentage:
	default:
		return fmt.Errorf("%w: invalid configuration key %s", ErrInvalidRequest, op.Key)
	}
	if op.Remove {
		return nil
	}
	v := op.Value
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return fmt.Errorf("%w: quota %s must be a positive number, not %v", ErrInvalidRequest, op.Key, v)
	}
	if op.Key != QuotaRequestPercentage && (v != math.Trunc(v) || v > math.MaxInt64) {
		return fmt.Errorf("%w: configuration %s must be a Long value", ErrInvalidRequest, op.Key)
	}
	return nil
}

// QuotaAlteration is the change of one entity's quotas.
type QuotaAlteration struct {
	Entity QuotaEntity
	Ops    []QuotaOp
}

// Validate reports why a cannot be applied.
func (a QuotaAlteration) Validate() error {
	if err := a.Entity.Validate(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(a.Ops))
	for _, op := range a.Ops {
		if err := ValidateQuotaOp(op); err != nil {
			return err
		}
		if seen[op.Key] {
			return fmt.Errorf("%w: quota key %s appears twice for %s", ErrInvalidRequest, op.Key, a.Entity)
		}
		seen[op.Key] = true
	}
	return nil
}

// ClientQuota is an entity with its quota values.
type ClientQuota struct {
	Entity QuotaEntity
	Values map[string]float64
}

// setClientQuotasCmd is SetClientQuotas: alterations applied in order,
// each one all or nothing.
type setClientQuotasCmd struct {
	Alterations []QuotaAlteration
}

const (
	cmdSetClientQuotas commandType = 58
	// 59 is reserved for client quotas too.
)

func (setClientQuotasCmd) commandType() commandType { return cmdSetClientQuotas }

// setClientQuotas applies SetClientQuotas. An invalid alteration (only a
// hostile log holds one: the proposer validated it) is skipped; the
// others apply.
func (st *state) setClientQuotas(c setClientQuotasCmd) (applyResult, bool) {
	changed := false
	var firstErr error
	for _, a := range c.Alterations {
		if err := a.Validate(); err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		vals := maps.Clone(st.quotas[a.Entity])
		if vals == nil {
			vals = make(map[string]float64)
		}
		for _, op := range a.Ops {
			if op.Remove {
				delete(vals, op.Key)
			} else {
				vals[op.Key] = op.Value
			}
		}
		if st.quotas == nil {
			st.quotas = make(map[QuotaEntity]map[string]float64)
		}
		if len(vals) == 0 {
			delete(st.quotas, a.Entity)
		} else {
			st.quotas[a.Entity] = vals
		}
		changed = true
	}
	return applyResult{err: firstErr}, changed
}

// cloneQuotas copies the quota map for a snapshot clone (values are
// replaced, never written in place, so the inner maps are shared).
func cloneQuotas(q map[QuotaEntity]map[string]float64) map[QuotaEntity]map[string]float64 {
	if q == nil {
		return nil
	}
	return maps.Clone(q)
}

// SetClientQuotas applies the alterations, each all or nothing, and
// returns one error per alteration (nil where it applied). With
// validateOnly nothing is proposed. Errors wrap ErrInvalidRequest.
func (s *Store) SetClientQuotas(ctx context.Context, alts []QuotaAlteration, validateOnly bool) ([]error, error) {
	errs := make([]error, len(alts))
	var valid []QuotaAlteration
	for i, a := range alts {
		if errs[i] = a.Validate(); errs[i] == nil {
			valid = append(valid, a)
		}
	}
	if validateOnly || len(valid) == 0 {
		return errs, nil
	}
	res, err := s.propose(ctx, setClientQuotasCmd{Alterations: valid})
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	return errs, nil
}

// ClientQuotas returns every entity with quotas, sorted by entity (user
// first, defaults before names).
func (s *Store) ClientQuotas() []ClientQuota {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	out := make([]ClientQuota, 0, len(s.fsm.st.quotas))
	for e, v := range s.fsm.st.quotas {
		out = append(out, ClientQuota{Entity: e, Values: maps.Clone(v)})
	}
	slices.SortFunc(out, func(a, b ClientQuota) int { return compareQuotaEntities(a.Entity, b.Entity) })
	return out
}

func compareQuotaNames(a, b QuotaName) int {
	rank := func(n QuotaName) int {
		switch {
		case !n.Set:
			return 0
		case n.Default:
			return 1
		}
		return 2
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Name, b.Name))
}

func compareQuotaEntities(a, b QuotaEntity) int {
	return cmp.Or(compareQuotaNames(a.User, b.User), compareQuotaNames(a.ClientID, b.ClientID))
}

func init() {
	registerSnapshotSection(snapshotSection{
		id:     sectionClientQuotas,
		name:   "client quotas",
		empty:  func(st *state) bool { return len(st.quotas) == 0 },
		encode: encodeClientQuotas,
		decode: decodeClientQuotas,
	})
}

// encodeClientQuotas writes section 3, entities sorted:
//
//	uvarint count
//	count × ( user name | client-id name | uvarint nvalues |
//	          nvalues × ( key string | uvarint float64 bits ) )
//	name: byte 0 (absent) | 1 (default) | 2 then string
//
// Values are sorted by key.
func encodeClientQuotas(st *state, w *bodyWriter) {
	ents := make([]QuotaEntity, 0, len(st.quotas))
	for e := range st.quotas {
		ents = append(ents, e)
	}
	slices.SortFunc(ents, compareQuotaEntities)
	w.uvarint(uint64(len(ents)))
	name := func(n QuotaName) {
		switch {
		case !n.Set:
			w.b = append(w.b, 0)
		case n.Default:
			w.b = append(w.b, 1)
		default:
			w.b = append(w.b, 2)
			w.string(n.Name)
		}
	}
	for _, e := range ents {
		name(e.User)
		name(e.ClientID)
		vals := st.quotas[e]
		keys := slices.Sorted(maps.Keys(vals))
		w.uvarint(uint64(len(keys)))
		for _, k := range keys {
			w.string(k)
			w.uvarint(math.Float64bits(vals[k]))
		}
	}
}

func decodeClientQuotas(st *state, r *bodyReader) error {
	n := r.count("quota entity", 3)
	name := func() QuotaName {
		switch b := r.byte("quota entity name"); b {
		case 0:
			return QuotaName{}
		case 1:
			return QuotaDefault()
		case 2:
			return QuotaNamed(r.string("quota entity name", maxQuotaNameLen))
		default:
			r.fail("quota entity name kind %d", b)
		}
		return QuotaName{}
	}
	for range n {
		e := QuotaEntity{User: name(), ClientID: name()}
		nv := r.count("quota value", 2)
		if r.err != nil {
			return r.err
		}
		if err := e.Validate(); err != nil {
			return err
		}
		if _, dup := st.quotas[e]; dup {
			return fmt.Errorf("quota entity %s appears twice", e)
		}
		vals := make(map[string]float64, nv)
		for range nv {
			op := QuotaOp{Key: r.string("quota key", 64)}
			op.Value = math.Float64frombits(r.uvarint())
			if r.err != nil {
				return r.err
			}
			if err := ValidateQuotaOp(op); err != nil {
				return err
			}
			if _, dup := vals[op.Key]; dup {
				return fmt.Errorf("quota %s of %s appears twice", op.Key, e)
			}
			vals[op.Key] = op.Value
		}
		if len(vals) == 0 {
			return fmt.Errorf("quota entity %s without values", e)
		}
		if st.quotas == nil {
			st.quotas = make(map[QuotaEntity]map[string]float64)
		}
		st.quotas[e] = vals
	}
	return r.err
}
