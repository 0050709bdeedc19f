package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// BoltStore is raft's LogStore and StableStore in one bbolt file. Each
// write is one bolt transaction, fsynced before it returns.
//
// Bucket "logs": key = raft index (u64 BE), value = one log record:
//
//	+-----+--------+------+--------------+---------+------+---------+-----+--------+
//	| ver | term   | type | appended at  | data len| data | ext len | ext | crc32c |
//	| u8  | u64 BE | u8   | i64 BE (ns)  | u32 BE  |      | u32 BE  |     | u32 BE |
//	+-----+--------+------+--------------+---------+------+---------+-----+--------+
//
// The CRC (Castagnoli) covers the 8-byte key followed by everything before
// the CRC, so a record copied under the wrong index is caught too.
//
// Bucket "stable": raft's small key/value pairs (current term, last vote),
// stored as given; SetUint64 stores 8 bytes big-endian.
//
// BoltStore is safe for concurrent use (bolt serialises writers).
type BoltStore struct {
	db   *bolt.DB
	path string
}

var (
	bucketLogs   = []byte("logs")
	bucketStable = []byte("stable")
)

const (
	logRecordVersion1 = 1
	logRecordFixed    = 1 + 8 + 1 + 8 + 4 + 4 + 4 // everything but data and ext
)

// OpenBoltStore opens or creates the store at path.
func OpenBoltStore(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open raft store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLogs); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketStable)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create buckets in %s: %w", path, err)
	}
	return &BoltStore{db: db, path: path}, nil
}

// Close closes the bolt file.
func (b *BoltStore) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close raft store %s: %w", b.path, err)
	}
	return nil
}

var (
	_ raft.LogStore    = (*BoltStore)(nil)
	_ raft.StableStore = (*BoltStore)(nil)
)

// FirstIndex returns the lowest stored index, 0 when empty.
func (b *BoltStore) FirstIndex() (uint64, error) {
	var idx uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().First(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// LastIndex returns the highest stored index, 0 when empty.
func (b *BoltStore) LastIndex() (uint64, error) {
	var idx uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().Last(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// GetLog reads the entry at index; raft.ErrLogNotFound if there is none.
func (b *BoltStore) GetLog(index uint64, l *raft.Log) error {
	return b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLogs).Get(indexKey(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		return decodeLogRecord(b.path, index, v, l)
	})
}

// StoreLog stores one entry.
func (b *BoltStore) StoreLog(l *raft.Log) error {
	return b.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries in one transaction: all or none.
func (b *BoltStore) StoreLogs(logs []*raft.Log) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bkt := tx.Bucket(bucketLogs)
		for _, l := range logs {
			v, err := encodeLogRecord(l)
			if err != nil {
				return err
			}
			if err := bkt.Put(indexKey(l.Index), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d raft logs in %s: %w", len(logs), b.path, err)
	}
	return nil
}

// DeleteRange deletes entries min..max inclusive.
func (b *BoltStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		for k, _ := c.Seek(indexKey(min)); k != nil; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k) > max {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete raft logs %d..%d in %s: %w", min, max, b.path, err)
	}
	return nil
}

// Set stores a stable key.
func (b *BoltStore) Set(key, val []byte) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStable).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("set %q in %s: %w", key, b.path, err)
	}
	return nil
}

// Get returns a stable key's value, or an empty slice if it is not set.
func (b *BoltStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		out = append([]byte{}, tx.Bucket(bucketStable).Get(key)...)
		return nil
	})
	return out, err
}

// SetUint64 stores a stable key as 8 bytes big-endian.
func (b *BoltStore) SetUint64(key []byte, val uint64) error {
	return b.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable key as a uint64, 0 if it is not set.
func (b *BoltStore) GetUint64(key []byte) (uint64, error) {
	v, err := b.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, &CorruptionError{Where: b.path, Reason: fmt.Sprintf("stable key %q holds %d bytes, want 8", key, len(v))}
	}
	return binary.BigEndian.Uint64(v), nil
}

func indexKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func encodeLogRecord(l *raft.Log) ([]byte, error) {
	if uint64(len(l.Data)) > 1<<32-1 || uint64(len(l.Extensions)) > 1<<32-1 {
		return nil, errors.New("raft log entry larger than 4 GiB")
	}
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	out := make([]byte, 0, logRecordFixed+len(l.Data)+len(l.Extensions))
	out = append(out, logRecordVersion1)
	out = binary.BigEndian.AppendUint64(out, l.Term)
	out = append(out, byte(l.Type))
	out = binary.BigEndian.AppendUint64(out, uint64(at))
	out = binary.BigEndian.AppendUint32(out, uint32(len(l.Data)))
	out = append(out, l.Data...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(l.Extensions)))
	out = append(out, l.Extensions...)
	crc := crc32.Update(crc32.Checksum(indexKey(l.Index), castagnoli), castagnoli, out)
	return binary.BigEndian.AppendUint32(out, crc), nil
}

// decodeLogRecord parses v (owned by bolt: copied out) into l.
func decodeLogRecord(path string, index uint64, v []byte, l *raft.Log) error {
	corrupt := func(reason string) error {
		return &CorruptionError{Where: path + " raft log", Offset: index, Reason: reason}
	}
	if len(v) < logRecordFixed {
		return corrupt(fmt.Sprintf("record of %d bytes is too short", len(v)))
	}
	body := v[:len(v)-4]
	crc := crc32.Update(crc32.Checksum(indexKey(index), castagnoli), castagnoli, body)
	if want := binary.BigEndian.Uint32(v[len(v)-4:]); crc != want {
		return corrupt(fmt.Sprintf("checksum %08x, want %08x", crc, want))
	}
	if body[0] != logRecordVersion1 {
		return corrupt(fmt.Sprintf("unsupported record version %d", body[0]))
	}
	term := binary.BigEndian.Uint64(body[1:])
	typ := raft.LogType(body[9])
	at := int64(binary.BigEndian.Uint64(body[10:]))
	rest := body[18:]
	dataLen := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if dataLen > uint64(len(rest)) {
		return corrupt("data length past the end of the record")
	}
	data := rest[:dataLen]
	rest = rest[dataLen:]
	if len(rest) < 4 {
		return corrupt("extensions length missing")
	}
	extLen := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if extLen != uint64(len(rest)) {
		return corrupt("extensions length does not match the record")
	}
	*l = raft.Log{Index: index, Term: term, Type: typ}
	if len(data) > 0 {
		l.Data = append([]byte(nil), data...)
	}
	if len(rest) > 0 {
		l.Extensions = append([]byte(nil), rest...)
	}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}
