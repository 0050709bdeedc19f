package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shalelog/shale/loadtest"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

// The CPU step's figure until uploaded is the target's; the produce
// window alone is shown beside it, and both rows are in the table with
// their bytes and CPU seconds.
func TestCPUStep(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cpu", "cpu.json"), `{"records": 1000000, "warmup_records": 300000, "produce_cpu_seconds": 1.433, "uploaded_cpu_seconds": 1.6384, "produce_seconds": 6.1, "uploaded_seconds": 6.4}`+"\n")
	writeSummary(t, filepath.Join(dir, "cpu", "produce.json"), loadtest.Summary{Produce: &loadtest.Phase{Records: 1e6, Bytes: 1024e6, MBPerSec: 167.9}})
	// The in-profile window of the produce profile, as before: not the
	// target's figure once the step ran.
	writeFile(t, filepath.Join(dir, "shale-produce1k.cpu"), "0.84\n")
	r := &results{}
	r.Shale.Produce1K = &loadtest.Summary{Produce: &loadtest.Phase{Bytes: 307200000, MBPerSec: 170}}
	r.Kfake.Produce1K = &loadtest.Summary{Produce: &loadtest.Phase{MBPerSec: 150}}
	c, err := loadCPU(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Step == nil {
		t.Fatal("no CPU step loaded")
	}
	if got := c.Step.uploaded().perGB(); got < 1.5999 || got > 1.6001 {
		t.Errorf("until uploaded %.4f CPU-s/GB, want 1.6", got)
	}
	var cpuT *target
	ts := latencyTargets(nil, c, r)
	for i := range ts {
		if ts[i].what == cpuTargetName {
			cpuT = &ts[i]
		}
	}
	if cpuT == nil {
		t.Fatalf("no CPU target in %+v", ts)
	}
	if want := "1.60 CPU-s/GB until uploaded (1.07x of the limit; produce window alone 1.40)"; cpuT.measured != want || cpuT.ok {
		t.Errorf("CPU target %+v, want measured %q and missed", *cpuT, want)
	}
	var b bytes.Buffer
	writeLatencyTable(&b, nil, c)
	for _, want := range []string{
		"| produce 1000000 x 1 KiB, acks=1, fresh broker after a 300000-record warm-up: the produce alone (6.1 s, 167.9 MB/s) | 1.43 | 1024000000 | 1.40 |",
		"| the same, until all of it was uploaded (6.4 s from the start) | 1.64 | 1024000000 | 1.60 |",
		"| produce 1 KiB, acks=1: the profile's own window, on the broker of the four profiles | 0.84 | 307200000 | 2.73 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	// Under the limit: met.
	c.Step.UploadedCPUSeconds = 1.5
	if ts := latencyTargets(nil, c, r); !ts[len(ts)-1].ok {
		t.Errorf("1.46 CPU-s/GB judged missed: %+v", ts[len(ts)-1])
	}
	// Without the step (older results), the profile's window is judged
	// and says so.
	c.Step = nil
	ts = latencyTargets(nil, c, r)
	if got := ts[len(ts)-1]; got.what != cpuTargetName || got.measured != "2.73 CPU-s/GB, produce profile's window (1.82x of the limit)" || got.ok {
		t.Errorf("fallback target %+v", got)
	}
}

func TestCPUStepBroken(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cpu", "cpu.json"), `{"records": 10, "produce_cpu_seconds": 1, "uploaded_cpu_seconds": 2}`)
	if _, err := loadCPUStep(dir); err == nil {
		t.Error("cpu.json without produce.json loaded")
	}
	writeSummary(t, filepath.Join(dir, "cpu", "produce.json"), loadtest.Summary{Produce: &loadtest.Phase{Bytes: 1e9}})
	writeFile(t, filepath.Join(dir, "cpu", "cpu.json"), `{"records": 10, "produce_cpu_seconds": 2, "uploaded_cpu_seconds": 1}`)
	if _, err := loadCPUStep(dir); err == nil {
		t.Error("CPU until uploaded below the produce window's loaded")
	}
	if s, err := loadCPUStep(t.TempDir()); s != nil || err != nil {
		t.Errorf("no step: %v, %v", s, err)
	}
}

// The cold runs' CPU files are read with the bytes of their runs, and the
// table gives each process's CPU-s per GB, the total, what the cores would
// allow at that total, and the CPU bound of each replay against raw GET.
func TestColdCPU(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "objtier")
	writeFile(t, filepath.Join(d, "count.txt"), "1000000\n")
	writeSummary(t, filepath.Join(d, "produce.json"), loadtest.Summary{Produce: &loadtest.Phase{Records: 1e6, Bytes: 1024e6}})
	stats := `msg="tiering stats" objects_uploaded=10 bytes_uploaded=1024000000 upload_pending_segments=0 s3_class_a=20 s3_class_b=30` + "\n"
	writeFile(t, filepath.Join(d, "stats-after-load.txt"), stats)
	writeFile(t, filepath.Join(d, "stats-after-idle.txt"), stats)
	for i, mb := range []float64{500, 600} {
		n := string(rune('1' + i))
		writeSummary(t, filepath.Join(d, "consume-"+n+".json"), loadtest.Summary{Consume: &loadtest.Phase{Bytes: 2e9, MBPerSec: mb}})
		writeJSONFile(t, filepath.Join(d, "replay-"+n+".json"), replayResult{Bytes: 2e9, MBPerSec: mb + 200})
		writeJSONFile(t, filepath.Join(d, "rawget5-"+n+".json"), rawGetResult{Bytes: 1e9, MBPerSec: 1400})
		// Per GB: MinIO 1.0, broker 0.8, client 2.2 for the consume
		// runs (8.0 CPU-s over 2 GB); raw Fetch's client 0.7; raw GET's
		// MinIO 1.0 and client 0.8 over 1 GB, no broker.
		writeFile(t, filepath.Join(d, "cpu-consume-"+n+".json"), `{"minio_cpu_seconds": 2.0, "broker_cpu_seconds": 1.6, "client_cpu_seconds": 4.4}`)
		writeFile(t, filepath.Join(d, "cpu-replay-"+n+".json"), `{"minio_cpu_seconds": 2.0, "broker_cpu_seconds": 1.6, "client_cpu_seconds": 1.4}`)
		writeFile(t, filepath.Join(d, "cpu-rawget5-"+n+".json"), `{"minio_cpu_seconds": 1.0, "broker_cpu_seconds": 0, "client_cpu_seconds": 0.8}`)
	}
	o, err := loadObjtier(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.CPU["consume"]) != 2 || len(o.CPU["replay"]) != 2 || len(o.CPU["rawget5"]) != 2 || len(o.CPU["consume-warm"]) != 0 {
		t.Fatalf("CPU runs %+v", o.CPU)
	}
	if c := sumCPU(o.CPU["consume"]); c.bytes != 4e9 || c.total != 4 || c.allows(2) != 0.5 {
		t.Errorf("consume sum %+v", c)
	}
	o.Cores = 2
	var b bytes.Buffer
	writeColdCPUTable(&b, o, figuresOf(o))
	for _, want := range []string{
		"| run | runs, GB read | MinIO | broker | client | total | 2 cores allow (2 / total) | measured (median) |",
		"| cold replay, `shale loadtest consume`, fresh broker | 2, 4.00 | 1.00 | 0.80 | 2.20 | 4.00 | 0.50 GB/s | 550.0 MB/s |",
		"| cold replay, raw Fetch (`objtier replay`) | 2, 4.00 | 1.00 | 0.80 | 0.70 | 2.50 | 0.80 GB/s | 750.0 MB/s |",
		"| raw ranged GET, 5 in flight (`objtier rawget`, no broker) | 2, 2.00 | 1.00 | none running | 0.80 | 1.80 | 1.11 GB/s | 1400.0 MB/s |",
		"raw GET's total CPU-s per GB / the replay's): loadtest consume 0.45x (measured 0.39x); raw Fetch 0.72x (measured 0.54x).",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	// A CPU file whose run left no result is an error, not a row of
	// zero bytes.
	os.Remove(filepath.Join(d, "replay-2.json"))
	if _, err := loadObjtier(dir); err == nil {
		t.Error("cpu-replay-2.json without replay-2.json loaded")
	}
	// Older results without CPU files: no table.
	o.CPU = nil
	b.Reset()
	writeColdCPUTable(&b, o, figuresOf(o))
	if b.Len() != 0 {
		t.Errorf("table without CPU files: %q", b.String())
	}
}
