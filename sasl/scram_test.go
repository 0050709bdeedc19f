package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestScramRFC7677 replays the SCRAM-SHA-256 example of RFC 7677 section 3
// against the server: the same server-first for the same nonces and salt,
// and the same server signature for the client's proof.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	salted, err := SaltPassword(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := FromSaltedPassword(ScramSHA256, salted, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewScramServer(ScramSHA256, func(user, mech string) (Credential, bool) {
		return cred, user == "user" && mech == ScramSHA256
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	first, err := srv.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, err := srv.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}
	if !srv.Done() || srv.User() != "user" {
		t.Fatalf("done %v user %q", srv.Done(), srv.User())
	}
	if _, err := srv.Step([]byte("more")); err == nil {
		t.Fatal("a message after the exchange was accepted")
	}
}

// exchange runs franz-go's SCRAM client against the server.
func exchange(t *testing.T, mech, user, pass string, lookup Lookup) (string, error) {
	t.Helper()
	a := scram.Auth{User: user, Pass: pass}
	m := a.AsSha256Mechanism()
	if mech == ScramSHA512 {
		m = a.AsSha512Mechanism()
	}
	sess, msg, err := m.Authenticate(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewScramServer(mech, lookup)
	if err != nil {
		t.Fatal(err)
	}
	for {
		out, err := srv.Step(msg)
		if err != nil {
			return srv.User(), err
		}
		done, next, err := sess.Challenge(out)
		if err != nil {
			t.Fatalf("client refused the server: %v", err)
		}
		if done {
			if !srv.Done() {
				t.Fatal("client done before the server")
			}
			return srv.User(), nil
		}
		msg = next
	}
}

// TestScramWithFranzGo: franz-go's client authenticates with the right
// password in both mechanisms and fails with a wrong one or an unknown
// user, at the proof.
func TestScramWithFranzGo(t *testing.T) {
	for _, mech := range ScramMechanisms {
		cred, err := NewCredential(mech, "s3cret, with=commas", 4096)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(user, m string) (Credential, bool) { return cred, user == "al,ice=" && m == mech }
		if u, err := exchange(t, mech, "al,ice=", "s3cret, with=commas", lookup); err != nil || u != "al,ice=" {
			t.Fatalf("%s: right password: user %q err %v", mech, u, err)
		}
		if _, err := exchange(t, mech, "al,ice=", "wrong", lookup); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("%s: wrong password: %v", mech, err)
		}
		if _, err := exchange(t, mech, "bob", "s3cret, with=commas", lookup); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("%s: unknown user: %v", mech, err)
		}
	}
}

func TestScramRejectsMalformed(t *testing.T) {
	cred, _ := NewCredential(ScramSHA256, "p", 4096)
	lookup := func(string, string) (Credential, bool) { return cred, true }
	for _, msg := range []string{
		"", "n", "n,,", "p=tls-unique,,n=u,r=x", "n,,r=x,n=u", "n,,n=,r=x", "n,,n=u,r=", "n,,n=u=ZZ,r=x",
		"n,a=v,n=u,r=x", "n,,n=u,r=x,tokenauth=true", "n,,n=u,r=a b",
	} {
		srv, _ := NewScramServer(ScramSHA256, lookup)
		if _, err := srv.Step([]byte(msg)); !errors.Is(err, ErrAuthentication) {
			t.Errorf("client-first %q: %v", msg, err)
		}
	}
	for _, msg := range []string{"", "c=biws", "c=biws,r=NONCE", "c=eSws,r=NONCE,p=AAAA", "c=biws,r=other,p=AAAA", "c=biws,r=NONCE,p=!!"} {
		srv, _ := NewScramServer(ScramSHA256, lookup)
		srv.Nonce = func() string { return "S" }
		if _, err := srv.Step([]byte("n,,n=u,r=C")); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Step([]byte(strings.ReplaceAll(msg, "NONCE", "CS"))); !errors.Is(err, ErrAuthentication) {
			t.Errorf("client-final %q: %v", msg, err)
		}
	}
	if _, err := NewScramServer("SCRAM-SHA-1", lookup); !errors.Is(err, ErrUnknownMechanism) {
		t.Fatalf("SCRAM-SHA-1: %v", err)
	}
}

func TestPlain(t *testing.T) {
	cred, _ := NewCredential(ScramSHA256, "pw", 4096)
	lookup := func(user, mech string) (Credential, bool) { return cred, user == "u" && mech == ScramSHA256 }
	for _, tc := range []struct {
		msg string
		ok  bool
	}{
		{"\x00u\x00pw", true}, {"u\x00u\x00pw", true}, {"\x00u\x00bad", false}, {"x\x00u\x00pw", false},
		{"\x00v\x00pw", false}, {"\x00u\x00", false}, {"u\x00pw", false}, {"\x00\x00pw", false}, {"\x00u\x00pw\x00", false},
	} {
		_, err := PlainServer([]byte(tc.msg), lookup)
		if (err == nil) != tc.ok {
			t.Errorf("PLAIN %q: err %v, want ok=%v", tc.msg, err, tc.ok)
		}
	}
}

// BenchmarkSaltPassword is the PBKDF2 a SCRAM client runs per login (and
// the broker per PLAIN login) at Kafka's minimum of 4096 iterations.
func BenchmarkSaltPassword(b *testing.B) {
	for _, mech := range ScramMechanisms {
		b.Run(mech, func(b *testing.B) {
			salt := make([]byte, 32)
			for range b.N {
				if _, err := SaltPassword(mech, "password", salt, MinIterations); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
