package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/shalelog/shale/node"
)

// nodeFlags binds every node setting to a flag. Flags given on the command
// line override the YAML file, which overrides the defaults.
func nodeFlags(fs *flag.FlagSet, cfg *node.Config) *string {
	configPath := fs.String("config", "", "YAML config file (flags override it)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the WAL and metadata")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.Func("node-id", "broker id (default 1)", func(s string) error {
		var v int32
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		cfg.Broker.NodeID = v
		return nil
	})
	fs.StringVar(&cfg.Broker.Listen, "listen", cfg.Broker.Listen, "Kafka listener host:port")
	fs.StringVar(&cfg.Broker.Advertised, "advertised", cfg.Broker.Advertised, "host:port given to clients (default: the listener address)")
	fs.StringVar(&cfg.Broker.TLS.CertFile, "tls-cert", cfg.Broker.TLS.CertFile, "PEM certificate of the Kafka listener: with --tls-key it speaks TLS (Kafka's SSL); re-read when it changes")
	fs.StringVar(&cfg.Broker.TLS.KeyFile, "tls-key", cfg.Broker.TLS.KeyFile, "PEM private key of --tls-cert")
	fs.StringVar(&cfg.Broker.TLS.ClientCAFile, "tls-client-ca", cfg.Broker.TLS.ClientCAFile, "PEM CAs whose client certificates the listener requires (mutual TLS)")
	fs.Func("tls-principal-mapping-rule", "map client certificate subjects to principal names: DEFAULT or RULE:pattern/replacement/[LU] (repeatable; ssl.principal.mapping.rules)", func(s string) error {
		cfg.Broker.TLS.PrincipalMappingRules = append(cfg.Broker.TLS.PrincipalMappingRules, s)
		return nil
	})
	fs.BoolVar(&cfg.Broker.Authorizer.Enabled, "authorizer", cfg.Broker.Authorizer.Enabled, "authorize every request with ACLs (shale acls); off: everything is allowed")
	fs.Func("super-users", "principals allowed everything, such as User:admin, separated by ';' as in Kafka's super.users (distinguished names hold commas); repeatable", func(s string) error {
		for _, p := range strings.Split(s, ";") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.Broker.Authorizer.SuperUsers = append(cfg.Broker.Authorizer.SuperUsers, p)
			}
		}
		return nil
	})
	fs.BoolVar(&cfg.Broker.Authorizer.AllowEveryoneIfNoACLFound, "allow-everyone-if-no-acl-found", cfg.Broker.Authorizer.AllowEveryoneIfNoACLFound, "with the authorizer on, allow what no ACL names at all (allow.everyone.if.no.acl.found)")
	fs.BoolVar(&cfg.Broker.AutoCreateTopics, "auto-create-topics", cfg.Broker.AutoCreateTopics, "create unknown topics on metadata requests")
	fs.Func("default-partitions", "partitions of topics created without a count (default 1)", func(s string) error {
		var v int32
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		cfg.Broker.DefaultPartitions = v
		return nil
	})
	fs.Func("max-request-bytes", "largest request frame accepted (default 100MiB)", func(s string) error {
		v, err := node.ParseByteSize(s)
		if err != nil {
			return err
		}
		if v > 1<<31-1 {
			return fmt.Errorf("%s is larger than 2GiB", s)
		}
		cfg.Broker.MaxRequestBytes = int32(v)
		return nil
	})
	fs.Func("fetch-max-bytes", "most record bytes in one fetch response (default 55MiB)", func(s string) error {
		v, err := node.ParseByteSize(s)
		if err != nil {
			return err
		}
		if v > 1<<31-1 {
			return fmt.Errorf("%s is larger than 2GiB", s)
		}
		cfg.Broker.FetchMaxBytes = int32(v)
		return nil
	})
	fs.IntVar(&cfg.Broker.MaxInFlight, "max-in-flight", cfg.Broker.MaxInFlight, "requests one connection may have in progress before the broker stops reading it")
	fs.DurationVar(&cfg.Broker.OffsetsRetention, "offsets-retention", cfg.Broker.OffsetsRetention, "how long committed offsets of an empty group are kept (offsets.retention.minutes)")
	fs.DurationVar(&cfg.Broker.GroupInitialRebalanceDelay, "group-initial-rebalance-delay", cfg.Broker.GroupInitialRebalanceDelay, "wait for more members before the first rebalance of an empty group")
	fs.IntVar(&cfg.Broker.MaxConnections, "max-connections", cfg.Broker.MaxConnections, "client connections the broker keeps; more are closed at accept (max.connections; 0: no cap)")
	fs.IntVar(&cfg.Broker.MaxConnectionsPerIP, "max-connections-per-ip", cfg.Broker.MaxConnectionsPerIP, "connections from one IP; more are closed at accept (max.connections.per.ip; 0: no cap)")
	fs.Func("max-connections-per-ip-overrides", "per-address caps, `host:N,host:N` (max.connections.per.ip.overrides)", func(s string) error {
		m, err := parseConnOverrides(s)
		if err != nil {
			return err
		}
		cfg.Broker.MaxConnectionsPerIPOverrides = m
		return nil
	})
	fs.Func("queued-max-request-bytes", "request bytes all connections may hold before reading stops (queued.max.request.bytes; default 512MiB, 0: no cap)", func(s string) error {
		v, err := node.ParseByteSize(s)
		cfg.Broker.QueuedMaxRequestBytes = int64(v)
		return err
	})
	fs.Func("connection-max-queued-bytes", "request bytes one connection may hold before reading it stops (default 200MiB, 0: no cap)", func(s string) error {
		v, err := node.ParseByteSize(s)
		cfg.Broker.ConnectionMaxQueuedBytes = int64(v)
		return err
	})
	fs.DurationVar(&cfg.Broker.ConnectionsMaxIdle, "connections-max-idle", cfg.Broker.ConnectionsMaxIdle, "close a connection idle this long (connections.max.idle.ms; 0: never)")
	fs.DurationVar(&cfg.Broker.RequestReadTimeout, "request-read-timeout", cfg.Broker.RequestReadTimeout, "close a connection whose request takes longer than this to arrive (0: no bound)")
	fs.IntVar(&cfg.Broker.QuotaWindowNum, "quota-window-num", cfg.Broker.QuotaWindowNum, "windows a client quota rate is measured over (quota.window.num)")
	fs.DurationVar(&cfg.Broker.QuotaWindowSize, "quota-window-size", cfg.Broker.QuotaWindowSize, "length of one quota window (quota.window.size.seconds)")
	observeFlags(fs, &cfg.Observe)
	fs.StringVar(&cfg.DebugListen, "debug-listen", cfg.DebugListen, "serve Go runtime profiles (/debug/pprof/) on this host:port (default off)")
	fs.Var(&cfg.ProducerIDExpiration, "producer-id-expiration", "forget an idempotent producer's state this long after its last write (producer.id.expiration.ms)")
	fs.StringVar(&cfg.WAL.Dir, "wal-dir", cfg.WAL.Dir, "WAL directory (default DATA_DIR/wal)")
	fs.Var(&cfg.WAL.SegmentMaxBytes, "wal-segment-bytes", "seal a WAL segment at this size (default: a quarter of --wal-max-bytes, at most 16MiB)")
	fs.Var(&cfg.WAL.SegmentMaxAge, "wal-segment-age", "seal a non-empty WAL segment after this long; also the PUT budget: one upload per age on average (the latency/cost dial)")
	fs.Var(&cfg.WAL.UploadBurst, "wal-upload-burst", "PUT budget a quiet broker saves for acks=all group commit, in time at one upload per --wal-segment-age (0: no group commit)")
	fs.Var(&cfg.WAL.MaxBytes, "wal-max-bytes", "local WAL byte budget; produce gets a retriable error when it is full")
	fs.Var(&cfg.WAL.UploadMemoryBytes, "wal-upload-memory", "bytes of sealed WAL segments kept in memory until uploaded, so the upload need not read them back (0: off)")
	fs.BoolVar(&cfg.WAL.RecycleSegments, "wal-recycle-segments", cfg.WAL.RecycleSegments, "reuse uploaded WAL segment files (turn off on copy-on-write filesystems)")
	fs.StringVar(&cfg.ObjectStore, "object-store", cfg.ObjectStore, "object store URL: file:///path or s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1 (default: file://DATA_DIR/objects)")
	fs.Var(&cfg.Tiering.LocalRetainBytes, "local-retain-bytes", "bytes of already-uploaded WAL kept locally for hot reads (default: a quarter of --wal-max-bytes, at most 256MiB)")
	fs.Var(&cfg.Tiering.CacheBytes, "cache-bytes", "cold-read block cache size")
	fs.Var(&cfg.Tiering.BlockSize, "block-size", "size of one ranged GET of a cold read")
	fs.IntVar(&cfg.Tiering.ReadAhead, "read-ahead", cfg.Tiering.ReadAhead, "blocks a sequential cold reader fetches ahead")
	fs.Var(&cfg.Tiering.RetentionInterval, "retention-interval", "how often topic retention is applied")
	fs.Var(&cfg.Tiering.GCInterval, "gc-interval", "how often unreferenced objects are deleted")
	fs.Var(&cfg.Tiering.GCGrace, "gc-grace", "how long an unreferenced object stays before deletion")
	fs.Var(&cfg.Tiering.OrphanGrace, "orphan-grace", "how old a never-committed upload must be before deletion")
	fs.Var(&cfg.Tiering.StatsInterval, "stats-interval", "how often tiering figures are logged (0: never)")
	fs.IntVar(&cfg.Tiering.CommitBatch, "commit-batch", cfg.Tiering.CommitBatch, "uploaded segments committed together in one Raft entry (0: all ready ones, once every node runs a build that reads such entries; 1: one each, readable by older builds)")
	fs.Var(&cfg.Tiering.CompactionTarget, "compaction-target", "size of the single-partition objects compaction writes")
	fs.IntVar(&cfg.Tiering.CompactionMinExtents, "compaction-min-extents", cfg.Tiering.CompactionMinExtents, "shortest run of small extents worth merging")
	fs.Var(&cfg.Tiering.CompactionInterval, "compaction-interval", "how often compaction runs (0: never)")
	fs.Var(&cfg.Tiering.KeyCompactionInterval, "key-compaction-interval", "how often cleanup.policy=compact topics are compacted by key (0: never)")
	fs.Var(&cfg.Tiering.KeyCompactionMapBytes, "key-compaction-map-bytes", "memory of the key compactor's offset map (the keys one pass deduplicates: bytes/32)")
	fs.StringVar(&cfg.Metadata.Dir, "metadata-dir", cfg.Metadata.Dir, "raft log and snapshots (default DATA_DIR/meta)")
	fs.StringVar(&cfg.Metadata.RaftAddr, "raft-addr", cfg.Metadata.RaftAddr, "raft transport and controller RPC host:port (empty: single node, in-process)")
	fs.StringVar(&cfg.Metadata.RaftAdvertise, "raft-advertise", cfg.Metadata.RaftAdvertise, "raft address other nodes dial, if not --raft-addr")
	fs.StringVar(&cfg.Metadata.TLS.CertFile, "raft-tls-cert", cfg.Metadata.TLS.CertFile, "PEM certificate of this node for raft and the controller RPC (mutual TLS with --raft-tls-key and --raft-tls-ca)")
	fs.StringVar(&cfg.Metadata.TLS.KeyFile, "raft-tls-key", cfg.Metadata.TLS.KeyFile, "PEM private key of --raft-tls-cert")
	fs.StringVar(&cfg.Metadata.TLS.CAFile, "raft-tls-ca", cfg.Metadata.TLS.CAFile, "PEM CA that signs every node's raft certificate")
	fs.StringVar(&cfg.Metadata.TLS.ServerName, "raft-tls-server-name", cfg.Metadata.TLS.ServerName, "name peers' raft certificates are checked against (default: the host dialed)")
	fs.StringVar(&cfg.Broker.PeerTLS.CAFile, "peer-tls-ca", cfg.Broker.PeerTLS.CAFile, "PEM CA of other brokers' Kafka listeners: links to them (transaction markers) use TLS")
	fs.StringVar(&cfg.Broker.PeerTLS.CertFile, "peer-tls-cert", cfg.Broker.PeerTLS.CertFile, "PEM client certificate for links to other brokers (when their listeners require one)")
	fs.StringVar(&cfg.Broker.PeerTLS.KeyFile, "peer-tls-key", cfg.Broker.PeerTLS.KeyFile, "PEM private key of --peer-tls-cert")
	fs.StringVar(&cfg.Roles, "roles", cfg.Roles, "controller, broker or controller,broker")
	fs.StringVar(&cfg.Metadata.Controllers, "controllers", cfg.Metadata.Controllers, "the metadata quorum: 1@host:port,2@host:port,3@host:port (raft addresses; empty: single node)")
	fs.Var(&cfg.Metadata.SessionTimeout, "session-timeout", "a broker silent this long is fenced and its partitions move")
	fs.BoolVar(&cfg.Metadata.AutoLeaderBalance, "auto-leader-balance", cfg.Metadata.AutoLeaderBalance, "spread partition leaders over live brokers automatically")
	fs.Var(&cfg.Metadata.LeaderBalanceInterval, "leader-balance-interval", "how often automatic leader balancing runs")
	return configPath
}

