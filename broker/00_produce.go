package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce: v3–v12 (RecordBatch v2 only; older message formats are gone from
// Kafka 4 as well). v12 is v11 on the wire; it marks a client of KIP-890
// part 2, whose transactional batches add their partition to the ongoing
// transaction themselves (checkTransactional). v0–v2 are advertised but every partition of such a
// request is answered UNSUPPORTED_VERSION: librdkafka up to 2.x enables
// gzip, snappy and lz4 only when the advertised range starts at 0, which is
// why Kafka 4 advertises it the same way (KAFKA-18659).
//
// Each partition's records are checked as Kafka checks them before they
// reach the log (validateProduced): exactly one whole batch, magic 2, base
// offset 0, no zstd before v7, within max.message.bytes, consistent counts,
// no control batches. The partition then verifies the CRC, assigns offsets
// in place and appends the batch to the WAL unchanged: every compression
// codec passes through untouched.
//
// acks=0 gets no response, whatever happened (errors included; Kafka would
// also close the connection, Shale keeps it). acks=1 is answered once the
// group-commit fsync covering the data is done; like Kafka, it does not
// apply TimeoutMillis, since the data is in the log either way and a
// timeout would only invite a duplicate retry. acks=all waits for the data
// to be committed for at most TimeoutMillis (0 or less: a default of 30s),
// then answers REQUEST_TIMED_OUT.
//
// Only the partition's leader takes writes: a partition another broker
// leads, one whose leader epoch moved on, or one the catalog fenced (it
// refused data written here under the partition's epoch) answers
// NOT_LEADER_OR_FOLLOWER, as do producers still waiting on such a
// partition's un-committed data (see partition.Partition.Fence).
//
// A topic whose cleanup.policy includes compact refuses a batch holding a
// record without a key with INVALID_RECORD and Kafka's message
// ("Compacted topic cannot accept message without key in topic partition
// t-0."), as Kafka does.
//
// Authorization: WRITE on the transactional id of a transactional request
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition) and WRITE on
// each topic (TOPIC_AUTHORIZATION_FAILED), checked before the topic's
// existence, as Kafka does.
//
// Not yet: transactional produce (INVALID_RECORD), acks=all waiting for the
// object tier (arrives with it), topic ids (v13).

