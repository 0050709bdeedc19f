// Package shaletest starts real Shale nodes for tests: in this process on a
// loopback port, or as a child `shale dev` process that can be killed with
// SIGKILL. Tests talk to them over real sockets with real clients.
package shaletest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config returns a node config for tests: loopback port 0, data under dir.
func Config(dir string) node.Config {
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	cfg.Broker.Listen = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	// acks=all is answered once the data is in the object store, at the
	// latest one segment age after it was written: keep that short so
	// tests that produce synchronously stay fast.
	cfg.WAL.SegmentMaxAge = node.Duration(25 * time.Millisecond)
	return cfg
}

// StartNode starts a node in this process with data in a fresh temp dir
// (or cfg.DataDir when mutate sets it) and closes it when the test ends.
func StartNode(t testing.TB, mutate func(*node.Config)) *node.Node {
	t.Helper()
	cfg := Config(t.TempDir())
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := node.Start(cfg, Logger(t))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// StartNodeLogging is StartNode with the node's log (info and up) also
// written to w, for tests that check what the broker reports.
func StartNodeLogging(t testing.TB, w io.Writer, mutate func(*node.Config)) *node.Node {
	t.Helper()
	cfg := Config(t.TempDir())
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(w, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.Start(cfg, logger)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// Admin returns a kadm client for addr.
func Admin(t testing.TB, addr string) *kadm.Client {
	return kadm.NewClient(Client(t, addr))
}

// Logger writes warnings and errors to the test log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Client returns a franz-go client for addr, closed when the test ends.
func Client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic through the admin API and fails the test on
// any error.
func CreateTopic(t testing.TB, addr, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(Client(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// RequireTool returns the path of an external program. A missing one skips
// the test, unless SHALE_REQUIRE_TOOLS=1, when it fails it.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (SHALE_REQUIRE_TOOLS=1) but not found: run scripts/test-deps.sh", name)
		}
		t.Skipf("%s not found; run scripts/test-deps.sh", name)
	}
	return p
}

var (
	buildMu    sync.Mutex
	buildPaths = map[string]string{}
)

// Binary builds cmd/shale once per test process and returns its path.
func Binary(t testing.TB) string { return Build(t, "./cmd/shale") }

// Build builds the command in pkg (relative to the module root, such as
// "./cmd/shale") once per test process and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := buildPaths[pkg]; ok {
		return path
	}
	dir, err := os.MkdirTemp("", "shale-bin-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	buildPaths[pkg] = path
	return path
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Process is a `shale dev` child process.
type Process struct {
	t       testing.TB
	cmd     *exec.Cmd
	Addr    string
	DataDir string
	logPath string
	done    chan struct{}
}

// StartProcess runs `shale dev --data-dir dataDir --listen 127.0.0.1:0
// args...` and waits until it reports its listener.
func StartProcess(t testing.TB, dataDir string, args ...string) *Process {
	t.Helper()
	p, addrCh := launch(t, dataDir, args...)
	p.awaitListener(addrCh)
	return p
}

// StartProcesses starts several `shale dev` processes at once (dataDirs[i]
// with args[i]) and waits for all of them: the nodes of a cluster, which
// cannot report ready before a quorum of them runs.
func StartProcesses(t testing.TB, dataDirs []string, args [][]string) []*Process {
	t.Helper()
	procs := make([]*Process, len(dataDirs))
	chans := make([]chan string, len(dataDirs))
	for i := range dataDirs {
		procs[i], chans[i] = launch(t, dataDirs[i], args[i]...)
	}
	for i := range procs {
		procs[i].awaitListener(chans[i])
	}
	return procs
}

func launch(t testing.TB, dataDir string, args ...string) (*Process, chan string) {
	t.Helper()
	bin := Binary(t)
	logPath := filepath.Join(t.TempDir(), "shale.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	full := append([]string{"dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start shale: %v", err)
	}
	p := &Process{t: t, cmd: cmd, DataDir: dataDir, logPath: logPath, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "Kafka listener on "); i >= 0 {
				select {
				case addrCh <- strings.TrimSpace(line[i+len("Kafka listener on "):]):
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.Kill() })
	return p, addrCh
}

func (p *Process) awaitListener(addrCh chan string) {
	p.t.Helper()
	select {
	case p.Addr = <-addrCh:
	case <-p.done:
		p.t.Fatalf("shale exited before listening:\n%s", p.Log())
	case <-time.After(150 * time.Second):
		// Longer than a cluster node waits for its quorum (2 minutes), so
		// a node that cannot find it exits with the reason in its log.
		p.Kill()
		p.t.Fatalf("shale did not report its listener within 150s:\n%s", p.Log())
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM and waits up to 30s for a clean exit.
func (p *Process) Stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Kill()
		return fmt.Errorf("shale did not stop within 30s")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("shale exited with code %d:\n%s", code, p.Log())
	}
	return nil
}

// Log returns what the process wrote to stderr.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Freeze stops the process with SIGSTOP; Thaw continues it (SIGCONT).
func (p *Process) Freeze() { p.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw continues a process Freeze stopped.
func (p *Process) Thaw() { p.cmd.Process.Signal(syscall.SIGCONT) }
