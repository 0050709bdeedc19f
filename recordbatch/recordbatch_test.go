package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch is what newBatch builds.
type testBatch struct {
	records       int
	baseTimestamp int64
	producerID    int64
	baseSequence  int32
	attributes    int16
}

// newBatch encodes a valid RecordBatch v2 with tb.records small records and
// a correct CRC.
func newBatch(t testing.TB, tb testBatch) []byte {
	t.Helper()
	var recs []byte
	for i := range tb.records {
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            []byte(fmt.Sprintf("value-%d", i)),
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{
		Length:          int32(HeaderSize - lengthFieldEnd + len(recs)),
		Magic:           2,
		Attributes:      tb.attributes,
		LastOffsetDelta: int32(tb.records - 1),
		FirstTimestamp:  tb.baseTimestamp,
		MaxTimestamp:    tb.baseTimestamp + int64(tb.records-1),
		ProducerID:      tb.producerID,
		ProducerEpoch:   -1,
		FirstSequence:   tb.baseSequence,
		NumRecords:      int32(tb.records),
		Records:         recs,
	}
	if tb.producerID >= 0 {
		rb.ProducerEpoch = 0
	}
	b := rb.AppendTo(nil)
	if len(b) != lengthFieldEnd+int(rb.Length) {
		t.Fatalf("encoded %d bytes, length field says %d", len(b), lengthFieldEnd+int(rb.Length))
	}
	binary.BigEndian.PutUint32(b[17:], Checksum(b))
	return b
}

func plainBatch(t testing.TB, records int) []byte {
	return newBatch(t, testBatch{records: records, baseTimestamp: 1_000, producerID: -1, baseSequence: -1})
}

// resign recomputes the CRC after a test changed covered bytes on purpose.
func resign(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], Checksum(b))
	return b
}

func TestParseHeaderReadsEveryField(t *testing.T) {
	b := newBatch(t, testBatch{records: 3, baseTimestamp: 5_000, producerID: 42, baseSequence: 7, attributes: CompressionNone})
	binary.BigEndian.PutUint64(b[0:], 99)
	binary.BigEndian.PutUint32(b[12:], 4)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: 99, Length: int32(len(b) - 12), PartitionLeaderEpoch: 4, Magic: 2,
		CRC: binary.BigEndian.Uint32(b[17:]), LastOffsetDelta: 2, BaseTimestamp: 5_000,
		MaxTimestamp: 5_002, ProducerID: 42, ProducerEpoch: 0, BaseSequence: 7, RecordCount: 3,
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if h.Size() != len(b) || h.LastOffset() != 101 || h.LastSequence() != 9 {
		t.Fatalf("Size %d LastOffset %d LastSequence %d", h.Size(), h.LastOffset(), h.LastSequence())
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := plainBatch(t, 1)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"shorter than a header", good[:HeaderSize-1], ErrCorrupt},
		{"magic 1", func() []byte { b := bytes.Clone(good); b[16] = 1; return b }(), ErrMagic},
		{"magic 0", func() []byte { b := bytes.Clone(good); b[16] = 0; return b }(), ErrMagic},
		{"length below header", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[8:], HeaderSize-lengthFieldEnd-1)
			return b
		}(), ErrCorrupt},
		{"negative length", func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }(), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHeader(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The header alone parses: ParseHeader does not need the records.
	if _, err := ParseHeader(good[:HeaderSize]); err != nil {
		t.Fatalf("header without records: %v", err)
	}
}

func TestParseValidatesWholeBatch(t *testing.T) {
	good := plainBatch(t, 4)
	if h, err := Parse(good); err != nil || h.Size() != len(good) {
		t.Fatalf("valid batch: %+v, %v", h, err)
	}
	// Trailing bytes after the batch are not Parse's concern.
	if h, err := Parse(append(bytes.Clone(good), 1, 2, 3)); err != nil || h.Size() != len(good) {
		t.Fatalf("batch with trailing bytes: %+v, %v", h, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated by one byte", good[:len(good)-1], ErrCorrupt},
		{"truncated to the header", good[:HeaderSize], ErrCorrupt},
		{"flipped record byte", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 0x40; return b }(), ErrCRC},
		{"flipped attribute", func() []byte { b := bytes.Clone(good); b[22] ^= 0x01; return b }(), ErrCRC},
		{"flipped crc", func() []byte { b := bytes.Clone(good); b[17] ^= 0x80; return b }(), ErrCRC},
		{"negative lastOffsetDelta", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[23:], uint32(0xfffffff0))
			return resign(b)
		}(), ErrCorrupt},
		{"negative recordCount", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[57:], uint32(0xffffffff))
			return resign(b)
		}(), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseIgnoresFieldsOutsideTheCRC(t *testing.T) {
	b := plainBatch(t, 2)
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 17)
	h, err := Parse(b)
	if err != nil {
		t.Fatalf("after rewriting offset and epoch: %v", err)
	}
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 17 || h.LastOffset() != 1<<40+1 {
		t.Fatalf("got %+v", h)
	}
}

