package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metadata config: %w", err)
	}
	return nil
}
