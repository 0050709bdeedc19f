package metadata

import (
	"fmt"
	"sort"
)

// Extension sections: from snapshot version 6 on, what follows the
// key-compaction section is a list of self-describing sections, so that a
// new kind of state (SCRAM users, ACLs, quotas, ...) adds a section instead
// of a snapshot version:
//
//	uvarint count
//	count × ( uvarint id | uvarint length | length bytes )
//
// Ids are written in increasing order, each at most once. A section's bytes
// are its encoder's alone; the decoder of that id must consume them all. An
// id this binary does not know is a corruption error, never skipped: its
// state would silently vanish. A section whose state is empty is not
// written, so a cluster that never used a feature writes no section for it.
type snapshotSection struct {
	id   uint64
	name string
	// empty reports whether st holds nothing for this section.
	empty func(st *state) bool
	// encode appends the section's content to w.
	encode func(st *state, w *bodyWriter)
	// decode reads the content written by encode into st, whose topics,
	// catalog and other version-5 sections are already set. r holds exactly
	// the section's bytes.
	decode func(st *state, r *bodyReader) error
}

// snapshotSections holds the registered sections by id. Files register
// theirs from init with registerSnapshotSection.
var snapshotSections = map[uint64]snapshotSection{}

// Section ids in use (keep this list as the registry of record):
//
//	1  SCRAM user credentials
//	2  ACL bindings
//	3  client quotas
const (
	sectionSCRAMUsers   = 1
	sectionACLs         = 2
	sectionClientQuotas = 3
)

func registerSnapshotSection(s snapshotSection) {
	if _, dup := snapshotSections[s.id]; dup {
		panic(fmt.Sprintf("metadata: snapshot section %d registered twice", s.id))
	}
	if s.empty == nil || s.encode == nil || s.decode == nil {
		panic(fmt.Sprintf("metadata: snapshot section %d (%s) is incomplete", s.id, s.name))
	}
	snapshotSections[s.id] = s
}

func sortedSectionIDs() []uint64 {
	ids := make([]uint64, 0, len(snapshotSections))
	for id := range snapshotSections {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// encodeSections writes the extension sections of st.
func (st *state) encodeSections(w *bodyWriter) {
	var ids []uint64
	for _, id := range sortedSectionIDs() {
		if !snapshotSections[id].empty(st) {
			ids = append(ids, id)
		}
	}
	w.uvarint(uint64(len(ids)))
	for _, id := range ids {
		var sw bodyWriter
		snapshotSections[id].encode(st, &sw)
		w.uvarint(id)
		w.uvarint(uint64(len(sw.b)))
		w.b = append(w.b, sw.b...)
	}
}

// decodeSections reads the extension sections into st.
func (st *state) decodeSections(r *bodyReader) error {
	n := r.count("extension section", 2)
	last := uint64(0)
	for i := range n {
		id := r.uvarint()
		size := r.uvarint()
		if r.err != nil {
			return r.err
		}
		if i > 0 && id <= last {
			return fmt.Errorf("extension section %d after %d: ids must increase", id, last)
		}
		last = id
		if size > uint64(len(r.b)-r.off) {
			return fmt.Errorf("extension section %d: length %d exceeds the %d bytes left", id, size, len(r.b)-r.off)
		}
		sec, ok := snapshotSections[id]
		if !ok {
			return fmt.Errorf("extension section %d is unknown to this version of Shale", id)
		}
		sr := &bodyReader{b: r.b[r.off : r.off+int(size)]}
		if err := sec.decode(st, sr); err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
		if err := sr.done(); err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
		r.off += int(size)
	}
	return r.err
}
