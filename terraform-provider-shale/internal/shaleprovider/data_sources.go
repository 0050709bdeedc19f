package shaleprovider

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Data sources: shale_cluster (id, controller, brokers from Metadata),
// shale_topics (every topic with its partition count) and shale_topic
// (one topic, as shale_topic the resource reads it).

type clusterDataSource struct{ cl *Client }

func newClusterDataSource() datasource.DataSource { return &clusterDataSource{} }

type brokerModel struct {
	NodeID types.Int64  `tfsdk:"node_id"`
	Host   types.String `tfsdk:"host"`
	Port   types.Int64  `tfsdk:"port"`
	Rack   types.String `tfsdk:"rack"`
}

type clusterModel struct {
	ClusterID    types.String  `tfsdk:"cluster_id"`
	ControllerID types.Int64   `tfsdk:"controller_id"`
	Brokers      []brokerModel `tfsdk:"brokers"`
}

func (d *clusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (d *clusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The cluster the provider talks to, from a Metadata request.",
		Attributes: map[string]schema.Attribute{
			"cluster_id":    schema.StringAttribute{Computed: true, Description: "The cluster id."},
			"controller_id": schema.Int64Attribute{Computed: true, Description: "The node id the cluster reports as its controller (-1 if none)."},
			"brokers": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The live brokers, by node id.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"node_id": schema.Int64Attribute{Computed: true},
					"host":    schema.StringAttribute{Computed: true},
					"port":    schema.Int64Attribute{Computed: true},
					"rack":    schema.StringAttribute{Computed: true, Description: "Null when the broker has no rack."},
				}},
			},
		},
	}
}

func (d *clusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *clusterDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	ctx, cancel := d.cl.Context(ctx)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	md, err := req.RequestWith(ctx, d.cl.cl)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the cluster's metadata", err.Error())
		return
	}
	m := clusterModel{
		ClusterID:    types.StringPointerValue(md.ClusterID),
		ControllerID: types.Int64Value(int64(md.ControllerID)),
		Brokers:      []brokerModel{},
	}
	sort.Slice(md.Brokers, func(i, j int) bool { return md.Brokers[i].NodeID < md.Brokers[j].NodeID })
	for _, b := range md.Brokers {
		bm := brokerModel{
			NodeID: types.Int64Value(int64(b.NodeID)),
			Host:   types.StringValue(b.Host),
			Port:   types.Int64Value(int64(b.Port)),
			Rack:   types.StringPointerValue(b.Rack),
		}
		m.Brokers = append(m.Brokers, bm)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type topicsDataSource struct{ cl *Client }

func newTopicsDataSource() datasource.DataSource { return &topicsDataSource{} }

type topicSummaryModel struct {
	Name       types.String `tfsdk:"name"`
	Partitions types.Int64  `tfsdk:"partitions"`
}

type topicsModel struct {
	IncludeInternal types.Bool          `tfsdk:"include_internal"`
	Names           []types.String      `tfsdk:"names"`
	Topics          []topicSummaryModel `tfsdk:"topics"`
}

func (d *topicsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_topics"
}

func (d *topicsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Every topic of the cluster, sorted by name.",
		Attributes: map[string]schema.Attribute{
			"include_internal": schema.BoolAttribute{Optional: true, Description: "List internal topics too (default false)."},
			"names":            schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "The topic names, sorted."},
			"topics": schema.ListNestedAttribute{
				Computed:    true,
				Description: "Each topic with its partition count, sorted by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":       schema.StringAttribute{Computed: true},
					"partitions": schema.Int64Attribute{Computed: true},
				}},
			},
		},
	}
}

func (d *topicsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *topicsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var m topicsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := d.cl.Context(ctx)
	defer cancel()
	details, err := listTopics(ctx, d.cl)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list topics", err.Error())
		return
	}
	if !m.IncludeInternal.ValueBool() {
		details.FilterInternal()
	}
	m.Names, m.Topics = []types.String{}, []topicSummaryModel{}
	for _, name := range details.Names() {
		t := details[name]
		if t.Err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Cannot list topic %q", name), t.Err.Error())
			return
		}
		m.Names = append(m.Names, types.StringValue(name))
		m.Topics = append(m.Topics, topicSummaryModel{Name: types.StringValue(name), Partitions: types.Int64Value(int64(len(t.Partitions)))})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type topicDataSource struct{ cl *Client }

func newTopicDataSource() datasource.DataSource { return &topicDataSource{} }

type topicDataModel struct {
	Name              types.String `tfsdk:"name"`
	Partitions        types.Int64  `tfsdk:"partitions"`
	ReplicationFactor types.Int64  `tfsdk:"replication_factor"`
	Config            types.Map    `tfsdk:"config"`
	TopicID           types.String `tfsdk:"topic_id"`
}

func (d *topicDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_topic"
}

func (d *topicDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "One topic: partitions, replication factor and its config overrides. Fails if the topic does not exist.",
		Attributes: map[string]schema.Attribute{
			"name":               schema.StringAttribute{Required: true, Validators: []validator.String{topicNameValidator{}}},
			"partitions":         schema.Int64Attribute{Computed: true},
			"replication_factor": schema.Int64Attribute{Computed: true, Description: "Replicas of partition 0 as the cluster reports them (1 on Shale)."},
			"config":             schema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "The topic's own config overrides (sensitive ones are left out)."},
			"topic_id":           schema.StringAttribute{Computed: true},
		},
	}
}

func (d *topicDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.cl = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *topicDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.cl == nil {
		notConfigured(&resp.Diagnostics)
		return
	}
	var m topicDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := d.cl.Context(ctx)
	defer cancel()
	name := m.Name.ValueString()
	info, err := describeTopic(ctx, d.cl, name)
	if errors.Is(err, errTopicNotFound) {
		resp.Diagnostics.AddError(fmt.Sprintf("Topic %q does not exist", name), "The cluster has no topic of that name.")
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot read topic %q", name), err.Error())
		return
	}
	m.Partitions = types.Int64Value(int64(info.Partitions))
	m.ReplicationFactor = types.Int64Value(int64(info.ReplicationFactor))
	m.Config = stringMap(info.Configs)
	m.TopicID = types.StringValue(info.ID)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
