package metrics

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shalelog/shale/objectstore"
)

// takeBucket is a driver whose Put takes the body's bytes when it can
// (else reads them), keeps them, and fails if told to.
type takeBucket struct {
	objectstore.Bucket
	got  []byte
	took bool
	fail error
}

func (b *takeBucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	body, ok := objectstore.TakeBytes(r)
	if !ok {
		var err error
		if body, err = io.ReadAll(r); err != nil {
			return err
		}
	}
	b.got, b.took = body, ok
	return b.fail
}

func putBytesMetric(t *testing.T, m *BucketMetrics) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.bytes.WithLabelValues(opPut).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

// TestBucketPassesBodyBytes: a body held in memory reaches the driver
// through the metrics and Counting wrappers as the caller's own bytes,
// and both count it whole; a failed Put counts no bytes in the metrics; a
// plain reader is read as before.
func TestBucketPassesBodyBytes(t *testing.T) {
	m := NewBucketMetrics(prometheus.NewRegistry())
	drv := &takeBucket{}
	counting := objectstore.NewCounting(drv)
	b := m.Wrap(counting)
	ctx := context.Background()
	body := make([]byte, 70000)
	for i := range body {
		body[i] = byte(i)
	}
	if err := b.Put(ctx, "wal/1/a.obj", objectstore.NewBytesReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if !drv.took || len(drv.got) != len(body) || &drv.got[0] != &body[0] {
		t.Fatalf("driver took %v %d bytes; want the caller's %d", drv.took, len(drv.got), len(body))
	}
	if got := putBytesMetric(t, m); got != 70000 {
		t.Fatalf("put bytes metric %v, want 70000", got)
	}
	if st := counting.Stats(); st.BytesIn != 70000 {
		t.Fatalf("counting stats %+v", st)
	}

	drv.fail = errors.New("injected")
	if err := b.Put(ctx, "wal/1/b.obj", objectstore.NewBytesReader(body), int64(len(body))); err == nil {
		t.Fatal("put did not fail")
	}
	if got := putBytesMetric(t, m); got != 70000 {
		t.Fatalf("put bytes metric %v after a failed put, want 70000", got)
	}

	drv.fail = nil
	if err := b.Put(ctx, "wal/1/c.obj", &plainReader{body[:100]}, 100); err != nil {
		t.Fatal(err)
	}
	if drv.took || len(drv.got) != 100 || &drv.got[0] == &body[0] {
		t.Fatal("a plain reader's bytes were not read")
	}
	if got := putBytesMetric(t, m); got != 70100 {
		t.Fatalf("put bytes metric %v, want 70100", got)
	}
	if st := counting.Stats(); st.BytesIn != 70100 {
		t.Fatalf("counting stats %+v", st)
	}
}

// plainReader is an io.Reader and nothing more.
type plainReader struct{ b []byte }

func (r *plainReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
