package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// saslNode is a node with three listeners: CLIENT (SASL_SSL), SASLPLAIN
// (SASL_PLAINTEXT) and ADMIN (PLAINTEXT, loopback, where the users are
// created), and the users alice (both SCRAM mechanisms) and bob
// (SCRAM-SHA-512).
type saslNode struct {
	n                        *node.Node
	pki                      *testPKI
	client, saslPlain, admin string
	tls                      *tls.Config
}

func startSASLNode(t *testing.T, mutate func(*node.Config)) *saslNode {
	t.Helper()
	pki := newTestPKI(t)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.Listeners = []broker.ListenerConfig{
			{Name: "CLIENT", Listen: "127.0.0.1:0", SecurityProtocol: "SASL_SSL",
				TLS: broker.TLSConfig{CertFile: pki.serverCert, KeyFile: pki.serverKey}},
			{Name: "SASLPLAIN", Listen: "127.0.0.1:0", SecurityProtocol: "SASL_PLAINTEXT"},
			{Name: "ADMIN", Listen: "127.0.0.1:0", SecurityProtocol: "PLAINTEXT"},
		}
		c.Broker.SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}
		if mutate != nil {
			mutate(c)
		}
	})
	s := &saslNode{n: n, pki: pki, client: n.ListenerAddr("CLIENT"), saslPlain: n.ListenerAddr("SASLPLAIN"), admin: n.ListenerAddr("ADMIN"),
		tls: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}}
	adm := shaletest.Admin(t, s.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-secret"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-secret"},
	})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("create users: %v", err)
	}
	// A user is named once per request (Kafka's rule): alice's second
	// mechanism in a second request.
	res, err = adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-secret"}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("add alice's SCRAM-SHA-512: %v", err)
	}
	return s
}

// TestSASLFranzGo: franz-go produces and consumes with SASL PLAIN over
// SASL_SSL and with SCRAM-SHA-256 over SASL_PLAINTEXT; a wrong password is
// refused with SASL_AUTHENTICATION_FAILED, a plaintext client and a TLS
// client that skips SASL on the SASL_SSL port are refused, and the
// authenticated clients are served throughout.
func TestSASLFranzGo(t *testing.T) {
	s := startSASLNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	shaletest.CreateTopic(t, s.admin, "sasl", 2, nil)

	plainCl := shaletest.Client(t, s.client, kgo.DialTLSConfig(s.tls), kgo.DefaultProduceTopic("sasl"),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	scramCl := shaletest.Client(t, s.saslPlain, kgo.DefaultProduceTopic("sasl"),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()))
	for i, cl := range []*kgo.Client{plainCl, scramCl} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
			t.Fatalf("produce with client %d: %v", i, err)
		}
	}
	// Metadata through each listener names that listener's endpoint.
	for addr, cl := range map[string]*kgo.Client{s.client: plainCl, s.saslPlain: scramCl} {
		bs, err := kadm.NewClient(cl).ListBrokers(ctx)
		if err != nil || len(bs) != 1 || fmt.Sprintf("%s:%d", bs[0].Host, bs[0].Port) != addr {
			t.Fatalf("brokers seen through %s: %+v %v", addr, bs, err)
		}
	}

	consumer := shaletest.Client(t, s.client, kgo.DialTLSConfig(s.tls), kgo.ConsumeTopics("sasl"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()))
	seen := map[string]bool{}
	for len(seen) < 2 {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v before the deadline", seen)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}

	// A wrong password: the client sees SASL_AUTHENTICATION_FAILED.
	for _, m := range []kgo.Opt{
		kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()),
		kgo.SASL(scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism()),
		kgo.SASL(scram.Auth{User: "nobody", Pass: "x"}.AsSha512Mechanism()),
	} {
		bad := shaletest.Client(t, s.client, kgo.DialTLSConfig(s.tls), m, kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		err := bad.Ping(qctx)
		qcancel()
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("wrong credentials: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	}
	// Plaintext, and TLS without SASL, on the SASL_SSL port: refused.
	for name, opts := range map[string][]kgo.Opt{
		"plaintext":                   nil,
		"TLS, no SASL":                {kgo.DialTLSConfig(s.tls)},
		"SASL, no TLS":                {kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())},
		"SASL_PLAINTEXT without SASL": nil,
	} {
		addr := s.client
		if name == "SASL_PLAINTEXT without SASL" {
			addr = s.saslPlain
		}
		cl := shaletest.Client(t, addr, append(opts, kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))...)
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := kadm.NewClient(cl).ListTopics(qctx)
		qcancel()
		if err == nil {
			t.Fatalf("%s: served", name)
		}
		t.Logf("%s: refused: %v", name, err)
	}
	// The authenticated clients go on.
	if err := plainCl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refusals: %v", err)
	}
	if err := scramCl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refusals: %v", err)
	}
}

// reauthCounter counts franz-go's re-authentications from its log.
type reauthCounter struct{ n atomic.Int64 }

func (c *reauthCounter) Level() kgo.LogLevel { return kgo.LogLevelDebug }
func (c *reauthCounter) Log(_ kgo.LogLevel, msg string, _ ...any) {
	if strings.Contains(msg, "reauthenticating") {
		c.n.Add(1)
	}
}

