package main

// shale_acl, shale_user and shale_quota, each as one scenario run against
// two clusters:
//
//   - TestProviderACL, TestProviderUser, TestProviderQuota: a running
//     Shale. They fail, by design, while Shale does not serve the ACL,
//     SCRAM and quota APIs (CreateAcls/DescribeAcls/DeleteAcls,
//     Describe/AlterUserScramCredentials, Describe/AlterClientQuotas):
//     the provider's diagnostic names the missing API.
//   - TestProviderKfakeACL, TestProviderKfakeUser, TestProviderKfakeQuota:
//     franz-go's kfake, which serves those APIs, with mutual TLS, SASL
//     (SCRAM-SHA-512) and ACLs on, so the provider's tls and sasl settings
//     are exercised too, and a SCRAM credential the provider sets is
//     proven by logging in with it.

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
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// target is a cluster a scenario runs against.
type target struct {
	addr     string
	provider string       // the provider block's body
	cl       *kgo.Client  // checks outcomes over its own connection
	adm      *kadm.Client // on cl
	// sasl: the cluster authenticates clients with SCRAM, so a credential
	// can be proven by logging in with it.
	sasl bool
	// tls, when set, gives the client TLS settings the cluster wants.
	tls func() *tls.Config
}

// shaleTarget is a Shale node with its authorizer on (ACLs are refused
// with SECURITY_DISABLED otherwise) and the plaintext listener's
// anonymous principal a super user, so the provider may manage it all.
func shaleTarget(t *testing.T) target {
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.Authorizer.Enabled = true
		c.Broker.Authorizer.SuperUsers = []string{"User:ANONYMOUS"}
	})
	cl := shaletest.Client(t, n.Addr())
	return target{addr: n.Addr(), provider: shaleProvider(n.Addr()), cl: cl, adm: kadm.NewClient(cl)}
}

const (
	kfakeAdmin    = "admin"
	kfakePassword = "admin-secret"
)

func kfakeTarget(t *testing.T) target {
	pki := newPKI(t)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(pki.server),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", kfakeAdmin, kfakePassword),
		kfake.EnableACLs(),
	)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	cl := shaletest.Client(t, addr, kgo.DialTLSConfig(pki.client()),
		kgo.SASL(scram.Auth{User: kfakeAdmin, Pass: kfakePassword}.AsSha512Mechanism()))
	return target{
		addr: addr,
		provider: fmt.Sprintf(`  bootstrap_servers = [%q]
  timeout           = "60s"
  tls = {
    ca_cert     = %q
    client_cert = %q
    client_key  = %q
  }
  sasl = {
    mechanism = "SCRAM-SHA-512"
    username  = %q
    password  = %q
  }`, addr, pki.caPEM, pki.clientCertPEM, pki.clientKeyPEM, kfakeAdmin, kfakePassword),
		cl:   cl,
		adm:  kadm.NewClient(cl),
		sasl: true,
		tls:  pki.client,
	}
}

// pki is a throwaway certificate authority, a server certificate for
// 127.0.0.1 and a client certificate, for mutual TLS.
type pki struct {
	server                             *tls.Config
	caPEM, clientCertPEM, clientKeyPEM string
	caPool                             *x509.CertPool
	clientPair                         tls.Certificate
}

func (p *pki) client() *tls.Config {
	return &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{p.clientPair}, MinVersion: tls.VersionTLS12}
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "provider test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	serverCert, serverKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	clientCert, clientKey := issue(3, "terraform", x509.ExtKeyUsageClientAuth, nil)
	serverPair, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	clientPair, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return &pki{
		server: &tls.Config{
			Certificates: []tls.Certificate{serverPair},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
		caPEM: string(caPEM), clientCertPEM: string(clientCert), clientKeyPEM: string(clientKey),
		caPool: pool, clientPair: clientPair,
	}
}

func TestProviderACL(t *testing.T)      { aclScenario(t, shaleTarget(t)) }
func TestProviderKfakeACL(t *testing.T) { aclScenario(t, kfakeTarget(t)) }

func TestProviderUser(t *testing.T)      { userScenario(t, shaleTarget(t)) }
func TestProviderKfakeUser(t *testing.T) { userScenario(t, kfakeTarget(t)) }

