package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDevCluster runs `shale dev --cluster 3` as a newcomer would: it
// prints a bootstrap list, a franz-go client produces and consumes through
// it with leaders on all three nodes, `shale cluster status` shows three
// live brokers, and SIGTERM stops it cleanly.
func TestDevCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cmd := exec.Command(shaletest.Binary(t), "dev", "--cluster", "3", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "info")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var bootstrap, controller string
	var stdout []string
	deadline := time.After(90 * time.Second)
	for bootstrap == "" || controller == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("shale dev --cluster 3 exited:\n%s\n%s", strings.Join(stdout, "\n"), stderr.String())
			}
			stdout = append(stdout, l)
			if v, ok := strings.CutPrefix(l, "shale dev: bootstrap servers "); ok {
				bootstrap = v
			}
			if _, v, ok := strings.Cut(l, "shale cluster status --controller "); ok {
				controller = v
			}
		case <-deadline:
			t.Fatalf("no bootstrap list within 90s:\n%s\n%s", strings.Join(stdout, "\n"), stderr.String())
		}
	}
	brokers := strings.Split(bootstrap, ",")
	if len(brokers) != 3 {
		t.Fatalf("bootstrap %q: want 3 brokers", bootstrap)
	}
	adm := shaletest.Admin(t, brokers[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "dev"); err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]bool{}
	for len(leaders) != 3 {
		td, err := adm.ListTopics(ctx, "dev")
		if err != nil || ctx.Err() != nil {
			t.Fatalf("partition leaders %v: want all three nodes (%v)", leaders, err)
		}
		for _, p := range td["dev"].Partitions {
			leaders[p.Leader] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl := shaletest.Client(t, brokers[0], kgo.DefaultProduceTopic("dev"), kgo.ConsumeTopics("dev"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < 30 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 30", got)
		}
		got += fs.NumRecords()
	}
	status, err := exec.Command(shaletest.Binary(t), "cluster", "status", "--controller", controller).CombinedOutput()
	if err != nil || len(regexp.MustCompile(`(?m)^\d+\s+\S+\s+live\s`).FindAll(status, -1)) != 3 {
		t.Fatalf("shale cluster status: %v\n%s", err, status)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("did not stop within 60s of SIGTERM")
	}
}
