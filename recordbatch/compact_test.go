package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
)

// keyedRecords encodes records whose key is "k<i>" (nil keys for the
// indexes in keyless) and whose value is "v<i>" (null for tombstones).
func keyedRecords(n int, keyless, tombstones map[int]bool) []byte {
	var out []byte
	for i := range n {
		var rec []byte
		rec = append(rec, 0)
		rec = binary.AppendVarint(rec, int64(i*3))
		rec = binary.AppendVarint(rec, int64(i))
		if keyless[i] {
			rec = binary.AppendVarint(rec, -1)
		} else {
			k := fmt.Sprintf("k%d", i)
			rec = binary.AppendVarint(rec, int64(len(k)))
			rec = append(rec, k...)
		}
		if tombstones[i] {
			rec = binary.AppendVarint(rec, -1)
		} else {
			v := fmt.Sprintf("v%d", i)
			rec = binary.AppendVarint(rec, int64(len(v)))
			rec = append(rec, v...)
		}
		rec = binary.AppendVarint(rec, 1) // one header
		rec = binary.AppendVarint(rec, 1)
		rec = append(rec, 'h')
		rec = binary.AppendVarint(rec, -1)
		out = binary.AppendVarint(out, int64(len(rec)))
		out = append(out, rec...)
	}
	return out
}

func TestDecodeAndRebuildEveryCodec(t *testing.T) {
	raw := keyedRecords(6, map[int]bool{2: true}, map[int]bool{4: true})
	for _, codec := range []int{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			batch := wrapBatch(codec, TransactionalBit&0, 1000, 1015, 6, compressFor(t, codec, raw))
			binary.BigEndian.PutUint64(batch, 500) // base offset, outside the CRC
			h, err := Parse(batch)
			if err != nil {
				t.Fatal(err)
			}
			recs, _, err := DecodeRecords(&h, batch, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 6 || !recs[2].KeyNull || recs[4].Value != nil || !recs[4].ValueNull || string(recs[5].Key) != "k5" || string(recs[5].Value) != "v5" {
				t.Fatalf("records %+v", recs)
			}
			if ts := recs[3].Timestamp(&h); ts != 1009 {
				t.Fatalf("record 3 timestamp %d", ts)
			}
			// Keep records 1 and 3: same offsets, timestamps and bytes.
			kept := []Record{recs[1], recs[3]}
			out := Rebuild(nil, &h, kept)
			h2, err := Parse(out)
			if err != nil {
				t.Fatalf("rebuilt batch: %v", err)
			}
			if h2.BaseOffset != 500 || h2.LastOffset() != 505 || h2.RecordCount != 2 || h2.Compression() != codec ||
				h2.BaseTimestamp != 1000 || h2.MaxTimestamp != 1015 || h2.ProducerID != h.ProducerID || h2.BaseSequence != h.BaseSequence {
				t.Fatalf("rebuilt header %+v from %+v", h2, h)
			}
			got, _, err := DecodeRecords(&h2, out, nil, nil)
			if err != nil || len(got) != 2 || got[0].OffsetDelta != 1 || got[1].OffsetDelta != 3 || !bytes.Equal(got[1].Raw, recs[3].Raw) {
				t.Fatalf("rebuilt records %+v %v", got, err)
			}
			// An emptied batch keeps its offsets.
			empty := Rebuild(nil, &h, nil)
			h3, err := Parse(empty)
			if err != nil || h3.RecordCount != 0 || h3.LastOffset() != 505 || len(empty) != HeaderSize {
				t.Fatalf("empty batch %+v %v", h3, err)
			}
			if got, _, err := DecodeRecords(&h3, empty, nil, nil); err != nil || len(got) != 0 {
				t.Fatalf("empty batch records %+v %v", got, err)
			}
		})
	}
}

func TestValidateRecordsRequireKeys(t *testing.T) {
	batch := wrapBatch(CompressionNone, 0, 1, 1, 3, keyedRecords(3, map[int]bool{1: true}, nil))
	h, err := Parse(batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateRecords(&h, batch); err != nil {
		t.Fatalf("without RequireKeys: %v", err)
	}
	if err := ValidateRecordsWith(&h, batch, ValidateOptions{RequireKeys: true}); !errors.Is(err, ErrNullKey) {
		t.Fatalf("with RequireKeys: %v", err)
	}
	keyed := wrapBatch(CompressionNone, 0, 1, 1, 3, keyedRecords(3, nil, map[int]bool{0: true}))
	h, _ = Parse(keyed)
	if err := ValidateRecordsWith(&h, keyed, ValidateOptions{RequireKeys: true}); err != nil {
		t.Fatalf("keyed tombstones: %v", err)
	}
}

func TestDecodeRecordsRejectsGarbage(t *testing.T) {
	raw := keyedRecords(3, nil, nil)
	for name, mutate := range map[string]func(b []byte) []byte{
		"count too high":       func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 4); return b },
		"trailing bytes":       func(b []byte) []byte { return append(b, 0, 0) },
		"deltas past the last": func(b []byte) []byte { binary.BigEndian.PutUint32(b[23:], 1); return b },
		"truncated record":     func(b []byte) []byte { return b[:len(b)-3] },
	} {
		b := mutate(wrapBatch(CompressionNone, 0, 1, 1, 3, raw))
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, _, err := DecodeRecords(&h, b, nil, nil); !errors.Is(err, ErrRecords) {
			t.Errorf("%s: %v, want ErrRecords", name, err)
		}
	}
}

func FuzzDecodeRecords(f *testing.F) {
	raw := keyedRecords(3, map[int]bool{1: true}, map[int]bool{2: true})
	f.Add(wrapBatch(CompressionNone, 0, 10, 19, 3, raw))
	f.Add(wrapBatch(CompressionSnappy, 0, 10, 19, 3, s2.EncodeSnappy(nil, raw)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize {
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			b[16] = 2
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		}
		h, err := Parse(b)
		if err != nil {
			return
		}
		recs, _, err := DecodeRecords(&h, b, nil, nil)
		if err != nil {
			return
		}
		// Whatever decodes rebuilds into a batch that decodes the same.
		out := Rebuild(nil, &h, recs)
		h2, err := Parse(out)
		if err != nil {
			t.Fatalf("rebuilt batch does not parse: %v", err)
		}
		again, _, err := DecodeRecords(&h2, out, nil, nil)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("rebuilt batch: %d records, %v; want %d", len(again), err, len(recs))
		}
	})
}
