package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readAll consumes topic from the start at the given isolation level and
// returns the values read with their counts. It stops when three polls of
// a second in a row returned nothing (markers and aborted batches move the
// position without records, so offsets alone cannot tell the end); the
// ends listed first only name the partitions in failure messages.
func readAll(t *testing.T, addr, topic string, committed bool) map[string]int {
	t.Helper()
	adm := shaletest.Admin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ends kadm.ListedOffsets
	var err error
	if committed {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		t.Fatal(err)
	}
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	cl := shaletest.Client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level))
	seen := map[string]int{}
	last := map[int32]int64{}
	empty := 0
	for empty < 3 {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("reading %s (committed %v): %v; last offsets %v of %v", topic, committed, ctx.Err(), last, ends)
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch partition %d: %v", p, err)
			}
		})
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			last[r.Partition] = r.Offset
			n++
		})
		if n > 0 {
			empty = 0
			continue
		}
		empty++
	}
	return seen
}

// TestTxnFranzCommitAndAbort: a transactional producer commits every other
// transaction and aborts the rest; read_committed sees exactly the
// committed records once, read_uncommitted sees everything, and the
// offsets of markers are skipped by the consumer.
func TestTxnFranzCommitAndAbort(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "txn-a", 3, nil)
	p := shaletest.Client(t, addr, kgo.TransactionalID("txn-a-producer"), kgo.DefaultProduceTopic("txn-a"),
		kgo.TransactionTimeout(30*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const txns, per = 10, 50
	for i := range txns {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		kind := "commit"
		if i%2 == 1 {
			kind = "abort"
		}
		for j := range per {
			p.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(j)), Value: []byte(fmt.Sprintf("%s-%d-%d", kind, i, j))}, nil)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(kind == "commit")); err != nil {
			t.Fatalf("end transaction %d (%s): %v", i, kind, err)
		}
	}
	committed := readAll(t, addr, "txn-a", true)
	if len(committed) != txns/2*per {
		t.Fatalf("read_committed saw %d distinct records, want %d", len(committed), txns/2*per)
	}
	for v, c := range committed {
		if !strings.HasPrefix(v, "commit-") || c != 1 {
			t.Fatalf("read_committed saw %q %d times", v, c)
		}
	}
	all := readAll(t, addr, "txn-a", false)
	if len(all) != txns*per {
		t.Fatalf("read_uncommitted saw %d distinct records, want %d", len(all), txns*per)
	}
}