func TestProviderQuota(t *testing.T)      { quotaScenario(t, shaleTarget(t)) }
func TestProviderKfakeQuota(t *testing.T) { quotaScenario(t, kfakeTarget(t)) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// acls lists the bindings whose principal starts with "User:tf-", as
// "TYPE|name|PATTERN|principal|host|OP|PERM" sorted.
func acls(t *testing.T, cl *kgo.Client) map[string]bool {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeAny
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("describe ACLs: %v (code %d)", err, resp.ErrorCode)
	}
	out := map[string]bool{}
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			if !strings.HasPrefix(a.Principal, "User:tf-") {
				continue
			}
			out[strings.Join([]string{r.ResourceType.String(), r.ResourceName, r.ResourcePatternType.String(),
				a.Principal, a.Host, a.Operation.String(), a.PermissionType.String()}, "|")] = true
		}
	}
	return out
}

func wantACLs(t *testing.T, cl *kgo.Client, want ...string) {
	t.Helper()
	got := acls(t, cl)
	if len(got) != len(want) {
		t.Fatalf("ACLs %v, want %v", keys(got), want)
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("ACLs %v lack %s", keys(got), w)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func aclScenario(t *testing.T, tg target) {
	w := newWorkspace(t)
	// Kafka's spellings in several forms: upper case, camel case, lower.
	w.config(tg.provider, `
resource "shale_acl" "alice_reads_orders" {
  resource_type = "TOPIC"
  resource_name = "orders"
  principal     = "User:tf-alice"
  operation     = "READ"
  permission    = "ALLOW"
}

resource "shale_acl" "alice_groups" {
  resource_type = "Group"
  resource_name = "app-"
  pattern_type  = "Prefixed"
  principal     = "User:tf-alice"
  host          = "10.0.0.1"
  operation     = "Describe"
  permission    = "Allow"
}

resource "shale_acl" "bob_idempotent" {
  resource_type = "cluster"
  resource_name = "kafka-cluster"
  principal     = "User:tf-bob"
  operation     = "IdempotentWrite"
  permission    = "deny"
}
`)
	w.apply()
	aliceReads := "TOPIC|orders|LITERAL|User:tf-alice|*|READ|ALLOW"
	aliceGroups := "GROUP|app-|PREFIXED|User:tf-alice|10.0.0.1|DESCRIBE|ALLOW"
	bobCluster := "CLUSTER|kafka-cluster|LITERAL|User:tf-bob|*|IDEMPOTENT_WRITE|DENY"
	wantACLs(t, tg.cl, aliceReads, aliceGroups, bobCluster)
	w.noDrift("after create")
	mustContain(t, "the state", w.state(), `"id": "TOPIC|orders|LITERAL|User:tf-alice|*|READ|ALLOW"`)

	// Drift: a binding deleted outside Terraform is planned back.
	del := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("orders"), kmsg.ACLResourcePatternTypeLiteral
	f.Principal, f.Host, f.Operation, f.PermissionType = kmsg.StringPtr("User:tf-alice"), kmsg.StringPtr("*"), kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	del.Filters = append(del.Filters, f)
	if resp, err := del.RequestWith(testContext(t), tg.cl); err != nil || resp.Results[0].ErrorCode != 0 || len(resp.Results[0].MatchingACLs) != 1 {
		t.Fatalf("delete outside Terraform: %v %+v", err, resp)
	}
	out := w.drift("after a binding was deleted outside Terraform")
	mustContain(t, "the drift plan", out, "shale_acl.alice_reads_orders will be created")
	w.apply()
	wantACLs(t, tg.cl, aliceReads, aliceGroups, bobCluster)

	// Import a binding made outside Terraform.
	create := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTransactionalId, "tx-1", kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host, c.Operation, c.PermissionType = "User:tf-carol", "*", kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow
	create.Creations = append(create.Creations, c)
	if resp, err := create.RequestWith(testContext(t), tg.cl); err != nil || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("create outside Terraform: %v %+v", err, resp)
	}
	carol := "TRANSACTIONAL_ID|tx-1|LITERAL|User:tf-carol|*|WRITE|ALLOW"
	body := `
resource "shale_acl" "alice_reads_orders" {
  resource_type = "TOPIC"
  resource_name = "orders"
  principal     = "User:tf-alice"
  operation     = "READ"
  permission    = "ALLOW"
}

resource "shale_acl" "alice_groups" {
  resource_type = "Group"
  resource_name = "app-"
  pattern_type  = "Prefixed"
  principal     = "User:tf-alice"
  host          = "10.0.0.1"
  operation     = "Describe"
  permission    = "Allow"
}

resource "shale_acl" "bob_idempotent" {
  resource_type = "cluster"
  resource_name = "kafka-cluster"
  principal     = "User:%s"
  operation     = "IdempotentWrite"
  permission    = "deny"
}

resource "shale_acl" "carol" {
  resource_type = "TRANSACTIONAL_ID"
  resource_name = "tx-1"
  principal     = "User:tf-carol"
  operation     = "WRITE"
  permission    = "ALLOW"
}
`
	w.config(tg.provider, fmt.Sprintf(body, "tf-bob"))
	w.importResource("shale_acl.carol", carol)
	w.noDrift("after the import")

	// A changed field replaces the binding.
	w.config(tg.provider, fmt.Sprintf(body, "tf-dave"))
	out = w.drift("after changing a principal")
	mustContain(t, "the plan", out, "must be replaced", "1 to add, 0 to change, 1 to destroy")
	w.apply()
	daveCluster := "CLUSTER|kafka-cluster|LITERAL|User:tf-dave|*|IDEMPOTENT_WRITE|DENY"
	wantACLs(t, tg.cl, aliceReads, aliceGroups, daveCluster, carol)
	w.noDrift("after the replacement")

	w.destroy()
	wantACLs(t, tg.cl)
}

// scram returns the user's credentials as "MECHANISM=iterations".
func scramCreds(t *testing.T, adm *kadm.Client, user string) []string {
	t.Helper()
	ds, err := adm.DescribeUserSCRAMs(testContext(t), user)
	if err != nil {
		t.Fatalf("describe SCRAM of %s: %v", user, err)
	}
	var out []string
	for _, c := range ds[user].CredInfos {
		out = append(out, fmt.Sprintf("%s=%d", c.Mechanism, c.Iterations))
	}
	return out
}

func wantCreds(t *testing.T, adm *kadm.Client, user string, want ...string) {
	t.Helper()
	if got := scramCreds(t, adm, user); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s has SCRAM credentials %v, want %v", user, got, want)
	}
}

