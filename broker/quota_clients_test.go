package broker

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func quotaAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// DescribeClientQuotas and AlterClientQuotas through kadm: set, describe
// with filters, validate_only, the INVALID_REQUEST answers, remove.
func TestClientQuotasAdminAPI(t *testing.T) {
	ws := startWireServer(t, nil)
	adm := quotaAdmin(t, ws.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, app := "alice", "app"
	set := []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1 << 20}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &alice}, {Type: "client-id", Name: &app}}, Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 50}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 2048}}},
	}
	// validate_only stores nothing.
	res, err := adm.ValidateAlterClientQuotas(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("validate %v: %v", r.Entity, r.Err)
		}
	}
	if got, err := adm.DescribeClientQuotas(ctx, false, nil); err != nil || len(got) != 0 {
		t.Fatalf("after validate_only: %v %v", got, err)
	}
	if res, err = adm.AlterClientQuotas(ctx, set); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("alter %v: %v", r.Entity, r.Err)
		}
	}
	all, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(all) != 3 {
		t.Fatalf("describe all: %v %v", all, err)
	}
	// Exact user alice, not strict: both of alice's entities.
	got, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: &alice, MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeExact)}})
	if err != nil || len(got) != 2 {
		t.Fatalf("user=alice: %v %v", got, err)
	}
	// Strict: only the entity that is alice alone.
	got, err = adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: &alice, MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeExact)}})
	if err != nil || len(got) != 1 || got[0].Values[0].Key != "producer_byte_rate" || got[0].Values[0].Value != 1<<20 {
		t.Fatalf("strict user=alice: %+v %v", got, err)
	}
	// The default client id.
	got, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeDefault)}})
	if err != nil || len(got) != 1 || got[0].Entity[0].Name != nil {
		t.Fatalf("default client-id: %+v %v", got, err)
	}
	// Filters Kafka refuses.
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "group", MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeAny)}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("unknown entity type in a filter: %v", err)
	}
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeAny)}, {Type: "user", MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeAny)}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("a type twice in a filter: %v", err)
	}

	// Entries Kafka refuses, each on its own, beside one that applies.
	bob := "bob"
	bad, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &bob}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &bob}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &bob}, {Type: "user", Name: &alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "topic", Name: &bob}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &alice}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range bad[:4] {
		if !errors.Is(r.Err, kerr.InvalidRequest) {
			t.Errorf("bad entry %d (%v): %v, want INVALID_REQUEST", i, r.Entity, r.Err)
		}
	}
	if bad[4].Err != nil {
		t.Fatalf("removal beside refused entries: %v", bad[4].Err)
	}
	got, err = adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kadm.QuotasMatchType(kmsg.QuotasMatchTypeAny)}})
	if err != nil || len(got) != 0 {
		t.Fatalf("user-only entities after removing alice's last key: %+v %v", got, err)
	}
}

// A fetch over its byte rate is answered at once, empty, with the
// throttle; a produce over its byte rate carries the throttle too.
func TestQuotaThrottleOnTheWire(t *testing.T) {
	// Short windows: throttles are capped at the windows' span (1 s).
	ws := startWireServer(t, func(c *Config) { c.QuotaWindowNum, c.QuotaWindowSize = 2, 500*time.Millisecond })
	ws.createTopic(t, "q", 1, nil)
	adm := quotaAdmin(t, ws.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialWire(t, ws.addr)
	res := produceResult(t, c.roundTrip(produceRequest("q", 0, 1, testRecords(10, 1000, -1, -1, -1))))
	if res.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(res.ErrorCode))
	}
	client := "wire-test" // the client id the raw frames carry
	if _, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &client}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 100}, {Key: "producer_byte_rate", Value: 100}},
	}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the quota to reach the broker", func() bool { return ws.quotas.enabled() })

	fr := c.roundTrip(fetchRequest("q", 0, 0, 1, 1<<20, 0)).(*kmsg.FetchResponse)
	p := fr.Topics[0].Partitions[0]
	if fr.ThrottleMillis <= 0 || len(p.RecordBatches) != 0 || p.ErrorCode != 0 {
		t.Fatalf("fetch over quota: throttle %d ms, %d record bytes, error %d", fr.ThrottleMillis, len(p.RecordBatches), p.ErrorCode)
	}
	pr := c.roundTrip(produceRequest("q", 0, 1, testRecords(10, 1000, -1, -1, -1))).(*kmsg.ProduceResponse)
	if pr.ThrottleMillis <= 0 || pr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce over quota: throttle %d ms, error %d", pr.ThrottleMillis, pr.Topics[0].Partitions[0].ErrorCode)
	}
	t.Logf("throttles: fetch %d ms, produce %d ms", fr.ThrottleMillis, pr.ThrottleMillis)

	// A request time share no request can stay within: a Metadata
	// request carries a throttle in its own response.
	if _, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &client}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 1e-9}, {Key: "consumer_byte_rate", Remove: true}, {Key: "producer_byte_rate", Remove: true}},
	}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the request quota to reach the broker", func() bool {
		_, _, ok := ws.quotas.table.Load().resolve(quotaRequest, "ANONYMOUS", client)
		return ok
	})
	c2 := dialWire(t, ws.addr)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	mr := c2.roundTrip(meta).(*kmsg.MetadataResponse)
	if mr.ThrottleMillis <= 0 {
		t.Fatalf("metadata over the request quota: throttle %d ms", mr.ThrottleMillis)
	}
	t.Logf("request_percentage: metadata response throttled %d ms", mr.ThrottleMillis)
	// The muted connection is read again after the throttle.
	c.checkAlive()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A franz-go producer over its byte-rate quota is held to the quota
