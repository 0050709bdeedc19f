package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/tiering"
	"github.com/shalelog/shale/wal"
)

// Node is one running Shale process.
type Node struct {
	cfg      Config
	log      *slog.Logger
	meta     *metadata.Store
	bucket   *objectstore.Counting
	wal      *wal.Log
	reader   *tiering.Reader
	uploader *tiering.Uploader
	parts    *partition.Manager
	server   *broker.Server
	ln       net.Listener

	retention *tiering.Retention
	gc        *tiering.GC
	compactor *tiering.Compactor
	keys      *tiering.KeyCompactor
	keysMu    sync.Mutex // one key compaction at a time (one offset map)

	debug *debugServer
	obs   *observe // metrics; nil without a metrics listener

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start opens the metadata store, the object store and the WAL (recovering
// both), starts the uploader and the Kafka listener, and the background
// retention and garbage collection. On error everything opened so far is
// closed.
func Start(cfg Config, logger *slog.Logger) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, _ = cfg.Derive()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	self := &Node{cfg: cfg, log: logger}
	n = self
	defer func() {
		if err != nil {
			self.Close() // n may already be nil: `return nil, err`
			n = nil
		}
	}()
	if cfg.DebugListen != "" {
		if n.debug, err = startDebug(cfg.DebugListen, logger); err != nil {
			return nil, err
		}
	}

	n.obs = newObserve(cfg)

	_, isBroker, err := cfg.RoleSet()
	if err != nil {
		return nil, err
	}
	peers, err := cfg.Peers()
	if err != nil {
		return nil, err
	}
	mc := metadata.DefaultConfig()
	mc.Dir = cfg.MetadataDir()
	mc.NodeID = cfg.Broker.NodeID
	mc.RaftAddr = cfg.Metadata.RaftAddr
	mc.RaftAdvertiseAddr = cfg.Metadata.RaftAdvertise
	mc.Logger = logger
	if len(peers) > 0 {
		mc.Controllers = peers
		mc.Bootstrap = false
		mc.SessionTimeout = time.Duration(cfg.Metadata.SessionTimeout)
		// Elect within about a second of losing the leader.
		mc.HeartbeatTimeout = 500 * time.Millisecond
		mc.ElectionTimeout = 500 * time.Millisecond
		mc.StartTimeout = 2 * time.Minute
	}
	if cfg.Metadata.RaftAddr == "" {
		// One in-process voter has no peers to wait for: elect at once
		// instead of after a cluster-sized heartbeat timeout.
		mc.HeartbeatTimeout = 100 * time.Millisecond
		mc.ElectionTimeout = 100 * time.Millisecond
	}
	if t := cfg.Metadata.TLS; t.Enabled() {
		if mc.TLS, err = metadata.LoadPeerTLS(t.CertFile, t.KeyFile, t.CAFile, t.ServerName); err != nil {
			return nil, err
		}
	}
	if n.meta, err = metadata.Open(mc); err != nil {
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	if n.obs != nil {
		n.meta.SetProposeObserver(n.obs.set.RaftProposed)
	}

	url, err := cfg.ObjectStoreURL()
	if err != nil {
		return nil, err
	}
	if dir, ok := fileURLDir(url); ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create object store dir: %w", err)
		}
	}
	b, err := objectstore.Open(context.Background(), url)
	if err != nil {
		return nil, fmt.Errorf("open object store: %w", err)
	}
	n.bucket = objectstore.NewCounting(n.obs.wrapBucket(b))
	if isBroker {
		if err := n.startBroker(cfg, logger); err != nil {
			return nil, err
		}
	}

	n.retention = tiering.NewRetention(n.meta, func(k wal.Key, start int64) {
		if n.parts == nil {
			return
		}
		if p := n.parts.Get(k); p != nil {
			p.SetLogStart(start)
		}
	}, logger.With("component", "retention"))
	gcc := tiering.GCConfig{Grace: time.Duration(cfg.Tiering.GCGrace), OrphanGrace: time.Duration(cfg.Tiering.OrphanGrace)}
	if n.gc, err = tiering.NewGC(gcc, n.bucket, n.meta, logger.With("component", "gc")); err != nil {
		return nil, err
	}
	cc := tiering.DefaultCompactorConfig()
	cc.TargetBytes = int64(cfg.Tiering.CompactionTarget)
	cc.MinExtents = cfg.Tiering.CompactionMinExtents
	cc.TempDir = cfg.DataDir
	if n.compactor, err = tiering.NewCompactor(cc, n.bucket, n.meta, logger.With("component", "compactor")); err != nil {
		return nil, err
	}
	kc := tiering.DefaultKeyCompactorConfig()
	kc.MapBytes = int64(cfg.Tiering.KeyCompactionMapBytes)
	kc.TargetBytes = int64(cfg.Tiering.CompactionTarget)
	kc.TempDir = cfg.DataDir
	if n.keys, err = tiering.NewKeyCompactor(kc, n.bucket, n.meta, logger.With("component", "key-compactor")); err != nil {
		return nil, err
	}
	if err := n.startObserve(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.background(ctx) }()
	if len(peers) > 0 {
		if isBroker {
			n.wg.Add(1)
			go func() { defer n.wg.Done(); n.heartbeat(ctx) }()
		}
		if cfg.Metadata.AutoLeaderBalance {
			n.wg.Add(1)
			go func() { defer n.wg.Done(); n.balanceLeaders(ctx) }()
		}
	}
	return n, nil
}

