package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transaction coordinator.
//
// A transactional id hashes to a coordinator slot (metadata/slots.go, the
// slots groups use) and the slot's leader broker coordinates it:
// FindCoordinator (key type 1) answers that broker and every other one
// answers NOT_COORDINATOR. The id's state is in the metadata log
// (metadata/txn.go), so a coordinator keeps nothing of its own: a new
// slot leader picks up where the old one stopped.
//
// Ending a transaction (EndTxn, an InitProducerId that finds one ongoing,
// or the timeout) is: EndTxnPrepare in the log; a COMMIT or ABORT marker
// written into every partition of the transaction by its leader
// (WriteTxnMarkers, to this broker's own partitions directly) and waited
// for until the catalog holds it; then EndTxnComplete, which also applies
// the transaction's group offsets. EndTxn answers after the complete, so
// a client's next transaction never meets CONCURRENT_TRANSACTIONS. Every
// coordinator looks, twice a second, for transactions of its slots left
// preparing (its predecessor died mid-commit) and completes them, and for
// ongoing ones past their timeout, which it aborts with the producer's
// epoch bumped (the producer is fenced, as Kafka does).

// txnCoordinator runs the ends of transactions; one per server.
type txnCoordinator struct {
	s *Server

	mu      sync.Mutex
	ending  map[string]chan struct{} // transactional ids being ended, closed when done
	clients map[int32]*kgo.Client    // to other brokers, by id
}

func newTxnCoordinator(s *Server) *txnCoordinator {
	return &txnCoordinator{s: s, ending: make(map[string]chan struct{}), clients: make(map[int32]*kgo.Client)}
}

// txnError maps a metadata transaction error to Kafka's code.
func txnError(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, metadata.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code, &msg
	case errors.Is(err, metadata.ErrConcurrentTransactions):
		return kerr.ConcurrentTransactions.Code, &msg
	case errors.Is(err, metadata.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code, &msg
	case errors.Is(err, metadata.ErrInvalidProducerIDMapping), errors.Is(err, metadata.ErrTransactionalIDNotFound):
		return kerr.InvalidProducerIDMapping.Code, &msg
	case errors.Is(err, metadata.ErrNotCoordinator):
		return kerr.NotCoordinator.Code, &msg
	case errors.Is(err, metadata.ErrNotLeader), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The controllers could not be reached in time: retriable.
		return kerr.CoordinatorNotAvailable.Code, &msg
	}
	return kafkaError(err)
}

// notTxnCoordinator returns NOT_COORDINATOR's code when another broker
// coordinates transactional id id, else 0.
func (s *Server) notTxnCoordinator(id string) int16 { return s.notCoordinator(id) }

// end ends id's transaction of producer pid at epoch: prepare, markers,
// complete. timeout aborts with the epoch bumped; bump is KIP-890's bump
// per transaction (EndTxn v5+). Concurrent ends of one id wait for each
// other. It returns the final state.
func (c *txnCoordinator) end(ctx context.Context, id string, pid int64, epoch int16, commit, timeout, bump bool) (metadata.Txn, error) {
	for {
		c.mu.Lock()
		ch, busy := c.ending[id]
		if !busy {
			ch = make(chan struct{})
			c.ending[id] = ch
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return metadata.Txn{}, fmt.Errorf("%w: transactional id %q is being ended", metadata.ErrConcurrentTransactions, id)
		}
	}
	defer func() {
		c.mu.Lock()
		close(c.ending[id])
		delete(c.ending, id)
		c.mu.Unlock()
	}()
	now := c.s.now().UnixMilli()
	t, err := c.s.meta.EndTxnPrepare(ctx, id, pid, epoch, commit, timeout, bump, now)
	if err != nil {
		return t, err
	}
	return c.complete(ctx, t)
}

// complete writes the markers of a preparing transaction and completes it.
func (c *txnCoordinator) complete(ctx context.Context, t metadata.Txn) (metadata.Txn, error) {
	if !t.Status.Preparing() {
		return t, nil // empty abort, or a retry of a completed end
	}
	commit := t.Status == metadata.TxnPrepareCommit
	if err := c.writeMarkers(ctx, t, commit); err != nil {
		return t, err
	}
	return c.s.meta.EndTxnComplete(ctx, t.ID, t.ProducerID, t.ProducerEpoch, c.s.now().UnixMilli())
}

