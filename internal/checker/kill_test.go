package checker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/checker"
	"github.com/shalelog/shale/internal/netproxy"
	"github.com/shalelog/shale/internal/proc"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKill9DuringIdempotentLoad is the harness end to end against one
// `shale dev` process: an idempotent acks=all load and a tail consumer,
// both through a proxy in front of the Kafka port, a kill -9 in the middle
// of the load, a restart on the same data directory, more load, then the
// whole log read back and verified. Nothing acknowledged may be lost or
// written twice, and nothing read may disappear.
// shaleNode is one `shale dev` process on a fixed loopback port behind a
// proxy that every client goes through.
type shaleNode struct {
	t       *testing.T
	cmd     proc.Cmd
	listen  string
	proxy   *netproxy.Proxy
	brokers []string
}

func newShaleNode(t *testing.T) *shaleNode {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the shale binary")
	}
	bin := proc.Binary(t)
	dataDir := t.TempDir()
	listen := proc.FreeAddrs(t, 1)[0]
	proxy, err := netproxy.New(listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	return &shaleNode{
		t:      t,
		listen: listen,
		proxy:  proxy,
		cmd: proc.Cmd{
			Name: "shale",
			Path: bin,
			Args: []string{"dev", "--data-dir", dataDir, "--listen", listen,
				// Clients reach the broker through the proxy only.
				"--advertised", proxy.Addr(),
				"--wal-segment-age", "25ms", "--log-level", "warn"},
		},
		brokers: []string{proxy.Addr()},
	}
}

// start starts the process (again, on the same data directory) and waits
// until it listens.
func (n *shaleNode) start() *proc.Process {
	n.t.Helper()
	p := proc.Start(n.t, n.cmd)
	if err := p.WaitTCP(n.listen, 60*time.Second); err != nil {
		n.t.Fatal(err)
	}
	return p
}

// startLoad creates the topic and starts a tail consumer and an
// idempotent acks=all load on it.
func (n *shaleNode) startLoad(ctx context.Context, topic string, rec *checker.Recorder) (*checker.Load, *checker.Tail) {
	n.t.Helper()
	createTopic(ctx, n.t, n.brokers, topic, 3)
	tail, err := checker.StartTail(ctx, n.brokers, topic, "tail", rec)
	if err != nil {
		n.t.Fatal(err)
	}
	load, err := checker.StartLoad(ctx, checker.LoadConfig{
		Brokers: n.brokers, Topic: topic, Producers: 2, Idempotent: true,
		Duration: time.Minute, // a bound in case a step stalls
	}, rec)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { load.Stop(); tail.Stop() })
	return load, tail
}

// finish stops the load and the tail, reads the log back, prints the
// figures and fails the test on any violation.
func (n *shaleNode) finish(ctx context.Context, topic string, rec *checker.Recorder, load *checker.Load, tail *checker.Tail, figures ...string) {
	n.t.Helper()
	stats := load.Stop()
	tailErrs, tailErr := tail.Stop()
	final, err := checker.ReadLog(ctx, n.brokers, topic)
	if err != nil {
		n.t.Fatal(err)
	}
	rep := rec.Verify(final)
	n.t.Logf("load: %v; tail: %d records read, %d fetch errors (last: %v)", stats, tail.Read(), tailErrs, tailErr)
	for _, f := range figures {
		n.t.Log(f)
	}
	n.t.Logf("report:\n%s", rep)
	if rep.Count(checker.Lost) != 0 || rep.Count(checker.Duplicated) != 0 {
		n.t.Errorf("%d acknowledged records lost, %d duplicated", rep.Count(checker.Lost), rep.Count(checker.Duplicated))
	}
	if err := rep.Err(); err != nil {
		n.t.Fatal(err)
	}
}

const (
	acksBefore = 2000 // acknowledgements before the fault
	acksAfter  = 2000 // acknowledgements after recovery
)

// TestKill9DuringIdempotentLoad is the harness end to end against one
// `shale dev` process: an idempotent acks=all load and a tail consumer,
// both through a proxy in front of the Kafka port, a kill -9 in the middle
// of the load, a restart on the same data directory, more load, then the
// whole log read back and verified. Nothing acknowledged may be lost or
// written twice, and nothing read may disappear.
func TestKill9DuringIdempotentLoad(t *testing.T) {
	n := newShaleNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := n.start()
	rec := checker.NewRecorder()
	load, tail := n.startLoad(ctx, "kill9", rec)
	if err := rec.WaitAcked(ctx, acksBefore); err != nil {
		t.Fatalf("before the kill: %v", err)
	}

	node.Kill9()
	killed := time.Now()
	ackedAtKill := rec.Acked()
	node = n.start()
	listening := time.Since(killed)
	restarted := time.Now()
	recoverCtx, cancelRecover := context.WithTimeout(ctx, 30*time.Second)
	defer cancelRecover()
	firstAck, err := rec.WaitAckAfter(recoverCtx, restarted)
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if err := rec.WaitAcked(ctx, rec.Acked()+acksAfter); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	n.finish(ctx, "kill9", rec, load, tail,
		fmt.Sprintf("acked before the kill:      %d", ackedAtKill),
		fmt.Sprintf("listening again after:      %v", listening.Round(time.Millisecond)),
		fmt.Sprintf("time to recover:            %v (kill to first ack after restart)", firstAck.Sub(killed).Round(time.Millisecond)))
	if err := node.Term(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestLinkCutDuringIdempotentLoad cuts every client connection to the
// broker in the middle of the load, refuses new ones for a while, then
// heals the link: requests the broker has taken but whose answers never
// arrived are retried by the idempotent producer, and must not be written
// twice.
func TestLinkCutDuringIdempotentLoad(t *testing.T) {
	n := newShaleNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := n.start()
	rec := checker.NewRecorder()
	load, tail := n.startLoad(ctx, "cut", rec)
	if err := rec.WaitAcked(ctx, acksBefore); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	n.proxy.Cut()
	cut := time.Now()
	ackedAtCut := rec.Acked()
	time.Sleep(500 * time.Millisecond)
	n.proxy.Heal()
	healed := time.Now()
	recoverCtx, cancelRecover := context.WithTimeout(ctx, 30*time.Second)
	defer cancelRecover()
	firstAck, err := rec.WaitAckAfter(recoverCtx, healed)
	if err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	if err := rec.WaitAcked(ctx, rec.Acked()+acksAfter); err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	n.finish(ctx, "cut", rec, load, tail,
		fmt.Sprintf("acked before the cut:       %d", ackedAtCut),
		fmt.Sprintf("link cut for:               %v", healed.Sub(cut).Round(time.Millisecond)),
		fmt.Sprintf("time to recover:            %v (heal to first ack)", firstAck.Sub(healed).Round(time.Millisecond)))
	if err := node.Term(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func createTopic(ctx context.Context, t *testing.T, brokers []string, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}