// startBroker opens the WAL, the cold reader and the uploader and starts
// the Kafka listener.
func (n *Node) startBroker(cfg Config, logger *slog.Logger) (err error) {
	var up atomic.Pointer[tiering.Uploader]
	wc := wal.DefaultConfig()
	wc.Dir = cfg.WALDir()
	wc.SegmentMaxBytes = int64(cfg.WAL.SegmentMaxBytes)
	wc.SegmentMaxAge = time.Duration(cfg.WAL.SegmentMaxAge)
	wc.MaxBytes = int64(cfg.WAL.MaxBytes)
	wc.DisableSpares = !cfg.WAL.RecycleSegments
	wc.UploadMemoryBytes = int64(cfg.WAL.UploadMemoryBytes)
	if wc.UploadMemoryBytes == 0 {
		wc.UploadMemoryBytes = -1 // 0 in the node's config turns it off
	}
	wc.Logger = logger.With("component", "wal")
	wc.OnSeal = func(wal.SegmentInfo) {
		if u := up.Load(); u != nil {
			u.Kick()
		}
	}
	if n.obs != nil {
		wc.OnCommit = n.obs.set.WALCommit
	}
	if n.wal, err = wal.Open(wc); err != nil {
		return fmt.Errorf("open wal: %w", err)
	}

	rc := tiering.DefaultReaderConfig()
	rc.BlockSize = int64(cfg.Tiering.BlockSize)
	rc.CacheBytes = int64(cfg.Tiering.CacheBytes)
	rc.ReadAhead = cfg.Tiering.ReadAhead
	rc.Logger = logger.With("component", "coldread")
	if n.reader, err = tiering.NewReader(n.bucket, tiering.CatalogFinder{Store: n.meta}, rc); err != nil {
		return fmt.Errorf("cold reader: %w", err)
	}
	n.parts = partition.NewManager(n.wal, tiering.PartitionReader{R: n.reader, Store: n.meta})

	uc := tiering.DefaultUploaderConfig()
	uc.BrokerID = cfg.Broker.NodeID
	uc.LocalRetainBytes = int64(cfg.Tiering.LocalRetainBytes)
	uc.Logger = logger.With("component", "uploader")
	uc.OrphanGrace = time.Duration(cfg.Tiering.OrphanGrace)
	uc.CommitBatch = cfg.Tiering.CommitBatch
	uc.ProducerExpiration = time.Duration(cfg.ProducerIDExpiration)
	uc.OnFenced = func(k wal.Key, epoch int32) { n.parts.Fence(k, epoch) }
	// The PUT budget: one upload per segment age on average, UploadBurst
	// of it saved for group commit.
	age := time.Duration(cfg.WAL.SegmentMaxAge)
	uc.PutRate = float64(time.Second) / float64(age)
	uc.PutBurst = float64(cfg.WAL.UploadBurst) / float64(age)
	uc.OnSegment = n.traceSegment
	uc.OnCommitted = func(k wal.Key, end int64) {
		if p := n.parts.Get(k); p != nil {
			p.Committed(end)
		}
	}
	if n.uploader, err = tiering.NewUploader(uc, n.wal, n.bucket, n.meta); err != nil {
		return err
	}
	up.Store(n.uploader)
	n.parts.SetCommitWaiter(n.uploader.Demand)

	if n.server, err = broker.New(cfg.Broker, n.meta, n.parts, logger.With("component", "broker")); err != nil {
		return err
	}
	if n.obs != nil {
		n.server.SetObserver(n.obs.set.Broker)
	}
	if n.ln, err = n.server.Listen(); err != nil {
		return err
	}
	if err = n.server.Start(n.ln); err != nil {
		return err
	}
	n.uploader.Start()
	return nil
}