func TestValidateProduced(t *testing.T) {
	good := plainBatch(t, 3)
	h, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateProduced(&h); err != nil {
		t.Fatalf("valid batch: %v", err)
	}
	for _, tc := range []struct {
		name         string
		delta, count int32
	}{
		{"no records", -1, 0},
		{"count above delta", 2, 4},
		{"count below delta", 2, 2},
	} {
		h := h
		h.LastOffsetDelta, h.RecordCount = tc.delta, tc.count
		if err := ValidateProduced(&h); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestSplit(t *testing.T) {
	a, b, c := plainBatch(t, 1), plainBatch(t, 5), plainBatch(t, 2)
	all := append(append(bytes.Clone(a), b...), c...)
	var got [][]byte
	err := Split(all, func(h Header, batch []byte) error {
		if h.Size() != len(batch) {
			t.Errorf("header size %d, batch %d bytes", h.Size(), len(batch))
		}
		got = append(got, batch)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || !bytes.Equal(got[2], c) {
		t.Fatalf("split into %d batches, not the three given", len(got))
	}

	if err := Split(nil, func(Header, []byte) error { t.Fatal("called on empty input"); return nil }); err != nil {
		t.Fatalf("empty input: %v", err)
	}
	if err := Split(append(bytes.Clone(all), 0, 0, 0), func(Header, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing bytes: got %v, want ErrCorrupt", err)
	}
	bad := bytes.Clone(all)
	bad[len(a)+len(b)-1] ^= 1 // last byte of the second batch
	calls := 0
	err = Split(bad, func(Header, []byte) error { calls++; return nil })
	if !errors.Is(err, ErrCRC) || calls != 1 {
		t.Fatalf("corrupt second batch: err %v after %d calls, want ErrCRC after 1", err, calls)
	}
	stop := errors.New("stop")
	if err := Split(all, func(Header, []byte) error { return stop }); err != stop {
		t.Fatalf("callback error: got %v, want it returned as is", err)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := plainBatch(t, 3)
	SetBaseOffset(b, 10)
	SetLogAppendTime(b, 123_456)
	h, err := Parse(b)
	if err != nil {
		t.Fatalf("after SetLogAppendTime: %v", err)
	}
	if h.Attributes&TimestampTypeBit == 0 || h.MaxTimestamp != 123_456 || h.BaseTimestamp != 1_000 || h.BaseOffset != 10 {
		t.Fatalf("got %+v", h)
	}
	if h.Compression() != CompressionNone || h.IsTransactional() || h.IsControl() {
		t.Fatalf("other attribute bits changed: %#x", h.Attributes)
	}
	// The records are untouched.
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if rb.NumRecords != 3 {
		t.Fatalf("kmsg reads %d records", rb.NumRecords)
	}
}

func TestAttributeBits(t *testing.T) {
	b := newBatch(t, testBatch{records: 1, producerID: -1, baseSequence: -1,
		attributes: CompressionZstd | TransactionalBit | ControlBit})
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Compression() != CompressionZstd || !h.IsTransactional() || !h.IsControl() {
		t.Fatalf("attributes %#x: compression %d transactional %v control %v", h.Attributes, h.Compression(), h.IsTransactional(), h.IsControl())
	}
}

func TestIncSequenceWraps(t *testing.T) {
	for _, tc := range []struct{ seq, n, want int32 }{
		{0, 0, 0},
		{0, 1, 1},
		{5, 10, 15},
		{math.MaxInt32 - 1, 1, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32, 2, 1},
		{math.MaxInt32 - 2, 5, 2},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
	} {
		if got := IncSequence(tc.seq, tc.n); got != tc.want {
			t.Errorf("IncSequence(%d, %d) = %d, want %d", tc.seq, tc.n, got, tc.want)
		}
	}
}

func TestLastSequence(t *testing.T) {
	h := Header{BaseSequence: -1, LastOffsetDelta: 4}
	if got := h.LastSequence(); got != -1 {
		t.Fatalf("no sequence: got %d, want -1", got)
	}
	h = Header{BaseSequence: math.MaxInt32 - 1, LastOffsetDelta: 3}
	if got := h.LastSequence(); got != 1 {
		t.Fatalf("wrapping batch: got %d, want 1", got)
	}
}
