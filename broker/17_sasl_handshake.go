package broker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake: v0–v1.
//
// On a SASL listener it chooses the mechanism of the exchange that
// follows (see sasl.go): v1 with SaslAuthenticate requests, v0 with raw
// tokens. A mechanism not in sasl_enabled_mechanisms is
// UNSUPPORTED_SASL_MECHANISM with the enabled ones; a handshake in the
// middle of an exchange, or a re-authentication that changes the
// mechanism, is ILLEGAL_SASL_STATE; both close the connection after the
// response, as Kafka does. On a listener without SASL the answer is
// ILLEGAL_SASL_STATE and the connection stays.
func handleSASLHandshake(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := rc.conn
	if c.listener == nil || !c.listener.sasl {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		rc.respond(resp)
		return
	}
	resp.SupportedMechanisms = slices.Clone(s.cfg.SASLMechanisms)
	fail := func(e *kerr.Error, why string) {
		resp.ErrorCode = e.Code
		c.closeErr = fmt.Errorf("SaslHandshake %q refused: %s", req.Mechanism, why)
		rc.respond(resp)
	}
	switch {
	case c.sasl.exchanging:
		fail(kerr.IllegalSaslState, "an exchange is already in progress")
	case !s.mechanismEnabled(req.Mechanism):
		fail(kerr.UnsupportedSaslMechanism, "the mechanism is not enabled")
	case c.sasl.authenticated && req.Mechanism != c.sasl.mechanism:
		fail(kerr.IllegalSaslState, "re-authentication must keep the mechanism "+c.sasl.mechanism)
	case c.sasl.authenticated && req.Version == 0:
		fail(kerr.IllegalSaslState, "re-authentication needs SaslHandshake v1")
	default:
		c.sasl.mechanism, c.sasl.exchanging, c.sasl.raw = req.Mechanism, true, req.Version == 0
		rc.respond(resp)
	}
}
