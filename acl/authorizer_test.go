package acl

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// memSource is a Source over a slice the test changes.
type memSource struct {
	version  atomic.Uint64
	bindings []Binding
}

func (s *memSource) ACLVersion() uint64 { return s.version.Load() }
func (s *memSource) ACLs() (uint64, []Binding) {
	return s.version.Load(), s.bindings
}
func (s *memSource) set(bs ...Binding) {
	s.bindings = bs
	s.version.Add(1)
}

func allow(rt ResourceType, pt PatternType, name, principal string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: PermissionAllow}
}

func deny(rt ResourceType, pt PatternType, name, principal string, op Operation) Binding {
	b := allow(rt, pt, name, principal, op)
	b.Permission = PermissionDeny
	return b
}

func newTestAuthorizer(t *testing.T, cfg Config, bs ...Binding) (*Authorizer, *memSource) {
	t.Helper()
	src := &memSource{}
	src.set(bs...)
	a, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	return a, src
}

func TestAuthorizeRules(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	type check struct {
		principal, host string
		op              Operation
		rt              ResourceType
		name            string
		want            bool
	}
	for _, tc := range []struct {
		name     string
		cfg      Config
		bindings []Binding
		checks   []check
	}{
		{
			name: "no acl denies by default",
			checks: []check{
				{alice, "10.0.0.1", OpRead, ResourceTopic, "t", false},
			},
		},
		{
			name: "no acl on the resource allows when configured",
			cfg:  Config{AllowEveryoneIfNoACLFound: true},
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "other", bob, OpRead),
			},
			checks: []check{
				{alice, "10.0.0.1", OpRead, ResourceTopic, "t", true},
				// An ACL on the resource, for someone else, takes the
				// default away.
				{alice, "10.0.0.1", OpRead, ResourceTopic, "other", false},
			},
		},
		{
			name: "literal allow",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "orders", alice, OpWrite),
			},
			checks: []check{
				{alice, "1.2.3.4", OpWrite, ResourceTopic, "orders", true},
				{alice, "1.2.3.4", OpRead, ResourceTopic, "orders", false},
				{alice, "1.2.3.4", OpWrite, ResourceTopic, "orders2", false},
				{bob, "1.2.3.4", OpWrite, ResourceTopic, "orders", false},
				{alice, "1.2.3.4", OpWrite, ResourceGroup, "orders", false},
			},
		},
		{
			name: "implied describe",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "r", alice, OpRead),
				allow(ResourceTopic, PatternLiteral, "w", alice, OpWrite),
				allow(ResourceTopic, PatternLiteral, "d", alice, OpDelete),
				allow(ResourceTopic, PatternLiteral, "a", alice, OpAlter),
				allow(ResourceTopic, PatternLiteral, "c", alice, OpCreate),
				allow(ResourceTopic, PatternLiteral, "ac", alice, OpAlterConfigs),
			},
			checks: []check{
				{alice, "h", OpDescribe, ResourceTopic, "r", true},
				{alice, "h", OpDescribe, ResourceTopic, "w", true},
				{alice, "h", OpDescribe, ResourceTopic, "d", true},
				{alice, "h", OpDescribe, ResourceTopic, "a", true},
				{alice, "h", OpDescribe, ResourceTopic, "c", false},
				{alice, "h", OpDescribeConfigs, ResourceTopic, "ac", true},
				{alice, "h", OpDescribe, ResourceTopic, "ac", false},
				{alice, "h", OpWrite, ResourceTopic, "r", false},
			},
		},
		{
			name: "all allows every operation",
			bindings: []Binding{
				allow(ResourceGroup, PatternLiteral, "g", alice, OpAll),
			},
			checks: []check{
				{alice, "h", OpRead, ResourceGroup, "g", true},
				{alice, "h", OpDelete, ResourceGroup, "g", true},
				{alice, "h", OpDescribe, ResourceGroup, "g", true},
			},
		},
		{
			name: "deny wins and implies nothing",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "t", alice, OpAll),
				deny(ResourceTopic, PatternLiteral, "t", alice, OpRead),
			},
			checks: []check{
				{alice, "h", OpRead, ResourceTopic, "t", false},
				{alice, "h", OpWrite, ResourceTopic, "t", true},
				{alice, "h", OpDescribe, ResourceTopic, "t", true},
			},
		},
		{
			name: "deny all denies every operation",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "t", WildcardPrincipal, OpAll),
				deny(ResourceTopic, PatternLiteral, "t", bob, OpAll),
			},
			checks: []check{
				{alice, "h", OpWrite, ResourceTopic, "t", true},
				{bob, "h", OpWrite, ResourceTopic, "t", false},
				{bob, "h", OpDescribe, ResourceTopic, "t", false},
			},
		},
		{
			name: "prefixed allow and literal deny",
			bindings: []Binding{
				allow(ResourceTopic, PatternPrefixed, "sales-", alice, OpRead),
				deny(ResourceTopic, PatternLiteral, "sales-secret", alice, OpRead),
			},
			checks: []check{
				{alice, "h", OpRead, ResourceTopic, "sales-eu", true},
				{alice, "h", OpRead, ResourceTopic, "sales-", true},
				{alice, "h", OpRead, ResourceTopic, "sales-secret", false},
				{alice, "h", OpRead, ResourceTopic, "sales", false},
				{alice, "h", OpRead, ResourceTopic, "marketing", false},
			},
		},
		{
			name: "prefixed deny over a literal allow",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "tmp-1", alice, OpWrite),
				deny(ResourceTopic, PatternPrefixed, "tmp", WildcardPrincipal, OpWrite),
			},
			checks: []check{
				{alice, "h", OpWrite, ResourceTopic, "tmp-1", false},
			},
		},
		{
			name: "wildcard resource and principal",
			bindings: []Binding{
				allow(ResourceTopic, PatternLiteral, "*", WildcardPrincipal, OpDescribe),
				allow(ResourceTopic, PatternLiteral, "*", bob, OpWrite),
			},
			checks: []check{
				{alice, "h", OpDescribe, ResourceTopic, "anything", true},
				{alice, "h", OpWrite, ResourceTopic, "anything", false},
				{bob, "h", OpWrite, ResourceTopic, "anything", true},
			},
		},
		{
			name: "a prefixed star is a plain prefix",
			bindings: []Binding{
				allow(ResourceTopic, PatternPrefixed, "*", alice, OpRead),
			},
			checks: []check{
				{alice, "h", OpRead, ResourceTopic, "t", false},
				{alice, "h", OpRead, ResourceTopic, "*x", true},
			},
		},
		{
			name: "host",
			bindings: []Binding{
				{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral, Principal: alice, Host: "10.0.0.1", Operation: OpRead, Permission: PermissionAllow},
				{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral, Principal: alice, Host: "10.0.0.9", Operation: OpRead, Permission: PermissionDeny},
			},
			checks: []check{
				{alice, "10.0.0.1", OpRead, ResourceTopic, "t", true},
				{alice, "10.0.0.2", OpRead, ResourceTopic, "t", false},
				{alice, "10.0.0.9", OpRead, ResourceTopic, "t", false},
			},
		},
		{
			name: "IPv6 hosts compare as addresses",
			bindings: []Binding{
				{ResourceType: ResourceTopic, ResourceName: "t", PatternType: PatternLiteral, Principal: alice, Host: "0:0:0:0:0:0:0:1", Operation: OpRead, Permission: PermissionAllow},
			},
			checks: []check{
				{alice, "::1", OpRead, ResourceTopic, "t", true},
				{alice, "::2", OpRead, ResourceTopic, "t", false},
			},
		},
		{
			name: "super user",
			cfg:  Config{SuperUsers: []string{"User:admin"}},
			bindings: []Binding{
				deny(ResourceTopic, PatternLiteral, "*", WildcardPrincipal, OpAll),
			},
			checks: []check{
				{"User:admin", "h", OpDelete, ResourceTopic, "t", true},
				{"User:admin", "h", OpAlter, ResourceCluster, ClusterName, true},
				{alice, "h", OpRead, ResourceTopic, "t", false},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuthorizer(t, tc.cfg, tc.bindings...)
			for pass := range 2 { // the second pass answers from the cache
				for _, c := range tc.checks {
					if got := a.Authorize(c.principal, c.host, c.op, c.rt, c.name); got != c.want {
						t.Errorf("pass %d: %s from %s %s %s %q: got %v, want %v", pass, c.principal, c.host, c.op, c.rt, c.name, got, c.want)
					}
				}
			}
		})
	}
}

