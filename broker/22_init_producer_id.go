package broker

import (
	"context"
	"sync"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0–v4, idempotent producers only.
//
// Every call hands out a fresh producer id with epoch 0, as Kafka does for
// producers without a transactional id. Ids come from the metadata store in
// blocks, so they are never reused, across restarts too. A transactional id
// is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED until transactions
// exist: non-retriable, so transactional clients fail at once (see
// 10_find_coordinator.go for why this code). The response has no message
// field; FindCoordinator, which transactional clients send first, carries
// the explanation.
func handleInitProducerID(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
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
