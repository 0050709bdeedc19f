package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A producer leaves a transaction open and goes away: `transactions list`
// shows it Ongoing with the records it holds back from read_committed
// consumers, `abort` ends it, and then the last stable offset reaches the
// end and nothing of it is readable at read_committed.
func TestTransactionsListDescribeAbort(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "hang", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := shaletest.Client(t, addr, kgo.TransactionalID("hanging"), kgo.DefaultProduceTopic("hang"), kgo.TransactionTimeout(10*time.Minute))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r := mustCLI(t, addr, "transactions", "list", "--output", "json")
	var listed []txnListing
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("list --output json: %v\n%s", err, r.stdout)
	}
	if len(listed) != 1 || listed[0].TransactionalID != "hanging" || listed[0].State != "Ongoing" ||
		len(listed[0].Partitions) != 1 || listed[0].HeldBack != 5 || listed[0].OpenForMs <= 0 {
		t.Fatalf("listed %+v, want hanging Ongoing on hang:0 holding back 5 records", listed)
	}
	if r := mustCLI(t, addr, "transactions", "describe", "hanging"); !strings.Contains(r.stdout, "hang:0") || !strings.Contains(r.stdout, "Ongoing") {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	mustCLI(t, addr, "transactions", "abort", "hanging")
	r = mustCLI(t, addr, "transactions", "list", "--output", "json")
	listed = nil
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].State != "CompleteAbort" || listed[0].HeldBack != 0 {
		t.Fatalf("after abort: %+v, want CompleteAbort holding nothing back", listed)
	}
	if r := cliAt(t, addr, "transactions", "abort", "hanging"); r.code == exitOK || !strings.Contains(r.stderr, "not Ongoing") {
		t.Fatalf("aborting a finished transaction:\n%s", r)
	}
	if r := cliAt(t, addr, "transactions", "describe"); r.code != exitUsage {
		t.Fatalf("describe without ids:\n%s", r)
	}
}
