package metadata

import (
	"strings"
	"testing"
)

// testSectionState is the state of the test-only section 1000: a value per
// state, kept outside state so the section is empty for every other test.
var testSectionState = map[*state]string{}

func init() {
	registerSnapshotSection(snapshotSection{
		id:     1000,
		name:   "test section",
		empty:  func(st *state) bool { return testSectionState[st] == "" },
		encode: func(st *state, w *bodyWriter) { w.string(testSectionState[st]) },
		decode: func(st *state, r *bodyReader) error {
			testSectionState[st] = r.string("test value", 64)
			return r.err
		},
	})
}

func TestSnapshotSectionsRoundTrip(t *testing.T) {
	st := newState()
	testSectionState[st] = "hello"
	defer delete(testSectionState, st)
	b, err := encodeSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSnapshot(b, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer delete(testSectionState, got)
	if testSectionState[got] != "hello" {
		t.Fatalf("section value %q after the round trip", testSectionState[got])
	}

	// An empty section is not written at all.
	empty := newState()
	eb, err := encodeSnapshot(empty)
	if err != nil {
		t.Fatal(err)
	}
	if len(eb) >= len(b) {
		t.Fatalf("empty state's snapshot (%d bytes) not shorter than one with the section (%d)", len(eb), len(b))
	}
}

func TestSnapshotSectionsRejectBadLists(t *testing.T) {
	section := func(id uint64, content []byte) []byte {
		var w bodyWriter
		w.uvarint(id)
		w.uvarint(uint64(len(content)))
		return append(w.b, content...)
	}
	value := func(s string) []byte {
		var w bodyWriter
		w.string(s)
		return w.b
	}
	list := func(parts ...[]byte) []byte {
		var w bodyWriter
		w.uvarint(uint64(len(parts)))
		for _, p := range parts {
			w.b = append(w.b, p...)
		}
		return w.b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"unknown id", list(section(999, nil)), "unknown"},
		{"repeated id", list(section(1000, value("a")), section(1000, value("b"))), "must increase"},
		{"length past end", []byte{1, 0xe8, 0x07, 50, 1}, "exceeds"},
		{"content left over", list(section(1000, append(value("a"), 7))), "trailing"},
		{"content short", list(section(1000, []byte{5, 'a'})), "exceeds"},
		{"count too large", []byte{100}, "count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newState()
			defer delete(testSectionState, st)
			err := st.decodeSections(&bodyReader{b: tc.b})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
