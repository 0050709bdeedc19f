package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// RecordBatch v2 header, all integers big-endian:
//
//	offset size field
//	0      8    baseOffset
//	8      4    batchLength           bytes after this field
//	12     4    partitionLeaderEpoch
//	16     1    magic                 2
//	17     4    crc                   CRC-32C of bytes [21, end)
//	21     2    attributes
//	23     4    lastOffsetDelta
//	27     8    baseTimestamp
//	35     8    maxTimestamp
//	43     8    producerId
//	51     2    producerEpoch
//	53     4    baseSequence
//	57     4    recordCount
//	61     ...  records
const (
	batchHeaderSize     = 61
	batchLengthFieldEnd = 12
	batchMinLength      = batchHeaderSize - batchLengthFieldEnd // 49
	batchMagicAt        = 16
	batchCRCAt          = 17
	batchCRCStart       = 21
)

// batchHeader holds the header fields this package uses.
type batchHeader struct {
	baseOffset      int64
	length          int32
	magic           int8
	crc             uint32
	lastOffsetDelta int32
	maxTimestamp    int64
	recordCount     int32
}

// readBatchHeader decodes the header at the start of b, which must hold at
// least batchHeaderSize bytes.
func readBatchHeader(b []byte) batchHeader {
	_ = b[batchHeaderSize-1]
	return batchHeader{
		baseOffset:      int64(binary.BigEndian.Uint64(b[0:])),
		length:          int32(binary.BigEndian.Uint32(b[8:])),
		magic:           int8(b[batchMagicAt]),
		crc:             binary.BigEndian.Uint32(b[batchCRCAt:]),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[23:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(b[35:])),
		recordCount:     int32(binary.BigEndian.Uint32(b[57:])),
	}
}

// size is the whole batch's size in bytes; use it only once the batch is
// known to fit in memory (size64 <= len of the buffer).
func (h *batchHeader) size() int { return batchLengthFieldEnd + int(h.length) }

func (h *batchHeader) size64() int64 { return batchLengthFieldEnd + int64(h.length) }

func (h *batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }

// check validates the header fields on their own.
func (h *batchHeader) check() error {
	switch {
	case h.length < batchMinLength:
		return fmt.Errorf("batch length %d is below the minimum %d", h.length, batchMinLength)
	case h.magic != 2:
		return fmt.Errorf("magic %d, want 2", h.magic)
	case h.baseOffset < 0:
		return fmt.Errorf("negative base offset %d", h.baseOffset)
	case h.lastOffsetDelta < 0:
		return fmt.Errorf("negative last offset delta %d", h.lastOffsetDelta)
	case h.baseOffset > math.MaxInt64-int64(h.lastOffsetDelta)-1:
		return fmt.Errorf("base offset %d + last offset delta %d overflows", h.baseOffset, h.lastOffsetDelta)
	case h.recordCount < 0:
		return fmt.Errorf("negative record count %d", h.recordCount)
	}
	return nil
}

// VerifyOptions changes what VerifyBatchesWith accepts.
type VerifyOptions struct {
	// AllowGaps accepts a batch whose base offset is past the previous
	// batch's last offset + 1 (and a first batch past expectFirst), as
	// compaction leaves. By default offsets must be exactly contiguous.
	AllowGaps bool
}

// VerifyBatches walks whole RecordBatch v2 in b (as stored: base offsets
// assigned) and checks each batch's length field, magic == 2, CRC-32C over
// the bytes from attributes to the batch's end, and that offsets are
// contiguous from expectFirst (pass -1 to skip that check for the first
// batch). It returns the number of whole batches, the offset after the last
// one (expectFirst if there is none), and the bytes they occupy.
//
// A partial batch at the end of b is not an error: consumed is then less
// than len(b). A batch whose visible header is already invalid (bad length
// or magic) is corruption even if it is cut short. Corruption is reported
// as a *CorruptionError whose Offset is the byte position of the bad batch
// in b; n, nextOffset and consumed still describe the good batches before it.
func VerifyBatches(b []byte, expectFirst int64) (n int, nextOffset int64, consumed int, err error) {
	return VerifyBatchesWith(b, expectFirst, VerifyOptions{})
}

