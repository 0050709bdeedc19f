package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/loadtest"
)

func writeSummary(t *testing.T, path string, s loadtest.Summary) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func phase(records int64, p50, p99 time.Duration) *loadtest.Phase {
	return &loadtest.Phase{Records: records, Bytes: records * 100, Latency: &loadtest.Latency{P50: p50, P99: p99}}
}

// The latency step's files become one verdict per issue 14 target, each
// with its ratio.
func TestLatencyTargets(t *testing.T) {
	dir := t.TempDir()
	writeSummary(t, filepath.Join(dir, "lat-age250-all.json"), loadtest.Summary{
		Produce: phase(200000, 20*time.Millisecond, 90*time.Millisecond), Consume: phase(200000, 15*time.Millisecond, 95*time.Millisecond)})
	writeSummary(t, filepath.Join(dir, "lat-age50-all.json"), loadtest.Summary{
		Produce: phase(200000, 20*time.Millisecond, 120*time.Millisecond), Consume: phase(200000, 15*time.Millisecond, 95*time.Millisecond)})
	writeSummary(t, filepath.Join(dir, "lat-age250-all-pipe.json"), loadtest.Summary{
		Produce: phase(400000, 140*time.Millisecond, 310*time.Millisecond), Consume: phase(400000, 145*time.Millisecond, 315*time.Millisecond)})
	writeSummary(t, filepath.Join(dir, "lat-age250-1.json"), loadtest.Summary{
		Produce: phase(200000, 2*time.Millisecond, 4*time.Millisecond)})
	writeSummary(t, filepath.Join(dir, "lat-seq.json"), loadtest.Summary{Elapsed: 9 * time.Second, Produce: phase(1000, 8*time.Millisecond, 20*time.Millisecond)})
	os.WriteFile(filepath.Join(dir, "lat-seq.puts"), []byte("1000\n"), 0o644)
	l, err := loadLatency(dir)
	if err != nil || l == nil {
		t.Fatalf("loadLatency: %v, %v", l, err)
	}
	r := &results{}
	r.Shale.Produce1K = &loadtest.Summary{Produce: &loadtest.Phase{Bytes: 2e9, MBPerSec: 100}}
	r.Kfake.Produce1K = &loadtest.Summary{Produce: &loadtest.Phase{MBPerSec: 110}}
	os.WriteFile(filepath.Join(dir, "shale-produce1k.cpu"), []byte("2.5\n"), 0o644)
	c, err := loadCPU(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Produce1K.perGB(); got != 1.25 {
		t.Fatalf("CPU per GB %.3f, want 1.25", got)
	}
	want := map[string]bool{
		"acks=all produce p99, 20,000 rec/s, segment age 250ms, upload burst spent, " + idempotentClient: true,
		"acks=all produce p99, 20,000 rec/s, segment age 250ms, upload burst spent, " + pipeClient:       false, // 310ms > 300ms
		"acks=all produce p99, 20,000 rec/s, segment age 50ms, upload burst spent, " + idempotentClient:  false, // 120ms > 100ms
		"produce → consume p99 minus acks=all ack p99 (age 250ms, burst spent, " + pipeClient + ")":      true,  // the pipelining run's gap: 5ms
		"acks=1 produce p99 at 20,000 rec/s, no linger":                                                  true,
		"1000 sequential acks=all writes, one in flight, embedded store":                                 true,
		"produce 1 KiB vs kfake, same client, incompressible":                                            false,
		"broker CPU per GB produced (acks=1, 1 KiB, incompressible)":                                     true,
	}
	ts := latencyTargets(l, c, r)
	if len(ts) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(ts), len(want), ts)
	}
	for _, tg := range ts {
		ok, known := want[tg.what]
		if !known {
			t.Fatalf("unexpected target %q", tg.what)
		}
		if tg.ok != ok {
			t.Errorf("%s: %s judged %v, want %v", tg.what, tg.measured, tg.ok, ok)
		}
		if !strings.Contains(tg.measured, "x") && !strings.Contains(tg.measured, "consume p99") {
			t.Errorf("%s: %q carries no ratio", tg.what, tg.measured)
		}
	}
}
