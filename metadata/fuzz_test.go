package metadata

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzDecodeCommand feeds arbitrary raft log data to the decoder and, when
// it decodes, to apply on a populated state: neither may panic, and a
// decoded command must re-encode to something that decodes to the same value.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range commandLog()[:12] {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	for _, c := range mixedLog(f)[len(commandLog()):][:40] {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	// CommitObjects: a batch meeting every rule, and runs of the mixed
	// log's commits.
	b, _ := encodeCommand(commitObjectsCmd{Commits: batchCommits()})
	f.Add(b)
	var run []commitObjectCmd
	for _, c := range mixedLog(f)[len(commandLog()):][:60] {
		if oc, ok := c.(commitObjectCmd); ok {
			run = append(run, oc)
		}
	}
	b, _ = encodeCommand(commitObjectsCmd{Commits: run[:3]})
	f.Add(b)
	b, _ = encodeCommand(commitObjectsCmd{Commits: run})
	f.Add(b)
	f.Add([]byte{16, 1, 0})
	for _, c := range aclCommands() {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	quotas, _ := encodeCommand(setClientQuotasCmd{Alterations: []QuotaAlteration{
		{Entity: QuotaEntity{User: QuotaNamed("u"), ClientID: QuotaDefault()}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1024}, {Key: QuotaRequestPercentage, Remove: true}}},
	}})
	f.Add(quotas)
	for _, c := range scramLog() {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	b, _ = encodeCommand(registerBrokerCmd{Broker: Broker{ID: 9, Host: "h", Port: 1, Listeners: []Endpoint{{Name: "A", Host: "h", Port: 1, Protocol: "SASL_SSL"}}}})
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{8, 1, 1, 'k', 2, 2, 0, 0})
	f.Add([]byte{12, 1, 1, 'g', 0, 1, 1, 'a', 1, 0, 2, 0, 0, 0})
	f.Add([]byte{6, 1, '{', '"', 'O', 'p', 's', '"', ':', 'n', 'u', 'l', 'l', '}'})
	f.Add([]byte{3, 1, '{', '"', 'P', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 's', '"', ':', '2', '1', '4', '7', '4', '8', '3', '6', '4', '7', '}'})
	// A populated catalog, so catalog commands meet extents, garbage and
	// offsets.
	prelude := mixedLog(f)[:len(commandLog())+80]
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			if c != nil {
				t.Fatal("error with a command")
			}
			return
		}
		a := newApplier(t)
		for _, pre := range prelude {
			a.apply(pre)
		}
		res := a.raw(data)
		if res.err != nil && errors.Is(res.err, ErrUnknownCommand) {
			t.Fatalf("decoded command reported unknown: %v", res.err)
		}
		// Whatever apply did, the state must still snapshot and restore.
		snap := a.snapshotBytes()
		if _, err := decodeSnapshot(snap, "fuzz"); err != nil {
			t.Fatalf("state after apply does not round-trip: %v", err)
		}
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if b2, _ := encodeCommand(c2); !bytes.Equal(b, b2) {
			t.Fatal("command encoding is not stable")
		}
	})
}

// FuzzDecodeSnapshot feeds arbitrary bytes to the snapshot decoder, both
// as they are and wrapped in a valid header and CRC (so the body decoder
// and invariant checks see mutated JSON, not just CRC failures). It must
// not panic, and an accepted snapshot must re-encode stably.
func FuzzDecodeSnapshot(f *testing.F) {
	a := newApplier(f)
	f.Add(a.snapshotBytes())
	for _, c := range commandLog()[:15] {
		a.apply(c)
	}
	f.Add(a.snapshotBytes())
	f.Add(frameSnapshot([]byte(`{"ClusterID":"","NextProducerID":0,"Brokers":[],"Topics":[]}`)))
	f.Add([]byte("SHMS"))
	f.Add(a.snapshotBytes()[snapshotHeaderSz : len(a.snapshotBytes())-snapshotTrailer])
	m := newApplier(f)
	for _, c := range mixedLog(f)[:len(commandLog())+150] {
		m.apply(c)
	}
	m.apply(aclCommands()[0])
	m.apply(setClientQuotasCmd{Alterations: []QuotaAlteration{
		{Entity: QuotaEntity{ClientID: QuotaNamed("c")}, Ops: []QuotaOp{{Key: QuotaConsumerByteRate, Value: 4096}}},
	}})
	full := m.snapshotBytes()
	f.Add(full)
	f.Add(full[snapshotHeaderSz : len(full)-snapshotTrailer])
	// SCRAM users (extension section 1) and brokers with listeners.
	for _, c := range scramLog() {
		m.apply(c)
	}
	m.apply(registerBrokerCmd{Broker: Broker{ID: 9, Host: "h", Port: 1, Listeners: []Endpoint{{Name: "A", Host: "h", Port: 1, Protocol: "SASL_SSL"}}}})
	users := m.snapshotBytes()
	f.Add(users)
	f.Add(users[snapshotHeaderSz : len(users)-snapshotTrailer])
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSnapshotDecode(t, data)
		checkSnapshotDecode(t, frameSnapshot(data))
		checkSnapshotDecode(t, frameSnapshotVersion(snapshotVersion2, data))
		checkSnapshotDecode(t, frameSnapshotVersion(snapshotVersion3, data))
	})
}

func checkSnapshotDecode(t *testing.T, data []byte) {
	t.Helper()
	st, err := decodeSnapshot(data, "fuzz")
	if err != nil {
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("rejection is not a *CorruptionError: %v", err)
		}
		return
	}
	b1, err := encodeSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := decodeSnapshot(b1, "fuzz")
	if err != nil {
		t.Fatalf("re-encoded snapshot rejected: %v", err)
	}
	b2, _ := encodeSnapshot(st2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("snapshot encoding is not stable")
	}
}

// FuzzBoltLogRecord feeds arbitrary record bytes to the log record decoder.
func FuzzBoltLogRecord(f *testing.F) {
	for i := uint64(1); i < 4; i++ {
		v, _ := encodeLogRecord(testLog(i))
		f.Add(i, v)
	}
	f.Fuzz(func(t *testing.T, index uint64, v []byte) {
		var l raft.Log
		if err := decodeLogRecord("fuzz", index, v, &l); err != nil {
			return
		}
		back, err := encodeLogRecord(&l)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, v) {
			t.Fatalf("accepted record does not re-encode to the same bytes:\n% x\n% x", v, back)
		}
	})
}
