package recordbatch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// The broker reads records in two places, never re-encoding them:
// ValidateRecords, which checks a produced batch's records against its
// header before it is appended (as Kafka's broker does), and ListOffsets by
// timestamp, which must answer with the first record whose timestamp
// reaches the target, not just its batch (RecordTimestamps).
//
// A record (Kafka's v2 record format), inside the batch's records section,
// which is compressed as a whole with the batch's codec:
//
//	length          varint (bytes after this field)
//	attributes      int8
//	timestampDelta  varint (added to the batch's baseTimestamp)
//	offsetDelta     varint (added to the batch's baseOffset)
//	keyLength       varint (-1: null key), key bytes
//	valueLength     varint (-1: null value), value bytes
//	headerCount     varint, then per header:
//	  keyLength     varint (>= 0), key bytes
//	  valueLength   varint (-1: null), value bytes
//
// Compressed records are read as a stream (except snappy, whose blocks are
// decoded whole): memory stays small whatever a batch expands to, and the
// expansion is capped at maxDecompressed.

// maxDecompressed bounds what one batch's records may expand to, so a
// hostile batch cannot make the broker decompress without limit.
const maxDecompressed = 256 << 20

// minRecordLength is the smallest length a record can have: attributes and
// five one-byte varints (timestamp and offset deltas, key and value
// lengths, header count).
const minRecordLength = 6

// ErrRecords reports a records section that does not decode or does not
// match its batch header; Kafka answers INVALID_RECORD.
var ErrRecords = errors.New("malformed records")

// ValidateRecords decodes a produced batch's records far enough to check
// what its header says of them, as Kafka's broker does before appending:
// the records section holds exactly h.RecordCount records and nothing after
// them, every field of each record lies within its length, and the offset
// deltas are 0, 1, ..., RecordCount-1, the last being LastOffsetDelta. Compressed
// records are decompressed (as a stream, up to maxDecompressed bytes).
// Keys, values and headers are skipped, not copied.
//
// A batch that does not decompress gives an error wrapping ErrCorrupt
// (CORRUPT_MESSAGE); one whose records disagree with the header or do not
// decode, an error wrapping ErrRecords (INVALID_RECORD).
func ValidateRecords(h *Header, batch []byte) error {
	return ValidateRecordsWith(h, batch, ValidateOptions{})
}

// ValidateOptions adds checks to ValidateRecordsWith.
type ValidateOptions struct {
	// RequireKeys refuses a record whose key is null (a topic compacted by
	// key cannot hold one): the error wraps ErrNullKey.
	RequireKeys bool
}

// ErrNullKey reports a record without a key in a batch produced to a topic
// compacted by key; Kafka answers INVALID_RECORD.
var ErrNullKey = errors.New("record without a key")

// ValidateRecordsWith is ValidateRecords with the checks opts adds.
func ValidateRecordsWith(h *Header, batch []byte, opts ValidateOptions) error {
	if h.RecordCount < 0 || int64(h.LastOffsetDelta) != int64(h.RecordCount)-1 {
		return fmt.Errorf("%w: lastOffsetDelta %d does not match recordCount %d", ErrRecords, h.LastOffsetDelta, h.RecordCount)
	}
	src, err := openRecords(h, batch)
	if err != nil {
		return err
	}
	defer src.close()
	for i := int32(0); i < h.RecordCount; i++ {
		rec, err := src.record(true)
		if err != nil {
			return recordError(h, i, err)
		}
		if rec.offsetDelta != int64(i) {
			return fmt.Errorf("%w: record %d has offset delta %d, want %d", ErrRecords, i, rec.offsetDelta, i)
		}
		if opts.RequireKeys && rec.keyNull {
			return fmt.Errorf("%w: record %d of the batch has a null key", ErrNullKey, i)
		}
	}
	if !src.atEnd() {
		if err := src.err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: bytes remain after the %d records the batch header claims", ErrRecords, h.RecordCount)
	}
	return src.err()
}

// recordError describes a failure to read record i of a batch.
func recordError(h *Header, i int32, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the batch header claims %d records, the records end in record %d", ErrRecords, h.RecordCount, i)
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrRecords) {
		return err
	}
	return fmt.Errorf("%w: record %d: %v", ErrRecords, i, err)
}