// TestSASLReauthenticationFranzGo: with connections_max_reauth of 2s the
// broker tells franz-go its session lifetime (KIP-368), and franz-go
// re-authenticates on its connections as it goes on producing; nothing
// fails, though a connection that did not re-authenticate would be closed.
func TestSASLReauthenticationFranzGo(t *testing.T) {
	s := startSASLNode(t, func(c *node.Config) { c.Broker.ConnectionsMaxReauth = 2 * time.Second })
	shaletest.CreateTopic(t, s.admin, "reauth", 1, nil)
	var counter reauthCounter
	cl := shaletest.Client(t, s.client, kgo.DialTLSConfig(s.tls), kgo.DefaultProduceTopic("reauth"), kgo.WithLogger(&counter),
		kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produced := 0
	for counter.n.Load() < 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "v%d", produced)}).FirstErr(); err != nil {
			t.Fatalf("produce %d after %d re-authentications: %v", produced, counter.n.Load(), err)
		}
		produced++
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d records, %d re-authentications", produced, counter.n.Load())
	off, err := kadm.NewClient(cl).ListEndOffsets(ctx, "reauth")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := off.Lookup("reauth", 0); o.Offset != int64(produced) {
		t.Fatalf("end offset %d after %d records", o.Offset, produced)
	}
}

// TestSASLScramAdmin: kadm's AlterUserSCRAMs and DescribeUserSCRAMs round
// trip, and the errors Kafka returns for bad requests.
func TestSASLScramAdmin(t *testing.T) {
	s := startSASLNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Over SASL itself, as alice.
	adm := kadm.NewClient(shaletest.Client(t, s.client, kgo.DialTLSConfig(s.tls),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())))
	all, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || all.Error() != nil {
		t.Fatal(err, all.Error())
	}
	if len(all) != 2 || len(all["alice"].CredInfos) != 2 || all["bob"].CredInfos[0].Iterations != 8192 || all["bob"].CredInfos[0].Mechanism != kadm.ScramSha512 {
		t.Fatalf("users: %+v", all)
	}
	// kadm checks iterations itself: the raw request shows the broker's
	// answers.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = "ghost", 1
	req.Deletions = append(req.Deletions, del)
	for _, u := range []struct {
		name  string
		mech  int8
		iters int32
	}{{"few", 1, 1000}, {"many", 2, 20000}, {"twice", 1, 4096}, {"twice", 2, 4096}, {"odd", 3, 4096}, {"", 1, 4096}} {
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = u.name, u.mech, u.iters, []byte("salt"), bytes.Repeat([]byte{1}, 32)
		req.Upsertions = append(req.Upsertions, up)
	}
	raw, err := req.RequestWith(ctx, shaletest.Client(t, s.admin))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range raw.Results {
		got[r.User] = kerr.ErrorForCode(r.ErrorCode).(*kerr.Error).Message + ": " + *r.ErrorMessage
	}
	for user, want := range map[string]string{
		"ghost": "RESOURCE_NOT_FOUND: Attempt to delete a user credential that does not exist",
		"few":   "UNACCEPTABLE_CREDENTIAL: Too few iterations", "many": "UNACCEPTABLE_CREDENTIAL: Too many iterations",
		"twice": "DUPLICATE_RESOURCE: A user credential cannot be altered twice in the same request",
		"odd":   "UNSUPPORTED_SASL_MECHANISM: Unknown SCRAM mechanism", "": "UNACCEPTABLE_CREDENTIAL: Username must not be empty",
	} {
		if !strings.HasPrefix(got[user], want) {
			t.Errorf("%q: %q, want %q", user, got[user], want)
		}
	}
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "carol-secret"}})
	if err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	d, err := adm.DescribeUserSCRAMs(ctx, "carol", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if d["carol"].Err != nil || len(d["carol"].CredInfos) != 1 || !errors.Is(d["ghost"].Err, kerr.ResourceNotFound) {
		t.Fatalf("describe carol and ghost: %+v", d)
	}
	// carol can log in; deleted, she cannot.
	carol := func() error {
		cl := shaletest.Client(t, s.saslPlain, kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha256Mechanism()),
			kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		defer qcancel()
		return cl.Ping(qctx)
	}
	if err := carol(); err != nil {
		t.Fatalf("carol: %v", err)
	}
	res, err = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "carol", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	if err := carol(); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("deleted carol: %v", err)
	}
}

// TestSASLKcatAndPython: kcat and python3-confluent-kafka (librdkafka)
// produce and consume over SASL_SSL with SCRAM-SHA-512, and kcat with a
// wrong password is refused with the error librdkafka shows.
func TestSASLKcatAndPython(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	s := startSASLNode(t, nil)
	shaletest.CreateTopic(t, s.admin, "sasl-rdk", 1, nil)
	conf := func(user, pass string) []string {
		return []string{"-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=" + s.pki.caFile,
			"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := exec.CommandContext(ctx, kcat, append([]string{"-b", s.client, "-P", "-t", "sasl-rdk"}, conf("bob", "bob-secret")...)...)
	p.Stdin = strings.NewReader("from kcat\n")
	if out, err := p.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce over SASL_SSL: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, kcat, append([]string{"-b", s.client, "-C", "-t", "sasl-rdk", "-o", "beginning", "-e", "-q", "-f", "%s\n"}, conf("alice", "alice-secret")...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "from kcat" {
		t.Fatalf("kcat consume over SASL_SSL: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, kcat, append([]string{"-b", s.client, "-L", "-m", "10"}, conf("bob", "wrong")...)...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Authentication failed") {
		t.Fatalf("kcat with a wrong password: %v\n%s", err, out)
	}

	python := requireConfluentKafka(t)
	cmd := exec.CommandContext(ctx, python, "testdata/sasl_roundtrip.py", s.client, s.pki.caFile, "bob", "bob-secret", "sasl-rdk")
	out, err = cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("\nOK\n")) {
		t.Fatalf("sasl_roundtrip.py: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
