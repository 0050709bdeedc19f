package shaleprovider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicNames(t *testing.T) {
	for _, ok := range []string{"orders", "a", "A.b_c-9", strings.Repeat("x", 249)} {
		if err := checkTopicName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "has space", "slash/no", "ü", strings.Repeat("x", 250)} {
		if err := checkTopicName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEnumSpellings(t *testing.T) {
	for _, s := range []string{"TRANSACTIONAL_ID", "TransactionalID", "transactional-id", "transactionalid"} {
		if v, ok := aclResourceTypes.parse(s); !ok || kmsg.ACLResourceType(v) != kmsg.ACLResourceTypeTransactionalId {
			t.Errorf("%q parsed as %d, %v", s, v, ok)
		}
	}
	for _, s := range []string{"ANY", "MATCH", "unknown", ""} {
		if _, ok := aclPatternTypes.parse(s); ok {
			t.Errorf("pattern %q accepted; only LITERAL and PREFIXED name one binding", s)
		}
	}
	if _, ok := aclOperations.parse("ANY"); ok {
		t.Error("operation ANY accepted; it is a filter, not an operation")
	}
	if got := aclOperations.name(int8(kmsg.ACLOperationIdempotentWrite)); got != "IDEMPOTENT_WRITE" {
		t.Errorf("canonical name %q", got)
	}
}

func TestACLIDRoundTrip(t *testing.T) {
	m, err := parseACLID("Topic|orders|literal|User:alice|*|Read|allow")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.ID.ValueString(), "TOPIC|orders|LITERAL|User:alice|*|READ|ALLOW"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
	b, err := m.binding()
	if err != nil {
		t.Fatal(err)
	}
	if b.resourceType != kmsg.ACLResourceTypeTopic || b.pattern != kmsg.ACLResourcePatternTypeLiteral ||
		b.operation != kmsg.ACLOperationRead || b.permission != kmsg.ACLPermissionTypeAllow || b.principal != "User:alice" {
		t.Fatalf("binding %+v", b)
	}
	for _, bad := range []string{
		"TOPIC|orders|LITERAL|User:alice|*|READ",        // six fields
		"TOPIC|orders|ANY|User:alice|*|READ|ALLOW",      // filter pattern
		"TOPIC|orders|LITERAL|alice|*|READ|ALLOW",       // no principal type
		"TOPIC|orders|LITERAL|User:alice|*|READ|MAYBE",  // permission
		"TOPIC||LITERAL|User:alice|*|READ|ALLOW",        // empty name
		"SCHEMA|orders|LITERAL|User:alice|*|READ|ALLOW", // resource type
	} {
		if _, err := parseACLID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestQuotaIDRoundTrip(t *testing.T) {
	for _, id := range []string{"user=alice", "user=<default>", "client-id=app", "client-id=<default>", "user=alice,client-id=<default>", "user=<default>,client-id=app"} {
		m, err := parseQuotaID(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := entityID(m.entity()); got != id {
			t.Errorf("%s came back as %s", id, got)
		}
	}
	// Components in either order name the same entity.
	m, err := parseQuotaID("client-id=app,user=alice")
	if err != nil || m.ID.ValueString() != "user=alice,client-id=app" {
		t.Errorf("reordered id: %v %v", m.ID, err)
	}
	for _, bad := range []string{"", "user", "user=", "ip=1.2.3.4", "user=a,user=b"} {
		if _, err := parseQuotaID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestQuotasValidator(t *testing.T) {
	check := func(vals map[string]attr.Value) []string {
		req := validator.MapRequest{Path: path.Root("quotas"), ConfigValue: types.MapValueMust(types.Float64Type, vals)}
		var resp validator.MapResponse
		quotasValidator{}.ValidateMap(context.Background(), req, &resp)
		var out []string
		for _, d := range resp.Diagnostics.Errors() {
			out = append(out, d.Summary()+": "+d.Detail())
		}
		return out
	}
	if errs := check(map[string]attr.Value{"producer_byte_rate": types.Float64Value(1 << 20), "request_percentage": types.Float64Value(12.5)}); len(errs) != 0 {
		t.Errorf("good quotas refused: %v", errs)
	}
	for name, vals := range map[string]map[string]attr.Value{
		"unknown key":      {"producer_bytes": types.Float64Value(1)},
		"negative":         {"consumer_byte_rate": types.Float64Value(-5)},
		"fractional":       {"producer_byte_rate": types.Float64Value(10.5)},
		"zero share":       {"request_percentage": types.Float64Value(0)},
		"no quotas at all": {},
	} {
		if errs := check(vals); len(errs) != 1 {
			t.Errorf("%s: %d errors %v, want 1", name, len(errs), errs)
		}
	}
}

func TestHostPort(t *testing.T) {
	for _, ok := range []string{"localhost:9092", "10.0.0.1:1", "[::1]:9092"} {
		if err := checkHostPort(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"localhost", ":9092", "host:0", "host:65536", "host:port", "::1:9092"} {
		if err := checkHostPort(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
