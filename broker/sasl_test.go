package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/sasl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// testClock is a clock tests move by hand.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// startSASLServer serves one SASL_PLAINTEXT listener with users alice and
// bob (passwords alice-pw, bob-pw) on a clock the test moves.
func startSASLServer(t testing.TB, mutate func(*Config)) (*wireServer, *testClock) {
	t.Helper()
	clock := &testClock{}
	clock.ns.Store(time.Now().UnixNano())
	ws := startWireServerWith(t, func(c *Config) {
		c.Listeners = []ListenerConfig{{Name: "SASL_PLAINTEXT", Listen: "127.0.0.1:0"}}
		c.SASLMechanisms = []string{sasl.ScramSHA256, sasl.ScramSHA512, sasl.Plain}
		if mutate != nil {
			mutate(c)
		}
	}, func(s *Server) { s.now = clock.now })
	for _, u := range []string{"alice", "bob"} {
		addTestUser(t, ws.meta, u, u+"-pw")
	}
	return ws, clock
}

func addTestUser(t testing.TB, meta *metadata.Store, user, password string) {
	t.Helper()
	var ups []metadata.ScramUpsert
	for i, mech := range sasl.ScramMechanisms {
		c, err := sasl.NewCredential(mech, password, sasl.MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, metadata.ScramUpsert{User: user, ScramCredential: metadata.ScramCredential{
			Mechanism: int8(i + 1), Iterations: int32(c.Iterations), Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey}})
	}
	errs, err := meta.AlterScramCredentials(context.Background(), nil, ups)
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("add user %s: %v %v", user, err, errs)
	}
}

func (c *wireConn) handshake(mech string, version int16) *kmsg.SASLHandshakeResponse {
	c.tb.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = version, mech
	return c.roundTrip(req).(*kmsg.SASLHandshakeResponse)
}

func (c *wireConn) authenticate(token []byte) *kmsg.SASLAuthenticateResponse {
	c.tb.Helper()
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = 2, token
	return c.roundTrip(req).(*kmsg.SASLAuthenticateResponse)
}

// scramLogin runs a whole SCRAM exchange with franz-go's client and
// returns the last response (an error one if the server refused).
func (c *wireConn) scramLogin(mech, user, password string) *kmsg.SASLAuthenticateResponse {
	c.tb.Helper()
	if hs := c.handshake(mech, 1); hs.ErrorCode != 0 {
		c.tb.Fatalf("handshake %s: %v", mech, kerr.ErrorForCode(hs.ErrorCode))
	}
	a := scram.Auth{User: user, Pass: password}
	m := a.AsSha256Mechanism()
	if mech == sasl.ScramSHA512 {
		m = a.AsSha512Mechanism()
	}
	sess, msg, err := m.Authenticate(context.Background(), "")
	if err != nil {
		c.tb.Fatal(err)
	}
	for {
		resp := c.authenticate(msg)
		if resp.ErrorCode != 0 {
			return resp
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			c.tb.Fatalf("client refused the server's %s message: %v", mech, err)
		}
		if done {
			return resp
		}
		msg = next
	}
}

func (c *wireConn) metadataOK() {
	c.tb.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	if resp := c.roundTrip(req).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		c.tb.Fatalf("metadata lists %d brokers", len(resp.Brokers))
	}
}

