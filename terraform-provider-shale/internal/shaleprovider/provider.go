// Package shaleprovider is the Terraform provider for Shale: topics, ACLs,
// SCRAM users and client quotas as resources, the cluster and its topics
// as data sources. It speaks only the Kafka admin protocol (through
// franz-go's kadm), so it manages a Kafka cluster the same way.
//
// Every resource reads back what the cluster holds, so `plan` shows drift
// made outside Terraform. Every attribute is validated before anything is
// sent. Operations are bounded by the provider's timeout.
package shaleprovider

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Environment variables the provider block falls back to.
const (
	EnvBootstrapServers = "SHALE_BOOTSTRAP_SERVERS" // comma-separated
	EnvSASLUsername     = "SHALE_SASL_USERNAME"
	EnvSASLPassword     = "SHALE_SASL_PASSWORD"
)

const (
	defaultTimeout     = 2 * time.Minute
	defaultDialTimeout = 10 * time.Second
)

// New returns a constructor of the provider, as providerserver wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &shaleProvider{version: version} }
}

type shaleProvider struct {
	version string
}

type providerModel struct {
	BootstrapServers types.List   `tfsdk:"bootstrap_servers"`
	ClientID         types.String `tfsdk:"client_id"`
	Timeout          types.String `tfsdk:"timeout"`
	DialTimeout      types.String `tfsdk:"dial_timeout"`
	TLS              *tlsModel    `tfsdk:"tls"`
	SASL             *saslModel   `tfsdk:"sasl"`
}

