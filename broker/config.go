package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/sasl"
)

// Config is the broker's protocol-facing configuration.
type Config struct {
	// NodeID is this broker's id in Metadata responses.
	NodeID int32 `yaml:"node_id"`
	// Listen is the address the Kafka listener binds, host:port.
	Listen string `yaml:"listen"`
	// Advertised is the host:port clients are told to connect to; empty
	// means the listener's address.
	Advertised string `yaml:"advertised"`
	// TLS, when it names a certificate, makes the listener an SSL one
	// (see TLSConfig).
	TLS TLSConfig `yaml:"tls"`
	// Authorizer turns on ACL authorization (off by default: every
	// request is allowed).
	Authorizer acl.Config `yaml:"authorizer"`
	// PeerTLS is how this broker dials other brokers' Kafka listeners
	// (the transaction coordinator writing markers): over TLS, trusting
	// CAFile, presenting CertFile/KeyFile when the listeners require
	// client certificates. Empty: plaintext.
	PeerTLS PeerTLSConfig `yaml:"peer_tls"`
	// Listeners, when set, replace Listen, Advertised and TLS with
	// several named listeners, each with its security protocol (see
	// ListenerConfig).
	Listeners []ListenerConfig `yaml:"listeners"`
	// SASLMechanisms are the mechanisms SASL listeners offer
	// (sasl.enabled.mechanisms): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
	// PLAIN is off by default: the broker checks its password with a
	// PBKDF2 of the stored salt (milliseconds of CPU per login, failed
	// ones included), where SCRAM costs the broker a few HMACs.
	SASLMechanisms []string `yaml:"sasl_enabled_mechanisms"`
	// ConnectionsMaxReauth is the longest a SASL session lasts before the
	// client must authenticate again on the same connection
	// (connections.max.reauth.ms, KIP-368); 0 means sessions never end.
	// A connection that sends anything but a new SaslHandshake after its
	// session ended is closed.
	ConnectionsMaxReauth time.Duration `yaml:"connections_max_reauth"`
	// MaxRequestBytes is the largest request frame accepted
	// (socket.request.max.bytes); a larger frame closes the connection.
	MaxRequestBytes int32 `yaml:"max_request_bytes"`
	// FetchMaxBytes caps the record bytes of one fetch response and of
	// one partition in it (fetch.max.bytes), whatever MaxBytes and
	// PartitionMaxBytes the client asks for; as in Kafka, the first batch
	// found is returned whole even when it is larger.
	FetchMaxBytes int32 `yaml:"fetch_max_bytes"`
	// AutoCreateTopics creates unknown topics named in Metadata requests
	// that allow it (auto.create.topics.enable).
	AutoCreateTopics bool `yaml:"auto_create_topics"`
	// DefaultPartitions is the partition count of topics created without
	// one (num.partitions).
	DefaultPartitions int32 `yaml:"default_partitions"`
	// MaxInFlight bounds the requests one connection may have in progress
	// before the broker stops reading from it. An acks=all produce is in
	// progress for up to a segment age, and a pipelining client (librdkafka
	// sends one request per partition batch) keeps hundreds in flight at
	// tens of thousands of records a second: a low cap throttles it to
	// MaxInFlight requests per segment age. Memory is bounded by the
	// request budgets, which count each request in progress.
	MaxInFlight int `yaml:"max_in_flight"`
	// OffsetsRetention is how long a consumer group without members keeps
	// its committed offsets (offsets.retention.minutes).
	OffsetsRetention time.Duration `yaml:"offsets_retention"`
	// GroupInitialRebalanceDelay is how long the first rebalance of an
	// empty consumer group waits for more members to join
	// (group.initial.rebalance.delay.ms).
	GroupInitialRebalanceDelay time.Duration `yaml:"group_initial_rebalance_delay"`

	// QuotaWindowNum and QuotaWindowSize are the windows client quota
	// rates are measured over (quota.window.num,
	// quota.window.size.seconds); see quota.go.
	QuotaWindowNum  int           `yaml:"quota_window_num"`
	QuotaWindowSize time.Duration `yaml:"quota_window_size"`

	// MaxConnections caps the broker's client connections
	// (max.connections); a connection past it is closed at accept. 0: no
	// cap.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps the connections from one IP address
	// (max.connections.per.ip), with per-address exceptions in
	// MaxConnectionsPerIPOverrides (max.connections.per.ip.overrides:
	// IP or host name -> cap). 0: no cap.
	MaxConnectionsPerIP          int            `yaml:"max_connections_per_ip"`
	MaxConnectionsPerIPOverrides map[string]int `yaml:"max_connections_per_ip_overrides"`
	// QueuedMaxRequestBytes caps the request bytes held by all
	// connections together, from the frame's read until its response is
	// ready (queued.max.request.bytes); past it, connections stop being
	// read until memory is freed. 0: no cap.
	QueuedMaxRequestBytes int64 `yaml:"queued_max_request_bytes"`
	// ConnectionMaxQueuedBytes caps the same per connection, so one
	// client pipelining large requests cannot hold the broker's whole
	// budget. 0: no cap.
	ConnectionMaxQueuedBytes int64 `yaml:"connection_max_queued_bytes"`
	// ConnectionsMaxIdle closes a connection with no request in progress
	// that has sent nothing for this long (connections.max.idle.ms). 0:
	// never.
	ConnectionsMaxIdle time.Duration `yaml:"connections_max_idle"`
	// RequestReadTimeout bounds how long the bytes of one request may
	// take to arrive once its first byte has: a client trickling a frame
	// (slowloris) is disconnected after it. Time spent waiting for
	// request memory (QueuedMaxRequestBytes) is not counted. 0: no bound.
	RequestReadTimeout time.Duration `yaml:"request_read_timeout"`
}

