package broker

import (
	"errors"
	"time"

	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch: v4–v12, sessionless.
//
// Returns whole batches below the high watermark, starting with the batch
// that holds the requested offset (clients skip the records before it).
// MaxBytes and PartitionMaxBytes are soft for the first batch, so a batch
// larger than the limit still makes progress. With MinBytes unmet the
// request long-polls until data arrives on any requested partition or
// MaxWaitMillis passes.
//
// Sessions (KIP-227): every response carries SessionID 0, which tells the
// client the broker keeps no session; clients then send full requests.
// Read-committed equals read-uncommitted until transactions exist (the last
// stable offset is the high watermark). Not yet: topic ids (v13+), rack-aware
// preferred replicas.

// fetchWaitCap bounds a long poll regardless of what the client asks.
const fetchWaitCap = 30 * time.Second

func handleFetch(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.FetchRequest)
	if req.SessionID != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		rc.respond(resp)
		return
	}
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, fetchWaitCap)
	go func() {
		deadline := time.NewTimer(wait)
		defer deadline.Stop()
		for {
			resp, n, watches := s.fetchOnce(req)
			if n >= int(req.MinBytes) || len(watches) == 0 {
				rc.respond(resp)
				return
			}
			if !s.waitAny(watches, deadline.C) {
				resp, _, _ = s.fetchOnce(req)
				rc.respond(resp)
				return
			}
		}
	}()
}

// fetchOnce reads every requested partition once. It returns the response,
// the bytes it holds, and the watch channels of the partitions read (taken
// before reading, so no advance is missed).
func (s *Server) fetchOnce(req *kmsg.FetchRequest) (*kmsg.FetchResponse, int, []<-chan struct{}) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	total := 0
	var watches []<-chan struct{}
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		t := s.topics.byName(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			// Never a null record set: librdkafka rejects size -1.
			sp.RecordBatches = []byte{}
			var p *partition.Partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if req.Version >= 9 && rp.CurrentLeaderEpoch >= 0 {
				if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, t.meta.Partitions[rp.Partition].LeaderEpoch); code != 0 {
					sp.ErrorCode = code
					continue
				}
			}
			watches = append(watches, p.Watch())
			limit := min(int(rp.PartitionMaxBytes), maxBytes-total)
			if limit <= 0 && total > 0 {
				sp.HighWatermark = p.HighWatermark()
				sp.LastStableOffset = sp.HighWatermark
				sp.LogStartOffset = p.LogStartOffset()
				continue
			}
			rr, err := p.Read(s.ctx, rp.FetchOffset, max(limit, 1))
			sp.HighWatermark = rr.HighWatermark
			sp.LastStableOffset = rr.HighWatermark
			sp.LogStartOffset = rr.LogStartOffset
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					s.log.Warn("fetch read failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
				sp.ErrorCode = errCode(err)
				continue
			}
			if rr.Data != nil {
				sp.RecordBatches = rr.Data
			}
			total += len(rr.Data)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, watches
}

// checkLeaderEpoch answers a client's current leader epoch as Kafka does:
// older than ours is FENCED_LEADER_EPOCH, newer is UNKNOWN_LEADER_EPOCH.
func checkLeaderEpoch(client, ours int32) int16 {
	switch {
	case client < ours:
		return kerr.FencedLeaderEpoch.Code
	case client > ours:
		return kerr.UnknownLeaderEpoch.Code
	}
	return 0
}

// waitAny waits until any watch fires (true) or the deadline or shutdown
// comes (false).
func (s *Server) waitAny(watches []<-chan struct{}, deadline <-chan time.Time) bool {
	if len(watches) == 1 {
		select {
		case <-watches[0]:
			return true
		case <-deadline:
		case <-s.ctx.Done():
		}
		return false
	}
	fired := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, w := range watches {
		go func() {
			select {
			case <-w:
				select {
				case fired <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}()
	}
	select {
	case <-fired:
		return true
	case <-deadline:
	case <-s.ctx.Done():
	}
	return false
}