// writeMarkers has every partition of t's transaction get its marker,
// retrying through leader changes until each is committed or ctx ends.
func (c *txnCoordinator) writeMarkers(ctx context.Context, t metadata.Txn, commit bool) error {
	left := make(map[metadata.TopicPartition]bool, len(t.Partitions))
	for _, tp := range t.Partitions {
		left[tp] = true
	}
	for attempt := 0; len(left) > 0; attempt++ {
		byLeader := map[int32][]metadata.TopicPartition{}
		for tp := range left {
			topic, ok := c.s.meta.Topic(tp.Topic)
			if !ok || int(tp.Partition) >= len(topic.Partitions) {
				delete(left, tp) // deleted meanwhile: nothing to mark
				continue
			}
			byLeader[topic.Partitions[tp.Partition].Leader] = append(byLeader[topic.Partitions[tp.Partition].Leader], tp)
		}
		for leader, tps := range byLeader {
			var done []metadata.TopicPartition
			var err error
			if leader == c.s.cfg.NodeID {
				done, err = c.s.writeMarkersLocal(ctx, t.ProducerID, t.ProducerEpoch, commit, tps)
			} else if leader != metadata.NoLeader {
				done, err = c.writeMarkersRemote(ctx, leader, t.ProducerID, t.ProducerEpoch, commit, tps)
			}
			if err != nil && ctx.Err() == nil {
				c.s.log.Debug("write transaction markers", "transactional_id", t.ID, "broker", leader, "err", err)
			}
			for _, tp := range done {
				delete(left, tp)
			}
		}
		if len(left) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("transaction %q: markers not written to %d partitions: %w", t.ID, len(left), ctx.Err())
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
	return nil
}

// writeMarkersRemote sends WriteTxnMarkers to broker id and returns the
// partitions it wrote.
func (c *txnCoordinator) writeMarkersRemote(ctx context.Context, id int32, pid int64, epoch int16, commit bool, tps []metadata.TopicPartition) ([]metadata.TopicPartition, error) {
	cl, err := c.client(id)
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, commit
	byTopic := map[string][]int32{}
	for _, tp := range tps {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	for topic, parts := range byTopic {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, parts
		m.Topics = append(m.Topics, mt)
	}
	req.Markers = append(req.Markers, m)
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return nil, err
	}
	var done []metadata.TopicPartition
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode == 0 {
					done = append(done, metadata.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
				}
			}
		}
	}
	return done, nil
}

// client returns a Kafka client pinned to broker id.
func (c *txnCoordinator) client(id int32) (*kgo.Client, error) {
	b, ok := c.s.meta.Broker(id)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", id)
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[id]; ok {
		if seeds := cl.OptValue(kgo.SeedBrokers).([]string); len(seeds) == 1 && seeds[0] == addr {
			return cl, nil
		}
		cl.Close()
		delete(c.clients, id)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("shale-txn-coordinator"), kgo.MetadataMinAge(time.Second)}
	if c.s.peerTLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.s.peerTLS.Clone()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	c.clients[id] = cl
	return cl, nil
}

func (c *txnCoordinator) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cl := range c.clients {
		cl.Close()
		delete(c.clients, id)
	}
}