// TestSASLHandshakeStates walks the state machine of one connection
// through each refusal Kafka makes, on fresh connections, and through
// successful PLAIN and SCRAM logins.
func TestSASLHandshakeStates(t *testing.T) {
	ws, _ := startSASLServer(t, nil)

	// Before authentication: ApiVersions is served, Metadata closes.
	c := dialWire(t, ws.addr)
	c.checkAlive()
	c.send(kmsg.NewPtrMetadataRequest())
	c.expectClosed()

	// An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled
	// ones, then closed.
	c = dialWire(t, ws.addr)
	hs := c.handshake("GSSAPI", 1)
	if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hs.SupportedMechanisms) != 3 {
		t.Fatalf("GSSAPI handshake: %v %v", kerr.ErrorForCode(hs.ErrorCode), hs.SupportedMechanisms)
	}
	c.expectClosed()

	// SaslAuthenticate without a handshake: ILLEGAL_SASL_STATE, closed.
	c = dialWire(t, ws.addr)
	if r := c.authenticate([]byte("\x00alice\x00alice-pw")); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate before handshake: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.expectClosed()

	// A second handshake in the middle of an exchange: closed.
	c = dialWire(t, ws.addr)
	c.handshake(sasl.Plain, 1)
	if hs := c.handshake(sasl.Plain, 1); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake twice: %v", kerr.ErrorForCode(hs.ErrorCode))
	}
	c.expectClosed()

	// A wrong PLAIN password: SASL_AUTHENTICATION_FAILED with Kafka's
	// message, then closed.
	c = dialWire(t, ws.addr)
	c.handshake(sasl.Plain, 1)
	r := c.authenticate([]byte("\x00alice\x00wrong"))
	if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil ||
		*r.ErrorMessage != "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN" {
		t.Fatalf("wrong password: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	c.expectClosed()

	// The right one: served, as User:alice; no session limit.
	c = dialWire(t, ws.addr)
	c.handshake(sasl.Plain, 1)
	if r := c.authenticate([]byte("\x00alice\x00alice-pw")); r.ErrorCode != 0 || r.SessionLifetimeMillis != 0 {
		t.Fatalf("PLAIN: %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
	}
	c.metadataOK()

	// SCRAM, both mechanisms; a wrong password and an unknown user fail
	// alike, at the proof.
	for _, mech := range sasl.ScramMechanisms {
		c = dialWire(t, ws.addr)
		if r := c.scramLogin(mech, "bob", "bob-pw"); r.ErrorCode != 0 {
			t.Fatalf("%s: %v", mech, kerr.ErrorForCode(r.ErrorCode))
		}
		c.metadataOK()
		for _, who := range [][2]string{{"bob", "nope"}, {"mallory", "bob-pw"}} {
			c = dialWire(t, ws.addr)
			if r := c.scramLogin(mech, who[0], who[1]); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
				t.Fatalf("%s as %s/%s: %v", mech, who[0], who[1], kerr.ErrorForCode(r.ErrorCode))
			}
			c.expectClosed()
		}
	}

	// A frame larger than Kafka's pre-authentication limit closes.
	c = dialWire(t, ws.addr)
	c.nc.Write(binary.BigEndian.AppendUint32(nil, saslPreAuthMaxFrame+1))
	c.expectClosed()
}

// TestSASLHandshakeV0Raw: after SaslHandshake v0 the tokens are raw
// (size-prefixed, no Kafka header), as old clients send them.
func TestSASLHandshakeV0Raw(t *testing.T) {
	ws, _ := startSASLServer(t, nil)
	c := dialWire(t, ws.addr)
	if hs := c.handshake(sasl.Plain, 0); hs.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(hs.ErrorCode))
	}
	token := []byte("\x00alice\x00alice-pw")
	c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
		t.Fatalf("raw PLAIN answer: % x %v", size, err)
	}
	c.metadataOK()

	// A wrong raw password closes the connection without an answer.
	c = dialWire(t, ws.addr)
	c.handshake(sasl.Plain, 0)
	token = []byte("\x00alice\x00wrong")
	c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...))
	c.expectClosed()
}

