package node

import (
	"context"
	"errors"
	"sync/atomic"
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
	// The lease: a heartbeat the leader accepted renews the session from
	// the moment it was sent, so the lease ends no later than the
	// controllers' view of the session. Past it, produce is refused.
	var renewed atomic.Int64
	renewed.Store(time.Now().UnixNano())
	n.server.SetLease(func() bool { return time.Since(time.Unix(0, renewed.Load())) < timeout })
	// unlisted is set while this broker, once registered, is missing from
	// the broker list: `shale cluster remove` took it out while it ran.
	// It stays out (that was the operator's call) until it restarts, and
	// says so once.
	registered, unlisted := false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, ok := n.meta.Broker(id)
		if !ok {
			if registered && !unlisted {
				unlisted = true
				n.log.Warn("this broker was removed from the cluster while running (shale cluster remove): it leads nothing and is left out of Metadata until it restarts",
					"broker", id)
			}
			continue
		}
		registered, unlisted = true, false
		sent := time.Now()
		hctx, cancel := context.WithTimeout(ctx, every)
		_, err := n.meta.Heartbeat(hctx, id, b.Incarnation)
		cancel()
		switch {
		case err == nil:
			renewed.Store(sent.UnixNano())
		case errors.Is(err, metadata.ErrStaleIncarnation), errors.Is(err, metadata.ErrUnknownBroker):
			n.log.Warn("this broker was fenced; registering again", "broker", id, "incarnation", b.Incarnation)
			reg := n.server.Registration()
			reg.Rack = b.Rack
			rctx, cancel := context.WithTimeout(ctx, timeout)
			if _, err := n.meta.RegisterBroker(rctx, reg); err != nil && ctx.Err() == nil {
				n.log.Warn("register again", "err", err)
			} else if err == nil {
				renewed.Store(sent.UnixNano()) // a registration starts a new session
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

// Drain hands every partition this broker leads to other live brokers
// before it stops: it marks itself draining, which starts a graceful
// handover of each (the partition stops taking writes, its tail is
// uploaded and committed, then the next leader takes over at the
// catalog end), and waits until it leads nothing or timeout passes. A
// rolling restart of every broker this way loses nothing, acks=1
// included. With no other live broker the partitions stay here.
func (n *Node) Drain(timeout time.Duration) {
	id := n.cfg.Broker.NodeID
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.meta.DrainBroker(ctx, id, true); err != nil {
		n.log.Warn("drain: could not mark this broker draining", "err", err)
		return
	}
	start := time.Now()
	for {
		led, handovers := 0, 0
		for _, t := range n.meta.Topics() {
			for _, p := range t.Partitions {
				if p.Leader == id {
					led++
					if p.Handover {
						handovers++
					}
				}
			}
		}
		if led == 0 {
			n.log.Info("drained: every partition handed over", "took", time.Since(start).Round(time.Millisecond))
			return
		}
		if handovers == 0 {
			n.log.Warn("drain: no live broker to hand partitions to; they stay here", "partitions", led)
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("drain: timed out; the rest move when the session lapses", "partitions", led)
			return
		case <-n.meta.Changed():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
