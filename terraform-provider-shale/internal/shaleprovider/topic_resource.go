package shaleprovider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// shale_topic: a topic, its partition count and its config overrides.
//
// Configs are changed in place with IncrementalAlterConfigs (set and
// delete, key by key), partitions are added in place with
// CreatePartitions; Kafka cannot remove partitions, so a lower count
// replaces the topic and the plan says so. Read compares against the
// topic's own overrides (source DYNAMIC_TOPIC_CONFIG), so an override set
// or removed outside Terraform shows as drift.
type topicResource struct {
	cl *Client
}

func newTopicResource() resource.Resource { return &topicResource{} }

var (
	_ resource.ResourceWithConfigure   = (*topicResource)(nil)
	_ resource.ResourceWithImportState = (*topicResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*topicResource)(nil)
)

type topicModel struct {
	Name              types.String `tfsdk:"name"`
	Partitions        types.Int64  `tfsdk:"partitions"`
	ReplicationFactor types.Int64  `tfsdk:"replication_factor"`
	Config            types.Map    `tfsdk:"config"`
	TopicID           types.String `tfsdk:"topic_id"`
}

func (r *topicResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_topic"
}

func (r *topicResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A topic. Imported by name.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "The topic's name. Changing it replaces the topic.",
				Validators:    []validator.String{topicNameValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"partitions": schema.Int64Attribute{
				Required:    true,
				Description: "The number of partitions. Raising it adds partitions in place; lowering it replaces the topic (its records are deleted), because Kafka cannot remove partitions.",
				Validators:  []validator.Int64{int64Between{min: 1, max: 1 << 20}},
				PlanModifiers: []planmodifier.Int64{
					int64planmodifier.RequiresReplaceIf(partitionDecrease,
						"A lower partition count replaces the topic: Kafka cannot remove partitions.",
						"A lower partition count replaces the topic: Kafka cannot remove partitions."),
				},
			},
			"replication_factor": schema.Int64Attribute{
				Optional:    true,
				Computed:    true,
				Description: "Replicas per partition, used when the topic is created; the cluster's default when unset. Accepted for compatibility with Kafka: Shale keeps every partition's data in the object store and reports a factor of 1. A later change is recorded but not applied (Kafka needs a partition reassignment for that).",
				Validators:  []validator.Int64{int64Between{min: 1, max: 32767}},
				PlanModifiers: []planmodifier.Int64{
					int64planmodifier.UseStateForUnknown(),
				},
			},
			"config": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "Topic config overrides, such as retention.ms and cleanup.policy. Keys not listed take the broker's default; removing a key deletes its override.",
				Validators:  []validator.Map{topicConfigValidator{}},
			},
			"topic_id": schema.StringAttribute{
				Computed:      true,
				Description:   "The topic's id, as the cluster reports it (empty when it has none).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// partitionDecrease asks for replacement when the count goes down, and
// says what that means in a warning the plan shows.
func partitionDecrease(_ context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
	if !known(req.StateValue) || !known(req.PlanValue) {
		return
	}
	from, to := req.StateValue.ValueInt64(), req.PlanValue.ValueInt64()
	if to < from {
		resp.RequiresReplace = true
		var name types.String
		req.Plan.GetAttribute(context.Background(), path.Root("name"), &name)
		resp.Diagnostics.AddAttributeWarning(req.Path, "Fewer partitions replace the topic",
			fmt.Sprintf("Topic %q has %d partitions and the configuration asks for %d. Kafka cannot remove partitions, "+
				"so this plan deletes the topic, with all its records, and creates it again with %d partitions.",
				name.ValueString(), from, to, to))
	}
}

func (r *topicResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *topicResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var state, plan topicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if known(state.ReplicationFactor) && known(plan.ReplicationFactor) &&
		state.ReplicationFactor.ValueInt64() != plan.ReplicationFactor.ValueInt64() {
		resp.Diagnostics.AddAttributeWarning(path.Root("replication_factor"), "Replication factor is recorded, not applied",
			fmt.Sprintf("Topic %q keeps its replicas: the new replication factor %d is recorded in the state only. "+
				"Shale keeps every partition in the object store; on Kafka, reassign the partitions with Kafka's tools.",
				plan.Name.ValueString(), plan.ReplicationFactor.ValueInt64()))
	}
}

func (r *topicResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var plan topicModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	configs := mapStrings(ctx, plan.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	name := plan.Name.ValueString()
	rf := int16(-1)
	if known(plan.ReplicationFactor) {
		rf = int16(plan.ReplicationFactor.ValueInt64())
	}
	kc := make(map[string]*string, len(configs))
	for k, v := range configs {
		kc[k] = kadm.StringPtr(v)
	}
	created, err := r.cl.adm.CreateTopic(ctx, int32(plan.Partitions.ValueInt64()), rf, kc, name)
	if err != nil {
		detail := withMessage(err, created.ErrMessage).Error()
		if errors.Is(err, kerr.TopicAlreadyExists) {
			detail += fmt.Sprintf(". To manage the existing topic, import it: terraform import <address> %s", name)
		}
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot create topic %q", name), detail)
		return
	}
	if err := awaitTopic(ctx, r.cl, name, hasPartitions(int(plan.Partitions.ValueInt64()))); err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Topic %q was created but does not show in metadata", name), err.Error())
		return
	}
	info, err := describeTopic(ctx, r.cl, name)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read topic %q after creating it", name), err.Error())
		return
	}
	if !known(plan.ReplicationFactor) {
		plan.ReplicationFactor = types.Int64Value(int64(info.ReplicationFactor))
	}
	plan.TopicID = types.StringValue(info.ID)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *topicResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state topicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	name := state.Name.ValueString()
	info, err := describeTopic(ctx, r.cl, name)
	if errors.Is(err, errTopicNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read topic %q", name), err.Error())
		return
	}
	state.Partitions = types.Int64Value(int64(info.Partitions))
	if !known(state.ReplicationFactor) {
		state.ReplicationFactor = types.Int64Value(int64(info.ReplicationFactor))
	}
	state.TopicID = types.StringValue(info.ID)
	prior := mapStrings(ctx, state.Config, &resp.Diagnostics)
	for k := range info.Sensitive {
		// The broker hides a sensitive value: keep what was applied.
		if v, ok := prior[k]; ok {
			info.Configs[k] = v
		}
	}
	if len(info.Configs) > 0 || !state.Config.IsNull() {
		state.Config = stringMap(info.Configs)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *topicResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state, plan topicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	before := mapStrings(ctx, state.Config, &resp.Diagnostics)
	after := mapStrings(ctx, plan.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	name := plan.Name.ValueString()

	var alters []kadm.AlterConfig
	for _, k := range sortedKeys(after) {
		if v, ok := before[k]; !ok || v != after[k] {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(after[k])})
		}
	}
	for _, k := range sortedKeys(before) {
		if _, ok := after[k]; !ok {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
	}
	if len(alters) > 0 {
		rs, err := r.cl.adm.AlterTopicConfigs(ctx, alters, name)
		if err == nil {
			for _, a := range rs {
				if a.Err != nil {
					err = withMessage(a.Err, a.ErrMessage)
					break
				}
			}
		}
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Cannot change the configs of topic %q", name), err.Error())
			return
		}
	}

	from, to := state.Partitions.ValueInt64(), plan.Partitions.ValueInt64()
	if to > from {
		rs, err := r.cl.adm.UpdatePartitions(ctx, int(to), name)
		if err == nil {
			if r, ok := rs[name]; ok && r.Err != nil {
				err = withMessage(r.Err, r.ErrMessage)
			}
		}
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Cannot raise topic %q from %d to %d partitions", name, from, to), err.Error())
			return
		}
		if err := awaitTopic(ctx, r.cl, name, hasPartitions(int(to))); err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Topic %q was given %d partitions but metadata does not show them", name, to), err.Error())
			return
		}
	}
	if !known(plan.TopicID) {
		plan.TopicID = state.TopicID
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *topicResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var state topicModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := r.cl.Context(ctx)
	defer cancel()
	name := state.Name.ValueString()
	deleted, err := r.cl.adm.DeleteTopic(ctx, name)
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot delete topic %q", name), withMessage(err, deleted.ErrMessage).Error())
		return
	}
	if err := awaitTopic(ctx, r.cl, name, func(_ kadm.TopicDetail, exists bool) bool { return !exists }); err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Topic %q was deleted but still shows in metadata", name), err.Error())
	}
}

func (r *topicResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := checkTopicName(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import id", "Import a topic by its name: "+err.Error())
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}

// mapStrings reads a map(string) attribute; null gives an empty map.
func mapStrings(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]string {
	out := map[string]string{}
	if !known(m) {
		return out
	}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

func stringMap(m map[string]string) types.Map {
	elems := make(map[string]attr.Value, len(m))
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}
