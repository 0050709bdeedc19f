package metadata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// SCRAM users: the credentials SASL/SCRAM and SASL/PLAIN authenticate
// against, stored salted (salt, iterations, StoredKey, ServerKey per
// mechanism; never the password), changed by AlterScramCredentials
// (Kafka's AlterUserScramCredentials) and kept in snapshot section 1.

// Kafka's SCRAM mechanism numbers (ScramMechanism in the protocol).
const (
	ScramSHA256 int8 = 1
	ScramSHA512 int8 = 2
)

// Kafka's bounds on SCRAM iterations.
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
)

// Bounds of what a credential may hold; they only stop absurd values.
const (
	maxScramUserLen = 1024
	maxScramSaltLen = 1024
	maxScramKeyLen  = 64 // SHA-512
)

// ScramCredential is one user's credential for one mechanism.
type ScramCredential struct {
	Mechanism  int8
	Iterations int32
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// ScramUpsert sets a user's credential for one mechanism.
type ScramUpsert struct {
	User string
	ScramCredential
}

// ScramDeletion removes a user's credential for one mechanism.
type ScramDeletion struct {
	User      string
	Mechanism int8
}

// Errors of AlterScramCredentials, one per operation; the broker maps them
// to Kafka's codes.
var (
	// ErrUnsupportedScramMechanism: not SCRAM-SHA-256 or SCRAM-SHA-512.
	ErrUnsupportedScramMechanism = errors.New("unsupported SCRAM mechanism")
	// ErrUnacceptableCredential: empty user, iterations out of bounds,
	// malformed keys.
	ErrUnacceptableCredential = errors.New("unacceptable credential")
	// ErrScramNotFound: deleting (or describing) a credential that does
	// not exist.
	ErrScramNotFound = errors.New("SCRAM credential does not exist")
	// ErrDuplicateScram: the same user and mechanism twice in one request.
	ErrDuplicateScram = errors.New("SCRAM credential altered twice in one request")
)

// cmdAlterScramCredentials is AlterScramCredentials (SCRAM users own
// command numbers 50–53; 51–53 are free).
const cmdAlterScramCredentials commandType = 50

// alterScramCmd is AlterScramCredentials: deletions, then upserts. Each
// operation succeeds or fails on its own (as in Kafka); Errors in the
// apply result follow Deletions then Upserts.
type alterScramCmd struct {
	Deletions []ScramDeletion `json:",omitempty"`
	Upserts   []ScramUpsert   `json:",omitempty"`
}

func (alterScramCmd) commandType() commandType { return cmdAlterScramCredentials }

// scramUsers is the state's credentials: user -> mechanism -> credential.
// Inner maps are replaced, never changed, so clones share them safely.
type scramUsers map[string]map[int8]ScramCredential

func validScramMechanism(m int8) bool { return m == ScramSHA256 || m == ScramSHA512 }

func scramKeyLen(m int8) int {
	if m == ScramSHA256 {
		return 32
	}
	return 64
}

func validateScramUser(user string) error {
	if user == "" {
		return fmt.Errorf("%w: user name must not be empty", ErrUnacceptableCredential)
	}
	if len(user) > maxScramUserLen {
		return fmt.Errorf("%w: user name of %d bytes, the limit is %d", ErrUnacceptableCredential, len(user), maxScramUserLen)
	}
	return nil
}

// validateScramUpsert applies Kafka's rules to one upsert.
func validateScramUpsert(u ScramUpsert) error {
	if err := validateScramUser(u.User); err != nil {
		return err
	}
	switch {
	case !validScramMechanism(u.Mechanism):
		return fmt.Errorf("%w: mechanism %d", ErrUnsupportedScramMechanism, u.Mechanism)
	case u.Iterations < MinScramIterations:
		return fmt.Errorf("%w: too few iterations (%d, the minimum is %d)", ErrUnacceptableCredential, u.Iterations, MinScramIterations)
	case u.Iterations > MaxScramIterations:
		return fmt.Errorf("%w: too many iterations (%d, the maximum is %d)", ErrUnacceptableCredential, u.Iterations, MaxScramIterations)
	case len(u.Salt) == 0 || len(u.Salt) > maxScramSaltLen:
		return fmt.Errorf("%w: salt of %d bytes", ErrUnacceptableCredential, len(u.Salt))
	case len(u.StoredKey) != scramKeyLen(u.Mechanism) || len(u.ServerKey) != scramKeyLen(u.Mechanism):
		return fmt.Errorf("%w: keys of %d and %d bytes, want %d", ErrUnacceptableCredential, len(u.StoredKey), len(u.ServerKey), scramKeyLen(u.Mechanism))
	}
	return nil
}

// alterScram applies AlterScramCredentials. An operation naming a user and
// mechanism that another operation of the same command names fails with
// ErrDuplicateScram, as does the other.
func (st *state) alterScram(c alterScramCmd) (applyResult, bool) {
	type um struct {
		user string
		mech int8
	}
	seen := make(map[um]int)
	for _, d := range c.Deletions {
		seen[um{d.User, d.Mechanism}]++
	}
	for _, u := range c.Upserts {
		seen[um{u.User, u.Mechanism}]++
	}
	errs := make([]error, 0, len(c.Deletions)+len(c.Upserts))
	changed := false
	for _, d := range c.Deletions {
		var err error
		switch {
		case validateScramUser(d.User) != nil:
			err = validateScramUser(d.User)
		case !validScramMechanism(d.Mechanism):
			err = fmt.Errorf("%w: mechanism %d", ErrUnsupportedScramMechanism, d.Mechanism)
		case seen[um{d.User, d.Mechanism}] > 1:
			err = fmt.Errorf("%w: user %q", ErrDuplicateScram, d.User)
		default:
			if _, ok := st.scram[d.User][d.Mechanism]; !ok {
				err = fmt.Errorf("%w: user %q mechanism %d", ErrScramNotFound, d.User, d.Mechanism)
				break
			}
			creds := maps.Clone(st.scram[d.User])
			delete(creds, d.Mechanism)
			if len(creds) == 0 {
				delete(st.scram, d.User)
			} else {
				st.scram[d.User] = creds
			}
			changed = true
		}
		errs = append(errs, err)
	}
	for _, u := range c.Upserts {
		err := validateScramUpsert(u)
		if err == nil && seen[um{u.User, u.Mechanism}] > 1 {
			err = fmt.Errorf("%w: user %q", ErrDuplicateScram, u.User)
		}
		if err == nil {
			creds := maps.Clone(st.scram[u.User])
			if creds == nil {
				creds = make(map[int8]ScramCredential, 1)
			}
			creds[u.Mechanism] = u.ScramCredential.clone()
			if st.scram == nil {
				st.scram = make(scramUsers)
			}
			st.scram[u.User] = creds
			changed = true
		}
		errs = append(errs, err)
	}
	return applyResult{errs: errs}, changed
}

func (c ScramCredential) clone() ScramCredential {
	c.Salt = slices.Clone(c.Salt)
	c.StoredKey = slices.Clone(c.StoredKey)
	c.ServerKey = slices.Clone(c.ServerKey)
	return c
}

// AlterScramCredentials applies deletions and upserts in one command and
// returns one error (nil for success) per operation: deletions first, then
// upserts, each in the order given. err is for the command as a whole
// (no leader, closed store).
func (s *Store) AlterScramCredentials(ctx context.Context, dels []ScramDeletion, ups []ScramUpsert) ([]error, error) {
	res, err := s.propose(ctx, alterScramCmd{Deletions: dels, Upserts: ups})
	if err != nil {
		return nil, err
	}
	if len(res.errs) != len(dels)+len(ups) {
		return nil, fmt.Errorf("alter SCRAM credentials: %d results for %d operations", len(res.errs), len(dels)+len(ups))
	}
	return res.errs, nil
}

// ScramCredential returns a copy of user's credential for mech.
func (s *Store) ScramCredential(user string, mech int8) (ScramCredential, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	c, ok := s.fsm.st.scram[user][mech]
	if !ok {
		return ScramCredential{}, false
	}
	return c.clone(), true
}

// ScramUser is a user and the mechanisms (with iterations) it has
// credentials for, without the keys.
type ScramUser struct {
	Name       string
	Mechanisms []ScramMechanismInfo
}

// ScramMechanismInfo is what DescribeUserScramCredentials shows of one
// credential.
type ScramMechanismInfo struct {
	Mechanism  int8
	Iterations int32
}

// ScramUsers lists the users with SCRAM credentials, sorted by name, each
// with its mechanisms in ascending order.
func (s *Store) ScramUsers() []ScramUser {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	out := make([]ScramUser, 0, len(s.fsm.st.scram))
	for _, name := range slices.Sorted(maps.Keys(s.fsm.st.scram)) {
		out = append(out, s.fsm.st.scram.user(name))
	}
	return out
}

// ScramUser returns one user's mechanisms; ok is false when it has none.
func (s *Store) ScramUser(name string) (ScramUser, bool) {
	s.fsm.mu.RLock()
	defer s.fsm.mu.RUnlock()
	if _, ok := s.fsm.st.scram[name]; !ok {
		return ScramUser{}, false
	}
	return s.fsm.st.scram.user(name), true
}

func (su scramUsers) user(name string) ScramUser {
	u := ScramUser{Name: name}
	for _, m := range slices.Sorted(maps.Keys(su[name])) {
		u.Mechanisms = append(u.Mechanisms, ScramMechanismInfo{Mechanism: m, Iterations: su[name][m].Iterations})
	}
	return u
}

// The snapshot section (id 1):
//
//	nusers uvarint | per user, by name: name string | ncreds uvarint |
//	    per credential, by mechanism: mechanism uvarint | iterations uvarint |
//	    salt string | stored key string | server key string
//
// Every credential is validated as an upsert would be, so a snapshot
// cannot bring in what the command would refuse.
func init() {
	registerSnapshotSection(snapshotSection{
		id:     sectionSCRAMUsers,
		name:   "SCRAM users",
		empty:  func(st *state) bool { return len(st.scram) == 0 },
		encode: encodeScramSection,
		decode: decodeScramSection,
	})
}

func encodeScramSection(st *state, w *bodyWriter) {
	w.uvarint(uint64(len(st.scram)))
	for _, name := range slices.Sorted(maps.Keys(st.scram)) {
		creds := st.scram[name]
		w.string(name)
		w.uvarint(uint64(len(creds)))
		for _, m := range slices.Sorted(maps.Keys(creds)) {
			c := creds[m]
			w.uvarint(uint64(m))
			w.uvarint(uint64(c.Iterations))
			w.string(string(c.Salt))
			w.string(string(c.StoredKey))
			w.string(string(c.ServerKey))
		}
	}
}

func decodeScramSection(st *state, r *bodyReader) error {
	n := r.count("SCRAM user", 2)
	users := make(scramUsers, n)
	prev := ""
	for i := range n {
		name := r.string("SCRAM user name", maxScramUserLen)
		if r.err != nil {
			break
		}
		if i > 0 && name <= prev {
			r.fail("SCRAM user %q after %q: names must increase", name, prev)
			break
		}
		prev = name
		nc := r.count("SCRAM credential", 5)
		if nc == 0 && r.err == nil {
			r.fail("SCRAM user %q has no credential", name)
		}
		creds := make(map[int8]ScramCredential, nc)
		last := int8(0)
		for range nc {
			m := r.uvarint()
			it := r.uvarint()
			c := ScramCredential{
				Salt:      []byte(r.string("SCRAM salt", maxScramSaltLen)),
				StoredKey: []byte(r.string("SCRAM stored key", maxScramKeyLen)),
				ServerKey: []byte(r.string("SCRAM server key", maxScramKeyLen)),
			}
			if r.err != nil {
				break
			}
			if m > 127 || int8(m) <= last || it > MaxScramIterations {
				r.fail("SCRAM user %q: mechanism %d or iterations %d out of order or range", name, m, it)
				break
			}
			c.Mechanism, c.Iterations = int8(m), int32(it)
			if err := validateScramUpsert(ScramUpsert{User: name, ScramCredential: c}); err != nil {
				r.fail("SCRAM user %q: %v", name, err)
				break
			}
			last = c.Mechanism
			creds[c.Mechanism] = c
		}
		if r.err != nil {
			break
		}
		users[name] = creds
	}
	if r.err != nil {
		return r.err
	}
	st.scram = users
	return nil
}
