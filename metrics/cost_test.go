package metrics

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/tiering"
)

func openMeta(t *testing.T) *metadata.Store {
	t.Helper()
	cfg := metadata.DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 100*time.Millisecond, 100*time.Millisecond
	s, err := metadata.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestCostAttribution: requests on a compacted object go to its topic;
// WAL objects' PUTs are shared by bytes produced and their GETs by bytes
// fetched; LISTs and requests of deleted topics are the cluster's; the
// price follows the table.
func TestCostAttribution(t *testing.T) {
	meta := openMeta(t)
	ctx := context.Background()
	a, err := meta.CreateTopic(ctx, "a", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := meta.CreateTopic(ctx, "b", 1, nil); err != nil {
		t.Fatal(err)
	}
	c := NewCostMeter(Prices{ClassAPer1000: 5, ClassBPer1000: 0.4, StoragePerGBMonth: 23}, meta)
	start := c.start
	c.now = func() time.Time { return start.Add(time.Hour) }

	c.produced("a", 300)
	c.produced("b", 100)
	c.fetchedBytes("b", 50)
	for range 4 {
		c.request(opPut, "wal/1/00000000000000000001-0123456789abcdef.obj", 1000)
	}
	c.request(opGet, "wal/1/00000000000000000001-0123456789abcdef.obj", 10)
	compacted := tiering.CompactedObjectKey(a.ID, 0, 0, "0123456789abcdef")
	c.request(opPut, compacted, 2000)
	c.putExtra(compacted, 2) // multipart
	c.request(opHead, compacted, 0)
	c.request(opList, "wal/", 0)
	c.request(opDelete, "wal/1/x", 0)
	c.request(opGet, "part/ffffffffffffffffffffffffffffffff/0/x", 7) // a deleted topic

	r := c.Report()
	if len(r.Topics) != 2 || r.Topics[0].Topic != "a" || r.Topics[1].Topic != "b" {
		t.Fatalf("topics: %+v", r.Topics)
	}
	ta, tb := r.Topics[0], r.Topics[1]
	// a: 3/4 of 4 WAL PUTs + 3 requests of its compacted object; 1 HEAD.
	if !near(ta.ClassA, 3+3) || !near(ta.ClassB, 1) || !near(ta.BytesWritten, 3000+2000) || ta.BytesIngest != 300 {
		t.Errorf("a: %+v", ta)
	}
	// b: 1/4 of the WAL PUTs; every WAL GET (it alone fetched).
	if !near(tb.ClassA, 1) || !near(tb.ClassB, 1) || !near(tb.BytesRead, 10) {
		t.Errorf("b: %+v", tb)
	}
	if cl := r.Cluster; !near(cl.ClassA, 1) || !near(cl.ClassB, 1) || !near(cl.BytesRead, 7) {
		t.Errorf("cluster: %+v", cl)
	}
	if tot := r.Total; !near(tot.ClassA, 8) || !near(tot.ClassB, 3) || tot.BytesIngest != 400 {
		t.Errorf("total: %+v", tot)
	}
	// One hour: a's request cost is its cost per hour (nothing stored).
	if want := 6.0/1000*5 + 1.0/1000*0.4; !near(ta.RequestCost, want) || !near(ta.PerHour, want) {
		t.Errorf("a's cost %v per hour %v, want %v", ta.RequestCost, ta.PerHour, want)
	}
	if want := ta.PerHour / (300.0 / (1 << 30)); !near(ta.PerGiB, want) {
		t.Errorf("a's cost per GiB %v, want %v", ta.PerGiB, want)
	}
}

// TestCostBeforeAnyTraffic: shared requests before any topic produced or
// fetched are the cluster's, and nothing divides by zero.
func TestCostBeforeAnyTraffic(t *testing.T) {
	c := NewCostMeter(S3Standard, nil)
	c.request(opPut, "wal/1/x", 10)
	r := c.Report()
	if len(r.Topics) != 0 || !near(r.Cluster.ClassA, 1) || r.Total.PerGiB != 0 || math.IsNaN(r.Total.PerHour) {
		t.Fatalf("%+v", r)
	}
}