// background runs retention, garbage collection and the stats log.
func (n *Node) background(ctx context.Context) {
	t := n.cfg.Tiering
	retention := time.NewTicker(time.Duration(t.RetentionInterval))
	defer retention.Stop()
	gc := time.NewTicker(time.Duration(t.GCInterval))
	defer gc.Stop()
	var stats <-chan time.Time
	if t.StatsInterval > 0 {
		st := time.NewTicker(time.Duration(t.StatsInterval))
		defer st.Stop()
		stats = st.C
	}
	if t.CompactionInterval > 0 {
		// Its own loop: a long compaction pass must not hold back
		// retention, garbage collection or the stats line.
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ct := time.NewTicker(time.Duration(t.CompactionInterval))
			defer ct.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ct.C:
					if !n.meta.IsLeader() {
						continue
					}
					if _, err := n.RunCompaction(ctx); err != nil && ctx.Err() == nil {
						n.log.Warn("compaction pass failed", "err", err)
					}
				}
			}
		}()
	}
	if t.KeyCompactionInterval > 0 {
		// Its own loop too: a pass over a large partition takes as long
		// as reading it.
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			kt := time.NewTicker(time.Duration(t.KeyCompactionInterval))
			defer kt.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-kt.C:
					if !n.meta.IsLeader() {
						continue
					}
					if _, err := n.RunKeyCompaction(ctx); err != nil && ctx.Err() == nil {
						n.log.Warn("key compaction pass failed", "err", err)
					}
				}
			}
		}()
	}
	producers := time.NewTicker(producerSweepInterval(time.Duration(n.cfg.ProducerIDExpiration)))
	defer producers.Stop()
	gcRuns := 0
	sweptAtPuts := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-producers.C:
			n.ExpireProducers(now)
		case now := <-retention.C:
			if !n.meta.IsLeader() {
				continue // the metadata leader runs retention, GC and compaction
			}
			if _, err := n.RunRetention(ctx, now); err != nil && ctx.Err() == nil {
				n.log.Warn("retention pass failed", "err", err)
			}
		case now := <-gc.C:
			if !n.meta.IsLeader() {
				continue
			}
			gcRuns++
			// Orphans need a LIST of wal/ and part/: at most one pass
			// in 60, and only if PUTs happened since the last sweep (an
			// orphan is an upload whose commit never came), so an idle
			// broker makes no PUT-class request at all.
			puts := n.bucket.Stats().Puts
			sweep := gcRuns%60 == 0 && puts != sweptAtPuts
			if sweep {
				sweptAtPuts = puts
			}
			if _, err := n.gc.RunOnce(ctx, now, sweep); err != nil && ctx.Err() == nil {
				n.log.Warn("garbage collection pass failed", "err", err)
			}
		case <-stats:
			n.logStats()
		}
	}
}

// maxProducerSweepInterval is Kafka's producer.id.expiration.check.interval.ms
// default: a producer's state outlives its expiration by at most this.
const maxProducerSweepInterval = 10 * time.Minute

// producerSweepInterval is how often expired producer state is swept: the
// expiration itself when it is shorter than Kafka's ten-minute check.
func producerSweepInterval(expiration time.Duration) time.Duration {
	return min(expiration, maxProducerSweepInterval)
}

// ExpireProducers forgets the idempotent producers whose last write to a
// partition is at least producer_id_expiration before now, and returns
// how many partition states it dropped (also run periodically).
func (n *Node) ExpireProducers(now time.Time) int {
	return n.parts.ExpireProducers(now, time.Duration(n.cfg.ProducerIDExpiration))
}

// RunRetention applies retention now (also run periodically).
func (n *Node) RunRetention(ctx context.Context, now time.Time) (tiering.RetentionResult, error) {
	return n.retention.RunOnce(ctx, now)
}

// RunCompaction merges small extents now (also run periodically).
func (n *Node) RunCompaction(ctx context.Context) (tiering.CompactionResult, error) {
	return n.compactor.RunOnce(ctx)
}

// RunKeyCompaction compacts the partitions of cleanup.policy=compact
// topics that are due now (also run periodically). Not safe to call
// concurrently with itself.
func (n *Node) RunKeyCompaction(ctx context.Context) (tiering.KeyCompactionResult, error) {
	n.keysMu.Lock()
	defer n.keysMu.Unlock()
	return n.keys.RunOnce(ctx)
}

