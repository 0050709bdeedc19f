package acl

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Config turns authorization on and sets what Kafka's authorizer settings
// set. The zero value (and DefaultConfig) leaves it off: every request is
// allowed, as before ACLs existed.
type Config struct {
	// Enabled turns the authorizer on (Kafka: authorizer.class.name set).
	Enabled bool `yaml:"enabled"`
	// SuperUsers are principals ("User:admin") allowed everything, ACLs
	// or not (super.users).
	SuperUsers []string `yaml:"super_users"`
	// AllowEveryoneIfNoACLFound allows an operation on a resource no ACL
	// names at all (allow.everyone.if.no.acl.found); false, as in Kafka.
	AllowEveryoneIfNoACLFound bool `yaml:"allow_everyone_if_no_acl_found"`
}

// DefaultConfig returns the authorizer off.
func DefaultConfig() Config { return Config{} }

// Validate reports the first bad setting.
func (c Config) Validate() error {
	for _, p := range c.SuperUsers {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return fmt.Errorf("authorizer super_users: %q is not a principal of the form User:name", p)
		}
	}
	return nil
}

// Source is where the bindings live: the metadata state. ACLVersion must
// be cheap (it is read on every decision); it changes whenever the
// bindings do.
type Source interface {
	ACLVersion() uint64
	ACLs() (version uint64, bindings []Binding)
}

// Authorizer decides requests with Kafka's rules:
//
//   - a super user is allowed everything;
//   - the bindings that apply to a resource are the literal ones of its
//     name, the literal wildcard "*" and the prefixed ones its name starts
//     with; when there are none at all (for any principal), the answer is
//     AllowEveryoneIfNoACLFound;
//   - a binding applies to a request when its principal is the request's
//     or "User:*", and its host is the client's address or "*";
//   - a DENY for the operation (or ALL) wins over any ALLOW;
//   - an ALLOW of the operation or ALL allows it, and so does an ALLOW of
//     an operation that implies it: READ, WRITE, DELETE and ALTER imply
//     DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS. (Denials imply
//     nothing: denying READ does not deny DESCRIBE.)
//
// Decisions use an index of the bindings by resource type and name, rebuilt
// when the Source's version changes, and a bounded cache of recent
// decisions, so a produce costs a map lookup, not a scan of every ACL. All
// methods are safe for concurrent use.
type Authorizer struct {
	cfg   Config
	super map[string]bool
	src   Source

	mu  sync.Mutex // serializes rebuilds of idx
	idx atomic.Pointer[index]
}

// New returns an authorizer over src.
func New(cfg Config, src Source) (*Authorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Authorizer{cfg: cfg, super: make(map[string]bool), src: src}
	for _, p := range cfg.SuperUsers {
		a.super[p] = true
	}
	return a, nil
}

// IsSuperUser reports whether principal is one of the configured super users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.super[principal] }

// Authorize reports whether principal, connected from host, may perform
// op on the resource of type rt named name.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if a.super[principal] {
		return true
	}
	idx := a.current()
	key := decisionKey{principal, host, name, op, rt}
	if allowed, ok := idx.cached(key); ok {
		return allowed
	}
	allowed := idx.decide(principal, host, op, rt, name, a.cfg.AllowEveryoneIfNoACLFound)
	idx.remember(key, allowed)
	return allowed
}

// AuthorizeAny reports whether principal may perform op on some resource
// of type rt: Kafka's authorizeByResourceType, which InitProducerId uses
// to let a producer that may write to any topic be idempotent. A DENY on
// the literal wildcard or the empty prefix refuses; otherwise an ALLOW of
// a pattern that no DENY covers allows.
func (a *Authorizer) AuthorizeAny(principal, host string, op Operation, rt ResourceType) bool {
	if a.super[principal] {
		return true
	}
	idx := a.current()
	ti := idx.types[rt]
	if ti == nil || len(ti.all) == 0 {
		return a.cfg.AllowEveryoneIfNoACLFound
	}
	var allowLit, allowPre []string
	denyLit, denyPre := map[string]bool{}, map[string]bool{}
	wildcardAllow := false
	for _, b := range ti.all {
		if !appliesTo(b, principal, host) || b.Operation != op && b.Operation != OpAll {
			continue
		}
		switch {
		case b.Permission == PermissionDeny && b.PatternType == PatternLiteral:
			if b.ResourceName == Wildcard {
				return false
			}
			denyLit[b.ResourceName] = true
		case b.Permission == PermissionDeny:
			denyPre[b.ResourceName] = true
		case b.PatternType == PatternLiteral && b.ResourceName == Wildcard:
			wildcardAllow = true
		case b.PatternType == PatternLiteral:
			allowLit = append(allowLit, b.ResourceName)
		default:
			allowPre = append(allowPre, b.ResourceName)
		}
	}
	if wildcardAllow {
		return true
	}
	dominated := func(name string) bool {
		for i := 1; i <= len(name); i++ {
			if denyPre[name[:i]] {
				return true
			}
		}
		return false
	}
	for _, n := range allowLit {
		if !denyLit[n] && !dominated(n) {
			return true
		}
	}
	for _, n := range allowPre {
		if !dominated(n) {
			return true
		}
	}
	return false
}

