package index

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// Key names one partition: the topic's 16-byte ID and the partition number.
// It has the same shape as wal.Key, so the two convert directly.
type Key struct {
	Topic     [16]byte
	Partition int32
}

// Compare orders keys by topic ID bytes, then partition number; it returns
// -1, 0 or +1. Footers list partitions in this order.
func (k Key) Compare(o Key) int {
	if c := bytes.Compare(k.Topic[:], o.Topic[:]); c != 0 {
		return c
	}
	return cmp.Compare(k.Partition, o.Partition)
}

func (k Key) String() string {
	return fmt.Sprintf("%x/%d", k.Topic, k.Partition)
}

// SparseEntry marks the batch that starts a block of a partition's data.
type SparseEntry struct {
	// Offset is the base offset of the batch that starts the block.
	Offset int64
	// Pos is the byte position of that batch relative to the partition's
	// first byte (Partition.Pos).
	Pos int64
	// MaxTimestamp is the running maximum: the largest batch timestamp from
	// the partition's first batch through the end of this block. It never
	// decreases from one entry to the next.
	MaxTimestamp int64
}

// Partition is the footer's record of one partition's data in an object.
type Partition struct {
	Key          Key
	FirstOffset  int64 // base offset of the first batch
	LastOffset   int64 // last offset (inclusive) of the last batch
	Pos, Len     int64 // byte range of this partition's batches in the object
	MaxTimestamp int64 // largest batch timestamp in the partition
	// Sparse is ordered by Offset and Pos; the first entry is at Pos 0 and
	// Offset FirstOffset.
	Sparse []SparseEntry
}

// Footer is the decoded index of one object.
type Footer struct {
	Partitions []Partition // sorted by Key (Topic bytes, then Partition)
}

// Lookup finds the partition with key k by binary search.
func (f *Footer) Lookup(k Key) (*Partition, bool) {
	i, found := slices.BinarySearchFunc(f.Partitions, k, func(p Partition, k Key) int {
		return p.Key.Compare(k)
	})
	if !found {
		return nil, false
	}
	return &f.Partitions[i], true
}

// Locate returns the object byte offset at which to start reading to find
// offset: the start of the sparse block containing it. An offset before the
// partition's first offset gives the partition's first byte; an offset after
// its last offset gives the partition's end (Pos+Len), where there is nothing
// left to read.
func (p *Partition) Locate(offset int64) int64 {
	if offset > p.LastOffset {
		return p.Pos + p.Len
	}
	// i is the number of entries with Offset <= offset.
	i := sort.Search(len(p.Sparse), func(i int) bool { return p.Sparse[i].Offset > offset })
	if i == 0 {
		return p.Pos
	}
	return p.Pos + p.Sparse[i-1].Pos
}

// LocateTime returns the object byte offset of the first sparse block whose
// MaxTimestamp >= ts, and false if no batch in the partition has a timestamp
// that large. The first record with a timestamp >= ts, if any, is in that
// block, so a reader scans forward from there.
func (p *Partition) LocateTime(ts int64) (int64, bool) {
	i := sort.Search(len(p.Sparse), func(i int) bool { return p.Sparse[i].MaxTimestamp >= ts })
	if i == len(p.Sparse) {
		return 0, false
	}
	return p.Pos + p.Sparse[i].Pos, true
}

// BlockEnd returns the object byte offset where the sparse block starting at
// or containing object position pos ends: the next entry's start, or the
// partition's end. Readers use it to bound a ranged GET to whole blocks.
func (p *Partition) BlockEnd(pos int64) int64 {
	rel := pos - p.Pos
	i := sort.Search(len(p.Sparse), func(i int) bool { return p.Sparse[i].Pos > rel })
	if i == len(p.Sparse) {
		return p.Pos + p.Len
	}
	return p.Pos + p.Sparse[i].Pos
}
