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
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// nodePKI writes a CA and a node certificate for 127.0.0.1 that serves as
// TLS server and client (raft peers are both); it returns the files.
func nodePKI(t *testing.T) (cert, key, ca string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shale cluster CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	nodeKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "shale node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &nodeKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(nodeKey)
	return write("node.pem", "CERTIFICATE", der), write("node-key.pem", "EC PRIVATE KEY", kb), write("ca.pem", "CERTIFICATE", caDER), pool
}

// TestClusterOverTLS runs three nodes (controller and broker each) as
// processes on loopback with every link in TLS: raft and the controller
// RPC in mutual TLS, the Kafka listeners in TLS, and the brokers' links
// to each other (the transaction coordinator's markers) in TLS. A
// transaction over partitions led by all three brokers commits and is
// read back at read_committed; a plaintext client of the raft port gets
// nothing.
func TestClusterOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	clusterOverTLS(t, true)
}

// TestClusterPeerTLS is TestClusterOverTLS with Raft in plaintext: the
// Kafka listeners and the brokers' links to each other (the transaction
// coordinator's markers) in TLS.
func TestClusterPeerTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	clusterOverTLS(t, false)
}

func clusterOverTLS(t *testing.T, raftTLS bool) {
	cert, key, ca, pool := nodePKI(t)
	raft := proc.FreeAddrs(t, 3)
	var peers []string
	for i, a := range raft {
		peers = append(peers, fmt.Sprintf("%d@%s", i+1, a))
	}
	objects := "file://" + filepath.Join(t.TempDir(), "objects")
	var dirs []string
	var args [][]string
	for i := range 3 {
		dirs = append(dirs, t.TempDir())
		a := []string{"--node-id", fmt.Sprint(i + 1), "--roles", "controller,broker", "--raft-addr", raft[i],
			"--controllers", strings.Join(peers, ","), "--object-store", objects, "--session-timeout", "2s",
			"--auto-leader-balance=false", "--wal-segment-age", "50ms",
			"--tls-cert", cert, "--tls-key", key, "--peer-tls-ca", ca}
		if raftTLS {
			a = append(a, "--raft-tls-cert", cert, "--raft-tls-key", key, "--raft-tls-ca", ca)
		}
		args = append(args, a)
	}
	procs := shaletest.StartProcesses(t, dirs, args)
	var addrs []string
	for _, p := range procs {
		addrs = append(addrs, p.Addr)
	}
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// Each node lists the three brokers once it applied their
	// registrations (a node that reports its listener may be a moment
	// ahead of the others): asked afresh each time, see kafkaBrokers.
	if err := awaitKafkaBrokers(addrs, []int32{1, 2, 3}, kgo.DialTLSConfig(tlsCfg)); err != nil {
		for i, p := range procs {
			t.Logf("node %d log:\n%s", i+1, p.Log())
		}
		t.Fatalf("three brokers over TLS: %v", err)
	}
	cl := shaletest.Client(t, addrs[0], kgo.SeedBrokers(addrs...), kgo.DialTLSConfig(tlsCfg))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, "tls-txn"); err != nil {
		t.Fatal(err)
	}
	var leaders map[int32]bool
	for {
		md, err := adm.Metadata(ctx, "tls-txn")
		if err == nil {
			leaders = map[int32]bool{}
			for _, p := range md.Topics["tls-txn"].Partitions {
				if p.Leader >= 0 {
					leaders[p.Leader] = true
				}
			}
			if len(md.Topics["tls-txn"].Partitions) == 6 && len(leaders) == 3 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("partitions led by all three brokers: %v %v", leaders, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	txn := shaletest.Client(t, addrs[0], kgo.SeedBrokers(addrs...), kgo.DialTLSConfig(tlsCfg),
		kgo.TransactionalID("over-tls"), kgo.DefaultProduceTopic("tls-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(6) {
		if err := txn.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("v%d", p))}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d in a transaction: %v", p, err)
		}
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit over TLS: %v", err)
	}
	reader := shaletest.Client(t, addrs[0], kgo.SeedBrokers(addrs...), kgo.DialTLSConfig(tlsCfg),
		kgo.ConsumeTopics("tls-txn"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got := map[string]bool{}
	for len(got) < 6 {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed over TLS: %d of 6 records (the markers did not reach every leader?)", len(got))
		}
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	t.Logf("transaction over partitions led by brokers %v committed and read at read_committed over TLS", leaders)

	if !raftTLS {
		return
	}
	// The cluster tools reach the quorum with a certificate of the
	// cluster, and not without one.
	bin := shaletest.Binary(t)
	out, err := exec.Command(bin, "cluster", "status", "--controller", raft[1], "--output", "json",
		"--raft-tls-cert", cert, "--raft-tls-key", key, "--raft-tls-ca", ca, "--timeout", "20s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"controllers"`) {
		t.Fatalf("shale cluster status over TLS: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "cluster", "status", "--controller", raft[1], "--timeout", "3s").CombinedOutput(); err == nil {
		t.Fatalf("shale cluster status in plaintext answered:\n%s", out)
	}

	nc, err := net.Dial("tcp", raft[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(3 * time.Second))
	nc.Write([]byte{0x01, 0, 0, 0, 0})
	if n, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the raft port answered a plaintext client (%d bytes)", n)
	}
}
