package broker

import (
	"context"
	"fmt"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Group coordination in a cluster: a group id hashes to a coordinator slot
// (metadata/slots.go) and the slot's leader broker is the group's
// coordinator. FindCoordinator answers the slot's leader; every group
// request that reaches another broker gets NOT_COORDINATOR, so its client
// looks the coordinator up again. Offset commits carry the slot epoch this
// broker holds, and the state machine refuses them once the slot moved.
// Before any broker registered (no slots yet) every broker coordinates
// every group, as a single node does.

// coordinator returns the broker coordinating group and whether it is
// this one.
func (s *Server) coordinator(group string) (int32, bool) {
	leader, _, ok := s.meta.SlotLeader(group)
	if !ok {
		return s.cfg.NodeID, true
	}
	return leader, leader == s.cfg.NodeID
}

// notCoordinator returns NOT_COORDINATOR's code when another broker (or
// none) coordinates group, else 0.
func (s *Server) notCoordinator(group string) int16 {
	if _, here := s.coordinator(group); here {
		return 0
	}
	return kerr.NotCoordinator.Code
}

// coordinatedStore is the group coordinator's offset store: the metadata
// store, with commits fenced by the group's slot epoch.
type coordinatedStore struct {
	*metadata.Store
	self int32
}

func (c coordinatedStore) CommitOffsets(ctx context.Context, group string, offsets map[metadata.TopicPartition]metadata.CommittedOffset) error {
	leader, epoch, ok := c.SlotLeader(group)
	if !ok {
		return c.Store.CommitOffsets(ctx, group, offsets)
	}
	if leader != c.self {
		return fmt.Errorf("%w: broker %d coordinates group %q", metadata.ErrNotCoordinator, leader, group)
	}
	return c.CommitOffsetsAsCoordinator(ctx, group, epoch, offsets)
}
