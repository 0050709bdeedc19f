package partition

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// Manager holds the partitions this broker leads.
type Manager struct {
	log  *wal.Log
	cold ColdReader

	mu    sync.RWMutex
	parts map[wal.Key]*Partition

	// onCommitWait is called when an acks=all append starts waiting for
	// the object tier (see SetCommitWaiter).
	onCommitWait atomic.Pointer[func()]
}

// SetCommitWaiter makes fn be called each time an acks=all append of any
// partition starts waiting for its data to reach the object tier and the
// catalog (WaitCommitted), after the data was appended to the WAL. The
// uploader uses it to upload at once when it is idle instead of waiting
// for the segment's age. fn must not block.
func (m *Manager) SetCommitWaiter(fn func()) { m.onCommitWait.Store(&fn) }

// commitWaiting is what the manager's partitions call.
func (m *Manager) commitWaiting() {
	if fn := m.onCommitWait.Load(); fn != nil {
		(*fn)()
	}
}

// NewManager returns an empty manager over the broker's WAL and the object
// tier's reader (nil: WAL only).
func NewManager(log *wal.Log, cold ColdReader) *Manager {
	return &Manager{log: log, cold: cold, parts: make(map[wal.Key]*Partition)}
}

// Get returns the partition, or nil if this broker does not hold it.
func (m *Manager) Get(k wal.Key) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.parts[k]
}

// Open returns the partition, creating its state from the catalog's state
// and what the WAL holds if it is new to this process.
func (m *Manager) Open(k wal.Key, st State) *Partition {
	if p := m.Get(k); p != nil {
		return p
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.parts[k]; p != nil {
		return p
	}
	m.adoptLog(k, &st, m.tailEpoch(k) == st.LeaderEpoch)
	p := New(k, m.log, m.cold, st)
	p.onCommitWait = m.commitWaiting
	m.parts[k] = p
	m.restore(p, st)
	return p
}

// Reopen replaces partition k, if this broker holds it, with a new one
// under st (a new leader epoch) starting at the catalog end: the old one
// is fenced, and nothing the WAL holds for k is served or continued by
// the new one (it was written under an older epoch).
func (m *Manager) Reopen(k wal.Key, st State) *Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.parts[k]; old != nil {
		old.Fence(old.LeaderEpoch())
	}
	m.adoptLog(k, &st, false)
	p := New(k, m.log, m.cold, st)
	p.onCommitWait = m.commitWaiting
	m.parts[k] = p
	m.restore(p, st)
	return p
}

// restore rebuilds p's producer state from the object tier in the
// background when st asks for it (see State.RestoreTail).
func (m *Manager) restore(p *Partition, st State) {
	if !p.restoring.Load() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.RestoreFromObjects(ctx, st.TailFrom, st.HighWatermark); err != nil {
			slog.Warn("rebuilding idempotent producer state from the object tier", "partition", p.key.String(), "err", err)
		}
	}()
}

// adoptLog sets where st continues given what the WAL holds for k. When
// the tail was written under st's epoch (a restart of the same
// leadership) it is this leader's own: it is served, uploaded and
// continued. Otherwise it belongs to an older leadership that the catalog
// never took: the new leadership starts at the catalog end, below that
// tail (the WAL lets a newer epoch restart a partition lower and then
// forgets the older run). Either way reads below the catalog end go to
// the object tier: the WAL may hold older epochs' data there that
// differs from what was committed.
func (m *Manager) adoptLog(k wal.Key, st *State, ownTail bool) {
	st.WALFloor = st.HighWatermark
	r, ok := m.log.Range(k)
	if ok && ownTail {
		st.Next = max(st.Next, r.Next)
	}
	// Producer state comes from the WAL when it holds this leadership's
	// tail (RestoreProducers replays it), else from the committed tail in
	// the object tier.
	st.RestoreTail = st.RestoreTail && !(ok && ownTail)
}

// tailEpoch is the leader epoch of the last entry the WAL holds for k
// (-1 if none or unreadable).
func (m *Manager) tailEpoch(k wal.Key) int32 {
	r, ok := m.log.Range(k)
	if !ok || r.Next <= r.First {
		return -1
	}
	data, err := m.log.Read(k, r.Next-1, r.Next, 1)
	if err != nil || len(data) == 0 {
		return -1
	}
	h, err := recordbatch.ParseHeader(data)
	if err != nil {
		return -1
	}
	return h.PartitionLeaderEpoch
}

// Drop forgets every partition of a topic (after it was deleted).
func (m *Manager) Drop(topic [16]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.parts {
		if k.Topic == topic {
			delete(m.parts, k)
		}
	}
}

// RestoreProducers replays the WAL to rebuild idempotent-producer state of
// the open partitions, so retries that straddle a restart are still detected
// as duplicates.
func (m *Manager) RestoreProducers() error {
	return m.log.Replay(func(e wal.Entry) error {
		p := m.Get(e.Key)
		if p == nil {
			return nil
		}
		for pos := 0; pos < len(e.Data); {
			h, err := recordbatch.ParseHeader(e.Data[pos:])
			if err != nil {
				return fmt.Errorf("replay %v offset %d: %w", e.Key, e.BaseOffset, err)
			}
			// Only the current leadership's batches: an older epoch's
			// may never have been committed, or another leader may have
			// committed other data at their offsets.
			if h.PartitionLeaderEpoch == p.LeaderEpoch() {
				p.RestoreProducer(&h)
			}
			pos += h.Size()
		}
		return nil
	})
}

// ExpireProducers forgets, in every partition, the idempotent producers
// whose last append is at least window before now (producer id
// expiration; see Partition.ExpireProducers) and returns how many. It
// takes one partition's mutex at a time, so appends elsewhere go on.
func (m *Manager) ExpireProducers(now time.Time, window time.Duration) int {
	m.mu.RLock()
	parts := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		parts = append(parts, p)
	}
	m.mu.RUnlock()
	n := 0
	for _, p := range parts {
		n += p.ExpireProducers(now.UnixMilli(), window.Milliseconds())
	}
	return n
}

// Fence fences partition k if this broker holds it (see Partition.Fence).
func (m *Manager) Fence(k wal.Key, epoch int32) {
	if p := m.Get(k); p != nil {
		p.Fence(epoch)
	}
}
