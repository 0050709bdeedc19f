package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/metrics"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchHeaderBytes is a v2 record batch's header: franz-go's
// ProduceBatchMetrics count the records after it.
const batchHeaderBytes = 61

// producedBatches adds up what franz-go reports as written.
type producedBatches struct{ records, bytes atomic.Int64 }

func (p *producedBatches) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	p.records.Add(int64(m.NumRecords))
	p.bytes.Add(int64(m.CompressedBytes + batchHeaderBytes))
}

// scrape GETs /metrics and parses it with Prometheus' text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the series of family name whose labels
// include want; false if there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, want)
	if !ok {
		t.Fatalf("no series %s%v in the scrape", name, want)
	}
	return v
}

// TestMetricsAfterProduceConsume: after producing and consuming keyed
// records, a scrape of /metrics parses, and its counters are what the test
// did: records and bytes produced (as franz-go reports them written) and
// fetched, requests per API, and object store PUTs as the bucket's
// counting wrapper saw them. /healthz and /readyz answer 200.
func TestMetricsAfterProduceConsume(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Observe.MetricsListen = "127.0.0.1:0"
		c.Observe.MetricsPartitionLabels = true
	})
	addr := n.MetricsAddr()
	if addr == "" || addr == n.Addr() {
		t.Fatalf("metrics address %q (Kafka on %s)", addr, n.Addr())
	}
	const topic, records = "metered", 500
	shaletest.CreateTopic(t, n.Addr(), topic, 2, nil)

	var written producedBatches
	prod := shaletest.Client(t, n.Addr(), kgo.WithHooks(&written), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(5*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range records {
		prod.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: make([]byte, 100),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons := shaletest.Client(t, n.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumerGroup("metered-group"), kgo.DisableAutoCommit())
	got := 0
	for got < records {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", got, records)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		got += fs.NumRecords()
	}
	// Commit partition 0's end and partition 1's start: partition 1's
	// records are the group's lag.
	offsets := cons.UncommittedOffsets()
	lagWant := offsets[topic][1].Offset
	offsets[topic][1] = kgo.EpochOffset{Epoch: -1, Offset: 0}
	var commitErr error
	cons.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
	})
	if commitErr != nil {
		t.Fatal(commitErr)
	}

	putsBefore := n.Bucket().Stats().Puts
	fams := scrape(t, addr)
	putsAfter := n.Bucket().Stats().Puts

	lt := map[string]string{"topic": topic}
	if v := mustValue(t, fams, "shale_produce_records_total", lt); int64(v) != written.records.Load() || v != records {
		t.Errorf("shale_produce_records_total %v; franz-go wrote %d, the test %d", v, written.records.Load(), records)
	}
	if v := mustValue(t, fams, "shale_produce_bytes_total", lt); int64(v) != written.bytes.Load() {
		t.Errorf("shale_produce_bytes_total %v; franz-go wrote %d batch bytes", v, written.bytes.Load())
	}
	if v := mustValue(t, fams, "shale_fetch_records_total", lt); v != records {
		t.Errorf("shale_fetch_records_total %v, consumed %d", v, records)
	}
	if v := mustValue(t, fams, "shale_fetch_bytes_total", lt); int64(v) != written.bytes.Load() {
		t.Errorf("shale_fetch_bytes_total %v, produced %d", v, written.bytes.Load())
	}
	puts := mustValue(t, fams, "shale_objectstore_operations_total", map[string]string{"operation": "put"})
	if int64(puts) < putsBefore || int64(puts) > putsAfter || puts == 0 {
		t.Errorf("shale_objectstore_operations_total{operation=put} %v; the counting bucket saw %d..%d", puts, putsBefore, putsAfter)
	}
	produceReqs := mustValue(t, fams, "shale_kafka_requests_total", map[string]string{"api": "Produce"})
	if produceReqs < 1 || mustValue(t, fams, "shale_kafka_request_duration_seconds", map[string]string{"api": "Produce"}) != produceReqs {
		t.Errorf("Produce requests %v: latency histogram count differs", produceReqs)
	}
	if v := mustValue(t, fams, "shale_consumer_group_partition_lag", map[string]string{"group": "metered-group", "topic": topic, "partition": "1"}); int64(v) != lagWant {
		t.Errorf("lag of partition 1: %v, want %d", v, lagWant)
	}
	if v := mustValue(t, fams, "shale_consumer_group_lag", map[string]string{"group": "metered-group", "topic": topic}); int64(v) != lagWant {
		t.Errorf("group lag: %v, want %d", v, lagWant)
	}
	hw0 := mustValue(t, fams, "shale_partition_high_watermark", map[string]string{"topic": topic, "partition": "0"})
	hw1 := mustValue(t, fams, "shale_partition_high_watermark", map[string]string{"topic": topic, "partition": "1"})
	if hw0+hw1 != records || int64(hw1) != lagWant {
		t.Errorf("partition high watermarks %v + %v, want %d records (partition 1: %d)", hw0, hw1, records, lagWant)
	}
	for _, name := range []string{"shale_wal_fsync_duration_seconds", "shale_wal_commit_size_bytes", "shale_raft_apply_duration_seconds"} {
		if v := mustValue(t, fams, name, nil); v == 0 {
			t.Errorf("%s: no observations", name)
		}
	}
	if v := mustValue(t, fams, "shale_raft_state", map[string]string{"state": "leader"}); v != 1 {
		t.Errorf("shale_raft_state{state=leader} %v on a single node", v)
	}
	if v := mustValue(t, fams, "shale_kafka_connections", nil); v < 2 {
		t.Errorf("shale_kafka_connections %v with a producer and a consumer connected", v)
	}
	mustValue(t, fams, "shale_upload_lag_seconds", nil)
	mustValue(t, fams, "shale_coldread_cache_hits_total", nil)
	mustValue(t, fams, "shale_cost_dollars_per_hour", lt)

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
	}

	// The cost meter: the topic's ingest, and PUTs attributed in full
	// (one topic produced, so every WAL object's PUT is its share).
	resp, err := http.Get("http://" + addr + "/v1/cost")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep metrics.CostReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decode /v1/cost: %v", err)
	}
	if len(rep.Topics) != 1 || rep.Topics[0].Topic != topic || rep.Topics[0].BytesIngest != written.bytes.Load() {
		t.Fatalf("cost report topics: %+v", rep.Topics)
	}
	if tc := rep.Topics[0]; tc.ClassA < 1 || tc.BytesStored == 0 || tc.PerHour <= 0 || tc.PerGiB <= 0 {
		t.Errorf("cost of %s: %+v", topic, tc)
	}
}