// run completes transactions left preparing and aborts timed-out ones,
// for the slots this broker leads, until the server closes.
func (c *txnCoordinator) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := c.s.now().UnixMilli()
		for _, txn := range c.s.meta.Transactions() {
			if _, here := c.s.coordinator(txn.ID); !here {
				continue
			}
			c.mu.Lock()
			_, busy := c.ending[txn.ID]
			c.mu.Unlock()
			if busy {
				continue
			}
			switch {
			case txn.Status.Preparing():
				c.goBounded(ctx, func(ctx context.Context) error {
					_, err := c.end(ctx, txn.ID, txn.ProducerID, txn.ProducerEpoch, txn.Status == metadata.TxnPrepareCommit, false, false)
					return err
				}, txn.ID, "complete")
			case txn.Status == metadata.TxnOngoing && now-txn.StartTime > int64(txn.TimeoutMs):
				c.s.log.Info("transaction timed out; aborting it and fencing its producer", "transactional_id", txn.ID,
					"producer_id", txn.ProducerID, "epoch", txn.ProducerEpoch, "timeout_ms", txn.TimeoutMs)
				c.goBounded(ctx, func(ctx context.Context) error {
					_, err := c.end(ctx, txn.ID, txn.ProducerID, txn.ProducerEpoch, false, true, false)
					return err
				}, txn.ID, "abort on timeout")
			}
		}
	}
}

// goBounded runs fn in the server's wait group with a bounded context.
func (c *txnCoordinator) goBounded(ctx context.Context, fn func(context.Context) error, id, what string) {
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := fn(fctx); err != nil && ctx.Err() == nil {
			c.s.log.Warn("transaction "+what, "transactional_id", id, "err", err)
		}
	}()
}

// writeMarkersLocal writes pid's marker to each of tps this broker leads
// and returns those committed.
func (s *Server) writeMarkersLocal(ctx context.Context, pid int64, epoch int16, commit bool, tps []metadata.TopicPartition) ([]metadata.TopicPartition, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var done []metadata.TopicPartition
	var err error
	for tp, code := range s.writeMarkerCodes(wctx, pid, epoch, commit, tps) {
		if code == 0 {
			done = append(done, tp)
		} else if err == nil {
			err = fmt.Errorf("marker for %s-%d: %w", tp.Topic, tp.Partition, kerr.ErrorForCode(code))
		}
	}
	return done, err
}

// appendMarker appends pid's COMMIT or ABORT marker to partition tp,
// which this broker must lead.
func (s *Server) appendMarker(tp metadata.TopicPartition, pid int64, epoch int16, commit bool) (*partition.Appended, error) {
	t := s.topics.byName(tp.Topic)
	if t == nil || t.partition(tp.Partition) == nil {
		return nil, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, tp.Topic, tp.Partition)
	}
	p := t.partition(tp.Partition)
	if err := checkLeader(s, t, tp.Partition, p); err != nil {
		return nil, err
	}
	marker := recordbatch.EncodeMarker(pid, epoch, commit, 0, s.now().UnixMilli())
	return p.Append(marker, partition.AppendOptions{Marker: true, Now: s.now().UnixMilli()})
}

// verifyTxnProduce checks a transactional batch against its transaction
// (KIP-890's verification, from the metadata log this broker follows):
// the transaction must be ongoing under the batch's producer id and epoch
// with the partition added. A broker a moment behind the log waits for it
// briefly.
func (s *Server) verifyTxnProduce(ctx context.Context, txnID string, pid int64, epoch int16, tp metadata.TopicPartition) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		changed := s.meta.Changed()
		t, ok := s.meta.Transaction(txnID)
		var err error
		switch {
		case !ok || t.ProducerID != pid:
			err = fmt.Errorf("%w: transactional id %q has no producer %d", kerr.InvalidProducerIDMapping, txnID, pid)
		case epoch < t.ProducerEpoch:
			return fmt.Errorf("%w: transactional id %q is at epoch %d, the batch is of epoch %d", kerr.InvalidProducerEpoch, txnID, t.ProducerEpoch, epoch)
		case epoch > t.ProducerEpoch:
			err = fmt.Errorf("%w: transactional id %q is at epoch %d, the batch is of epoch %d", kerr.InvalidTxnState, txnID, t.ProducerEpoch, epoch)
		case t.Status != metadata.TxnOngoing || !t.HasPartition(tp):
			err = fmt.Errorf("%w: partition %s-%d is not in an ongoing transaction of %q", kerr.InvalidTxnState, tp.Topic, tp.Partition, txnID)
		default:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return err
		case <-time.After(time.Until(deadline)):
			return err
		}
	}
}
