package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The child's output passes through, its exit code comes back, and the
// file holds its CPU time: a shell loop that burns CPU for a while shows
// more than nothing, and user+system is their sum.
func TestRusage(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	out := filepath.Join(t.TempDir(), "cpu.json")
	var stdout, stderr bytes.Buffer
	code := runRusage([]string{"--out", out, "--", "/bin/sh", "-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done; exit 3`},
		strings.NewReader(""), &stdout, &stderr)
	if code != 3 {
		t.Fatalf("exit code %d, want 3 (stderr %q)", code, stderr.String())
	}
	if stdout.String() != "done\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r rusageResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.CPUSeconds <= 0 || r.CPUSeconds != r.UserSeconds+r.SystemSeconds || r.ExitCode != 3 {
		t.Fatalf("result %+v", r)
	}
	if r.CPUSeconds > r.WallSeconds*4 {
		t.Fatalf("CPU %.3f s in %.3f s of wall time", r.CPUSeconds, r.WallSeconds)
	}
}

func TestRusageUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runRusage([]string{"--", "true"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("without --out: exit code %d, want 2", code)
	}
	out := filepath.Join(t.TempDir(), "cpu.json")
	if code := runRusage([]string{"--out", out, "--", "/nonexistent/command"}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("a command that cannot start: exit code %d, want 1", code)
	}
}
