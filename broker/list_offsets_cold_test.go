package broker_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ListOffsets by timestamp on a partition that lives in the object tier, as
// one large compacted extent, reads the object's footer and about one
// sparse block, not the extent up to the answer: counted on the bucket's
// request counters.
func TestListOffsetsByTimeColdUsesSparseIndex(t *testing.T) {
	const (
		records   = 12 << 10 // of 1 KiB: 12 MiB
		valueSize = 1 << 10
		baseTs    = 1_700_000_000_000
	)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Tiering.LocalRetainBytes = 0 // every uploaded segment leaves the WAL
		c.Tiering.BlockSize = 64 << 10
		c.Tiering.ReadAhead = 0
		c.Tiering.CompactionInterval = 0 // run by hand below
		c.Tiering.CompactionMinExtents = 2
		c.Tiering.CompactionTarget = 64 << 20
	})
	shaletest.CreateTopic(t, n.Addr(), "times", 1, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < records; i += 512 {
		rs := make([]*kgo.Record, 512)
		for j := range rs {
			value := make([]byte, valueSize)
			for k := range value {
				value[k] = byte(rng.Uint32())
			}
			rs[j] = &kgo.Record{Topic: "times", Value: value, Timestamp: time.UnixMilli(int64(baseTs + i + j))}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	res, err := n.RunCompaction(ctx)
	if err != nil {
		t.Fatalf("compaction: %v", err)
	}
	t.Logf("compaction: %+v", res)

	adm := kadm.NewClient(cl)
	before := n.Bucket().Stats()
	const target = records * 3 / 4
	lo, err := adm.ListOffsetsAfterMilli(ctx, baseTs+target, "times")
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	got := n.Bucket().Stats().Sub(before)
	o, _ := lo.Lookup("times", 0)
	if o.Offset != target || o.Timestamp != baseTs+target {
		t.Fatalf("offset for time %d: offset %d timestamp %d, want %d", baseTs+target, o.Offset, o.Timestamp, target)
	}
	t.Logf("lookup read %d bytes in %d GETs", got.BytesOut, got.Reads)
	// The footer's tail read (64 KiB) and the blocks of about one sparse
	// block (256 KiB): far below the 9 MiB before the answer.
	if got.BytesOut > 1<<20 {
		t.Fatalf("the lookup read %d bytes in %d GETs from the object store, want at most 1 MiB", got.BytesOut, got.Reads)
	}
}
