package metadata

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testCluster is n Stores over connected in-memory transports. Node 1
// bootstraps as the sole voter and adds the others as voters, the way a
// real cluster grows.
type testCluster struct {
	t      *testing.T
	stores []*Store
}

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	trans := make([]*raft.InmemTransport, n)
	for i := range trans {
		_, trans[i] = raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("inmem:%d", i+1)))
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(trans[j].LocalAddr(), trans[j])
			}
		}
	}
	c := &testCluster{t: t}
	for i := range n {
		cfg := testConfig(t, t.TempDir())
		cfg.NodeID = int32(i + 1)
		cfg.Bootstrap = i == 0
		s, err := open(cfg, trans[i])
		if err != nil {
			t.Fatalf("open node %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		c.stores = append(c.stores, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i < n; i++ {
		if err := c.stores[0].AddVoter(ctx, int32(i+1), string(trans[i].LocalAddr())); err != nil {
			t.Fatalf("add voter %d: %v", i+1, err)
		}
	}
	return c
}

// waitAll waits until cond holds on every node, re-checking on Changed.
func (c *testCluster) waitAll(what string, cond func(*Store) bool) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for i, s := range c.stores {
		for {
			ch := s.Changed()
			if cond(s) {
				break
			}
			select {
			case <-ch:
			case <-time.After(50 * time.Millisecond): // leadership state is polled, not signalled
			case <-deadline:
				c.t.Fatalf("node %d: %s never became true", i+1, what)
			}
		}
	}
}

func (c *testCluster) leader() *Store {
	c.t.Helper()
	var leader *Store
	c.waitAll("a leader exists", func(s *Store) bool {
		for _, s := range c.stores {
			if s.IsLeader() {
				leader = s
				return true
			}
		}
		return false
	})
	return leader
}

func TestClusterReplicatesToFollowers(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 3)
	leader := c.leader()
	if leader != c.stores[0] {
		t.Fatalf("leader is node %d, want the bootstrap node", leader.cfg.NodeID)
	}

	tp, err := leader.CreateTopic(ctx, "events", 4, map[string]string{"cleanup.policy": "compact"})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := leader.AllocateProducerIDs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	c.waitAll("topic replicated", func(s *Store) bool {
		got, ok := s.Topic("events")
		return ok && reflect.DeepEqual(got, tp)
	})
	clusterID := leader.ClusterID()
	for i, s := range c.stores {
		if s.ClusterID() != clusterID || clusterID == "" {
			t.Errorf("node %d: cluster id %q, leader has %q", i+1, s.ClusterID(), clusterID)
		}
		if got, ok := s.TopicByID(tp.ID); !ok || got.Name != "events" {
			t.Errorf("node %d: TopicByID: %+v %v", i+1, got, ok)
		}
	}
	c.waitAll("followers know the controller", func(s *Store) bool { return s.ControllerID() == 1 })

	// Followers refuse writes.
	if _, err := c.stores[1].CreateTopic(ctx, "other", 1, nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write on follower: %v", err)
	}

	// Move leadership; the new leader continues the same state.
	if err := leader.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	var next *Store
	c.waitAll("a new leader", func(*Store) bool {
		for _, s := range c.stores[1:] {
			if s.IsLeader() {
				next = s
				return true
			}
		}
		return false
	})
	// The new leader may still be committing its first entry of the term;
	// retry the write on ErrNotLeader only.
	var pid2 int64
	for range 100 {
		pid2, err = next.AllocateProducerIDs(ctx, 1)
		if !errors.Is(err, ErrNotLeader) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || pid2 < pid+100 {
		t.Fatalf("producer id on new leader: %d (err %v), want >= %d", pid2, err, pid+100)
	}
	if _, err := next.DeleteTopic(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	c.waitAll("topic deleted everywhere", func(s *Store) bool { _, ok := s.Topic("events"); return !ok })

	// Every node holds byte-identical state.
	var want []byte
	c.waitAll("state converged", func(s *Store) bool {
		s.fsm.mu.RLock()
		b, _ := encodeSnapshot(s.fsm.st)
		s.fsm.mu.RUnlock()
		if want == nil {
			want = b
		}
		return string(b) == string(want)
	})
}
