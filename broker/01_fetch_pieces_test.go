package broker

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// splitRecords moves the record batches of some partitions of resp into
// pieces of random sizes (empty, inline and spliced ones), as cold reads
// spanning cached blocks return them, and returns the pieces.
func splitRecords(rng *rand.Rand, resp *kmsg.FetchResponse) fetchPieces {
	pieces := make(fetchPieces)
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			p := &resp.Topics[i].Partitions[j]
			if p.RecordBatches == nil || rng.IntN(3) == 0 {
				continue
			}
			rest := p.RecordBatches
			var ps [][]byte
			for len(rest) > 0 || len(ps) == 0 {
				n := min(len(rest), rng.IntN(2*fetchInlineBytes+2))
				ps = append(ps, rest[:n])
				rest = rest[n:]
			}
			pieces[[2]int{i, j}] = ps
			p.RecordBatches = []byte{}
		}
	}
	return pieces
}

// Record batches in pieces encode byte for byte as kmsg encodes them
// joined, in every served version and on kmsg's own path.
func TestEncodeFetchResponsePiecesMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for version := int16(3); version <= 12; version++ {
		for i := range 200 {
			resp := randomFetchResponse(rng, version)
			hdr := requestHeader{key: 1, version: version, correlationID: rng.Int32()}
			want := encodeResponse(hdr, version >= 12, resp)
			pieces := splitRecords(rng, resp)
			got := bytes.Join(encodeFetchResponsePieces(hdr, resp, pieces), nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d case %d: encoding of %d partitions in pieces (%d bytes) differs from kmsg's (%d bytes)",
					version, i, len(pieces), len(got), len(want))
			}
		}
	}
}

// Large pieces are written from where the read put them, not copied.
func TestEncodeFetchResponsePiecesDoesNotCopyLargePieces(t *testing.T) {
	a := bytes.Repeat([]byte{7}, fetchInlineBytes+1)
	b := bytes.Repeat([]byte{8}, fetchInlineBytes+2)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	tp := kmsg.NewFetchResponseTopic()
	tp.Topic = "t"
	tp.Partitions = append(tp.Partitions, kmsg.NewFetchResponseTopicPartition())
	resp.Topics = append(resp.Topics, tp)
	frame := encodeFetchResponsePieces(requestHeader{key: 1, version: 12}, resp, fetchPieces{{0, 0}: {a, b}})
	found := 0
	for _, piece := range frame {
		if len(piece) == 0 {
			t.Fatal("frame has an empty piece")
		}
		if (len(piece) == len(a) && &piece[0] == &a[0]) || (len(piece) == len(b) && &piece[0] == &b[0]) {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("%d of the 2 large pieces are pieces of the %d-piece frame", found, len(frame))
	}
}
