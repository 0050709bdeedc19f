package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPrincipalMappingRules(t *testing.T) {
	const dn = "CN=Alice Smith,OU=Payments,O=Acme,C=US"
	for _, tc := range []struct {
		rules []string
		want  string
		err   bool
	}{
		{nil, dn, false},
		{[]string{"DEFAULT"}, dn, false},
		{[]string{`RULE:^CN=(.*?),OU=(.*?),O=(.*?),C=(.*?)$/$1@$3/`}, "Alice Smith@Acme", false},
		{[]string{`RULE:^CN=(.*?),OU=(.*?),O=(.*?),C=(.*?)$/$1/L`}, "alice smith", false},
		{[]string{`RULE:^CN=(.*?),.*$/$1/U`}, "ALICE SMITH", false},
		// The first rule that matches wins; a pattern matches the whole name.
		{[]string{`RULE:^CN=Bob/bob/`, `RULE:OU=Payments/payments/`, `RULE:^CN=([^,]*),OU=Payments.*$/$1-payments/`, "DEFAULT"}, "Alice Smith-payments", false},
		{[]string{`RULE:^CN=Bob.*$/bob/`}, "", true},
		// An escaped slash in a pattern.
		{[]string{`RULE:^CN=([^,]*),OU=Payments\/?,.*$/$1/`}, "Alice Smith", false},
	} {
		rules, err := parsePrincipalRules(tc.rules)
		if err != nil {
			t.Fatalf("%q: %v", tc.rules, err)
		}
		got, err := mapPrincipal(rules, dn)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q (error %v)", tc.rules, got, err, tc.want, tc.err)
		}
	}
	for _, bad := range []string{"RULE:x", "RULE:a/b/X", "rule:a/b/", "RULE:(/b/", "something"} {
		if _, err := parsePrincipalRules([]string{bad}); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTLSPrincipal(t *testing.T) {
	rules, _ := parsePrincipalRules(nil)
	p, err := tlsPrincipal(tls.ConnectionState{}, rules)
	if err != nil || p != acl.Anonymous {
		t.Fatalf("no certificate: %q, %v", p, err)
	}
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme, Inc."}}}
	p, err = tlsPrincipal(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, rules)
	// RFC 2253: most specific first, commas in values escaped.
	if want := `User:CN=alice,OU=eng,O=Acme\, Inc.`; err != nil || p != want {
		t.Fatalf("got %q, %v; want %q", p, err, want)
	}
}

// aclCreation is one CreateAcls creation.
func aclCreation(rt acl.ResourceType, name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
	c.Principal, c.Host = principal, "*"
	c.Operation, c.PermissionType = kmsg.ACLOperation(op), kmsg.ACLPermissionType(perm)
	return c
}

// TestACLAPIsWithoutAuthorizer: every ACL API answers SECURITY_DISABLED.
func TestACLAPIsWithoutAuthorizer(t *testing.T) {
	ws := startWireServer(t, nil)
	c := dialWire(t, ws.addr)
	for v := int16(0); v <= 3; v++ {
		cr := kmsg.NewPtrCreateACLsRequest()
		cr.Version = v
		cr.Creations = append(cr.Creations, aclCreation(acl.ResourceTopic, "t", acl.PatternLiteral, "User:a", acl.OpRead, acl.PermissionAllow))
		if got := c.roundTrip(cr).(*kmsg.CreateACLsResponse).Results[0].ErrorCode; got != kerr.SecurityDisabled.Code {
			t.Errorf("CreateAcls v%d: %s", v, codeName(got))
		}
		dr := kmsg.NewPtrDescribeACLsRequest()
		dr.Version = v
		if got := c.roundTrip(dr).(*kmsg.DescribeACLsResponse).ErrorCode; got != kerr.SecurityDisabled.Code {
			t.Errorf("DescribeAcls v%d: %s", v, codeName(got))
		}
		del := kmsg.NewPtrDeleteACLsRequest()
		del.Version = v
		del.Filters = append(del.Filters, kmsg.NewDeleteACLsRequestFilter())
		if got := c.roundTrip(del).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode; got != kerr.SecurityDisabled.Code {
			t.Errorf("DeleteAcls v%d: %s", v, codeName(got))
		}
	}
	c.checkAlive()
}

// TestACLAPIs: create, describe with each filter kind, delete, and the
// errors Kafka answers, over raw frames as User:ANONYMOUS (a super user
// here, then not).
func TestACLAPIs(t *testing.T) {
	ws := startWireServer(t, func(c *Config) {
		c.Authorizer = acl.Config{Enabled: true, SuperUsers: []string{acl.Anonymous}}
	})
	c := dialWire(t, ws.addr)
	cr := kmsg.NewPtrCreateACLsRequest()
	cr.Version = 3
	cr.Creations = []kmsg.CreateACLsRequestCreation{
		aclCreation(acl.ResourceTopic, "orders", acl.PatternLiteral, "User:alice", acl.OpRead, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "ord", acl.PatternPrefixed, "User:bob", acl.OpWrite, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "*", acl.PatternLiteral, "User:*", acl.OpDescribe, acl.PermissionAllow),
		aclCreation(acl.ResourceCluster, "wrong-name", acl.PatternLiteral, "User:alice", acl.OpAlter, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "t", acl.PatternMatch, "User:alice", acl.OpRead, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "t", acl.PatternLiteral, "alice", acl.OpRead, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "", acl.PatternLiteral, "User:alice", acl.OpRead, acl.PermissionAllow),
		aclCreation(acl.ResourceTopic, "t", acl.PatternLiteral, "User:alice", acl.OpAny, acl.PermissionAllow),
		aclCreation(acl.ResourceGroup, "g", acl.PatternLiteral, "User:alice", acl.OpRead, acl.PermissionAny),
	}
	res := c.roundTrip(cr).(*kmsg.CreateACLsResponse)
	want := []int16{0, 0, 0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
	for i, r := range res.Results {
		if r.ErrorCode != want[i] {
			t.Errorf("creation %d: %s, want %s", i, codeName(r.ErrorCode), codeName(want[i]))
		}
		if r.ErrorCode != 0 && (r.ErrorMessage == nil || *r.ErrorMessage == "") {
			t.Errorf("creation %d: an error without a message", i)
		}
	}
	// Creating again changes nothing.
	cr.Creations = cr.Creations[:1]
	if got := c.roundTrip(cr).(*kmsg.CreateACLsResponse).Results[0].ErrorCode; got != 0 {
		t.Fatalf("repeated creation: %s", codeName(got))
	}

	describe := func(rt acl.ResourceType, name *string, pt acl.PatternType) int {
		t.Helper()
		dr := kmsg.NewPtrDescribeACLsRequest()
		dr.Version = 3
		dr.ResourceType, dr.ResourceName, dr.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
		dr.Operation, dr.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		resp := c.roundTrip(dr).(*kmsg.DescribeACLsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("describe: %s", codeName(resp.ErrorCode))
		}
		n := 0
		for _, r := range resp.Resources {
			n += len(r.ACLs)
		}
		return n
	}
	orders := "orders"
	if n := describe(acl.ResourceAny, nil, acl.PatternAny); n != 3 {
		t.Errorf("describe all: %d bindings, want 3", n)
	}
	if n := describe(acl.ResourceTopic, &orders, acl.PatternMatch); n != 3 {
		t.Errorf("describe MATCH orders: %d bindings, want 3 (literal, prefixed, wildcard)", n)
	}
	if n := describe(acl.ResourceTopic, &orders, acl.PatternLiteral); n != 1 {
		t.Errorf("describe LITERAL orders: %d bindings, want 1", n)
	}
	if n := describe(acl.ResourceTopic, nil, acl.PatternPrefixed); n != 1 {
		t.Errorf("describe PREFIXED: %d bindings, want 1", n)
	}
	bad := kmsg.NewPtrDescribeACLsRequest()
	bad.ResourceType = 42
	if got := c.roundTrip(bad).(*kmsg.DescribeACLsResponse).ErrorCode; got != kerr.InvalidRequest.Code {
		t.Errorf("describe with an unknown resource type: %s", codeName(got))
	}

	del := kmsg.NewPtrDeleteACLsRequest()
	del.Version = 3
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, &orders, kmsg.ACLResourcePatternTypeMatch
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	badFilter := kmsg.NewDeleteACLsRequestFilter()
	badFilter.Operation = 99
	del.Filters = []kmsg.DeleteACLsRequestFilter{f, badFilter}
	dres := c.roundTrip(del).(*kmsg.DeleteACLsResponse)
	if dres.Results[0].ErrorCode != 0 || len(dres.Results[0].MatchingACLs) != 3 {
		t.Errorf("delete MATCH orders: %s, %d matches", codeName(dres.Results[0].ErrorCode), len(dres.Results[0].MatchingACLs))
	}
	if dres.Results[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("delete with a bad filter: %s", codeName(dres.Results[1].ErrorCode))
	}
	if n := describe(acl.ResourceAny, nil, acl.PatternAny); n != 0 {
		t.Errorf("%d bindings left after the delete", n)
	}

	// More bindings than one metadata command takes: INVALID_REQUEST.
	many := kmsg.NewPtrCreateACLsRequest()
	many.Version = 3
	for i := range metadata.MaxACLsPerCommand + 1 {
		many.Creations = append(many.Creations, aclCreation(acl.ResourceTopic, fmt.Sprint("t", i), acl.PatternLiteral, "User:a", acl.OpRead, acl.PermissionAllow))
	}
	if got := c.roundTrip(many).(*kmsg.CreateACLsResponse).Results[0].ErrorCode; got != kerr.InvalidRequest.Code {
		t.Errorf("%d creations: %s", len(many.Creations), codeName(got))
	}
	c.checkAlive()
}

// TestACLAPIsNeedClusterRights: without ALTER (create, delete) or DESCRIBE
// (describe) on the cluster, CLUSTER_AUTHORIZATION_FAILED.
func TestACLAPIsNeedClusterRights(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.Authorizer = acl.Config{Enabled: true} })
	c := dialWire(t, ws.addr)
	cr := kmsg.NewPtrCreateACLsRequest()
	cr.Creations = append(cr.Creations, aclCreation(acl.ResourceTopic, "t", acl.PatternLiteral, "User:ANONYMOUS", acl.OpAll, acl.PermissionAllow))
	if got := c.roundTrip(cr).(*kmsg.CreateACLsResponse).Results[0].ErrorCode; got != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("CreateAcls: %s", codeName(got))
	}
	if got := c.roundTrip(kmsg.NewPtrDescribeACLsRequest()).(*kmsg.DescribeACLsResponse).ErrorCode; got != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("DescribeAcls: %s", codeName(got))
	}
	del := kmsg.NewPtrDeleteACLsRequest()
	del.Filters = append(del.Filters, kmsg.NewDeleteACLsRequestFilter())
	if got := c.roundTrip(del).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode; got != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("DeleteAcls: %s", codeName(got))
	}
	// Nothing is allowed to ANONYMOUS: the metadata of all topics is empty,
	// a named topic is refused.
	ws.createTopic(t, "t", 1, nil)
	mr := kmsg.NewPtrMetadataRequest()
	if resp := c.roundTrip(mr).(*kmsg.MetadataResponse); len(resp.Topics) != 0 {
		t.Errorf("metadata of all topics lists %d", len(resp.Topics))
	}
	mt := kmsg.NewMetadataRequestTopic()
	name := "t"
	mt.Topic = &name
	mr.Topics = append(mr.Topics, mt)
	if resp := c.roundTrip(mr).(*kmsg.MetadataResponse); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("metadata of t: %+v", resp.Topics)
	}
	if r := produceResult(t, c.roundTrip(produceRequest("t", 0, 1, testRecords(1, 10, -1, 0, 0)))); r.ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("produce: %s", codeName(r.ErrorCode))
	}
	c.checkAlive()
}

