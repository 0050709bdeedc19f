package checker

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func rec(part int32, off int64, value string) Record {
	return Record{Topic: "t", Partition: part, Offset: off, Value: value}
}

// history is a synthetic run: what was attempted and acknowledged, what
// each consumer read, and the final log.
type history struct {
	attempts []string
	acks     []Record
	reads    map[string][]Record
	final    []Record
}

func (h history) verify() Report {
	r := NewRecorder()
	for _, v := range h.attempts {
		r.Attempt(v)
	}
	for _, a := range h.acks {
		r.Ack(a)
	}
	for name, rs := range h.reads {
		for _, x := range rs {
			r.Observe(name, x)
		}
	}
	return r.Verify(h.final)
}

// clean is a run with nothing wrong: a0..a3 acked and read, u1 attempted
// but its ack lost (present), u2 attempted and failed (absent).
func clean() history {
	return history{
		attempts: []string{"a0", "a1", "a2", "a3", "u1", "u2"},
		acks:     []Record{rec(0, 0, "a0"), rec(1, 0, "a1"), rec(0, 1, "a2"), rec(1, 2, "a3")},
		reads: map[string][]Record{
			"c1": {rec(0, 0, "a0"), rec(1, 0, "a1"), rec(0, 1, "a2"), rec(1, 1, "u1"), rec(1, 2, "a3")},
			"c2": {rec(1, 0, "a1"), rec(1, 1, "u1")},
		},
		final: []Record{rec(0, 0, "a0"), rec(0, 1, "a2"), rec(1, 0, "a1"), rec(1, 1, "u1"), rec(1, 2, "a3")},
	}
}

func TestVerifyClean(t *testing.T) {
	rep := clean().verify()
	if !rep.OK() || rep.Err() != nil {
		t.Fatalf("clean history reported violations:\n%s", rep)
	}
	want := Report{Attempted: 6, Acked: 4, Observed: 7, Final: 5, UnackedPresent: 1, UnackedAbsent: 1}
	if rep.Attempted != want.Attempted || rep.Acked != want.Acked || rep.Observed != want.Observed ||
		rep.Final != want.Final || rep.UnackedPresent != want.UnackedPresent || rep.UnackedAbsent != want.UnackedAbsent {
		t.Fatalf("figures:\n%s\nwant attempted 6, acked 4, observed 7, final 5, unacked present 1, absent 1", rep)
	}
	for _, line := range []string{"records acked:             4", "acked then lost:           0", "duplicated:                0"} {
		if !strings.Contains(rep.String(), line) {
			t.Errorf("report lacks %q:\n%s", line, rep)
		}
	}
}

func TestVerifyFinalInAnyOrderAndRepeated(t *testing.T) {
	h := clean()
	h.final = append(h.final, h.final...)
	h.final[0], h.final[3] = h.final[3], h.final[0]
	if rep := h.verify(); !rep.OK() || rep.Final != 5 {
		t.Fatalf("final log listed twice, out of order:\n%s", rep)
	}
}

