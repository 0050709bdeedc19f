package shaleprovider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ClientConfig is what the provider block says about reaching the cluster.
type ClientConfig struct {
	BootstrapServers []string
	ClientID         string
	// Timeout bounds every operation of a resource or data source,
	// including the wait until a change is visible in metadata.
	Timeout     time.Duration
	DialTimeout time.Duration

	TLS  *TLSConfig
	SASL *SASLConfig
}

// TLSConfig holds PEM blocks, not file names: a configuration reads files
// with Terraform's file() function.
type TLSConfig struct {
	CACert             string
	ClientCert         string
	ClientKey          string
	ServerName         string
	InsecureSkipVerify bool
}

// SASLConfig names a mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and
// its credentials.
type SASLConfig struct {
	Mechanism string
	Username  string
	Password  string
}

// SASL mechanisms the provider can authenticate with.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Client is the provider's connection to a Kafka-protocol cluster, shared
// by every resource and data source of one provider instance. It is safe
// for concurrent use: Terraform runs resource operations in parallel.
type Client struct {
	cl      *kgo.Client
	adm     *kadm.Client
	timeout time.Duration
	servers string

	mu       sync.Mutex
	versions *kmsg.ApiVersionsResponse // first successful answer, for supports
}

// NewClient builds a client; it connects lazily, on the first request.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.BootstrapServers) == 0 {
		return nil, errors.New("no bootstrap servers")
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.BootstrapServers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(cfg.DialTimeout),
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.build()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if cfg.SASL != nil {
		switch strings.ToUpper(cfg.SASL.Mechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("unknown SASL mechanism %q (want one of %s)", cfg.SASL.Mechanism, strings.Join(saslMechanisms, ", "))
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("new Kafka client: %w", err)
	}
	return &Client{
		cl:      cl,
		adm:     kadm.NewClient(cl),
		timeout: cfg.Timeout,
		servers: strings.Join(cfg.BootstrapServers, ","),
	}, nil
}

func (t *TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if t.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CACert)) {
			return nil, errors.New("tls.ca_cert holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if t.ClientCert != "" || t.ClientKey != "" {
		if t.ClientCert == "" || t.ClientKey == "" {
			return nil, errors.New("tls.client_cert and tls.client_key go together")
		}
		pair, err := tls.X509KeyPair([]byte(t.ClientCert), []byte(t.ClientKey))
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Close closes the connections.
func (c *Client) Close() { c.cl.Close() }

// Admin returns the kadm client.
func (c *Client) Admin() *kadm.Client { return c.adm }

// Kafka returns the underlying franz-go client, for requests kadm does not
// wrap.
func (c *Client) Kafka() *kgo.Client { return c.cl }

// Context bounds ctx with the provider's timeout.
func (c *Client) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Supports reports whether the cluster serves the API with this key, from
// the ApiVersions answer of any broker. A resource checks it before its
// first request so that a cluster without, say, the ACL APIs gets a
// diagnostic naming the API instead of a client error.
func (c *Client) Supports(ctx context.Context, key int16) (bool, error) {
	c.mu.Lock()
	v := c.versions
	c.mu.Unlock()
	if v == nil {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "terraform-provider-shale"
		req.ClientSoftwareVersion = "1"
		resp, err := req.RequestWith(ctx, c.cl)
		if err != nil {
			return false, fmt.Errorf("ApiVersions from %s: %w", c.servers, err)
		}
		c.mu.Lock()
		c.versions, v = resp, resp
		c.mu.Unlock()
	}
	for _, k := range v.ApiKeys {
		if k.ApiKey == key {
			return true, nil
		}
	}
	return false, nil
}

// RequireAPIs returns an error naming the first API of keys the cluster
// does not serve, and what needs it.
func (c *Client) RequireAPIs(ctx context.Context, what string, keys ...int16) error {
	for _, key := range keys {
		ok, err := c.Supports(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			return &UnsupportedAPIError{Key: key, What: what, Servers: c.servers}
		}
	}
	return nil
}

// UnsupportedAPIError says that the cluster does not serve a Kafka API a
// resource needs.
type UnsupportedAPIError struct {
	Key     int16
	What    string
	Servers string
}

func (e *UnsupportedAPIError) Error() string {
	name := kmsg.NameForKey(e.Key)
	return fmt.Sprintf("the cluster at %s does not serve the Kafka API %s (key %d), which %s needs; "+
		"upgrade the brokers to a version that serves it", e.Servers, name, e.Key, what(e.What))
}

func what(s string) string {
	if s == "" {
		return "this operation"
	}
	return s
}
