package tiering

import (
	"fmt"
	"hash/maphash"
)

// offsetMap maps the 128-bit hash of a record key to the latest offset
// seen for it, in a fixed budget of memory allocated once: an
// open-addressing table of 24-byte slots (hash, offset) with linear
// probing, filled to at most maxLoad of its slots. It is what bounds the
// key compactor's memory whatever the partition's size: when a dirty range
// holds more keys than fit, the compactor cleans up to where the map
// filled and continues in another pass (Kafka's SkimpyOffsetMap, with a
// 128-bit hash as Kafka's MD5 one: a collision, which would drop a record,
// needs about 2^64 keys).
//
// An offsetMap is not safe for concurrent use.
type offsetMap struct {
	seeds   [2]maphash.Seed
	hashes  [][2]uint64 // {0, 0} marks an empty slot
	offsets []int64
	used    int
	limit   int // used may not exceed it
}

// offsetMapSlotBytes is the memory of one slot.
const offsetMapSlotBytes = 24

// offsetMapMaxLoad is the fraction of slots the map fills before it
// reports itself full (probes stay short).
const offsetMapMaxLoad = 0.75

// minOffsetMapBytes is the smallest budget accepted.
const minOffsetMapBytes = 4 << 10

// newOffsetMap returns an empty map using about budget bytes.
func newOffsetMap(budget int64) (*offsetMap, error) {
	if budget < minOffsetMapBytes {
		return nil, fmt.Errorf("offset map budget %d: must be at least %d", budget, minOffsetMapBytes)
	}
	slots := int(budget / offsetMapSlotBytes)
	return &offsetMap{
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		hashes:  make([][2]uint64, slots),
		offsets: make([]int64, slots),
		limit:   int(float64(slots) * offsetMapMaxLoad),
	}, nil
}

// hash returns the 128-bit hash of key, never {0, 0}.
func (m *offsetMap) hash(key []byte) [2]uint64 {
	h := [2]uint64{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
	if h == [2]uint64{} {
		h[1] = 1
	}
	return h
}

// slot returns the slot holding h or the empty slot where it would go.
func (m *offsetMap) slot(h [2]uint64) int {
	n := len(m.hashes)
	for i := int(h[0] % uint64(n)); ; i = (i + 1) % n {
		if s := m.hashes[i]; s == h || s == [2]uint64{} {
			return i
		}
	}
}

// put records offset as key's latest (offsets are put in ascending
// order). It returns false, changing nothing, when key is new and the map
// is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := m.hash(key)
	i := m.slot(h)
	if m.hashes[i] == h {
		m.offsets[i] = max(m.offsets[i], offset)
		return true
	}
	if m.used >= m.limit {
		return false
	}
	m.hashes[i] = h
	m.offsets[i] = offset
	m.used++
	return true
}

// get returns key's latest offset, or false if the map does not hold key.
func (m *offsetMap) get(key []byte) (int64, bool) {
	h := m.hash(key)
	i := m.slot(h)
	if m.hashes[i] != h {
		return 0, false
	}
	return m.offsets[i], true
}

// reset empties the map, keeping its memory.
func (m *offsetMap) reset() {
	clear(m.hashes)
	m.used = 0
}

// keys is the number of keys held.
func (m *offsetMap) keys() int { return m.used }

// capacity is the number of keys the map holds when full.
func (m *offsetMap) capacity() int { return m.limit }
