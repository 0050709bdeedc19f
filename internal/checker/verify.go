package checker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxExamples is how many examples of each kind a Report keeps.
const maxExamples = 5

// Kind names one kind of violation.
type Kind string

// The kinds of violation Verify finds; the package doc defines each.
const (
	Lost         Kind = "acked then lost"
	Duplicated   Kind = "duplicated"
	Moved        Kind = "moved"
	OffsetReused Kind = "offset reused"
	Backwards    Kind = "offsets going backwards"
	ReadThenGone Kind = "read then gone"
	NeverWritten Kind = "never written"
)

// Kinds lists every kind, in the order a Report prints them.
func Kinds() []Kind {
	return []Kind{Lost, Duplicated, Moved, OffsetReused, Backwards, ReadThenGone, NeverWritten}
}

// Report is what Verify found: the run's figures, a count of each kind of
// violation and the first few examples of each.
type Report struct {
	Attempted      int // values producers attempted (0 when not recorded)
	Acked          int // acknowledgements
	AckErrors      int // produce attempts that failed
	Observed       int // records consumers read, over all streams
	Final          int // records in the final log
	UnackedPresent int // attempted, never acknowledged, yet in the final log (allowed)
	UnackedAbsent  int // attempted, never acknowledged, not in the final log (allowed)

	Violations map[Kind]int      // count per kind; absent means zero
	Examples   map[Kind][]string // the first few of each kind
}

// Count is the number of violations of kind k.
func (r Report) Count(k Kind) int { return r.Violations[k] }

// OK reports whether no violation was found.
func (r Report) OK() bool {
	for _, n := range r.Violations {
		if n > 0 {
			return false
		}
	}
	return true
}

// Err is nil for a clean report, else an error listing the violations.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	var parts []string
	for _, k := range Kinds() {
		if n := r.Violations[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, n))
		}
	}
	return errors.New("checker: " + strings.Join(parts, ", "))
}

// String prints the figures one per line, then the examples.
func (r Report) String() string {
	var b strings.Builder
	line := func(name string, n int) { fmt.Fprintf(&b, "%-26s %d\n", name+":", n) }
	line("records attempted", r.Attempted)
	line("records acked", r.Acked)
	line("produce errors", r.AckErrors)
	line("records read by consumers", r.Observed)
	line("records in final log", r.Final)
	line("unacked but present", r.UnackedPresent)
	line("unacked and absent", r.UnackedAbsent)
	for _, k := range Kinds() {
		line(string(k), r.Violations[k])
	}
	for _, k := range Kinds() {
		for _, ex := range r.Examples[k] {
			fmt.Fprintf(&b, "  %s: %s\n", k, ex)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func (r *Report) add(k Kind, format string, args ...any) {
	r.Violations[k]++
	if len(r.Examples[k]) < maxExamples {
		r.Examples[k] = append(r.Examples[k], fmt.Sprintf(format, args...))
	}
}

// Verify checks the recorded history against final, the whole log read
// back after the run (ReadLog). Records of final may come in any order;
// the same record listed twice at the same position counts once.
func (r *Recorder) Verify(final []Record) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Attempted:  len(r.attempted),
		Acked:      len(r.acks),
		AckErrors:  r.failures,
		Violations: map[Kind]int{},
		Examples:   map[Kind][]string{},
	}

	// Where each value is in the final log, and what each position
	// was ever seen holding.
	finalAt := map[string][]Pos{}
	seenAt := map[Pos][]string{}
	note := func(p Pos, v string) {
		if !slices.Contains(seenAt[p], v) {
			seenAt[p] = append(seenAt[p], v)
		}
	}
	for _, rec := range final {
		p := rec.Pos()
		if slices.Contains(finalAt[rec.Value], p) {
			continue
		}
		rep.Final++
		finalAt[rec.Value] = append(finalAt[rec.Value], p)
		note(p, rec.Value)
	}

	duplicated := map[string]bool{}
	for _, rec := range final {
		if ps := finalAt[rec.Value]; len(ps) > 1 && !duplicated[rec.Value] {
			duplicated[rec.Value] = true
			rep.add(Duplicated, "%q in the final log at %s", rec.Value, joinPos(ps))
		}
	}

	// Acknowledgements: present, once, where the broker said.
	ackedAt := map[string][]Pos{}
	for _, a := range r.acks {
		p := a.Pos()
		note(p, a.Value)
		if slices.Contains(ackedAt[a.Value], p) {
			continue
		}
		ackedAt[a.Value] = append(ackedAt[a.Value], p)
		if len(ackedAt[a.Value]) == 2 && !duplicated[a.Value] {
			duplicated[a.Value] = true
			rep.add(Duplicated, "%q acknowledged at %s", a.Value, joinPos(ackedAt[a.Value]))
		}
		switch at := finalAt[a.Value]; {
		case len(at) == 0:
			rep.add(Lost, "%q acknowledged at %s (%s), not in the final log", a.Value, p, a.At.Format("15:04:05.000"))
		case !slices.Contains(at, p):
			rep.add(Moved, "%q acknowledged at %s, in the final log at %s", a.Value, p, joinPos(at))
		}
	}

	// Reads: each stream moves forward, and what it read stays.
	for _, name := range r.order {
		last := map[Pos]int64{} // per topic and partition (Offset 0)
		for _, o := range r.streams[name] {
			rep.Observed++
			p := o.Pos()
			note(p, o.Value)
			tp := Pos{Topic: p.Topic, Partition: p.Partition}
			if prev, ok := last[tp]; ok && p.Offset <= prev {
				rep.add(Backwards, "consumer %s read %s after offset %d", name, p, prev)
			}
			last[tp] = p.Offset
			switch at := finalAt[o.Value]; {
			case len(at) == 0:
				rep.add(ReadThenGone, "consumer %s read %q at %s (%s), not in the final log", name, o.Value, p, o.At.Format("15:04:05.000"))
			case !slices.Contains(at, p):
				rep.add(Moved, "consumer %s read %q at %s, in the final log at %s", name, o.Value, p, joinPos(at))
			}
			if len(r.attempted) > 0 {
				if _, ok := r.attempted[o.Value]; !ok {
					rep.add(NeverWritten, "consumer %s read %q at %s, which no producer attempted", name, o.Value, p)
				}
			}
		}
	}

	positions := make([]Pos, 0, len(seenAt))
	for p, vs := range seenAt {
		if len(vs) > 1 {
			positions = append(positions, p)
		}
	}
	slices.SortFunc(positions, comparePos)
	for _, p := range positions {
		rep.add(OffsetReused, "%s held %q", p, seenAt[p])
	}

	// Attempts: what was never acknowledged may be present or not;
	// what was never attempted must not be there.
	if len(r.attempted) > 0 {
		for v := range r.attempted {
			if _, ok := ackedAt[v]; ok {
				continue
			}
			if len(finalAt[v]) > 0 {
				rep.UnackedPresent++
			} else {
				rep.UnackedAbsent++
			}
		}
		reported := map[Pos]bool{}
		for _, rec := range final {
			if _, ok := r.attempted[rec.Value]; !ok && !reported[rec.Pos()] {
				reported[rec.Pos()] = true
				rep.add(NeverWritten, "%q in the final log at %s, which no producer attempted", rec.Value, rec.Pos())
			}
		}
	}
	return rep
}

func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

func joinPos(ps []Pos) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
