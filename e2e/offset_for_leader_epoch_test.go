package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// epochRequests counts the OffsetForLeaderEpoch requests a client writes.
type epochRequests struct{ n atomic.Int64 }

func (h *epochRequests) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(kmsg.OffsetForLeaderEpoch) && err == nil {
		h.n.Add(1)
	}
}

// produceNumbered produces values v-from..v-(to-1) to partition 0 of topic.
func produceNumbered(t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	rs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "v-%d", i)})
	}
	if err := cl.ProduceSync(testContext(t, 30*time.Second), rs...).FirstErr(); err != nil {
		t.Fatalf("produce %s %d..%d: %v", topic, from, to, err)
	}
}

// askEpoch sends one OffsetForLeaderEpoch for partition 0 of topic.
func askEpoch(t *testing.T, cl *kgo.Client, topic string, epoch int32) (int32, int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, 0, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := req.RequestWith(testContext(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("OffsetForLeaderEpoch: %v", err)
	}
	p := kresp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("OffsetForLeaderEpoch %s-0 epoch %d: error code %d", topic, epoch, p.ErrorCode)
	}
	return p.LeaderEpoch, p.EndOffset
}

// consumeFrom reads partition 0 of topic from offset at (validated under
// epoch 0) until want records arrived, failing on any fetch error.
func consumeFrom(t *testing.T, addr, topic string, at int64, want int, hook *epochRequests) []*kgo.Record {
	t.Helper()
	cl := shaletest.Client(t, addr, kgo.WithHooks(hook), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().At(at).WithEpoch(0)},
	}))
	ctx := testContext(t, 60*time.Second)
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s from %d: %d of %d records before the deadline", topic, at, len(got), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

// TestOffsetForLeaderEpochFranz: franz-go validates positions that carry
// a leader epoch with OffsetForLeaderEpoch (KIP-320) and consumes without
// errors; a position past the end of its epoch is reported as data loss
// (the truncation a leader change causes) and reset to the epoch's end;
// a group member resuming from a committed offset validates it too.
func TestOffsetForLeaderEpochFranz(t *testing.T) {
	t.Parallel()
	n := shaletest.StartNode(t, fastGroups)
	const topic = "olep-franz"
	shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceNumbered(t, cl, topic, 0, 50)

	if epoch, end := askEpoch(t, cl, topic, 0); epoch != 0 || end != 50 {
		t.Fatalf("epoch 0 ends at (%d, %d), want (0, 50)", epoch, end)
	}
	if epoch, end := askEpoch(t, cl, topic, 1); epoch != -1 || end != -1 {
		t.Fatalf("epoch 1 (newer than the log's) answered (%d, %d), want (-1, -1)", epoch, end)
	}

	// A validated position inside the epoch: consumed as usual.
	var hook epochRequests
	got := consumeFrom(t, n.Addr(), topic, 20, 30, &hook)
	if got[0].Offset != 20 || string(got[0].Value) != "v-20" || got[29].Offset != 49 {
		t.Fatalf("consumed from %d (%s) to %d, want 20..49", got[0].Offset, got[0].Value, got[len(got)-1].Offset)
	}
	if hook.n.Load() == 0 {
		t.Fatal("franz-go did not send OffsetForLeaderEpoch for a position with an epoch")
	}

	// A position past the end of epoch 0: the client detects the
	// truncation and resets to where the epoch ends.
	lost := shaletest.Client(t, n.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().At(70).WithEpoch(0)},
	}))
	ctx := testContext(t, 30*time.Second)
	var dataLoss *kgo.ErrDataLoss
	for dataLoss == nil {
		fs := lost.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no data loss reported for a position past the end of its epoch")
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.As(err, &dataLoss) {
				t.Fatalf("fetch error %v, want *kgo.ErrDataLoss", err)
			}
		})
	}
	if dataLoss.ConsumedTo != 70 || dataLoss.ResetTo != 50 || dataLoss.ResetToEpoch != 0 {
		t.Fatalf("data loss %+v, want consumed to 70, reset to 50 in epoch 0", *dataLoss)
	}

	// Retention moves the log start; the epoch's answer does not change.
	adm := kadm.NewClient(cl)
	drs, err := adm.DeleteRecords(testContext(t, 30*time.Second), kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 10}}})
	if err == nil {
		err = drs.Error()
	}
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}
	if epoch, end := askEpoch(t, cl, topic, 0); epoch != 0 || end != 50 {
		t.Fatalf("after DeleteRecords epoch 0 ends at (%d, %d), want (0, 50)", epoch, end)
	}

	// A group member commits (with the records' leader epoch); the next
	// one resumes from that commit after validating it.
	const group = "olep-group"
	first := shaletest.Client(t, n.Addr(), groupMemberOpts(group, topic, kgo.DisableAutoCommit())...)
	ctx = testContext(t, 60*time.Second)
	var read int
	for read < 40 { // offsets 10..49
		fs := first.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("first member read %d of 40 records", read)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("first member: fetch %s-%d: %v", topic, p, err) })
		read += fs.NumRecords()
	}
	if err := first.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	first.Close()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); !ok || o.At != 50 || o.LeaderEpoch != 0 {
		t.Fatalf("committed %+v, want offset 50 epoch 0", o)
	}
	produceNumbered(t, cl, topic, 50, 60)
	var groupHook epochRequests
	second := shaletest.Client(t, n.Addr(), groupMemberOpts(group, topic, kgo.DisableAutoCommit(), kgo.WithHooks(&groupHook))...)
	var rest []*kgo.Record
	for len(rest) < 10 {
		fs := second.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("second member read %d of 10 records", len(rest))
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("second member: fetch %s-%d: %v", topic, p, err) })
		rest = append(rest, fs.Records()...)
	}
	if rest[0].Offset != 50 || len(rest) != 10 {
		t.Fatalf("second member resumed at %d with %d records, want 50 and 10", rest[0].Offset, len(rest))
	}
	if groupHook.n.Load() == 0 {
		t.Fatal("the resuming member did not validate its committed epoch with OffsetForLeaderEpoch")
	}
}

