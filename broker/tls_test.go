package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate named cn and its key.
func writeSelfSigned(t *testing.T, certFile, keyFile, cn string, mtime time.Time) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	for f, blk := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func servedName(t *testing.T, r *certReloader) string {
	t.Helper()
	r.mu.Lock()
	r.checked = time.Time{} // due for a check now
	r.mu.Unlock()
	c, err := r.getCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// A renewed certificate is served without a restart; a broken renewal
// keeps the one served before.
func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	base := time.Now().Add(-time.Minute)
	writeSelfSigned(t, cert, key, "first", base)
	r := &certReloader{certFile: cert, keyFile: key}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	if got := servedName(t, r); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	writeSelfSigned(t, cert, key, "renewed", base.Add(10*time.Second))
	if got := servedName(t, r); got != "renewed" {
		t.Fatalf("after renewal served %q, want renewed", got)
	}
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(cert, base.Add(20*time.Second), base.Add(20*time.Second))
	if got := servedName(t, r); got != "renewed" {
		t.Fatalf("after a broken renewal served %q, want renewed still", got)
	}
	if _, err := (TLSConfig{CertFile: cert, KeyFile: key}).serverTLS(); err == nil {
		t.Fatal("a broken certificate file did not fail the start")
	}
	if err := (TLSConfig{ClientCAFile: cert}).validate(); err == nil {
		t.Fatal("a client CA without a certificate validated")
	}
}
