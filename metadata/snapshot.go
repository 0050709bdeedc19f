package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
)

// Snapshot layout (see the package doc for the whole picture):
//
//	+--------+---------+-----------+----------------+-----------+
//	| magic  | version | body len  | body           | crc32c    |
//	| "SHMS" | u16 BE  | u64 BE    | len bytes      | u32 BE    |
//	+--------+---------+-----------+----------------+-----------+
//
// The CRC (Castagnoli) covers version, body len and body. A version-1 body
// is JSON (snapshotBody); a version-2 body is a uvarint length, that JSON,
// then the binary catalog and offsets sections (encodeCatalog); version 3
// is version 2 with each extent's commit time added; version 4 adds the
// leader-epoch section after the offsets (encodeEpochs); version 5 adds
// the idempotent producers', the transactions' and the key-compaction
// sections after it (encodeProducers, encodeTxnLogs, encodeKeyCompactions)
// and the transactional ids to the JSON. Versions 1 to 4 are still read
// (commit times of 1 and 2 unknown, 0; their epoch histories rebuilt from
// the extents; no producer state, transactions or key compaction recorded
// before 5); version 6 appends the extension sections (snapshot_sections.go)
// and is the version written.
const (
	snapshotMagic    = "SHMS"
	snapshotVersion1 = 1
	snapshotVersion2 = 2
	snapshotVersion3 = 3
	snapshotVersion4 = 4
	snapshotVersion5 = 5
	snapshotVersion6 = 6
	snapshotVersion  = snapshotVersion6 // the version written
	snapshotHeaderSz = 4 + 2 + 8
	snapshotTrailer  = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshotBody is the JSON part of a snapshot (all of version 1). Slices
// are sorted (brokers by id, topics by name) and encoding/json sorts map
// keys, so equal states encode to equal bytes.
type snapshotBody struct {
	ClusterID      string
	NextProducerID int64
	Brokers        []Broker
	Topics         []Topic
	Slots          []Partition `json:",omitempty"` // coordinator slots (slots.go)
	Txns           []Txn       `json:",omitempty"` // transactional ids (txn.go), by id
}

// encodeSnapshot returns the bytes of a snapshot of st in the version written.
func encodeSnapshot(st *state) ([]byte, error) {
	topics := st.sortedTopics()
	js, err := json.Marshal(snapshotBody{
		ClusterID:      st.clusterID,
		NextProducerID: st.nextProducerID,
		Brokers:        st.sortedBrokers(),
		Slots:          st.slots,
		Topics:         topics,
		Txns:           st.sortedTxns(),
	})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot body: %w", err)
	}
	w := bodyWriter{b: make([]byte, snapshotHeaderSz, snapshotHeaderSz+len(js)+16+st.catalogSizeHint())}
	copy(w.b, snapshotMagic)
	binary.BigEndian.PutUint16(w.b[4:], snapshotVersion)
	w.uvarint(uint64(len(js)))
	w.b = append(w.b, js...)
	st.encodeCatalog(&w, topics)
	st.encodeGroups(&w)
	st.encodeEpochs(&w, topics)
	st.encodeProducers(&w, topics)
	st.encodeTxnLogs(&w, topics)
	st.encodeKeyCompactions(&w, topics)
	st.encodeSections(&w)
	out := w.b
	binary.BigEndian.PutUint64(out[6:], uint64(len(out)-snapshotHeaderSz))
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out[4:], castagnoli)), nil
}

