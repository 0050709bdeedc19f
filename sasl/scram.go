// Package sasl is the server side of the SASL mechanisms Shale's Kafka
// listeners speak: PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512
// (RFC 5802, RFC 7677), the mechanisms of Kafka's SaslHandshake and
// SaslAuthenticate.
//
// A SCRAM credential is stored salted, never as the password:
//
//	SaltedPassword = PBKDF2(HMAC-H, password, salt, iterations, len(H))
//	ClientKey      = HMAC(SaltedPassword, "Client Key")
//	StoredKey      = H(ClientKey)
//	ServerKey      = HMAC(SaltedPassword, "Server Key")
//
// and only (salt, iterations, StoredKey, ServerKey) is kept. The SCRAM
// exchange proves the client knows ClientKey without sending it; PLAIN
// sends the password, which is checked by deriving StoredKey again with
// the stored salt and iterations.
package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Mechanism names as Kafka spells them.
const (
	Plain        = "PLAIN"
	ScramSHA256  = "SCRAM-SHA-256"
	ScramSHA512  = "SCRAM-SHA-512"
	scramPrefix  = "SCRAM-"
	maxUserBytes = 1024
)

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations, and
// the controller's upper limit).
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// ScramMechanisms lists the SCRAM mechanisms in Kafka's numbering order
// (1: SCRAM-SHA-256, 2: SCRAM-SHA-512).
var ScramMechanisms = []string{ScramSHA256, ScramSHA512}

// IsScram reports whether mech is a SCRAM mechanism this package serves.
func IsScram(mech string) bool { return mech == ScramSHA256 || mech == ScramSHA512 }

// newHash returns the hash of a SCRAM mechanism; nil for others.
func newHash(mech string) func() hash.Hash {
	switch mech {
	case ScramSHA256:
		return sha256.New
	case ScramSHA512:
		return sha512.New
	}
	return nil
}

// Credential is a stored SCRAM credential.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// ErrUnknownMechanism is returned for a mechanism that is not SCRAM-SHA-256
// or SCRAM-SHA-512.
var ErrUnknownMechanism = errors.New("unknown SCRAM mechanism")

// SaltPassword is PBKDF2(HMAC-H, password, salt, iterations).
func SaltPassword(mech, password string, salt []byte, iterations int) ([]byte, error) {
	h := newHash(mech)
	if h == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMechanism, mech)
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// FromSaltedPassword derives the stored keys from a salted password, as
// the broker does with what AlterUserScramCredentials sends.
func FromSaltedPassword(mech string, salted, salt []byte, iterations int) (Credential, error) {
	h := newHash(mech)
	if h == nil {
		return Credential{}, fmt.Errorf("%w %q", ErrUnknownMechanism, mech)
	}
	clientKey := mac(h, salted, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return Credential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  mac(h, salted, []byte("Server Key")),
	}, nil
}

// NewCredential salts password with a fresh random salt.
func NewCredential(mech, password string, iterations int) (Credential, error) {
	salt := make([]byte, 32)
	rand.Read(salt)
	salted, err := SaltPassword(mech, password, salt, iterations)
	if err != nil {
		return Credential{}, err
	}
	return FromSaltedPassword(mech, salted, salt, iterations)
}

// CheckPassword reports whether password matches c (the PLAIN check).
func CheckPassword(mech string, c Credential, password string) bool {
	if c.Iterations < 1 || c.Iterations > MaxIterations {
		return false
	}
	salted, err := SaltPassword(mech, password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	d, err := FromSaltedPassword(mech, salted, c.Salt, c.Iterations)
	return err == nil && subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey) == 1
}

func mac(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Lookup finds a user's stored credential for a SCRAM mechanism.
type Lookup func(user, mech string) (Credential, bool)

// ErrAuthentication is the failure of an exchange: wrong password,
// unknown user, or a malformed or out-of-order message. Kafka answers all
// of them with SASL_AUTHENTICATION_FAILED; the wrapped text says which,
// for the broker's log, and never contains a password.
var ErrAuthentication = errors.New("authentication failed")

func authErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAuthentication, fmt.Sprintf(format, args...))
}

// ScramServer is the server side of one SCRAM exchange:
//
//	client-first  n,[a=authzid],n=user,r=cnonce[,ext]   → server-first  r=cnonce+snonce,s=salt,i=iterations
//	client-final  c=base64(gs2 header),r=nonce,p=proof  → server-final  v=signature
//
// An unknown user gets a server-first with a salt derived from the user
// name and fails at the proof, as a wrong password does, so the exchange
// does not tell which users exist. Not safe for concurrent use.
type ScramServer struct {
	mech   string
	h      func() hash.Hash
	lookup Lookup
	// Nonce returns the server's nonce part; tests fix it.
	Nonce func() string
	// FakeSaltKey keys the salt shown for unknown users.
	FakeSaltKey []byte

	step        int
	user        string
	cred        Credential
	known       bool
	gs2Header   string
	nonce       string
	clientFirst string
	serverFirst string
}

