package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wireJoin sends a JoinGroup v3 for group (no MEMBER_ID_REQUIRED round)
// with the Java client's default rebalance timeout, 300 s, and a session
// timeout (120 s) that also outlasts the tests' bounded waits.
func wireJoin(c *wireConn, group, memberID string) int32 {
	c.tb.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 3
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = 120_000
	req.RebalanceTimeoutMillis = 300_000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = subscription("t")
	req.Protocols = append(req.Protocols, p)
	return c.send(req)
}

func joined(tb testing.TB, resp kmsg.Response) *kmsg.JoinGroupResponse {
	tb.Helper()
	r := resp.(*kmsg.JoinGroupResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		tb.Fatalf("JoinGroup: %v", err)
	}
	return r
}

// awaitRebalance heartbeats as member m until the group reports a
// rebalance in progress (bounded, as the wire helpers' reads are).
func awaitRebalance(tb testing.TB, c *wireConn, m *kmsg.JoinGroupResponse) {
	tb.Helper()
	for range 2000 {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Version = 3
		req.Group = "g"
		req.Generation = m.Generation
		req.MemberID = m.MemberID
		code := c.roundTrip(req).(*kmsg.HeartbeatResponse).ErrorCode
		switch code {
		case kerr.RebalanceInProgress.Code:
			return
		case 0:
			time.Sleep(10 * time.Millisecond)
		default:
			tb.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
		}
	}
	tb.Fatal("no rebalance started after 2000 heartbeats")
}

// waitConns waits until the server serves want connections, and fails the
// test if that takes longer than limit (a bound, not a measure of speed).
func waitConns(tb testing.TB, s *Server, want int, limit time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server still serves %d connections after %v, want %d: a closed connection is held by a rebalance step", n, limit, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeWithin closes the server and fails the test unless Close returns
// within limit: a bound far below the 300 s rebalance timeout the pending
// requests wait for, not a measure of speed.
func closeWithin(tb testing.TB, s *Server, limit time.Duration) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		tb.Fatalf("server Close still waiting after %v for a rebalance step (its timeout is 300s)", limit)
	}
}

// A JoinGroup left waiting for a rebalance by a client that then
// disconnects must not hold its connection, nor the server's shutdown,
// until the rebalance timeout.
func TestGroupPendingJoinOfClosedConnectionDoesNotBlockClose(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.GroupInitialRebalanceDelay = 0 })
	a := dialWire(t, ws.addr)
	first := joined(t, a.recv(wireJoin(a, "g", "")))

	// B's join starts a rebalance that waits up to 300 s for A to rejoin.
	b := dialWire(t, ws.addr)
	wireJoin(b, "g", "")
	awaitRebalance(t, a, first)
	b.nc.Close()
	waitConns(t, ws.Server, 1, 30*time.Second)
	closeWithin(t, ws.Server, 60*time.Second)
}

// Likewise a SyncGroup of a follower waiting for the leader's assignment.
func TestGroupPendingSyncOfClosedConnectionDoesNotBlockClose(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.GroupInitialRebalanceDelay = 0 })
	a := dialWire(t, ws.addr)
	first := joined(t, a.recv(wireJoin(a, "g", "")))

	b := dialWire(t, ws.addr)
	bJoin := wireJoin(b, "g", "")
	awaitRebalance(t, a, first)
	aJoin := wireJoin(a, "g", first.MemberID)
	joined(t, a.recv(aJoin))
	follower := joined(t, b.recv(bJoin))
	if follower.MemberID == follower.LeaderID {
		t.Fatalf("B leads the group; want A (the first member) to lead")
	}

	// B syncs first; its answer waits for the leader's assignment.
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 3
	req.Group = "g"
	req.Generation = follower.Generation
	req.MemberID = follower.MemberID
	b.send(req)
	b.nc.Close() // the server reads the SyncGroup before the end of the stream
	waitConns(t, ws.Server, 1, 30*time.Second)
	closeWithin(t, ws.Server, 60*time.Second)
}

// A JoinGroup still waiting, on an open connection, when the server shuts
// down is answered (NOT_COORDINATOR, so the client looks for the
// coordinator again) or dropped with its connection; shutdown does not wait
// for the rebalance.
func TestGroupPendingJoinDoesNotBlockServerClose(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.GroupInitialRebalanceDelay = 0 })
	a := dialWire(t, ws.addr)
	first := joined(t, a.recv(wireJoin(a, "g", "")))
	b := dialWire(t, ws.addr)
	corr := wireJoin(b, "g", "")
	awaitRebalance(t, a, first)
	closeWithin(t, ws.Server, 60*time.Second)
	if got, body, err := b.readFrame(); err == nil {
		if got != corr || len(body) < 2 {
			t.Fatalf("after Close: response %d of %d bytes, want the answer to %d", got, len(body), corr)
		}
		// JoinGroup v3: ThrottleMillis, then ErrorCode.
		if code := int16(body[4])<<8 | int16(body[5]); code != kerr.NotCoordinator.Code {
			t.Fatalf("pending JoinGroup answered %v at shutdown, want NOT_COORDINATOR", kerr.ErrorForCode(code))
		}
	}
}
