package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config configures a Store.
type Config struct {
	// Dir holds the raft log and stable store (raft.db) and snapshots
	// (snapshots/). Required.
	Dir string
	// NodeID is this node's broker id and raft server id. Default 1.
	NodeID int32
	// RaftAddr is the TCP address raft binds to. Empty means an in-memory
	// transport: a single-node quorum that talks to no one.
	RaftAddr string
	// RaftAdvertiseAddr is the address peers dial, when RaftAddr binds to a
	// wildcard address. Empty means RaftAddr.
	RaftAdvertiseAddr string
	// Bootstrap makes a node with no raft state start a new cluster with
	// itself as the only voter. Default true. Nodes that join an existing
	// cluster set it false and are added by the leader.
	Bootstrap bool
	// ApplyTimeout bounds one write from proposal to local apply. Default 10s.
	ApplyTimeout time.Duration
	// StartTimeout bounds how long Open waits for a single-voter node to
	// become leader and catch up. Default 30s.
	StartTimeout time.Duration
	// SnapshotThreshold is how many raft log entries accumulate before raft
	// takes a snapshot and truncates the log. Default 8192.
	SnapshotThreshold uint64
	// SnapshotRetain is how many snapshot files stay on disk. Default 2.
	SnapshotRetain int
	// HeartbeatTimeout and ElectionTimeout are raft's timers. Default 1s
	// each; tests lower them to elect faster.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// Logger receives raft's and the state machine's logs. Nil means
	// slog.Default().
	Logger *slog.Logger

	// Controllers are the voters of the metadata quorum (1, 3 or 5),
	// each an id and raft address. With Controllers set, a node whose
	// NodeID is among them bootstraps the quorum with all of them as
	// voters (if it has no raft state yet); any other node joins as a
	// non-voting follower of the log, asking the controllers to add it.
	// Writes on a node that is not the raft leader are forwarded to the
	// leader. Empty: the single-node mode of Bootstrap.
	Controllers []Peer
	// TLS, when set, makes the raft transport and the controller RPC
	// speak mutual TLS (see PeerTLS); every node of the cluster must set
	// it. Nil: plaintext.
	TLS *PeerTLS
	// SessionTimeout is how long the leader waits for a broker's
	// heartbeat before fencing it and moving its partitions. 0 turns
	// sessions off (a single node has nowhere to move partitions).
	SessionTimeout time.Duration

	// batchApplyCh sets raft's BatchApplyCh. Shale leaves it off (see
	// open); benchmarks turn it on to compare.
	batchApplyCh bool
}

// Peer is a member of the metadata quorum.
type Peer struct {
	ID   int32
	Addr string
}

// ParsePeers parses "1@host:port,2@host:port,..." (the --controllers flag).
func ParsePeers(s string) ([]Peer, error) {
	var out []Peer
	seen := map[int32]bool{}
	for _, item := range splitList(s) {
		id, addr, ok := strings.Cut(item, "@")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("controller %q: want ID@HOST:PORT with a non-negative id", item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("controller %q: %v", item, err)
		}
		if seen[int32(n)] {
			return nil, fmt.Errorf("controller id %d is listed twice", n)
		}
		seen[int32(n)] = true
		out = append(out, Peer{ID: int32(n), Addr: addr})
	}
	return out, nil
}

// isController reports whether id is one of the configured controllers.
func (c Config) isController(id int32) bool {
	for _, p := range c.Controllers {
		if p.ID == id {
			return true
		}
	}
	return false
}

// DefaultConfig returns a Config with every default filled in except Dir.
func DefaultConfig() Config {
	return Config{
		NodeID:            1,
		Bootstrap:         true,
		ApplyTimeout:      10 * time.Second,
		StartTimeout:      30 * time.Second,
		SnapshotThreshold: 8192,
		SnapshotRetain:    2,
		HeartbeatTimeout:  time.Second,
		ElectionTimeout:   time.Second,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir is required"))
	}
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("NodeID %d is negative", c.NodeID))
	}
	if c.RaftAddr != "" {
		if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
			errs = append(errs, fmt.Errorf("RaftAddr %q: %w", c.RaftAddr, err))
		}
	}
	if c.RaftAdvertiseAddr != "" {
		if c.RaftAddr == "" {
			errs = append(errs, errors.New("RaftAdvertiseAddr needs RaftAddr"))
		}
		if _, err := net.ResolveTCPAddr("tcp", c.RaftAdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("RaftAdvertiseAddr %q: %w", c.RaftAdvertiseAddr, err))
		}
	}
	if c.ApplyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ApplyTimeout %v must be positive", c.ApplyTimeout))
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("StartTimeout %v must be positive", c.StartTimeout))
	}
	if c.SnapshotThreshold == 0 {
		errs = append(errs, errors.New("SnapshotThreshold must be positive"))
	}
	if c.SnapshotRetain < 1 {
		errs = append(errs, fmt.Errorf("SnapshotRetain %d must be at least 1", c.SnapshotRetain))
	}
	if c.HeartbeatTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("HeartbeatTimeout %v is below 10ms", c.HeartbeatTimeout))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("ElectionTimeout %v is below HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout))
	}
	if len(c.Controllers) > 0 {
		if c.RaftAddr == "" {
			errs = append(errs, errors.New("Controllers need RaftAddr: a cluster talks over TCP"))
		}
		if n := len(c.Controllers); n != 1 && n != 3 && n != 5 {
			errs = append(errs, fmt.Errorf("%d controllers: use 1, 3 or 5 (an even count adds no fault tolerance)", n))
		}
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("SessionTimeout %v is negative", c.SessionTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metadata config: %w", err)
	}
	return nil
}
