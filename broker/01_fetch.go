package broker

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch: v4–v12, sessionless.
//
// Returns whole batches below the high watermark, starting with the batch
// that holds the requested offset (clients skip the records before it).
// MaxBytes and PartitionMaxBytes are soft for the first partition that has
// data, so a batch larger than the limit still makes progress; later
// partitions return only batches that fit. With MinBytes unmet and no
// partition in error the request long-polls until data arrives on any
// requested partition, MaxWaitMillis passes or the connection closes.
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
	ctx := rc.ctx()
	go func() {
		var deadline <-chan time.Time
		for {
			res := s.fetchOnce(ctx, req)
			// Kafka answers at once when MinBytes is met, when any
			// partition has an error to report, or when there is nothing
			// to wait on.
			if res.bytes >= int(req.MinBytes) || res.errored || len(res.watches) == 0 || wait == 0 {
				rc.respond(res.resp)
				return
			}
			if deadline == nil {
				t := time.NewTimer(wait)
				defer t.Stop()
				deadline = t.C
			}
			if !waitAny(ctx, res.watches, deadline) {
				// Time is up: answer with whatever is there now.
				rc.respond(s.fetchOnce(ctx, req).resp)
				return
			}
		}
	}()
}

// fetchResult is one pass over a fetch request's partitions.
type fetchResult struct {
	resp    *kmsg.FetchResponse
	bytes   int               // record bytes in resp
	errored bool              // some partition carries an error code
	watches []<-chan struct{} // of the partitions read, taken before reading
}

// fetchOnce reads every requested partition once. Each partition's watch
// channel is taken before it is read, so no advance after the read is
// missed by a wait on them.
//
// MaxBytes is soft only for the first partition that returns data (so a
// batch larger than the limit still makes progress); after that, a
// partition whose first batch does not fit in what is left returns none, as
// in Kafka.
func (s *Server) fetchOnce(ctx context.Context, req *kmsg.FetchRequest) fetchResult {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	res := fetchResult{resp: resp}
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
				res.errored = true
				continue
			}
			if req.Version >= 9 && rp.CurrentLeaderEpoch >= 0 {
				if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, t.meta.Partitions[rp.Partition].LeaderEpoch); code != 0 {
					sp.ErrorCode = code
					res.errored = true
					continue
				}
			}
			res.watches = append(res.watches, p.Watch())
			limit := maxBytes - res.bytes
			if rp.PartitionMaxBytes > 0 {
				limit = min(limit, int(rp.PartitionMaxBytes))
			}
			if limit <= 0 && res.bytes > 0 {
				sp.HighWatermark = p.HighWatermark()
				sp.LastStableOffset = sp.HighWatermark
				sp.LogStartOffset = p.LogStartOffset()
				continue
			}
			rr, err := p.Read(ctx, rp.FetchOffset, max(limit, 1))
			sp.HighWatermark = rr.HighWatermark
			sp.LastStableOffset = rr.HighWatermark
			sp.LogStartOffset = rr.LogStartOffset
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					s.log.Warn("fetch read failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
				sp.ErrorCode = errCode(err)
				res.errored = true
				continue
			}
			if len(rr.Data) == 0 || (res.bytes > 0 && len(rr.Data) > limit) {
				continue
			}
			sp.RecordBatches = rr.Data
			res.bytes += len(rr.Data)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return res
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

// maxWatchCases bounds the channels one wait selects on (reflect.Select
// takes at most 65536 cases). Partitions past it are noticed by polling.
const maxWatchCases = 4096

// watchPoll is how often a fetch over more than maxWatchCases partitions
// looks again at the partitions it does not watch.
const watchPoll = 50 * time.Millisecond

// waitAny waits until any watch fires (true) or the deadline comes or ctx
// ends (false). It selects on all the channels at once from this
// goroutine: no goroutine per partition.
func waitAny(ctx context.Context, watches []<-chan struct{}, deadline <-chan time.Time) bool {
	if len(watches) == 1 {
		select {
		case <-watches[0]:
			return true
		case <-deadline:
		case <-ctx.Done():
		}
		return false
	}
	n := min(len(watches), maxWatchCases)
	cases := make([]reflect.SelectCase, 0, n+3)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	if len(watches) > n {
		poll := time.NewTimer(watchPoll)
		defer poll.Stop()
		// A poll tick counts as a wake-up: the caller reads again.
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(poll.C)})
	}
	for _, w := range watches[:n] {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 2
}
