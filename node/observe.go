package node

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/shalelog/shale/metrics"
	"github.com/shalelog/shale/objectstore"
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
	srv, err := metrics.Serve(n.cfg.Observe.MetricsListen, o.set, n.Ready, o.console, n.log.With("component", "metrics"))
	if err != nil {
		return err
	}
	o.srv = srv
	n.log.Info("metrics listener on " + srv.Addr())
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
