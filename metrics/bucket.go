package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shalelog/shale/objectstore"
)

// Object store operations, as labels.
const (
	opPut    = "put"
	opGet    = "get"
	opHead   = "head"
	opList   = "list"
	opDelete = "delete"
)

// BucketMetrics are the object store's metrics: calls, bytes, errors and
// latency per operation. Wrap hands out buckets that update them.
type BucketMetrics struct {
	calls   *prometheus.CounterVec
	bytes   *prometheus.CounterVec
	errs    *prometheus.CounterVec
	latency *prometheus.HistogramVec

	// cost, if set, is told every request with its key and class.
	cost *CostMeter
}

// NewBucketMetrics registers the object store metrics with reg.
func NewBucketMetrics(reg prometheus.Registerer) *BucketMetrics {
	m := &BucketMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_objectstore_operations_total", Help: "Object store calls, by operation (put, get, head, list, delete); a multipart put is one.",
		}, []string{"operation"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_objectstore_bytes_total", Help: "Bytes moved by object store calls: put bodies stored, get bodies read.",
		}, []string{"operation"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_objectstore_errors_total", Help: "Object store calls that failed (a missing object on get or head included), by operation.",
		}, []string{"operation"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shale_objectstore_operation_duration_seconds", Help: "Object store call latency, by operation: put until stored, get until the body's last byte, list until the last page.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
	}
	for _, op := range []string{opPut, opGet, opHead, opList, opDelete} {
		m.calls.WithLabelValues(op)
		m.bytes.WithLabelValues(op)
		m.errs.WithLabelValues(op)
	}
	reg.MustRegister(m.calls, m.bytes, m.errs, m.latency)
	return m
}

// Wrap returns b with every call measured.
func (m *BucketMetrics) Wrap(b objectstore.Bucket) objectstore.Bucket {
	return &bucket{inner: b, m: m}
}

func (m *BucketMetrics) done(op, key string, n int64, start time.Time, err error) {
	m.calls.WithLabelValues(op).Inc()
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if n > 0 {
		m.bytes.WithLabelValues(op).Add(float64(n))
	}
	if err != nil {
		m.errs.WithLabelValues(op).Inc()
	}
	if m.cost != nil {
		m.cost.request(op, key, n)
	}
}

// bucket is a Bucket whose calls update BucketMetrics.
type bucket struct {
	inner objectstore.Bucket
	m     *BucketMetrics
}

var (
	_ objectstore.Bucket            = (*bucket)(nil)
	_ objectstore.PutRequestCounter = (*bucket)(nil)
)

func (b *bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	start := time.Now()
	cr := &countReader{r: r}
	err := b.inner.Put(ctx, key, cr, size)
	n := cr.n
	if err != nil {
		n = 0
	}
	b.m.done(opPut, key, n, start, err)
	if err == nil && b.m.cost != nil {
		b.m.cost.putExtra(key, b.PutRequests(n)-1)
	}
	return err
}

// PutRequests passes the wrapped bucket's count on (multipart uploads).
func (b *bucket) PutRequests(size int64) int64 {
	if pc, ok := b.inner.(objectstore.PutRequestCounter); ok {
		return pc.PutRequests(size)
	}
	return 1
}

func (b *bucket) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	start := time.Now()
	body, err := b.inner.ReadRange(ctx, key, off, length)
	if err != nil {
		b.m.done(opGet, key, 0, start, err)
		return nil, err
	}
	return &timedBody{rc: body, b: b.m, key: key, start: start}, nil
}

func (b *bucket) Stat(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	start := time.Now()
	info, err := b.inner.Stat(ctx, key)
	b.m.done(opHead, key, 0, start, err)
	return info, err
}

func (b *bucket) List(ctx context.Context, prefix string, fn func(objectstore.ObjectInfo) error) error {
	start := time.Now()
	err := b.inner.List(ctx, prefix, fn)
	b.m.done(opList, prefix, 0, start, err)
	return err
}

func (b *bucket) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := b.inner.Delete(ctx, key)
	b.m.done(opDelete, key, 0, start, err)
	return err
}

func (b *bucket) Close() error { return b.inner.Close() }

type countReader struct {
	r io.Reader
	n int64
}

func (r *countReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// TakeBytes implements objectstore.BytesBody, so that a body held in
// memory reaches the driver as it is; the bytes taken count as read.
func (r *countReader) TakeBytes() ([]byte, bool) {
	b, ok := objectstore.TakeBytes(r.r)
	r.n += int64(len(b))
	return b, ok
}

// timedBody reports its GET when it is closed: bytes read, time until
// then, and a read error other than EOF.
type timedBody struct {
	rc    io.ReadCloser
	b     *BucketMetrics
	key   string
	start time.Time
	n     int64
	err   error
	done  bool
}

func (t *timedBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

func (t *timedBody) Close() error {
	err := t.rc.Close()
	if !t.done {
		t.done = true
		t.b.done(opGet, t.key, t.n, t.start, t.err)
	}
	return err
}