// RunGC deletes unreferenced objects past their grace now (also run
// periodically).
func (n *Node) RunGC(ctx context.Context, now time.Time, sweepOrphans bool) (tiering.GCResult, error) {
	return n.gc.RunOnce(ctx, now, sweepOrphans)
}

// Stats are the figures an operator needs, gathered from every layer.
type Stats struct {
	Bucket   objectstore.CountingStats
	Uploader tiering.UploaderStats
	Reader   tiering.ReaderStats
	// KeyCompactor counts compaction by key's GETs, PUTs and bytes.
	KeyCompactor tiering.KeyCompactorStats
	WAL          wal.Stats
	WALBytes     int64
}

// Stats returns the current figures.
func (n *Node) Stats() Stats {
	if n.wal == nil {
		return Stats{Bucket: n.bucket.Stats(), KeyCompactor: n.keys.Stats()}
	}
	return Stats{
		KeyCompactor: n.keys.Stats(),
		Bucket:       n.bucket.Stats(),
		Uploader:     n.uploader.Stats(),
		Reader:       n.reader.Stats(),
		WAL:          n.wal.Stats(),
		WALBytes:     n.wal.Bytes(),
	}
}

func (n *Node) logStats() {
	s := n.Stats()
	n.log.Info("tiering stats",
		"objects_uploaded", s.Uploader.Objects, "bytes_uploaded", s.Uploader.Bytes,
		"upload_pending_segments", s.Uploader.Pending, "upload_lag", s.Uploader.LastUploadLag,
		"upload_commits", s.Uploader.Commits, "put_errors", s.Uploader.PutErrors, "commit_errors", s.Uploader.CommitErrors,
		"upload_re_puts", s.Uploader.RePuts, "fenced_partitions", s.Uploader.Fenced,
		"s3_class_a", s.Bucket.ClassA, "s3_class_b", s.Bucket.ClassB, "s3_bytes_in", s.Bucket.BytesIn, "s3_bytes_out", s.Bucket.BytesOut,
		"cache_hits", s.Reader.CacheHits, "cache_misses", s.Reader.CacheMisses,
		"wal_bytes", s.WALBytes, "wal_fsyncs", s.WAL.Fsyncs,
		"key_compaction_passes", s.KeyCompactor.Passes, "key_compaction_gets", s.KeyCompactor.Gets,
		"key_compaction_puts", s.KeyCompactor.Puts, "key_compaction_reclaimed", s.KeyCompactor.Reclaimed)
}

// Addr is the address the Kafka listener is bound to.
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// ListenerAddr is the address the Kafka listener named name is bound to,
// or "" when there is none.
func (n *Node) ListenerAddr(name string) string {
	if n.server == nil {
		return ""
	}
	return n.server.ListenerAddr(name)
}

// Meta is the node's metadata store.
func (n *Node) Meta() *metadata.Store { return n.meta }

// DebugAddr is the debug (pprof) listener's address, or "" when it is off.
func (n *Node) DebugAddr() string {
	if n.debug == nil {
		return ""
	}
	return n.debug.ln.Addr().String()
}

// Bucket is the node's object store (with request counters).
func (n *Node) Bucket() *objectstore.Counting { return n.bucket }

// Close stops the listener and the background work, then flushes and closes
// the WAL, the object store and the metadata store.
func (n *Node) Close() error { return n.Shutdown(true) }

// Shutdown is Close; with drain, a broker of a cluster first hands its
// partitions to other brokers (see Drain).
func (n *Node) Shutdown(drain bool) error {
	var errs []error
	errs = append(errs, n.closeObserve())
	if drain && n.server != nil && n.meta != nil && len(n.cfg.Metadata.Controllers) > 0 {
		n.Drain(30 * time.Second)
	}
	if n.cancel != nil {
		n.cancel()
		n.wg.Wait()
	}
	if n.server != nil {
		errs = append(errs, n.server.Close())
	} else if n.ln != nil {
		errs = append(errs, n.ln.Close())
	}
	if n.uploader != nil {
		errs = append(errs, n.uploader.Close())
	}
	if n.reader != nil {
		errs = append(errs, n.reader.Close())
	}
	if n.wal != nil {
		errs = append(errs, n.wal.Close())
	}
	if n.bucket != nil {
		errs = append(errs, n.bucket.Close())
	}
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
	}
	if n.debug != nil {
		errs = append(errs, n.debug.Close())
	}
	return errors.Join(errs...)
}

func fileURLDir(url string) (string, bool) {
	const p = "file://"
	if len(url) > len(p) && url[:len(p)] == p {
		return url[len(p):], true
	}
	return "", false
}
