package recordbatch

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// The broker never decodes records on the produce or fetch path. It does
// for one request: ListOffsets by timestamp, which must answer with the
// first record whose timestamp reaches the target, not just its batch.
//
// A record (Kafka's v2 record format), inside the batch's records section,
// which is compressed as a whole with the batch's codec:
//
//	length          varint (bytes after this field)
//	attributes      int8
//	timestampDelta  varint (added to the batch's baseTimestamp)
//	offsetDelta     varint (added to the batch's baseOffset)
//	keyLength       varint, key bytes
//	valueLength     varint, value bytes
//	headers         varint count, then key/value pairs
//
// Only the first four fields are read; the length skips the rest.

// maxDecompressed bounds what one batch may expand to, so a hostile batch
// cannot make the broker allocate without limit.
const maxDecompressed = 64 << 20

// ErrRecords reports a records section that does not decode.
var ErrRecords = errors.New("malformed records")

// RecordTimestamps calls fn with the offset delta and timestamp of each
// record of the batch, in order, until fn returns false. For LogAppendTime
// batches every record carries the batch's maxTimestamp, as Kafka reports.
func RecordTimestamps(batch []byte, fn func(offsetDelta int32, timestamp int64) bool) error {
	h, err := Parse(batch)
	if err != nil {
		return err
	}
	recs := batch[HeaderSize:h.Size()]
	if h.Compression() != CompressionNone {
		if recs, err = decompress(h.Compression(), recs); err != nil {
			return err
		}
	}
	logAppend := h.Attributes&TimestampTypeBit != 0
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(recs)
		if n <= 0 || length < 3 || length > int64(len(recs)-n) {
			return fmt.Errorf("%w: record %d length", ErrRecords, i)
		}
		rec := recs[n : n+int(length)]
		recs = recs[n+int(length):]
		rec = rec[1:] // attributes
		tsDelta, n1 := binary.Varint(rec)
		if n1 <= 0 {
			return fmt.Errorf("%w: record %d timestamp", ErrRecords, i)
		}
		offDelta, n2 := binary.Varint(rec[n1:])
		if n2 <= 0 || offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
			return fmt.Errorf("%w: record %d offset delta", ErrRecords, i)
		}
		ts := h.BaseTimestamp + tsDelta
		if logAppend {
			ts = h.MaxTimestamp
		}
		if !fn(int32(offDelta), ts) {
			return nil
		}
	}
	return nil
}

// xerialMagic opens snappy data in the Java client's framed format.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func decompress(codec int, src []byte) ([]byte, error) {
	var r io.Reader
	switch codec {
	case CompressionGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrRecords, err)
		}
		defer zr.Close()
		r = zr
	case CompressionSnappy:
		return snappyDecode(src)
	case CompressionLZ4:
		r = lz4.NewReader(bytes.NewReader(src))
	case CompressionZstd:
		zr, err := zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderMaxMemory(maxDecompressed), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrRecords, err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrRecords, codec)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrRecords, err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("%w: batch expands beyond %d bytes", ErrRecords, maxDecompressed)
	}
	return out, nil
}

// snappyDecode reads raw snappy blocks and the Java client's xerial
// framing (magic, two version ints, then length-prefixed blocks).
func snappyDecode(src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(src, 0)
	}
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: snappy: short xerial header", ErrRecords)
	}
	var out []byte
	for rest := src[16:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: snappy: torn xerial block", ErrRecords)
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, fmt.Errorf("%w: snappy: xerial block of %d bytes exceeds the input", ErrRecords, n)
		}
		block, err := snappyBlock(rest[4:4+n], len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, block...)
		rest = rest[4+n:]
	}
	return out, nil
}

func snappyBlock(src []byte, have int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil || n+have > maxDecompressed {
		return nil, fmt.Errorf("%w: snappy: bad or oversized block", ErrRecords)
	}
	out, err := s2.Decode(nil, src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrRecords, err)
	}
	return out, nil
}
