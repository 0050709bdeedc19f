package shaleprovider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shale_quota: the client quotas of one entity, Kafka's model: a user, a
// client id, or both, each either named or the default for all users or
// client ids that have no quota of their own. Quotas are set and removed
// key by key with AlterClientQuotas (Kafka API 49) and read with a strict
// DescribeClientQuotas (API 48), so a quota set outside Terraform on the
// same entity shows as drift.
type quotaResource struct {
	cl *Client
}

func newQuotaResource() resource.Resource { return &quotaResource{} }

var (
	_ resource.ResourceWithConfigure      = (*quotaResource)(nil)
	_ resource.ResourceWithImportState    = (*quotaResource)(nil)
	_ resource.ResourceWithValidateConfig = (*quotaResource)(nil)
)

// Kafka's entity types and the spelling of a default in ids.
const (
	entityUser     = "user"
	entityClientID = "client-id"
	defaultEntity  = "<default>"
)

type quotaModel struct {
	ID              types.String `tfsdk:"id"`
	User            types.String `tfsdk:"user"`
	UserDefault     types.Bool   `tfsdk:"user_default"`
	ClientID        types.String `tfsdk:"client_id"`
	ClientIDDefault types.Bool   `tfsdk:"client_id_default"`
	Quotas          types.Map    `tfsdk:"quotas"`
}

func (r *quotaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_quota"
}

func (r *quotaResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replaceS := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceB := []planmodifier.Bool{boolplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "The client quotas of one entity: a user, a client id, or a user and a client id, each named or the default. " +
			"Imported by the entity, such as \"user=alice\", \"user=<default>\" or \"user=alice,client-id=<default>\".",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "The entity, as \"user=alice,client-id=app\" with <default> for a default.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"user": schema.StringAttribute{
				Optional:      true,
				Description:   "The user the quotas apply to (the principal's name, without \"User:\").",
				Validators:    []validator.String{notEmpty{}},
				PlanModifiers: replaceS,
			},
			"user_default": schema.BoolAttribute{
				Optional:      true,
				Description:   "The quotas are the default for users without their own.",
				PlanModifiers: replaceB,
			},
			"client_id": schema.StringAttribute{
				Optional:      true,
				Description:   "The client id the quotas apply to.",
				Validators:    []validator.String{notEmpty{}},
				PlanModifiers: replaceS,
			},
			"client_id_default": schema.BoolAttribute{
				Optional:      true,
				Description:   "The quotas are the default for client ids without their own.",
				PlanModifiers: replaceB,
			},
			"quotas": schema.MapAttribute{
				ElementType: types.Float64Type,
				Required:    true,
				Description: "Quota values by key: " + strings.Join(quotaKeyNames(), ", ") + ". Changed in place; a removed key removes that quota.",
				Validators:  []validator.Map{quotasValidator{}},
			},
		},
	}
}

func (r *quotaResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m quotaModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.User.IsUnknown() || m.ClientID.IsUnknown() || m.UserDefault.IsUnknown() || m.ClientIDDefault.IsUnknown() {
		return
	}
	user, userDef := !m.User.IsNull(), m.UserDefault.ValueBool()
	client, clientDef := !m.ClientID.IsNull(), m.ClientIDDefault.ValueBool()
	if user && userDef {
		resp.Diagnostics.AddAttributeError(path.Root("user_default"), "Both a user and the default user",
			"Set user to name one user, or user_default = true for the default; not both.")
	}
	if client && clientDef {
		resp.Diagnostics.AddAttributeError(path.Root("client_id_default"), "Both a client id and the default client id",
			"Set client_id to name one client id, or client_id_default = true for the default; not both.")
	}
	if !user && !userDef && !client && !clientDef {
		resp.Diagnostics.AddError("No quota entity",
			"Say whose quotas these are: set user or user_default = true, client_id or client_id_default = true, or one of each.")
	}
}

func (r *quotaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

const quotaAPIs = "shale_quota"

// entity returns the Kafka entity: user first, then client-id; a nil name
// is the default.
func (m quotaModel) entity() kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	if known(m.User) {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: entityUser, Name: kadm.StringPtr(m.User.ValueString())})
	} else if m.UserDefault.ValueBool() {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: entityUser})
	}
	if known(m.ClientID) {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: entityClientID, Name: kadm.StringPtr(m.ClientID.ValueString())})
	} else if m.ClientIDDefault.ValueBool() {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: entityClientID})
	}
	return e
}

func entityID(e kadm.ClientQuotaEntity) string {
	parts := make([]string, len(e))
	for i, c := range e {
		name := defaultEntity
		if c.Name != nil {
			name = *c.Name
		}
		parts[i] = c.Type + "=" + name
	}
	return strings.Join(parts, ",")
}

func (r *quotaResource) quotas(ctx context.Context, m quotaModel) (map[string]float64, error) {
	out := map[string]float64{}
	if !known(m.Quotas) {
		return out, nil
	}
	if diags := m.Quotas.ElementsAs(ctx, &out, false); diags.HasError() {
		return nil, fmt.Errorf("read quotas: %v", diags)
	}
	return out, nil
}

