package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"reflect"
	"time"

	"github.com/shalelog/shale/acl"
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
// MaxBytes and PartitionMaxBytes are capped by the broker's FetchMaxBytes
// (fetch.max.bytes, 55 MiB by default); a MaxBytes of 0 or less means the
// cap, as does a PartitionMaxBytes of 0 or less. A response therefore holds
// at most FetchMaxBytes of record bytes, plus at most one batch beyond it
// when the first batch found is larger on its own.
//
// Sessions (KIP-227): Shale keeps no fetch sessions, which is what Kafka
// does with its session cache disabled. A full fetch (SessionEpoch 0 or -1,
// whatever the SessionID) is served and answered with SessionID 0, which
// tells the client no session was made, so it keeps sending full requests;
// an incremental fetch (any other epoch) names a session this broker does
// not have and is answered FETCH_SESSION_ID_NOT_FOUND with no topics.
// Read-committed equals read-uncommitted until transactions exist (the last
// stable offset is the high watermark). Not yet: topic ids (v13+), rack-aware
// preferred replicas.
//
// Responses are encoded by encodeFetchResponse, not kmsg: the record batches
// are not copied into the response but written from where the read put them
// (one writev per flush of the connection), which is most of the CPU a hot
// consumer costs. The bytes on the wire are exactly kmsg's; a test holds the
// two encoders to that for every served version.

// fetchWaitCap bounds a long poll regardless of what the client asks.
const fetchWaitCap = 30 * time.Second

func handleFetch(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.FetchRequest)
	if req.SessionEpoch != 0 && req.SessionEpoch != -1 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		rc.respond(resp)
		return
	}
	denied := fetchDenied(rc, req)
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, fetchWaitCap)
	ctx := rc.ctx()
	go func() {
		var deadline <-chan time.Time
		for {
			res := s.fetchOnce(ctx, req, denied)
			// Kafka answers at once when MinBytes is met, when any
			// partition has an error to report, or when there is nothing
			// to wait on.
			if res.bytes >= int(req.MinBytes) || res.errored || len(res.watches) == 0 || wait == 0 {
				respondFetch(rc, res)
				return
			}
			if deadline == nil {
				t := time.NewTimer(wait)
				defer t.Stop()
				deadline = t.C
			}
			if !waitAny(ctx, res.watches, deadline) {
				// Time is up: answer with whatever is there now.
				respondFetch(rc, s.fetchOnce(ctx, req, denied))
				return
			}
		}
	}()
}

// fetchDenied returns the topics of req the principal may not read
// (every topic of a replica's fetch without CLUSTER_ACTION, as Kafka
// answers a follower it does not trust). It is decided once, on the
// connection's reader, before the fetch may wait.
func fetchDenied(rc *reqCtx, req *kmsg.FetchRequest) map[string]bool {
	if rc.conn.s.authz == nil {
		return nil
	}
	replica := req.ReplicaID >= 0 && !rc.authorizedCluster(acl.OpClusterAction)
	var denied map[string]bool
	for i := range req.Topics {
		name := req.Topics[i].Topic
		if replica || !rc.authorizedTopic(acl.OpRead, name) {
			if denied == nil {
				denied = make(map[string]bool)
			}
			denied[name] = true
		}
	}
	return denied
}

// fetchResult is one pass over a fetch request's partitions.
type fetchResult struct {
	resp    *kmsg.FetchResponse
	bytes   int               // record bytes in resp
	errored bool              // some partition carries an error code
	watches []<-chan struct{} // of the partitions read, taken before reading
	// pieces holds the record batches of partitions whose read returned
	// more than one piece (cold reads spanning blocks of the object
	// tier's cache), by topic and partition index in resp; their
	// RecordBatches are left empty and the encoder writes the pieces.
	pieces fetchPieces
}

// fetchPieces maps a partition of a fetch response, by its topic's index in
// Topics and its own index in Partitions, to its record batches in pieces
// that, written back to back, are the batches' bytes.
type fetchPieces map[[2]int][][]byte