type tlsModel struct {
	CACert             types.String `tfsdk:"ca_cert"`
	ClientCert         types.String `tfsdk:"client_cert"`
	ClientKey          types.String `tfsdk:"client_key"`
	ServerName         types.String `tfsdk:"server_name"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
}

type saslModel struct {
	Mechanism types.String `tfsdk:"mechanism"`
	Username  types.String `tfsdk:"username"`
	Password  types.String `tfsdk:"password"`
}

var saslMechanismEnum = newEnum("PLAIN", 0, "SCRAM-SHA-256", 1, "SCRAM-SHA-512", 2)

func (p *shaleProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "shale"
	resp.Version = p.version
}

func (p *shaleProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages topics, ACLs, SCRAM users and client quotas of a Shale cluster (or any Kafka cluster) through the Kafka admin protocol.",
		Attributes: map[string]schema.Attribute{
			"bootstrap_servers": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Description: "Brokers to bootstrap from, as \"host:port\". Falls back to " + EnvBootstrapServers + " (comma-separated).",
				Validators:  []validator.List{bootstrapServersValidator{}},
			},
			"client_id": schema.StringAttribute{
				Optional:    true,
				Description: "The client id the provider sends to the brokers (default \"terraform-provider-shale\").",
				Validators:  []validator.String{notEmpty{}},
			},
			"timeout": schema.StringAttribute{
				Optional:    true,
				Description: "How long one operation (create, read, update, delete) may take, including the wait until the change shows in metadata, as a duration such as \"2m\" (the default).",
				Validators:  []validator.String{durationValidator{}},
			},
			"dial_timeout": schema.StringAttribute{
				Optional:    true,
				Description: "How long opening one connection may take (default \"10s\").",
				Validators:  []validator.String{durationValidator{}},
			},
			"tls": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "Connect with TLS (1.2 or later). Present means on; an empty block trusts the system's roots.",
				Attributes: map[string]schema.Attribute{
					"ca_cert": schema.StringAttribute{
						Optional:    true,
						Description: "PEM certificates of the authorities that sign the brokers' certificates (use file() to read a file).",
					},
					"client_cert": schema.StringAttribute{
						Optional:    true,
						Description: "PEM client certificate, for brokers that require one (mTLS); goes with client_key.",
					},
					"client_key": schema.StringAttribute{
						Optional:    true,
						Sensitive:   true,
						Description: "PEM private key of client_cert.",
					},
					"server_name": schema.StringAttribute{
						Optional:    true,
						Description: "The name to verify the brokers' certificates against, when it is not the host dialed.",
					},
					"insecure_skip_verify": schema.BoolAttribute{
						Optional:    true,
						Description: "Do not verify the brokers' certificates. For tests only.",
					},
				},
			},
			"sasl": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "Authenticate with SASL (over TLS when tls is set, else in the clear).",
				Attributes: map[string]schema.Attribute{
					"mechanism": schema.StringAttribute{
						Optional:    true,
						Description: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the default).",
						Validators:  []validator.String{oneOf{saslMechanismEnum}},
					},
					"username": schema.StringAttribute{
						Optional:    true,
						Description: "Falls back to " + EnvSASLUsername + ".",
						Validators:  []validator.String{notEmpty{}},
					},
					"password": schema.StringAttribute{
						Optional:    true,
						Sensitive:   true,
						Description: "Falls back to " + EnvSASLPassword + ".",
					},
				},
			},
		},
	}
}

func (p *shaleProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, diags := m.clientConfig(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || cfg == nil {
		return
	}
	cl, err := NewClient(*cfg)
	if err != nil {
		resp.Diagnostics.AddError("Cannot configure the Shale provider", err.Error())
		return
	}
	resp.ResourceData = cl
	resp.DataSourceData = cl
}

// clientConfig turns the provider block into a ClientConfig. It returns nil
// without an error while a value is unknown (the provider is configured
// again once it is known).
func (m providerModel) clientConfig(ctx context.Context) (*ClientConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	cfg := &ClientConfig{
		ClientID:    "terraform-provider-shale",
		Timeout:     defaultTimeout,
		DialTimeout: defaultDialTimeout,
	}
	if m.BootstrapServers.IsUnknown() {
		return nil, nil
	}
	if !m.BootstrapServers.IsNull() {
		diags.Append(m.BootstrapServers.ElementsAs(ctx, &cfg.BootstrapServers, false)...)
	} else if env := os.Getenv(EnvBootstrapServers); env != "" {
		for _, s := range strings.Split(env, ",") {
			if s = strings.TrimSpace(s); s != "" {
				if err := checkHostPort(s); err != nil {
					diags.AddError("Invalid "+EnvBootstrapServers, err.Error())
				}
				cfg.BootstrapServers = append(cfg.BootstrapServers, s)
			}
		}
	}
	if len(cfg.BootstrapServers) == 0 && !diags.HasError() {
		diags.AddAttributeError(path.Root("bootstrap_servers"), "No bootstrap servers",
			"Set bootstrap_servers in the provider block (or "+EnvBootstrapServers+") to the brokers' \"host:port\" addresses.")
	}
	if known(m.ClientID) {
		cfg.ClientID = m.ClientID.ValueString()
	}
	for _, d := range []struct {
		v    types.String
		into *time.Duration
		name string
	}{{m.Timeout, &cfg.Timeout, "timeout"}, {m.DialTimeout, &cfg.DialTimeout, "dial_timeout"}} {
		if !known(d.v) {
			continue
		}
		v, err := parsePositiveDuration(d.v.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root(d.name), "Invalid duration", err.Error())
		}
		*d.into = v
	}
	if t := m.TLS; t != nil {
		cfg.TLS = &TLSConfig{
			CACert:             t.CACert.ValueString(),
			ClientCert:         t.ClientCert.ValueString(),
			ClientKey:          t.ClientKey.ValueString(),
			ServerName:         t.ServerName.ValueString(),
			InsecureSkipVerify: t.InsecureSkipVerify.ValueBool(),
		}
		if _, err := cfg.TLS.build(); err != nil {
			diags.AddAttributeError(path.Root("tls"), "Invalid TLS settings", err.Error())
		}
	}
	if s := m.SASL; s != nil {
		cfg.SASL = &SASLConfig{Mechanism: "SCRAM-SHA-512", Username: s.Username.ValueString(), Password: s.Password.ValueString()}
		if known(s.Mechanism) {
			v, ok := saslMechanismEnum.parse(s.Mechanism.ValueString())
			if !ok {
				diags.AddAttributeError(path.Root("sasl").AtName("mechanism"), "Unknown SASL mechanism",
					"Use one of "+strings.Join(saslMechanisms, ", ")+".")
			}
			cfg.SASL.Mechanism = saslMechanismEnum.name(v)
		}
		if cfg.SASL.Username == "" {
			cfg.SASL.Username = os.Getenv(EnvSASLUsername)
		}
		if cfg.SASL.Password == "" {
			cfg.SASL.Password = os.Getenv(EnvSASLPassword)
		}
		if cfg.SASL.Username == "" {
			diags.AddAttributeError(path.Root("sasl").AtName("username"), "Missing SASL username",
				"Set sasl.username (or "+EnvSASLUsername+").")
		}
		if cfg.SASL.Password == "" {
			diags.AddAttributeError(path.Root("sasl").AtName("password"), "Missing SASL password",
				"Set sasl.password (or "+EnvSASLPassword+").")
		}
		if cfg.SASL.Mechanism == "PLAIN" && cfg.TLS == nil {
			diags.AddAttributeWarning(path.Root("sasl").AtName("mechanism"), "PLAIN without TLS",
				"SASL PLAIN sends the password as it is; without tls anyone on the path can read it. Set tls, or use SCRAM.")
		}
	}
	if diags.HasError() {
		return nil, diags
	}
	return cfg, diags
}

func (p *shaleProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newTopicResource,
		newACLResource,
		newUserResource,
		newQuotaResource,
	}
}

func (p *shaleProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newClusterDataSource,
		newTopicsDataSource,
		newTopicDataSource,
	}
}

// clientFrom takes the provider's client out of ProviderData, which is nil
// before the provider is configured (validation runs then).
func clientFrom(data any, diags *diag.Diagnostics) *Client {
	if data == nil {
		return nil
	}
	cl, ok := data.(*Client)
	if !ok {
		diags.AddError("Unexpected provider data", "The provider passed an unexpected value; this is a bug in terraform-provider-shale.")
		return nil
	}
	return cl
}

// notConfigured is the diagnostic for an operation that runs while the
// provider could not be configured (its settings were unknown).
func notConfigured(diags *diag.Diagnostics) {
	diags.AddError("Provider not configured",
		"The shale provider has no connection settings yet (a provider attribute depends on a value not known until apply). "+
			"Apply the resources it depends on first, for example with -target.")
}