func (r *quotaResource) alter(ctx context.Context, e kadm.ClientQuotaEntity, ops []kadm.AlterClientQuotaOp) error {
	if len(ops) == 0 {
		return nil
	}
	if err := r.cl.RequireAPIs(ctx, quotaAPIs, kmsg.AlterClientQuotas.Int16(), kmsg.DescribeClientQuotas.Int16()); err != nil {
		return err
	}
	rs, err := r.cl.adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}})
	if err != nil {
		return fmt.Errorf("AlterClientQuotas: %w", err)
	}
	for _, a := range rs {
		if a.Err != nil {
			return fmt.Errorf("AlterClientQuotas: %w", withMessage(a.Err, a.ErrMessage))
		}
	}
	return nil
}

func (r *quotaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var plan quotaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	e := plan.entity()
	want, err := r.quotas(ctx, plan)
	if err == nil {
		var ops []kadm.AlterClientQuotaOp
		for _, k := range sortedKeys(want) {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: want[k]})
		}
		err = r.alter(ctx, e, ops)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot set the quotas of "+entityID(e), err.Error())
		return
	}
	plan.ID = types.StringValue(entityID(e))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// describeQuotas returns the quotas of exactly this entity (none when it
// has none).
func describeQuotas(ctx context.Context, cl *Client, e kadm.ClientQuotaEntity) (map[string]float64, error) {
	if err := cl.RequireAPIs(ctx, quotaAPIs, kmsg.DescribeClientQuotas.Int16()); err != nil {
		return nil, err
	}
	var filter []kadm.DescribeClientQuotaComponent
	for _, c := range e {
		f := kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name, MatchType: 0}
		if c.Name == nil {
			f.MatchType = 1
		}
		filter = append(filter, f)
	}
	described, err := cl.adm.DescribeClientQuotas(ctx, true, filter)
	if err != nil {
		return nil, fmt.Errorf("DescribeClientQuotas: %w", err)
	}
	want := entityID(e)
	for _, d := range described {
		if entityID(sortedEntity(d.Entity)) != want {
			continue
		}
		out := make(map[string]float64, len(d.Values))
		for _, v := range d.Values {
			out[v.Key] = v.Value
		}
		return out, nil
	}
	return nil, nil
}

// sortedEntity orders components as entity() does: user, then client-id.
func sortedEntity(e kadm.ClientQuotaEntity) kadm.ClientQuotaEntity {
	var out kadm.ClientQuotaEntity
	for _, typ := range []string{entityUser, entityClientID} {
		for _, c := range e {
			if c.Type == typ {
				out = append(out, c)
			}
		}
	}
	for _, c := range e {
		if c.Type != entityUser && c.Type != entityClientID {
			out = append(out, c)
		}
	}
	return out
}

func (r *quotaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state quotaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	e := state.entity()
	got, err := describeQuotas(ctx, r.cl, e)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the quotas of "+entityID(e), err.Error())
		return
	}
	if len(got) == 0 {
		resp.State.RemoveResource(ctx)
		return
	}
	elems := make(map[string]attr.Value, len(got))
	for k, v := range got {
		elems[k] = types.Float64Value(v)
	}
	state.Quotas = types.MapValueMust(types.Float64Type, elems)
	state.ID = types.StringValue(entityID(e))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *quotaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state, plan quotaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	e := plan.entity()
	before, err := r.quotas(ctx, state)
	var after map[string]float64
	if err == nil {
		after, err = r.quotas(ctx, plan)
	}
	if err == nil {
		var ops []kadm.AlterClientQuotaOp
		for _, k := range sortedKeys(after) {
			if v, ok := before[k]; !ok || v != after[k] {
				ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: after[k]})
			}
		}
		for _, k := range sortedKeys(before) {
			if _, ok := after[k]; !ok {
				ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
			}
		}
		err = r.alter(ctx, e, ops)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot change the quotas of "+entityID(e), err.Error())
		return
	}
	plan.ID = types.StringValue(entityID(e))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *quotaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state quotaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	e := state.entity()
	have, err := r.quotas(ctx, state)
	if err == nil {
		var ops []kadm.AlterClientQuotaOp
		for _, k := range sortedKeys(have) {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
		err = r.alter(ctx, e, ops)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot remove the quotas of "+entityID(e), err.Error())
	}
}

func (r *quotaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	m, err := parseQuotaID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// parseQuotaID reads "user=alice", "client-id=<default>",
// "user=alice,client-id=app" and the like.
func parseQuotaID(id string) (quotaModel, error) {
	m := quotaModel{
		User:            types.StringNull(),
		UserDefault:     types.BoolNull(),
		ClientID:        types.StringNull(),
		ClientIDDefault: types.BoolNull(),
		Quotas:          types.MapNull(types.Float64Type),
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(id, ",") {
		typ, name, ok := strings.Cut(part, "=")
		if !ok || name == "" || seen[typ] {
			return m, fmt.Errorf("%q is not a quota entity; write \"user=alice\", \"client-id=<default>\" or \"user=alice,client-id=app\"", id)
		}
		seen[typ] = true
		switch typ {
		case entityUser:
			if name == defaultEntity {
				m.UserDefault = types.BoolValue(true)
			} else {
				m.User = types.StringValue(name)
			}
		case entityClientID:
			if name == defaultEntity {
				m.ClientIDDefault = types.BoolValue(true)
			} else {
				m.ClientID = types.StringValue(name)
			}
		default:
			return m, fmt.Errorf("entity type %q in %q is not user or client-id", typ, id)
		}
	}
	m.ID = types.StringValue(entityID(m.entity()))
	return m, nil
}