// respondFetch finishes a fetch request with res, as reqCtx.respond does,
// writing the record pieces of res without joining them.
func respondFetch(rc *reqCtx, res fetchResult) {
	if rc.slot == nil {
		return
	}
	throttleFetch(rc, &res)
	if rc.inHandler.Load() {
		rc.recordRequestTime()
	}
	res.resp.SetVersion(rc.hdr.version)
	rc.setThrottle(res.resp)
	rc.observe(res.resp, res.pieces)
	rc.slot.finish(encodeFetchResponsePieces(rc.hdr, res.resp, res.pieces))
}

// fetchOnce reads every requested partition once. Each partition's watch
// channel is taken before it is read, so no advance after the read is
// missed by a wait on them.
//
// MaxBytes is soft only for the first partition that returns data (so a
// batch larger than the limit still makes progress); after that, a
// partition whose first batch does not fit in what is left returns none, as
// in Kafka.
func (s *Server) fetchOnce(ctx context.Context, req *kmsg.FetchRequest, denied map[string]bool) fetchResult {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(s.cfg.FetchMaxBytes)
	if req.MaxBytes > 0 {
		maxBytes = min(maxBytes, int(req.MaxBytes))
	}
	res := fetchResult{resp: resp}
	cold := s.readColdAhead(ctx, req, maxBytes)
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
			if denied[rt.Topic] {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				res.errored = true
				continue
			}
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
			if t.meta.Partitions[rp.Partition].Leader != s.cfg.NodeID {
				// Only the leader serves a partition (its high watermark
				// is the one that moves first).
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				res.errored = true
				continue
			}
			ahead, isAhead := cold[[2]int{i, j}]
			if isAhead {
				res.watches = append(res.watches, ahead.watch)
			} else {
				res.watches = append(res.watches, p.Watch())
			}
			limit := maxBytes - res.bytes
			if rp.PartitionMaxBytes > 0 {
				limit = min(limit, int(rp.PartitionMaxBytes))
			}
			if limit <= 0 && res.bytes > 0 {
				sp.HighWatermark = p.HighWatermark()
				sp.LastStableOffset = min(s.lastStable(t, rp.Partition), sp.HighWatermark)
				sp.LogStartOffset = p.LogStartOffset()
				continue
			}
			// read_committed reads below the last stable offset and gets
			// the aborted transactions of what it reads.
			lso := s.lastStable(t, rp.Partition)
			upper := int64(math.MaxInt64)
			if req.IsolationLevel == 1 {
				upper = lso
			}
			var rr partition.ReadResult
			var err error
			if isAhead {
				<-ahead.done
				rr, err = ahead.rr, ahead.err
				if err == nil && rr.Len() > max(limit, 1) {
					// Read with the whole budget; this one has less left:
					// keep the batches that fit. (Reading again would
					// verify them again, and a sequential cold reader has
					// let the blocks it read past go.)
					if fit, ok := batchPrefix(rr.Data, max(limit, 1)); ok {
						rr.Data = fit
					} else {
						rr, err = p.ReadBelow(ctx, rp.FetchOffset, upper, max(limit, 1))
					}
				}
			} else {
				rr, err = p.ReadBelow(ctx, rp.FetchOffset, upper, max(limit, 1))
			}
			sp.HighWatermark = rr.HighWatermark
			sp.LastStableOffset = min(lso, rr.HighWatermark)
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
			n := rr.Len()
			if n == 0 || (res.bytes > 0 && n > limit) {
				continue
			}
			if req.IsolationLevel == 1 {
				sp.AbortedTransactions = s.abortedIn(t, rp.Partition, rp.FetchOffset, min(upper, rr.HighWatermark))
			}
			if len(rr.Data) == 1 {
				sp.RecordBatches = rr.Data[0]
			} else {
				if res.pieces == nil {
					res.pieces = make(fetchPieces)
				}
				res.pieces[[2]int{len(resp.Topics), j}] = rr.Data
			}
			res.bytes += n
		}
		resp.Topics = append(resp.Topics, st)
	}
	return res
}

