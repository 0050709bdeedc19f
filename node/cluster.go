package node

import (
	"context"
	"errors"
	"time"

	"github.com/shalelog/shale/metadata"
)

// heartbeat keeps this broker's session with the metadata leader: a
// heartbeat every quarter of the session timeout. A heartbeat refused as
// stale means the controllers fenced this incarnation (its partitions
// moved): the broker registers again and follows the new leadership.
func (n *Node) heartbeat(ctx context.Context) {
	timeout := time.Duration(n.cfg.Metadata.SessionTimeout)
	every := max(timeout/4, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	id := n.cfg.Broker.NodeID
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, ok := n.meta.Broker(id)
		if !ok {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, every)
		_, err := n.meta.Heartbeat(hctx, id, b.Incarnation)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, metadata.ErrStaleIncarnation), errors.Is(err, metadata.ErrUnknownBroker):
			n.log.Warn("this broker was fenced; registering again", "broker", id, "incarnation", b.Incarnation)
			host, port := n.server.AdvertisedAddr()
			rctx, cancel := context.WithTimeout(ctx, timeout)
			if _, err := n.meta.RegisterBroker(rctx, metadata.Broker{ID: id, Host: host, Port: port, Rack: b.Rack}); err != nil && ctx.Err() == nil {
				n.log.Warn("register again", "err", err)
			}
			cancel()
		default:
			if ctx.Err() == nil {
				n.log.Debug("heartbeat failed", "err", err)
			}
		}
	}
}

// balanceLeaders spreads partition leaders over the live brokers while
// this node is the metadata leader, by graceful handovers.
func (n *Node) balanceLeaders(ctx context.Context) {
	t := time.NewTicker(time.Duration(n.cfg.Metadata.LeaderBalanceInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.meta.IsLeader() {
			continue
		}
		moves := metadata.BalanceMoves(n.meta.Topics(), n.meta.Brokers(), 64)
		if len(moves) == 0 {
			continue
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		taken, err := n.meta.MoveLeaders(mctx, moves, false)
		cancel()
		if err != nil {
			n.log.Warn("leader balancing", "err", err)
			continue
		}
		n.log.Info("leader balancing: handovers started", "moves", taken)
	}
}
