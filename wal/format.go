package wal

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/shalelog/shale/internal/crc32c"
)

// Key names one partition: the topic's 16-byte UUID and the partition index.
type Key struct {
	Topic     [16]byte
	Partition int32
}

// String renders the key as "<topic uuid hex>/<partition>".
func (k Key) String() string {
	return hex.EncodeToString(k.Topic[:]) + "/" + fmt.Sprint(k.Partition)
}

const (
	segmentMagic = "SHWL"
	// segmentVersion is the version new segments are written with.
	// Version 1 stored each frame's CRC as is; version 2 stores it XORed
	// with the segment's salt (see frameSalt), so frames left over from a
	// recycled file's previous life never verify. Both are read.
	segmentVersion   = 2
	segmentVersionV1 = 1

	segmentHeaderSize = 32
	frameHeaderSize   = 56

	frameKindEntry = 1

	maxEntrySpan = math.MaxInt32 // LastOffset-BaseOffset must fit a Kafka record count
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentHeader is the fixed header at the start of every segment file.
type segmentHeader struct {
	version uint16
	id      uint64
	created time.Time
}

// salt is the value frame CRCs of this segment are XORed with.
func (h segmentHeader) salt() uint32 {
	if h.version == segmentVersionV1 {
		return 0
	}
	return frameSalt(h.id)
}

// frameSalt is the CRC salt of version 2 segment id: the low 32 bits of the
// id times an odd constant, a bijection on those bits, so two segments
// whose ids differ by less than 2^32 never share a salt. A frame written to
// segment a and read as part of segment b (a recycled file's stale tail)
// fails its CRC check whatever its bytes.
func frameSalt(id uint64) uint32 { return uint32(id) * 0x9e3779b1 }

// appendSegmentHeader appends the encoded header of segment id to dst.
func appendSegmentHeader(dst []byte, id uint64, created time.Time) []byte {
	var b [segmentHeaderSize]byte
	copy(b[0:4], segmentMagic)
	binary.LittleEndian.PutUint16(b[4:6], segmentVersion)
	binary.LittleEndian.PutUint16(b[6:8], segmentHeaderSize)
	binary.LittleEndian.PutUint64(b[8:16], id)
	binary.LittleEndian.PutUint64(b[16:24], uint64(created.UnixNano()))
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], castagnoli))
	return append(dst, b[:]...)
}

// decodeSegmentHeader validates and decodes a segment header. The error
// text is a reason suitable for a CorruptionError.
func decodeSegmentHeader(b []byte) (segmentHeader, error) {
	if len(b) < segmentHeaderSize {
		return segmentHeader{}, fmt.Errorf("segment header is %d bytes, want %d", len(b), segmentHeaderSize)
	}
	if string(b[0:4]) != segmentMagic {
		return segmentHeader{}, fmt.Errorf("bad magic %q", b[0:4])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:32]), crc32.Checksum(b[:28], castagnoli); got != want {
		return segmentHeader{}, fmt.Errorf("segment header crc %08x, computed %08x", got, want)
	}
	v := binary.LittleEndian.Uint16(b[4:6])
	if v != segmentVersion && v != segmentVersionV1 {
		return segmentHeader{}, fmt.Errorf("unsupported segment version %d", v)
	}
	if n := binary.LittleEndian.Uint16(b[6:8]); n != segmentHeaderSize {
		return segmentHeader{}, fmt.Errorf("segment header length %d, want %d", n, segmentHeaderSize)
	}
	if r := binary.LittleEndian.Uint32(b[24:28]); r != 0 {
		return segmentHeader{}, fmt.Errorf("reserved header field is %08x, want 0", r)
	}
	return segmentHeader{
		version: v,
		id:      binary.LittleEndian.Uint64(b[8:16]),
		created: time.Unix(0, int64(binary.LittleEndian.Uint64(b[16:24]))),
	}, nil
}

// frameHeader is the decoded fixed part of a frame.
type frameHeader struct {
	crc          uint32
	length       uint32 // payload bytes
	key          Key
	baseOffset   int64
	lastOffset   int64
	maxTimestamp int64
}

// frameSize is the on-disk size of the frame.
func (h frameHeader) frameSize() int64 { return frameHeaderSize + int64(h.length) }