// lastStable is partition i's last stable offset from the catalog (the
// catalog end when no transaction is open).
func (s *Server) lastStable(t *topicEntry, i int32) int64 {
	lso, _, ok := s.meta.LastStableOffset(t.meta.ID, i)
	if !ok {
		return math.MaxInt64
	}
	return lso
}

// abortedIn returns the aborted transactions overlapping [from, to) of
// partition i, as a fetch response lists them (a non-nil empty list when
// there are none, as Kafka answers read_committed).
func (s *Server) abortedIn(t *topicEntry, i int32, from, to int64) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	out := []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	for _, a := range s.meta.AbortedTxns(t.meta.ID, i, from, to) {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, at)
	}
	return out
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

// coldRead is one partition's object-tier read started ahead of a fetch's
// pass over its partitions, with the watch taken before it.
type coldRead struct {
	watch <-chan struct{}
	done  chan struct{}
	rr    partition.ReadResult
	err   error
}

// batchPrefix returns the record batches at the start of pieces (whole
// batches back to back, a batch maybe split across pieces) that fit in
// limit bytes, or the first batch alone when it is larger, as a read with
// that limit returns them. It reports false, and returns nothing, when the
// pieces do not frame as batches.
func batchPrefix(pieces [][]byte, limit int) ([][]byte, bool) {
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	var hdr [batchHeaderLen]byte
	pi, po := 0, 0 // the piece and position in it where the next batch starts
	cut := 0       // bytes of the batches taken
	for cut < total {
		// The batch's base offset and length, maybe across pieces.
		n, qi, qo := 0, pi, po
		for n < len(hdr) && qi < len(pieces) {
			c := copy(hdr[n:], pieces[qi][qo:])
			n += c
			if qo += c; qo == len(pieces[qi]) {
				qi, qo = qi+1, 0
			}
		}
		if n < len(hdr) {
			return nil, false
		}
		size := batchHeaderLen + int(int32(binary.BigEndian.Uint32(hdr[8:])))
		if size < batchMinLen || size > total-cut {
			return nil, false
		}
		if cut > 0 && cut+size > limit {
			break
		}
		cut += size
		for left := size; left > 0; {
			step := min(left, len(pieces[pi])-po)
			left -= step
			if po += step; po == len(pieces[pi]) {
				pi, po = pi+1, 0
			}
		}
	}
	out := pieces[:pi:pi]
	if po > 0 {
		out = append(out, pieces[pi][:po:po])
	}
	return out, true
}

// RecordBatch framing as batchPrefix reads it: base offset and length
// come first; a batch has at least 61 bytes.
const (
	batchHeaderLen = 12
	batchMinLen    = 61
)

// maxColdAhead bounds the partitions of one fetch read from the object
// tier at once.
const maxColdAhead = 16