// TestTxnOpenTransactionHoldsTheLSO: records after an open transaction's
// first record, even from other producers, stay invisible to read_committed
// until it ends; then its records appear if it commits.
func TestTxnOpenTransactionHoldsTheLSO(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "txn-lso", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain := shaletest.Client(t, addr, kgo.DefaultProduceTopic("txn-lso"))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tx := shaletest.Client(t, addr, kgo.TransactionalID("txn-lso-producer"), kgo.DefaultProduceTopic("txn-lso"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte("in-txn")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := shaletest.Admin(t, addr)
	lso, err := adm.ListCommittedOffsets(ctx, "txn-lso")
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, "txn-lso")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup("txn-lso", 0); o.Offset != 1 {
		t.Fatalf("last stable offset %d with a transaction open at offset 1, want 1", o.Offset)
	}
	if o, _ := end.Lookup("txn-lso", 0); o.Offset != 3 {
		t.Fatalf("end offset %d, want 3", o.Offset)
	}
	if got := readAll(t, addr, "txn-lso", true); len(got) != 1 || got["before"] != 1 {
		t.Fatalf("read_committed with the transaction open: %v, want only \"before\"", got)
	}
	// DescribeProducers (kafka-transactions.sh find-hanging) shows the
	// open transaction's first offset; the plain idempotent producer has
	// none open.
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"txn-lso": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	part := dp["txn-lso"].Partitions[0]
	if part.Err != nil || len(part.ActiveProducers) != 2 {
		t.Fatalf("described producers of txn-lso-0: %+v, want the transactional and the plain one", part)
	}
	open := 0
	for _, ap := range part.ActiveProducers {
		if ap.CurrentTxnStartOffset == 1 {
			open++
		} else if ap.CurrentTxnStartOffset != -1 {
			t.Fatalf("producer %d: transaction start %d, want 1 or -1", ap.ProducerID, ap.CurrentTxnStartOffset)
		}
	}
	if open != 1 {
		t.Fatalf("%d producers with a transaction open at offset 1, want 1: %+v", open, part.ActiveProducers)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, addr, "txn-lso", true); len(got) != 3 {
		t.Fatalf("read_committed after the commit: %v, want before, in-txn and after", got)
	}
}

// TestTxnGroupTransactSession: a consume-transform-produce loop of
// 100,000 records with franz-go's GroupTransactSession in three member
// processes; one is killed with SIGKILL in the middle of the run (its
// transaction left open) and started again under the same transactional
// id. The output read at read_committed holds every input record exactly
// once, and the group's committed offsets reach the input's end.
func TestTxnGroupTransactSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100,000 records through three processes")
	}
	member := shaletest.Build(t, "./e2e/testdata/etlmember")
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "etl-in", 6, nil)
	shaletest.CreateTopic(t, addr, "etl-out", 6, nil)
	const total = 100_000
	produceValues(t, shaletest.Client(t, addr, kgo.MaxBufferedRecords(total)), "etl-in", "v", total)

	start := func(i int) *exec.Cmd {
		cmd := exec.Command(member, addr, fmt.Sprintf("etl-%d", i), "etl", "etl-in", "etl-out")
		cmd.Stderr = &proc.Buffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	members := []*exec.Cmd{start(0), start(1), start(2)}
	adm := shaletest.Admin(t, addr)
	committed := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, "etl")
		if err != nil {
			return 0
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	began := time.Now()
	waitFor := func(what string, n int64) {
		t.Helper()
		deadline := time.Now().Add(150 * time.Second)
		for committed() < n {
			if time.Now().After(deadline) {
				for i, m := range members {
					t.Logf("member %d stderr:\n%s", i, m.Stderr.(*proc.Buffer).String())
				}
				t.Fatalf("%s: the group committed %d of %d offsets", what, committed(), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("before the kill", total/3)
	members[1].Process.Kill()
	members[1].Wait()
	killedAt := committed()
	time.Sleep(time.Second)
	members[1] = start(1) // the same transactional id: fences and aborts the dead one's transaction
	waitFor("after the kill", total)
	took := time.Since(began)
	for _, m := range members {
		m.Process.Signal(syscall.SIGTERM)
	}
	out := readAll(t, addr, "etl-out", true)
	dups := 0
	for _, c := range out {
		if c != 1 {
			dups++
		}
	}
	t.Logf("100,000 records through three GroupTransactSession processes in %v (member 2 killed at %d committed, restarted): %d distinct in the output, %d read twice",
		took.Round(time.Millisecond), killedAt, len(out), dups)
	if len(out) != total || dups != 0 {
		t.Fatalf("output holds %d distinct records (%d more than once), want each of %d exactly once", len(out), dups, total)
	}
}

// TestTxnLibrdkafka: librdkafka's transactional producer (init, begin,
// produce, send_offsets_to_transaction, commit, abort) through
// confluent-kafka; its read_committed consumer and kcat with
// isolation.level=read_committed see no aborted record, the committed
// ones once, and the group's offsets committed by the transaction.
func TestTxnLibrdkafka(t *testing.T) {
	python := requireConfluentKafka(t)
	kcat := shaletest.RequireTool(t, "kcat")
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "py-in", 1, nil)
	shaletest.CreateTopic(t, addr, "py-out", 2, nil)
	produceValues(t, shaletest.Client(t, addr), "py-in", "in", 50)
	cmd := exec.Command(python, "testdata/txn_librdkafka.py", addr, "py-in", "py-out", "py-group")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("txn_librdkafka.py: %v\n%s", err, stderr.String())
	}
	check := func(who string, lines []string) {
		t.Helper()
		counts := map[string]int{}
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				counts[l]++
			}
		}
		commits, etl := 0, 0
		for v, c := range counts {
			switch {
			case c != 1:
				t.Fatalf("%s: %q read %d times", who, v, c)
			case strings.HasPrefix(v, "abort-"):
				t.Fatalf("%s: read aborted record %q", who, v)
			case strings.HasPrefix(v, "commit-"):
				commits++
			case strings.HasPrefix(v, "etl-"):
				etl++
			}
		}
		if commits != 100 || etl != 50 {
			t.Fatalf("%s: %d committed and %d transformed records, want 100 and 50", who, commits, etl)
		}
	}
	check("confluent-kafka read_committed", strings.Split(string(out), "\n"))
	kc := exec.Command(kcat, "-b", addr, "-C", "-t", "py-out", "-o", "beginning", "-e", "-q", "-f", "%s\n",
		"-X", "isolation.level=read_committed")
	kout, err := kc.Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	check("kcat read_committed", strings.Split(string(kout), "\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := shaletest.Admin(t, addr).FetchOffsets(ctx, "py-group")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("py-in", 0); !ok || o.At != 50 {
		t.Fatalf("py-group's committed offset of py-in-0: %+v, want 50", o)
	}
}

// TestTxnReadCommittedReplayFromBucket: transactions committed and aborted
// (and interleaved with plain records) on MinIO; after the broker restarts
// with its WAL wiped, a read_committed replay from offset 0, all of it out
// of the bucket, returns exactly what the hot read returned.
func TestTxnReadCommittedReplayFromBucket(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	dataDir := t.TempDir()
	n := s3Node(t, srv, dataDir, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "txn-replay", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tx := shaletest.Client(t, addr, kgo.TransactionalID("replay-producer"), kgo.DefaultProduceTopic("txn-replay"))
	plain := shaletest.Client(t, addr, kgo.DefaultProduceTopic("txn-replay"))
	for i := range 20 {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 30 {
			tx.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(j)), Value: []byte(fmt.Sprintf("t%d-%d", i, j))}, nil)
			if j%10 == 0 {
				plain.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(j)), Value: []byte(fmt.Sprintf("plain%d-%d", i, j))}, nil)
			}
		}
		if err := tx.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := plain.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(i%3 != 0)); err != nil {
			t.Fatal(err)
		}
	}
	hot := readAll(t, addr, "txn-replay", true)
	if want := 13*30 + 20*3; len(hot) != want {
		t.Fatalf("hot read_committed: %d records, want %d", len(hot), want)
	}
	tx.Close()
	plain.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "wal")); err != nil {
		t.Fatal(err)
	}
	n2 := s3Node(t, srv, dataDir, nil)
	cold := readAll(t, n2.Addr(), "txn-replay", true)
	if !maps.Equal(hot, cold) {
		t.Fatalf("read_committed out of the bucket differs from the hot read: %d vs %d records", len(cold), len(hot))
	}
}

