package metadata

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
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// writePeerPKI writes a CA and one node certificate (for 127.0.0.1,
// usable as server and client) signed by it; it returns the file names.
func writePeerPKI(t *testing.T, dir, name string) (cert, key, ca string) {
	t.Helper()
	write := func(file, typ string, der []byte) string {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key0, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key0.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key0)
	return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kb), write(name+"-ca.pem", "CERTIFICATE", caDER)
}

// A three-controller quorum (and a non-voting broker) on loopback over
// mutual TLS: it elects, replicates, forwards a write from the non-voter
// through the controller RPC; a client without a certificate of the
// cluster, one with a certificate of another CA, and a plaintext client
// are refused at the raft port.
func TestQuorumOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := writePeerPKI(t, dir, "shale-node")
	peerTLS, err := LoadPeerTLS(cert, key, ca, "")
	if err != nil {
		t.Fatal(err)
	}
	stores := tcpQuorumWith(t, 1, 0, func(c *Config) { c.TLS = peerTLS })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := stores[3]
	if _, err := b.RegisterBroker(ctx, Broker{ID: 4, Host: "127.0.0.1", Port: 9004}); err != nil {
		t.Fatalf("register the broker over TLS: %v", err)
	}
	if _, err := b.CreateTopic(ctx, "over-tls", 2, nil); err != nil {
		t.Fatalf("create a topic through the non-voter over TLS: %v", err)
	}
	for i, s := range stores {
		waitFor(t, "node "+strconv.Itoa(i+1)+" to see the topic", func() bool { _, ok := s.Topic("over-tls"); return ok })
	}

	raftAddr := string(stores[0].trans.LocalAddr())
	refused := func(what string, dial func() (net.Conn, error)) {
		t.Helper()
		c, err := dial()
		if err != nil {
			t.Logf("%s: refused at dial: %v", what, err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte{rpcMagic})
		var buf [1]byte
		if _, err := c.Read(buf[:]); err == nil {
			t.Fatalf("%s: the raft port answered", what)
		} else {
			t.Logf("%s: refused: %v", what, err)
		}
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(caPEM)
	refused("no client certificate", func() (net.Conn, error) {
		return tls.Dial("tcp", raftAddr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	})
	otherCert, otherKey, _ := writePeerPKI(t, t.TempDir(), "intruder")
	other, err := tls.LoadX509KeyPair(otherCert, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	refused("a certificate of another CA", func() (net.Conn, error) {
		return tls.Dial("tcp", raftAddr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{other}, MinVersion: tls.VersionTLS12})
	})
	refused("plaintext", func() (net.Conn, error) { return net.Dial("tcp", raftAddr) })

	// The quorum goes on.
	if _, err := stores[3].CreateTopic(ctx, "after", 1, nil); err != nil {
		t.Fatalf("write after the refused clients: %v", err)
	}
}

func TestLoadPeerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := writePeerPKI(t, dir, "n")
	for _, args := range [][3]string{{cert, key, ""}, {cert, "", ca}, {cert, key, cert + ".missing"}, {key, key, ca}} {
		if _, err := LoadPeerTLS(args[0], args[1], args[2], ""); err == nil {
			t.Errorf("LoadPeerTLS%v accepted", args)
		}
	}
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not pem"), 0o600)
	if _, err := LoadPeerTLS(cert, key, empty, ""); err == nil {
		t.Error("a CA file without certificates accepted")
	}
}
