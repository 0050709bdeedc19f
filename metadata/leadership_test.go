package metadata

import (
	"errors"
	"testing"
)

func leaders(t Topic) []int32 {
	var out []int32
	for _, p := range t.Partitions {
		out = append(out, p.Leader)
	}
	return out
}

func register(a *applier, ids ...int32) map[int32]int64 {
	inc := map[int32]int64{}
	for _, id := range ids {
		res := a.must(registerBrokerCmd{Broker: Broker{ID: id, Host: "h", Port: 9092}})
		inc[id] = res.broker.Incarnation
	}
	return inc
}

func TestLeadershipSpreadOnCreate(t *testing.T) {
	a := newApplier(t)
	register(a, 1, 2, 3)
	res := a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 6, DefaultLeader: 9})
	count := map[int32]int{}
	for _, l := range leaders(res.topic) {
		count[l]++
	}
	if count[1] != 2 || count[2] != 2 || count[3] != 2 {
		t.Fatalf("leaders %v: not spread evenly", leaders(res.topic))
	}
	// A second topic continues from the load, not from broker 1.
	res = a.must(createTopicCmd{Name: "b", ID: tid(2), Partitions: 1, DefaultLeader: 9})
	if l := res.topic.Partitions[0].Leader; l != 1 {
		t.Fatalf("with equal load the lowest id leads, got %d", l)
	}
}

func TestFenceBrokerMovesLeadersWithNewEpoch(t *testing.T) {
	a := newApplier(t)
	inc := register(a, 1, 2, 3)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 6, DefaultLeader: 9})
	before := a.f.st.topics["a"].Clone()

	// A stale incarnation changes nothing.
	if res := a.apply(fenceBrokerCmd{ID: 2, Incarnation: inc[2] - 1}); !errors.Is(res.err, ErrStaleIncarnation) {
		t.Fatalf("stale fence: %v", res.err)
	}
	a.must(fenceBrokerCmd{ID: 2, Incarnation: inc[2]})
	after := a.f.st.topics["a"]
	for i, p := range after.Partitions {
		old := before.Partitions[i]
		switch {
		case old.Leader == 2 && (p.Leader == 2 || p.LeaderEpoch != old.LeaderEpoch+1):
			t.Errorf("partition %d: %+v after fencing its leader (was %+v)", i, p, old)
		case old.Leader != 2 && p != old:
			t.Errorf("partition %d changed from %+v to %+v", i, old, p)
		}
	}
	if !a.f.st.brokers[2].Fenced {
		t.Fatal("broker 2 not fenced")
	}
	// New topics skip the fenced broker.
	res := a.must(createTopicCmd{Name: "b", ID: tid(2), Partitions: 4, DefaultLeader: 9})
	for _, l := range leaders(res.topic) {
		if l == 2 {
			t.Fatalf("fenced broker got a leadership: %v", leaders(res.topic))
		}
	}
}

func TestFenceLastBrokerLeavesNoLeaderUntilOneRegisters(t *testing.T) {
	a := newApplier(t)
	inc := register(a, 1)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 2, DefaultLeader: 1})
	a.must(fenceBrokerCmd{ID: 1, Incarnation: inc[1]})
	for _, p := range a.f.st.topics["a"].Partitions {
		if p.Leader != NoLeader || p.LeaderEpoch != 1 {
			t.Fatalf("partition %+v, want no leader at epoch 1", p)
		}
	}
	register(a, 5)
	for _, p := range a.f.st.topics["a"].Partitions {
		if p.Leader != 5 || p.LeaderEpoch != 2 {
			t.Fatalf("partition %+v, want leader 5 at epoch 2", p)
		}
	}
}

func TestReRegistrationKeepsLeadershipAndEpoch(t *testing.T) {
	// A broker restarted within its session keeps leading at the same
	// epoch, so its write-ahead log's tail can still be committed.
	a := newApplier(t)
	first := register(a, 1)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 2, DefaultLeader: 1})
	second := register(a, 1)
	if second[1] <= first[1] {
		t.Fatalf("incarnation %d after %d", second[1], first[1])
	}
	for _, p := range a.f.st.topics["a"].Partitions {
		if p.Leader != 1 || p.LeaderEpoch != 0 {
			t.Fatalf("partition %+v changed on re-registration", p)
		}
	}
	// The old incarnation can no longer be fenced.
	if res := a.apply(fenceBrokerCmd{ID: 1, Incarnation: first[1]}); !errors.Is(res.err, ErrStaleIncarnation) {
		t.Fatalf("fence of the old incarnation: %v", res.err)
	}
}

