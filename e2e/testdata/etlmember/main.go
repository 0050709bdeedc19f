// Command etlmember is one member of a transactional consume-transform-
// produce group (franz-go's GroupTransactSession), run as its own process
// so that a test can kill it with SIGKILL in the middle of a transaction.
//
// Usage: etlmember BROKERS TRANSACTIONAL-ID GROUP IN-TOPIC OUT-TOPIC
//
// Every record of IN-TOPIC is written to OUT-TOPIC as "out-" + value, in
// the same transaction as the group's offsets. It runs until SIGTERM, then
// ends its transaction and leaves the group; errors go to stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: etlmember BROKERS TRANSACTIONAL-ID GROUP IN-TOPIC OUT-TOPIC")
		os.Exit(2)
	}
	brokers, id, group, in, out := strings.Split(os.Args[1], ","), os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(brokers...),
		kgo.TransactionalID(id),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(out),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.TransactionTimeout(20*time.Second),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etlmember:", err)
		os.Exit(1)
	}
	defer sess.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := sess.PollRecords(pctx, 200) // many transactions, so a kill lands in one
		cancel()
		if err := sess.Begin(); err != nil {
			fmt.Fprintln(os.Stderr, "etlmember: begin:", err)
			os.Exit(1)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(context.Background(), &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
		})
		ectx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := sess.End(ectx, kgo.TryCommit); err != nil {
			fmt.Fprintln(os.Stderr, "etlmember: end:", err)
		}
		cancel()
	}
}
