package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTopicsDescribeCompaction: `topics describe` of a compacted topic
// shows each partition's dirty ratio, last compaction and bytes reclaimed.
func TestTopicsDescribeCompaction(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) { c.Tiering.KeyCompactionInterval = 0 })
	addr := n.Addr()
	mustCLI(t, addr, "topics", "create", "table", "--partitions", "2", "--config", "cleanup.policy=compact", "--config", "min.cleanable.dirty.ratio=0.1")
	r := mustCLI(t, addr, "topics", "describe", "table")
	findRow(t, r.stdout, "PARTITION", "LEADER", "EPOCH", "LOG-START", "HIGH-WATERMARK", "DIRTY-RATIO", "LAST-COMPACTION", "RECLAIMED")
	wantFields(t, findRow(t, r.stdout, "0"), 5, "0.00", "never", "0B")

	cl := producer(t, addr)
	ctx := adminContext(t)
	for i := range 200 {
		rec := &kgo.Record{Topic: "table", Partition: 0, Key: []byte(fmt.Sprintf("k%d", i%10)), Value: []byte(fmt.Sprintf("v%d", i))}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.RunKeyCompaction(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = mustCLI(t, addr, "topics", "describe", "table", "-o", "json")
	var described []topicDescription
	if err := json.Unmarshal([]byte(r.stdout), &described); err != nil {
		t.Fatalf("describe --output json: %v\n%s", err, r.stdout)
	}
	c := described[0].Details[0].Compaction
	if c == nil || c.Passes == 0 || c.Reclaimed <= 0 || c.LastCompaction == 0 || c.DirtyRatio != 0 {
		t.Fatalf("partition 0 compaction %+v", c)
	}
	r = mustCLI(t, addr, "topics", "describe", "table")
	fields := findRow(t, r.stdout, "0")
	if len(fields) < 8 || fields[6] == "never" || !strings.HasSuffix(fields[7], "B") {
		t.Fatalf("partition 0 row %q", fields)
	}
	if _, err := time.Parse(time.RFC3339, fields[6]); err != nil {
		t.Fatalf("last compaction %q: %v", fields[6], err)
	}
	// A topic that is not compacted shows no compaction columns.
	mustCLI(t, addr, "topics", "create", "plain")
	r = mustCLI(t, addr, "topics", "describe", "plain")
	if strings.Contains(r.stdout, "DIRTY-RATIO") {
		t.Fatalf("compaction columns for a delete topic:\n%s", r.stdout)
	}
}
