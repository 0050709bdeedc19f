package metadata

import (
	"bytes"
	"errors"
	"testing"
)

func testScram(user string, mech int8, iters int32) ScramUpsert {
	n := scramKeyLen(mech)
	return ScramUpsert{User: user, ScramCredential: ScramCredential{Mechanism: mech, Iterations: iters,
		Salt: []byte("salt-" + user), StoredKey: bytes.Repeat([]byte{1}, n), ServerKey: bytes.Repeat([]byte{2}, n)}}
}

// scramLog is a few AlterScramCredentials commands, for tests and fuzz seeds.
func scramLog() []command {
	return []command{
		alterScramCmd{Upserts: []ScramUpsert{testScram("alice", ScramSHA256, 4096), testScram("alice", ScramSHA512, 8192), testScram("bob", ScramSHA512, 16384)}},
		alterScramCmd{Deletions: []ScramDeletion{{User: "alice", Mechanism: ScramSHA256}}, Upserts: []ScramUpsert{testScram("carol", ScramSHA256, 4096)}},
		alterScramCmd{Deletions: []ScramDeletion{{User: "nobody", Mechanism: ScramSHA256}}, Upserts: []ScramUpsert{testScram("x", ScramSHA256, 100)}},
	}
}

func TestAlterScram(t *testing.T) {
	a := newApplier(t)
	res := a.apply(scramLog()[0])
	if res.err != nil || len(res.errs) != 3 || errors.Join(res.errs...) != nil {
		t.Fatalf("upserts: %v %v", res.err, res.errs)
	}
	res = a.apply(scramLog()[1])
	if errors.Join(res.errs...) != nil {
		t.Fatalf("delete and upsert: %v", res.errs)
	}
	if _, ok := a.f.st.scram["alice"][ScramSHA256]; ok {
		t.Fatal("alice's SCRAM-SHA-256 survived its deletion")
	}
	if c := a.f.st.scram["alice"][ScramSHA512]; c.Iterations != 8192 {
		t.Fatalf("alice's SCRAM-SHA-512: %+v", c)
	}

	up := func(u ScramUpsert) error { return a.apply(alterScramCmd{Upserts: []ScramUpsert{u}}).errs[0] }
	bad := testScram("y", ScramSHA256, 4096)
	bad.StoredKey = bad.StoredKey[:5]
	for _, tc := range []struct {
		u    ScramUpsert
		want error
	}{
		{testScram("", ScramSHA256, 4096), ErrUnacceptableCredential},
		{testScram("y", 3, 4096), ErrUnsupportedScramMechanism},
		{testScram("y", ScramSHA256, 4095), ErrUnacceptableCredential},
		{testScram("y", ScramSHA512, 16385), ErrUnacceptableCredential},
		{bad, ErrUnacceptableCredential},
	} {
		if err := up(tc.u); !errors.Is(err, tc.want) {
			t.Errorf("upsert %q mech %d iterations %d: %v, want %v", tc.u.User, tc.u.Mechanism, tc.u.Iterations, err, tc.want)
		}
	}
	res = a.apply(scramLog()[2])
	if !errors.Is(res.errs[0], ErrScramNotFound) || !errors.Is(res.errs[1], ErrUnacceptableCredential) {
		t.Fatalf("missing deletion and low iterations: %v", res.errs)
	}
	res = a.apply(alterScramCmd{Deletions: []ScramDeletion{{User: "bob", Mechanism: ScramSHA512}}, Upserts: []ScramUpsert{testScram("bob", ScramSHA512, 4096)}})
	if !errors.Is(res.errs[0], ErrDuplicateScram) || !errors.Is(res.errs[1], ErrDuplicateScram) {
		t.Fatalf("the same credential twice: %v", res.errs)
	}
	if c := a.f.st.scram["bob"][ScramSHA512]; c.Iterations != 16384 {
		t.Fatalf("bob changed by a refused request: %+v", c)
	}

	// The credentials survive a snapshot round trip, and a state without
	// users writes no section.
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.scram) != 3 || !bytes.Equal(st.scram["carol"][ScramSHA256].Salt, []byte("salt-carol")) {
		t.Fatalf("restored users: %+v", st.scram)
	}
	a.must(alterScramCmd{Deletions: []ScramDeletion{{User: "alice", Mechanism: ScramSHA512}, {User: "bob", Mechanism: ScramSHA512}, {User: "carol", Mechanism: ScramSHA256}}})
	if len(a.f.st.scram) != 0 {
		t.Fatalf("users left: %v", a.f.st.scram)
	}
	empty := newApplier(t)
	if !bytes.Equal(a.snapshotBytes(), empty.snapshotBytes()) {
		t.Fatal("a state whose users were all deleted snapshots differently from one that never had any")
	}
}

func TestScramSectionRejects(t *testing.T) {
	enc := func(users scramUsers) []byte {
		var w bodyWriter
		encodeScramSection(&state{scram: users}, &w)
		return w.b
	}
	good := testScram("u", ScramSHA256, 4096).ScramCredential
	lowIters := good
	lowIters.Iterations = 10
	for name, b := range map[string][]byte{
		"low iterations": enc(scramUsers{"u": {ScramSHA256: lowIters}}),
		"no credential":  enc(scramUsers{"u": {}}),
		"bad mechanism":  enc(scramUsers{"u": {7: good}}),
		"truncated":      enc(scramUsers{"u": {ScramSHA256: good}})[:10],
	} {
		st := newState()
		r := &bodyReader{b: b}
		err := decodeScramSection(st, r)
		if err == nil {
			err = r.done()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestBrokerListenersRoundTrip: a registration with listeners keeps them
// through a snapshot; one without (as written before listeners existed)
// still decodes and is reached at Host:Port.
func TestBrokerListenersRoundTrip(t *testing.T) {
	a := newApplier(t)
	b := Broker{ID: 1, Host: "h", Port: 9092, Listeners: []Endpoint{{Name: "CLIENT", Host: "h", Port: 9092, Protocol: "SASL_SSL"}, {Name: "INTERNAL", Host: "i", Port: 9093, Protocol: "PLAINTEXT"}}}
	a.must(registerBrokerCmd{Broker: b})
	a.must(registerBrokerCmd{Broker: Broker{ID: 2, Host: "old", Port: 9092}})
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if h, p, ok := st.brokers[1].Endpoint("INTERNAL"); !ok || h != "i" || p != 9093 {
		t.Fatalf("INTERNAL endpoint %s:%d %v", h, p, ok)
	}
	if _, _, ok := st.brokers[1].Endpoint("OTHER"); ok {
		t.Fatal("a listener the broker lacks was found")
	}
	if h, p, ok := st.brokers[2].Endpoint("CLIENT"); !ok || h != "old" || p != 9092 {
		t.Fatalf("a broker without listeners: %s:%d %v", h, p, ok)
	}
	if res := a.apply(registerBrokerCmd{Broker: Broker{ID: 3, Host: "h", Port: 1, Listeners: []Endpoint{{Name: "A", Host: "h", Port: 1}, {Name: "A", Host: "h", Port: 2}}}}); !errors.Is(res.err, ErrInvalidRequest) {
		t.Fatalf("two listeners of one name: %v", res.err)
	}
}
