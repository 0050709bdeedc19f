package broker

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// claimBatch builds a RecordBatch v2 whose records section is recs (already
// compressed with codec) and whose header claims count records with
// lastOffsetDelta, with a valid CRC: a batch that lies about its records
// only where the header and the records disagree.
func claimBatch(codec int16, recs []byte, count, lastOffsetDelta int32) []byte {
	b := make([]byte, 61, 61+len(recs))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(codec))
	binary.BigEndian.PutUint32(b[23:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(b[27:], 1000)
	binary.BigEndian.PutUint64(b[35:], 1000)
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(count))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// encodeRecords encodes records with the given offset deltas.
func encodeRecords(deltas ...int32) []byte {
	var out []byte
	for _, d := range deltas {
		r := kmsg.Record{OffsetDelta: d, Key: []byte("k"), Value: []byte("value")}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		out = r.AppendTo(out)
	}
	return out
}

func compressRecords(tb testing.TB, codec int16, raw []byte) []byte {
	var buf bytes.Buffer
	switch codec {
	case 0:
		return raw
	case 1:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case 2:
		return s2.EncodeSnappy(nil, raw)
	case 3:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case 4:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(raw)
		w.Close()
	}
	return buf.Bytes()
}

// A produced batch's header is checked against its records, as Kafka's
// broker does: a batch claiming more or fewer records than it holds, or
// records whose offset deltas are not 0, 1, 2..., is refused with
// INVALID_RECORD (a compressed batch is decompressed to count them), one
// whose compressed records do not decompress with CORRUPT_MESSAGE, and
// none of them takes an offset.
func TestProduceChecksRecordsAgainstHeader(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "claims", 1, nil)
	c := dialWire(t, ws.addr)
	three := encodeRecords(0, 1, 2)
	cases := []struct {
		name  string
		batch []byte
		want  *kerr.Error
	}{
		{"61 bytes claiming 2^31-1 records", claimBatch(0, nil, 1<<31-1, 1<<31-2), kerr.InvalidRecord},
		{"3 records claiming 2", claimBatch(0, three, 2, 1), kerr.InvalidRecord},
		{"3 records claiming 4", claimBatch(0, three, 4, 3), kerr.InvalidRecord},
		{"offset deltas 0, 2, 1", claimBatch(0, encodeRecords(0, 2, 1), 3, 2), kerr.InvalidRecord},
		{"offset deltas 0, 1, 5", claimBatch(0, encodeRecords(0, 1, 5), 3, 2), kerr.InvalidRecord},
		{"record cut short", claimBatch(0, three[:len(three)-2], 3, 2), kerr.InvalidRecord},
		{"gzip garbage", claimBatch(1, []byte("not gzip at all"), 3, 2), kerr.CorruptMessage},
		{"zstd garbage", claimBatch(4, []byte("not zstd at all"), 3, 2), kerr.CorruptMessage},
	}
	for codec := int16(1); codec <= 4; codec++ {
		cases = append(cases, struct {
			name  string
			batch []byte
			want  *kerr.Error
		}{"compressed 3 claiming 1000 (codec " + string(rune('0'+codec)) + ")", claimBatch(codec, compressRecords(t, codec, three), 1000, 999), kerr.InvalidRecord})
	}
	for _, tc := range cases {
		res := produceResult(t, c.roundTrip(produceRequest("claims", 0, 1, tc.batch)))
		if res.ErrorCode != tc.want.Code {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(res.ErrorCode), tc.want)
		}
	}
	// Honest batches of every codec are taken, from offset 0: nothing
	// refused took an offset.
	for codec := int16(0); codec <= 4; codec++ {
		res := produceResult(t, c.roundTrip(produceRequest("claims", 0, 1, claimBatch(codec, compressRecords(t, codec, three), 3, 2))))
		if res.ErrorCode != 0 || res.BaseOffset != 3*int64(codec) {
			t.Fatalf("honest batch, codec %d: offset %d, %v; want offset %d", codec, res.BaseOffset, kerr.ErrorForCode(res.ErrorCode), 3*codec)
		}
	}
}
