package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// fastGroups makes first rebalances start at once instead of after
// Kafka's 3s initial delay.
func fastGroups(c *node.Config) { c.Broker.GroupInitialRebalanceDelay = 0 }

// groupMemberOpts are the kgo options of a group member with short
// timeouts, so that rebalances in tests take a heartbeat or two.
func groupMemberOpts(group, topic string, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6 * time.Second),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.AutoCommitInterval(300 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, extra...)
}

// seen records which values were processed, by whom.
type seen struct {
	mu     sync.Mutex
	values map[string]int
	by     map[string]map[string]bool
}

func newSeen() *seen { return &seen{values: map[string]int{}, by: map[string]map[string]bool{}} }

func (s *seen) add(who, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[v]++
	if s.by[who] == nil {
		s.by[who] = map[string]bool{}
	}
	s.by[who][v] = true
}

func (s *seen) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

func (s *seen) countBy(who, prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for v := range s.by[who] {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

// member is one kgo group member consuming into s until stopped.
type member struct {
	name string
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}
}

func startMember(t *testing.T, addr, name string, s *seen, opts []kgo.Opt) *member {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID(name)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{name: name, cl: cl, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { s.add(name, string(r.Value)) })
		}
	}()
	t.Cleanup(func() { m.close() })
	return m
}

// close stops polling, commits what was processed and leaves the group.
func (m *member) close() {
	select {
	case <-m.done:
		return
	default:
	}
	m.stop()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.cl.CommitUncommittedOffsets(ctx)
	m.cl.Close()
}

func produceValues(t *testing.T, cl *kgo.Client, topic, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", prefix, err)
	}
}