// VerifyBatchesWith is VerifyBatches with options, for compacted data.
func VerifyBatchesWith(b []byte, expectFirst int64, opts VerifyOptions) (n int, nextOffset int64, consumed int, err error) {
	next := expectFirst
	pos := 0
	for pos < len(b) {
		rest := b[pos:]
		if len(rest) < batchLengthFieldEnd {
			break
		}
		length := int32(binary.BigEndian.Uint32(rest[8:]))
		if length < batchMinLength {
			return n, next, pos, corruptf(int64(pos), "batch length %d is below the minimum %d", length, batchMinLength)
		}
		if len(rest) > batchMagicAt && int8(rest[batchMagicAt]) != 2 {
			return n, next, pos, corruptf(int64(pos), "batch magic %d, want 2", int8(rest[batchMagicAt]))
		}
		if int64(len(rest)) < batchLengthFieldEnd+int64(length) {
			break
		}
		size := batchLengthFieldEnd + int(length)
		h := readBatchHeader(rest)
		if err := h.check(); err != nil {
			return n, next, pos, corruptf(int64(pos), "batch: %v", err)
		}
		if got := crc32.Checksum(rest[batchCRCStart:size], castagnoli); got != h.crc {
			return n, next, pos, corruptf(int64(pos), "batch at offset %d: CRC %#08x, stored %#08x", h.baseOffset, got, h.crc)
		}
		if next >= 0 {
			if h.baseOffset < next || (!opts.AllowGaps && h.baseOffset != next) {
				return n, next, pos, corruptf(int64(pos), "batch base offset %d, want %d", h.baseOffset, next)
			}
		}
		next = h.lastOffset() + 1
		n++
		pos += size
	}
	return n, next, pos, nil
}

// Sizes of the RecordBatch v2 framing for callers that check a batch in
// parts (VerifyBatchHeader): the header's bytes, and where the bytes the
// CRC-32C covers begin.
const (
	BatchHeaderSize = batchHeaderSize
	BatchCRCStart   = batchCRCStart
)

// CheckedHeader is what VerifyBatchHeader learned from a batch header.
type CheckedHeader struct {
	Size       int64  // the whole batch's bytes
	CRC        uint32 // the stored CRC-32C of bytes [BatchCRCStart, Size)
	BaseOffset int64
	NextOffset int64 // last offset + 1
}

// VerifyBatchHeader makes every check VerifyBatchesWith makes of one batch
// except the CRC: head holds the batch's first BatchHeaderSize bytes (or
// more), and the caller, which holds the batch's bytes in pieces, compares
// the CRC-32C of bytes [BatchCRCStart, Size) with the returned CRC itself.
// expect is the offset the batch must start at (or, with AllowGaps, not
// before; -1 skips the check). Errors are *CorruptionError with Offset 0.
func VerifyBatchHeader(head []byte, expect int64, opts VerifyOptions) (CheckedHeader, error) {
	if len(head) < batchHeaderSize {
		return CheckedHeader{}, corruptf(0, "batch header cut at %d of %d bytes", len(head), batchHeaderSize)
	}
	h := readBatchHeader(head)
	if err := h.check(); err != nil {
		return CheckedHeader{}, corruptf(0, "batch: %v", err)
	}
	if expect >= 0 && (h.baseOffset < expect || (!opts.AllowGaps && h.baseOffset != expect)) {
		return CheckedHeader{}, corruptf(0, "batch base offset %d, want %d", h.baseOffset, expect)
	}
	return CheckedHeader{Size: h.size64(), CRC: h.crc, BaseOffset: h.baseOffset, NextOffset: h.lastOffset() + 1}, nil
}

// CRCMismatch is the corruption VerifyBatchesWith reports for a batch
// whose CRC-32C is not the stored one, for callers of VerifyBatchHeader.
func CRCMismatch(h CheckedHeader, got uint32) error {
	return corruptf(0, "batch at offset %d: CRC %#08x, stored %#08x", h.BaseOffset, got, h.CRC)
}
