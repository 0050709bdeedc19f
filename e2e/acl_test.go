package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclPKI is a CA, a server certificate and one client certificate per
// user, whose subject is "CN=<user>,OU=test,O=Shale": the principal the
// broker sees is "User:CN=<user>,OU=test,O=Shale".
type aclPKI struct {
	*testPKI
	certFiles map[string][2]string // user -> cert, key files
	certs     map[string]tls.Certificate
}

func aclPrincipal(user string) string { return "User:CN=" + user + ",OU=test,O=Shale" }

func newACLPKI(t *testing.T, users ...string) *aclPKI {
	t.Helper()
	p := &aclPKI{testPKI: newTestPKI(t), certFiles: map[string][2]string{}, certs: map[string]tls.Certificate{}}
	// A CA of this PKI's own, so that the client certificates can be
	// signed: newTestPKI keeps its CA key to itself.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: "shale ACL test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caFile = p.write(t, "acl-ca.pem", "CERTIFICATE", caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	issue := func(file string, subject pkix.Name, serial int64, usage x509.ExtKeyUsage) [2]string {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return [2]string{p.write(t, file+".pem", "CERTIFICATE", der), p.write(t, file+"-key.pem", "EC PRIVATE KEY", kb)}
	}
	srv := issue("acl-server", pkix.Name{CommonName: "server"}, 101, x509.ExtKeyUsageServerAuth)
	p.serverCert, p.serverKey = srv[0], srv[1]
	for i, u := range users {
		f := issue("acl-"+u, pkix.Name{CommonName: u, OrganizationalUnit: []string{"test"}, Organization: []string{"Shale"}}, int64(200+i), x509.ExtKeyUsageClientAuth)
		p.certFiles[u] = f
		cert, err := tls.LoadX509KeyPair(f[0], f[1])
		if err != nil {
			t.Fatal(err)
		}
		p.certs[u] = cert
	}
	return p
}

// client returns a franz-go client that authenticates as user.
func (p *aclPKI) client(t *testing.T, addr, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.certs[user]}, MinVersion: tls.VersionTLS12}
	return shaletest.Client(t, addr, append([]kgo.Opt{kgo.DialTLSConfig(tc)}, opts...)...)
}

// startACLNode starts a node with an mTLS listener and the authorizer on,
// User:CN=admin,... its super user.
func startACLNode(t *testing.T, pki *aclPKI) string {
	t.Helper()
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.TLS.CertFile, c.Broker.TLS.KeyFile, c.Broker.TLS.ClientCAFile = pki.serverCert, pki.serverKey, pki.caFile
		c.Broker.Authorizer = acl.Config{Enabled: true, SuperUsers: []string{aclPrincipal("admin")}}
	})
	return n.Addr()
}

// grant creates ACL bindings as the super user.
func grantACLs(t *testing.T, ctx context.Context, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(ctx, b)
	if err != nil {
		t.Fatalf("create ACLs: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL %s %s %s: %v", r.Principal, r.Operation, r.Name, r.Err)
		}
	}
}

// aclDirectRequest sends req to broker 1 directly (no coordinator or leader
// lookup by the client, which would fail first) and returns the response.
func aclDirectRequest[T kmsg.Response](t *testing.T, ctx context.Context, cl *kgo.Client, req kmsg.Request) T {
	t.Helper()
	resp, err := cl.Broker(1).Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(T)
}

func aclFetchCode(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := aclDirectRequest[*kmsg.FetchResponse](t, ctx, cl, req)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func wantACLCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != want.Code {
		name := "NONE"
		if e := kerr.ErrorForCode(got); e != nil {
			name = e.Error()
		}
		t.Errorf("%s: got %s, want %s", what, name, want.Message)
	}
}