// current returns the index of the Source's current bindings.
func (a *Authorizer) current() *index {
	v := a.src.ACLVersion()
	if idx := a.idx.Load(); idx != nil && idx.version == v {
		return idx
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if idx := a.idx.Load(); idx != nil && idx.version == a.src.ACLVersion() {
		return idx
	}
	version, bindings := a.src.ACLs()
	idx := buildIndex(version, bindings)
	a.idx.Store(idx)
	return idx
}

// appliesTo reports whether b's principal and host cover the request's.
func appliesTo(b Binding, principal, host string) bool {
	return (b.Principal == principal || b.Principal == WildcardPrincipal) &&
		(b.Host == host || b.Host == Wildcard)
}

// implies reports whether an ALLOW of granted allows op.
func implies(granted, op Operation) bool {
	if granted == op || granted == OpAll {
		return true
	}
	switch op {
	case OpDescribe:
		return granted == OpRead || granted == OpWrite || granted == OpDelete || granted == OpAlter
	case OpDescribeConfigs:
		return granted == OpAlterConfigs
	}
	return false
}

// maxCachedDecisions bounds an index's decision cache; a full cache is
// emptied and refilled.
const maxCachedDecisions = 1 << 16

type decisionKey struct {
	principal, host, name string
	op                    Operation
	rt                    ResourceType
}

// index is an immutable view of the bindings at one version, plus its
// decision cache.
type index struct {
	version uint64
	types   map[ResourceType]*typeIndex

	mu    sync.RWMutex
	cache map[decisionKey]bool
}

type typeIndex struct {
	all      []Binding
	literal  map[string][]Binding // by name, "*" included
	prefixed map[string][]Binding // by prefix
	lens     []int                // the distinct prefix lengths, ascending
}

func buildIndex(version uint64, bindings []Binding) *index {
	idx := &index{version: version, types: make(map[ResourceType]*typeIndex), cache: make(map[decisionKey]bool)}
	for _, b := range bindings {
		// Hosts compare as addresses: Kafka writes IPv6 in full
		// (0:0:0:0:0:0:0:1), the broker in short form (::1).
		if ip := net.ParseIP(b.Host); ip != nil {
			b.Host = ip.String()
		}
		ti := idx.types[b.ResourceType]
		if ti == nil {
			ti = &typeIndex{literal: map[string][]Binding{}, prefixed: map[string][]Binding{}}
			idx.types[b.ResourceType] = ti
		}
		ti.all = append(ti.all, b)
		switch b.PatternType {
		case PatternLiteral:
			ti.literal[b.ResourceName] = append(ti.literal[b.ResourceName], b)
		case PatternPrefixed:
			if _, seen := ti.prefixed[b.ResourceName]; !seen {
				ti.lens = append(ti.lens, len(b.ResourceName))
			}
			ti.prefixed[b.ResourceName] = append(ti.prefixed[b.ResourceName], b)
		}
	}
	for _, ti := range idx.types {
		slices.Sort(ti.lens)
		ti.lens = slices.Compact(ti.lens)
	}
	return idx
}

func (idx *index) cached(k decisionKey) (allowed, ok bool) {
	idx.mu.RLock()
	allowed, ok = idx.cache[k]
	idx.mu.RUnlock()
	return allowed, ok
}

func (idx *index) remember(k decisionKey, allowed bool) {
	idx.mu.Lock()
	if len(idx.cache) >= maxCachedDecisions {
		clear(idx.cache)
	}
	idx.cache[k] = allowed
	idx.mu.Unlock()
}

// decide applies the rules of Authorizer to the bindings of one resource.
func (idx *index) decide(principal, host string, op Operation, rt ResourceType, name string, allowIfNone bool) bool {
	ti := idx.types[rt]
	if ti == nil {
		return allowIfNone
	}
	found, allowed := false, false
	check := func(bs []Binding) bool { // reports a deny
		for _, b := range bs {
			found = true
			if !appliesTo(b, principal, host) {
				continue
			}
			if b.Permission == PermissionDeny {
				if b.Operation == op || b.Operation == OpAll {
					return true
				}
			} else if implies(b.Operation, op) {
				allowed = true
			}
		}
		return false
	}
	if check(ti.literal[name]) {
		return false
	}
	if name != Wildcard && check(ti.literal[Wildcard]) {
		return false
	}
	for _, n := range ti.lens {
		if n > len(name) {
			break
		}
		if check(ti.prefixed[name[:n]]) {
			return false
		}
	}
	if !found {
		return allowIfNone
	}
	return allowed
}
