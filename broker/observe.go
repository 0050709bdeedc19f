package broker

import (
	"cmp"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Observer is told what the request path does, for metrics. Its methods
// are called from connection goroutines, concurrently, once per request
// or connection event; they must be cheap and must not block.
type Observer interface {
	// RequestDone reports a request answered (or, for acks=0 produce,
	// handled) after elapsed, with the first Kafka error code found in
	// its response (0 when none).
	RequestDone(api int16, errCode int16, elapsed time.Duration)
	// Produced reports records and bytes of batches a topic accepted.
	Produced(topic string, records, bytes int64)
	// Fetched reports records and bytes of batches sent to a consumer.
	Fetched(topic string, records, bytes int64)
	// ConnOpened and ConnClosed bracket every client connection.
	ConnOpened()
	ConnClosed()
}

// SetObserver installs o; call it before Start. Without one nothing is
// observed.
func (s *Server) SetObserver(o Observer) { s.obs = o }

// observe reports a finished request: its latency, its error code, and
// for produce and fetch the records and bytes per topic. pieces are the
// record batches of a fetch response that the encoder writes in pieces.
func (rc *reqCtx) observe(resp kmsg.Response, pieces fetchPieces) {
	o := rc.conn.s.obs
	if o == nil {
		return
	}
	o.RequestDone(rc.hdr.key, firstErrorCode(resp), time.Since(rc.start))
	switch req := rc.req.(type) {
	case *kmsg.ProduceRequest:
		observeProduce(o, req, resp)
	case *kmsg.FetchRequest:
		if fr, ok := resp.(*kmsg.FetchResponse); ok {
			observeFetch(o, fr, pieces)
		}
	}
}

// observeProduce counts the batches of the partitions that were accepted:
// all of them with acks=0 (resp nil: the outcome is not known here, so a
// rejected acks=0 batch is counted too), else those answered without
// error.
func observeProduce(o Observer, req *kmsg.ProduceRequest, resp kmsg.Response) {
	var failed map[string]map[int32]bool
	if pr, ok := resp.(*kmsg.ProduceResponse); ok {
		for _, t := range pr.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					if failed == nil {
						failed = map[string]map[int32]bool{}
					}
					if failed[t.Topic] == nil {
						failed[t.Topic] = map[int32]bool{}
					}
					failed[t.Topic][p.Partition] = true
				}
			}
		}
	}
	for _, t := range req.Topics {
		var records, bytes int64
		for _, p := range t.Partitions {
			if failed[t.Topic][p.Partition] {
				continue
			}
			bytes += int64(len(p.Records))
			records += batchRecordCount([][]byte{p.Records})
		}
		if bytes > 0 {
			o.Produced(t.Topic, records, bytes)
		}
	}
}

func observeFetch(o Observer, resp *kmsg.FetchResponse, pieces fetchPieces) {
	for ti, t := range resp.Topics {
		var records, bytes int64
		for pi, p := range t.Partitions {
			ps := pieces[[2]int{ti, pi}]
			if ps == nil {
				ps = [][]byte{p.RecordBatches}
			}
			for _, b := range ps {
				bytes += int64(len(b))
			}
			records += batchRecordCount(ps)
		}
		if bytes > 0 {
			o.Fetched(t.Topic, records, bytes)
		}
	}
}

// Record batch v2 header fields batchRecordCount reads.
const (
	batchLengthEnd = 12 // baseOffset int64, batchLength int32
	batchCountEnd  = 61 // ... recordCount int32 at 57
)

// batchRecordCount adds up the record counts of the batches written back to
// back in pieces (a batch may span pieces). A trailing partial batch is
// not counted.
func batchRecordCount(pieces [][]byte) int64 {
	var (
		n      int64
		hdr    [batchCountEnd]byte
		have   int   // header bytes gathered of the current batch
		skip   int64 // bytes of the current batch still to pass after its header
		inBody bool
	)
	for _, b := range pieces {
		for len(b) > 0 {
			if inBody {
				k := min(int64(len(b)), skip)
				b, skip = b[k:], skip-k
				if skip == 0 {
					inBody = false
				}
				continue
			}
			k := copy(hdr[have:], b)
			have += k
			b = b[k:]
			if have < batchCountEnd {
				continue
			}
			size := int64(batchLengthEnd) + int64(int32(binary.BigEndian.Uint32(hdr[8:12])))
			if size < batchCountEnd {
				return n // not a v2 batch: stop counting
			}
			n += max(int64(int32(binary.BigEndian.Uint32(hdr[57:61]))), 0) // a client's claim: never negative
			have, skip, inBody = 0, size-batchCountEnd, size > batchCountEnd
		}
	}
	return n
}