// TestAuthorizedOperations: Metadata (v8+) and DescribeCluster report what
// the principal may do when asked; Describe follows from Read.
func TestAuthorizedOperations(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.Authorizer = acl.Config{Enabled: true} })
	ws.createTopic(t, "t", 1, nil)
	if err := ws.meta.CreateACLs(context.Background(), []acl.Binding{
		{ResourceType: acl.ResourceTopic, ResourceName: "t", PatternType: acl.PatternLiteral, Principal: acl.Anonymous, Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow},
		{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral, Principal: "User:*", Host: "127.0.0.1", Operation: acl.OpDescribe, Permission: acl.PermissionAllow},
	}); err != nil {
		t.Fatal(err)
	}
	c := dialWire(t, ws.addr)
	mr := kmsg.NewPtrMetadataRequest()
	mr.Version = 10
	mr.Topics = nil
	mr.IncludeTopicAuthorizedOperations, mr.IncludeClusterAuthorizedOperations = true, true
	resp := c.roundTrip(mr).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].AuthorizedOperations != 1<<acl.OpRead|1<<acl.OpDescribe {
		t.Fatalf("topics %+v, want t with READ and DESCRIBE", resp.Topics)
	}
	if resp.AuthorizedOperations != 1<<acl.OpDescribe {
		t.Fatalf("cluster operations %b, want DESCRIBE", resp.AuthorizedOperations)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if got := c.roundTrip(dc).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations; got != 1<<acl.OpDescribe {
		t.Fatalf("DescribeCluster operations %b, want DESCRIBE", got)
	}
	// A group without ACLs: DescribeGroups refuses it.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g"}
	if got := c.roundTrip(dg).(*kmsg.DescribeGroupsResponse).Groups[0].ErrorCode; got != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("DescribeGroups g: %s", codeName(got))
	}
	c.checkAlive()
}

// FuzzPrincipalRules feeds arbitrary mapping rules and subjects to the rule
// parser and mapper: neither may panic, and a rule set that parses maps
// every subject to a name or to errNoPrincipalRule.
func FuzzPrincipalRules(f *testing.F) {
	f.Add(`RULE:^CN=(.*?),OU=(.*?)$/$1/L`, "CN=alice,OU=eng")
	f.Add(`RULE:^(.*)$/$1$2$$/U`, "CN=a\\,b")
	f.Add("DEFAULT", "")
	f.Add(`RULE:a\/b/c/`, "a/b")
	f.Fuzz(func(t *testing.T, rule, dn string) {
		rules, err := parsePrincipalRules([]string{rule})
		if err != nil {
			return
		}
		if _, err := mapPrincipal(rules, dn); err != nil && !errors.Is(err, errNoPrincipalRule) {
			t.Fatalf("rule %q on %q: %v", rule, dn, err)
		}
	})
}
