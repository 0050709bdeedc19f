package partition

import (
	"fmt"
	"sync"

	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// Manager holds the partitions this broker leads.
type Manager struct {
	log  *wal.Log
	cold ColdReader

	mu    sync.RWMutex
	parts map[wal.Key]*Partition
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
	if r, ok := m.log.Range(k); ok {
		st.Next = max(st.Next, r.Next)
	}
	p := New(k, m.log, m.cold, st)
	m.parts[k] = p
	return p
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
			p.RestoreProducer(&h)
			pos += h.Size()
		}
		return nil
	})
}

// Fence fences partition k if this broker holds it (see Partition.Fence).
func (m *Manager) Fence(k wal.Key, epoch int32) {
	if p := m.Get(k); p != nil {
		p.Fence(epoch)
	}
}