// TestOffsetForLeaderEpochLibrdkafka: a librdkafka group consumer (through
// confluent-kafka-python) consumes, commits, and a second one resumes from
// the commit, with OffsetForLeaderEpoch advertised; and kcat reads the
// topic. Neither may report an error. librdkafka validates committed
// epochs with OffsetForLeaderEpoch from version 2.1 on; the test logs
// whether the installed one sent it.
func TestOffsetForLeaderEpochLibrdkafka(t *testing.T) {
	python := requireConfluentKafka(t)
	t.Parallel()
	n := shaletest.StartNode(t, fastGroups)
	const topic = "olep-rdkafka"
	shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceNumbered(t, cl, topic, 0, 30)

	run := func(from, count int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, "testdata/olep_consumer.py", n.Addr(), topic, "olep-py", fmt.Sprint(from), fmt.Sprint(count))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || !bytes.HasSuffix(bytes.TrimSpace(stdout.Bytes()), []byte("OK")) {
			t.Fatalf("olep_consumer.py %d %d: %v\n%s\nlibrdkafka log tail:\n%s", from, count, err, stdout.Bytes(), tail(stderr.String(), 40))
		}
		sent := strings.Count(stderr.String(), "Sent OffsetForLeaderEpochRequest")
		t.Logf("olep_consumer.py %d %d: OK; OffsetForLeaderEpoch requests sent: %d", from, count, sent)
	}
	run(0, 30)
	produceNumbered(t, cl, topic, 30, 45)
	run(30, 15)

	if kcat, err := exec.LookPath("kcat"); err == nil {
		out := runKcat(t, kcat, nil, "-b", n.Addr(), "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %s\n")
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 45 || lines[0] != "0 v-0" || lines[44] != "44 v-44" {
			t.Fatalf("kcat read %d lines (%q .. %q), want 45", len(lines), lines[0], lines[len(lines)-1])
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