// putFrameHeader encodes everything but the CRC of a frame for e into
// b[:frameHeaderSize] and returns the CRC over header and payload. The
// caller stores the CRC with putFrameCRC.
func putFrameHeader(b []byte, e *Entry) uint32 {
	_ = b[frameHeaderSize-1]
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(e.Data)))
	b[8] = frameKindEntry
	b[9], b[10], b[11] = 0, 0, 0
	copy(b[12:28], e.Key.Topic[:])
	binary.LittleEndian.PutUint32(b[28:32], uint32(e.Key.Partition))
	binary.LittleEndian.PutUint64(b[32:40], uint64(e.BaseOffset))
	binary.LittleEndian.PutUint64(b[40:48], uint64(e.LastOffset))
	binary.LittleEndian.PutUint64(b[48:56], uint64(e.MaxTimestamp))
	crc := crc32.Update(0, castagnoli, b[4:frameHeaderSize])
	if e.HasDataCRC {
		return crc32c.Combine(crc, e.DataCRC, int64(len(e.Data)))
	}
	return crc32.Update(crc, castagnoli, e.Data)
}

func putFrameCRC(b []byte, crc uint32) { binary.LittleEndian.PutUint32(b[0:4], crc) }

// errShortFrame means the bytes end inside a frame (a torn tail).
var errShortFrame = errors.New("frame extends past end of data")

// decodeFrameHeader decodes and sanity-checks a frame header. It does not
// check the CRC, which covers the payload too (see frameCRC).
func decodeFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < frameHeaderSize {
		return frameHeader{}, errShortFrame
	}
	h := frameHeader{
		crc:          binary.LittleEndian.Uint32(b[0:4]),
		length:       binary.LittleEndian.Uint32(b[4:8]),
		baseOffset:   int64(binary.LittleEndian.Uint64(b[32:40])),
		lastOffset:   int64(binary.LittleEndian.Uint64(b[40:48])),
		maxTimestamp: int64(binary.LittleEndian.Uint64(b[48:56])),
	}
	copy(h.key.Topic[:], b[12:28])
	h.key.Partition = int32(binary.LittleEndian.Uint32(b[28:32]))
	switch {
	case b[8] != frameKindEntry:
		return h, fmt.Errorf("unknown frame kind %d", b[8])
	case b[9]|b[10]|b[11] != 0:
		return h, errors.New("reserved frame bytes are not zero")
	case h.length == 0:
		return h, errors.New("empty frame payload")
	case h.length > MaxEntryBytes:
		return h, fmt.Errorf("frame payload length %d exceeds %d", h.length, MaxEntryBytes)
	case h.key.Partition < 0:
		return h, fmt.Errorf("negative partition %d", h.key.Partition)
	case h.baseOffset < 0 || h.lastOffset < h.baseOffset || h.lastOffset-h.baseOffset > maxEntrySpan:
		return h, fmt.Errorf("bad offset range [%d, %d]", h.baseOffset, h.lastOffset)
	}
	return h, nil
}

// frameCRC computes the stored CRC of a frame from its encoded header and
// payload: the CRC32C XORed with the segment's salt.
func frameCRC(header, payload []byte, salt uint32) uint32 {
	crc := crc32.Update(0, castagnoli, header[4:frameHeaderSize])
	return crc32.Update(crc, castagnoli, payload) ^ salt
}

// saltFrameHeader XORs the stored CRC of the encoded frame header h with
// salt.
func saltFrameHeader(h []byte, salt uint32) {
	binary.LittleEndian.PutUint32(h, binary.LittleEndian.Uint32(h)^salt)
}

// decodeFrame decodes one whole frame of a segment with the given salt from
// the front of b. The returned entry's Data aliases b. n is the frame's
// size in bytes.
func decodeFrame(b []byte, salt uint32) (e Entry, n int, err error) {
	h, err := decodeFrameHeader(b)
	if err != nil {
		return Entry{}, 0, err
	}
	if int64(len(b)) < h.frameSize() {
		return Entry{}, 0, errShortFrame
	}
	payload := b[frameHeaderSize:h.frameSize()]
	if got := frameCRC(b, payload, salt); got != h.crc {
		return Entry{}, 0, fmt.Errorf("frame crc %08x, computed %08x", h.crc, got)
	}
	return h.entry(payload), int(h.frameSize()), nil
}

func (h frameHeader) entry(payload []byte) Entry {
	return Entry{
		Key:          h.key,
		BaseOffset:   h.baseOffset,
		LastOffset:   h.lastOffset,
		MaxTimestamp: h.maxTimestamp,
		Data:         payload,
	}
}
