package e2e

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
)

// TestDevDerivesDefaultsFromWALBudget: `shale dev --wal-max-bytes 64MiB`
// starts (the default local_retain_bytes used to be more than half of
// it), prints the values it derived from the budget, and serves metrics
// and readiness on --metrics-listen. An explicit contradiction still
// fails, naming the setting.
func TestDevDerivesDefaultsFromWALBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the shale binary")
	}
	bin := proc.Binary(t)
	addrs := proc.FreeAddrs(t, 2)
	p := proc.Start(t, proc.Cmd{Name: "shale-dev", Path: bin, Args: []string{"dev",
		"--data-dir", t.TempDir(), "--listen", addrs[0], "--metrics-listen", addrs[1], "--wal-max-bytes", "64MiB"}})
	if err := p.WaitTCP(addrs[0], 60*time.Second); err != nil {
		t.Fatalf("shale dev --wal-max-bytes 64MiB did not start: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.LogPath())
		if out = string(b); strings.Contains(out, "ready; stop with Ctrl-C") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"wal segment_max_bytes 16MiB (derived: a quarter of wal max_bytes 64MiB",
		"tiering local_retain_bytes 16MiB (derived: a quarter of wal max_bytes 64MiB",
		"metrics on http://" + addrs[1] + "/metrics",
		"ready; stop with Ctrl-C",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get("http://" + addrs[1] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %s %s", resp.Status, body)
	}
	if err := p.Term(30 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}

	bad := proc.Start(t, proc.Cmd{Name: "shale-dev-contradiction", Path: bin, Args: []string{"dev",
		"--data-dir", t.TempDir(), "--listen", addrs[0], "--wal-max-bytes", "64MiB", "--local-retain-bytes", "256MiB"}})
	select {
	case <-bad.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("an explicit local_retain_bytes above half the WAL budget was accepted")
	}
	b, _ := os.ReadFile(bad.LogPath())
	if bad.ExitCode() != 2 || !strings.Contains(string(b), "local_retain_bytes 256MiB: must be between 0 and half of wal max_bytes 64MiB") {
		t.Errorf("exit %d, want 2 and a message naming local_retain_bytes:\n%s", bad.ExitCode(), b)
	}
}
