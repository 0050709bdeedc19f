package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shalelog/shale/broker"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker counts the Kafka request path: requests, errors and latency per
// API, records and bytes produced and fetched per topic, connections. It
// implements broker.Observer; its methods are safe for concurrent use.
type Broker struct {
	requests   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	prodRecs   *prometheus.CounterVec
	prodBytes  *prometheus.CounterVec
	fetchRecs  *prometheus.CounterVec
	fetchBytes *prometheus.CounterVec
	conns      prometheus.Gauge
	connsTotal prometheus.Counter

	// onProduced feeds the cost meter its per-topic ingest; may be nil.
	onProduced func(topic string, bytes int64)
	onFetched  func(topic string, bytes int64)

	// Series looked up once: per API key, and per topic.
	apis   [apiSlots]atomic.Pointer[apiSeries]
	topics sync.Map // topic name -> *topicSeries
}

// apiSlots covers every Kafka API key (they are below 100 today).
const apiSlots = 256

type apiSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

type topicSeries struct {
	prodRecs, prodBytes, fetchRecs, fetchBytes prometheus.Counter
}

func (b *Broker) api(key int16) *apiSeries {
	if key < 0 || int(key) >= apiSlots {
		name := apiName(key)
		return &apiSeries{b.requests.WithLabelValues(name), b.latency.WithLabelValues(name)}
	}
	if s := b.apis[key].Load(); s != nil {
		return s
	}
	name := apiName(key)
	s := &apiSeries{b.requests.WithLabelValues(name), b.latency.WithLabelValues(name)}
	b.apis[key].Store(s)
	return s
}

func (b *Broker) topic(name string) *topicSeries {
	if s, ok := b.topics.Load(name); ok {
		return s.(*topicSeries)
	}
	s := &topicSeries{b.prodRecs.WithLabelValues(name), b.prodBytes.WithLabelValues(name),
		b.fetchRecs.WithLabelValues(name), b.fetchBytes.WithLabelValues(name)}
	actual, _ := b.topics.LoadOrStore(name, s)
	return actual.(*topicSeries)
}

var _ broker.Observer = (*Broker)(nil)

// NewBroker registers the request-path metrics with reg.
func NewBroker(reg prometheus.Registerer) *Broker {
	b := &Broker{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_kafka_requests_total", Help: "Kafka requests answered, by API.",
		}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_kafka_request_errors_total", Help: "Kafka requests answered with an error code (the first one in the response), by API and error.",
		}, []string{"api", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shale_kafka_request_duration_seconds", Help: "Time from reading a request to its response being ready, by API (long-polling fetches and acks=all produce included).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api"}),
		prodRecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_produce_records_total", Help: "Records accepted by produce requests, by topic.",
		}, []string{"topic"}),
		prodBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_produce_bytes_total", Help: "Record batch bytes accepted by produce requests, by topic.",
		}, []string{"topic"}),
		fetchRecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_fetch_records_total", Help: "Records sent in fetch responses, by topic (whole batches: records before the fetch offset included).",
		}, []string{"topic"}),
		fetchBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shale_fetch_bytes_total", Help: "Record batch bytes sent in fetch responses, by topic.",
		}, []string{"topic"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shale_kafka_connections", Help: "Open Kafka client connections.",
		}),
		connsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shale_kafka_connections_opened_total", Help: "Kafka client connections accepted.",
		}),
	}
	reg.MustRegister(b.requests, b.errors, b.latency, b.prodRecs, b.prodBytes, b.fetchRecs, b.fetchBytes, b.conns, b.connsTotal)
	return b
}

// apiName is the label of an API key: Kafka's name, or the number of a
// key kmsg does not know.
func apiName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" && n != "Unknown" {
		return n
	}
	return strconv.Itoa(int(key))
}

// errorName is the label of a Kafka error code.
func errorName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		if ke, ok := err.(*kerr.Error); ok {
			return ke.Message
		}
	}
	return strconv.Itoa(int(code))
}

// RequestDone implements broker.Observer.
func (b *Broker) RequestDone(api, errCode int16, elapsed time.Duration) {
	s := b.api(api)
	s.requests.Inc()
	s.latency.Observe(elapsed.Seconds())
	if errCode != 0 {
		b.errors.WithLabelValues(apiName(api), errorName(errCode)).Inc()
	}
}

// Produced implements broker.Observer.
func (b *Broker) Produced(topic string, records, bytes int64) {
	s := b.topic(topic)
	s.prodRecs.Add(float64(records))
	s.prodBytes.Add(float64(bytes))
	if b.onProduced != nil {
		b.onProduced(topic, bytes)
	}
}

// Fetched implements broker.Observer.
func (b *Broker) Fetched(topic string, records, bytes int64) {
	s := b.topic(topic)
	s.fetchRecs.Add(float64(records))
	s.fetchBytes.Add(float64(bytes))
	if b.onFetched != nil {
		b.onFetched(topic, bytes)
	}
}

// ConnOpened implements broker.Observer.
func (b *Broker) ConnOpened() { b.conns.Inc(); b.connsTotal.Inc() }

// ConnClosed implements broker.Observer.
func (b *Broker) ConnClosed() { b.conns.Dec() }

// forgetTopicsExcept drops the series of topics not in live (deleted
// topics), so that their count stays bounded by the topics that exist.
func (b *Broker) forgetTopicsExcept(live map[string]bool) {
	b.topics.Range(func(k, _ any) bool {
		if name := k.(string); !live[name] {
			b.ForgetTopic(name)
		}
		return true
	})
}

// ForgetTopic drops a deleted topic's series.
func (b *Broker) ForgetTopic(topic string) {
	b.topics.Delete(topic)
	for _, v := range []*prometheus.CounterVec{b.prodRecs, b.prodBytes, b.fetchRecs, b.fetchBytes} {
		v.DeleteLabelValues(topic)
	}
}
