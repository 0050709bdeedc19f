package shaleprovider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shale_acl: one ACL binding, Kafka's model: a resource pattern (type,
// name, literal or prefixed), a principal, a host, an operation and
// allow or deny.
//
// A binding has no identity but its fields, so every field replaces it
// when changed, and the id is the fields joined by '|'. The binding is
// created, described and deleted with exact filters through CreateAcls,
// DescribeAcls and DeleteAcls (Kafka APIs 30, 29, 31) as kmsg requests:
// kadm's ACL builder crosses lists of names, principals and operations,
// which one exact binding does not need.
type aclResource struct {
	cl *Client
}

func newACLResource() resource.Resource { return &aclResource{} }

var (
	_ resource.ResourceWithConfigure      = (*aclResource)(nil)
	_ resource.ResourceWithImportState    = (*aclResource)(nil)
	_ resource.ResourceWithValidateConfig = (*aclResource)(nil)
)

// Kafka's names for the ACL enums, as its tools print them.
var (
	aclResourceTypes = newEnum(
		"TOPIC", int(kmsg.ACLResourceTypeTopic),
		"GROUP", int(kmsg.ACLResourceTypeGroup),
		"CLUSTER", int(kmsg.ACLResourceTypeCluster),
		"TRANSACTIONAL_ID", int(kmsg.ACLResourceTypeTransactionalId),
		"DELEGATION_TOKEN", int(kmsg.ACLResourceTypeDelegationToken),
		"USER", int(kmsg.ACLResourceTypeUser),
	)
	aclPatternTypes = newEnum(
		"LITERAL", int(kmsg.ACLResourcePatternTypeLiteral),
		"PREFIXED", int(kmsg.ACLResourcePatternTypePrefixed),
	)
	aclOperations = newEnum(
		"ALL", int(kmsg.ACLOperationAll),
		"READ", int(kmsg.ACLOperationRead),
		"WRITE", int(kmsg.ACLOperationWrite),
		"CREATE", int(kmsg.ACLOperationCreate),
		"DELETE", int(kmsg.ACLOperationDelete),
		"ALTER", int(kmsg.ACLOperationAlter),
		"DESCRIBE", int(kmsg.ACLOperationDescribe),
		"CLUSTER_ACTION", int(kmsg.ACLOperationClusterAction),
		"DESCRIBE_CONFIGS", int(kmsg.ACLOperationDescribeConfigs),
		"ALTER_CONFIGS", int(kmsg.ACLOperationAlterConfigs),
		"IDEMPOTENT_WRITE", int(kmsg.ACLOperationIdempotentWrite),
		"CREATE_TOKENS", int(kmsg.ACLOperationCreateTokens),
		"DESCRIBE_TOKENS", int(kmsg.ACLOperationDescribeTokens),
	)
	aclPermissions = newEnum(
		"ALLOW", int(kmsg.ACLPermissionTypeAllow),
		"DENY", int(kmsg.ACLPermissionTypeDeny),
	)
)

// clusterResourceName is the one name a CLUSTER resource has in Kafka.
const clusterResourceName = "kafka-cluster"

type aclModel struct {
	ID           types.String `tfsdk:"id"`
	ResourceType types.String `tfsdk:"resource_type"`
	ResourceName types.String `tfsdk:"resource_name"`
	PatternType  types.String `tfsdk:"pattern_type"`
	Principal    types.String `tfsdk:"principal"`
	Host         types.String `tfsdk:"host"`
	Operation    types.String `tfsdk:"operation"`
	Permission   types.String `tfsdk:"permission"`
}

// aclBinding is an ACL in wire values.
type aclBinding struct {
	resourceType kmsg.ACLResourceType
	resourceName string
	pattern      kmsg.ACLResourcePatternType
	principal    string
	host         string
	operation    kmsg.ACLOperation
	permission   kmsg.ACLPermissionType
}

func (m aclModel) binding() (aclBinding, error) {
	rt, ok1 := aclResourceTypes.parse(m.ResourceType.ValueString())
	pt, ok2 := aclPatternTypes.parse(m.PatternType.ValueString())
	op, ok3 := aclOperations.parse(m.Operation.ValueString())
	pm, ok4 := aclPermissions.parse(m.Permission.ValueString())
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return aclBinding{}, fmt.Errorf("unknown ACL value in %s", m.id())
	}
	return aclBinding{
		resourceType: kmsg.ACLResourceType(rt),
		resourceName: m.ResourceName.ValueString(),
		pattern:      kmsg.ACLResourcePatternType(pt),
		principal:    m.Principal.ValueString(),
		host:         m.Host.ValueString(),
		operation:    kmsg.ACLOperation(op),
		permission:   kmsg.ACLPermissionType(pm),
	}, nil
}

