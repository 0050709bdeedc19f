package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shalelog/shale/console"
	"github.com/shalelog/shale/metrics"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/tiering"
	"github.com/shalelog/shale/wal"
)

// observe is the node's metrics: nil without a metrics listener, so that
// a node nobody scrapes pays nothing for them.
type observe struct {
	set *metrics.Set
	srv *metrics.Server
	// console, if set, is served at / of the metrics listener.
	console http.Handler
}

// newObserve builds the metrics of a node configured with a metrics
// listener; nil otherwise.
func newObserve(cfg Config) *observe {
	if cfg.Observe.MetricsListen == "" {
		return nil
	}
	p := cfg.Observe.Prices
	return &observe{set: metrics.NewSet(metrics.Prices{ClassAPer1000: p.ClassAPer1000, ClassBPer1000: p.ClassBPer1000, StoragePerGBMonth: p.StoragePerGBMonth})}
}

// wrapBucket measures b's calls.
func (o *observe) wrapBucket(b objectstore.Bucket) objectstore.Bucket {
	if o == nil {
		return b
	}
	return o.set.Bucket.Wrap(b)
}

// start hooks the node's parts into the metrics and opens the listener.
func (n *Node) startObserve() error {
	o := n.obs
	if o == nil {
		return nil
	}
	o.set.Attach(metrics.Sources{
		Meta: n.meta, Bucket: n.bucket, WAL: n.wal, WALMax: int64(n.cfg.WAL.MaxBytes),
		Uploader: n.uploader, Reader: n.reader, PartitionLabels: n.cfg.Observe.MetricsPartitionLabels,
	})
	if n.cfg.Observe.Console {
		c, err := console.New(n, o.set.Cost.Report, n.log.With("component", "console"))
		if err != nil {
			return err
		}
		o.console = c
	}
	log := n.log.With("component", "metrics")
	srv, err := metrics.Serve(n.cfg.Observe.MetricsListen, o.set, n, o.console, log)
	if err != nil {
		return err
	}
	o.srv = srv
	log.Info("metrics listener on "+srv.Addr(), "console", o.console != nil)
	return nil
}

// Ready reports nil when the node serves: its metadata has a raft leader
// and has applied what is committed, and (a broker) its WAL is open and
// its Kafka listener accepts. Otherwise it says what is missing.
func (n *Node) Ready() error {
	if n.meta == nil {
		return errors.New("metadata not open")
	}
	st := n.meta.RaftStatus()
	switch {
	case !st.HasLeader:
		return errors.New("metadata: no raft leader")
	case st.AppliedIndex < st.CommitIndex:
		return fmt.Errorf("metadata: applied %d of %d committed raft entries", st.AppliedIndex, st.CommitIndex)
	}
	if _, isBroker, _ := n.cfg.RoleSet(); isBroker {
		if n.wal == nil || n.ln == nil {
			return errors.New("broker: WAL or Kafka listener not open")
		}
	}
	return nil
}

// TopicStorage describes where a topic's records are: the catalog's
// ranges and objects, and this broker's WAL ranges.
func (n *Node) TopicStorage(name string) (metrics.TopicStorage, error) {
	t, ok := n.meta.Topic(name)
	if !ok {
		return metrics.TopicStorage{}, fmt.Errorf("topic %q: %w", name, metrics.ErrNoTopic)
	}
	ts := metrics.TopicStorage{Topic: t.Name, ID: t.ID.String(), Broker: n.cfg.Broker.NodeID}
	for p, lead := range t.Partitions {
		ps := metrics.PartitionStorage{Partition: int32(p), Leader: lead.Leader}
		if pl, ok := n.meta.PartitionLog(t.ID, int32(p)); ok {
			ps.LogStart, ps.HighWatermark, ps.Extents, ps.StoredBytes = pl.LogStart, pl.End, pl.Extents, pl.Bytes
		}
		objects := map[string]bool{}
		var oldest int64
		for from := int64(0); ; {
			exts := n.meta.Extents(t.ID, int32(p), from, 1000)
			for _, e := range exts {
				objects[e.Object] = true
				if e.CommitTime > 0 && (oldest == 0 || e.CommitTime < oldest) {
					oldest = e.CommitTime
				}
			}
			if len(exts) < 1000 {
				break
			}
			from = exts[len(exts)-1].LastOffset + 1
		}
		ps.Objects = len(objects)
		if oldest > 0 {
			ps.OldestCommit = time.UnixMilli(oldest).UTC()
		}
		if n.wal != nil {
			if r, ok := n.wal.Range(wal.Key{Topic: t.ID, Partition: int32(p)}); ok && r.Next > r.First {
				ps.Hot, ps.HotFrom, ps.HotTo = true, max(r.First, ps.LogStart), r.Next
			}
		}
		ts.Partitions = append(ts.Partitions, ps)
	}
	return ts, nil
}

// MetricsAddr is the metrics listener's address, or "" when it is off.
func (n *Node) MetricsAddr() string {
	if n.obs == nil || n.obs.srv == nil {
		return ""
	}
	return n.obs.srv.Addr()
}

// Metrics is the node's metrics set, nil without a metrics listener.
func (n *Node) Metrics() *metrics.Set {
	if n.obs == nil {
		return nil
	}
	return n.obs.set
}

func (n *Node) closeObserve() error {
	if n.obs == nil || n.obs.srv == nil {
		return nil
	}
	return n.obs.srv.Close()
}

// traceSegment is the uploader's OnSegment hook: each segment's way to the
// catalog, step by step, as a debug log line and (with a metrics
// listener) in shale_upload_stage_seconds.
func (n *Node) traceSegment(t tiering.SegmentTrace) {
	if t.Bytes == 0 {
		return
	}
	sealed := t.Sealed
	if sealed.IsZero() { // sealed before this process started
		sealed = t.FirstEntry
	}
	stages := [...]struct {
		name string
		d    time.Duration
	}{
		{"seal_wait", sealed.Sub(t.FirstEntry)},
		{"build", t.Built.Sub(sealed)},
		{"put_queue", t.PutStart.Sub(t.Built)},
		{"put", t.PutDone.Sub(t.PutStart)},
		{"commit", t.Committed.Sub(t.PutDone)},
		{"total", t.Committed.Sub(t.FirstEntry)},
	}
	if n.obs != nil {
		for _, s := range stages {
			n.obs.set.UploadStage(s.name, s.d)
		}
	}
	if n.log.Enabled(context.Background(), slog.LevelDebug) {
		n.log.Debug("segment committed", "segment", t.Segment, "bytes", t.Bytes,
			stages[0].name, stages[0].d, stages[1].name, stages[1].d, stages[2].name, stages[2].d,
			stages[3].name, stages[3].d, stages[4].name, stages[4].d, stages[5].name, stages[5].d)
	}
}
