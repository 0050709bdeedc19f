package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// BenchmarkListenerSecurity measures produce and consume throughput of
// 1 KiB records (acks=1, 8 partitions) through three listeners of one
// node in the same run: PLAINTEXT, SSL (TLS 1.3) and SASL_SSL
// (SCRAM-SHA-512 over TLS). Run it as
//
//	go test ./e2e -run '^$' -bench ListenerSecurity -benchtime 200000x
func BenchmarkListenerSecurity(b *testing.B) {
	pki := newTestPKI(b)
	n := shaletest.StartNode(b, func(c *node.Config) {
		c.LogLevel = "error"
		c.Broker.Listeners = []broker.ListenerConfig{
			{Name: "PLAINTEXT", Listen: "127.0.0.1:0"},
			{Name: "SSL", Listen: "127.0.0.1:0", TLS: broker.TLSConfig{CertFile: pki.serverCert, KeyFile: pki.serverKey}},
			{Name: "SASL_SSL", Listen: "127.0.0.1:0", TLS: broker.TLSConfig{CertFile: pki.serverCert, KeyFile: pki.serverKey}},
		}
	})
	plain := n.ListenerAddr("PLAINTEXT")
	ctx := context.Background()
	adm := shaletest.Admin(b, plain)
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bench", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bench-pw"}}); err != nil {
		b.Fatal(err)
	}
	tc := &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}
	listeners := []struct {
		name, addr string
		opts       []kgo.Opt
	}{
		{"PLAINTEXT", plain, nil},
		{"SSL", n.ListenerAddr("SSL"), []kgo.Opt{kgo.DialTLSConfig(tc)}},
		{"SASL_SSL", n.ListenerAddr("SASL_SSL"), []kgo.Opt{kgo.DialTLSConfig(tc),
			kgo.SASL(scram.Auth{User: "bench", Pass: "bench-pw"}.AsSha512Mechanism())}},
	}
	value := make([]byte, 1024)
	// Warm up the broker (WAL segments, uploads, caches) and the TLS
	// session code before any figure is taken, so that whichever
	// listener goes first is not charged for it.
	for _, l := range listeners {
		warm := "warm-" + l.name
		shaletest.CreateTopic(b, plain, warm, 8, nil)
		cl := shaletest.Client(b, l.addr, append([]kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.DefaultProduceTopic(warm), kgo.ConsumeTopics(warm), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, l.opts...)...)
		var wg sync.WaitGroup
		for range 20000 {
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Value: value}, func(*kgo.Record, error) { wg.Done() })
		}
		wg.Wait()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		for got := 0; got < 20000 && wctx.Err() == nil; {
			got += cl.PollFetches(wctx).NumRecords()
		}
		cancel()
		cl.Close()
	}
	// Let the uploads of the warm-up finish (the high watermark reaches
	// the end), so that no figure pays for them.
	watcher := kadm.NewClient(shaletest.Client(b, plain))
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		offs, err := watcher.ListEndOffsets(ctx, "warm-PLAINTEXT", "warm-SSL", "warm-SASL_SSL")
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		offs.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
		if total == 3*20000 {
			break
		}
	}
	// SHALE_BENCH_ROTATE=k starts with the k-th listener, so that runs
	// can take turns going first.
	if k, err := strconv.Atoi(os.Getenv("SHALE_BENCH_ROTATE")); err == nil {
		k %= len(listeners)
		listeners = append(listeners[k:], listeners[:k]...)
	}
	round := 0
	for _, l := range listeners {
		topic := ""
		b.Run(l.name+"/produce", func(b *testing.B) {
			round++
			topic = fmt.Sprintf("bench-%s-%d", l.name, round)
			shaletest.CreateTopic(b, plain, topic, 8, nil)
			cl := shaletest.Client(b, l.addr, append([]kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
				kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(1 << 16)}, l.opts...)...)
			if err := cl.Ping(ctx); err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			var once sync.Once
			var firstErr error
			b.SetBytes(int64(len(value)))
			cpu := startCPU()
			b.ResetTimer()
			for range b.N {
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						once.Do(func() { firstErr = err })
					}
					wg.Done()
				})
			}
			wg.Wait()
			b.StopTimer()
			cpu.report(b)
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
		b.Run(l.name+"/consume", func(b *testing.B) {
			// Reads back what the produce benchmark wrote (its last
			// round), b.N records at most. acks=1 records become
			// readable once uploaded (the high watermark): wait for
			// them, through the plaintext listener, before the
			// consumer exists (it would fetch ahead untimed).
			watcher := kadm.NewClient(shaletest.Client(b, plain))
			total := 0
			for deadline := time.Now().Add(time.Minute); total < b.N && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				offs, err := watcher.ListEndOffsets(ctx, topic)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				offs.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
			}
			if b.N > total {
				b.Skipf("%d records to read, %d asked for: run produce with at least as many", total, b.N)
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			b.SetBytes(int64(len(value)))
			cpu := startCPU()
			b.ResetTimer()
			cl := shaletest.Client(b, l.addr, append([]kgo.Opt{kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(8 << 20)}, l.opts...)...)
			got := 0
			for got < b.N {
				fs := cl.PollFetches(cctx)
				if err := cctx.Err(); err != nil {
					b.Fatalf("read %d of %d", got, b.N)
				}
				fs.EachError(func(_ string, _ int32, err error) { b.Fatal(err) })
				got += fs.NumRecords()
			}
			b.StopTimer()
			cpu.report(b)
		})
	}
}

// cpuClock measures the CPU time of this process (broker and client: they
// share it), which depends far less than wall time on what else the
// machine runs.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

// report adds cpu-ns/op: CPU time of broker and client per record.
func (c cpuClock) report(b *testing.B) {
	used := processCPU() - c.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