// TestACLEnforcement: with mTLS principals and the authorizer on, each rule
// Kafka enforces is enforced: no produce without WRITE, no fetch or commit
// without READ, no topic in Metadata without DESCRIBE, no join without
// group READ, no ACL changes without cluster ALTER; a prefixed allow and a
// literal deny combine as in Kafka; ListGroups is filtered; the super user
// sees and does everything.
func TestACLEnforcement(t *testing.T) {
	pki := newACLPKI(t, "admin", "alice", "bob", "carol")
	addr := startACLNode(t, pki)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	admin := kadm.NewClient(pki.client(t, addr, "admin"))
	for _, topic := range []string{"orders", "sales-eu", "sales-secret", "hidden"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatalf("create %s as the super user: %v", topic, err)
		}
	}
	alice, bob, carol := aclPrincipal("alice"), aclPrincipal("bob"), aclPrincipal("carol")
	// alice writes orders; bob reads it, in group g-bob; alice may use
	// group g-alice but not read orders.
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(alice).Topics("orders").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(alice).Groups("g-alice").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(bob).Topics("orders").Groups("g-bob").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	// carol reads every sales- topic but sales-secret.
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(carol).Topics("sales-").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))
	grantACLs(t, ctx, admin, kadm.NewACLs().Deny(carol).Topics("sales-secret").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(carol).Groups("g-carol").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))

	// Data to read, written by the super user.
	adminCl := pki.client(t, addr, "admin")
	for _, topic := range []string{"orders", "sales-eu", "sales-secret"} {
		if err := adminCl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("from admin")}).FirstErr(); err != nil {
			t.Fatalf("produce to %s as the super user: %v", topic, err)
		}
	}

	aliceCl := pki.client(t, addr, "alice")
	bobCl := pki.client(t, addr, "bob", kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	carolCl := pki.client(t, addr, "carol")

	t.Run("write allows produce", func(t *testing.T) {
		// Idempotent (the default): InitProducerId is allowed by WRITE on
		// some topic.
		if err := aliceCl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("from alice")}).FirstErr(); err != nil {
			t.Fatalf("alice produce to orders: %v", err)
		}
	})
	t.Run("no write no produce", func(t *testing.T) {
		err := bobCl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("from bob")}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("bob produce to orders: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		// An idempotent producer without WRITE anywhere cannot get a
		// producer id.
		ipr := kmsg.NewPtrInitProducerIDRequest()
		ipr.TransactionTimeoutMillis = 60000
		wantACLCode(t, "bob InitProducerId", aclDirectRequest[*kmsg.InitProducerIDResponse](t, ctx, bobCl, ipr).ErrorCode, kerr.ClusterAuthorizationFailed)
	})
	t.Run("read allows consume", func(t *testing.T) {
		cl := pki.client(t, addr, "bob", kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("g-bob"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		defer pcancel()
		var got []string
		for len(got) < 2 && pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			for _, fe := range fs.Errors() {
				if !errors.Is(fe.Err, context.DeadlineExceeded) {
					t.Fatalf("bob consume orders: %v", fe.Err)
				}
			}
		}
		if len(got) < 2 {
			t.Fatalf("bob read %q, want both records", got)
		}
		if err := cl.CommitUncommittedOffsets(pctx); err != nil {
			t.Fatalf("bob commit in g-bob: %v", err)
		}
	})
	t.Run("no read no fetch", func(t *testing.T) {
		wantACLCode(t, "alice fetch orders", aclFetchCode(t, ctx, aliceCl, "orders"), kerr.TopicAuthorizationFailed)
		// The high-level consumer reports it too.
		cl := pki.client(t, addr, "alice", kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		defer pcancel()
		for pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			if fs.NumRecords() > 0 {
				t.Fatal("alice read records of orders")
			}
			if errs := fs.Errors(); len(errs) > 0 {
				if !errors.Is(errs[0].Err, kerr.TopicAuthorizationFailed) {
					t.Fatalf("alice consume orders: %v, want TOPIC_AUTHORIZATION_FAILED", errs[0].Err)
				}
				return
			}
		}
		t.Fatal("alice's consumer saw no error")
	})
	t.Run("no read no commit", func(t *testing.T) {
		offs := kadm.Offsets{}
		offs.AddOffset("orders", 0, 1, -1)
		adm := kadm.NewClient(aliceCl)
		res, err := adm.CommitOffsets(ctx, "g-alice", offs)
		if err != nil {
			t.Fatalf("alice commit: %v", err)
		}
		if r, ok := res.Lookup("orders", 0); !ok || !errors.Is(r.Err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("alice commit orders in g-alice: %+v, want TOPIC_AUTHORIZATION_FAILED", r)
		}
		// Without READ on the group, the group refuses first.
		_, err = kadm.NewClient(bobCl).CommitOffsets(ctx, "g-alice", offs)
		if !errors.Is(err, kerr.GroupAuthorizationFailed) {
			t.Fatalf("bob commit in g-alice: %v, want GROUP_AUTHORIZATION_FAILED", err)
		}
	})
	t.Run("no describe not in metadata", func(t *testing.T) {
		topics, err := kadm.NewClient(bobCl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if names := topics.Names(); !slices.Equal(names, []string{"orders"}) {
			t.Fatalf("bob sees topics %v, want [orders]", names)
		}
		topics, err = kadm.NewClient(bobCl).ListTopics(ctx, "hidden")
		if err == nil {
			err = topics["hidden"].Err
		}
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("bob's metadata of hidden: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		all, err := admin.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if names := all.Names(); !slices.Equal(names, []string{"hidden", "orders", "sales-eu", "sales-secret"}) {
			t.Fatalf("the super user sees topics %v", names)
		}
	})
	t.Run("no group read no join", func(t *testing.T) {
		jr := kmsg.NewPtrJoinGroupRequest()
		jr.Group, jr.ProtocolType = "g-carol", "consumer"
		jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0}
		jr.Protocols = append(jr.Protocols, p)
		wantACLCode(t, "bob JoinGroup g-carol", aclDirectRequest[*kmsg.JoinGroupResponse](t, ctx, bobCl, jr).ErrorCode, kerr.GroupAuthorizationFailed)
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorKeys = "g-carol", []string{"g-carol"}
		resp := aclDirectRequest[*kmsg.FindCoordinatorResponse](t, ctx, bobCl, fc)
		code := resp.ErrorCode
		if len(resp.Coordinators) > 0 {
			code = resp.Coordinators[0].ErrorCode
		}
		wantACLCode(t, "bob FindCoordinator g-carol", code, kerr.GroupAuthorizationFailed)
	})
	t.Run("prefixed allow and literal deny", func(t *testing.T) {
		wantACLCode(t, "carol fetch sales-eu", aclFetchCode(t, ctx, carolCl, "sales-eu"), aclNoError())
		wantACLCode(t, "carol fetch sales-secret", aclFetchCode(t, ctx, carolCl, "sales-secret"), kerr.TopicAuthorizationFailed)
		// Denying READ does not deny DESCRIBE, which the prefixed READ
		// implies: carol sees both topics.
		topics, err := kadm.NewClient(carolCl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if names := topics.Names(); !slices.Equal(names, []string{"sales-eu", "sales-secret"}) {
			t.Fatalf("carol sees topics %v", names)
		}
		// carol's group consumes sales-eu.
		cl := pki.client(t, addr, "carol", kgo.ConsumeTopics("sales-eu"), kgo.ConsumerGroup("g-carol"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		defer pcancel()
		for n := 0; n == 0; {
			fs := cl.PollFetches(pctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("carol consume sales-eu in g-carol: %v", err)
			}
			n = fs.NumRecords()
		}
		if err := cl.CommitUncommittedOffsets(pctx); err != nil {
			t.Fatalf("carol commit in g-carol: %v", err)
		}
	})
	t.Run("list groups filtered", func(t *testing.T) {
		groups := func(cl *kgo.Client) []string {
			listed, err := kadm.NewClient(cl).ListGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			names := listed.Groups()
			slices.Sort(names)
			return names
		}
		if got := groups(bobCl); !slices.Equal(got, []string{"g-bob"}) {
			t.Errorf("bob lists groups %v, want [g-bob]", got)
		}
		if got := groups(carolCl); !slices.Equal(got, []string{"g-carol"}) {
			t.Errorf("carol lists groups %v, want [g-carol]", got)
		}
		if got := groups(adminCl); !slices.Contains(got, "g-bob") || !slices.Contains(got, "g-carol") {
			t.Errorf("the super user lists groups %v, want g-bob and g-carol", got)
		}
		// DescribeGroups of a group bob may not describe.
		described, err := kadm.NewClient(bobCl).DescribeGroups(ctx, "g-carol")
		if err == nil {
			err = described["g-carol"].Err
		}
		if !errors.Is(err, kerr.GroupAuthorizationFailed) {
			t.Errorf("bob describes g-carol: %v, want GROUP_AUTHORIZATION_FAILED", err)
		}
	})
	t.Run("no cluster alter no acl changes", func(t *testing.T) {
		res, err := kadm.NewClient(bobCl).CreateACLs(ctx, kadm.NewACLs().Allow(bob).Topics("hidden").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
		if err == nil && len(res) > 0 {
			err = res[0].Err
		}
		if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
			t.Fatalf("bob creates an ACL: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
		}
		describeAll := func(cl *kgo.Client) *kmsg.DescribeACLsResponse {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return aclDirectRequest[*kmsg.DescribeACLsResponse](t, ctx, cl, req)
		}
		wantACLCode(t, "bob describes ACLs", describeAll(bobCl).ErrorCode, kerr.ClusterAuthorizationFailed)
		// The super user sees every binding.
		resp := describeAll(adminCl)
		n := 0
		for _, r := range resp.Resources {
			n += len(r.ACLs)
		}
		if resp.ErrorCode != 0 || n != 7 {
			t.Fatalf("the super user describes ACLs: error %d, %d bindings, want 7", resp.ErrorCode, n)
		}
	})
	t.Run("kcat shows the Kafka error", func(t *testing.T) {
		kcat := shaletest.RequireTool(t, "kcat")
		f := pki.certFiles["carol"]
		cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-P", "-t", "orders",
			"-X", "security.protocol=ssl", "-X", "ssl.ca.location="+pki.caFile,
			"-X", "ssl.certificate.location="+f[0], "-X", "ssl.key.location="+f[1],
			"-X", "message.timeout.ms=10000")
		cmd.Stdin = strings.NewReader("from kcat\n")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "Topic authorization failed") {
			t.Fatalf("kcat produce as carol to orders printed %q, want the TOPIC_AUTHORIZATION_FAILED message", out)
		}
	})
	t.Run("confluent-kafka shows the Kafka error", func(t *testing.T) {
		python := requireConfluentKafka(t)
		f := pki.certFiles["carol"]
		script := `
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "security.protocol": "ssl",
              "ssl.ca.location": sys.argv[2], "ssl.certificate.location": sys.argv[3],
              "ssl.key.location": sys.argv[4], "message.timeout.ms": 10000})
errs = []
p.produce("orders", b"from python", on_delivery=lambda err, msg: errs.append(err))
p.flush(20)
print(errs[0].name() if errs and errs[0] else "DELIVERED")
`
		out, err := exec.CommandContext(ctx, python, "-c", script, addr, pki.caFile, f[0], f[1]).CombinedOutput()
		if err != nil {
			t.Fatalf("python producer: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "TOPIC_AUTHORIZATION_FAILED") {
			t.Fatalf("confluent-kafka produce as carol to orders printed %q, want TOPIC_AUTHORIZATION_FAILED", out)
		}
	})
}

// aclNoError is the "no error" expectation of wantCode.
func aclNoError() *kerr.Error { return &kerr.Error{Message: "NONE", Code: 0} }

// TestACLAdminAndTransactions: the admin APIs and transactions check what
// Kafka checks: CREATE (cluster or topic) to create a topic, DELETE to
// delete it, ALTER to add partitions, DESCRIBE_CONFIGS and ALTER_CONFIGS
// for configs, WRITE on the transactional id for a transactional producer.
func TestACLAdminAndTransactions(t *testing.T) {
	pki := newACLPKI(t, "admin", "dave")
	addr := startACLNode(t, pki)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := kadm.NewClient(pki.client(t, addr, "admin"))
	dave := aclPrincipal("dave")
	daveAdm := kadm.NewClient(pki.client(t, addr, "dave"))

	// Topics: dave may create and use topics named dave-*.
	res, err := daveAdm.CreateTopic(ctx, 1, 1, nil, "dave-events")
	if err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("dave creates a topic without CREATE: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(dave).Topics("dave-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Operations(kadm.OpCreate, kadm.OpWrite, kadm.OpRead, kadm.OpDescribeConfigs))
	if res, err = daveAdm.CreateTopic(ctx, 1, 1, nil, "dave-events"); err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("dave creates dave-events with a prefixed CREATE: %v", err)
	}
	if res, err = daveAdm.CreateTopic(ctx, 1, 1, nil, "other"); err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("dave creates other: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// Configs: described with DESCRIBE_CONFIGS, not altered without
	// ALTER_CONFIGS; the broker's configs need them on the cluster.
	if rc, err := daveAdm.DescribeTopicConfigs(ctx, "dave-events"); err != nil || rc[0].Err != nil {
		t.Fatalf("dave describes the configs of dave-events: %v %v", err, rc)
	}
	ar, err := daveAdm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")}}, "dave-events")
	if err == nil {
		err = ar[0].Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("dave alters configs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	br, err := daveAdm.DescribeBrokerConfigs(ctx, 1)
	if err == nil {
		err = br[0].Err
	}
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("dave describes broker configs: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	// Partitions and deletion need ALTER and DELETE.
	cp, err := daveAdm.CreatePartitions(ctx, 2, "dave-events")
	if err == nil {
		err = cp["dave-events"].Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("dave adds partitions: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	dr, err := daveAdm.DeleteTopics(ctx, "dave-events")
	if err == nil {
		err = dr["dave-events"].Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("dave deletes dave-events: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Transactions: no WRITE on the transactional id, no producer id.
	txCl := pki.client(t, addr, "dave", kgo.TransactionalID("dave-tx"), kgo.DefaultProduceTopic("dave-events"), kgo.RecordRetries(2))
	err = txCl.BeginTransaction()
	if err == nil {
		err = txCl.ProduceSync(ctx, &kgo.Record{Value: []byte("in a transaction")}).FirstErr()
	}
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		t.Fatalf("dave's transactional produce without WRITE on dave-tx: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	grantACLs(t, ctx, admin, kadm.NewACLs().Allow(dave).TransactionalIDs("dave-tx").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpWrite))
	txCl2 := pki.client(t, addr, "dave", kgo.TransactionalID("dave-tx"), kgo.DefaultProduceTopic("dave-events"))
	if err := txCl2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txCl2.ProduceSync(ctx, &kgo.Record{Value: []byte("in a transaction")}).FirstErr(); err != nil {
		t.Fatalf("dave's transactional produce with WRITE on dave-tx: %v", err)
	}
	if err := txCl2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("dave commits: %v", err)
	}
	// The committed record is read by a read_committed consumer.
	cons := pki.client(t, addr, "dave", kgo.ConsumeTopics("dave-events"), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	for n := 0; n == 0; {
		fs := cons.PollFetches(pctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("dave reads dave-events: %v", err)
		}
		n = fs.NumRecords()
	}
}

// TestACLCluster: in a three-node cluster with mTLS listeners, an ACL
// created through one broker is enforced by every broker: before it, each
// refuses alice's fetch with TOPIC_AUTHORIZATION_FAILED; after it, none
// does (the leader serves it, the others answer NOT_LEADER_OR_FOLLOWER).
func TestACLCluster(t *testing.T) {
	pki := newACLPKI(t, "admin", "alice")
	c := startCluster(t, 3, "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caFile,
		"--authorizer", "--super-users", aclPrincipal("admin"))
	addrs := c.kafka()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := kadm.NewClient(pki.client(t, addrs[0], "admin"))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatalf("create orders: %v", err)
	}
	alice := pki.client(t, addrs[0], "alice")
	fetchFrom := func(id int32) int16 {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "orders"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := alice.Broker(int(id)).Request(ctx, req)
		if err != nil {
			t.Fatalf("fetch from broker %d: %v", id, err)
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			return fr.ErrorCode
		}
		return fr.Topics[0].Partitions[0].ErrorCode
	}
	for id := int32(1); id <= 3; id++ {
		wantACLCode(t, fmt.Sprintf("alice fetch from broker %d before the ACL", id), fetchFrom(id), kerr.TopicAuthorizationFailed)
	}
	grantACLs(t, ctx, kadm.NewClient(pki.client(t, addrs[1], "admin")),
		kadm.NewACLs().Allow(aclPrincipal("alice")).Topics("orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	for id := int32(1); id <= 3; id++ {
		// Each broker applies the ACL when its copy of the metadata log
		// reaches it: wait for that, bounded by ctx.
		for {
			code := fetchFrom(id)
			if code == 0 || code == kerr.NotLeaderForPartition.Code {
				break
			}
			if code != kerr.TopicAuthorizationFailed.Code || ctx.Err() != nil {
				t.Fatalf("alice fetch from broker %d after the ACL: %v", id, kerr.ErrorForCode(code))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestACLClusterTransactions: with the authorizer on, a transaction whose
// partitions are led by three brokers commits although the brokers' own
// principal (User:ANONYMOUS over plaintext) is denied CLUSTER_ACTION: a
// broker takes the markers the metadata state expects from the
// coordinator. A marker it does not expect is refused.
func TestACLClusterTransactions(t *testing.T) {
	c := startCluster(t, 3, "--authorizer", "--allow-everyone-if-no-acl-found")
	addrs := c.kafka()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl := shaletest.Client(t, addrs[0])
	adm := kadm.NewClient(cl)
	// The cluster gets ACLs: everything but CLUSTER_ACTION for everyone.
	grantACLs(t, ctx, adm, kadm.NewACLs().Allow("User:*").Clusters().Operations(kadm.OpAlter, kadm.OpDescribe, kadm.OpCreate, kadm.OpIdempotentWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	grantACLs(t, ctx, adm, kadm.NewACLs().Deny("User:*").Clusters().Operations(kadm.OpClusterAction).ResourcePatternType(kadm.ACLPatternLiteral))
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, "spread"); err != nil {
		t.Fatalf("create spread: %v", err)
	}
	leaders := map[int32]bool{}
	for len(leaders) == 0 && ctx.Err() == nil { // until the broker asked knows the topic
		topics, err := adm.ListTopics(ctx, "spread")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range topics["spread"].Partitions {
			leaders[p.Leader] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(leaders) < 2 {
		t.Fatalf("the partitions of spread are led by %v: the test needs several brokers", leaders)
	}

	tx := shaletest.Client(t, addrs[0], kgo.TransactionalID("spread-tx"), kgo.DefaultProduceTopic("spread"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(6) {
		if err := tx.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprint("in the transaction ", p))}).FirstErr(); err != nil {
			t.Fatalf("produce to spread-%d: %v", p, err)
		}
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit across brokers: %v", err)
	}
	cons := shaletest.Client(t, addrs[0], kgo.ConsumeTopics("spread"), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for n := 0; n < 6; {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read_committed consume of spread (%d of 6 records read): %v", n, err)
		}
		n += fs.NumRecords()
	}

	// A marker no transaction is preparing: CLUSTER_AUTHORIZATION_FAILED.
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = 424242, 0, true
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "spread", []int32{0}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	for _, id := range []int32{1, 2, 3} {
		resp, err := cl.Broker(int(id)).Request(ctx, req)
		if err != nil {
			t.Fatalf("WriteTxnMarkers to broker %d: %v", id, err)
		}
		got := resp.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode
		wantACLCode(t, fmt.Sprintf("a forged marker at broker %d", id), got, kerr.ClusterAuthorizationFailed)
	}
}
