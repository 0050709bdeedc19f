package metadata

import (
	"context"
	"fmt"
	"slices"

	"github.com/shalelog/shale/acl"
)

// ACLs
//
// The ACL bindings (package acl) live in the state machine, so every broker
// authorizes from the same set and a new broker learns it from the log or
// a snapshot. The set is a list in creation order without duplicates:
// creating a binding that exists changes nothing (as in Kafka), deleting
// removes every binding a filter matches.
//
// Commands (JSON bodies):
//
//	54 CreateACLs {Bindings}  every binding valid (acl.Binding.Validate)
//	55 DeleteACLs {Filters}   the result lists each filter's matches
//
// 56 and 57 are reserved for ACL commands to come.
//
// Snapshot section 2 (sectionACLs):
//
//	uvarint count
//	count × ( resource type byte | name string | pattern type byte |
//	          principal string | host string | operation byte |
//	          permission byte )
//
// Readers of the set (the authorizer) poll ACLVersion, a counter that
// moves whenever the set may have changed (an ACL command applied, a
// snapshot restored), and re-read the set when it does.

const (
	cmdCreateACLs commandType = 54
	cmdDeleteACLs commandType = 55
)

// MaxACLsPerCommand bounds the bindings or filters of one ACL command.
const MaxACLsPerCommand = 10_000

type createACLsCmd struct {
	Bindings []acl.Binding
}

type deleteACLsCmd struct {
	Filters []acl.Filter
}

func (createACLsCmd) commandType() commandType { return cmdCreateACLs }
func (deleteACLsCmd) commandType() commandType { return cmdDeleteACLs }

func init() {
	registerSnapshotSection(snapshotSection{
		id:     sectionACLs,
		name:   "ACL bindings",
		empty:  func(st *state) bool { return len(st.acls) == 0 },
		encode: encodeACLSection,
		decode: decodeACLSection,
	})
}

func encodeACLSection(st *state, w *bodyWriter) {
	w.uvarint(uint64(len(st.acls)))
	for _, b := range st.acls {
		w.b = append(w.b, byte(b.ResourceType))
		w.string(b.ResourceName)
		w.b = append(w.b, byte(b.PatternType))
		w.string(b.Principal)
		w.string(b.Host)
		w.b = append(w.b, byte(b.Operation), byte(b.Permission))
	}
}

func decodeACLSection(st *state, r *bodyReader) error {
	n := r.count("ACL binding", 7)
	seen := make(map[acl.Binding]bool, n)
	for i := range n {
		var b acl.Binding
		b.ResourceType = acl.ResourceType(r.byte("resource type"))
		b.ResourceName = r.string("resource name", maxDecodedNameLen)
		b.PatternType = acl.PatternType(r.byte("pattern type"))
		b.Principal = r.string("principal", maxDecodedNameLen)
		b.Host = r.string("host", maxDecodedNameLen)
		b.Operation = acl.Operation(r.byte("operation"))
		b.Permission = acl.Permission(r.byte("permission"))
		if r.err != nil {
			return r.err
		}
		if err := b.Validate(); err != nil {
			return fmt.Errorf("binding %d: %w", i, err)
		}
		if seen[b] {
			return fmt.Errorf("binding %d appears twice", i)
		}
		seen[b] = true
		st.acls = append(st.acls, b)
	}
	return r.err
}

// createACLs adds the bindings not yet present. A command with an invalid
// binding changes nothing.
func (st *state) createACLs(c createACLsCmd) (applyResult, bool) {
	if len(c.Bindings) > MaxACLsPerCommand {
		return applyResult{err: fmt.Errorf("%w: %d ACL bindings in one command, the limit is %d", ErrInvalidRequest, len(c.Bindings), MaxACLsPerCommand)}, false
	}
	for _, b := range c.Bindings {
		if err := b.Validate(); err != nil {
			return applyResult{err: fmt.Errorf("%w: %v", ErrInvalidRequest, err)}, false
		}
	}
	have := make(map[acl.Binding]bool, len(st.acls))
	for _, b := range st.acls {
		have[b] = true
	}
	var added []acl.Binding
	for _, b := range c.Bindings {
		if !have[b] {
			have[b] = true
			added = append(added, b)
		}
	}
	if len(added) == 0 {
		return applyResult{}, false
	}
	// A new slice: readers hold the old one.
	st.acls = append(slices.Clip(st.acls), added...)
	return applyResult{}, true
}

// deleteACLs removes every binding a filter matches and reports each
// filter's matches.
func (st *state) deleteACLs(c deleteACLsCmd) (applyResult, bool) {
	if len(c.Filters) > MaxACLsPerCommand {
		return applyResult{err: fmt.Errorf("%w: %d ACL filters in one command, the limit is %d", ErrInvalidRequest, len(c.Filters), MaxACLsPerCommand)}, false
	}
	for _, f := range c.Filters {
		if err := f.Validate(); err != nil {
			return applyResult{err: fmt.Errorf("%w: %v", ErrInvalidRequest, err)}, false
		}
	}
	matched := make([][]acl.Binding, len(c.Filters))
	var keep []acl.Binding
	removed := false
	for _, b := range st.acls {
		hit := false
		for i, f := range c.Filters {
			if f.Matches(b) {
				matched[i] = append(matched[i], b)
				hit = true
			}
		}
		if hit {
			removed = true
		} else {
			keep = append(keep, b)
		}
	}
	res := applyResult{aclsDeleted: matched}
	if !removed {
		return res, false
	}
	st.acls = keep
	return res, true
}

// CreateACLs adds bindings (each valid; see acl.Binding.Validate).
// Bindings that exist already are left as they are.
func (s *Store) CreateACLs(ctx context.Context, bindings []acl.Binding) error {
	if len(bindings) > MaxACLsPerCommand {
		return fmt.Errorf("%w: %d ACL bindings, the limit is %d", ErrInvalidRequest, len(bindings), MaxACLsPerCommand)
	}
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return err
		}
	}
	_, err := s.propose(ctx, createACLsCmd{Bindings: bindings})
	return err
}

// DeleteACLs removes the bindings the filters match and returns, for each
// filter, the bindings it matched.
func (s *Store) DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error) {
	if len(filters) > MaxACLsPerCommand {
		return nil, fmt.Errorf("%w: %d ACL filters, the limit is %d", ErrInvalidRequest, len(filters), MaxACLsPerCommand)
	}
	for _, f := range filters {
		if err := f.Validate(); err != nil {
			return nil, err
		}
	}
	res, err := s.propose(ctx, deleteACLsCmd{Filters: filters})
	if err != nil {
		return nil, err
	}
	return res.aclsDeleted, nil
}

// ACLs returns the ACL version and the bindings at that version. The
// slice is shared and must not be modified.
func (s *Store) ACLs() (uint64, []acl.Binding) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	return s.fsm.aclVersion.Load(), slices.Clip(s.fsm.st.acls)
}

// ACLVersion returns a number that changes whenever the ACL bindings may
// have changed. It takes no lock.
func (s *Store) ACLVersion() uint64 { return s.fsm.aclVersion.Load() }