func TestDrainAndCompleteHandover(t *testing.T) {
	a := newApplier(t)
	register(a, 1, 2)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 4, DefaultLeader: 9})
	a.must(drainBrokerCmd{ID: 1, Draining: true})
	top := a.f.st.topics["a"]
	for i, p := range top.Partitions {
		if p.Leader == 1 && (!p.Handover || p.HandoverTo != 2) {
			t.Fatalf("partition %d: %+v, want a handover to 2", i, p)
		}
		if p.Leader == 2 && p.Handover {
			t.Fatalf("partition %d: %+v: broker 2 is not draining", i, p)
		}
	}
	for i, p := range top.Partitions {
		if p.Leader != 1 {
			continue
		}
		if res := a.apply(completeHandoverCmd{Topic: tid(1), Partition: int32(i), Epoch: p.LeaderEpoch + 1}); !errors.Is(res.err, ErrFenced) {
			t.Fatalf("handover at a wrong epoch: %v", res.err)
		}
		a.must(completeHandoverCmd{Topic: tid(1), Partition: int32(i), Epoch: p.LeaderEpoch})
		got := a.f.st.topics["a"].Partitions[i]
		if got.Leader != 2 || got.LeaderEpoch != p.LeaderEpoch+1 || got.Handover {
			t.Fatalf("partition %d after handover: %+v", i, got)
		}
	}
	// Draining: no new leaderships.
	res := a.must(createTopicCmd{Name: "b", ID: tid(2), Partitions: 3, DefaultLeader: 9})
	for _, l := range leaders(res.topic) {
		if l != 2 {
			t.Fatalf("draining broker got a leadership: %v", leaders(res.topic))
		}
	}
	// Broker 1 leads nothing now and can be removed while live.
	a.must(unregisterBrokerCmd{ID: 1})
	if _, ok := a.f.st.brokers[1]; ok {
		t.Fatal("broker 1 still registered")
	}
}

func TestMoveLeadersChecksEpochAndTarget(t *testing.T) {
	a := newApplier(t)
	inc := register(a, 1, 2, 3)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 1, DefaultLeader: 9})
	p := a.f.st.topics["a"].Partitions[0]
	a.must(fenceBrokerCmd{ID: 3, Incarnation: inc[3]})
	res := a.apply(moveLeadersCmd{Moves: []LeaderMove{
		{Topic: tid(1), Partition: 0, Epoch: p.LeaderEpoch + 1, To: 2}, // stale epoch
		{Topic: tid(1), Partition: 0, Epoch: p.LeaderEpoch, To: 3},     // fenced target
		{Topic: tid(9), Partition: 0, Epoch: 0, To: 2},                 // unknown topic
	}})
	if res.err != nil || res.count != 0 {
		t.Fatalf("moves taken %d, err %v", res.count, res.err)
	}
	res = a.must(moveLeadersCmd{Moves: []LeaderMove{{Topic: tid(1), Partition: 0, Epoch: p.LeaderEpoch, To: 2}}, Force: true})
	got := a.f.st.topics["a"].Partitions[0]
	if res.count != 1 || got.Leader != 2 || got.LeaderEpoch != p.LeaderEpoch+1 {
		t.Fatalf("forced move: %+v (taken %d)", got, res.count)
	}
}

func TestBalanceMoves(t *testing.T) {
	a := newApplier(t)
	register(a, 1)
	a.must(createTopicCmd{Name: "a", ID: tid(1), Partitions: 7, DefaultLeader: 9})
	register(a, 2, 3)
	moves := BalanceMoves(a.f.st.sortedTopics(), a.f.st.sortedBrokers(), 100)
	if len(moves) != 4 {
		t.Fatalf("%d moves, want 4: %+v", len(moves), moves)
	}
	a.must(moveLeadersCmd{Moves: moves, Force: true})
	count := map[int32]int{}
	for _, l := range leaders(a.f.st.topics["a"]) {
		count[l]++
	}
	if count[1] != 3 || count[2] != 2 || count[3] != 2 {
		t.Fatalf("after balancing: %v", count)
	}
	if m := BalanceMoves(a.f.st.sortedTopics(), a.f.st.sortedBrokers(), 100); len(m) != 0 {
		t.Fatalf("balanced cluster still moves %+v", m)
	}
}

func TestVersion1CommandsReplayAsBefore(t *testing.T) {
	// Logs written before the cluster's rules: v1 CreateTopic gives every
	// partition the lowest registered broker, v1 RegisterBroker stores the
	// broker as given.
	a := newApplier(t)
	raw := func(typ commandType, body string) {
		t.Helper()
		if res := a.raw(append([]byte{byte(typ), 1}, body...)); res.err != nil {
			t.Fatal(res.err)
		}
	}
	raw(cmdRegisterBroker, `{"Broker":{"ID":2,"Host":"h","Port":1,"Rack":""}}`)
	raw(cmdRegisterBroker, `{"Broker":{"ID":1,"Host":"h","Port":1,"Rack":""}}`)
	raw(cmdCreateTopic, `{"Name":"a","ID":"01000000-0000-0000-0000-000000000000","Partitions":3,"Configs":null,"DefaultLeader":7}`)
	if got := leaders(a.f.st.topics["a"]); got[0] != 1 || got[1] != 1 || got[2] != 1 {
		t.Fatalf("v1 leaders %v, want all 1", got)
	}
	if b := a.f.st.brokers[1]; b.Incarnation != 0 {
		t.Fatalf("v1 registration got incarnation %d", b.Incarnation)
	}
}