// RecordTimestamps calls fn with the offset delta and timestamp of each
// record of the batch, in order, until fn returns false. For LogAppendTime
// batches every record carries the batch's maxTimestamp, as Kafka reports.
// Only the length and the first three fields of each record are read.
func RecordTimestamps(batch []byte, fn func(offsetDelta int32, timestamp int64) bool) error {
	h, err := Parse(batch)
	if err != nil {
		return err
	}
	src, err := openRecords(&h, batch)
	if err != nil {
		return err
	}
	defer src.close()
	logAppend := h.Attributes&TimestampTypeBit != 0
	for i := int32(0); i < h.RecordCount; i++ {
		rec, err := src.record(false)
		if err != nil {
			return recordError(&h, i, err)
		}
		if rec.offsetDelta < 0 || rec.offsetDelta > int64(h.LastOffsetDelta) {
			return fmt.Errorf("%w: record %d offset delta", ErrRecords, i)
		}
		ts := h.BaseTimestamp + rec.timestampDelta
		if logAppend {
			ts = h.MaxTimestamp
		}
		if !fn(int32(rec.offsetDelta), ts) {
			return nil
		}
	}
	return nil
}

// recordFields are the fields of one record that are read.
type recordFields struct {
	timestampDelta, offsetDelta int64
	keyNull                     bool // read in strict mode only
}

// recordSource reads the records section of one batch: the bytes
// themselves when uncompressed, else a stream of them decompressed.
type recordSource struct {
	b      []byte        // uncompressed records not read yet (stream == nil)
	stream *bufio.Reader // decompressed records
	limit  *capReader    // under stream: counts and caps the expansion
	done   func()        // returns the decompressor to its pool
	pos    int64         // bytes of records read
}

// openRecords returns the records of the batch h heads.
func openRecords(h *Header, batch []byte) (*recordSource, error) {
	recs := batch[HeaderSize:h.Size()]
	codec := h.Compression()
	switch codec {
	case CompressionNone:
		return &recordSource{b: recs}, nil
	case CompressionSnappy:
		out, err := snappyDecode(recs)
		if err != nil {
			return nil, err
		}
		return &recordSource{b: out}, nil
	}
	r, done, err := decompressor(codec, recs)
	if err != nil {
		return nil, err
	}
	limit := &capReader{r: r, left: maxDecompressed}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(limit)
	return &recordSource{stream: br, limit: limit, done: done}, nil
}

// readerPool holds the buffered readers of decompressed records.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

func (s *recordSource) close() {
	if s.stream != nil {
		s.stream.Reset(nil)
		readerPool.Put(s.stream)
		s.stream = nil
	}
	if s.done != nil {
		s.done()
		s.done = nil
	}
}

// ReadByte implements io.ByteReader for binary.ReadVarint.
func (s *recordSource) ReadByte() (byte, error) {
	if s.stream == nil {
		if len(s.b) == 0 {
			return 0, io.EOF
		}
		c := s.b[0]
		s.b = s.b[1:]
		s.pos++
		return c, nil
	}
	c, err := s.stream.ReadByte()
	if err == nil {
		s.pos++
	}
	return c, err
}

// varint reads one zig-zag varint, an unexpected end being io.ErrUnexpectedEOF
// once a byte of it was read.
func (s *recordSource) varint() (int64, error) {
	if s.stream == nil {
		v, n := binary.Varint(s.b)
		switch {
		case n == 0 && len(s.b) == 0:
			return 0, io.EOF
		case n == 0:
			return 0, io.ErrUnexpectedEOF
		case n < 0:
			return 0, errors.New("varint overflows 64 bits")
		}
		s.b = s.b[n:]
		s.pos += int64(n)
		return v, nil
	}
	return binary.ReadVarint(s)
}