// id is the binding's import id: its fields, canonically spelled, joined
// by '|': TOPIC|orders|LITERAL|User:alice|*|READ|ALLOW.
func (m aclModel) id() string {
	canon := func(e enum, v types.String) string {
		if x, ok := e.parse(v.ValueString()); ok {
			return e.name(x)
		}
		return v.ValueString()
	}
	return strings.Join([]string{
		canon(aclResourceTypes, m.ResourceType),
		m.ResourceName.ValueString(),
		canon(aclPatternTypes, m.PatternType),
		m.Principal.ValueString(),
		m.Host.ValueString(),
		canon(aclOperations, m.Operation),
		canon(aclPermissions, m.Permission),
	}, "|")
}

func (r *aclResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_acl"
}

func (r *aclResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An ACL binding. Every change replaces it. Imported by its id, " +
			"resource_type|resource_name|pattern_type|principal|host|operation|permission, " +
			"such as TOPIC|orders|LITERAL|User:alice|*|READ|ALLOW.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "The binding's fields joined by '|'.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"resource_type": schema.StringAttribute{
				Required:      true,
				Description:   "What the ACL is on: " + strings.Join(aclResourceTypes.names, ", ") + ".",
				Validators:    []validator.String{oneOf{aclResourceTypes}},
				PlanModifiers: replace,
			},
			"resource_name": schema.StringAttribute{
				Required:      true,
				Description:   "The resource's name, \"*\" for every resource of the type (with pattern_type LITERAL), a prefix with PREFIXED; \"kafka-cluster\" for CLUSTER.",
				Validators:    []validator.String{notEmpty{}},
				PlanModifiers: replace,
			},
			"pattern_type": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("LITERAL"),
				Description:   "How resource_name matches: LITERAL (the default) or PREFIXED.",
				Validators:    []validator.String{oneOf{aclPatternTypes}},
				PlanModifiers: replace,
			},
			"principal": schema.StringAttribute{
				Required:      true,
				Description:   "Who the ACL is for, \"Type:name\": \"User:alice\", or \"User:*\" for every user.",
				Validators:    []validator.String{principalValidator{}},
				PlanModifiers: replace,
			},
			"host": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("*"),
				Description:   "The client address the ACL applies to; \"*\" (the default) for any.",
				Validators:    []validator.String{notEmpty{}},
				PlanModifiers: replace,
			},
			"operation": schema.StringAttribute{
				Required:      true,
				Description:   "The operation: " + strings.Join(aclOperations.names, ", ") + ".",
				Validators:    []validator.String{oneOf{aclOperations}},
				PlanModifiers: replace,
			},
			"permission": schema.StringAttribute{
				Required:      true,
				Description:   "ALLOW or DENY (a matching DENY wins over any ALLOW).",
				Validators:    []validator.String{oneOf{aclPermissions}},
				PlanModifiers: replace,
			},
		},
	}
}

func (r *aclResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m aclModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if known(m.ResourceType) && known(m.ResourceName) &&
		aclResourceTypes.sameValue(m.ResourceType.ValueString(), "CLUSTER") &&
		m.ResourceName.ValueString() != clusterResourceName {
		resp.Diagnostics.AddAttributeError(path.Root("resource_name"), "Invalid cluster resource name",
			fmt.Sprintf("A CLUSTER resource is named %q; %q names no cluster.", clusterResourceName, m.ResourceName.ValueString()))
	}
	if known(m.PatternType) && known(m.ResourceName) &&
		aclPatternTypes.sameValue(m.PatternType.ValueString(), "PREFIXED") && m.ResourceName.ValueString() == "*" {
		resp.Diagnostics.AddAttributeError(path.Root("resource_name"), "Wildcard with a PREFIXED pattern",
			`"*" matches every resource only with pattern_type LITERAL; as a prefix it would match names that start with "*".`)
	}
}

