package recordbatch

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// buildRecords encodes n v2 records with timestamp deltas tsDeltas.
func buildRecords(tsDeltas []int64) []byte {
	var out []byte
	for i, d := range tsDeltas {
		var rec []byte
		rec = append(rec, 0) // attributes
		rec = binary.AppendVarint(rec, d)
		rec = binary.AppendVarint(rec, int64(i))
		rec = binary.AppendVarint(rec, 1) // key length
		rec = append(rec, 'k')
		rec = binary.AppendVarint(rec, 3) // value length
		rec = append(rec, "val"...)
		rec = binary.AppendVarint(rec, 0) // headers
		out = binary.AppendVarint(out, int64(len(rec)))
		out = append(out, rec...)
	}
	return out
}

func compressFor(t *testing.T, codec int, raw []byte) []byte {
	var buf bytes.Buffer
	switch codec {
	case CompressionNone:
		return raw
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case CompressionSnappy:
		return s2.EncodeSnappy(nil, raw)
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case CompressionZstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		w.Close()
	}
	return buf.Bytes()
}

func wrapBatch(codec int, attrs int16, baseTs, maxTs int64, n int, recs []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(recs))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(int(attrs)|codec))
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], uint64(baseTs))
	binary.BigEndian.PutUint64(b[35:], uint64(maxTs))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func TestRecordTimestampsEveryCodec(t *testing.T) {
	deltas := []int64{0, 5, 3, 40, 40, 100}
	raw := buildRecords(deltas)
	for _, codec := range []int{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		batch := wrapBatch(codec, 0, 1000, 1100, len(deltas), compressFor(t, codec, raw))
		var got []int64
		err := RecordTimestamps(batch, func(d int32, ts int64) bool {
			if int(d) != len(got) {
				t.Fatalf("codec %d: offset delta %d at record %d", codec, d, len(got))
			}
			got = append(got, ts)
			return true
		})
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		for i, d := range deltas {
			if got[i] != 1000+d {
				t.Fatalf("codec %d: record %d timestamp %d, want %d", codec, i, got[i], 1000+d)
			}
		}
	}
	// Java's xerial framing of snappy.
	block := s2.EncodeSnappy(nil, raw)
	x := append([]byte{}, xerialMagic...)
	x = binary.BigEndian.AppendUint32(x, 1)
	x = binary.BigEndian.AppendUint32(x, 1)
	x = binary.BigEndian.AppendUint32(x, uint32(len(block)))
	x = append(x, block...)
	n := 0
	if err := RecordTimestamps(wrapBatch(CompressionSnappy, 0, 1000, 1100, len(deltas), x), func(int32, int64) bool { n++; return true }); err != nil || n != len(deltas) {
		t.Fatalf("xerial snappy: %d records, %v", n, err)
	}
	// LogAppendTime: every record reports the batch's max timestamp.
	if err := RecordTimestamps(wrapBatch(CompressionNone, TimestampTypeBit, 1000, 7777, len(deltas), raw), func(_ int32, ts int64) bool {
		if ts != 7777 {
			t.Fatalf("LogAppendTime record timestamp %d", ts)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	// Stopping early.
	calls := 0
	RecordTimestamps(wrapBatch(CompressionNone, 0, 1000, 1100, len(deltas), raw), func(int32, int64) bool { calls++; return calls < 2 })
	if calls != 2 {
		t.Fatalf("fn called %d times after returning false", calls)
	}
}

func TestRecordTimestampsRejectsGarbage(t *testing.T) {
	raw := buildRecords([]int64{0, 1})
	for name, batch := range map[string][]byte{
		"truncated records": wrapBatch(CompressionNone, 0, 0, 1, 2, raw[:len(raw)-3]),
		"bad gzip":          wrapBatch(CompressionGzip, 0, 0, 1, 2, []byte("not gzip")),
		"bad zstd":          wrapBatch(CompressionZstd, 0, 0, 1, 2, []byte("not zstd at all")),
		"bad snappy":        wrapBatch(CompressionSnappy, 0, 0, 1, 2, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"unknown codec":     wrapBatch(7, 0, 0, 1, 2, raw),
	} {
		if err := RecordTimestamps(batch, func(int32, int64) bool { return true }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzRecordTimestamps(f *testing.F) {
	raw := buildRecords([]int64{0, 5, 9})
	f.Add(wrapBatch(CompressionNone, 0, 10, 19, 3, raw))
	f.Add(wrapBatch(CompressionSnappy, 0, 10, 19, 3, s2.EncodeSnappy(nil, raw)))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Also give the decoder bodies whose CRC is valid, so it gets past Parse.
		if len(b) >= HeaderSize {
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			b[16] = 2
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		}
		RecordTimestamps(b, func(int32, int64) bool { return true })
	})
}
