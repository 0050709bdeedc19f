package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Control batches
//
// A transaction's end is a control batch (attributes: transactional and
// control bits) of the producer's id and epoch, base sequence -1, holding
// one uncompressed record whose key is
//
//	version int16 (0) | type int16 (0 ABORT, 1 COMMIT)
//
// and whose value is
//
//	version int16 (0) | coordinator epoch int32
//
// as Kafka's EndTransactionMarker writes it.

// Control record types.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ErrControl is a control batch that is not a well-formed marker.
var ErrControl = errors.New("malformed control batch")

// EncodeMarker returns a COMMIT or ABORT control batch of producer pid at
// epoch, at base offset 0 (the partition sets the offset), timestamped ts.
func EncodeMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, ts int64) []byte {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, 0) // offset delta
	rec = binary.AppendVarint(rec, 4) // key length
	rec = binary.BigEndian.AppendUint16(rec, 0)
	rec = binary.BigEndian.AppendUint16(rec, uint16(typ))
	rec = binary.AppendVarint(rec, 6) // value length
	rec = binary.BigEndian.AppendUint16(rec, 0)
	rec = binary.BigEndian.AppendUint32(rec, uint32(coordinatorEpoch))
	rec = binary.AppendVarint(rec, 0) // headers
	b := make([]byte, HeaderSize, HeaderSize+len(rec)+2)
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-lengthFieldEnd))
	binary.BigEndian.PutUint32(b[12:], 0xFFFFFFFF) // leader epoch, set on append
	b[16] = 2                                      // magic
	binary.BigEndian.PutUint16(b[21:], TransactionalBit|ControlBit)
	binary.BigEndian.PutUint32(b[23:], 0) // last offset delta
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], 0xFFFFFFFF) // base sequence -1
	binary.BigEndian.PutUint32(b[57:], 1)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// ControlType returns the type of a control batch's marker record
// (ControlAbort or ControlCommit); batch is one whole batch whose header h
// was parsed from it. Other control types are returned as they are.
func ControlType(h *Header, batch []byte) (int16, error) {
	if !h.IsControl() {
		return 0, fmt.Errorf("%w: not a control batch", ErrControl)
	}
	if h.Compression() != 0 || h.RecordCount < 1 || len(batch) < h.Size() || h.Size() <= HeaderSize {
		return 0, fmt.Errorf("%w: compression %d, %d records, %d bytes", ErrControl, h.Compression(), h.RecordCount, len(batch))
	}
	r := batch[HeaderSize:h.Size()]
	var pos int
	next := func() (int64, bool) {
		v, n := binary.Varint(r[pos:])
		if n <= 0 {
			return 0, false
		}
		pos += n
		return v, true
	}
	if _, ok := next(); !ok { // record length
		return 0, fmt.Errorf("%w: record length", ErrControl)
	}
	if pos >= len(r) {
		return 0, fmt.Errorf("%w: truncated record", ErrControl)
	}
	pos++         // attributes
	for range 2 { // timestamp and offset deltas
		if _, ok := next(); !ok {
			return 0, fmt.Errorf("%w: record deltas", ErrControl)
		}
	}
	keyLen, ok := next()
	if !ok || keyLen < 4 || int64(len(r)-pos) < keyLen {
		return 0, fmt.Errorf("%w: key of %d bytes", ErrControl, keyLen)
	}
	return int16(binary.BigEndian.Uint16(r[pos+2:])), nil
}
