package sasl

import (
	"bytes"
)

// ParsePlain splits a PLAIN message, authzid NUL authcid NUL passwd
// (RFC 4616). As Kafka, it refuses an authorization id other than the
// user itself.
func ParsePlain(msg []byte) (user, password string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", authErr("PLAIN message must be authzid NUL user NUL password")
	}
	authz, u, p := string(parts[0]), string(parts[1]), string(parts[2])
	switch {
	case u == "":
		return "", "", authErr("PLAIN user name is empty")
	case len(u) > maxUserBytes:
		return "", "", authErr("PLAIN user name of %d bytes", len(u))
	case p == "":
		return u, "", authErr("PLAIN password is empty")
	case authz != "" && authz != u:
		return u, "", authErr("authorization id %q differs from user %q", authz, u)
	}
	return u, p, nil
}

// PlainServer checks a PLAIN message against stored SCRAM credentials:
// the password is salted with the salt and iterations of the user's
// SCRAM-SHA-512 credential, or of SCRAM-SHA-256 when that is the only one,
// and must give the stored key.
func PlainServer(msg []byte, lookup Lookup) (user string, err error) {
	user, password, err := ParsePlain(msg)
	if err != nil {
		return user, err
	}
	for _, mech := range []string{ScramSHA512, ScramSHA256} {
		if c, ok := lookup(user, mech); ok {
			if CheckPassword(mech, c, password) {
				return user, nil
			}
			break
		}
	}
	return user, authErr("invalid credentials with SASL mechanism PLAIN")
}