// DefaultConfig returns Kafka's defaults where Kafka has one.
func DefaultConfig() Config {
	return Config{
		NodeID:                     1,
		Listen:                     "127.0.0.1:9092",
		MaxRequestBytes:            100 << 20,
		FetchMaxBytes:              55 << 20,
		DefaultPartitions:          1,
		MaxInFlight:                1000,
		OffsetsRetention:           7 * 24 * time.Hour,
		GroupInitialRebalanceDelay: 3 * time.Second,
		QuotaWindowNum:             11,
		QuotaWindowSize:            time.Second,
		MaxConnectionsPerIP:        0,
		QueuedMaxRequestBytes:      512 << 20,
		ConnectionMaxQueuedBytes:   200 << 20,
		ConnectionsMaxIdle:         10 * time.Minute,
		RequestReadTimeout:         30 * time.Second,
		SASLMechanisms:             []string{sasl.ScramSHA256, sasl.ScramSHA512},
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	if c.NodeID < 0 {
		return fmt.Errorf("broker node_id %d: must be >= 0", c.NodeID)
	}
	if err := c.validateListeners(); err != nil {
		return err
	}
	if err := c.Authorizer.Validate(); err != nil {
		return fmt.Errorf("broker %w", err)
	}
	if err := c.PeerTLS.validate(); err != nil {
		return err
	}
	if c.Advertised != "" && len(c.Listeners) == 0 {
		host, _, err := splitHostPort(c.Advertised)
		if err != nil {
			return fmt.Errorf("broker advertised %q: %v", c.Advertised, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			return fmt.Errorf("broker advertised %q: clients cannot connect to an unspecified host", c.Advertised)
		}
	}
	if c.MaxRequestBytes < 1024 {
		return fmt.Errorf("broker max_request_bytes %d: must be at least 1024", c.MaxRequestBytes)
	}
	if c.FetchMaxBytes < 1024 {
		return fmt.Errorf("broker fetch_max_bytes %d: must be at least 1024", c.FetchMaxBytes)
	}
	if c.DefaultPartitions < 1 {
		return fmt.Errorf("broker default_partitions %d: must be at least 1", c.DefaultPartitions)
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("broker max_in_flight %d: must be at least 1", c.MaxInFlight)
	}
	if c.OffsetsRetention <= 0 {
		return fmt.Errorf("broker offsets_retention %v: must be > 0", c.OffsetsRetention)
	}
	if c.ConnectionsMaxReauth < 0 {
		return fmt.Errorf("broker connections_max_reauth %v: must be >= 0 (0: sessions never end)", c.ConnectionsMaxReauth)
	}
	if c.GroupInitialRebalanceDelay < 0 {
		return fmt.Errorf("broker group_initial_rebalance_delay %v: must be >= 0", c.GroupInitialRebalanceDelay)
	}
	return c.validateLimits()
}

func (c Config) validateLimits() error {
	if c.QuotaWindowNum < 2 || c.QuotaWindowNum > 1000 {
		return fmt.Errorf("broker quota_window_num %d: must be from 2 to 1000", c.QuotaWindowNum)
	}
	if c.QuotaWindowSize < time.Millisecond {
		return fmt.Errorf("broker quota_window_size %v: must be at least 1ms", c.QuotaWindowSize)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("broker max_connections %d: must be >= 0", c.MaxConnections)
	}
	if c.MaxConnectionsPerIP < 0 {
		return fmt.Errorf("broker max_connections_per_ip %d: must be >= 0", c.MaxConnectionsPerIP)
	}
	for host, n := range c.MaxConnectionsPerIPOverrides {
		if host == "" || n < 0 {
			return fmt.Errorf("broker max_connections_per_ip_overrides %q: %d: want a host and a cap >= 0", host, n)
		}
	}
	if c.QueuedMaxRequestBytes < 0 {
		return fmt.Errorf("broker queued_max_request_bytes %d: must be >= 0", c.QueuedMaxRequestBytes)
	}
	if c.ConnectionMaxQueuedBytes < 0 {
		return fmt.Errorf("broker connection_max_queued_bytes %d: must be >= 0", c.ConnectionMaxQueuedBytes)
	}
	if c.ConnectionsMaxIdle < 0 {
		return fmt.Errorf("broker connections_max_idle %v: must be >= 0", c.ConnectionsMaxIdle)
	}
	if c.RequestReadTimeout < 0 {
		return fmt.Errorf("broker request_read_timeout %v: must be >= 0", c.RequestReadTimeout)
	}
	return nil
}

func splitHostPort(addr string) (string, int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, errors.New("port must be a number from 0 to 65535")
	}
	return host, int32(p), nil
}

func (c Config) validateListeners() error {
	if len(c.Listeners) == 0 {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			return fmt.Errorf("broker listen %q: %v", c.Listen, err)
		}
		return c.TLS.validate()
	}
	if c.TLS.Enabled() || c.TLS.ClientCAFile != "" {
		return errors.New("broker tls: with listeners, give each SSL or SASL_SSL listener its own tls")
	}
	names := make(map[string]bool)
	anySASL := false
	for _, l := range c.Listeners {
		if err := l.validate(); err != nil {
			return err
		}
		if names[l.Name] {
			return fmt.Errorf("broker listeners: %s is named twice", l.Name)
		}
		names[l.Name] = true
		anySASL = anySASL || l.usesSASL()
	}
	if anySASL && len(c.SASLMechanisms) == 0 {
		return errors.New("broker sasl_enabled_mechanisms: a SASL listener needs at least one mechanism")
	}
	for _, m := range c.SASLMechanisms {
		if m != sasl.Plain && !sasl.IsScram(m) {
			return fmt.Errorf("broker sasl_enabled_mechanisms: %q is not served (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", m)
		}
	}
	return nil
}
