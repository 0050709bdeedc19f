package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

func openTestBolt(t testing.TB) (*BoltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	b, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, path
}

func testLog(i uint64) *raft.Log {
	return &raft.Log{
		Index:      i,
		Term:       i/10 + 1,
		Type:       raft.LogCommand,
		Data:       []byte(fmt.Sprintf("entry-%d", i)),
		Extensions: []byte{byte(i)},
		AppendedAt: time.Unix(1700000000, int64(i)),
	}
}

func equalLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data) &&
		bytes.Equal(a.Extensions, b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

func TestBoltLogStore(t *testing.T) {
	b, path := openTestBolt(t)
	checkRange := func(first, last uint64) {
		t.Helper()
		f, err := b.FirstIndex()
		if err != nil || f != first {
			t.Fatalf("FirstIndex = %d, %v; want %d", f, err, first)
		}
		l, err := b.LastIndex()
		if err != nil || l != last {
			t.Fatalf("LastIndex = %d, %v; want %d", l, err, last)
		}
	}
	checkRange(0, 0)
	var got raft.Log
	if err := b.GetLog(1, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty store: %v", err)
	}

	if err := b.StoreLog(testLog(1)); err != nil {
		t.Fatal(err)
	}
	var batch []*raft.Log
	for i := uint64(2); i <= 300; i++ { // crosses 256 to check big-endian key order
		batch = append(batch, testLog(i))
	}
	if err := b.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	checkRange(1, 300)
	for _, i := range []uint64{1, 2, 255, 256, 300} {
		if err := b.GetLog(i, &got); err != nil || !equalLog(&got, testLog(i)) {
			t.Fatalf("GetLog(%d) = %+v, %v", i, got, err)
		}
	}
	// Empty data, no extensions, zero time survive as such.
	if err := b.StoreLog(&raft.Log{Index: 301, Term: 9, Type: raft.LogNoop}); err != nil {
		t.Fatal(err)
	}
	if err := b.GetLog(301, &got); err != nil || got.Data != nil || got.Extensions != nil || !got.AppendedAt.IsZero() || got.Type != raft.LogNoop {
		t.Fatalf("GetLog(301) = %+v, %v", got, err)
	}

	// Prefix compaction, then suffix truncation (conflicting entries).
	if err := b.DeleteRange(1, 100); err != nil {
		t.Fatal(err)
	}
	checkRange(101, 301)
	if err := b.GetLog(100, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("deleted entry: %v", err)
	}
	if err := b.DeleteRange(250, 400); err != nil {
		t.Fatal(err)
	}
	checkRange(101, 249)
	if err := b.DeleteRange(10, 5); err != nil { // empty range is a no-op
		t.Fatal(err)
	}
	checkRange(101, 249)

	// Overwrite: raft rewrites an index after truncating a conflict.
	repl := testLog(249)
	repl.Term = 99
	if err := b.StoreLog(repl); err != nil {
		t.Fatal(err)
	}
	if err := b.GetLog(249, &got); err != nil || got.Term != 99 {
		t.Fatalf("overwritten entry: %+v, %v", got, err)
	}

	// Everything is on disk: reopen and read back.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	b = b2
	checkRange(101, 249)
	if err := b.GetLog(150, &got); err != nil || !equalLog(&got, testLog(150)) {
		t.Fatalf("after reopen GetLog(150) = %+v, %v", got, err)
	}
}

func TestBoltStableStore(t *testing.T) {
	b, path := openTestBolt(t)
	if v, err := b.Get([]byte("missing")); err != nil || len(v) != 0 {
		t.Fatalf("Get missing = %q, %v", v, err)
	}
	if v, err := b.GetUint64([]byte("missing")); err != nil || v != 0 {
		t.Fatalf("GetUint64 missing = %d, %v", v, err)
	}
	if err := b.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := b.SetUint64([]byte("CurrentTerm"), 1<<40+7); err != nil {
		t.Fatal(err)
	}
	if err := b.SetUint64([]byte("CurrentTerm"), 1<<40+8); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if v, err := b.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+8 {
		t.Fatalf("GetUint64 = %d, %v", v, err)
	}
	// A uint64 key holding the wrong number of bytes is corruption, not 0.
	if err := b.Set([]byte("CurrentTerm"), []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if _, err := b.GetUint64([]byte("CurrentTerm")); !errors.As(err, &ce) {
		t.Fatalf("GetUint64 of 3 bytes: %v", err)
	}
}

func TestBoltLogCorruption(t *testing.T) {
	b, path := openTestBolt(t)
	for i := uint64(1); i <= 6; i++ {
		if err := b.StoreLog(testLog(i)); err != nil {
			t.Fatal(err)
		}
	}
	rewrite := func(i uint64, f func(v []byte) []byte) {
		t.Helper()
		err := b.db.Update(func(tx *bolt.Tx) error {
			bkt := tx.Bucket(bucketLogs)
			v := append([]byte(nil), bkt.Get(indexKey(i))...)
			return bkt.Put(indexKey(i), f(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var rec1 []byte
	_ = b.db.View(func(tx *bolt.Tx) error { rec1 = append(rec1, tx.Bucket(bucketLogs).Get(indexKey(1))...); return nil })
	rewrite(2, func(v []byte) []byte { v[12] ^= 0x40; return v })           // one flipped bit
	rewrite(3, func([]byte) []byte { return rec1 })                         // record 1 under key 3: CRC covers the key
	rewrite(4, func(v []byte) []byte { return v[:5] })                      // truncated
	rewrite(5, func(v []byte) []byte { v[0] = 9; return fixCRC(5, v) })     // unknown record version, valid CRC
	rewrite(6, func(v []byte) []byte { v[21] = 0xff; return fixCRC(6, v) }) // data length past the end, valid CRC

	var got raft.Log
	if err := b.GetLog(1, &got); err != nil {
		t.Fatalf("intact entry: %v", err)
	}
	for _, i := range []uint64{2, 3, 4, 5, 6} {
		err := b.GetLog(i, &got)
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Offset != i || ce.Where != path+" raft log" {
			t.Errorf("GetLog(%d): %v, want *CorruptionError at index %d in %s", i, err, i, path)
		}
	}
}

// fixCRC recomputes the trailing CRC of a log record stored under index i.
func fixCRC(i uint64, v []byte) []byte {
	body := v[:len(v)-4]
	crc := crc32.Update(crc32.Checksum(indexKey(i), castagnoli), castagnoli, body)
	return binary.BigEndian.AppendUint32(body, crc)
}

func BenchmarkBoltStoreLogs(b *testing.B) {
	s, _ := openTestBolt(b)
	batch := make([]*raft.Log, 64)
	data := bytes.Repeat([]byte("x"), 256)
	var idx uint64
	b.SetBytes(int64(len(batch) * len(data)))
	for b.Loop() {
		for i := range batch {
			idx++
			batch[i] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
		}
		if err := s.StoreLogs(batch); err != nil {
			b.Fatal(err)
		}
	}
}
