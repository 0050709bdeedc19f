package sasl

import (
	"errors"
	"testing"
)

// FuzzScramServer feeds arbitrary client-first and client-final messages
// to the server: it must not panic, must fail only with ErrAuthentication,
// and must never finish an exchange with a proof it did not check.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), []byte("c=biws,r=rOprNGfwEbeRWgbNEkqOS,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add([]byte("y,a=u,n=u,r=x,ext=1"), []byte("c=eSxhPXUs,r=xS,p="))
	f.Add([]byte("n,,n=a=2Cb=3D,r=1"), []byte(""))
	cred, _ := NewCredential(ScramSHA256, "pencil", 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		srv, _ := NewScramServer(ScramSHA256, func(string, string) (Credential, bool) { return cred, true })
		srv.Nonce = func() string { return "S" }
		if _, err := srv.Step(first); err != nil {
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("client-first error %v", err)
			}
			return
		}
		if _, err := srv.Step(final); err != nil {
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("client-final error %v", err)
			}
			return
		}
		t.Fatalf("a fuzzed exchange authenticated: %q / %q", first, final)
	})
}

// FuzzPlain feeds arbitrary PLAIN messages: no panic, only
// ErrAuthentication, and only the right password passes.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00u\x00pw"))
	f.Add([]byte("u\x00u\x00x"))
	cred, _ := NewCredential(ScramSHA512, "pw", 4096)
	f.Fuzz(func(t *testing.T, msg []byte) {
		user, err := PlainServer(msg, func(u, m string) (Credential, bool) { return cred, u == "u" && m == ScramSHA512 })
		if err != nil {
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if user != "u" {
			t.Fatalf("authenticated %q", user)
		}
	})
}