// readColdAhead starts, at once and in parallel, the reads of the
// partitions of req that the object tier serves (their block GETs
// overlap instead of following one another), each with the whole
// response budget or its partition limit; fetchOnce takes their results
// in order, keeping of a result only the batches that fit when less budget
// is left than it holds (batchPrefix; it reads again only when the result
// does not frame as batches). Partitions the WAL serves are read by
// fetchOnce as before. The
// result is keyed by topic and partition index in req.
func (s *Server) readColdAhead(ctx context.Context, req *kmsg.FetchRequest, maxBytes int) map[[2]int]*coldRead {
	var out map[[2]int]*coldRead
	n := 0
	for i := range req.Topics {
		rt := &req.Topics[i]
		t := s.topics.byName(rt.Topic)
		if t == nil {
			continue
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			p := t.partition(rp.Partition)
			if p == nil || n == maxColdAhead || t.meta.Partitions[rp.Partition].Leader != s.cfg.NodeID || !p.ReadsCold(rp.FetchOffset) {
				continue
			}
			upper := int64(math.MaxInt64)
			if req.IsolationLevel == 1 {
				upper = s.lastStable(t, rp.Partition)
			}
			limit := maxBytes
			if rp.PartitionMaxBytes > 0 {
				limit = min(limit, int(rp.PartitionMaxBytes))
			}
			c := &coldRead{watch: p.Watch(), done: make(chan struct{})}
			if out == nil {
				out = make(map[[2]int]*coldRead)
			}
			out[[2]int{i, j}] = c
			n++
			go func(offset int64) {
				defer close(c.done)
				c.rr, c.err = p.ReadBelow(ctx, offset, upper, max(limit, 1))
			}(rp.FetchOffset)
		}
	}
	return out
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

// fetchInlineBytes is the largest record set copied into a fetch response's
// own buffer; larger ones become their own piece of the frame, so each costs
// an iovec of the writev rather than a copy.
const fetchInlineBytes = 4 << 10

// encodeFetchResponse encodes resp (its version already set) as one
// response frame, like encodeResponse, but without copying record batches
// larger than fetchInlineBytes: the frame is the pieces that, written in
// order, make up kmsg's encoding of the same response. The batches must not
// change until the frame is written; partition reads return buffers of
// their own or blocks of the object tier's cache, which nothing writes to
// again.
//
// It handles the versions and fields Shale's fetch fills in (v4–v12;
// aborted transactions, tagged fields and node endpoints left empty) and
// hands anything else to kmsg.
func encodeFetchResponse(hdr requestHeader, resp *kmsg.FetchResponse) net.Buffers {
	return encodeFetchResponsePieces(hdr, resp, nil)
}

// encodeFetchResponsePieces is encodeFetchResponse for a response some of
// whose partitions have their record batches in pieces instead of
// RecordBatches: each piece larger than fetchInlineBytes is a piece of the
// frame of its own, so batches spanning several cached blocks are written
// from the blocks. On kmsg's path the pieces are joined into RecordBatches.
func encodeFetchResponsePieces(hdr requestHeader, resp *kmsg.FetchResponse, pieces fetchPieces) net.Buffers {
	v := resp.Version
	if v < 4 || v > 12 || !plainFetchResponse(resp) {
		for at, ps := range pieces {
			// Never nil: pieces stand for a record set, maybe empty.
			joined := []byte{}
			for _, b := range ps {
				joined = append(joined, b...)
			}
			resp.Topics[at[0]].Partitions[at[1]].RecordBatches = joined
		}
		return net.Buffers{encodeResponse(hdr, resp.IsFlexible(), resp)}
	}
	flexible := v >= 12
	type splice struct {
		at   int // position in meta the batches go before
		data []byte
	}
	var (
		splicesBuf [16]splice
		splices    = splicesBuf[:0]
		spliced    int // bytes in splices
		parts      int
	)
	for i := range resp.Topics {
		parts += len(resp.Topics[i].Partitions)
	}
	meta := make([]byte, 8, 64+64*parts+fetchInlineBytes)
	binary.BigEndian.PutUint32(meta[4:], uint32(hdr.correlationID))
	if flexible {
		meta = append(meta, 0) // response header v1: no tagged fields
	}
	meta = binary.BigEndian.AppendUint32(meta, uint32(resp.ThrottleMillis))
	if v >= 7 {
		meta = binary.BigEndian.AppendUint16(meta, uint16(resp.ErrorCode))
		meta = binary.BigEndian.AppendUint32(meta, uint32(resp.SessionID))
	}
	meta = appendArrayLen(meta, len(resp.Topics), flexible)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if flexible {
			meta = binary.AppendUvarint(meta, uint64(len(t.Topic))+1)
		} else {
			meta = binary.BigEndian.AppendUint16(meta, uint16(len(t.Topic)))
		}
		meta = append(meta, t.Topic...)
		meta = appendArrayLen(meta, len(t.Partitions), flexible)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			meta = binary.BigEndian.AppendUint32(meta, uint32(p.Partition))
			meta = binary.BigEndian.AppendUint16(meta, uint16(p.ErrorCode))
			meta = binary.BigEndian.AppendUint64(meta, uint64(p.HighWatermark))
			meta = binary.BigEndian.AppendUint64(meta, uint64(p.LastStableOffset))
			if v >= 5 {
				meta = binary.BigEndian.AppendUint64(meta, uint64(p.LogStartOffset))
			}
			// Aborted transactions: null, or (producer id, first
			// offset) pairs without tagged fields (plainFetchResponse).
			switch {
			case p.AbortedTransactions == nil && flexible:
				meta = append(meta, 0)
			case p.AbortedTransactions == nil:
				meta = binary.BigEndian.AppendUint32(meta, 0xffffffff)
			default:
				meta = appendArrayLen(meta, len(p.AbortedTransactions), flexible)
				for _, a := range p.AbortedTransactions {
					meta = binary.BigEndian.AppendUint64(meta, uint64(a.ProducerID))
					meta = binary.BigEndian.AppendUint64(meta, uint64(a.FirstOffset))
					if flexible {
						meta = append(meta, 0)
					}
				}
			}
			if v >= 11 {
				meta = binary.BigEndian.AppendUint32(meta, uint32(p.PreferredReadReplica))
			}
			records, ok := pieces[[2]int{i, j}]
			if !ok && p.RecordBatches != nil {
				records = [][]byte{p.RecordBatches}
			}
			switch {
			case records == nil && flexible:
				meta = append(meta, 0)
			case records == nil:
				meta = binary.BigEndian.AppendUint32(meta, 0xffffffff)
			default:
				n := 0
				for _, b := range records {
					n += len(b)
				}
				if flexible {
					meta = binary.AppendUvarint(meta, uint64(n)+1)
				} else {
					meta = binary.BigEndian.AppendUint32(meta, uint32(n))
				}
				for _, b := range records {
					if len(b) <= fetchInlineBytes {
						meta = append(meta, b...)
					} else {
						splices = append(splices, splice{at: len(meta), data: b})
						spliced += len(b)
					}
				}
			}
			if flexible {
				meta = append(meta, 0) // partition: no tagged fields
			}
		}
		if flexible {
			meta = append(meta, 0) // topic: no tagged fields
		}
	}
	if flexible {
		meta = append(meta, 0) // response: no tagged fields
	}
	binary.BigEndian.PutUint32(meta, uint32(len(meta)-4+spliced))
	frame := make(net.Buffers, 0, 2*len(splices)+1)
	prev := 0
	for _, sp := range splices {
		if sp.at > prev {
			frame = append(frame, meta[prev:sp.at])
		}
		frame = append(frame, sp.data)
		prev = sp.at
	}
	return append(frame, meta[prev:])
}

