package shaleprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shale_user: a user's SCRAM credential for one mechanism, set with
// AlterUserScramCredentials (Kafka API 51) and read with
// DescribeUserScramCredentials (API 50).
//
// The cluster keeps only a salted hash, so the password cannot be read
// back: drift is detected on the mechanism and the iteration count, and
// on the credential's existence. The password is given either as
// password (sensitive, kept in the state, so a change to it is planned)
// or as password_wo (write-only: never in the plan or the state; bump
// password_wo_version to set it again). kadm salts and hashes the
// password on this side, so the cleartext never goes on the wire.
type userResource struct {
	cl *Client
}

func newUserResource() resource.Resource { return &userResource{} }

var (
	_ resource.ResourceWithConfigure      = (*userResource)(nil)
	_ resource.ResourceWithImportState    = (*userResource)(nil)
	_ resource.ResourceWithValidateConfig = (*userResource)(nil)
)

var scramMechanisms = newEnum(
	"SCRAM-SHA-256", int(kadm.ScramSha256),
	"SCRAM-SHA-512", int(kadm.ScramSha512),
)

// Kafka's bounds on SCRAM iterations.
const (
	minIterations     = 4096
	maxIterations     = 16384
	defaultIterations = 8192
)

type userModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	Mechanism         types.String `tfsdk:"mechanism"`
	Iterations        types.Int64  `tfsdk:"iterations"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
}

func (r *userResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_user"
}

func (r *userResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A user's SCRAM credential for one mechanism. Imported by \"name|MECHANISM\" (or by name, when the user has one credential); " +
			"the password cannot be read back, so the first apply after an import sets it again.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "name|mechanism.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "The user name (the principal is User:<name>). Changing it replaces the credential.",
				Validators:    []validator.String{notEmpty{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"mechanism": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("SCRAM-SHA-512"),
				Description:   "SCRAM-SHA-256 or SCRAM-SHA-512 (the default). A user may hold one credential per mechanism, each its own resource. Changing it replaces the credential.",
				Validators:    []validator.String{oneOf{scramMechanisms}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"iterations": schema.Int64Attribute{
				Optional:    true,
				Computed:    true,
				Default:     int64default.StaticInt64(defaultIterations),
				Description: fmt.Sprintf("SCRAM iterations, %d to %d (default %d). Changing it sets the credential again.", minIterations, maxIterations, defaultIterations),
				Validators:  []validator.Int64{int64Between{min: minIterations, max: maxIterations, why: "Kafka accepts SCRAM iterations only in this range."}},
			},
			"password": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "The password, kept (sensitive) in the state so that a change is planned. Set this or password_wo.",
				Validators:  []validator.String{notEmpty{}},
			},
			"password_wo": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				WriteOnly:   true,
				Description: "The password, write-only: never stored in the plan or the state (Terraform 1.11, OpenTofu 1.11 or later). Set password_wo_version with it and change that to set the password again.",
				Validators:  []validator.String{notEmpty{}},
			},
			"password_wo_version": schema.Int64Attribute{
				Optional:    true,
				Description: "Any number; changing it sets password_wo again.",
			},
		},
	}
}

func (r *userResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m userModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	pw, wo := !m.Password.IsNull(), !m.PasswordWO.IsNull()
	switch {
	case pw && wo:
		resp.Diagnostics.AddAttributeError(path.Root("password_wo"), "Two passwords",
			"Set password or password_wo, not both.")
	case !pw && !wo:
		resp.Diagnostics.AddAttributeError(path.Root("password"), "No password",
			"Set password (kept in the state) or password_wo with password_wo_version (never stored).")
	case wo && m.PasswordWOVersion.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("password_wo_version"), "password_wo without a version",
			"A write-only password is not in the state, so a change to it cannot be seen: set password_wo_version and change it whenever password_wo changes.")
	case pw && !m.PasswordWOVersion.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("password_wo_version"), "Version without password_wo",
			"password_wo_version goes with password_wo; remove it or use password_wo.")
	}
}

func (r *userResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

const userAPIs = "shale_user"

func (m userModel) mechanism() kadm.ScramMechanism {
	v, _ := scramMechanisms.parse(m.Mechanism.ValueString())
	return kadm.ScramMechanism(v)
}

func (m userModel) id() string {
	return m.Name.ValueString() + "|" + m.mechanism().String()
}

// password returns the password from the plan, or the write-only one from
// the configuration.
func password(ctx context.Context, plan userModel, config tfsdk.Config) (string, error) {
	if known(plan.Password) {
		return plan.Password.ValueString(), nil
	}
	var wo types.String
	if diags := config.GetAttribute(ctx, path.Root("password_wo"), &wo); diags.HasError() {
		return "", fmt.Errorf("read password_wo: %v", diags)
	}
	if !known(wo) {
		return "", errors.New("neither password nor password_wo is set")
	}
	return wo.ValueString(), nil
}

func (r *userResource) upsert(ctx context.Context, m userModel, pw string) error {
	if err := r.cl.RequireAPIs(ctx, userAPIs, kmsg.AlterUserSCRAMCredentials.Int16(), kmsg.DescribeUserSCRAMCredentials.Int16()); err != nil {
		return err
	}
	rs, err := r.cl.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User:       m.Name.ValueString(),
		Mechanism:  m.mechanism(),
		Iterations: int32(m.Iterations.ValueInt64()),
		Password:   pw,
	}})
	if err != nil {
		return fmt.Errorf("AlterUserScramCredentials: %w", err)
	}
	for _, a := range rs {
		if a.Err != nil {
			return fmt.Errorf("AlterUserScramCredentials: %w", withMessage(a.Err, a.ErrMessage))
		}
	}
	return nil
}

func (r *userResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var plan userModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	pw, err := password(ctx, plan, req.Config)
	if err == nil {
		err = r.upsert(ctx, plan, pw)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create the SCRAM credential "+plan.id(), err.Error())
		return
	}
	plan.ID = types.StringValue(plan.id())
	plan.PasswordWO = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// describeSCRAM returns the user's credentials, none when the user has
// none.
func describeSCRAM(ctx context.Context, cl *Client, name string) ([]kadm.CredInfo, error) {
	if err := cl.RequireAPIs(ctx, userAPIs, kmsg.DescribeUserSCRAMCredentials.Int16()); err != nil {
		return nil, err
	}
	ds, err := cl.adm.DescribeUserSCRAMs(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("DescribeUserScramCredentials: %w", err)
	}
	d, ok := ds[name]
	if !ok || errors.Is(d.Err, kerr.ResourceNotFound) {
		return nil, nil
	}
	if d.Err != nil {
		return nil, fmt.Errorf("DescribeUserScramCredentials: %w", withMessage(d.Err, d.ErrMessage))
	}
	return d.CredInfos, nil
}

func (r *userResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state userModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	name := state.Name.ValueString()
	creds, err := describeSCRAM(ctx, r.cl, name)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read the SCRAM credentials of %q", name), err.Error())
		return
	}
	if !known(state.Mechanism) { // imported by name alone
		switch len(creds) {
		case 0:
		case 1:
			state.Mechanism = types.StringValue(creds[0].Mechanism.String())
		default:
			resp.Diagnostics.AddError(fmt.Sprintf("User %q has more than one SCRAM credential", name),
				fmt.Sprintf("Import one of them by \"%s|SCRAM-SHA-256\" or \"%s|SCRAM-SHA-512\".", name, name))
			return
		}
	}
	var found *kadm.CredInfo
	for i := range creds {
		if creds[i].Mechanism == state.mechanism() {
			found = &creds[i]
		}
	}
	if found == nil {
		resp.State.RemoveResource(ctx)
		return
	}
	state.Iterations = types.Int64Value(int64(found.Iterations))
	state.ID = types.StringValue(state.id())
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *userResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var plan userModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	pw, err := password(ctx, plan, req.Config)
	if err == nil {
		err = r.upsert(ctx, plan, pw)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot update the SCRAM credential "+plan.id(), err.Error())
		return
	}
	plan.ID = types.StringValue(plan.id())
	plan.PasswordWO = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *userResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state userModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	err := r.cl.RequireAPIs(ctx, userAPIs, kmsg.AlterUserSCRAMCredentials.Int16())
	if err == nil {
		var rs kadm.AlteredUserSCRAMs
		rs, err = r.cl.adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: state.Name.ValueString(), Mechanism: state.mechanism()}}, nil)
		if err != nil {
			err = fmt.Errorf("AlterUserScramCredentials: %w", err)
		}
		for _, a := range rs {
			if a.Err != nil && !errors.Is(a.Err, kerr.ResourceNotFound) {
				err = fmt.Errorf("AlterUserScramCredentials: %w", withMessage(a.Err, a.ErrMessage))
			}
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete the SCRAM credential "+state.id(), err.Error())
	}
}

func (r *userResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name, mech, hasMech := strings.Cut(req.ID, "|")
	if name == "" {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q names no user; import by \"name|SCRAM-SHA-512\" or by name.", req.ID))
		return
	}
	m := userModel{
		Name:              types.StringValue(name),
		Mechanism:         types.StringNull(),
		Iterations:        types.Int64Null(),
		ID:                types.StringNull(),
		Password:          types.StringNull(),
		PasswordWO:        types.StringNull(),
		PasswordWOVersion: types.Int64Null(),
	}
	if hasMech {
		v, ok := scramMechanisms.parse(mech)
		if !ok {
			resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not a SCRAM mechanism; use SCRAM-SHA-256 or SCRAM-SHA-512.", mech))
			return
		}
		m.Mechanism = types.StringValue(scramMechanisms.name(v))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