// firstErrorCode is the first non-zero Kafka error code of a response, at
// the top level or in its topics and partitions, for the APIs whose errors
// an operator watches; 0 otherwise.
func firstErrorCode(resp kmsg.Response) int16 {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		return firstCode(r.Topics, func(t *kmsg.ProduceResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.ProduceResponseTopicPartition) int16 { return p.ErrorCode })
		})
	case *kmsg.FetchResponse:
		return cmp.Or(r.ErrorCode, firstCode(r.Topics, func(t *kmsg.FetchResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.FetchResponseTopicPartition) int16 { return p.ErrorCode })
		}))
	case *kmsg.ListOffsetsResponse:
		return firstCode(r.Topics, func(t *kmsg.ListOffsetsResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.ListOffsetsResponseTopicPartition) int16 { return p.ErrorCode })
		})
	case *kmsg.MetadataResponse:
		return firstCode(r.Topics, func(t *kmsg.MetadataResponseTopic) int16 { return t.ErrorCode })
	case *kmsg.OffsetCommitResponse:
		return firstCode(r.Topics, func(t *kmsg.OffsetCommitResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.OffsetCommitResponseTopicPartition) int16 { return p.ErrorCode })
		})
	case *kmsg.OffsetFetchResponse:
		return cmp.Or(r.ErrorCode, firstCode(r.Groups, func(g *kmsg.OffsetFetchResponseGroup) int16 { return g.ErrorCode }))
	case *kmsg.FindCoordinatorResponse:
		return cmp.Or(r.ErrorCode, firstCode(r.Coordinators, func(c *kmsg.FindCoordinatorResponseCoordinator) int16 { return c.ErrorCode }))
	case *kmsg.JoinGroupResponse:
		return r.ErrorCode
	case *kmsg.SyncGroupResponse:
		return r.ErrorCode
	case *kmsg.HeartbeatResponse:
		return r.ErrorCode
	case *kmsg.LeaveGroupResponse:
		return r.ErrorCode
	case *kmsg.ListGroupsResponse:
		return r.ErrorCode
	case *kmsg.DescribeGroupsResponse:
		return firstCode(r.Groups, func(g *kmsg.DescribeGroupsResponseGroup) int16 { return g.ErrorCode })
	case *kmsg.ApiVersionsResponse:
		return r.ErrorCode
	case *kmsg.InitProducerIDResponse:
		return r.ErrorCode
	case *kmsg.EndTxnResponse:
		return r.ErrorCode
	case *kmsg.AddOffsetsToTxnResponse:
		return r.ErrorCode
	case *kmsg.AddPartitionsToTxnResponse:
		return cmp.Or(r.ErrorCode, firstCode(r.Topics, func(t *kmsg.AddPartitionsToTxnResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.AddPartitionsToTxnResponseTopicPartition) int16 { return p.ErrorCode })
		}))
	case *kmsg.TxnOffsetCommitResponse:
		return firstCode(r.Topics, func(t *kmsg.TxnOffsetCommitResponseTopic) int16 {
			return firstCode(t.Partitions, func(p *kmsg.TxnOffsetCommitResponseTopicPartition) int16 { return p.ErrorCode })
		})
	case *kmsg.CreateTopicsResponse:
		return firstCode(r.Topics, func(t *kmsg.CreateTopicsResponseTopic) int16 { return t.ErrorCode })
	case *kmsg.DeleteTopicsResponse:
		return firstCode(r.Topics, func(t *kmsg.DeleteTopicsResponseTopic) int16 { return t.ErrorCode })
	}
	return 0
}

// firstCode is the first non-zero code(x) of xs, or 0.
func firstCode[T any](xs []T, code func(*T) int16) int16 {
	for i := range xs {
		if c := code(&xs[i]); c != 0 {
			return c
		}
	}
	return 0
}
