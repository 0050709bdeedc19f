package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0–v4.
//
// Without a transactional id every call hands out a fresh producer id with
// epoch 0, as Kafka does for idempotent producers. Ids come from the
// metadata store in blocks, so they are never reused, across restarts too.
//
// With a transactional id this broker must coordinate it (else
// NOT_COORDINATOR). The id keeps its producer id and gets its epoch
// bumped, which fences every older instance of the producer; a
// transaction the id left ongoing is aborted first (its markers written),
// one completing gets CONCURRENT_TRANSACTIONS (the client retries). From
// v3 a client may name the producer id and epoch it holds (KIP-360): the
// bump then happens only if they are still the id's.
func handleInitProducerID(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		s.initTxnProducer(rc.ctx(), req, resp)
		rc.respond(resp)
		return
	}
	id, err := s.pids.next(s.ctx)
	if err != nil {
		s.log.Warn("allocate producer id", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		rc.respond(resp)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	rc.respond(resp)
}

func (s *Server) initTxnProducer(ctx context.Context, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	id := *req.TransactionalID
	if code := s.notTxnCoordinator(id); code != 0 {
		resp.ErrorCode = code
		return
	}
	if req.TransactionTimeoutMillis <= 0 || req.TransactionTimeoutMillis > metadata.MaxTxnTimeout {
		resp.ErrorCode = kerr.InvalidTransactionTimeout.Code
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	expectPID, expectEpoch := int64(-1), int16(-1)
	if req.Version >= 3 && req.ProducerID >= 0 {
		expectPID, expectEpoch = req.ProducerID, req.ProducerEpoch
	}
	if t, ok := s.meta.Transaction(id); ok {
		switch {
		case t.Status == metadata.TxnOngoing:
			// Abort what the previous instance left open; the bump
			// below fences it.
			if _, err := s.txns.end(ctx, id, t.ProducerID, t.ProducerEpoch, false, false, false); err != nil {
				resp.ErrorCode, _ = txnError(err)
				return
			}
		case t.Status.Preparing():
			if _, err := s.txns.complete(ctx, t); err != nil {
				resp.ErrorCode = kerr.ConcurrentTransactions.Code
				return
			}
		}
	}
	t, err := s.meta.InitTxnProducer(ctx, id, req.TransactionTimeoutMillis, expectPID, expectEpoch, s.now().UnixMilli())
	if err != nil {
		resp.ErrorCode, _ = txnError(err)
		if errors.Is(err, metadata.ErrProducerFenced) && req.Version >= 4 {
			resp.ErrorCode = kerr.ProducerFenced.Code
		}
		return
	}
	resp.ProducerID, resp.ProducerEpoch = t.ProducerID, t.ProducerEpoch
}

// producerIDBlock is how many ids one metadata write reserves.
const producerIDBlock = 1000

// producerIDs hands out ids from blocks reserved in the metadata store.
type producerIDs struct {
	meta        *metadata.Store
	mu          sync.Mutex
	cursor, end int64
}

func (p *producerIDs) next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cursor == p.end {
		first, err := p.meta.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.cursor, p.end = first, first+producerIDBlock
	}
	id := p.cursor
	p.cursor++
	return id, nil
}
