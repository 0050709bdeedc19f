package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shalelog/shale/internal/checker"
	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/internal/netproxy"
	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/metadata"
)

// faultRun is one fault scenario: a topic over a three-node cluster, an
// idempotent load recorded by the checker, a fault, and the final log
// verified against every acknowledgement.
type faultRun struct {
	t     *testing.T
	c     *testCluster
	topic string
	rec   *checker.Recorder
	load  *checker.Load
}

func startFaultRun(t *testing.T, c *testCluster, topic string, acksOne bool) *faultRun {
	t.Helper()
	adm := shaletest.Admin(t, c.procs[0].Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	r := &faultRun{t: t, c: c, topic: topic, rec: checker.NewRecorder()}
	load, err := checker.StartLoad(context.Background(), checker.LoadConfig{
		Brokers: c.kafka(), Topic: topic, Producers: 3, Idempotent: !acksOne, AcksOne: acksOne,
		Duration: 60 * time.Second, InFlight: 16, ValuePrefix: topic, FlushTimeout: 20 * time.Second,
	}, r.rec)
	if err != nil {
		t.Fatal(err)
	}
	r.load = load
	t.Cleanup(func() { load.Stop() })
	r.waitAcks(500)
	return r
}

// waitAcks waits until n more records are acknowledged.
func (r *faultRun) waitAcks(n int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.rec.WaitAcked(ctx, r.rec.Acked()+n); err != nil {
		r.t.Fatalf("waiting for %d more acks: %v (acked %d)", n, err, r.rec.Acked())
	}
}

// waitPartitions waits until each of n partitions has an acknowledgement
// after since, and returns the time of the latest of those first
// acknowledgements: when the last partition was writable again.
func (r *faultRun) waitPartitions(since time.Time, n int) time.Time {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		first := map[int32]time.Time{}
		for _, a := range r.rec.Acks() {
			if f, ok := first[a.Partition]; a.At.After(since) && (!ok || a.At.Before(f)) {
				first[a.Partition] = a.At
			}
		}
		if len(first) >= n {
			var last time.Time
			for _, f := range first {
				if f.After(last) {
					last = f
				}
			}
			return last
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("only %d of %d partitions acked again within 60s", len(first), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finish stops the load, reads the whole log through the live brokers
// and checks it. It returns the report for scenario-specific checks.
func (r *faultRun) finish(live []string) checker.Report {
	r.t.Helper()
	stats := r.load.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := checker.WaitHighWatermark(ctx, live, r.topic, r.rec.AckedEnds(r.topic)); err != nil {
		r.t.Fatalf("wait for the acknowledged records to be readable: %v", err)
	}
	final, err := checker.ReadLog(ctx, live, r.topic)
	if err != nil {
		r.t.Fatalf("read the log: %v", err)
	}
	rep := r.rec.Verify(final)
	r.t.Logf("load: %v\n%s", stats, rep)
	return rep
}

// TestClusterKillLeaderUnderIdempotentLoad kills a broker (and controller)
// with SIGKILL while three idempotent acks=all producers write to six
// partitions spread over three brokers: its partitions move once its
// session lapses, producers follow the new leaders, and no acknowledged
// record is lost, duplicated or moved.
func TestClusterKillLeaderUnderIdempotentLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	r := startFaultRun(t, c, "kill-leader", false)
	killed := time.Now()
	c.procs[2].Kill()
	waitStatus(t, c.raft[0], "broker 3's partitions re-led", fencedAndReled(3))
	moved := time.Since(killed)
	recovered := r.waitPartitions(killed, 6)
	r.waitAcks(1000)
	rep := r.finish(c.kafka(2))
	t.Logf("failover: partitions re-led %v after SIGKILL (session timeout 2s); every partition acking again %v after it",
		moved.Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterRollingRestartLosesNothing restarts every broker in turn with
// SIGTERM under acks=1 load, each on a fresh WAL (a replaced disk): each
// hands its partitions over (their WAL tails uploaded and committed first)
// before it stops, so not even acks=1 records are lost.
func TestClusterRollingRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	r := startFaultRun(t, c, "rolling", true)
	for i := range c.procs {
		stopped := time.Now()
		if err := c.procs[i].Stop(); err != nil {
			t.Fatalf("stop node %d: %v", i+1, err)
		}
		took := time.Since(stopped)
		args := append(c.argsFor(i), "--wal-dir", t.TempDir())
		c.procs[i] = shaletest.StartProcesses(t, c.dirs[i:i+1], [][]string{args})[0]
		waitStatus(t, c.raft[(i+1)%3], fmt.Sprintf("node %d live again", i+1), func(st metadata.ClusterStatus) bool {
			for _, b := range st.Brokers {
				if b.ID == int32(i+1) {
					return !b.Fenced && !b.Draining
				}
			}
			return false
		})
		t.Logf("node %d: drained and stopped in %v, restarted", i+1, took.Round(time.Millisecond))
		r.waitAcks(300)
	}
	rep := r.finish(c.kafka())
	for _, k := range []checker.Kind{checker.Lost, checker.Moved, checker.OffsetReused, checker.Backwards, checker.ReadThenGone} {
		if n := rep.Count(k); n != 0 {
			t.Errorf("%s: %d", k, n)
		}
	}
}

// TestClusterFrozenLeaderIsFenced freezes a broker with SIGSTOP past its
// session timeout under idempotent acks=all load, then thaws it: its
// partitions moved meanwhile, and whatever it still tries to upload and
// commit under its old epochs is refused, so no record is duplicated and
// no offset reused.
func TestClusterFrozenLeaderIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	r := startFaultRun(t, c, "frozen", false)
	frozen := time.Now()
	c.procs[1].Freeze()
	waitStatus(t, c.raft[0], "broker 2 fenced and its partitions re-led", fencedAndReled(2))
	moved := time.Since(frozen)
	recovered := r.waitPartitions(frozen, 6)
	c.procs[1].Thaw()
	waitStatus(t, c.raft[0], "broker 2 registered again", brokerLive(2))
	r.waitAcks(500)
	rep := r.finish(c.kafka())
	t.Logf("SIGSTOP: partitions re-led %v after the freeze (session timeout 2s); every partition acking again %v after it",
		moved.Round(time.Millisecond), recovered.Sub(frozen).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterKillRaftLeaderUnderLoad kills the node that leads the
// metadata quorum (a controller and a broker) under idempotent acks=all
// load: the other two elect a new leader, fence the dead broker and move
// its partitions; nothing acknowledged is lost or duplicated.
func TestClusterKillRaftLeaderUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	r := startFaultRun(t, c, "raft-leader", false)
	st, err := clusterStatus(t, c.raft[0])
	if err != nil {
		t.Fatal(err)
	}
	victim := int(st.Leader) - 1
	other := c.raft[(victim+1)%3]
	killed := time.Now()
	c.procs[victim].Kill()
	waitStatus(t, other, "a new metadata leader and the dead broker's partitions re-led", func(st metadata.ClusterStatus) bool {
		if int(st.Leader)-1 == victim || st.Leader < 0 {
			return false
		}
		for _, b := range st.Brokers {
			if int(b.ID)-1 == victim && (!b.Fenced || b.Leads > 0) {
				return false
			}
		}
		return len(st.Unhealthy) == 0
	})
	moved := time.Since(killed)
	recovered := r.waitPartitions(killed, 6)
	r.waitAcks(500)
	rep := r.finish(c.kafka(victim))
	t.Logf("metadata leader %d killed: new leader elected and partitions re-led %v after it; every partition acking again %v after it",
		victim+1, moved.Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterGroupCoordinatorFailover runs a franz-go and a librdkafka
// (python3-confluent-kafka) member of one group over a topic spread on
// three brokers and kills the broker coordinating their group mid-way:
// the group's slot moves, the members rejoin at the new coordinator, every
// record is processed, and no committed offset ever goes backwards.
func TestClusterGroupCoordinatorFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := startCluster(t, 3)
	const topic, group, total = "grouped", "failover-group", 3000
	adm := shaletest.Admin(t, c.procs[0].Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	pcl := shaletest.Client(t, c.procs[0].Addr, kgo.DefaultProduceTopic(topic))
	for i := range total {
		pcl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))}, nil)
	}
	if err := pcl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	coords := adm.FindGroupCoordinators(ctx, group)
	if coords[group].Err != nil {
		t.Fatalf("find coordinator: %v", coords[group].Err)
	}
	victim := int(coords[group].NodeID) - 1
	survivors := c.kafka(victim)
	// Every broker names the same coordinator.
	for i, p := range c.procs {
		one := kadm.NewClient(shaletest.Client(t, p.Addr))
		if got := one.FindGroupCoordinators(ctx, group)[group]; got.Err != nil || int(got.NodeID) != victim+1 {
			t.Fatalf("broker %d names coordinator %d (%v), broker %d was named first", i+1, got.NodeID, got.Err, victim+1)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	consumed := make(chan struct{}, 1)
	consume := func(name string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.FetchMaxBytes(64<<10), kgo.SessionTimeout(6*time.Second))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 50)
			fs.EachRecord(func(r *kgo.Record) {
				mu.Lock()
				seen[string(r.Value)]++
				mu.Unlock()
			})
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				t.Logf("%s: commit: %v (retried with the next poll)", name, err)
			}
			mu.Lock()
			done := len(seen) == total
			mu.Unlock()
			if done {
				select {
				case consumed <- struct{}{}:
				default:
				}
			}
			time.Sleep(20 * time.Millisecond) // slow enough to be caught mid-way
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); consume("franz-go") }()
	python := requireConfluentKafka(t)
	stopFile := filepath.Join(t.TempDir(), "stop")
	py := exec.Command(python, "testdata/group_consumer.py", strings.Join(c.kafka(), ","), group, topic, stopFile)
	pyOut, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pyErr := &proc.Buffer{}
	py.Stderr = pyErr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	pyRead := 0
	go func() {
		sc := bufio.NewScanner(pyOut)
		for sc.Scan() {
			if v := strings.TrimSpace(sc.Text()); v != "" {
				mu.Lock()
				seen[v]++
				pyRead++
				done := len(seen) == total
				mu.Unlock()
				if done {
					select {
					case consumed <- struct{}{}:
					default:
					}
				}
			}
		}
	}()

	// Watch the committed offsets: they must never go backwards.
	watchAdm := shaletest.Admin(t, survivors[0])
	backwards := make(chan string, 1)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		last := map[int32]int64{}
		for ctx.Err() == nil {
			offs, err := watchAdm.FetchOffsets(ctx, group)
			if err == nil {
				offs.Each(func(o kadm.OffsetResponse) {
					if o.Err == nil && o.At < last[o.Partition] {
						select {
						case backwards <- fmt.Sprintf("partition %d: committed %d after %d", o.Partition, o.At, last[o.Partition]):
						default:
						}
					}
					last[o.Partition] = max(last[o.Partition], o.At)
				})
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= total/3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := time.Now()
	c.procs[victim].Kill()
	select {
	case <-consumed:
	case <-ctx.Done():
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		t.Fatalf("only %d of %d records processed; librdkafka member:\n%s", n, total, pyErr.String())
	}
	took := time.Since(killed)
	cancel()
	wg.Wait()
	<-watchDone
	select {
	case msg := <-backwards:
		t.Fatalf("a committed offset went backwards: %s", msg)
	default:
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	mu.Lock()
	byPy := pyRead
	mu.Unlock()
	t.Logf("coordinator (broker %d) killed after %d of %d records; all processed %v later (%d by the librdkafka member); %d processed twice (at-least-once after a rebalance)",
		victim+1, total/3, total, took.Round(time.Millisecond), byPy, dups)
}

// TestClusterBrokerAddedUnderLoad adds a fourth node, a broker only (a
// non-voting follower of the metadata log), under idempotent acks=all
// load, runs `shale cluster rebalance`, and checks that it leads its
// share of the partitions and takes writes, with nothing lost.
func TestClusterBrokerAddedUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startCluster(t, 3)
	r := startFaultRun(t, c, "grow", false)
	raft4 := proc.FreeAddrs(t, 1)[0]
	added := time.Now()
	p4 := shaletest.StartProcesses(t, []string{t.TempDir()}, [][]string{c.brokerArgs(4, raft4)})[0]
	waitStatus(t, c.raft[0], "broker 4 live", brokerLive(4))
	out, err := exec.Command(shaletest.Binary(t), "cluster", "rebalance", "--controller", raft4).CombinedOutput()
	if err != nil {
		t.Fatalf("shale cluster rebalance (through the new broker's raft port): %v\n%s", err, out)
	}
	st := waitStatus(t, c.raft[0], "leaders spread over four brokers, handovers done", func(st metadata.ClusterStatus) bool {
		leads := map[int32]int{}
		for _, b := range st.Brokers {
			leads[b.ID] = b.Leads
			if b.Handovers > 0 {
				return false
			}
		}
		return leads[4] >= 1 && len(st.Unhealthy) == 0
	})
	spread := time.Since(added)
	// Which broker leads each partition now, as clients see it (a
	// broker's Metadata answer follows the controllers' a moment later).
	adm := shaletest.Admin(t, p4.Addr)
	leaderOf := map[int32]int32{}
	for deadline := time.Now().Add(20 * time.Second); ; {
		mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.Metadata(mctx, "grow")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		clear(leaderOf)
		leads4 := 0
		for _, p := range md.Topics["grow"].Partitions {
			leaderOf[p.Partition] = p.Leader
			if p.Leader == 4 {
				leads4++
			}
		}
		if leads4 > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Metadata never showed broker 4 leading a partition of grow: %v", leaderOf)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := r.rec.Acked()
	start := time.Now()
	r.waitAcks(1500)
	took := time.Since(start).Seconds()
	perBroker := map[int32]int{}
	for _, a := range r.rec.Acks()[before:] {
		perBroker[leaderOf[a.Partition]]++
	}
	rates := map[int32]string{}
	for b, n := range perBroker {
		rates[b] = fmt.Sprintf("%.0f rec/s", float64(n)/took)
	}
	rep := r.finish(append(c.kafka(), p4.Addr))
	var raftRole string
	for _, ctl := range st.Controllers {
		if ctl.ID == "4" {
			raftRole = map[bool]string{true: "voter", false: "non-voter"}[ctl.Voter]
		}
	}
	t.Logf("broker 4 joined (%s) and led its share %v after it started; produce throughput per leader broker after the rebalance: %v", raftRole, spread.Round(time.Millisecond), rates)
	if raftRole != "non-voter" {
		t.Fatalf("broker 4 is a raft %q, want a non-voter", raftRole)
	}
	if perBroker[4] == 0 {
		t.Fatalf("broker 4 took none of the %d acknowledged records after the rebalance: %v", r.rec.Acked()-before, perBroker)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterBrokerCutFromControllers cuts a broker-only node from the
// metadata quorum (both ways, through proxies on its raft links) under
// idempotent acks=all load: it cannot heartbeat, so it is fenced and its
// partitions move; what it takes meanwhile can never be committed (its
// uploads' commits cannot reach the quorum, and after the heal they are
// of a stale epoch). After the heal it follows the log again and
// registers anew. Nothing acknowledged is lost, duplicated or moved.
func TestClusterBrokerCutFromControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	c := startCluster(t, 3)
	var toControllers []*netproxy.Proxy
	var peers []string
	for i, addr := range c.raft {
		p, err := netproxy.New(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		toControllers = append(toControllers, p)
		peers = append(peers, fmt.Sprintf("%d@%s", i+1, p.Addr()))
	}
	raft4 := proc.FreeAddrs(t, 1)[0]
	fromControllers, err := netproxy.New(raft4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fromControllers.Close() })
	args := c.brokerArgs(4, raft4, "--raft-advertise", fromControllers.Addr(), "--controllers", strings.Join(peers, ","))
	p4 := shaletest.StartProcesses(t, []string{t.TempDir()}, [][]string{args})[0]
	waitStatus(t, c.raft[0], "broker 4 live", brokerLive(4))
	c.procs = append(c.procs, p4)
	r := startFaultRun(t, c, "cut", false)

	cut := time.Now()
	for _, p := range append(toControllers, fromControllers) {
		p.Blackhole()
	}
	waitStatus(t, c.raft[0], "broker 4 fenced and its partitions re-led", fencedAndReled(4))
	moved := time.Since(cut)
	// Its session lease lapsed with the session: the cut broker, which
	// still believes it leads, refuses produce instead of taking writes it
	// can never commit.
	assertLeaseRefuses(t, p4.Addr, "cut", 4)
	healed := time.Now()
	for _, p := range append(toControllers, fromControllers) {
		p.Heal()
	}
	waitStatus(t, c.raft[0], "broker 4 registered again", brokerLive(4))
	rejoined := time.Since(healed)
	recovered := r.waitPartitions(healed, 6)
	r.waitAcks(300)
	rep := r.finish(c.kafka())
	t.Logf("cut from the controllers: fenced and re-led %v after the cut (session timeout 2s); registered again %v after the heal; every partition acking %v after the heal",
		moved.Round(time.Millisecond), rejoined.Round(time.Millisecond), recovered.Sub(healed).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// minioBehind starts MinIO and a proxy in front of it, and returns the
// object-store URL through the proxy (and the proxy).
func minioBehind(t *testing.T) (direct, proxied string, p *netproxy.Proxy) {
	t.Helper()
	mc := miniotest.Start(t)
	mc.Setenv(t) // the children inherit the credentials
	host := strings.TrimPrefix(mc.Endpoint, "http://")
	p, err := netproxy.New(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	direct = mc.URL("cluster")
	proxied = strings.Replace(direct, url.QueryEscape(mc.Endpoint), url.QueryEscape("http://"+p.Addr()), 1)
	return direct, proxied, p
}

// TestClusterBrokerCutFromObjectStore cuts one broker (a broker-only node)
// from the object store while it leads partitions under idempotent
// acks=all load: its uploads fail and are retried, its producers wait (and
// retry), the rest of the cluster goes on; after the heal its uploads
// commit and nothing acknowledged is lost or duplicated.
func TestClusterBrokerCutFromObjectStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes and MinIO")
	}
	direct, proxied, store := minioBehind(t)
	c := startClusterOn(t, 3, direct)
	raft4 := proc.FreeAddrs(t, 1)[0]
	args := c.brokerArgs(4, raft4, "--object-store", proxied)
	p4 := shaletest.StartProcesses(t, []string{t.TempDir()}, [][]string{args})[0]
	waitStatus(t, c.raft[0], "broker 4 live", brokerLive(4))
	c.procs = append(c.procs, p4)
	r := startFaultRun(t, c, "nostore", false)
	store.Blackhole()
	time.Sleep(5 * time.Second)
	healed := time.Now()
	store.Heal()
	recovered := r.waitPartitions(healed, 6)
	r.waitAcks(300)
	rep := r.finish(c.kafka())
	t.Logf("broker 4 cut from the object store for 5s: every partition acking %v after the heal", recovered.Sub(healed).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterObjectStoreDownDuringFailover takes the object store away for
// 30 s from every node and kills a broker meanwhile: its partitions get
// new leaders (metadata needs no object store), which cannot rebuild
// producer state or commit until the store is back; then everything goes
// on, and nothing acknowledged is lost or duplicated.
func TestClusterObjectStoreDownDuringFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes and MinIO; 30 s outage")
	}
	_, proxied, store := minioBehind(t)
	c := startClusterOn(t, 3, proxied)
	r := startFaultRun(t, c, "outage", false)
	down := time.Now()
	store.Blackhole()
	time.Sleep(time.Second)
	c.procs[2].Kill()
	waitStatus(t, c.raft[0], "broker 3 fenced and its partitions re-led", fencedAndReled(3))
	moved := time.Since(down)
	time.Sleep(time.Until(down.Add(30 * time.Second)))
	healed := time.Now()
	store.Heal()
	recovered := r.waitPartitions(healed, 6)
	r.waitAcks(300)
	rep := r.finish(c.kafka(2))
	t.Logf("object store down 30s, broker 3 killed 1s in: re-led %v after the outage began; every partition acking %v after the store came back",
		moved.Round(time.Millisecond), recovered.Sub(healed).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

// assertLeaseRefuses sends a produce to the broker at addr (id) for every
// partition of topic it believes it leads, and wants NOT_LEADER_OR_FOLLOWER
// for each: its session lease has lapsed.
func assertLeaseRefuses(t *testing.T, addr, topic string, id int32) {
	t.Helper()
	cl := shaletest.Client(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	direct := cl.SeedBrokers()[0] // the cut broker itself, not whatever kgo routes to
	mresp, err := mreq.RequestWith(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, mp := range mresp.Topics[0].Partitions {
		if mp.Leader != id {
			continue
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = mp.Partition
		rp.Records = rawBatch(1, 10, -1, -1, -1)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		if m := resp.Topics[0].Partitions[0].ErrorMessage; m != nil {
			t.Logf("refusal: %s", *m)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
			t.Fatalf("partition %d on the cut broker: produce error %d, want NOT_LEADER_OR_FOLLOWER", mp.Partition, code)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("the cut broker believes it leads no partition: nothing to check")
	}
	t.Logf("the cut broker refused produce on the %d partitions it still believed it led", checked)
}