// TestTxnVerification: the KIP-890 defences. AddPartitionsToTxn v4 with
// VerifyOnly answers, per partition, whether it is in the ongoing
// transaction without adding it; a transactional batch for a partition
// that was not added, of an older epoch, or without its transactional id
// in the request is refused and not written.
func TestTxnVerification(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "vtxn", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := shaletest.Client(t, addr, kgo.TransactionalID("verify-me"), kgo.DefaultProduceTopic("vtxn"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("in")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	d, err := shaletest.Admin(t, addr).DescribeTransactions(ctx, "verify-me")
	if err != nil {
		t.Fatal(err)
	}
	pid, epoch := d["verify-me"].ProducerID, d["verify-me"].ProducerEpoch

	c := dialRaw(t, addr)
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "verify-me", pid, epoch, true
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = "vtxn", []int32{0, 1}
	tx.Topics = append(tx.Topics, tt)
	req.Transactions = append(req.Transactions, tx)
	resp := c.roundTrip(req).(*kmsg.AddPartitionsToTxnResponse)
	codes := map[int32]int16{}
	for _, rt := range resp.Transactions {
		for _, tp := range rt.Topics {
			for _, pp := range tp.Partitions {
				codes[pp.Partition] = pp.ErrorCode
			}
		}
	}
	if codes[0] != 0 || codes[1] != kerr.InvalidTxnState.Code {
		t.Fatalf("verify-only answers %v, want partition 0 in the transaction and 1 INVALID_TXN_STATE", codes)
	}

	transactional := func(epoch int16, seq int32) []byte {
		b := rawBatch(1, 10, pid, epoch, seq)
		binary.BigEndian.PutUint16(b[21:], 0x10) // transactional
		return resignBatch(b)
	}
	produce := func(part int32, batch []byte, withID bool) kmsg.ProduceResponseTopicPartition {
		r := rawProduce("vtxn", part, -1, batch)
		if withID {
			id := "verify-me"
			r.TransactionID = &id
		}
		return produced(t, c.roundTrip(r))
	}
	wantCode(t, "a partition not added", produce(1, transactional(epoch, 0), true).ErrorCode, kerr.InvalidTxnState)
	wantCode(t, "an older epoch", produce(0, transactional(epoch-1, 1), true).ErrorCode, kerr.InvalidProducerEpoch)
	wantCode(t, "no transactional id", produce(0, transactional(epoch, 1), false).ErrorCode, kerr.InvalidTxnState)
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	end, err := shaletest.Admin(t, addr).ListEndOffsets(ctx, "vtxn")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup("vtxn", 1); o.Offset != 0 {
		t.Fatalf("partition 1 holds %d records after refused produces, want 0", o.Offset)
	}
	c.alive()
}

// TestTxnOffsetCommitChecksTheMember: TxnOffsetCommit v3 names the group
// member committing (KIP-447); one the group does not know is refused with
// UNKNOWN_MEMBER_ID, a generation with no group ILLEGAL_GENERATION, and
// nothing is committed.
func TestTxnOffsetCommitChecksTheMember(t *testing.T) {
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "tm", 1, nil)
	produceValues(t, shaletest.Client(t, addr), "tm", "v", 10)
	member := shaletest.Client(t, addr, kgo.ConsumerGroup("tm-group"), kgo.ConsumeTopics("tm"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := 0; got < 10; {
		got += member.PollFetches(ctx).NumRecords()
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	c := dialRaw(t, addr)
	commit := func(group, memberID string, generation int32) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = 3
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = "tm-txn", group, 1, 0
		req.MemberID, req.Generation = memberID, generation
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "tm"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 5
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := c.roundTrip(req).(*kmsg.TxnOffsetCommitResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "a member the group does not know", commit("tm-group", "nobody", 1), kerr.UnknownMemberID)
	wantCode(t, "a generation of a group that does not exist", commit("no-such-group", "someone", 3), kerr.IllegalGeneration)
	c.alive()
}
