package broker

import (
	"context"
	"time"

	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce: v3–v11 (RecordBatch v2 only; older message formats are gone from
// Kafka 4 as well).
//
// Batches are validated (CRC, magic, counts, max.message.bytes), given
// offsets in place and appended to the WAL unchanged: every compression
// codec passes through untouched. acks=0 gets no response; acks=1 and
// acks=all are answered once the group-commit fsync covering the data is
// done, which is also when the high watermark passes it.
//
// Not yet: transactional produce (INVALID_RECORD), acks=all waiting for the
// object tier (arrives with it), topic ids (v13).

func produceNoResponse(r kmsg.Request) bool {
	return r.(*kmsg.ProduceRequest).Acks == 0
}

func handleProduce(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	type waiting struct {
		p   *kmsg.ProduceResponseTopicPartition
		app *partition.Appended
	}
	var waits []waiting
	acksOK := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	now := s.now().UnixMilli()
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		t := s.topics.byName(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case req.TransactionID != nil:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				continue
			case !acksOK:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				continue
			case t == nil || t.partition(rp.Partition) == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			p := t.partition(rp.Partition)
			app, err := p.Append(rp.Records, partition.AppendOptions{
				MaxMessageBytes: t.maxMessageBytes,
				LogAppendTime:   t.logAppendTime,
				Now:             now,
			})
			sp.LogStartOffset = p.LogStartOffset()
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = kafkaError(err)
				continue
			}
			sp.BaseOffset = app.BaseOffset
			sp.LogAppendTime = app.LogAppendTime
			waits = append(waits, waiting{sp, app})
		}
		resp.Topics = append(resp.Topics, st)
	}
	if rc.slot == nil {
		return // acks=0
	}
	if len(waits) == 0 {
		rc.respond(resp)
		return
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		// A zero timeout cannot mean "fail before the fsync": the data is
		// already in the log. Wait as long as a default client would.
		timeout = 30 * time.Second
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		defer cancel()
		for _, w := range waits {
			wait := w.app.WaitLocal
			if req.Acks == -1 {
				wait = w.app.WaitCommitted
			}
			if err := wait(ctx); err != nil {
				w.p.ErrorCode, w.p.ErrorMessage = kafkaError(err)
				w.p.BaseOffset = -1
			}
		}
		rc.respond(resp)
	}()
}
