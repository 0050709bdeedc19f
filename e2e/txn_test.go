package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readAll consumes topic from the start at the given isolation level until
// it has read every offset below the partitions' ends at that level (end
// offsets listed first), and returns the values with their counts.
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
	next := map[int32]int64{}
	done := func() bool {
		complete := true
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Partition] < o.Offset {
				complete = false
			}
		})
		return complete
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s (committed %v): %v; at %v of %v", topic, committed, ctx.Err(), next, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			next[r.Partition] = r.Offset + 1
		})
		// Markers and aborted data advance the position without records.
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.LastStableOffset > 0 && committed {
				next[p.Partition] = max(next[p.Partition], min(p.LastStableOffset, p.HighWatermark))
			} else if !committed {
				next[p.Partition] = max(next[p.Partition], p.HighWatermark)
			}
		})
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
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, addr, "txn-lso", true); len(got) != 3 {
		t.Fatalf("read_committed after the commit: %v, want before, in-txn and after", got)
	}
}

// TestTxnGroupTransactSession: a consume-transform-produce loop with
// franz-go's GroupTransactSession, two members: the output read at
// read_committed holds every input record exactly once, and the group's
// committed offsets are at the input's end.
func TestTxnGroupTransactSession(t *testing.T) {
	n := shaletest.StartNode(t, fastGroups)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "etl-in", 4, nil)
	shaletest.CreateTopic(t, addr, "etl-out", 4, nil)
	const total = 4000
	produceValues(t, shaletest.Client(t, addr), "etl-in", "v", total)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	processed := 0
	errs := make(chan error, 2)
	for m := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := kgo.NewGroupTransactSession(
				kgo.SeedBrokers(addr),
				kgo.TransactionalID(fmt.Sprintf("etl-%d", m)),
				kgo.ConsumerGroup("etl"),
				kgo.ConsumeTopics("etl-in"),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.DefaultProduceTopic("etl-out"),
				kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
			)
			if err != nil {
				errs <- err
				return
			}
			defer sess.Close()
			for ctx.Err() == nil {
				mu.Lock()
				finished := processed >= total
				mu.Unlock()
				if finished {
					return
				}
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				fs := sess.PollFetches(pctx)
				pcancel()
				if err := sess.Begin(); err != nil {
					errs <- fmt.Errorf("begin: %w", err)
					return
				}
				var recs []*kgo.Record
				fs.EachRecord(func(r *kgo.Record) {
					recs = append(recs, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)})
				})
				for _, r := range recs {
					sess.Produce(ctx, r, nil)
				}
				committed, err := sess.End(ctx, kgo.TryCommit)
				if err != nil {
					errs <- fmt.Errorf("end: %w", err)
					return
				}
				if committed {
					mu.Lock()
					processed += len(recs)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	out := readAll(t, addr, "etl-out", true)
	if len(out) != total {
		t.Fatalf("output holds %d distinct records, want %d", len(out), total)
	}
	for v, c := range out {
		if c != 1 {
			t.Fatalf("output record %q appears %d times", v, c)
		}
	}
	offs, err := shaletest.Admin(t, addr).FetchOffsets(ctx, "etl")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != total {
		t.Fatalf("the group's committed offsets add up to %d, want %d", sum, total)
	}
}
