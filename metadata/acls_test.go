package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shalelog/shale/acl"
)

func testBinding(name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
	return acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: name, PatternType: pt, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

// aclCommands are ACL commands for the fuzz corpus and the tests.
func aclCommands() []command {
	name := "sales-"
	return []command{
		createACLsCmd{Bindings: []acl.Binding{
			testBinding("orders", acl.PatternLiteral, "User:alice", acl.OpWrite, acl.PermissionAllow),
			testBinding(name, acl.PatternPrefixed, "User:*", acl.OpRead, acl.PermissionAllow),
			{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral, Principal: "User:ops", Host: "10.0.0.1", Operation: acl.OpAlter, Permission: acl.PermissionDeny},
		}},
		deleteACLsCmd{Filters: []acl.Filter{{ResourceType: acl.ResourceTopic, ResourceName: &name, PatternType: acl.PatternMatch, Operation: acl.OpAny, Permission: acl.PermissionAny}}},
	}
}

func TestApplyACLs(t *testing.T) {
	a := newApplier(t)
	v0 := a.f.aclVersion.Load()
	cmds := aclCommands()
	a.must(cmds[0])
	if len(a.f.st.acls) != 3 {
		t.Fatalf("%d bindings after create, want 3", len(a.f.st.acls))
	}
	v1 := a.f.aclVersion.Load()
	if v1 == v0 {
		t.Fatal("ACL version did not move on create")
	}
	// Creating what exists changes nothing.
	a.must(cmds[0])
	if len(a.f.st.acls) != 3 || a.f.aclVersion.Load() != v1 {
		t.Fatalf("a repeated create changed the set: %d bindings", len(a.f.st.acls))
	}
	// An invalid binding refuses the whole command.
	bad := createACLsCmd{Bindings: []acl.Binding{
		testBinding("x", acl.PatternLiteral, "User:bob", acl.OpRead, acl.PermissionAllow),
		testBinding("y", acl.PatternMatch, "User:bob", acl.OpRead, acl.PermissionAllow),
	}}
	if res := a.apply(bad); !errors.Is(res.err, ErrInvalidRequest) {
		t.Fatalf("invalid binding: err %v", res.err)
	}
	if len(a.f.st.acls) != 3 {
		t.Fatal("a refused create changed the set")
	}

	// Survives a snapshot.
	snap := a.snapshotBytes()
	st, err := decodeSnapshot(snap, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.acls, a.f.st.acls) {
		t.Fatalf("after the round trip %v, want %v", st.acls, a.f.st.acls)
	}

	// The MATCH filter on "sales-eu"... here "sales-" matches the prefixed
	// binding only.
	res := a.must(cmds[1])
	if len(res.aclsDeleted) != 1 || len(res.aclsDeleted[0]) != 1 || res.aclsDeleted[0][0].PatternType != acl.PatternPrefixed {
		t.Fatalf("deleted %v", res.aclsDeleted)
	}
	if len(a.f.st.acls) != 2 {
		t.Fatalf("%d bindings after delete, want 2", len(a.f.st.acls))
	}
	// A filter matching nothing changes nothing and reports nothing.
	res = a.must(cmds[1])
	if len(res.aclsDeleted) != 1 || len(res.aclsDeleted[0]) != 0 {
		t.Fatalf("second delete reported %v", res.aclsDeleted)
	}
	// Delete all.
	all := deleteACLsCmd{Filters: []acl.Filter{{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}}}
	if res := a.must(all); len(res.aclsDeleted[0]) != 2 || len(a.f.st.acls) != 0 {
		t.Fatalf("delete all: %v, %d left", res.aclsDeleted, len(a.f.st.acls))
	}
}

func TestACLSectionRejectsBadBindings(t *testing.T) {
	good := testBinding("t", acl.PatternLiteral, "User:a", acl.OpRead, acl.PermissionAllow)
	encode := func(bs ...acl.Binding) []byte {
		var w bodyWriter
		encodeACLSection(&state{acls: bs}, &w)
		return w.b
	}
	invalid := good
	invalid.Principal = "nobody"
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"invalid":    {encode(invalid), "principal"},
		"duplicate":  {encode(good, good), "twice"},
		"truncated":  {encode(good)[:5], "exceeds"},
		"huge count": {[]byte{0xff, 0x7f}, "count"},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeACLSection(newState(), &bodyReader{b: tc.b})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeACLSection feeds arbitrary bytes to the ACL section decoder: it
// must not panic, and what it accepts must re-encode to bytes that decode
// to the same bindings.
func FuzzDecodeACLSection(f *testing.F) {
	var w bodyWriter
	encodeACLSection(&state{acls: aclCommands()[0].(createACLsCmd).Bindings}, &w)
	f.Add(w.b)
	f.Add([]byte{0})
	f.Add([]byte{1, 2, 1, 't', 3, 6, 'U', 's', 'e', 'r', ':', 'a', 1, '*', 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newState()
		r := &bodyReader{b: data}
		if err := decodeACLSection(st, r); err != nil {
			return
		}
		if r.done() != nil {
			return
		}
		var w bodyWriter
		encodeACLSection(st, &w)
		st2 := newState()
		if err := decodeACLSection(st2, &bodyReader{b: w.b}); err != nil {
			t.Fatalf("re-encoded section rejected: %v", err)
		}
		if !reflect.DeepEqual(st.acls, st2.acls) {
			t.Fatalf("section does not round-trip: %v, then %v", st.acls, st2.acls)
		}
	})
}