// TestMetricsOffByDefault: no metrics listener unless configured.
func TestMetricsOffByDefault(t *testing.T) {
	if n := shaletest.StartNode(t, nil); n.MetricsAddr() != "" || n.Metrics() != nil {
		t.Fatalf("metrics on %q by default", n.MetricsAddr())
	}
}

// TestMetricsForgetDeletedTopic: a deleted topic's series leave the scrape.
func TestMetricsForgetDeletedTopic(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) { c.Observe.MetricsListen = "127.0.0.1:0" })
	shaletest.CreateTopic(t, n.Addr(), "brief", 1, nil)
	cl := shaletest.Client(t, n.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "brief", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lt := map[string]string{"topic": "brief"}
	fams := scrape(t, n.MetricsAddr())
	mustValue(t, fams, "shale_produce_records_total", lt)
	// Without metrics_partition_labels no series is per partition.
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "partition" {
					t.Errorf("%s has a partition label without metrics_partition_labels", name)
				}
			}
		}
	}
	if _, err := shaletest.Admin(t, n.Addr()).DeleteTopics(ctx, "brief"); err != nil {
		t.Fatal(err)
	}
	scrape(t, n.MetricsAddr()) // notices the deletion
	fams = scrape(t, n.MetricsAddr())
	for _, name := range []string{"shale_produce_records_total", "shale_topic_partitions", "shale_cost_stored_bytes"} {
		if v, ok := metricValue(fams, name, lt); ok {
			t.Errorf("%s{topic=brief} = %v after the topic was deleted", name, v)
		}
	}
}
