package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testPKI is a CA with a server and a client certificate, as PEM files.
type testPKI struct {
	dir                                                  string
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
	client                                               tls.Certificate
	ca                                                   *x509.Certificate
	caKey                                                *ecdsa.PrivateKey
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shale test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.ca, p.caKey = ca, caKey
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	if p.client, err = tls.LoadX509KeyPair(p.clientCert, p.clientKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// issueClient signs a client certificate for name valid from notBefore to
// notAfter and returns its certificate and key files.
func (p *testPKI) issueClient(t testing.TB, name string, notBefore, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kb)
}

func (p *testPKI) write(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTLSListener: with a certificate the Kafka listener speaks TLS
// (Kafka's SSL). franz-go and kcat produce and consume over it; with a
// client CA it requires a client certificate (mutual TLS), and a client
// without one, or a plaintext client, is refused while the others go on.
func TestTLSListener(t *testing.T) {
	pki := newTestPKI(t)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.TLS.CertFile, c.Broker.TLS.KeyFile, c.Broker.TLS.ClientCAFile = pki.serverCert, pki.serverKey, pki.caFile
	})
	addr := n.Addr()
	withCert := &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS12}
	cl := shaletest.Client(t, addr, kgo.DialTLSConfig(withCert), kgo.DefaultProduceTopic("secure"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "secure"); err != nil {
		t.Fatalf("create a topic over TLS: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatalf("produce over TLS with a client certificate: %v", err)
	}

	// Without a client certificate, and in plaintext: refused.
	noCert := shaletest.Client(t, addr, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := noCert.Ping(qctx); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	qcancel()
	plain := shaletest.Client(t, addr, kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	qctx, qcancel = context.WithTimeout(ctx, 5*time.Second)
	if err := plain.Ping(qctx); err == nil {
		t.Fatal("a plaintext client was served on the TLS listener")
	}
	qcancel()

	// kcat (librdkafka) over SSL with the client certificate.
	kcat := shaletest.RequireTool(t, "kcat")
	ssl := []string{"-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + pki.caFile,
		"-X", "ssl.certificate.location=" + pki.clientCert, "-X", "ssl.key.location=" + pki.clientKey}
	p := exec.Command(kcat, append([]string{"-b", addr, "-P", "-t", "secure"}, ssl...)...)
	p.Stdin = strings.NewReader("from kcat\n")
	if out, err := p.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce over SSL: %v\n%s", err, out)
	}
	out, err := exec.Command(kcat, append([]string{"-b", addr, "-C", "-t", "secure", "-o", "beginning", "-e", "-q", "-f", "%s\n"}, ssl...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat consume over SSL: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "over tls from kcat" {
		t.Fatalf("kcat read %q, want both records", out)
	}
	// The first client was never disturbed.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("still here")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refused clients: %v", err)
	}
}

// TestTLSExpiredClientCertificate: on a listener requiring client
// certificates, a client whose certificate has expired is refused in the
// handshake with the error its library shows for it (franz-go: the TLS
// alert "expired certificate"; kcat: the SSL handshake failing on the
// expired certificate), while a client with a valid certificate goes on.
func TestTLSExpiredClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.TLS.CertFile, c.Broker.TLS.KeyFile, c.Broker.TLS.ClientCAFile = pki.serverCert, pki.serverKey, pki.caFile
	})
	addr := n.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good := shaletest.Client(t, addr, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS12}),
		kgo.DefaultProduceTopic("expiry"))
	if _, err := kadm.NewClient(good).CreateTopic(ctx, 1, 1, nil, "expiry"); err != nil {
		t.Fatal(err)
	}
	if err := good.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce with a valid certificate: %v", err)
	}

	certFile, keyFile := pki.issueClient(t, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	expired, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	old := shaletest.Client(t, addr, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{expired}, MinVersion: tls.VersionTLS12}),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	err = old.Ping(qctx)
	qcancel()
	if err == nil || !strings.Contains(err.Error(), "expired certificate") {
		t.Fatalf("franz-go with an expired certificate: %v, want the TLS alert expired certificate", err)
	}
	t.Logf("franz-go with an expired certificate: %v", err)

	kcat := shaletest.RequireTool(t, "kcat")
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-L", "-m", "5", "-X", "security.protocol=ssl", "-X", "ssl.ca.location="+pki.caFile,
		"-X", "ssl.certificate.location="+certFile, "-X", "ssl.key.location="+keyFile)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "expired") {
		t.Fatalf("kcat with an expired certificate: %v\n%s\nwant a handshake failure naming the expired certificate", err, out)
	}
	t.Logf("kcat with an expired certificate: %s", firstLine(string(out)))

	if err := good.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refused clients: %v", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