// login reports whether user can authenticate with pass.
func login(t *testing.T, tg target, mech, user, pass string) bool {
	t.Helper()
	a := scram.Auth{User: user, Pass: pass}
	m := a.AsSha512Mechanism()
	if mech == "SCRAM-SHA-256" {
		m = a.AsSha256Mechanism()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(tg.addr), kgo.SASL(m), kgo.RequestRetries(0)}
	if tg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(tg.tls()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cl.Ping(ctx) == nil
}

// userScenario checks logins only with credentials of 4096 iterations:
// kfake's SCRAM server tells every client to use 4096 (its server-first
// message ignores a credential's own count), so a credential set with
// another count cannot log in there.
func userScenario(t *testing.T, tg target) {
	w := newWorkspace(t)
	config := func(alicePassword string, aliceIterations, bobVersion int) {
		w.config(tg.provider, fmt.Sprintf(`
resource "shale_user" "alice" {
  name       = "tf-alice"
  password   = %q
  iterations = %d
}

resource "shale_user" "bob" {
  name                = "tf-bob"
  mechanism           = "SCRAM-SHA-256"
  iterations          = 4096
  password_wo         = "bob-write-only-%d"
  password_wo_version = %d
}
`, alicePassword, aliceIterations, bobVersion, bobVersion))
	}
	config("alice-one", 8192, 1)
	w.apply()
	wantCreds(t, tg.adm, "tf-alice", "SCRAM-SHA-512=8192")
	wantCreds(t, tg.adm, "tf-bob", "SCRAM-SHA-256=4096")
	w.noDrift("after create")
	st := w.state()
	if strings.Contains(st, "bob-write-only") {
		t.Fatalf("the write-only password is in the state:\n%s", st)
	}
	if tg.sasl && !login(t, tg, "SCRAM-SHA-256", "tf-bob", "bob-write-only-1") {
		t.Fatal("a credential the provider set does not log in")
	}

	// In place: alice's password and iterations, bob's write-only
	// password through its version.
	config("alice-two", 4096, 2)
	out := w.drift("after changing passwords")
	mustContain(t, "the plan", out, "0 to add, 2 to change, 0 to destroy")
	w.apply()
	wantCreds(t, tg.adm, "tf-alice", "SCRAM-SHA-512=4096")
	wantCreds(t, tg.adm, "tf-bob", "SCRAM-SHA-256=4096")
	if tg.sasl {
		if !login(t, tg, "SCRAM-SHA-512", "tf-alice", "alice-two") || !login(t, tg, "SCRAM-SHA-256", "tf-bob", "bob-write-only-2") {
			t.Fatal("a changed credential does not log in")
		}
		if login(t, tg, "SCRAM-SHA-256", "tf-bob", "bob-write-only-1") {
			t.Fatal("the old write-only password still logs in")
		}
	}
	w.noDrift("after the update")

	// Drift: iterations changed outside Terraform are planned back.
	if rs, err := tg.adm.AlterUserSCRAMs(testContext(t), nil, []kadm.UpsertSCRAM{{User: "tf-alice", Mechanism: kadm.ScramSha512, Iterations: 10000, Password: "elsewhere"}}); err != nil || rs.Error() != nil {
		t.Fatalf("alter outside Terraform: %v %v", err, rs.Error())
	}
	out = w.drift("after iterations changed outside Terraform")
	mustContain(t, "the drift plan", out, "10000 -> 4096")
	w.apply()
	wantCreds(t, tg.adm, "tf-alice", "SCRAM-SHA-512=4096")
	if tg.sasl && !login(t, tg, "SCRAM-SHA-512", "tf-alice", "alice-two") {
		t.Fatal("the apply after drift did not restore the password")
	}

	// Import a user made outside Terraform: the password cannot be read,
	// so the first plan sets it; after that, nothing.
	if rs, err := tg.adm.AlterUserSCRAMs(testContext(t), nil, []kadm.UpsertSCRAM{{User: "tf-carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol"}}); err != nil || rs.Error() != nil {
		t.Fatalf("create outside Terraform: %v %v", err, rs.Error())
	}
	w.config(tg.provider, `
resource "shale_user" "alice" {
  name       = "tf-alice"
  password   = "alice-two"
  iterations = 4096
}

resource "shale_user" "bob" {
  name                = "tf-bob"
  mechanism           = "SCRAM-SHA-256"
  iterations          = 4096
  password_wo         = "bob-write-only-2"
  password_wo_version = 2
}

resource "shale_user" "carol" {
  name       = "tf-carol"
  password   = "carol-managed"
  iterations = 4096
}
`)
	w.importResource("shale_user.carol", "tf-carol")
	out = w.drift("after the import")
	mustContain(t, "the plan", out, "0 to add, 1 to change, 0 to destroy")
	w.apply()
	w.noDrift("after the import and an apply")
	if tg.sasl && !login(t, tg, "SCRAM-SHA-512", "tf-carol", "carol-managed") {
		t.Fatal("the imported user does not log in with the managed password")
	}

	w.destroy()
	for _, u := range []string{"tf-alice", "tf-bob", "tf-carol"} {
		wantCreds(t, tg.adm, u)
	}
	if tg.sasl && login(t, tg, "SCRAM-SHA-512", "tf-alice", "alice-two") {
		t.Fatal("a destroyed user still logs in")
	}
}

// quotas returns the quotas of one entity, "key=value" sorted by key.
func quotas(t *testing.T, adm *kadm.Client, entity ...kadm.DescribeClientQuotaComponent) string {
	t.Helper()
	ds, err := adm.DescribeClientQuotas(testContext(t), true, entity)
	if err != nil {
		t.Fatalf("describe quotas: %v", err)
	}
	if len(ds) == 0 {
		return ""
	}
	if len(ds) > 1 {
		t.Fatalf("strict describe matched %d entities: %+v", len(ds), ds)
	}
	m := map[string]bool{}
	for _, v := range ds[0].Values {
		m[fmt.Sprintf("%s=%g", v.Key, v.Value)] = true
	}
	ks := keys(m)
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func named(typ, name string) kadm.DescribeClientQuotaComponent {
	return kadm.DescribeClientQuotaComponent{Type: typ, MatchName: kadm.StringPtr(name), MatchType: 0}
}

func byDefault(typ string) kadm.DescribeClientQuotaComponent {
	return kadm.DescribeClientQuotaComponent{Type: typ, MatchType: 1}
}

func quotaScenario(t *testing.T, tg target) {
	w := newWorkspace(t)
	w.config(tg.provider, `
resource "shale_quota" "alice" {
  user   = "tf-alice"
  quotas = { producer_byte_rate = 1048576, consumer_byte_rate = 2097152 }
}

resource "shale_quota" "users" {
  user_default = true
  quotas       = { request_percentage = 50 }
}

resource "shale_quota" "alice_app" {
  user      = "tf-alice"
  client_id = "app"
  quotas    = { producer_byte_rate = 4096 }
}
`)
	w.apply()
	alice := []kadm.DescribeClientQuotaComponent{named("user", "tf-alice")}
	users := []kadm.DescribeClientQuotaComponent{byDefault("user")}
	aliceApp := []kadm.DescribeClientQuotaComponent{named("user", "tf-alice"), named("client-id", "app")}
	want := func(entity []kadm.DescribeClientQuotaComponent, q string) {
		t.Helper()
		if got := quotas(t, tg.adm, entity...); got != q {
			t.Fatalf("quotas of %+v: %q, want %q", entity, got, q)
		}
	}
	want(alice, "consumer_byte_rate=2.097152e+06,producer_byte_rate=1.048576e+06")
	want(users, "request_percentage=50")
	want(aliceApp, "producer_byte_rate=4096")
	w.noDrift("after create")

	// In place: one quota changed, one removed, one added.
	w.config(tg.provider, `
resource "shale_quota" "alice" {
  user   = "tf-alice"
  quotas = { consumer_byte_rate = 1024, request_percentage = 25.5 }
}

resource "shale_quota" "users" {
  user_default = true
  quotas       = { request_percentage = 50 }
}

resource "shale_quota" "alice_app" {
  user      = "tf-alice"
  client_id = "app"
  quotas    = { producer_byte_rate = 4096 }
}
`)
	out := w.drift("after changing quotas")
	mustContain(t, "the plan", out, "0 to add, 1 to change, 0 to destroy")
	w.apply()
	want(alice, "consumer_byte_rate=1024,request_percentage=25.5")
	w.noDrift("after the update")

	// Drift: a quota added outside Terraform is planned away.
	if rs, err := tg.adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: kadm.StringPtr("tf-alice")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 777}},
	}}); err != nil || rs[0].Err != nil {
		t.Fatalf("alter outside Terraform: %v %+v", err, rs)
	}
	out = w.drift("after a quota was added outside Terraform")
	mustContain(t, "the drift plan", out, `- "producer_byte_rate" = 777`)
	w.apply()
	want(alice, "consumer_byte_rate=1024,request_percentage=25.5")

	// Import the default client-id quota, set outside Terraform.
	if rs, err := tg.adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id"}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 65536}},
	}}); err != nil || rs[0].Err != nil {
		t.Fatalf("alter outside Terraform: %v %+v", err, rs)
	}
	w.config(tg.provider, `
resource "shale_quota" "alice" {
  user   = "tf-alice"
  quotas = { consumer_byte_rate = 1024, request_percentage = 25.5 }
}

resource "shale_quota" "users" {
  user_default = true
  quotas       = { request_percentage = 50 }
}

resource "shale_quota" "alice_app" {
  user      = "tf-alice"
  client_id = "app"
  quotas    = { producer_byte_rate = 4096 }
}

resource "shale_quota" "clients" {
  client_id_default = true
  quotas            = { consumer_byte_rate = 65536 }
}
`)
	w.importResource("shale_quota.clients", "client-id=<default>")
	w.noDrift("after the import")

	w.destroy()
	want(alice, "")
	want(users, "")
	want(aliceApp, "")
	want([]kadm.DescribeClientQuotaComponent{byDefault("client-id")}, "")
}