func TestVerifyViolations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*history)
		want   map[Kind]int
		detail string // a piece of the first example of the first kind
	}{
		{
			name:   "acked record lost",
			mutate: func(h *history) { h.final = h.final[1:] }, // a0 gone; c1 read it too
			want:   map[Kind]int{Lost: 1, ReadThenGone: 1},
			detail: `"a0" acknowledged at t/0@0`,
		},
		{
			name:   "lost, never read",
			mutate: func(h *history) { h.reads = nil; h.final = h.final[1:] },
			want:   map[Kind]int{Lost: 1},
		},
		{
			name:   "duplicated in the final log",
			mutate: func(h *history) { h.final = append(h.final, rec(1, 3, "a2")) },
			want:   map[Kind]int{Duplicated: 1},
			detail: `"a2" in the final log at t/0@1, t/1@3`,
		},
		{
			name: "acknowledged twice at two offsets",
			mutate: func(h *history) {
				h.acks = append(h.acks, rec(1, 3, "a2"))
				h.final = append(h.final, rec(1, 3, "a2"))
			},
			want:   map[Kind]int{Duplicated: 1},
			detail: `"a2" in the final log`,
		},
		{
			name: "moved",
			mutate: func(h *history) {
				h.reads = nil
				h.final = []Record{rec(0, 0, "a0"), rec(0, 1, "a1"), rec(0, 2, "a2"), rec(1, 2, "a3")}
			},
			want:   map[Kind]int{Moved: 2, OffsetReused: 1},
			detail: `"a1" acknowledged at t/1@0, in the final log at t/0@1`,
		},
		{
			name: "read at one offset, in the final log at another",
			mutate: func(h *history) {
				h.reads = map[string][]Record{"c1": {rec(0, 0, "a0"), rec(0, 1, "a1")}}
			},
			want: map[Kind]int{Moved: 1, OffsetReused: 1},
		},
		{
			name: "offset handed out twice",
			mutate: func(h *history) {
				h.attempts = append(h.attempts, "a4")
				h.acks = append(h.acks, rec(1, 2, "a4"))
			},
			want:   map[Kind]int{Lost: 1, OffsetReused: 1},
			detail: `"a4" acknowledged at t/1@2`,
		},
		{
			name: "offsets going backwards",
			mutate: func(h *history) {
				h.reads = map[string][]Record{"c1": {rec(0, 0, "a0"), rec(0, 1, "a2"), rec(1, 0, "a1"), rec(0, 0, "a0")}}
			},
			want:   map[Kind]int{Backwards: 1},
			detail: "consumer c1 read t/0@0 after offset 1",
		},
		{
			name: "the same offset read twice in one stream",
			mutate: func(h *history) {
				h.reads = map[string][]Record{"c1": {rec(0, 0, "a0"), rec(0, 0, "a0")}}
			},
			want: map[Kind]int{Backwards: 1},
		},
		{
			name: "read and later gone",
			mutate: func(h *history) {
				h.final = h.final[:3] // u1 (never acked, but read) and a3 gone
				h.acks = h.acks[:3]
			},
			want:   map[Kind]int{ReadThenGone: 3}, // c1 read both, c2 read u1
			detail: `consumer c1 read "u1" at t/1@1`,
		},
		{
			name:   "never written",
			mutate: func(h *history) { h.final = append(h.final, rec(1, 3, "zz")) },
			want:   map[Kind]int{NeverWritten: 1},
			detail: `"zz" in the final log at t/1@3`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := clean()
			tc.mutate(&h)
			rep := h.verify()
			if !maps.Equal(nonZero(rep.Violations), tc.want) {
				t.Fatalf("violations %v, want %v\n%s", nonZero(rep.Violations), tc.want, rep)
			}
			if rep.OK() || rep.Err() == nil {
				t.Fatalf("OK with violations:\n%s", rep)
			}
			if tc.detail != "" && !strings.Contains(rep.String(), tc.detail) {
				t.Fatalf("report lacks %q:\n%s", tc.detail, rep)
			}
		})
	}
}

func nonZero(m map[Kind]int) map[Kind]int {
	out := map[Kind]int{}
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

func TestVerifyWithoutAttempts(t *testing.T) {
	h := clean()
	h.attempts = nil
	rep := h.verify()
	if !rep.OK() || rep.Attempted != 0 || rep.UnackedPresent != 0 {
		t.Fatalf("without attempts:\n%s", rep)
	}
}

func TestExamplesBounded(t *testing.T) {
	r := NewRecorder()
	for i := range 50 {
		r.Ack(rec(0, int64(i), "v"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	rep := r.Verify(nil)
	if rep.Count(Lost) != 50 || len(rep.Examples[Lost]) != maxExamples {
		t.Fatalf("lost %d with %d examples", rep.Count(Lost), len(rep.Examples[Lost]))
	}
}

func TestFirstAckAfter(t *testing.T) {
	r := NewRecorder()
	t0 := time.Now()
	r.AckAt(rec(0, 0, "a"), t0.Add(-time.Second))
	if _, ok := r.FirstAckAfter(t0); ok {
		t.Fatal("an ack before t0 counted as after it")
	}
	r.AckAt(rec(0, 2, "c"), t0.Add(3*time.Second))
	r.AckAt(rec(0, 1, "b"), t0.Add(2*time.Second))
	if at, ok := r.FirstAckAfter(t0); !ok || !at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("FirstAckAfter = %v, %v", at, ok)
	}
}
