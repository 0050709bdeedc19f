package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFencedBrokerRegistersAgain runs a node of a one-controller cluster
// (so its heartbeat loop runs) and fences its broker while it is alive,
// as the controllers do when its session lapsed: its next heartbeat is
// refused as stale, it registers again under a new incarnation, and its
// Metadata answers list it again.
func TestFencedBrokerRegistersAgain(t *testing.T) {
	n, cfg := startHeartbeatNode(t, nil)
	id := cfg.Broker.NodeID
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	listed := func() bool {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range resp.Brokers {
			if b.NodeID == id {
				return true
			}
		}
		return false
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	before, ok := n.meta.Broker(id)
	if !ok || before.Fenced || !listed() {
		t.Fatalf("broker %d after start: %+v (registered %v)", id, before, ok)
	}
	if err := n.meta.FenceBroker(ctx, id, before.Incarnation); err != nil {
		t.Fatal(err)
	}
	if b, _ := n.meta.Broker(id); !b.Fenced {
		t.Fatalf("broker %d not fenced: %+v", id, b)
	}
	waitUntil("the fenced broker registers again", func() bool {
		b, _ := n.meta.Broker(id)
		return !b.Fenced
	})
	if b, _ := n.meta.Broker(id); b.Incarnation <= before.Incarnation {
		t.Fatalf("broker %d live again at incarnation %d, fenced at %d: want a new registration", id, b.Incarnation, before.Incarnation)
	}
	waitUntil("the broker is listed in Metadata again", listed)
}

// A broker removed while it runs (it leads nothing, so the controllers
// allow it) stays out of the broker list and says so once in its log.
func TestRemovedBrokerSaysSo(t *testing.T) {
	var logs proc.Buffer
	n, cfg := startHeartbeatNode(t, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	id := cfg.Broker.NodeID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, ok := n.meta.Broker(id); ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the broker never registered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(cfg.Metadata.SessionTimeout) / 2) // a heartbeat sees it registered
	if err := n.meta.UnregisterBroker(ctx, id); err != nil {
		t.Fatal(err)
	}
	const said = "removed from the cluster while running"
	for strings.Count(logs.String(), said) == 0 {
		if ctx.Err() != nil {
			t.Fatalf("no warning that the broker was removed; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(cfg.Metadata.SessionTimeout)) // several more heartbeats
	if c := strings.Count(logs.String(), said); c != 1 {
		t.Fatalf("the warning came %d times, want once", c)
	}
	if _, ok := n.meta.Broker(id); ok {
		t.Fatal("the removed broker registered again while running")
	}
}

// startHeartbeatNode starts a node of a one-controller cluster (so its
// heartbeat loop runs) with a one-second session.
func startHeartbeatNode(t *testing.T, logger *slog.Logger) (*Node, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Broker.Listen = "127.0.0.1:0"
	raft := proc.FreeAddrs(t, 1)[0]
	cfg.Metadata.RaftAddr = raft
	cfg.Metadata.Controllers = "1@" + raft
	cfg.Metadata.SessionTimeout = Duration(time.Second)
	cfg.Metadata.AutoLeaderBalance = false
	n, err := Start(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, cfg
}
