package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

var everyCodec = []int{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

func validate(b []byte) error {
	h, err := Parse(b)
	if err != nil {
		return err
	}
	return ValidateRecords(&h, b)
}

// withRecord appends one record with the given fields, as encoded.
func withRecord(out []byte, offsetDelta int64, body []byte) []byte {
	rec := []byte{0}
	rec = binary.AppendVarint(rec, 0)
	rec = binary.AppendVarint(rec, offsetDelta)
	rec = append(rec, body...)
	out = binary.AppendVarint(out, int64(len(rec)))
	return append(out, rec...)
}

func TestValidateRecordsAcceptsHonestBatches(t *testing.T) {
	raw := buildRecords([]int64{0, 5, 3, 40})
	// A record with a null key, a null value and headers, one with a
	// null header value.
	hdrs := []byte{}
	hdrs = binary.AppendVarint(hdrs, -1) // null key
	hdrs = binary.AppendVarint(hdrs, -1) // null value
	hdrs = binary.AppendVarint(hdrs, 2)  // two headers
	hdrs = append(binary.AppendVarint(hdrs, 1), 'h')
	hdrs = append(binary.AppendVarint(hdrs, 2), "hv"...)
	hdrs = append(binary.AppendVarint(hdrs, 1), 'n')
	hdrs = binary.AppendVarint(hdrs, -1)
	raw = withRecord(raw, 4, hdrs)
	for _, codec := range everyCodec {
		b := wrapBatch(codec, 0, 1000, 1040, 5, compressFor(t, codec, raw))
		if err := validate(b); err != nil {
			t.Errorf("codec %d: %v", codec, err)
		}
	}
}

func TestValidateRecordsRefusesLies(t *testing.T) {
	raw := buildRecords([]int64{0, 1, 2})
	badKey := withRecord(buildRecords([]int64{0, 1}), 2, binary.AppendVarint(nil, -2))
	longKey := withRecord(buildRecords([]int64{0, 1}), 2, append(binary.AppendVarint(nil, 50), 0, 0, 0, 0))
	tooManyHeaders := withRecord(buildRecords([]int64{0, 1}), 2, append(binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(nil, -1), -1), 1000), 0, 0))
	nullHeaderKey := withRecord(buildRecords([]int64{0, 1}), 2, binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(nil, -1), -1), 1), -1), -1))
	slack := withRecord(buildRecords([]int64{0, 1}), 2, []byte{1, 'k', 0, 0, 9, 9})
	for _, codec := range everyCodec {
		for name, tc := range map[string]struct {
			recs  []byte
			count int
		}{
			"no records, claims 2^31-1": {nil, 1<<31 - 1},
			"3 records, claims 2":       {raw, 2},
			"3 records, claims 4":       {raw, 4},
			"cut short":                 {raw[:len(raw)-2], 3},
			"offset deltas 0, 2, 1":     {swapDeltas(t), 3},
			"key length -2":             {badKey, 3},
			"key past the record":       {longKey, 3},
			"1000 headers in 3 bytes":   {tooManyHeaders, 3},
			"null header key":           {nullHeaderKey, 3},
			"bytes after the fields":    {slack, 3},
		} {
			recs := tc.recs
			if codec != CompressionNone {
				recs = compressFor(t, codec, tc.recs)
			}
			err := validate(wrapBatch(codec, 0, 0, 2, tc.count, recs))
			if !errors.Is(err, ErrRecords) {
				t.Errorf("codec %d, %s: %v, want ErrRecords", codec, name, err)
			}
		}
	}
	for name, b := range map[string][]byte{
		"bad gzip":   wrapBatch(CompressionGzip, 0, 0, 2, 3, []byte("not gzip")),
		"bad lz4":    wrapBatch(CompressionLZ4, 0, 0, 2, 3, []byte("not lz4 at all")),
		"bad zstd":   wrapBatch(CompressionZstd, 0, 0, 2, 3, []byte("not zstd at all")),
		"bad snappy": wrapBatch(CompressionSnappy, 0, 0, 2, 3, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"codec 7":    wrapBatch(7, 0, 0, 2, 3, raw),
	} {
		if err := validate(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// swapDeltas returns three records with offset deltas 0, 2, 1.
func swapDeltas(t *testing.T) []byte {
	t.Helper()
	var out []byte
	for _, d := range []int64{0, 2, 1} {
		out = withRecord(out, d, []byte{2, 'k', 0, 0})
	}
	return out
}

// A batch whose records expand past maxDecompressed is refused once the
// cap is reached, not decompressed to its end.
func TestValidateRecordsCapsExpansion(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 256 MiB")
	}
	// Three records, each with a value of 100 MiB of zero bytes.
	const value = 100 << 20
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	zero := make([]byte, 1<<20)
	for i := range 3 {
		rec := []byte{0, 0, byte(2 * i), 1}
		rec = binary.AppendVarint(rec, value)
		w.Write(binary.AppendVarint(nil, int64(len(rec)+value+1)))
		w.Write(rec)
		for range value >> 20 {
			w.Write(zero)
		}
		w.Write([]byte{0}) // no headers
	}
	w.Close()
	err = validate(wrapBatch(CompressionZstd, 0, 0, 0, 3, buf.Bytes()))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d compressed bytes expanding past %d: %v, want ErrCorrupt", buf.Len(), maxDecompressed, err)
	}
}

// FuzzValidateRecords: ValidateRecords never panics, and a batch it accepts
// holds exactly the records its header claims, with offset deltas 0 to
// LastOffsetDelta in order.
func FuzzValidateRecords(f *testing.F) {
	raw := buildRecords([]int64{0, 5, 9})
	f.Add(wrapBatch(CompressionNone, 0, 10, 19, 3, raw))
	f.Add(wrapBatch(CompressionNone, 0, 10, 19, 2, raw))
	f.Add(wrapBatch(CompressionSnappy, 0, 10, 19, 3, s2.EncodeSnappy(nil, raw)))
	f.Add(wrapBatch(CompressionNone, 0, 10, 19, 1<<31-1, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize {
			// Fix what Parse checks so the records get decoded.
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			b[16] = 2
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
		}
		h, err := Parse(b)
		if err != nil {
			return
		}
		if ValidateRecords(&h, b) != nil {
			return
		}
		n := int32(0)
		err = RecordTimestamps(b, func(delta int32, _ int64) bool {
			if delta != n {
				t.Fatalf("accepted a batch whose record %d has offset delta %d", n, delta)
			}
			n++
			return true
		})
		if err != nil || n != h.RecordCount {
			t.Fatalf("accepted a batch claiming %d records; reading them gave %d, %v", h.RecordCount, n, err)
		}
	})
}