// skip passes over n bytes.
func (s *recordSource) skip(n int64) error {
	if s.stream == nil {
		if n > int64(len(s.b)) {
			return io.ErrUnexpectedEOF
		}
		s.b = s.b[n:]
		s.pos += n
		return nil
	}
	for n > 0 {
		step := int(min(n, 1<<30))
		got, err := s.stream.Discard(step)
		s.pos += int64(got)
		n -= int64(got)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// atEnd reports whether every byte of the records was read.
func (s *recordSource) atEnd() bool {
	if s.stream == nil {
		return len(s.b) == 0
	}
	_, err := s.stream.ReadByte()
	return err == io.EOF
}

// err reports a failure of the decompressed stream that atEnd or a read
// may have hidden: data that does not decompress, or an expansion past
// maxDecompressed.
func (s *recordSource) err() error {
	switch {
	case s.limit == nil:
		return nil
	case s.limit.over:
		return fmt.Errorf("%w: records expand beyond %d bytes", ErrCorrupt, maxDecompressed)
	case s.limit.failed != nil:
		return fmt.Errorf("%w: decompress records: %v", ErrCorrupt, s.limit.failed)
	}
	return nil
}

// record reads the next record. Strict reading checks every field against
// the record's length; otherwise only the length and the first three
// fields are read and the rest is skipped.
func (s *recordSource) record(strict bool) (recordFields, error) {
	var f recordFields
	length, err := s.varint()
	if err != nil {
		return f, s.streamErr(err)
	}
	if length < minRecordLength || length > maxDecompressed {
		return f, fmt.Errorf("%w: record length %d", ErrRecords, length)
	}
	if s.stream == nil && length > int64(len(s.b)) {
		return f, io.ErrUnexpectedEOF
	}
	start := s.pos
	left := func() int64 { return length - (s.pos - start) }
	if _, err := s.ReadByte(); err != nil { // attributes
		return f, s.streamErr(eofUnexpected(err))
	}
	if f.timestampDelta, err = s.varint(); err != nil {
		return f, s.streamErr(eofUnexpected(err))
	}
	if f.offsetDelta, err = s.varint(); err != nil {
		return f, s.streamErr(eofUnexpected(err))
	}
	if left() < 0 {
		return f, fmt.Errorf("%w: record fields run past its length %d", ErrRecords, length)
	}
	if !strict {
		return f, s.streamErr(s.skip(left()))
	}
	// Key and value: a length (-1 for null) and the bytes.
	for _, what := range [2]string{"key", "value"} {
		n, err := s.varint()
		if err != nil {
			return f, s.streamErr(eofUnexpected(err))
		}
		if n < -1 || n > left() {
			return f, fmt.Errorf("%w: %s length %d in a record of %d bytes", ErrRecords, what, n, length)
		}
		if what == "key" && n == -1 {
			f.keyNull = true
		}
		if err := s.skip(max(n, 0)); err != nil {
			return f, s.streamErr(err)
		}
	}
	headers, err := s.varint()
	if err != nil {
		return f, s.streamErr(eofUnexpected(err))
	}
	// A header takes at least two bytes (its two lengths).
	if headers < 0 || headers > left()/2 {
		return f, fmt.Errorf("%w: header count %d in a record of %d bytes", ErrRecords, headers, length)
	}
	for range headers {
		for _, nullable := range [2]bool{false, true} {
			n, err := s.varint()
			if err != nil {
				return f, s.streamErr(eofUnexpected(err))
			}
			if n < -1 || (n == -1 && !nullable) || n > left() {
				return f, fmt.Errorf("%w: header field length %d in a record of %d bytes", ErrRecords, n, length)
			}
			if err := s.skip(max(n, 0)); err != nil {
				return f, s.streamErr(err)
			}
		}
	}
	if left() != 0 {
		return f, fmt.Errorf("%w: record of length %d holds %d bytes of fields", ErrRecords, length, s.pos-start)
	}
	return f, nil
}

// streamErr returns the decompressor's failure, if any, in place of err:
// a stream that breaks looks like one that ends to the readers above it.
func (s *recordSource) streamErr(err error) error {
	if err == nil {
		return nil
	}
	if e := s.err(); e != nil {
		return e
	}
	return err
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// capReader reads at most left bytes of r, then reports over and ends. It
// keeps the first error of r other than the end of its data in failed.
type capReader struct {
	r      io.Reader
	left   int64
	over   bool
	failed error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF && c.failed == nil {
		c.failed = err
	}
	return n, err
}

// Pools of decompressors: making one costs more than a small batch's
// decompression.
var (
	gzipPool sync.Pool // *gzip.Reader
	lz4Pool  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdPool sync.Pool // *zstd.Decoder
)

// decompressor returns a reader of src decompressed with codec and a
// function that returns it to its pool once read.
func decompressor(codec int, src []byte) (io.Reader, func(), error) {
	switch codec {
	case CompressionGzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return zr, func() { zr.Close(); gzipPool.Put(zr) }, nil
	case CompressionLZ4:
		zr := lz4Pool.Get().(*lz4.Reader)
		zr.Reset(bytes.NewReader(src))
		return zr, func() { zr.Reset(nil); lz4Pool.Put(zr) }, nil
	case CompressionZstd:
		zr, _ := zstdPool.Get().(*zstd.Decoder)
		var err error
		if zr == nil {
			zr, err = zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderMaxMemory(maxDecompressed), zstd.WithDecoderConcurrency(1))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			if zr != nil {
				zstdPool.Put(zr)
			}
			return nil, nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		return zr, func() { zr.Reset(nil); zstdPool.Put(zr) }, nil
	}
	return nil, nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, codec)
}

// xerialMagic opens snappy data in the Java client's framed format.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// snappyDecode reads raw snappy blocks and the Java client's xerial
// framing (magic, two version ints, then length-prefixed blocks).
func snappyDecode(src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(src, 0)
	}
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: snappy: short xerial header", ErrCorrupt)
	}
	var out []byte
	for rest := src[16:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: snappy: torn xerial block", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, fmt.Errorf("%w: snappy: xerial block of %d bytes exceeds the input", ErrCorrupt, n)
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
		return nil, fmt.Errorf("%w: snappy: bad or oversized block", ErrCorrupt)
	}
	out, err := s2.Decode(nil, src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return out, nil
}
