package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/wal"
)

// Node is one running Shale process.
type Node struct {
	cfg    Config
	log    *slog.Logger
	meta   *metadata.Store
	wal    *wal.Log
	parts  *partition.Manager
	server *broker.Server
	ln     net.Listener
}

// Start opens the metadata store and the WAL (recovering both), then starts
// the Kafka listener. On error everything opened so far is closed.
func Start(cfg Config, logger *slog.Logger) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n = &Node{cfg: cfg, log: logger}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()

	mc := metadata.DefaultConfig()
	mc.Dir = cfg.MetadataDir()
	mc.NodeID = cfg.Broker.NodeID
	mc.RaftAddr = cfg.Metadata.RaftAddr
	mc.Logger = logger.With("component", "metadata")
	if cfg.Metadata.RaftAddr == "" {
		// One in-process voter has no peers to wait for: elect at once
		// instead of after a cluster-sized heartbeat timeout.
		mc.HeartbeatTimeout = 100 * time.Millisecond
		mc.ElectionTimeout = 100 * time.Millisecond
	}
	if n.meta, err = metadata.Open(mc); err != nil {
		return nil, fmt.Errorf("open metadata: %w", err)
	}

	wc := wal.DefaultConfig()
	wc.Dir = cfg.WALDir()
	wc.SegmentMaxBytes = int64(cfg.WAL.SegmentMaxBytes)
	wc.SegmentMaxAge = time.Duration(cfg.WAL.SegmentMaxAge)
	wc.MaxBytes = int64(cfg.WAL.MaxBytes)
	wc.Logger = logger.With("component", "wal")
	if n.wal, err = wal.Open(wc); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	n.parts = partition.NewManager(n.wal, nil)

	if n.server, err = broker.New(cfg.Broker, n.meta, n.parts, logger.With("component", "broker")); err != nil {
		return nil, err
	}
	if n.ln, err = n.server.Listen(); err != nil {
		return nil, err
	}
	if err = n.server.Start(n.ln); err != nil {
		return nil, err
	}
	return n, nil
}

// Addr is the address the Kafka listener is bound to.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Close stops the listener, then flushes and closes the WAL and the
// metadata store.
func (n *Node) Close() error {
	var errs []error
	if n.server != nil {
		errs = append(errs, n.server.Close())
	} else if n.ln != nil {
		errs = append(errs, n.ln.Close())
	}
	if n.wal != nil {
		errs = append(errs, n.wal.Close())
	}
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
	}
	return errors.Join(errs...)
}
