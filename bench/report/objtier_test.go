package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shalelog/shale/loadtest"
)

func TestParseStats(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	line := `time=2026-11-23T14:51:25.043Z level=INFO msg="tiering stats" objects_uploaded=272 bytes_uploaded=2168739980 upload_pending_segments=0 s3_class_a=479 s3_class_b=2070` + "\n"
	if err := os.WriteFile(good, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := parseStats(good)
	if err != nil {
		t.Fatal(err)
	}
	if statInt(m, "s3_class_a") != 479 || statInt(m, "bytes_uploaded") != 2168739980 {
		t.Fatalf("parsed %v", m)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("shale dev: Kafka listener on 127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseStats(bad); err == nil {
		t.Fatal("a line without s3_class_a parsed")
	}
}

func TestObjtierTargets(t *testing.T) {
	consume := func(mb float64) *loadtest.Summary {
		return &loadtest.Summary{Consume: &loadtest.Phase{MBPerSec: mb}}
	}
	o := &objtierResults{
		Count:     1 << 20,
		StatsLoad: map[string]string{"bytes_uploaded": "2147483648", "s3_class_a": "300"},
		StatsIdle: map[string]string{"s3_class_a": "301"},
		Consume:   []*loadtest.Summary{consume(100), consume(450), consume(410)},
		RawGet5:   []rawGetResult{{MBPerSec: 500}, {MBPerSec: 520}, {MBPerSec: 100}},
		FetchBase: fetchRuns{Start: []fetchResult{{MedianMs: 10}, {MedianMs: 12}, {MedianMs: 90}}},
		FetchLong: fetchRuns{Start: []fetchResult{{MedianMs: 13}}},
	}
	ts := objtierTargets(o)
	if len(ts) != 4 {
		t.Fatalf("%d targets, want 4", len(ts))
	}
	// Medians: consume 410, raw 500 -> 0.82x, met.
	if ts[0].measured != "0.82x" || !ts[0].ok {
		t.Errorf("cold replay: %+v", ts[0])
	}
	// 300 class A over 2 GiB = 150 per GiB, met.
	if ts[1].measured != "150" || !ts[1].ok {
		t.Errorf("class A per GiB: %+v", ts[1])
	}
	// One class A while idle: missed.
	if ts[2].measured != "1" || ts[2].ok {
		t.Errorf("idle: %+v", ts[2])
	}
	// Fetch medians 12 -> 13 ms: 1.08x, met.
	if !ts[3].ok {
		t.Errorf("fetch growth: %+v", ts[3])
	}
	o.FetchLong.Start[0].MedianMs = 30
	if ts := objtierTargets(o); ts[3].ok {
		t.Errorf("fetch 2.5x slower counted as met: %+v", ts[3])
	}
	// With warm-store runs in both histories, those are compared: a long
	// history whose cold Fetch read the disk (30 ms) but whose warm Fetch
	// matches the short one is met.
	o.FetchBase.Warm = []fetchResult{{MedianMs: 8}, {MedianMs: 9}, {MedianMs: 40}}
	o.FetchLong.Warm = []fetchResult{{MedianMs: 9.5}}
	if ts := objtierTargets(o); !ts[3].ok || ts[3].measured != "1.06x (9.5 ms vs 9.0 ms)" {
		t.Errorf("warm fetch growth: %+v", ts[3])
	}
	o.FetchLong.Warm[0].MedianMs = 20
	if ts := objtierTargets(o); ts[3].ok {
		t.Errorf("warm fetch 2.2x slower counted as met: %+v", ts[3])
	}
	// A second replay on each broker adds its own target, after the
	// first: medians 300 vs 500 -> 0.60x, missed.
	o.ConsumeWarm = []*loadtest.Summary{consume(300), consume(290), consume(600)}
	ts = objtierTargets(o)
	if len(ts) != 5 || ts[1].measured != "0.60x" || ts[1].ok || ts[0].measured != "0.82x" {
		t.Errorf("with a second replay: %+v", ts)
	}
}
