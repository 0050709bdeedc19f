package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Set is every metric of one node in its own registry (no package-level
// state), with the hooks the node's components report through.
type Set struct {
	Registry *prometheus.Registry
	Broker   *Broker
	Bucket   *BucketMetrics
	Cost     *CostMeter

	walFsync    prometheus.Histogram
	walCommit   prometheus.Histogram
	raftPropose prometheus.Histogram
	uploadStage *prometheus.HistogramVec
}

// NewSet builds a node's metrics: the request path, the object store,
// WAL commits, raft proposals, the Go runtime and the process, and the
// cost meter pricing with prices.
func NewSet(prices Prices) *Set {
	reg := prometheus.NewRegistry()
	s := &Set{
		Registry: reg,
		Broker:   NewBroker(reg),
		Bucket:   NewBucketMetrics(reg),
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shale_wal_fsync_duration_seconds", Help: "Time of the fdatasync of each WAL group commit.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		walCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shale_wal_commit_size_bytes", Help: "Bytes written by each WAL group commit (one pwritev, one fdatasync).",
			Buckets: prometheus.ExponentialBuckets(512, 4, 10), // 512B .. 128MiB
		}),
		raftPropose: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shale_raft_apply_duration_seconds", Help: "On the raft leader, time from proposing a metadata command to its apply (replication, commit and state machine).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		uploadStage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shale_upload_stage_seconds",
			Help:    "Time each WAL segment spends in each step of its way to the catalog: seal_wait (first entry to seal), build (seal to object built), put_queue (built to PUT start), put, commit (PUT end to catalog commit, waiting for earlier segments included), total (first entry to commit).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"stage"}),
	}
	reg.MustRegister(s.walFsync, s.walCommit, s.raftPropose, s.uploadStage,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.Cost = NewCostMeter(prices, nil)
	s.Bucket.cost = s.Cost
	s.Broker.onProduced = s.Cost.produced
	s.Broker.onFetched = s.Cost.fetchedBytes
	return s
}

// WALCommit is the WAL's OnCommit hook.
func (s *Set) WALCommit(bytes int, fsync time.Duration) {
	s.walFsync.Observe(fsync.Seconds())
	s.walCommit.Observe(float64(bytes))
}

// UploadStage records how long one segment spent in one step of its
// upload (see shale_upload_stage_seconds).
func (s *Set) UploadStage(stage string, d time.Duration) {
	s.uploadStage.WithLabelValues(stage).Observe(d.Seconds())
}

// RaftProposed is the metadata store's propose observer.
func (s *Set) RaftProposed(d time.Duration) { s.raftPropose.Observe(d.Seconds()) }

// Attach registers the scrape-time collector over src and gives the cost
// meter the metadata store. Call it once, when the node's parts exist.
func (s *Set) Attach(src Sources) {
	s.Cost.meta = src.Meta
	c := NewCollector(src)
	c.forget = s.Broker.forgetTopicsExcept
	s.Registry.MustRegister(c, costCollector{s.Cost})
}

// Server is the metrics listener: /metrics, /healthz, /readyz, /v1/cost,
// and any extra handlers (the web console) under other paths.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve listens on addr and serves the set, and admin's answers on
// /readyz and /v1/topics/NAME; extra (the web console) is mounted at "/"
// when not nil.
func Serve(addr string, s *Set, admin Admin, extra http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), Registry: s.Registry,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := admin.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /v1/cost", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Cost.Report())
	})
	mux.HandleFunc("GET /v1/topics/{name}", func(w http.ResponseWriter, r *http.Request) {
		ts, err := admin.TopicStorage(r.PathValue("name"))
		switch {
		case errors.Is(err, ErrNoTopic):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(ts)
	})
	if extra != nil {
		mux.Handle("/", extra)
	}
	srv := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := srv.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics listener stopped", "err", err)
		}
	}()
	return srv, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving.
func (s *Server) Close() error { return s.srv.Close() }