func writeSnapshot(w io.Writer, st *state) error {
	b, err := encodeSnapshot(st)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

func readSnapshot(r io.Reader, where string) (*state, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return decodeSnapshot(b, where)
}

// decodeSnapshot parses and validates snapshot bytes. where names the file
// or stream for corruption errors. It never panics on any input.
func decodeSnapshot(b []byte, where string) (*state, error) {
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptionError{Where: where, Offset: uint64(off), Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) < snapshotHeaderSz+snapshotTrailer {
		return nil, corrupt(0, "%d bytes is shorter than header and trailer", len(b))
	}
	if string(b[:4]) != snapshotMagic {
		return nil, corrupt(0, "bad magic %q", b[:4])
	}
	version := binary.BigEndian.Uint16(b[4:])
	if version < snapshotVersion1 || version > snapshotVersion6 {
		return nil, corrupt(4, "unsupported snapshot version %d", version)
	}
	bodyLen := binary.BigEndian.Uint64(b[6:])
	if bodyLen != uint64(len(b)-snapshotHeaderSz-snapshotTrailer) {
		return nil, corrupt(6, "body length %d does not match the %d bytes present", bodyLen, len(b)-snapshotHeaderSz-snapshotTrailer)
	}
	end := len(b) - snapshotTrailer
	if want, got := binary.BigEndian.Uint32(b[end:]), crc32.Checksum(b[4:end], castagnoli); want != got {
		return nil, corrupt(end, "checksum %08x, want %08x", got, want)
	}
	js := b[snapshotHeaderSz:end]
	var rest *bodyReader
	if version >= snapshotVersion2 {
		r := &bodyReader{b: js}
		n := r.uvarint()
		if r.err == nil && n > uint64(len(js)-r.off) {
			r.fail("JSON length %d exceeds the %d bytes left", n, len(js)-r.off)
		}
		if r.err != nil {
			return nil, corrupt(snapshotHeaderSz, "%v", r.err)
		}
		jsonEnd := r.off + int(n)
		js = r.b[r.off:jsonEnd]
		rest = &bodyReader{b: r.b, off: jsonEnd}
	}
	var body snapshotBody
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, corrupt(snapshotHeaderSz, "decode body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt(snapshotHeaderSz, "trailing data after body")
	}
	st, err := body.state()
	if err != nil {
		return nil, corrupt(snapshotHeaderSz, "%v", err)
	}
	if rest != nil {
		if err := st.decodeCatalog(rest, body.Topics, version); err != nil {
			return nil, corrupt(snapshotHeaderSz+rest.off, "catalog: %v", err)
		}
		if err := st.decodeGroups(rest); err != nil {
			return nil, corrupt(snapshotHeaderSz+rest.off, "group offsets: %v", err)
		}
		if version >= snapshotVersion4 {
			if err := st.decodeEpochs(rest, body.Topics); err != nil {
				return nil, corrupt(snapshotHeaderSz+rest.off, "leader epochs: %v", err)
			}
		}
		if version >= snapshotVersion5 {
			if err := st.decodeProducers(rest, body.Topics); err != nil {
				return nil, corrupt(snapshotHeaderSz+rest.off, "producers: %v", err)
			}
			if err := st.decodeTxnLogs(rest, body.Topics); err != nil {
				return nil, corrupt(snapshotHeaderSz+rest.off, "transactions: %v", err)
			}
			if err := st.decodeKeyCompactions(rest, body.Topics); err != nil {
				return nil, corrupt(snapshotHeaderSz+rest.off, "key compaction: %v", err)
			}
		}
		if version >= snapshotVersion6 {
			if err := st.decodeSections(rest); err != nil {
				return nil, corrupt(snapshotHeaderSz+rest.off, "%v", err)
			}
		}
		if err := rest.done(); err != nil {
			return nil, corrupt(snapshotHeaderSz+rest.off, "%v", err)
		}
	}
	if version < snapshotVersion4 {
		st.rebuildAllEpochs()
	}
	return st, nil
}

// state checks the invariants Apply maintains and builds the state.
func (body snapshotBody) state() (*state, error) {
	st := newState()
	if body.ClusterID != "" {
		if err := validateClusterID(body.ClusterID); err != nil {
			return nil, err
		}
	}
	st.clusterID = body.ClusterID
	if body.NextProducerID < 0 {
		return nil, fmt.Errorf("next producer id %d is negative", body.NextProducerID)
	}
	st.nextProducerID = body.NextProducerID
	for _, b := range body.Brokers {
		if err := validateBroker(b); err != nil {
			return nil, err
		}
		if _, dup := st.brokers[b.ID]; dup {
			return nil, fmt.Errorf("broker %d appears twice", b.ID)
		}
		st.brokers[b.ID] = b
	}
	if n := len(body.Slots); n != 0 && n != CoordinatorSlots {
		return nil, fmt.Errorf("%d coordinator slots, want %d", n, CoordinatorSlots)
	}
	for i, p := range body.Slots {
		if p.Leader < NoLeader || p.LeaderEpoch < 0 {
			return nil, fmt.Errorf("coordinator slot %d: leader %d epoch %d", i, p.Leader, p.LeaderEpoch)
		}
	}
	if len(body.Slots) > 0 {
		st.slots = body.Slots
	}
	if err := validateTxnsSnapshot(body.Txns); err != nil {
		return nil, err
	}
	for _, t := range body.Txns {
		st.setTxn(t)
	}
	for _, t := range body.Topics {
		if err := ValidateTopicName(t.Name); err != nil {
			return nil, err
		}
		if _, dup := st.topics[t.Name]; dup {
			return nil, fmt.Errorf("topic %q appears twice", t.Name)
		}
		if t.ID.IsZero() {
			return nil, fmt.Errorf("topic %q has the zero topic id", t.Name)
		}
		if other, dup := st.topicIDs[t.ID]; dup {
			return nil, fmt.Errorf("topic id %s used by %q and %q", t.ID, other, t.Name)
		}
		if len(t.Partitions) > MaxPartitionsPerTopic {
			return nil, fmt.Errorf("topic %q has %d partitions, the limit is %d", t.Name, len(t.Partitions), MaxPartitionsPerTopic)
		}
		if err := validatePartitionCount(int32(len(t.Partitions))); err != nil {
			return nil, fmt.Errorf("topic %q: %w", t.Name, err)
		}
		for i, p := range t.Partitions {
			if p.Leader < -1 || p.LeaderEpoch < 0 {
				return nil, fmt.Errorf("topic %q partition %d: leader %d epoch %d out of range", t.Name, i, p.Leader, p.LeaderEpoch)
			}
		}
		if err := validateTopicConfigs(t.Configs); err != nil {
			return nil, fmt.Errorf("topic %q: %w", t.Name, err)
		}
		t = t.Clone()
		st.topics[t.Name] = t
		st.topicIDs[t.ID] = t.Name
		st.logs[t.ID] = make([]partitionLog, len(t.Partitions))
	}
	return st, nil
}

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