// appendArrayLen appends an array length in the classic (int32) or, for
// flexible versions, the compact (uvarint of n+1) form.
func appendArrayLen(b []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(b, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// plainFetchResponse reports whether resp uses only what
// encodeFetchResponse encodes: no node endpoints, no aborted transactions,
// no tagged fields in aborted transactions (the diverging epoch, current leader and snapshot id at
// their defaults, no unknown tags).
func plainFetchResponse(resp *kmsg.FetchResponse) bool {
	if len(resp.Brokers) > 0 || resp.UnknownTags.Len() > 0 {
		return false
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.UnknownTags.Len() > 0 {
			return false
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			de, cl, sn := &p.DivergingEpoch, &p.CurrentLeader, &p.SnapshotID
			for _, a := range p.AbortedTransactions {
				if a.UnknownTags.Len() > 0 {
					return false
				}
			}
			if p.UnknownTags.Len() > 0 ||
				de.Epoch != -1 || de.EndOffset != -1 || de.UnknownTags.Len() > 0 ||
				cl.LeaderID != -1 || cl.LeaderEpoch != -1 || cl.UnknownTags.Len() > 0 ||
				sn.EndOffset != -1 || sn.Epoch != -1 || sn.UnknownTags.Len() > 0 {
				return false
			}
		}
	}
	return true
}