// NewScramServer starts an exchange of mech (SCRAM-SHA-256 or -512).
func NewScramServer(mech string, lookup Lookup) (*ScramServer, error) {
	h := newHash(mech)
	if h == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMechanism, mech)
	}
	return &ScramServer{mech: mech, h: h, lookup: lookup, Nonce: randomNonce}, nil
}

func randomNonce() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// User is the authenticated (or claimed, before Done) user name.
func (s *ScramServer) User() string { return s.user }

// Done reports whether the exchange finished successfully.
func (s *ScramServer) Done() bool { return s.step == 2 }

// Step consumes one client message and returns the server's answer. Any
// error ends the exchange.
func (s *ScramServer) Step(msg []byte) ([]byte, error) {
	switch s.step {
	case 0:
		out, err := s.first(string(msg))
		if err != nil {
			s.step = -1
			return nil, err
		}
		s.step = 1
		return out, nil
	case 1:
		out, err := s.final(string(msg))
		if err != nil {
			s.step = -1
			return nil, err
		}
		s.step = 2
		return out, nil
	}
	return nil, authErr("%s exchange is already over", s.mech)
}

func (s *ScramServer) first(msg string) ([]byte, error) {
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, authErr("client-first message has no gs2 header")
	}
	switch flag {
	case "n", "y":
	case "":
		return nil, authErr("client-first message has an empty channel binding flag")
	default:
		return nil, authErr("channel binding %q is not supported", flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, authErr("client-first message has no gs2 header")
	}
	s.gs2Header = flag + "," + authz + ","
	s.clientFirst = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, authErr("client-first message must start n=user,r=nonce")
	}
	user, err := decodeSaslName(attrs[0][2:])
	if err != nil {
		return nil, err
	}
	if user == "" || len(user) > maxUserBytes {
		return nil, authErr("user name of %d bytes", len(user))
	}
	if authz != "" {
		if !strings.HasPrefix(authz, "a=") {
			return nil, authErr("malformed authorization id")
		}
		az, err := decodeSaslName(authz[2:])
		if err != nil {
			return nil, err
		}
		if az != user {
			return nil, authErr("authorization id %q differs from user %q", az, user)
		}
	}
	for _, ext := range attrs[2:] {
		if k, v, _ := strings.Cut(ext, "="); k == "tokenauth" && v == "true" {
			return nil, authErr("delegation tokens are not supported")
		}
	}
	cnonce := attrs[1][2:]
	if cnonce == "" || !printable(cnonce) {
		return nil, authErr("client nonce is empty or not printable")
	}
	s.user = user
	s.cred, s.known = s.lookup(user, s.mech)
	if !s.known {
		s.cred = Credential{Salt: mac(s.h, s.FakeSaltKey, []byte(user)), Iterations: MinIterations}
	}
	s.nonce = cnonce + s.Nonce()
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) + ",i=" + strconv.Itoa(s.cred.Iterations)
	return []byte(s.serverFirst), nil
}

func (s *ScramServer) final(msg string) ([]byte, error) {
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, authErr("client-final message must start c=binding,r=nonce")
	}
	last := attrs[len(attrs)-1]
	if !strings.HasPrefix(last, "p=") {
		return nil, authErr("client-final message must end with the proof")
	}
	cbind, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil || string(cbind) != s.gs2Header {
		return nil, authErr("channel binding does not repeat the gs2 header")
	}
	// RFC 5802 wants the nonce repeated exactly; librdkafka sends its
	// own nonce in front of it again, and Kafka accepts any nonce that
	// ends with the server-first one. So does Shale.
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return nil, authErr("nonce does not match")
	}
	proof, err := base64.StdEncoding.DecodeString(last[2:])
	if err != nil || len(proof) != s.h().Size() {
		return nil, authErr("malformed proof")
	}
	withoutProof := msg[:len(msg)-len(last)-1]
	authMsg := []byte(s.clientFirst + "," + s.serverFirst + "," + withoutProof)
	sig := mac(s.h, s.cred.StoredKey, authMsg)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i%len(sig)]
	}
	h := s.h()
	h.Write(clientKey)
	if !s.known || subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, authErr("invalid credentials with SASL mechanism %s", s.mech)
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac(s.h, s.cred.ServerKey, authMsg))), nil
}

// decodeSaslName undoes RFC 5802's escaping: "=2C" is ',' and "=3D" is '='.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", authErr("user name has a bad escape")
		}
		i += 2
	}
	return b.String(), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
