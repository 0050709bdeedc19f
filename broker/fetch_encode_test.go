package broker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetchResponse builds a response of the shape fetchOnce builds, with
// record sets that are null, empty, small (copied) and large (spliced).
func randomFetchResponse(rng *rand.Rand, version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis = rng.Int32N(1000)
	resp.ErrorCode = int16(rng.IntN(3))
	resp.SessionID = rng.Int32()
	for range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", rng.IntN(1000))
		for range rng.IntN(6) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rng.Int32N(100)
			p.ErrorCode = int16(rng.IntN(2))
			p.HighWatermark = rng.Int64N(1 << 40)
			p.LastStableOffset = p.HighWatermark
			p.LogStartOffset = rng.Int64N(1 << 30)
			switch rng.IntN(3) { // read_committed answers: none, empty, some
			case 1:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			case 2:
				for range 1 + rng.IntN(3) {
					p.AbortedTransactions = append(p.AbortedTransactions, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: rng.Int64N(1 << 40), FirstOffset: rng.Int64N(1 << 40)})
				}
			}
			if rng.IntN(2) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			switch rng.IntN(4) {
			case 0:
				p.RecordBatches = nil
			case 1:
				p.RecordBatches = []byte{}
			case 2:
				p.RecordBatches = randomBytes(rng, 1+rng.IntN(fetchInlineBytes))
			default:
				p.RecordBatches = randomBytes(rng, fetchInlineBytes+1+rng.IntN(64<<10))
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// The spliced encoding is byte for byte kmsg's, in every served version.
func TestEncodeFetchResponseMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for version := int16(4); version <= 12; version++ {
		for i := range 200 {
			resp := randomFetchResponse(rng, version)
			hdr := requestHeader{key: 1, version: version, correlationID: rng.Int32()}
			want := encodeResponse(hdr, version >= 12, resp)
			got := bytes.Join(encodeFetchResponse(hdr, resp), nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d case %d: spliced encoding (%d bytes) differs from kmsg's (%d bytes)", version, i, len(got), len(want))
			}
		}
	}
}

// Large record sets are written from the read's buffer, not copied.
func TestEncodeFetchResponseDoesNotCopyLargeBatches(t *testing.T) {
	batches := bytes.Repeat([]byte{7}, fetchInlineBytes+1)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 11
	tp := kmsg.NewFetchResponseTopic()
	tp.Topic = "t"
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = batches
	tp.Partitions = append(tp.Partitions, p)
	resp.Topics = append(resp.Topics, tp)
	frame := encodeFetchResponse(requestHeader{key: 1, version: 11}, resp)
	for _, piece := range frame {
		if len(piece) == len(batches) && &piece[0] == &batches[0] {
			return
		}
	}
	t.Fatalf("no piece of the %d-piece frame is the record batches themselves", len(frame))
}

// Fields the spliced encoder does not write send the response through kmsg
// whole.
func TestEncodeFetchResponseFallsBackToKmsg(t *testing.T) {
	cases := map[string]func(*kmsg.FetchResponse){
		"diverging epoch":  func(r *kmsg.FetchResponse) { r.Topics[0].Partitions[0].DivergingEpoch.Epoch = 3 },
		"current leader":   func(r *kmsg.FetchResponse) { r.Topics[0].Partitions[0].CurrentLeader.LeaderID = 2 },
		"snapshot id":      func(r *kmsg.FetchResponse) { r.Topics[0].Partitions[0].SnapshotID.EndOffset = 10 },
		"node endpoints":   func(r *kmsg.FetchResponse) { r.Brokers = append(r.Brokers, kmsg.NewFetchResponseBroker()) },
		"older version v3": func(r *kmsg.FetchResponse) { r.Version = 3 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = 12
			tp := kmsg.NewFetchResponseTopic()
			tp.Topic = "t"
			p := kmsg.NewFetchResponseTopicPartition()
			p.RecordBatches = bytes.Repeat([]byte{1}, fetchInlineBytes*2)
			tp.Partitions = append(tp.Partitions, p)
			resp.Topics = append(resp.Topics, tp)
			mutate(resp)
			hdr := requestHeader{key: 1, version: resp.Version, correlationID: 42}
			want := encodeResponse(hdr, resp.Version >= 12, resp)
			frame := encodeFetchResponse(hdr, resp)
			if len(frame) != 1 || !bytes.Equal(frame[0], want) {
				t.Fatalf("got %d pieces, want kmsg's encoding as one", len(frame))
			}
		})
	}
}