func TestAuthorizeSeesNewBindings(t *testing.T) {
	a, src := newTestAuthorizer(t, Config{})
	if a.Authorize("User:alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("allowed before any ACL")
	}
	src.set(allow(ResourceTopic, PatternLiteral, "t", "User:alice", OpRead))
	if !a.Authorize("User:alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("a cached denial outlived the ACL that allows")
	}
	src.set()
	if a.Authorize("User:alice", "h", OpRead, ResourceTopic, "t") {
		t.Fatal("a cached allowance outlived its ACL")
	}
}

func TestAuthorizeAny(t *testing.T) {
	const alice = "User:alice"
	for _, tc := range []struct {
		name     string
		bindings []Binding
		want     bool
	}{
		{"nothing", nil, false},
		{"one literal", []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, OpWrite)}, true},
		{"one prefix", []Binding{allow(ResourceTopic, PatternPrefixed, "p", alice, OpWrite)}, true},
		{"all", []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, OpAll)}, true},
		{"read only", []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, OpRead)}, false},
		{"literal denied", []Binding{
			allow(ResourceTopic, PatternLiteral, "t", alice, OpWrite),
			deny(ResourceTopic, PatternLiteral, "t", alice, OpWrite),
		}, false},
		{"prefix dominated", []Binding{
			allow(ResourceTopic, PatternPrefixed, "abc", alice, OpWrite),
			deny(ResourceTopic, PatternPrefixed, "ab", alice, OpWrite),
		}, false},
		{"prefix not dominated", []Binding{
			allow(ResourceTopic, PatternPrefixed, "ab", alice, OpWrite),
			deny(ResourceTopic, PatternPrefixed, "abc", alice, OpWrite),
		}, true},
		{"wildcard deny", []Binding{
			allow(ResourceTopic, PatternLiteral, "t", alice, OpWrite),
			deny(ResourceTopic, PatternLiteral, "*", WildcardPrincipal, OpWrite),
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuthorizer(t, Config{}, tc.bindings...)
			if got := a.AuthorizeAny(alice, "h", OpWrite, ResourceTopic); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBindingValidate(t *testing.T) {
	good := allow(ResourceTopic, PatternLiteral, "t", "User:alice", OpRead)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Binding){
		"any resource type":    func(b *Binding) { b.ResourceType = ResourceAny },
		"unknown resource":     func(b *Binding) { b.ResourceType = 42 },
		"match pattern":        func(b *Binding) { b.PatternType = PatternMatch },
		"any operation":        func(b *Binding) { b.Operation = OpAny },
		"any permission":       func(b *Binding) { b.Permission = PermissionAny },
		"empty name":           func(b *Binding) { b.ResourceName = "" },
		"principal no colon":   func(b *Binding) { b.Principal = "alice" },
		"empty host":           func(b *Binding) { b.Host = "" },
		"cluster not so named": func(b *Binding) { b.ResourceType = ResourceCluster },
	} {
		b := good
		mut(&b)
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	lit := allow(ResourceTopic, PatternLiteral, "orders", "User:alice", OpRead)
	wild := allow(ResourceTopic, PatternLiteral, "*", "User:alice", OpRead)
	pre := allow(ResourceTopic, PatternPrefixed, "ord", "User:alice", OpRead)
	other := allow(ResourceTopic, PatternPrefixed, "x", "User:alice", OpRead)
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		f    Filter
		want [4]bool
	}{
		{Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, [4]bool{true, true, true, true}},
		{Filter{ResourceType: ResourceTopic, ResourceName: str("orders"), PatternType: PatternMatch, Operation: OpAny, Permission: PermissionAny}, [4]bool{true, true, true, false}},
		{Filter{ResourceType: ResourceTopic, ResourceName: str("orders"), PatternType: PatternLiteral, Operation: OpAny, Permission: PermissionAny}, [4]bool{true, false, false, false}},
		{Filter{ResourceType: ResourceTopic, PatternType: PatternPrefixed, Operation: OpAny, Permission: PermissionAny}, [4]bool{false, false, true, true}},
		{Filter{ResourceType: ResourceTopic, ResourceName: str("ord"), PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, [4]bool{false, false, true, false}},
		{Filter{ResourceType: ResourceGroup, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}, [4]bool{}},
		{Filter{ResourceType: ResourceAny, PatternType: PatternAny, Principal: str("User:bob"), Operation: OpAny, Permission: PermissionAny}, [4]bool{}},
		{Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpWrite, Permission: PermissionAny}, [4]bool{}},
		{Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionDeny}, [4]bool{}},
	} {
		for i, b := range []Binding{lit, wild, pre, other} {
			if got := tc.f.Matches(b); got != tc.want[i] {
				t.Errorf("filter %+v on %+v: got %v, want %v", tc.f, b, got, tc.want[i])
			}
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, s := range []string{"Read", "READ", "describe-configs", "DescribeConfigs", "IDEMPOTENT_WRITE", "ClusterAction"} {
		if _, err := ParseOperation(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseOperation("Fly"); err == nil {
		t.Error("Fly parsed as an operation")
	}
	for _, s := range []string{"topic", "Group", "CLUSTER", "transactional-id", "TransactionalId"} {
		if _, err := ParseResourceType(s); err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkAuthorize measures a decision among many ACLs, cached and not.
func BenchmarkAuthorize(b *testing.B) {
	src := &memSource{}
	var bs []Binding
	for i := range 10000 {
		bs = append(bs, allow(ResourceTopic, PatternLiteral, fmt.Sprintf("topic-%d", i), "User:alice", OpWrite))
		bs = append(bs, allow(ResourceTopic, PatternPrefixed, fmt.Sprintf("team-%d-", i), "User:bob", OpWrite))
	}
	src.set(bs...)
	a, _ := New(Config{}, src)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			a.Authorize("User:bob", "h", OpWrite, ResourceTopic, "team-77-events")
		}
	})
	b.Run("uncached", func(b *testing.B) {
		idx := a.current()
		for b.Loop() {
			idx.decide("User:bob", "h", OpWrite, ResourceTopic, "team-77-events", false)
		}
	})
}
