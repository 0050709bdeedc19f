package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
)

// TestACLsCommands: add, list and remove ACLs on a broker with the
// authorizer on (plaintext clients are User:ANONYMOUS, a super user here).
func TestACLsCommands(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.Authorizer = acl.Config{Enabled: true, SuperUsers: []string{acl.Anonymous}}
	})
	addr := n.Addr()
	out := mustCLI(t, addr, "acls", "add", "--principal", "User:alice", "--operation", "read,describe", "--topic", "orders")
	wantFields(t, findRow(t, out.stdout, "TOPIC", "orders"), 2, "LITERAL", "User:alice", "*", "READ", "ALLOW")
	mustCLI(t, addr, "acls", "add", "--principal", "User:bob", "--operation", "Write", "--topic", "sales-", "--prefixed", "--host", "10.0.0.1")
	mustCLI(t, addr, "acls", "add", "--principal", "User:bob", "--operation", "All", "--group", "g", "--deny")
	mustCLI(t, addr, "acls", "add", "--principal", "User:ops", "--operation", "Alter", "--cluster")

	list := mustCLI(t, addr, "acls", "list")
	for _, row := range [][]string{
		{"TOPIC", "orders", "LITERAL", "User:alice", "*", "READ", "ALLOW"},
		{"TOPIC", "orders", "LITERAL", "User:alice", "*", "DESCRIBE", "ALLOW"},
		{"TOPIC", "sales-", "PREFIXED", "User:bob", "10.0.0.1", "WRITE", "ALLOW"},
		{"GROUP", "g", "LITERAL", "User:bob", "*", "ALL", "DENY"},
		{"CLUSTER", "kafka-cluster", "LITERAL", "User:ops", "*", "ALTER", "ALLOW"},
	} {
		if lookupRow(list.stdout, row...) == nil {
			t.Errorf("acls list lacks %v:\n%s", row, list.stdout)
		}
	}
	// MATCH: what applies to the topic sales-eu.
	var listed []aclListing
	js := mustCLI(t, addr, "acls", "list", "--topic", "sales-eu", "--pattern", "match", "-o", "json")
	if err := json.Unmarshal([]byte(js.stdout), &listed); err != nil || len(listed) != 1 || listed[0].ResourceName != "sales-" {
		t.Fatalf("acls list --pattern match sales-eu: %v %s", err, js.stdout)
	}
	js = mustCLI(t, addr, "acls", "list", "--principal", "User:alice", "-o", "json")
	if err := json.Unmarshal([]byte(js.stdout), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("acls list --principal User:alice: %v %s", err, js.stdout)
	}

	rm := mustCLI(t, addr, "acls", "remove", "--topic", "orders", "--operation", "read")
	if strings.Count(rm.stdout, "User:alice") != 1 {
		t.Fatalf("acls remove listed:\n%s", rm.stdout)
	}
	mustCLI(t, addr, "acls", "remove", "--all", "--principal", "User:bob")
	list = mustCLI(t, addr, "acls", "list")
	if strings.Contains(list.stdout, "User:bob") || !strings.Contains(list.stdout, "User:ops") || !strings.Contains(list.stdout, "DESCRIBE") {
		t.Fatalf("after the removals:\n%s", list.stdout)
	}

	// Bad arguments are refused before anything is sent.
	for _, args := range [][]string{
		{"acls", "add", "--operation", "read", "--topic", "t"},
		{"acls", "add", "--principal", "alice", "--operation", "read", "--topic", "t"},
		{"acls", "add", "--principal", "User:a", "--operation", "fly", "--topic", "t"},
		{"acls", "add", "--principal", "User:a", "--operation", "read"},
		{"acls", "add", "--principal", "User:a", "--operation", "read", "--topic", "t", "--group", "g"},
		{"acls", "remove", "--principal", "User:a"},
		{"acls", "list", "--pattern", "fuzzy"},
	} {
		wantCLI(t, addr, exitUsage, nil, args...)
	}
}

// TestACLsCommandsWithoutAuthorizer: the broker's SECURITY_DISABLED is
// shown by name.
func TestACLsCommandsWithoutAuthorizer(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	wantCLI(t, n.Addr(), exitFailed, []string{"SECURITY_DISABLED"}, "acls", "list")
	wantCLI(t, n.Addr(), exitFailed, []string{"SECURITY_DISABLED"}, "acls", "add", "--principal", "User:a", "--operation", "read", "--topic", "t")
}

// TestACLsCommandsOverMutualTLS: with --tls-cert the admin commands are
// the certificate's principal: a super user manages ACLs, another
// principal is refused with CLUSTER_AUTHORIZATION_FAILED.
func TestACLsCommandsOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	caFile := write("ca.pem", "CERTIFICATE", caDER)
	issue := func(cn string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return write(cn+".pem", "CERTIFICATE", der), write(cn+"-key.pem", "EC PRIVATE KEY", kb)
	}
	serverCert, serverKey := issue("server", 2, x509.ExtKeyUsageServerAuth)
	adminCert, adminKey := issue("admin", 3, x509.ExtKeyUsageClientAuth)
	userCert, userKey := issue("user", 4, x509.ExtKeyUsageClientAuth)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.TLS.CertFile, c.Broker.TLS.KeyFile, c.Broker.TLS.ClientCAFile = serverCert, serverKey, caFile
		c.Broker.Authorizer = acl.Config{Enabled: true, SuperUsers: []string{"User:CN=admin"}}
	})
	as := func(cert, key string) []string {
		return []string{"--security-protocol", "SSL", "--tls-ca", caFile, "--tls-cert", cert, "--tls-key", key}
	}
	out := mustCLI(t, n.Addr(), append([]string{"acls", "add", "--principal", "User:CN=user", "--operation", "read", "--topic", "t"}, as(adminCert, adminKey)...)...)
	wantFields(t, findRow(t, out.stdout, "TOPIC", "t"), 2, "LITERAL", "User:CN=user", "*", "READ", "ALLOW")
	wantCLI(t, n.Addr(), exitFailed, []string{"CLUSTER_AUTHORIZATION_FAILED"}, append([]string{"acls", "list"}, as(userCert, userKey)...)...)
	wantCLI(t, n.Addr(), exitUsage, []string{"--tls-cert and --tls-key go together"}, "acls", "list", "--security-protocol", "SSL", "--tls-cert", userCert)
}
