package recordbatch

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compaction by key is the one place Shale re-encodes batches: a batch some
// of whose records are removed is written again holding only the kept
// records (see Rebuild). Everything else in this package reads batches or
// patches fields outside the records.

// Record is one record of a batch as DecodeRecords returns it.
type Record struct {
	OffsetDelta    int32
	TimestampDelta int64
	Key            []byte // nil when the key is null
	KeyNull        bool
	Value          []byte // nil when the value is null
	ValueNull      bool   // a tombstone: the value is null
	Raw            []byte // the whole record, its length prefix included, uncompressed
}

// Timestamp is the record's timestamp in a batch headed by h: the batch's
// maxTimestamp for LogAppendTime batches, else baseTimestamp + delta.
func (r *Record) Timestamp(h *Header) int64 {
	if h.Attributes&TimestampTypeBit != 0 {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// DecodeRecords decodes every record of a whole, CRC-checked batch headed
// by h. The records are decompressed into buf (grown as needed and
// returned for reuse); Key, Value and Raw of each record are slices of it, valid
// until buf is reused. recs is reused too. Offset deltas must ascend
// within [0, LastOffsetDelta] (compaction leaves gaps, so they need not be
// 0..n-1). Malformed records give an error wrapping ErrRecords, data that
// does not decompress one wrapping ErrCorrupt; it never panics.
func DecodeRecords(h *Header, batch []byte, buf []byte, recs []Record) ([]Record, []byte, error) {
	recs = recs[:0]
	if h.Size() > len(batch) || h.Size() < HeaderSize {
		return recs, buf, fmt.Errorf("%w: batch of %d bytes, header says %d", ErrCorrupt, len(batch), h.Size())
	}
	raw := batch[HeaderSize:h.Size()]
	switch codec := h.Compression(); codec {
	case CompressionNone:
	case CompressionSnappy:
		out, err := snappyDecode(raw)
		if err != nil {
			return recs, buf, err
		}
		raw = out
	default:
		r, done, err := decompressor(codec, raw)
		if err != nil {
			return recs, buf, err
		}
		limit := &capReader{r: r, left: maxDecompressed}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := limit.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				done()
				return recs, buf, fmt.Errorf("%w: decompress records: %v", ErrCorrupt, err)
			}
		}
		done()
		switch {
		case limit.over:
			return recs, buf, fmt.Errorf("%w: records expand beyond %d bytes", ErrCorrupt, maxDecompressed)
		case limit.failed != nil:
			return recs, buf, fmt.Errorf("%w: decompress records: %v", ErrCorrupt, limit.failed)
		}
		raw = buf
	}
	if h.RecordCount < 0 || int64(h.RecordCount) > int64(len(raw))/minRecordLength+1 {
		return recs, buf, fmt.Errorf("%w: record count %d in %d bytes of records", ErrRecords, h.RecordCount, len(raw))
	}
	prev := int64(-1)
	for i := int32(0); i < h.RecordCount; i++ {
		rec, n, err := decodeRecord(raw)
		if err != nil {
			return recs, buf, fmt.Errorf("%w: record %d of %d: %v", ErrRecords, i, h.RecordCount, err)
		}
		d := int64(rec.OffsetDelta)
		if d <= prev || d > int64(h.LastOffsetDelta) {
			return recs, buf, fmt.Errorf("%w: record %d has offset delta %d after %d, last offset delta %d", ErrRecords, i, d, prev, h.LastOffsetDelta)
		}
		prev = d
		recs = append(recs, rec)
		raw = raw[n:]
	}
	if len(raw) != 0 {
		return recs, buf, fmt.Errorf("%w: %d bytes remain after the %d records the batch header claims", ErrRecords, len(raw), h.RecordCount)
	}
	return recs, buf, nil
}

