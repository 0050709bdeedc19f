package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLSConfig turns the Kafka listener into an SSL listener (Kafka's
// security protocol SSL): TLS 1.2 or newer, the broker's certificate and
// key from files re-read when they change (so a renewed certificate is
// served without a restart), and, with ClientCAFile, client certificates
// required and verified against those CAs (mutual TLS).
type TLSConfig struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the listener speaks TLS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

func (c TLSConfig) validate() error {
	if !c.Enabled() {
		if c.ClientCAFile != "" {
			return errors.New("broker tls client_ca_file needs cert_file and key_file")
		}
		return nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return errors.New("broker tls: cert_file and key_file go together")
	}
	return nil
}

// certReloader serves the certificate in certFile/keyFile, loading it
// again when either file's modification time changes (checked at most
// once a second).
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time
	checked time.Time
}

func (r *certReloader) load() error {
	cs, err1 := os.Stat(r.certFile)
	ks, err2 := os.Stat(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("broker tls: %w", err)
	}
	stamp := [2]time.Time{cs.ModTime(), ks.ModTime()}
	if r.cert != nil && stamp == r.stamp {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("broker tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		if err := r.load(); err != nil && r.cert == nil {
			return nil, err
		}
		// A failed reload keeps serving the certificate loaded before.
	}
	return r.cert, nil
}

// serverTLS builds the listener's TLS configuration; it loads the
// certificate once now, so a bad file fails the start.
func (c TLSConfig) serverTLS() (*tls.Config, error) {
	r := &certReloader{certFile: c.CertFile, keyFile: c.KeyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	r.checked = time.Now()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("broker tls client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker tls client_ca_file %s: no PEM certificate in it", c.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// PeerTLSConfig is the client side of a TLS link to another broker.
type PeerTLSConfig struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Enabled reports whether links to other brokers use TLS.
func (c PeerTLSConfig) Enabled() bool { return c.CAFile != "" }

func (c PeerTLSConfig) validate() error {
	if !c.Enabled() && (c.CertFile != "" || c.KeyFile != "" || c.ServerName != "") {
		return errors.New("broker peer_tls needs ca_file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("broker peer_tls: cert_file and key_file go together")
	}
	return nil
}

// clientTLS builds the TLS configuration for dialing other brokers.
func (c PeerTLSConfig) clientTLS() (*tls.Config, error) {
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("broker peer_tls ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("broker peer_tls ca_file %s: no PEM certificate in it", c.CAFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: c.ServerName}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker peer_tls: load %s and %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