func runNode(mode string, args []string) int {
	cfg := node.DefaultConfig()
	fs := flag.NewFlagSet("shale "+mode, flag.ContinueOnError)
	configPath := nodeFlags(fs, &cfg)
	cluster := 0
	if mode == "dev" {
		fs.IntVar(&cluster, "cluster", 0, "start this many nodes (3 or 5) as a local cluster on loopback instead of one")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "shale %s: unexpected argument %q\n", mode, fs.Arg(0))
		return 2
	}
	if *configPath != "" {
		// Re-apply: defaults, then the file, then the flags that were set.
		cfg = node.DefaultConfig()
		if err := cfg.LoadFile(*configPath); err != nil {
			fmt.Fprintf(os.Stderr, "shale %s: %v\n", mode, err)
			return 2
		}
		again := flag.NewFlagSet("shale "+mode, flag.ContinueOnError)
		nodeFlags(again, &cfg)
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "config" {
				set = append(set, "--"+f.Name+"="+f.Value.String())
			}
		})
		if err := again.Parse(set); err != nil {
			return 2
		}
	} else if mode == "broker" {
		fmt.Fprintln(os.Stderr, "shale broker: --config is required (use 'shale dev' for embedded defaults)")
		return 2
	}
	if cluster != 0 {
		_, derived := cfg.Derive()
		for _, d := range derived {
			fmt.Printf("shale %s: %s\n", mode, d)
		}
		return runDevCluster(cfg, cluster)
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "shale %s: %v\n", mode, err)
		return 2
	}
	logger := newLogger(cfg.LogLevel, cfg.Observe.LogFormat)
	_, derived := cfg.Derive()
	for _, d := range derived {
		fmt.Printf("shale %s: %s\n", mode, d)
	}
	n, err := node.Start(cfg, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shale %s: %v\n", mode, err)
		return 1
	}
	fmt.Printf("shale %s: Kafka listener on %s\n", mode, n.Addr())
	fmt.Printf("shale %s: write-ahead log in %s\n", mode, cfg.WALDir())
	if cfg.Metadata.Controllers == "" {
		fmt.Printf("shale %s: metadata (raft, 1 voter) in %s\n", mode, cfg.MetadataDir())
	} else {
		fmt.Printf("shale %s: node %d (%s), raft on %s, quorum %s, metadata in %s\n", mode, cfg.Broker.NodeID, cfg.Roles, cfg.Metadata.RaftAddr, cfg.Metadata.Controllers, cfg.MetadataDir())
	}
	if url, err := cfg.ObjectStoreURL(); err == nil {
		fmt.Printf("shale %s: object store %s\n", mode, url)
	}
	if a := n.MetricsAddr(); a != "" {
		fmt.Printf("shale %s: metrics on http://%s/metrics (health: /healthz, /readyz; cost: /v1/cost)\n", mode, a)
		if cfg.Observe.Console {
			fmt.Printf("shale %s: web console on http://%s/\n", mode, a)
		}
	}
	fmt.Printf("shale %s: ready; stop with Ctrl-C\n", mode)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	fmt.Printf("shale %s: %s received, stopping\n", mode, s)
	if err := n.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "shale %s: stop: %v\n", mode, err)
		return 1
	}
	fmt.Printf("shale %s: stopped\n", mode)
	return 0
}

// newLogger writes to stderr at level, as logfmt text or JSON (format
// "json").
func newLogger(level, format string) *slog.Logger {
	return node.NewLogger(os.Stderr, level, format)
}

// parseConnOverrides parses "host:N,host:N" (an IPv6 address in
// brackets: [::1]:N).
func parseConnOverrides(s string) (map[string]int, error) {
	m := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, ":")
		if i <= 0 {
			return nil, fmt.Errorf("%q: want host:N", part)
		}
		n, err := strconv.Atoi(part[i+1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: the cap must be a number >= 0", part)
		}
		m[strings.Trim(part[:i], "[]")] = n
	}
	return m, nil
}
