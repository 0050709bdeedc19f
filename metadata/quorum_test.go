package metadata

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
)

// tcpQuorum starts 3 controllers and the given number of non-voting
// brokers over real TCP on loopback, opened concurrently as separate
// processes would be.
func tcpQuorum(t *testing.T, brokers int, session time.Duration) []*Store {
	t.Helper()
	return tcpQuorumWith(t, brokers, session, nil)
}

// tcpQuorumWith is tcpQuorum with each node's config changed by mutate.
func tcpQuorumWith(t *testing.T, brokers int, session time.Duration, mutate func(*Config)) []*Store {
	t.Helper()
	addrs := proc.FreeAddrs(t, 3+brokers)
	var peers []Peer
	for i := range 3 {
		peers = append(peers, Peer{ID: int32(i + 1), Addr: addrs[i]})
	}
	stores := make([]*Store, len(addrs))
	errs := make(chan error, len(addrs))
	for i := range addrs {
		go func() {
			cfg := testConfig(t, t.TempDir())
			cfg.NodeID = int32(i + 1)
			cfg.RaftAddr = addrs[i]
			cfg.Controllers = peers
			cfg.Bootstrap = false
			cfg.SessionTimeout = session
			cfg.HeartbeatTimeout = 100 * time.Millisecond
			cfg.ElectionTimeout = 100 * time.Millisecond
			cfg.StartTimeout = 20 * time.Second
			if mutate != nil {
				mutate(&cfg)
			}
			s, err := Open(cfg)
			stores[i] = s
			errs <- err
		}()
	}
	for range addrs {
		if err := <-errs; err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	return stores
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQuorumForwardsWritesFromNonVoters(t *testing.T) {
	stores := tcpQuorum(t, 2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := stores[4] // a non-voting broker
	for i, s := range stores[3:] {
		if _, err := s.RegisterBroker(ctx, Broker{ID: int32(4 + i), Host: "127.0.0.1", Port: int32(9000 + i)}); err != nil {
			t.Fatalf("register broker %d: %v", 4+i, err)
		}
	}
	top, err := b.CreateTopic(ctx, "t", 4, nil)
	if err != nil {
		t.Fatalf("create topic through a non-voter: %v", err)
	}
	// The write is visible where it was made when it returns.
	if got, ok := b.Topic("t"); !ok || got.ID != top.ID {
		t.Fatalf("topic not visible on the proposing node: %+v %v", got, ok)
	}
	// State-machine rejections come back as the same errors.
	if _, err := b.CreateTopic(ctx, "t", 1, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("second create: %v", err)
	}
	// Leaders spread over the two live brokers.
	count := map[int32]int{}
	for _, p := range top.Partitions {
		count[p.Leader]++
	}
	if count[4] != 2 || count[5] != 2 {
		t.Fatalf("leaders %+v", top.Partitions)
	}
	// Results that carry values: producer id blocks never overlap.
	first, err := b.AllocateProducerIDs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	second, err := stores[3].AllocateProducerIDs(ctx, 10)
	if err != nil || second < first+10 && first < second+10 {
		t.Fatalf("producer id blocks %d and %d overlap (err %v)", first, second, err)
	}
	// Every node converges, voters and non-voters.
	for i, s := range stores {
		waitFor(t, "node "+strconv.Itoa(i+1)+" to see the topic", func() bool { _, ok := s.Topic("t"); return ok })
	}
}

func TestQuorumFencesBrokerWhoseSessionLapses(t *testing.T) {
	stores := tcpQuorum(t, 2, 600*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	regs := map[int32]Broker{}
	for i, s := range stores[3:] {
		reg, err := s.RegisterBroker(ctx, Broker{ID: int32(4 + i), Host: "127.0.0.1", Port: int32(9000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		regs[reg.ID] = reg
	}
	// Broker 4 heartbeats; broker 5 goes silent.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				hctx, hcancel := context.WithTimeout(ctx, time.Second)
				stores[3].Heartbeat(hctx, 4, regs[4].Incarnation)
				hcancel()
			}
		}
	}()
	if _, err := stores[3].CreateTopic(ctx, "t", 4, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker 5 fenced", func() bool { b, _ := stores[3].Broker(5); return b.Fenced })
	if b, _ := stores[3].Broker(4); b.Fenced {
		t.Fatal("broker 4 was fenced although it heartbeats")
	}
	waitFor(t, "broker 4 leading every partition", func() bool {
		top, _ := stores[3].Topic("t")
		for _, p := range top.Partitions {
			if p.Leader != 4 {
				return false
			}
		}
		return true
	})
	// The fenced incarnation's heartbeat is refused; a new registration
	// works again.
	if _, err := stores[4].Heartbeat(ctx, 5, regs[5].Incarnation); !errors.Is(err, ErrStaleIncarnation) {
		t.Fatalf("heartbeat of a fenced incarnation: %v", err)
	}
	reg, err := stores[4].RegisterBroker(ctx, Broker{ID: 5, Host: "127.0.0.1", Port: 9001})
	if err != nil || reg.Fenced || reg.Incarnation <= regs[5].Incarnation {
		t.Fatalf("re-registration %+v, %v", reg, err)
	}
	if _, err := stores[4].Heartbeat(ctx, 5, reg.Incarnation); err != nil {
		t.Fatalf("heartbeat of the new incarnation: %v", err)
	}
}

// controllerLeader returns the controller among controllers that leads,
// failing the test when none does.
func controllerLeader(t *testing.T, controllers []*Store) *Store {
	t.Helper()
	for _, s := range controllers {
		if s.IsLeader() {
			return s
		}
	}
	t.Fatal("no leader among the controllers")
	return nil
}

func TestQuorumSurvivesLeaderLoss(t *testing.T) {
	stores := tcpQuorum(t, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker := stores[3]
	if _, err := broker.CreateTopic(ctx, "a", 1, nil); err != nil {
		t.Fatal(err)
	}
	leader := controllerLeader(t, stores[:3])
	leader.Close()
	// Writes through the broker find the new leader.
	waitFor(t, "a write after the leader's loss", func() bool {
		_, err := broker.CreateTopic(ctx, "b", 1, nil)
		return err == nil || errors.Is(err, ErrTopicExists)
	})
	if _, ok := broker.Topic("b"); !ok {
		t.Fatal("topic b not visible on the broker")
	}
}
