package metadata

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// PeerTLS secures the links between metadata nodes: the raft transport
// and the controller RPC that shares its port. Every node presents its
// certificate and verifies the other side's against the cluster's CA, as
// server and as client (mutual TLS, TLS 1.2 or newer), so a process that
// can reach the raft port but holds no certificate of the cluster cannot
// join, vote or propose.
type PeerTLS struct {
	// Server is used for accepted connections, Client for dialed ones.
	Server, Client *tls.Config
}

// LoadPeerTLS builds a PeerTLS from PEM files: this node's certificate
// and key, and the CA that signs every node's certificate. serverName,
// when set, is the name peers' certificates are checked against instead
// of the host they are dialed at.
func LoadPeerTLS(certFile, keyFile, caFile, serverName string) (*PeerTLS, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("metadata tls: cert_file, key_file and ca_file go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("metadata tls: load %s and %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("metadata tls ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("metadata tls ca_file %s: no PEM certificate in it", caFile)
	}
	return &PeerTLS{
		Server: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		Client: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			RootCAs: pool, ServerName: serverName},
	}, nil
}