// decodeRecord reads one record at the start of b and returns it and its
// size.
func decodeRecord(b []byte) (Record, int, error) {
	var r Record
	length, n := binary.Varint(b)
	if n <= 0 {
		return r, 0, fmt.Errorf("bad length varint")
	}
	if length < minRecordLength || length > int64(len(b)-n) {
		return r, 0, fmt.Errorf("length %d with %d bytes left", length, len(b)-n)
	}
	size := n + int(length)
	body := b[n:size]
	body = body[1:] // attributes
	var ok bool
	var v int64
	next := func() bool {
		var m int
		v, m = binary.Varint(body)
		if m <= 0 {
			return false
		}
		body = body[m:]
		return true
	}
	if ok = next(); !ok {
		return r, 0, fmt.Errorf("bad timestamp delta")
	}
	r.TimestampDelta = v
	if ok = next(); !ok || v < 0 || v > 1<<31-1 {
		return r, 0, fmt.Errorf("bad offset delta")
	}
	r.OffsetDelta = int32(v)
	for _, what := range [2]string{"key", "value"} {
		if !next() || v < -1 || v > int64(len(body)) {
			return r, 0, fmt.Errorf("bad %s length", what)
		}
		if what == "key" {
			if v < 0 {
				r.KeyNull = true
			} else {
				r.Key = body[:v]
			}
		} else if v < 0 {
			r.ValueNull = true
		} else {
			r.Value = body[:v]
		}
		body = body[max(v, 0):]
	}
	if !next() || v < 0 || v > int64(len(body))/2 {
		return r, 0, fmt.Errorf("bad header count")
	}
	for range v {
		for _, nullable := range [2]bool{false, true} {
			if !next() || v < -1 || (v == -1 && !nullable) || v > int64(len(body)) {
				return r, 0, fmt.Errorf("bad header field length")
			}
			body = body[max(v, 0):]
		}
	}
	if len(body) != 0 {
		return r, 0, fmt.Errorf("%d bytes after the record's fields", len(body))
	}
	r.Raw = b[:size]
	return r, size, nil
}

// Rebuild appends to dst a batch headed like h holding only recs (records
// of that batch, in order; possibly none) and returns dst. Everything Kafka
// keeps when its log cleaner rewrites a batch stays: the base offset,
// lastOffsetDelta (so the batch still ends where it ended and the
// producer's sequence state holds), base and max timestamps, producer id,
// epoch and base sequence, the partition leader epoch, the timestamp-type
// and transactional bits and the compression codec (the records are
// compressed again with it; snappy in the Java client's xerial framing).
// An emptied batch is written uncompressed, as Kafka writes one. The
// records keep their offset and timestamp deltas, so every kept record
// keeps its offset and timestamp. The CRC is computed anew.
func Rebuild(dst []byte, h *Header, recs []Record) []byte {
	start := len(dst)
	codec := h.Compression()
	if len(recs) == 0 {
		codec = CompressionNone
	}
	dst = append(dst, make([]byte, HeaderSize)...)
	if codec == CompressionNone {
		for i := range recs {
			dst = append(dst, recs[i].Raw...)
		}
	} else {
		var raw []byte
		for i := range recs {
			raw = append(raw, recs[i].Raw...)
		}
		dst = compress(dst, codec, raw)
	}
	b := dst[start:]
	binary.BigEndian.PutUint64(b[0:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-lengthFieldEnd))
	binary.BigEndian.PutUint32(b[12:], uint32(h.PartitionLeaderEpoch))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(h.Attributes&^CompressionMask)|uint16(codec))
	binary.BigEndian.PutUint32(b[23:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[27:], uint64(h.BaseTimestamp))
	binary.BigEndian.PutUint64(b[35:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[43:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[51:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[53:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[57:], uint32(len(recs)))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return dst
}

// zstdEncoders pools the encoders Rebuild uses.
var zstdEncoders = sync.Pool{New: func() any {
	e, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	return e
}}

// xerialBlock is the block size of the snappy framing Kafka's Java client
// writes (and reads).
const xerialBlock = 32 << 10

// compress appends raw compressed with codec to dst.
func compress(dst []byte, codec int, raw []byte) []byte {
	switch codec {
	case CompressionGzip:
		buf := bytes.NewBuffer(dst)
		w := gzip.NewWriter(buf)
		w.Write(raw)
		w.Close()
		return buf.Bytes()
	case CompressionSnappy:
		dst = append(dst, xerialMagic...)
		dst = binary.BigEndian.AppendUint32(dst, 1) // version
		dst = binary.BigEndian.AppendUint32(dst, 1) // compatible version
		for len(raw) > 0 {
			n := min(len(raw), xerialBlock)
			block := s2.EncodeSnappy(nil, raw[:n])
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
			dst = append(dst, block...)
			raw = raw[n:]
		}
		return dst
	case CompressionLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		w.Write(raw)
		w.Close()
		return buf.Bytes()
	case CompressionZstd:
		e := zstdEncoders.Get().(*zstd.Encoder)
		dst = e.EncodeAll(raw, dst)
		zstdEncoders.Put(e)
		return dst
	}
	return append(dst, raw...)
}
