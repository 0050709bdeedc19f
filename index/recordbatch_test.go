package index

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch describes one batch written by a test, with where it landed.
type testBatch struct {
	base, last   int64
	maxTimestamp int64
	pos          int64 // byte position relative to the partition's first byte
	size         int64
}

// makeBatch returns a valid RecordBatch v2 holding records records with
// offsets base.. and a last offset delta of records-1+extraDelta (extraDelta >
// 0 mimics a compacted batch whose tail records were removed). Record i has
// timestamp firstTimestamp+i; values are valueLen random bytes.
func makeBatch(tb testing.TB, rng *rand.Rand, base int64, records int, extraDelta int32, firstTimestamp int64, valueLen int) []byte {
	tb.Helper()
	if records < 1 {
		tb.Fatalf("makeBatch: %d records", records)
	}
	var recs []byte
	for i := range records {
		value := make([]byte, valueLen)
		for j := range value {
			value[j] = byte(rng.UintN(256))
		}
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            value,
		}
		body := r.AppendTo(nil) // with Length 0, which encodes as one byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          base,
		Length:               int32(batchMinLength + len(recs)),
		PartitionLeaderEpoch: 7,
		Magic:                2,
		LastOffsetDelta:      int32(records-1) + extraDelta,
		FirstTimestamp:       firstTimestamp,
		MaxTimestamp:         firstTimestamp + int64(records-1),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(records),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	if len(b) != batchLengthFieldEnd+int(rb.Length) {
		tb.Fatalf("makeBatch: encoded %d bytes, length field says %d", len(b), batchLengthFieldEnd+int(rb.Length))
	}
	binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchCRCStart:], castagnoli))
	return b
}

func TestMakeBatchRoundTripsThroughKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := makeBatch(t, rng, 100, 5, 0, 1_000, 10)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if rb.FirstOffset != 100 || rb.LastOffsetDelta != 4 || rb.NumRecords != 5 || rb.MaxTimestamp != 1_004 {
		t.Fatalf("decoded %+v", rb)
	}
	if uint32(rb.CRC) != crc32.Checksum(b[batchCRCStart:], castagnoli) {
		t.Fatal("CRC not set")
	}
}
