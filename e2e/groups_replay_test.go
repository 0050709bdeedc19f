package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"os/exec"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupsReprocessFromObjectTier: a group that has read and committed
// everything is reset to earliest with `shale groups reset-offsets` after
// its data moved to the object tier and the local WAL was trimmed; the
// group then reprocesses the whole history, record for record, from the
// object store.
func TestGroupsReprocessFromObjectTier(t *testing.T) {
	bin := shaletest.Binary(t)
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Tiering.LocalRetainBytes = 0 // trim every segment once uploaded
		c.WAL.SegmentMaxBytes = 256 << 10
		c.Broker.GroupInitialRebalanceDelay = 0
		// A cache far smaller than the history, so the replay must GET it
		// again rather than find it cached from the first pass.
		c.Tiering.BlockSize = 64 << 10
		c.Tiering.CacheBytes = 256 << 10
	})
	const topic, group, count, size = "history", "replayers", 20000, 300
	shaletest.CreateTopic(t, n.Addr(), topic, 4, nil)
	produceRange(t, shaletest.Client(t, n.Addr()), topic, 0, count, size)

	consumeGroup := func(label string) {
		t.Helper()
		cl := shaletest.Client(t, n.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		seen := make([]bool, count)
		got := 0
		for got < count {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: %d of %d records", label, got, count)
			}
			fs.EachError(func(tp string, p int32, err error) { t.Fatalf("%s: fetch %s/%d: %v", label, tp, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				i := binary.BigEndian.Uint64(r.Key)
				if i >= count || seen[i] {
					t.Fatalf("%s: record %d twice or out of range", label, i)
				}
				if !bytes.Equal(r.Value, recordValue(i, size)) {
					t.Fatalf("%s: record %d differs", label, i)
				}
				seen[i] = true
				got++
			})
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("%s: commit: %v", label, err)
		}
		cl.Close() // leaves the group, so it is Empty for the reset
	}
	consumeGroup("first pass")

	// Everything is in the object store and the WAL kept nothing of it.
	before := n.Stats()
	if before.Uploader.Trimmed == 0 {
		t.Fatalf("no WAL segment was trimmed: %+v", before.Uploader)
	}
	out, err := exec.Command(bin, "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--brokers", n.Addr()).CombinedOutput()
	if err != nil {
		t.Fatalf("shale groups reset-offsets: %v\n%s", err, out)
	}
	t.Logf("shale groups reset-offsets:\n%s", out)
	consumeGroup("after reset")
	after := n.Stats()
	if after.Reader.Gets <= before.Reader.Gets {
		t.Fatalf("the replay did not read from the object store: gets %d -> %d", before.Reader.Gets, after.Reader.Gets)
	}
	t.Logf("replay: %d GETs, %d bytes from the object store", after.Reader.Gets-before.Reader.Gets, after.Reader.GetBytes-before.Reader.GetBytes)
}