// (within 10%, measured after the windows have filled) while another
// producer on the same broker keeps its own pace.
func TestProduceQuotaThrottlesOnlyItsClient(t *testing.T) {
	const (
		quota     = 512 << 10 // bytes/s of the throttled client
		freeRate  = 1 << 20   // bytes/s the other producer offers
		valueSize = 4 << 10
		warmUp    = 4 * time.Second
		measure   = 8 * time.Second
	)
	ws := startWireServer(t, func(c *Config) {
		c.QuotaWindowNum = 5
		c.QuotaWindowSize = 500 * time.Millisecond
	})
	ws.createTopic(t, "throttled", 1, nil)
	ws.createTopic(t, "free", 1, nil)
	adm := quotaAdmin(t, ws.addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "throttled-producer"
	if _, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: quota}},
	}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the quota to reach the broker", func() bool { return ws.quotas.enabled() })

	newProducer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(ws.addr), kgo.ClientID(id),
			kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.ProducerLinger(0), kgo.MaxBufferedRecords(64),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	// acked counts the bytes acknowledged inside the measured interval.
	type meter struct {
		inWindow atomic.Int64
		failed   atomic.Int64
	}
	start := time.Now()
	from, to := start.Add(warmUp), start.Add(warmUp+measure)
	run := func(cl *kgo.Client, topic string, pace time.Duration, m *meter, wg *sync.WaitGroup) {
		defer wg.Done()
		value := make([]byte, valueSize)
		next := time.Now()
		for time.Now().Before(to) {
			if pace > 0 {
				time.Sleep(time.Until(next))
				next = next.Add(pace)
			}
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
				if err != nil {
					m.failed.Add(1)
					return
				}
				if now := time.Now(); now.After(from) && now.Before(to) {
					m.inWindow.Add(int64(len(r.Value)))
				}
			})
		}
	}
	var throttled, free meter
	var wg sync.WaitGroup
	wg.Add(2)
	go run(newProducer(name), "throttled", 0, &throttled, &wg)
	go run(newProducer("free-producer"), "free", time.Second*valueSize/freeRate, &free, &wg)
	wg.Wait()
	if throttled.failed.Load() > 0 || free.failed.Load() > 0 {
		t.Fatalf("failed produces: throttled %d, free %d", throttled.failed.Load(), free.failed.Load())
	}
	thr := float64(throttled.inWindow.Load()) / measure.Seconds()
	fr := float64(free.inWindow.Load()) / measure.Seconds()
	t.Logf("throttled producer: %.0f B/s against a quota of %d B/s (%.1f%% off); free producer: %.0f B/s of %d B/s offered",
		thr, quota, 100*(thr-quota)/quota, fr, freeRate)
	if math.Abs(thr-quota) > 0.1*quota {
		t.Errorf("throttled producer at %.0f B/s, not within 10%% of its %d B/s quota", thr, quota)
	}
	if fr < 0.9*freeRate {
		t.Errorf("free producer at %.0f B/s, below 90%% of the %d B/s it offers", fr, freeRate)
	}
}
