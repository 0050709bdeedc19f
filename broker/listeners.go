package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/shalelog/shale/metadata"
)

// Kafka's security protocols.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// ListenerConfig is one Kafka listener, as Kafka's listeners,
// advertised.listeners and listener.security.protocol.map name it.
//
// Clients are told, in Metadata, FindCoordinator and DescribeCluster, the
// endpoints of the listener they connected through: every broker of a
// cluster should have the same listener names.
type ListenerConfig struct {
	// Name is the listener name (Kafka's: upper-case letters, digits and
	// underscores), such as CLIENT or INTERNAL.
	Name string `yaml:"name"`
	// Listen is the host:port the listener binds.
	Listen string `yaml:"listen"`
	// Advertised is the host:port clients are told; empty means the
	// bound address.
	Advertised string `yaml:"advertised"`
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL;
	// empty means Name when Name is one of them.
	SecurityProtocol string `yaml:"security_protocol"`
	// TLS is the certificate of an SSL or SASL_SSL listener.
	TLS TLSConfig `yaml:"tls"`
}

var listenerName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// protocol is the listener's security protocol.
func (l ListenerConfig) protocol() string {
	if l.SecurityProtocol != "" {
		return strings.ToUpper(l.SecurityProtocol)
	}
	return l.Name
}

func (l ListenerConfig) usesTLS() bool {
	p := l.protocol()
	return p == ProtocolSSL || p == ProtocolSASLSSL
}

func (l ListenerConfig) usesSASL() bool {
	p := l.protocol()
	return p == ProtocolSASLPlaintext || p == ProtocolSASLSSL
}

func (l ListenerConfig) validate() error {
	what := "broker listener " + l.Name
	if !listenerName.MatchString(l.Name) {
		return fmt.Errorf("broker listener name %q: want upper-case letters, digits and _ (such as CLIENT or SASL_SSL)", l.Name)
	}
	switch l.protocol() {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
	case "":
		return fmt.Errorf("%s: security_protocol is required (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", what)
	default:
		if l.SecurityProtocol == "" {
			return fmt.Errorf("%s: security_protocol is required when the name is not a protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", what)
		}
		return fmt.Errorf("%s: security_protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", what, l.SecurityProtocol)
	}
	if _, _, err := splitHostPort(l.Listen); err != nil {
		return fmt.Errorf("%s listen %q: %v", what, l.Listen, err)
	}
	if l.Advertised != "" {
		host, _, err := splitHostPort(l.Advertised)
		if err != nil {
			return fmt.Errorf("%s advertised %q: %v", what, l.Advertised, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			return fmt.Errorf("%s advertised %q: clients cannot connect to an unspecified host", what, l.Advertised)
		}
	}
	if err := l.TLS.validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case l.usesTLS() && !l.TLS.Enabled():
		return fmt.Errorf("%s: %s needs tls cert_file and key_file", what, l.protocol())
	case !l.usesTLS() && l.TLS.Enabled():
		return fmt.Errorf("%s: %s does not speak TLS; use SSL or SASL_SSL with a certificate", what, l.protocol())
	}
	return nil
}

// ListenerConfigs returns the listeners the broker serves: Listeners, or,
// when none is configured, the one listener of Listen, Advertised and TLS
// (named PLAINTEXT, or SSL with a certificate), as before listeners
// existed.
func (c Config) ListenerConfigs() []ListenerConfig {
	if len(c.Listeners) > 0 {
		return c.Listeners
	}
	name := ProtocolPlaintext
	if c.TLS.Enabled() {
		name = ProtocolSSL
	}
	return []ListenerConfig{{Name: name, Listen: c.Listen, Advertised: c.Advertised, TLS: c.TLS}}
}

// listener is one bound Kafka listener.
type listener struct {
	name     string
	protocol string
	sasl     bool
	ln       net.Listener
	advHost  string
	advPort  int32
}

// listen binds l and fixes its advertised address.
func (l ListenerConfig) listen() (*listener, error) {
	ln, err := net.Listen("tcp", l.Listen)
	if err != nil {
		return nil, fmt.Errorf("listener %s: listen on %s: %w", l.Name, l.Listen, err)
	}
	adv := l.Advertised
	if adv == "" {
		adv = ln.Addr().String()
	}
	host, port, err := splitHostPort(adv)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("listener %s: advertised address %q: %w", l.Name, adv, err)
	}
	if l.TLS.Enabled() {
		tc, err := l.TLS.serverTLS()
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		ln = tls.NewListener(ln, tc)
	}
	return &listener{name: l.Name, protocol: l.protocol(), sasl: l.usesSASL(), ln: ln, advHost: host, advPort: port}, nil
}

// advertisedURL is the listener as Kafka's advertised.listeners writes it.
func (l *listener) advertisedURL() string {
	return l.name + "://" + net.JoinHostPort(l.advHost, strconv.Itoa(int(l.advPort)))
}

// boundURL is the listener as Kafka's listeners writes it.
func (l *listener) boundURL() string { return l.name + "://" + l.ln.Addr().String() }

// endpoint is where a client connected through l reaches broker b: this
// broker's own listener, or b's endpoint of the same name. ok is false
// when b has no listener of that name (Kafka then leaves b out).
func (s *Server) endpoint(b metadata.Broker, l *listener) (host string, port int32, ok bool) {
	if l == nil {
		l = s.listeners[0]
	}
	if b.ID == s.cfg.NodeID {
		return l.advHost, l.advPort, true
	}
	return b.Endpoint(l.name)
}