// TestSASLReauthentication: with connections_max_reauth the client is
// told its session lifetime; past it, anything but a re-authentication
// closes the connection; a re-authentication renews the session, and one
// that changes the principal or the mechanism is refused.
func TestSASLReauthentication(t *testing.T) {
	ws, clock := startSASLServer(t, func(c *Config) { c.ConnectionsMaxReauth = time.Minute })

	c := dialWire(t, ws.addr)
	r := c.scramLogin(sasl.ScramSHA256, "alice", "alice-pw")
	if r.ErrorCode != 0 || r.SessionLifetimeMillis != time.Minute.Milliseconds() {
		t.Fatalf("login: %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
	}
	c.metadataOK()
	clock.advance(50 * time.Second)
	c.metadataOK() // within the session
	// Re-authenticate before the end: a new full lifetime.
	if r := c.scramLogin(sasl.ScramSHA256, "alice", "alice-pw"); r.ErrorCode != 0 || r.SessionLifetimeMillis != time.Minute.Milliseconds() {
		t.Fatalf("re-authentication: %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
	}
	clock.advance(50 * time.Second) // 100s after the first login
	c.metadataOK()
	clock.advance(11 * time.Second)
	// Past the end: re-authentication is still allowed ...
	if r := c.scramLogin(sasl.ScramSHA256, "alice", "alice-pw"); r.ErrorCode != 0 {
		t.Fatalf("late re-authentication: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.metadataOK()
	// ... anything else closes.
	clock.advance(time.Minute)
	c.send(kmsg.NewPtrMetadataRequest())
	c.expectClosed()

	// Re-authentication as someone else fails and closes.
	c = dialWire(t, ws.addr)
	c.scramLogin(sasl.ScramSHA256, "alice", "alice-pw")
	if r := c.scramLogin(sasl.ScramSHA256, "bob", "bob-pw"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as bob: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.expectClosed()

	// Re-authentication with another mechanism is refused at the handshake.
	c = dialWire(t, ws.addr)
	c.scramLogin(sasl.ScramSHA256, "alice", "alice-pw")
	if hs := c.handshake(sasl.ScramSHA512, 1); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("re-authentication with another mechanism: %v", kerr.ErrorForCode(hs.ErrorCode))
	}
	c.expectClosed()
}

// TestSASLOnPlaintextListener: on a listener without SASL, SASL requests
// are ILLEGAL_SASL_STATE and the connection stays.
func TestSASLOnPlaintextListener(t *testing.T) {
	ws := startWireServer(t, nil)
	c := dialWire(t, ws.addr)
	if hs := c.handshake(sasl.Plain, 1); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake: %v", kerr.ErrorForCode(hs.ErrorCode))
	}
	if r := c.authenticate(nil); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.checkAlive()
}

// TestListenersAdvertiseTheirOwn: a client is told the endpoints of the
// listener it connected through, in Metadata, FindCoordinator and
// DescribeCluster.
func TestListenersAdvertiseTheirOwn(t *testing.T) {
	ws := startWireServer(t, func(c *Config) {
		c.Listeners = []ListenerConfig{
			{Name: "CLIENT", Listen: "127.0.0.1:0", Advertised: "client.example:19092", SecurityProtocol: "PLAINTEXT"},
			{Name: "INTERNAL", Listen: "127.0.0.1:0", Advertised: "internal.example:29092", SecurityProtocol: "PLAINTEXT"},
		}
	})
	for name, want := range map[string]string{"CLIENT": "client.example:19092", "INTERNAL": "internal.example:29092"} {
		c := dialWire(t, ws.ListenerAddr(name))
		md := c.roundTrip(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
		if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, itoa(md.Brokers[0].Port)) != want {
			t.Fatalf("%s: metadata brokers %+v, want %s", name, md.Brokers, want)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = "g"
		fr := c.roundTrip(fc).(*kmsg.FindCoordinatorResponse)
		if net.JoinHostPort(fr.Host, itoa(fr.Port)) != want {
			t.Fatalf("%s: coordinator %s:%d, want %s", name, fr.Host, fr.Port, want)
		}
		dc := c.roundTrip(kmsg.NewPtrDescribeClusterRequest()).(*kmsg.DescribeClusterResponse)
		if len(dc.Brokers) != 1 || net.JoinHostPort(dc.Brokers[0].Host, itoa(dc.Brokers[0].Port)) != want {
			t.Fatalf("%s: describe cluster %+v, want %s", name, dc.Brokers, want)
		}
	}
	b, _ := ws.meta.Broker(ws.cfg.NodeID)
	if len(b.Listeners) != 2 || b.Host != "client.example" || b.Port != 19092 {
		t.Fatalf("registration %+v", b)
	}
}

func itoa(p int32) string { return fmt.Sprint(p) }

// TestListenersAcrossBrokers: through a listener, other brokers are shown
// at their endpoint of the same name; a broker without that listener is
// left out and the partitions it leads answer LISTENER_NOT_FOUND, as in
// Kafka; through a listener every broker has, all are shown.
func TestListenersAcrossBrokers(t *testing.T) {
	ws := startWireServer(t, func(c *Config) {
		c.Listeners = []ListenerConfig{
			{Name: "CLIENT", Listen: "127.0.0.1:0", SecurityProtocol: "PLAINTEXT"},
			{Name: "INTERNAL", Listen: "127.0.0.1:0", SecurityProtocol: "PLAINTEXT"},
		}
	})
	ctx := context.Background()
	for _, b := range []metadata.Broker{
		{ID: 2, Host: "b2", Port: 1, Listeners: []metadata.Endpoint{{Name: "CLIENT", Host: "b2-client", Port: 19092}, {Name: "INTERNAL", Host: "b2-internal", Port: 29092}}},
		{ID: 3, Host: "b3", Port: 1, Listeners: []metadata.Endpoint{{Name: "INTERNAL", Host: "b3-internal", Port: 29092}}},
	} {
		if _, err := ws.meta.RegisterBroker(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	ws.createTopic(t, "spread", 6, nil)
	leaders := map[int32]bool{}
	for _, p := range ws.topics.byName("spread").meta.Partitions {
		leaders[p.Leader] = true
	}
	if !leaders[3] {
		t.Skipf("no partition led by broker 3 (leaders %v)", leaders)
	}
	see := func(listener string) (map[int32]string, map[int32]int16) {
		c := dialWire(t, ws.ListenerAddr(listener))
		md := c.roundTrip(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
		brokers, errs := map[int32]string{}, map[int32]int16{}
		for _, b := range md.Brokers {
			brokers[b.NodeID] = fmt.Sprintf("%s:%d", b.Host, b.Port)
		}
		for _, tp := range md.Topics {
			for _, p := range tp.Partitions {
				errs[p.Partition] = p.ErrorCode
				if p.ErrorCode != 0 && p.Leader != -1 {
					t.Fatalf("%s: partition %d has error %d and leader %d", listener, p.Partition, p.ErrorCode, p.Leader)
				}
			}
		}
		return brokers, errs
	}
	brokers, errs := see("CLIENT")
	if len(brokers) != 2 || brokers[2] != "b2-client:19092" {
		t.Fatalf("CLIENT sees %v", brokers)
	}
	for i, p := range ws.topics.byName("spread").meta.Partitions {
		want := int16(0)
		if p.Leader == 3 {
			want = kerr.ListenerNotFound.Code
		}
		if errs[int32(i)] != want {
			t.Fatalf("CLIENT: partition %d led by %d: error %d, want %d", i, p.Leader, errs[int32(i)], want)
		}
	}
	brokers, errs = see("INTERNAL")
	if len(brokers) != 3 || brokers[2] != "b2-internal:29092" || brokers[3] != "b3-internal:29092" {
		t.Fatalf("INTERNAL sees %v", brokers)
	}
	for p, code := range errs {
		if code != 0 {
			t.Fatalf("INTERNAL: partition %d error %d", p, code)
		}
	}
}