// produceDefaultTimeout is the acks=all wait of a request with no timeout.
const produceDefaultTimeout = 30 * time.Second

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
	// A transactional produce needs WRITE on its transactional id, every
	// topic WRITE on the topic (Kafka checks both before the topic exists).
	txnOK := req.TransactionID == nil || rc.authorizedTxnID(acl.OpWrite, *req.TransactionID)
	now := s.now().UnixMilli()
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		t := s.topics.byName(rt.Topic)
		topicOK := txnOK && rc.authorizedTopic(acl.OpWrite, rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case req.Version < 3:
				// Advertised only so that librdkafka enables its codecs
				// (it probes for Produce v0-v2); the message formats of
				// these versions are refused, as Kafka 4 does.
				sp.ErrorCode = kerr.UnsupportedVersion.Code
				continue
			case !acksOK:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				continue
			case !txnOK:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				continue
			case !topicOK:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			case t == nil || t.partition(rp.Partition) == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			p := t.partition(rp.Partition)
			if err := checkLeader(s, t, rp.Partition, p); err != nil {
				sp.ErrorCode, sp.ErrorMessage = kafkaError(err)
				continue
			}
			sp.LogStartOffset = p.LogStartOffset()
			if err := validateProduced(req.Version, rp.Records, t.maxMessageBytes); err != nil {
				sp.ErrorCode, sp.ErrorMessage = kafkaError(err)
				continue
			}
			if err := s.checkTransactional(rc.ctx(), req.Version, req.TransactionID, rt.Topic, rp); err != nil {
				sp.ErrorCode, sp.ErrorMessage = kafkaError(err)
				continue
			}
			app, err := p.Append(rp.Records, partition.AppendOptions{
				MaxMessageBytes: t.maxMessageBytes,
				LogAppendTime:   t.logAppendTime,
				Now:             now,
				RequireKeys:     t.compacted,
			})
			if errors.Is(err, recordbatch.ErrNullKey) {
				// Kafka's answer, word for word.
				msg := fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d.", rt.Topic, rp.Partition)
				sp.ErrorCode, sp.ErrorMessage = kerr.InvalidRecord.Code, &msg
				sp.BaseOffset = -1
				continue
			}
			if errors.Is(err, kerr.UnknownProducerID) && req.Version < 5 {
				// UNKNOWN_PRODUCER_ID came with Produce v5 (and
				// log_start_offset); older clients get what
				// brokers gave them before it.
				err = kerr.OutOfOrderSequenceNumber
			}
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
	go func() {
		ctx := rc.ctx()
		if req.Acks == -1 {
			timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
			if timeout <= 0 {
				timeout = produceDefaultTimeout
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		// Last first: the WAL makes entries durable and calls their Done
		// in append order, so once the last partition appended is durable
		// the others are too, and this goroutine is woken once rather
		// than once per partition.
		for i := len(waits) - 1; i >= 0; i-- {
			w := waits[i]
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

// checkLeader answers NOT_LEADER_OR_FOLLOWER for a partition this broker
// may not write: another broker leads it, its leader epoch moved past the
// one this broker opened it with (whatever it wrote under the old one is
// refused by the catalog), or the uploader fenced it. Clients refresh
// their metadata and retry at the leader.
func checkLeader(s *Server, t *topicEntry, i int32, p *partition.Partition) error {
	pm := t.meta.Partitions[i]
	switch {
	case !s.leaseValid():
		return fmt.Errorf("%w: this broker's session with the controllers lapsed; partition %d of %q may be led elsewhere", kerr.NotLeaderForPartition, i, t.meta.Name)
	case pm.Leader != s.cfg.NodeID:
		return fmt.Errorf("%w: broker %d leads partition %d of %q, this is broker %d", kerr.NotLeaderForPartition, pm.Leader, i, t.meta.Name, s.cfg.NodeID)
	case pm.LeaderEpoch != p.LeaderEpoch():
		return fmt.Errorf("%w: partition %d of %q is at leader epoch %d, this broker leads it under epoch %d", kerr.NotLeaderForPartition, i, t.meta.Name, pm.LeaderEpoch, p.LeaderEpoch())
	case p.Fenced():
		return fmt.Errorf("%w: partition %d of %q is no longer led here under leader epoch %d", kerr.NotLeaderForPartition, i, t.meta.Name, p.LeaderEpoch())
	}
	return nil
}

// checkTransactional checks a partition's transactional batch: the
// request must name its transactional id, and the transaction must be
// ongoing with the partition added (verifyTxnProduce). From Produce v12
// (KIP-890 part 2) the batch adds its partition to the transaction
// instead, starting it if none is ongoing, under the batch's producer id
// and epoch: a batch of an ended transaction, whose epoch the end bumped,
// is refused (INVALID_PRODUCER_EPOCH). Batches that are not transactional
// pass.
func (s *Server) checkTransactional(ctx context.Context, version int16, txnID *string, topic string, rp *kmsg.ProduceRequestTopicPartition) error {
	h, err := recordbatch.ParseHeader(rp.Records)
	if err != nil || !h.IsTransactional() {
		return nil // validateProduced judged the bytes
	}
	if txnID == nil {
		return fmt.Errorf("%w: a transactional batch in a produce request without a transactional id", kerr.InvalidTxnState)
	}
	tp := metadata.TopicPartition{Topic: topic, Partition: rp.Partition}
	if version < 12 {
		return s.verifyTxnProduce(ctx, *txnID, h.ProducerID, h.ProducerEpoch, tp)
	}
	if t, ok := s.meta.Transaction(*txnID); ok && t.ProducerID == h.ProducerID && t.ProducerEpoch == h.ProducerEpoch &&
		t.Status == metadata.TxnOngoing && t.HasPartition(tp) {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.meta.AddTxnPartitions(actx, *txnID, h.ProducerID, h.ProducerEpoch, []metadata.TopicPartition{tp}, nil, s.now().UnixMilli()); err != nil {
		code, _ := txnError(err)
		return fmt.Errorf("%w: adding %s-%d to the transaction of %q: %v", kerr.ErrorForCode(code), topic, rp.Partition, *txnID, err)
	}
	return nil
}

// validateProduced makes the checks Kafka makes on one partition's records
// before they reach the log (ProduceRequest.validateRecords, then the batch
// checks of its log validator), from the batch header alone; the partition
// verifies the CRC when it appends. The error codes are Kafka 3.x/4.x's:
//
//   - no whole batch, a batch that is not magic 2, bytes after the first
//     batch, a base offset other than 0, inconsistent or empty counts, a
//     control batch, an idempotent batch without a sequence: INVALID_RECORD
//   - a length field below the smallest record, a magic-2 header that does
//     not fit its length, an unknown codec: CORRUPT_MESSAGE
//   - zstd before Produce v7: UNSUPPORTED_COMPRESSION_TYPE
//   - larger than max.message.bytes: MESSAGE_TOO_LARGE
func validateProduced(version int16, records []byte, maxMessageBytes int) error {
	// baseOffset, batchLength, partitionLeaderEpoch (or a legacy CRC) and
	// magic: what Kafka reads before it knows a batch's format.
	const headerUpToMagic = 17
	// The smallest legacy (magic 0) message after its offset and size.
	const minRecordOverhead = 14
	if len(records) < headerUpToMagic {
		return fmt.Errorf("%w: produce requests must hold one whole record batch per partition, got %d bytes", kerr.InvalidRecord, len(records))
	}
	length := int32(binary.BigEndian.Uint32(records[8:]))
	if length < minRecordOverhead {
		return fmt.Errorf("%w: record batch length %d is below the minimum of %d", kerr.CorruptMessage, length, minRecordOverhead)
	}
	size := 12 + int64(length)
	if size > int64(len(records)) {
		return fmt.Errorf("%w: record batch of %d bytes is truncated to %d: produce requests must hold one whole record batch per partition", kerr.InvalidRecord, size, len(records))
	}
	if magic := int8(records[16]); magic != 2 {
		return fmt.Errorf("%w: produce requests are only allowed to contain record batches with magic version 2, got %d", kerr.InvalidRecord, magic)
	}
	h, err := recordbatch.ParseHeader(records)
	if err != nil {
		return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	if h.Size() != len(records) {
		return fmt.Errorf("%w: produce requests must hold exactly one record batch per partition, got %d bytes after it", kerr.InvalidRecord, len(records)-h.Size())
	}
	switch c := h.Compression(); {
	case c > recordbatch.CompressionZstd:
		return fmt.Errorf("%w: unknown compression codec %d", kerr.CorruptMessage, c)
	case c == recordbatch.CompressionZstd && version < 7:
		return fmt.Errorf("%w: produce v%d may not use zstd", kerr.UnsupportedCompressionType, version)
	}
	switch {
	case h.BaseOffset != 0:
		return fmt.Errorf("%w: the base offset of a produced batch must be 0, got %d", kerr.InvalidRecord, h.BaseOffset)
	case maxMessageBytes > 0 && h.Size() > maxMessageBytes:
		return fmt.Errorf("%w: record batch of %d bytes is larger than max.message.bytes %d", kerr.MessageTooLarge, h.Size(), maxMessageBytes)
	case h.LastOffsetDelta < 0:
		return fmt.Errorf("%w: invalid offset delta %d", kerr.InvalidRecord, h.LastOffsetDelta)
	case h.RecordCount <= 0:
		return fmt.Errorf("%w: invalid record count %d", kerr.InvalidRecord, h.RecordCount)
	case int64(h.LastOffsetDelta)+1 != int64(h.RecordCount):
		return fmt.Errorf("%w: offset delta %d does not match the record count %d", kerr.InvalidRecord, h.LastOffsetDelta, h.RecordCount)
	case h.IsControl():
		return fmt.Errorf("%w: clients may not write control batches", kerr.InvalidRecord)
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return fmt.Errorf("%w: sequence %d with producer id %d", kerr.InvalidRecord, h.BaseSequence, h.ProducerID)
	}
	return nil
}