// watchCommits polls the group's committed offsets until stopped and
// reports the first one that went backwards.
func watchCommits(t *testing.T, adm *kadm.Client, group string) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		last := map[string]int64{}
		polls := 0
		for ctx.Err() == nil {
			offs, err := adm.FetchOffsets(ctx, group)
			if err == nil {
				polls++
				for _, ps := range offs {
					for _, o := range ps {
						key := fmt.Sprintf("%s/%d", o.Topic, o.Partition)
						if o.At < last[key] {
							errc <- fmt.Errorf("committed offset of %s went back from %d to %d", key, last[key], o.At)
							return
						}
						last[key] = o.At
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if polls == 0 {
			errc <- errors.New("no OffsetFetch succeeded")
			return
		}
		errc <- nil
	}()
	return func() error { cancel(); return <-errc }
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describe(t *testing.T, adm *kadm.Client, group string) kadm.DescribedGroup {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return kadm.DescribedGroup{}
	}
	return ds[group]
}

// TestGroupsRebalanceAtLeastOnce runs three members on a 12-partition
// topic, adds a fourth and closes one while records keep coming, with each
// of kgo's balancers: every record is processed and committed offsets never
// go backwards.
func TestGroupsRebalanceAtLeastOnce(t *testing.T) {
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	adm := shaletest.Admin(t, addr)
	producer := shaletest.Client(t, addr)
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
	} {
		t.Run(bal.name, func(t *testing.T) {
			topic, group := "rebalance-"+bal.name, "g-"+bal.name
			shaletest.CreateTopic(t, addr, topic, 12, nil)
			s := newSeen()
			opts := groupMemberOpts(group, topic, kgo.Balancers(bal.b))
			stopWatch := watchCommits(t, adm, group)
			var members []*member
			for i := 0; i < 3; i++ {
				members = append(members, startMember(t, addr, fmt.Sprintf("m%d", i), s, opts))
			}
			produceValues(t, producer, topic, "a", 600)
			waitFor(t, "first batch consumed by three members", 30*time.Second, func() bool { return s.distinct() >= 600 })
			members = append(members, startMember(t, addr, "m3", s, opts))
			produceValues(t, producer, topic, "b", 600)
			waitFor(t, "a four-member Stable group", 30*time.Second, func() bool {
				d := describe(t, adm, group)
				return d.State == "Stable" && len(d.Members) == 4
			})
			produceValues(t, producer, topic, "c", 600)
			members[0].close()
			produceValues(t, producer, topic, "d", 600)
			waitFor(t, "every record processed", 40*time.Second, func() bool { return s.distinct() == 2400 })
			waitFor(t, "a three-member Stable group", 30*time.Second, func() bool {
				d := describe(t, adm, group)
				return d.State == "Stable" && len(d.Members) == 3 && d.Protocol == bal.name
			})
			if s.countBy("m3", "d-") == 0 {
				t.Errorf("the member that joined late processed nothing after the last rebalance")
			}
			for _, m := range members[1:] {
				m.close()
			}
			if err := stopWatch(); err != nil {
				t.Fatal(err)
			}
			// Everything processed was committed before the members left.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			offs, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			offs.Each(func(o kadm.OffsetResponse) { total += o.At })
			if total != 2400 {
				t.Errorf("committed offsets add up to %d, want 2400", total)
			}
			if d := describe(t, adm, group); d.State != "Empty" {
				t.Errorf("group state %q after every member left, want Empty", d.State)
			}
		})
	}
}

// TestGroupsLibrdkafkaAndFranzGoShareAGroup runs kcat -G, a Python
// confluent-kafka consumer and a kgo member in one group with the range
// assignor: each gets partitions and consumes them, and their commits
// cover everything.
func TestGroupsLibrdkafkaAndFranzGoShareAGroup(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import confluent_kafka").Run(); err != nil {
		if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("python3-confluent-kafka is required (SHALE_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skipf("python3-confluent-kafka not importable: %v", err)
	}
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	adm := shaletest.Admin(t, addr)
	producer := shaletest.Client(t, addr)
	const topic, group = "mixed", "mixed-group"
	shaletest.CreateTopic(t, addr, topic, 6, nil)
	produceValues(t, producer, topic, "a", 300)

	s := newSeen()
	dir := t.TempDir()
	stopFile := filepath.Join(dir, "stop")
	librdkafka := []string{
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=300",
		"-X", "max.poll.interval.ms=10000", "-X", "partition.assignment.strategy=range",
		"-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=300",
	}
	kcatCmd := exec.Command(kcat, append([]string{"-b", addr, "-G", group, "-q", "-u", "-f", "%s\n",
		"-X", "client.id=kcat-member"}, append(librdkafka, topic)...)...)
	py := exec.Command(python, "testdata/group_consumer.py", addr, group, topic, stopFile)
	var stderr sync.Map
	for who, cmd := range map[string]*exec.Cmd{"kcat-member": kcatCmd, "py-member": py} {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		errBuf := &proc.Buffer{}
		stderr.Store(who, errBuf)
		cmd.Stderr = errBuf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", who, err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v := strings.TrimSpace(sc.Text()); v != "" {
					s.add(who, v)
				}
			}
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	dump := func() {
		stderr.Range(func(k, v any) bool {
			t.Logf("%s stderr:\n%s", k, v.(*proc.Buffer).String())
			return true
		})
	}
	m := startMember(t, addr, "kgo-member", s, groupMemberOpts(group, topic, kgo.Balancers(kgo.RangeBalancer())))

	stable := func() bool {
		d := describe(t, adm, group)
		if d.State != "Stable" || len(d.Members) != 3 || d.Protocol != "range" {
			return false
		}
		ids := map[string]bool{}
		for _, mem := range d.Members {
			ids[mem.ClientID] = true
		}
		return ids["kcat-member"] && ids["py-member"] && ids["kgo-member"]
	}
	deadline := time.Now().Add(40 * time.Second)
	for !stable() {
		if time.Now().After(deadline) {
			dump()
			t.Fatalf("kcat, Python and kgo members never formed one Stable group: %+v", describe(t, adm, group))
		}
		time.Sleep(100 * time.Millisecond)
	}
	produceValues(t, producer, topic, "b", 300)
	deadline = time.Now().Add(40 * time.Second)
	for s.distinct() < 600 || s.countBy("kcat-member", "b-") == 0 || s.countBy("py-member", "b-") == 0 || s.countBy("kgo-member", "b-") == 0 {
		if time.Now().After(deadline) {
			dump()
			t.Fatalf("distinct %d of 600; second batch by kcat %d, python %d, kgo %d", s.distinct(),
				s.countBy("kcat-member", "b-"), s.countBy("py-member", "b-"), s.countBy("kgo-member", "b-"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Everyone stops cleanly and commits, one at a time, Python first
	// while the group is stable: librdkafka 2.0's close asserts (and
	// aborts the process) when a rebalance started by another member's
	// leaving is still assigning as it closes.
	wait := func(who string, cmd *exec.Cmd) {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && who == "python" {
				dump()
				t.Fatalf("python consumer: %v", err)
			}
		case <-time.After(20 * time.Second):
			dump()
			t.Fatalf("%s did not exit", who)
		}
	}
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wait("python", py)
	kcatCmd.Process.Signal(syscall.SIGTERM)
	wait("kcat", kcatCmd)
	m.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 600 {
		dump()
		t.Fatalf("committed offsets add up to %d, want 600: %v", total, offs)
	}
}

// TestGroupsOffsetsSurviveRestart commits through a group and through the
// admin API, restarts the node on the same data and finds the offsets and
// their metadata again; a member of the group resumes where it left off.
func TestGroupsOffsetsSurviveRestart(t *testing.T) {
	dataDir := t.TempDir()
	withDir := func(c *node.Config) { c.DataDir = dataDir; fastGroups(c) }
	n1 := shaletest.StartNode(t, withDir)
	addr := n1.Addr()
	const topic, group = "durable", "durable-group"
	shaletest.CreateTopic(t, addr, topic, 4, nil)
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	produceValues(t, producer, topic, "a", 200)
	producer.Close()

	s := newSeen()
	m := startMember(t, addr, "first", s, groupMemberOpts(group, topic))
	waitFor(t, "first batch consumed", 30*time.Second, func() bool { return s.distinct() == 200 })
	m.close()

	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(admCl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 7, LeaderEpoch: -1, Metadata: "checkpoint-7"})
	if err := adm.CommitAllOffsets(ctx, "standalone", offs); err != nil {
		t.Fatalf("standalone commit: %v", err)
	}
	before, err := adm.FetchOffsets(ctx, group)
	if err != nil || before.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, before.Error())
	}
	admCl.Close()
	if err := n1.Close(); err != nil {
		t.Fatalf("close first node: %v", err)
	}

	n2 := shaletest.StartNode(t, withDir)
	addr = n2.Addr()
	adm = shaletest.Admin(t, addr)
	after, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	before.Each(func(o kadm.OffsetResponse) {
		total += o.At
		got, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At {
			t.Errorf("%s/%d: committed %d before the restart, %d (found %v) after", o.Topic, o.Partition, o.At, got.At, ok)
		}
	})
	if total != 200 {
		t.Errorf("committed offsets add up to %d, want 200", total)
	}
	sa, err := adm.FetchOffsets(ctx, "standalone")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := sa.Lookup(topic, 0); !ok || o.At != 7 || o.Metadata != "checkpoint-7" {
		t.Errorf("standalone offset after restart: %+v (found %v)", o, ok)
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := lg[group]; !ok || g.State != "Empty" {
		t.Errorf("after restart the group is listed as %+v (found %v), want Empty", g, ok)
	}

	// A member resumes after the committed offsets.
	producer2 := shaletest.Client(t, addr)
	produceValues(t, producer2, topic, "b", 100)
	s2 := newSeen()
	m2 := startMember(t, addr, "second", s2, groupMemberOpts(group, topic))
	waitFor(t, "second batch consumed", 30*time.Second, func() bool { return s2.countBy("second", "b-") == 100 })
	m2.close()
	if n := s2.countBy("second", "a-"); n != 0 {
		t.Errorf("after the restart the group reprocessed %d records it had committed", n)
	}
}

// TestGroupsAdminAPIs drives DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete and FindCoordinator through kadm.
func TestGroupsAdminAPIs(t *testing.T) {
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	adm := shaletest.Admin(t, addr)
	const topic, other, group = "admin-t", "admin-u", "admin-group"
	shaletest.CreateTopic(t, addr, topic, 3, nil)
	shaletest.CreateTopic(t, addr, other, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := newSeen()
	m := startMember(t, addr, "admin-member", s, groupMemberOpts(group, topic, kgo.InstanceID("static-1")))
	waitFor(t, "a Stable one-member group", 30*time.Second, func() bool {
		d := describe(t, adm, group)
		return d.State == "Stable" && len(d.Members) == 1
	})
	d := describe(t, adm, group)
	mem := d.Members[0]
	if d.ProtocolType != "consumer" || d.Protocol != "cooperative-sticky" || mem.ClientID != "admin-member" ||
		mem.InstanceID == nil || *mem.InstanceID != "static-1" || !strings.HasPrefix(mem.ClientHost, "/127.0.0.1") {
		t.Fatalf("described group: %+v", d)
	}
	if ps := d.AssignedPartitions()[topic]; len(ps) != 3 {
		t.Fatalf("assigned partitions: %v", d.AssignedPartitions())
	}

	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 0, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: other, Partition: 0, At: 0, LeaderEpoch: -1})
	// Commits from outside the group's generation are refused.
	if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	if err := adm.CommitAllOffsets(ctx, group, offs); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("standalone commit into a group with members: %v, want UNKNOWN_MEMBER_ID", err)
	}

	lg, err := adm.ListGroups(ctx, "Stable")
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := lg[group]; !ok || g.ProtocolType != "consumer" {
		t.Fatalf("ListGroups(Stable): %+v", lg)
	}
	if lg, err := adm.ListGroups(ctx, "Empty"); err != nil || len(lg) != 0 {
		t.Fatalf("ListGroups(Empty): %+v %v", lg, err)
	}

	dr, err := adm.DeleteGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if err := dr[group].Err; !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("deleting a group with members: %v, want NON_EMPTY_GROUP", err)
	}
	m.close()
	// A static member does not leave on close: remove it by instance id.
	lr, err := adm.LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs("static-1"))
	if err != nil || lr.Error() != nil {
		t.Fatalf("leave by instance id: %v %v", err, lr.Error())
	}
	waitFor(t, "an Empty group", 10*time.Second, func() bool { return describe(t, adm, group).State == "Empty" })

	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatalf("standalone commit into an empty group: %v", err)
	}
	ts := make(kadm.TopicsSet)
	ts.Add(other, 0)
	odr, err := adm.DeleteOffsets(ctx, group, ts)
	if err != nil || odr.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, odr.Error())
	}
	fo, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fo.Lookup(other, 0); ok {
		t.Fatalf("offset of %s/0 survived OffsetDelete: %v", other, fo)
	}
	if _, ok := fo.Lookup(topic, 1); !ok {
		t.Fatalf("offset of %s/1 went with OffsetDelete of another topic: %v", topic, fo)
	}

	dr, err = adm.DeleteGroups(ctx, group, "no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	if err := dr[group].Err; err != nil {
		t.Fatalf("deleting an empty group: %v", err)
	}
	if err := dr["no-such-group"].Err; !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatalf("deleting an unknown group: %v, want GROUP_ID_NOT_FOUND", err)
	}
	fo, err = adm.FetchOffsets(ctx, group)
	if err != nil || len(fo) != 0 {
		t.Fatalf("offsets after DeleteGroups: %v %v", fo, err)
	}
	if d := describe(t, adm, group); d.State != "Dead" {
		t.Fatalf("deleted group described as %q, want Dead", d.State)
	}

	fc := adm.FindGroupCoordinators(ctx, "x", "y")
	for k, c := range fc {
		if c.Err != nil || c.NodeID != 1 {
			t.Fatalf("coordinator of group %s: %+v", k, c)
		}
	}
	// A transactional id's coordinator is found the same way.
	tc := adm.FindTxnCoordinators(ctx, "txn")
	if c := tc["txn"]; c.Err != nil || c.NodeID != 1 {
		t.Fatalf("transaction coordinator: %+v, want broker 1", c)
	}
}

// TestGroupsVersionZero runs a group member that speaks only v0 of every
// group API (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch), as the oldest clients do.
func TestGroupsVersionZero(t *testing.T) {
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	const topic, group = "v0-topic", "v0-group"
	shaletest.CreateTopic(t, addr, topic, 3, nil)
	produceValues(t, shaletest.Client(t, addr), topic, "a", 150)
	v := kversion.Stable()
	for key := int16(8); key <= 16; key++ {
		v.SetMaxKeyVersion(key, 0)
	}
	s := newSeen()
	m := startMember(t, addr, "old-member", s, groupMemberOpts(group, topic, kgo.MaxVersions(v), kgo.Balancers(kgo.RangeBalancer())))
	waitFor(t, "every record consumed", 30*time.Second, func() bool { return s.distinct() == 150 })
	m.close()
	adm := shaletest.Admin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 150 {
		t.Fatalf("v0 commits add up to %d, want 150", total)
	}
}
