package metadata

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// The cluster's admin operations travel as opAdmin over the controller RPC
// with JSON bodies: AdminRequest in, an op-specific JSON answer out. Any
// node answers "applied" itself; every other op must reach the leader and
// is forwarded there by AdminCall.

// AdminRequest is the body of an admin call.
type AdminRequest struct {
	Op     string `json:"op"` // status, applied, drain, undrain, fence, remove, move, move-partition, rebalance
	Broker int32  `json:"broker,omitempty"`
	// move-partition: Topic's partition Partition to Broker.
	Topic     string       `json:"topic,omitempty"`
	Partition int32        `json:"partition,omitempty"`
	Moves     []LeaderMove `json:"moves,omitempty"`
	Force     bool         `json:"force,omitempty"`
	Max       int          `json:"max,omitempty"`
}

// ClusterStatus is the answer to "status".
type ClusterStatus struct {
	ClusterID   string             `json:"cluster_id"`
	Leader      int32              `json:"leader"`
	Applied     uint64             `json:"applied_index"`
	Controllers []ControllerStatus `json:"controllers"`
	Brokers     []BrokerStatus     `json:"brokers"`
	Unhealthy   []PartitionStatus  `json:"unhealthy_partitions"`
}

// ControllerStatus is one raft server as the leader sees it.
type ControllerStatus struct {
	ID      string `json:"id"`
	Addr    string `json:"addr"`
	Voter   bool   `json:"voter"`
	Applied uint64 `json:"applied_index"`
	Lag     int64  `json:"lag"` // entries behind the leader; -1: unreachable
}

// BrokerStatus is one registered broker.
type BrokerStatus struct {
	Broker
	Leads     int `json:"leads"`
	Handovers int `json:"handovers"`
}

// PartitionStatus names a partition with no leader or a handover pending.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Leader    int32  `json:"leader"`
	Epoch     int32  `json:"epoch"`
	Problem   string `json:"problem"`
}

// AdminCall sends an admin request to the controller at addr, following
// the leader. It is what `shale cluster` uses.
func AdminCall(ctx context.Context, addr string, req AdminRequest) (json.RawMessage, error) {
	return AdminCallTLS(ctx, addr, req, nil)
}

// AdminCallTLS is AdminCall to a cluster whose nodes speak TLS to each
// other (metadata.tls): clientTLS presents a certificate of the cluster
// (PeerTLS.Client).
func AdminCallTLS(ctx context.Context, addr string, req AdminRequest, clientTLS *tls.Config) (json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	rc := newRPCClient()
	rc.tls = clientTLS
	defer rc.Close()
	for attempt := 0; attempt < 10; attempt++ {
		res, err := rc.call(ctx, addr, opAdmin, body)
		if re, ok := err.(*rpcError); ok && re.kind == errKindNotLeader && re.msg != "" {
			_, next, _ := strings.Cut(re.msg, "@")
			if next == addr {
				return res, err
			}
			addr = next
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("%w: admin %s: the leader kept moving", ErrNotLeader, req.Op)
}

func (s *Store) handleAdmin(ctx context.Context, body []byte) ([]byte, error) {
	var req AdminRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: admin request: %v", ErrInvalidRequest, err)
	}
	if req.Op == "applied" {
		return json.Marshal(s.raft.AppliedIndex())
	}
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	switch req.Op {
	case "status":
		return json.Marshal(s.status(ctx))
	case "drain", "undrain":
		return answer(map[string]any{"ok": true}, s.DrainBroker(ctx, req.Broker, req.Op == "drain"))
	case "fence":
		return answer(map[string]any{"ok": true}, s.FenceBroker(ctx, req.Broker, -1))
	case "remove":
		if err := s.UnregisterBroker(ctx, req.Broker); err != nil {
			return nil, err
		}
		return answer(map[string]any{"ok": true}, s.RemoveServer(ctx, req.Broker))
	case "move":
		n, err := s.MoveLeaders(ctx, req.Moves, req.Force)
		return answer(map[string]any{"moved": n}, err)
	case "move-partition":
		t, ok := s.Topic(req.Topic)
		if !ok || req.Partition < 0 || int(req.Partition) >= len(t.Partitions) {
			return nil, fmt.Errorf("%w: %s:%d", ErrUnknownTopic, req.Topic, req.Partition)
		}
		b, ok := s.Broker(req.Broker)
		if !ok || !b.live() {
			return nil, fmt.Errorf("%w: broker %d is not live (registered, unfenced, not draining)", ErrInvalidRequest, req.Broker)
		}
		m := LeaderMove{Topic: t.ID, Partition: req.Partition, Epoch: t.Partitions[req.Partition].LeaderEpoch, To: req.Broker}
		n, err := s.MoveLeaders(ctx, []LeaderMove{m}, req.Force)
		return answer(map[string]any{"moved": n}, err)
	case "rebalance":
		max := req.Max
		if max <= 0 {
			max = 1 << 20
		}
		moves := BalanceMoves(s.Topics(), s.Brokers(), max)
		n, err := s.MoveLeaders(ctx, moves, req.Force)
		if len(moves) == 0 {
			err = nil
		}
		return answer(map[string]any{"moved": n, "planned": len(moves)}, err)
	}
	return nil, fmt.Errorf("%w: unknown admin op %q", ErrInvalidRequest, req.Op)
}

// status gathers ClusterStatus on the leader, asking each raft server for
// its applied index (bounded by a short timeout each).
func (s *Store) status(ctx context.Context) ClusterStatus {
	st := ClusterStatus{ClusterID: s.ClusterID(), Leader: s.ControllerID(), Applied: s.raft.AppliedIndex()}
	servers, _ := s.Servers()
	for _, srv := range servers {
		cs := ControllerStatus{ID: string(srv.ID), Addr: string(srv.Address), Voter: srv.Suffrage == raft.Voter, Lag: -1}
		if srv.ID == s.localID {
			cs.Applied, cs.Lag = st.Applied, 0
		} else {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			res, err := s.rpc.call(cctx, string(srv.Address), opAdmin, []byte(`{"op":"applied"}`))
			cancel()
			if err == nil && json.Unmarshal(res, &cs.Applied) == nil {
				cs.Lag = int64(st.Applied) - int64(cs.Applied)
			}
		}
		st.Controllers = append(st.Controllers, cs)
	}
	leads, handovers := map[int32]int{}, map[int32]int{}
	for _, t := range s.Topics() {
		for i, p := range t.Partitions {
			leads[p.Leader]++
			if p.Handover {
				handovers[p.Leader]++
			}
			b, ok := s.Broker(p.Leader)
			switch {
			case p.Leader == NoLeader:
				st.Unhealthy = append(st.Unhealthy, PartitionStatus{t.Name, int32(i), p.Leader, p.LeaderEpoch, "no leader"})
			case !ok || b.Fenced:
				st.Unhealthy = append(st.Unhealthy, PartitionStatus{t.Name, int32(i), p.Leader, p.LeaderEpoch, "leader not live"})
			case p.Handover:
				st.Unhealthy = append(st.Unhealthy, PartitionStatus{t.Name, int32(i), p.Leader, p.LeaderEpoch, "handover to " + strconv.Itoa(int(p.HandoverTo))})
			}
		}
	}
	for _, b := range s.Brokers() {
		st.Brokers = append(st.Brokers, BrokerStatus{Broker: b, Leads: leads[b.ID], Handovers: handovers[b.ID]})
	}
	return st
}

func answer(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
