package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/sasl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASL on SASL_PLAINTEXT and SASL_SSL listeners, as Kafka's
// SaslServerAuthenticator does it. One connection goes through:
//
//	start ──ApiVersions──▶ start
//	start ──SaslHandshake(mech)──▶ handshaken
//	handshaken ──SaslAuthenticate…──▶ authenticated   (PLAIN: one step, SCRAM: two)
//	authenticated ──any request──▶ authenticated       (until the session ends)
//	authenticated ──SaslHandshake(same mech)──▶ handshaken (re-authentication, KIP-368)
//
// Before authentication only ApiVersions, SaslHandshake and
// SaslAuthenticate are served, and frames are limited to
// saslPreAuthMaxFrame bytes; anything else closes the connection, as in
// Kafka. A failed authentication is answered with
// SASL_AUTHENTICATION_FAILED and the connection closes after the
// response. SaslHandshake v0 means the SASL tokens that follow are raw
// (size-prefixed, no Kafka header), as old clients send them.
//
// With connections_max_reauth set, a session lasts that long
// (session_lifetime_ms in SaslAuthenticate v1+); after it ends, any
// request other than a SaslHandshake starting re-authentication closes the
// connection. A re-authentication must keep the mechanism and the
// principal.

// saslPreAuthMaxFrame is Kafka's sasl.server.max.receive.size: the largest
// frame read before authentication.
const saslPreAuthMaxFrame = 512 << 10

// API keys of SASL.
const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// saslSession is one connection's SASL state.
type saslSession struct {
	// mechanism is the handshake's mechanism; "" before one.
	mechanism string
	// exchanging is set from a handshake until its exchange ends.
	exchanging bool
	// raw: the exchange's tokens come without Kafka framing (v0).
	raw bool
	// scram is the SCRAM exchange in progress.
	scram *sasl.ScramServer
	// authenticated: a session exists (it may be re-authenticating).
	authenticated bool
	// user is the authenticated user.
	user string
	// expiry ends the session; zero means never.
	expiry time.Time
}

// frameBounds are the request sizes this connection reads now.
func (c *conn) frameBounds() (least, most int32) {
	switch {
	case c.sasl.raw:
		return 0, saslPreAuthMaxFrame
	case c.listener != nil && c.listener.sasl && !c.sasl.authenticated:
		return 8, min(saslPreAuthMaxFrame, c.s.cfg.MaxRequestBytes)
	}
	return 8, c.s.cfg.MaxRequestBytes
}

// saslGate decides, from the header of a frame on a SASL listener,
// whether it may be served now; an error closes the connection.
func (c *conn) saslGate(frame []byte) error {
	if c.listener == nil || !c.listener.sasl || len(frame) < 2 {
		return nil
	}
	key := int16(binary.BigEndian.Uint16(frame))
	if !c.sasl.authenticated {
		switch key {
		case apiVersionsKey, saslHandshakeKey, saslAuthenticateKey:
			return nil
		}
		return fmt.Errorf("unexpected %s request before SASL authentication", kmsg.NameForKey(key))
	}
	if !c.sasl.expiry.IsZero() && !c.s.now().Before(c.sasl.expiry) {
		if key == saslHandshakeKey || key == saslAuthenticateKey && c.sasl.exchanging {
			return nil
		}
		return fmt.Errorf("SASL session of %s ended at %s without re-authentication", c.principal, c.sasl.expiry.Format(time.RFC3339Nano))
	}
	return nil
}

// mechanismEnabled reports whether mech is in sasl_enabled_mechanisms.
func (s *Server) mechanismEnabled(mech string) bool {
	return slices.Contains(s.cfg.SASLMechanisms, mech)
}

// lookupScram finds a user's stored SCRAM credential.
func (s *Server) lookupScram(user, mech string) (sasl.Credential, bool) {
	m := metadata.ScramSHA256
	if mech == sasl.ScramSHA512 {
		m = metadata.ScramSHA512
	}
	c, ok := s.meta.ScramCredential(user, m)
	if !ok {
		return sasl.Credential{}, false
	}
	return sasl.Credential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
}

// errSASLFailed marks a failed exchange; its text is logged, never sent.
var errSASLFailed = errors.New("SASL authentication failed")

// saslStep runs one step of the exchange with a client token and returns
// the server's token. done reports the exchange finished successfully.
// An error ends the exchange; the caller answers and closes.
func (c *conn) saslStep(token []byte) (out []byte, done bool, err error) {
	s := &c.sasl
	var user string
	switch {
	case s.mechanism == sasl.Plain:
		user, err = sasl.PlainServer(token, c.s.lookupScram)
		done = err == nil
	case sasl.IsScram(s.mechanism):
		if s.scram == nil {
			if s.scram, err = sasl.NewScramServer(s.mechanism, c.s.lookupScram); err != nil {
				break
			}
			s.scram.FakeSaltKey = c.s.fakeSaltKey
		}
		out, err = s.scram.Step(token)
		user, done = s.scram.User(), err == nil && s.scram.Done()
	default:
		err = fmt.Errorf("no SASL mechanism was chosen")
	}
	if err == nil && done && s.authenticated && user != s.user {
		err = fmt.Errorf("cannot change principals during re-authentication from User:%s: User:%s", s.user, user)
	}
	if err != nil {
		claimed := anonymousPrincipal
		if user != "" {
			claimed = "User:" + user
		}
		c.s.log.Warn("SASL authentication failed", "remote", c.nc.RemoteAddr().String(), "listener", c.listener.name,
			"mechanism", s.mechanism, "principal", claimed, "reason", err)
		s.exchanging, s.raw, s.scram = false, false, nil
		return nil, false, fmt.Errorf("%w: %v", errSASLFailed, err)
	}
	if done {
		reauth := s.authenticated
		s.exchanging, s.raw, s.scram = false, false, nil
		s.authenticated, s.user = true, user
		c.principal = "User:" + user
		s.expiry = time.Time{}
		if d := c.s.cfg.ConnectionsMaxReauth; d > 0 {
			s.expiry = c.s.now().Add(d)
		}
		c.s.log.Debug("SASL authenticated", "remote", c.nc.RemoteAddr().String(), "listener", c.listener.name,
			"mechanism", s.mechanism, "principal", c.principal, "reauthentication", reauth)
	}
	return out, done, nil
}

// saslRawToken serves one raw token after a v0 SaslHandshake: the answer
// is a raw token too; a failure closes the connection (v0 has no way to
// say why).
func (c *conn) saslRawToken(token []byte) error {
	out, _, err := c.saslStep(token)
	if err != nil {
		return err
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(out)), uint32(len(out)))
	slot := &response{done: make(chan struct{})}
	slot.finish(net.Buffers{append(buf, out...)})
	c.out <- slot
	return nil
}

// sessionLifetimeMs is what SaslAuthenticate v1+ tells the client.
func (c *conn) sessionLifetimeMs() int64 {
	if c.sasl.expiry.IsZero() {
		return 0
	}
	return max(c.sasl.expiry.Sub(c.s.now()).Milliseconds(), 1)
}
