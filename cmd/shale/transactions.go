package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runTransactions is `shale transactions ...`, in the manner of
// kafka-transactions.sh.
func runTransactions(args []string, stdout, stderr io.Writer) int {
	return runAdmin("transactions", "inspect transactional producers and abort a hanging transaction", transactionsCommands(), args, stdout, stderr)
}

func transactionsCommands() []adminSpec {
	return []adminSpec{
		{
			name:     "list",
			synopsis: "[--output table|json]",
			summary:  "list transactional ids (ID STATE PRODUCER OPEN-FOR PARTITIONS HELD-BACK)",
			details: `Lists every transactional id with its state, producer id and epoch, how
long its transaction has been open, how many partitions it spans, and how
many records read_committed consumers cannot read yet in those partitions
(each partition's high watermark minus its last stable offset: what the
oldest open transaction holds back).`,
			run: transactionsList,
		},
		{
			name:     "describe",
			synopsis: "TRANSACTIONAL-ID... [--output table|json]",
			summary:  "show a transaction's state, timeout and partitions",
			run:      transactionsDescribe,
		},
		{
			name:     "abort",
			synopsis: "TRANSACTIONAL-ID",
			summary:  "abort an ongoing transaction (its producer must then start a new one)",
			details: `Aborts the ongoing transaction of a transactional id through its
coordinator, as the producer's own abort would: ABORT markers are written
to its partitions, its records are never shown to read_committed
consumers, and the last stable offset moves on. Use it for a transaction
whose producer is gone and whose timeout is long.`,
			run: transactionsAbort,
		},
	}
}

// txnListing is one transactional id in `transactions list`/`describe`.
type txnListing struct {
	TransactionalID string   `json:"transactional_id"`
	Coordinator     int32    `json:"coordinator"`
	State           string   `json:"state"`
	ProducerID      int64    `json:"producer_id"`
	ProducerEpoch   int16    `json:"producer_epoch"`
	TimeoutMs       int32    `json:"timeout_ms"`
	OpenForMs       int64    `json:"open_for_ms"` // 0 when no transaction is open
	Partitions      []string `json:"partitions"`
	HeldBack        int64    `json:"held_back_records"`
}

func describeTxns(ctx context.Context, c *adminCmd, adm *kadm.Client, ids []string) ([]txnListing, error) {
	described, err := adm.DescribeTransactions(ctx, ids...)
	if err != nil && !isShardErr(err) {
		return nil, c.requestErr("describe transactions", err)
	}
	now := time.Now().UnixMilli()
	var out []txnListing
	topics := map[string]bool{}
	for _, id := range ids {
		d, ok := described[id]
		if !ok || d.Err != nil {
			reason := "no answer"
			if ok {
				reason = d.Err.Error()
			}
			return nil, fmt.Errorf("describe transaction %q: %s", id, reason)
		}
		l := txnListing{TransactionalID: id, Coordinator: d.Coordinator, State: d.State, ProducerID: d.ProducerID,
			ProducerEpoch: d.ProducerEpoch, TimeoutMs: d.TimeoutMillis, Partitions: []string{}}
		if d.StartTimestamp > 0 {
			l.OpenForMs = max(0, now-d.StartTimestamp)
		}
		for _, tp := range d.Topics.Sorted() {
			for _, p := range tp.Partitions {
				l.Partitions = append(l.Partitions, fmt.Sprintf("%s:%d", tp.Topic, p))
			}
			topics[tp.Topic] = true
		}
		out = append(out, l)
	}
	if len(topics) == 0 {
		return out, nil
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ends, err1 := adm.ListEndOffsets(ctx, names...)
	stable, err2 := adm.ListCommittedOffsets(ctx, names...)
	if err1 != nil || err2 != nil {
		return out, nil // the rest is shown; held back stays 0
	}
	for i := range out {
		for _, name := range out[i].Partitions {
			cut := strings.LastIndexByte(name, ':')
			var p int32
			fmt.Sscan(name[cut+1:], &p)
			e, ok1 := ends.Lookup(name[:cut], p)
			s, ok2 := stable.Lookup(name[:cut], p)
			if ok1 && ok2 && e.Err == nil && s.Err == nil {
				out[i].HeldBack += max(0, e.Offset-s.Offset)
			}
		}
	}
	return out, nil
}

func printTxns(c *adminCmd, out []txnListing) error {
	if c.output == "json" {
		return writeJSON(c.stdout, out)
	}
	t := newTable("TRANSACTIONAL-ID", "STATE", "PRODUCER", "COORDINATOR", "OPEN-FOR", "PARTITIONS", "HELD-BACK")
	for _, l := range out {
		open := "-"
		if l.OpenForMs > 0 {
			open = (time.Duration(l.OpenForMs) * time.Millisecond).Round(time.Millisecond).String()
		}
		t.addRow(l.TransactionalID, l.State, fmt.Sprintf("%d/%d", l.ProducerID, l.ProducerEpoch), l.Coordinator, open, len(l.Partitions), l.HeldBack)
	}
	return t.render(c.stdout)
}

// transactionsList is `shale transactions list`.
func transactionsList(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (list takes no ids; see 'describe')", rest[0])
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	listed, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		if !isShardErr(err) {
			return c.requestErr("list transactions", err)
		}
		fmt.Fprintf(c.stderr, "%s: warning: some brokers did not answer; the list may be incomplete: %v\n", c.path, err)
	}
	ids := make([]string, 0, len(listed))
	for id := range listed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []txnListing{}
	if len(ids) > 0 {
		if out, err = describeTxns(ctx, c, adm, ids); err != nil {
			return err
		}
	}
	return printTxns(c, out)
}

// transactionsDescribe is `shale transactions describe`.
func transactionsDescribe(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	ids, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usagef("name at least one transactional id")
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	out, err := describeTxns(ctx, c, adm, ids)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return writeJSON(c.stdout, out)
	}
	if err := printTxns(c, out); err != nil {
		return err
	}
	for _, l := range out {
		if len(l.Partitions) > 0 {
			fmt.Fprintf(c.stdout, "\n%s partitions: %s\n", l.TransactionalID, strings.Join(l.Partitions, " "))
		}
	}
	return nil
}

// transactionsAbort is `shale transactions abort`.
func transactionsAbort(c *adminCmd, args []string) error {
	fs := c.flags()
	ids, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name exactly one transactional id")
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	out, err := describeTxns(ctx, c, adm, ids)
	if err != nil {
		return err
	}
	l := out[0]
	if l.State != "Ongoing" {
		return fmt.Errorf("transaction %q is %s, not Ongoing: nothing to abort", l.TransactionalID, l.State)
	}
	seeds, err := c.seedBrokers()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ClientID("shale-cli"))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = l.TransactionalID, l.ProducerID, l.ProducerEpoch, false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return c.requestErr("end transaction", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("abort transaction %q: %w", l.TransactionalID, err)
	}
	fmt.Fprintf(c.stdout, "aborted transaction %q (producer %d epoch %d, %d partitions)\n", l.TransactionalID, l.ProducerID, l.ProducerEpoch, len(l.Partitions))
	return nil
}