func (r *aclResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

const aclAPIs = "shale_acl"

func (r *aclResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var plan aclModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	b, err := plan.binding()
	if err == nil {
		err = r.cl.RequireAPIs(ctx, aclAPIs, kmsg.CreateACLs.Int16(), kmsg.DescribeACLs.Int16(), kmsg.DeleteACLs.Int16())
	}
	if err == nil {
		err = createACL(ctx, r.cl, b)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create ACL "+plan.id(), err.Error())
		return
	}
	plan.ID = types.StringValue(plan.id())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *aclResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state aclModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	b, err := state.binding()
	if err == nil {
		err = r.cl.RequireAPIs(ctx, aclAPIs, kmsg.DescribeACLs.Int16())
	}
	var found bool
	if err == nil {
		found, err = describeACL(ctx, r.cl, b)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read ACL "+state.id(), err.Error())
		return
	}
	if !found {
		resp.State.RemoveResource(ctx)
		return
	}
	state.ID = types.StringValue(state.id())
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called: every attribute replaces the binding.
func (r *aclResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("ACLs are not updated in place", "Every attribute of shale_acl replaces the binding; this is a bug in terraform-provider-shale.")
}

func (r *aclResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state aclModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	b, err := state.binding()
	if err == nil {
		err = r.cl.RequireAPIs(ctx, aclAPIs, kmsg.DeleteACLs.Int16())
	}
	if err == nil {
		err = deleteACL(ctx, r.cl, b)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete ACL "+state.id(), err.Error())
	}
}

func (r *aclResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	m, err := parseACLID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// parseACLID reads resource_type|resource_name|pattern_type|principal|host|operation|permission.
func parseACLID(id string) (aclModel, error) {
	parts := strings.Split(id, "|")
	if len(parts) != 7 {
		return aclModel{}, fmt.Errorf("%q has %d fields; an ACL id has 7: resource_type|resource_name|pattern_type|principal|host|operation|permission, such as TOPIC|orders|LITERAL|User:alice|*|READ|ALLOW", id, len(parts))
	}
	for _, check := range []struct {
		e     enum
		v     string
		field string
	}{
		{aclResourceTypes, parts[0], "resource_type"},
		{aclPatternTypes, parts[2], "pattern_type"},
		{aclOperations, parts[5], "operation"},
		{aclPermissions, parts[6], "permission"},
	} {
		if _, ok := check.e.parse(check.v); !ok {
			return aclModel{}, fmt.Errorf("%s %q in %q is not one of %s", check.field, check.v, id, strings.Join(check.e.names, ", "))
		}
	}
	if parts[1] == "" || parts[4] == "" {
		return aclModel{}, fmt.Errorf("%q has an empty resource name or host", id)
	}
	if err := checkPrincipal(parts[3]); err != nil {
		return aclModel{}, err
	}
	canon := func(e enum, s string) types.String {
		x, _ := e.parse(s)
		return types.StringValue(e.name(x))
	}
	m := aclModel{
		ResourceType: canon(aclResourceTypes, parts[0]),
		ResourceName: types.StringValue(parts[1]),
		PatternType:  canon(aclPatternTypes, parts[2]),
		Principal:    types.StringValue(parts[3]),
		Host:         types.StringValue(parts[4]),
		Operation:    canon(aclOperations, parts[5]),
		Permission:   canon(aclPermissions, parts[6]),
	}
	m.ID = types.StringValue(m.id())
	return m, nil
}

func createACL(ctx context.Context, cl *Client, b aclBinding) error {
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = b.resourceType, b.resourceName, b.pattern
	c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, b.host, b.operation, b.permission
	req.Creations = append(req.Creations, c)
	resp, err := req.RequestWith(ctx, cl.cl)
	if err != nil {
		return fmt.Errorf("CreateAcls: %w", err)
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("CreateAcls: %d results for 1 creation", len(resp.Results))
	}
	return withMessage(kerr.ErrorForCode(resp.Results[0].ErrorCode), ptrString(resp.Results[0].ErrorMessage))
}

// describeACL reports whether exactly this binding exists.
func describeACL(ctx context.Context, cl *Client, b aclBinding) (bool, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = b.resourceType, &b.resourceName, b.pattern
	req.Principal, req.Host, req.Operation, req.PermissionType = &b.principal, &b.host, b.operation, b.permission
	resp, err := req.RequestWith(ctx, cl.cl)
	if err != nil {
		return false, fmt.Errorf("DescribeAcls: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return false, fmt.Errorf("DescribeAcls: %w", withMessage(err, ptrString(resp.ErrorMessage)))
	}
	for _, res := range resp.Resources {
		if res.ResourceType != b.resourceType || res.ResourceName != b.resourceName || res.ResourcePatternType != b.pattern {
			continue
		}
		for _, a := range res.ACLs {
			if a.Principal == b.principal && a.Host == b.host && a.Operation == b.operation && a.PermissionType == b.permission {
				return true, nil
			}
		}
	}
	return false, nil
}

func deleteACL(ctx context.Context, cl *Client, b aclBinding) error {
	req := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = b.resourceType, &b.resourceName, b.pattern
	f.Principal, f.Host, f.Operation, f.PermissionType = &b.principal, &b.host, b.operation, b.permission
	req.Filters = append(req.Filters, f)
	resp, err := req.RequestWith(ctx, cl.cl)
	if err != nil {
		return fmt.Errorf("DeleteAcls: %w", err)
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("DeleteAcls: %d results for 1 filter", len(resp.Results))
	}
	res := resp.Results[0]
	if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
		return fmt.Errorf("DeleteAcls: %w", withMessage(err, ptrString(res.ErrorMessage)))
	}
	for _, m := range res.MatchingACLs {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
			return fmt.Errorf("DeleteAcls: %w", withMessage(err, ptrString(m.ErrorMessage)))
		}
	}
	return nil
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
