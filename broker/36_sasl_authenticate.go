package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslAuthenticate: v0–v2.
//
// Carries one token of the exchange a SaslHandshake v1 started (see
// sasl.go). A failed exchange is SASL_AUTHENTICATION_FAILED with Kafka's
// message, and the connection closes after the response. v1 and later
// tell the client its session lifetime (KIP-368) when
// connections_max_reauth is set. Out of turn (no handshake before it) it
// is ILLEGAL_SASL_STATE and the connection closes; on a listener without
// SASL it is ILLEGAL_SASL_STATE and the connection stays.
func handleSASLAuthenticate(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := rc.conn
	if c.listener == nil || !c.listener.sasl {
		msg := "SaslAuthenticate on a listener without SASL"
		resp.ErrorCode, resp.ErrorMessage = kerr.IllegalSaslState.Code, &msg
		rc.respond(resp)
		return
	}
	if !c.sasl.exchanging || c.sasl.raw {
		msg := "Unexpected SaslAuthenticate request: no SaslHandshake v1 started an exchange"
		resp.ErrorCode, resp.ErrorMessage = kerr.IllegalSaslState.Code, &msg
		c.closeErr = errors.New(msg)
		rc.respond(resp)
		return
	}
	mech := c.sasl.mechanism
	out, done, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		msg := fmt.Sprintf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", mech)
		resp.ErrorCode, resp.ErrorMessage = kerr.SaslAuthenticationFailed.Code, &msg
		c.closeErr = err
		rc.respond(resp)
		return
	}
	resp.SASLAuthBytes = out
	if done {
		resp.SessionLifetimeMillis = c.sessionLifetimeMs()
	}
	rc.respond(resp)
}
