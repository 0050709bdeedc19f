// Package recordbatch reads and patches the fixed header of Kafka RecordBatch
// v2 (magic 2) without decoding or re-encoding the records, which is what lets
// Shale store batches exactly as producers sent them.
//
// The header, all integers big-endian (61 bytes before the records):
//
//	offset  size  field                 covered by CRC
//	0       8     baseOffset            no  (rewritten by the broker)
//	8       4     batchLength           no  (bytes after this field)
//	12      4     partitionLeaderEpoch  no  (rewritten by the broker)
//	16      1     magic (= 2)           no
//	17      4     crc (CRC-32C)         no
//	21      2     attributes            yes
//	23      4     lastOffsetDelta       yes
//	27      8     baseTimestamp         yes
//	35      8     maxTimestamp          yes
//	43      8     producerId            yes
//	51      2     producerEpoch         yes
//	53      4     baseSequence          yes
//	57      4     recordCount           yes
//	61      ...   records (possibly compressed)
//
// Because baseOffset and partitionLeaderEpoch lie outside the CRC, assigning
// offsets never invalidates a producer's checksum. Setting LogAppendTime
// changes attributes and maxTimestamp, so SetLogAppendTime recomputes it.
package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of the RecordBatch v2 header before the records.
const HeaderSize = 61

// lengthFieldEnd is where batchLength counts from.
const lengthFieldEnd = 12

// Attribute bits.
const (
	CompressionMask      = 0x07
	TimestampTypeBit     = 0x08
	TransactionalBit     = 0x10
	ControlBit           = 0x20
	DeleteHorizonFlagBit = 0x40
)

// Compression codecs as stored in the attribute bits.
const (
	CompressionNone   = 0
	CompressionGzip   = 1
	CompressionSnappy = 2
	CompressionLZ4    = 3
	CompressionZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by Parse and Split. They map to Kafka's CORRUPT_MESSAGE
// (ErrCorrupt, ErrCRC) and UNSUPPORTED_FOR_MESSAGE_FORMAT (ErrMagic).
var (
	ErrCorrupt = errors.New("corrupt record batch")
	ErrCRC     = errors.New("record batch CRC mismatch")
	ErrMagic   = errors.New("record batch magic is not 2")
)

// Header is the decoded fixed part of one batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength: bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the whole batch's size in bytes.
func (h *Header) Size() int { return lengthFieldEnd + int(h.Length) }

// LastOffset is the batch's last offset.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression returns the codec bits.
func (h *Header) Compression() int { return int(h.Attributes) & CompressionMask }

// IsTransactional reports the transactional attribute bit.
func (h *Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// IsControl reports the control attribute bit.
func (h *Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// LastSequence is the sequence number of the batch's last record, wrapping at
// MaxInt32 as Kafka does.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	return IncSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncSequence adds n to a producer sequence number with Kafka's wrap-around
// (sequences run 0..MaxInt32 and then start again at 0).
func IncSequence(seq, n int32) int32 {
	if int64(seq)+int64(n) > 1<<31-1 {
		return int32(int64(seq) + int64(n) - (1 << 31))
	}
	return seq + n
}

// ParseHeader decodes the header at the start of b. It checks only that the
// header is there and the length is plausible; it does not need the records.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[0:]))
	h.Length = int32(binary.BigEndian.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = binary.BigEndian.Uint32(b[17:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[27:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[57:]))
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d", ErrMagic, h.Magic)
	}
	if h.Length < HeaderSize-lengthFieldEnd {
		return h, fmt.Errorf("%w: batch length %d is shorter than the header", ErrCorrupt, h.Length)
	}
	return h, nil
}

// Parse decodes and validates one whole batch at the start of b: the length
// must fit in b, the CRC must match, and the counts must be consistent. It
// returns the header; the batch is b[:h.Size()].
func Parse(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if int64(h.Length) > int64(len(b)-lengthFieldEnd) {
		return h, fmt.Errorf("%w: batch length %d exceeds the %d bytes present", ErrCorrupt, h.Length, len(b)-lengthFieldEnd)
	}
	end := h.Size()
	if got := crc32.Checksum(b[21:end], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, h.CRC, got)
	}
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 {
		return h, fmt.Errorf("%w: negative lastOffsetDelta %d or recordCount %d", ErrCorrupt, h.LastOffsetDelta, h.RecordCount)
	}
	return h, nil
}

// ValidateProduced applies the checks Kafka makes on a batch arriving from a
// producer beyond Parse: a producer batch holds at least one record and its
// offset delta matches its record count (compaction may leave gaps only in
// batches the broker itself rewrote).
func ValidateProduced(h *Header) error {
	if h.RecordCount <= 0 {
		return fmt.Errorf("%w: batch has %d records", ErrCorrupt, h.RecordCount)
	}
	if h.LastOffsetDelta != h.RecordCount-1 {
		return fmt.Errorf("%w: lastOffsetDelta %d does not match recordCount %d", ErrCorrupt, h.LastOffsetDelta, h.RecordCount)
	}
	return nil
}

// Split walks the whole batches in b and calls fn with each batch's header and
// bytes. Every batch is fully validated by Parse. Trailing bytes that do not
// form a whole batch are an error: producers send whole batches only.
func Split(b []byte, fn func(h Header, batch []byte) error) error {
	for pos := 0; pos < len(b); {
		h, err := Parse(b[pos:])
		if err != nil {
			return fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		end := pos + h.Size()
		if err := fn(h, b[pos:end]); err != nil {
			return err
		}
		pos = end
	}
	return nil
}

// SetBaseOffset rewrites the batch's base offset in place. The CRC does not
// cover it.
func SetBaseOffset(batch []byte, offset int64) {
	binary.BigEndian.PutUint64(batch[0:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the batch's leader epoch in place. The CRC
// does not cover it.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[12:], uint32(epoch))
}

// SetLogAppendTime marks the batch as carrying broker time and sets its
// maxTimestamp to ts (what Kafka does for message.timestamp.type
// LogAppendTime), then recomputes the CRC, which covers both fields.
func SetLogAppendTime(batch []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(batch[21:]) | TimestampTypeBit
	binary.BigEndian.PutUint16(batch[21:], attrs)
	binary.BigEndian.PutUint64(batch[35:], uint64(ts))
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
}

// CRCEnd is the offset in a batch where the bytes its CRC covers begin
// (just after the crc field).
const CRCEnd = 21

// StoredCRC returns the crc field of batch (which must be at least
// CRCEnd bytes long), not checking it.
func StoredCRC(batch []byte) uint32 { return binary.BigEndian.Uint32(batch[17:CRCEnd]) }

// Checksum computes the CRC-32C a batch's crc field must hold.
func Checksum(batch []byte) uint32 { return crc32.Checksum(batch[21:], castagnoli) }
