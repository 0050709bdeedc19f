package metrics

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shalelog/shale/metadata"
)

// Prices is an object store's price list in dollars.
type Prices struct {
	ClassAPer1000     float64 `json:"class_a_per_1000"`     // PUT, COPY, POST, LIST
	ClassBPer1000     float64 `json:"class_b_per_1000"`     // GET, HEAD
	StoragePerGBMonth float64 `json:"storage_per_gb_month"` // GB = 10^9 bytes
}

// S3Standard is S3 Standard's price list (us-east-1).
var S3Standard = Prices{ClassAPer1000: 0.005, ClassBPer1000: 0.0004, StoragePerGBMonth: 0.023}

// hoursPerMonth is the month S3 bills storage by.
const hoursPerMonth = 730

// CostMeter prices each topic's use of the object store since the node
// started: requests by billing class, bytes written, read and stored.
//
// Attribution: a request on a compacted object (part/<topic id>/...)
// belongs to its topic. Uploaded WAL objects (wal/...) hold many topics'
// batches, so their PUTs are shared out by each topic's share of the bytes
// produced, and their GETs by each topic's share of the bytes fetched.
// LISTs (the garbage collector's orphan sweep) and requests on other keys
// are the cluster's, reported on their own row. Stored bytes are the
// catalog's: the bytes of each topic's extents.
//
// The rates are averages since start: cost per hour is the request cost
// per hour so far plus the storage cost per hour of what is stored now;
// cost per GiB ingested is that hourly cost over the GiB produced per hour.
type CostMeter struct {
	prices Prices
	start  time.Time
	now    func() time.Time
	meta   *metadata.Store // nil: no topics known, no stored bytes

	mu      sync.Mutex
	direct  map[metadata.TopicID]*usage
	shared  usage // wal/ objects
	cluster usage // lists, other keys
	// Per topic name: bytes produced and fetched (*atomic.Int64), kept
	// off mu since they are counted on every produce and fetch.
	ingest, fetched sync.Map
}

func addTo(m *sync.Map, topic string, n int64) {
	v, ok := m.Load(topic)
	if !ok {
		v, _ = m.LoadOrStore(topic, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(n)
}

func loadFrom(m *sync.Map, topic string) int64 {
	if v, ok := m.Load(topic); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// usage is requests by class and bytes moved.
type usage struct {
	classA, classB     float64
	putBytes, getBytes float64
}

// NewCostMeter returns a meter pricing with p, reading topics and stored
// bytes from meta.
func NewCostMeter(p Prices, meta *metadata.Store) *CostMeter {
	return &CostMeter{prices: p, start: time.Now(), now: time.Now, meta: meta,
		direct: map[metadata.TopicID]*usage{}}
}

// usageFor returns the usage a request on key counts against. c.mu held.
func (c *CostMeter) usageFor(key string) *usage {
	if rest, ok := strings.CutPrefix(key, "part/"); ok && len(rest) >= 32 {
		if id, err := metadata.ParseTopicID(rest[:32]); err == nil {
			u := c.direct[id]
			if u == nil {
				u = &usage{}
				c.direct[id] = u
			}
			return u
		}
	}
	if strings.HasPrefix(key, "wal/") && len(key) > len("wal/") {
		return &c.shared
	}
	return &c.cluster
}

// request counts one object store call on key (for a list, its prefix)
// that moved n bytes.
func (c *CostMeter) request(op, key string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op == opList {
		c.cluster.classA++
		return
	}
	u := c.usageFor(key)
	switch op {
	case opPut:
		u.classA++
		u.putBytes += float64(n)
	case opGet:
		u.classB++
		u.getBytes += float64(n)
	case opHead:
		u.classB++
	}
}

// putExtra counts the requests beyond the first of a multipart put.
func (c *CostMeter) putExtra(key string, n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.usageFor(key).classA += float64(n)
	c.mu.Unlock()
}

func (c *CostMeter) produced(topic string, n int64)     { addTo(&c.ingest, topic, n) }
func (c *CostMeter) fetchedBytes(topic string, n int64) { addTo(&c.fetched, topic, n) }

// CostReport is the cost meter's answer (`shale cost`, /v1/cost).
type CostReport struct {
	Since   time.Time   `json:"since"`
	Seconds float64     `json:"seconds"`
	Prices  Prices      `json:"prices"`
	Topics  []TopicCost `json:"topics"`
	// Cluster is what belongs to no topic: LISTs, other keys, and shared
	// requests made before any topic produced or fetched.
	Cluster TopicCost `json:"cluster"`
	Total   TopicCost `json:"total"`
}

// TopicCost is one topic's (or the cluster's, or the total) object store
// use and its price.
type TopicCost struct {
	Topic        string  `json:"topic"`
	ClassA       float64 `json:"class_a_requests"`
	ClassB       float64 `json:"class_b_requests"`
	BytesIngest  int64   `json:"bytes_ingested"`   // produced
	BytesWritten float64 `json:"bytes_written"`    // PUT to the object store
	BytesRead    float64 `json:"bytes_read"`       // GET from the object store
	BytesStored  int64   `json:"bytes_stored"`     // in the catalog now
	Objects      int     `json:"extents"`          // catalog extents now
	RequestCost  float64 `json:"request_dollars"`  // since start
	PerHour      float64 `json:"dollars_per_hour"` // requests (average) + storage (now)
	PerGiB       float64 `json:"dollars_per_gib_ingested"`
}

// Report prices the usage so far.
func (c *CostMeter) Report() CostReport {
	now := c.now()
	r := CostReport{Since: c.start, Seconds: now.Sub(c.start).Seconds(), Prices: c.prices}
	hours := max(r.Seconds/3600, 1e-9)

	var topics []metadata.Topic
	if c.meta != nil {
		topics = c.meta.Topics()
	}
	ingest := map[string]int64{}
	fetched := map[string]int64{}
	var ingestSum, fetchSum int64
	for _, t := range topics {
		ingest[t.Name], fetched[t.Name] = loadFrom(&c.ingest, t.Name), loadFrom(&c.fetched, t.Name)
		ingestSum += ingest[t.Name]
		fetchSum += fetched[t.Name]
	}
	c.mu.Lock()
	cluster := c.cluster
	if ingestSum == 0 {
		cluster.classA += c.shared.classA
		cluster.putBytes += c.shared.putBytes
	}
	if fetchSum == 0 {
		cluster.classB += c.shared.classB
		cluster.getBytes += c.shared.getBytes
	}
	known := map[metadata.TopicID]bool{}
	for _, t := range topics {
		known[t.ID] = true
		tc := TopicCost{Topic: t.Name, BytesIngest: ingest[t.Name]}
		if u := c.direct[t.ID]; u != nil {
			tc.ClassA, tc.ClassB, tc.BytesWritten, tc.BytesRead = u.classA, u.classB, u.putBytes, u.getBytes
		}
		if ingestSum > 0 {
			share := float64(ingest[t.Name]) / float64(ingestSum)
			tc.ClassA += c.shared.classA * share
			tc.BytesWritten += c.shared.putBytes * share
		}
		if fetchSum > 0 {
			share := float64(fetched[t.Name]) / float64(fetchSum)
			tc.ClassB += c.shared.classB * share
			tc.BytesRead += c.shared.getBytes * share
		}
		r.Topics = append(r.Topics, tc)
	}
	for id, u := range c.direct { // deleted topics' requests
		if !known[id] {
			cluster.classA += u.classA
			cluster.classB += u.classB
			cluster.putBytes += u.putBytes
			cluster.getBytes += u.getBytes
		}
	}
	c.mu.Unlock()

	for i, t := range topics {
		for p := range t.Partitions {
			if pl, ok := c.meta.PartitionLog(t.ID, int32(p)); ok {
				r.Topics[i].BytesStored += pl.Bytes
				r.Topics[i].Objects += pl.Extents
			}
		}
	}
	r.Cluster = TopicCost{Topic: "(cluster)", ClassA: cluster.classA, ClassB: cluster.classB, BytesWritten: cluster.putBytes, BytesRead: cluster.getBytes}
	price := func(tc *TopicCost) {
		tc.RequestCost = tc.ClassA/1000*c.prices.ClassAPer1000 + tc.ClassB/1000*c.prices.ClassBPer1000
		tc.PerHour = tc.RequestCost/hours + float64(tc.BytesStored)/1e9*c.prices.StoragePerGBMonth/hoursPerMonth
		if tc.BytesIngest > 0 {
			tc.PerGiB = tc.PerHour / (float64(tc.BytesIngest) / (1 << 30) / hours)
		}
	}
	r.Total.Topic = "(total)"
	for i := range r.Topics {
		price(&r.Topics[i])
		add(&r.Total, r.Topics[i])
	}
	price(&r.Cluster)
	add(&r.Total, r.Cluster)
	price(&r.Total)
	sort.Slice(r.Topics, func(i, j int) bool { return r.Topics[i].Topic < r.Topics[j].Topic })
	return r
}

func add(sum *TopicCost, t TopicCost) {
	sum.ClassA += t.ClassA
	sum.ClassB += t.ClassB
	sum.BytesIngest += t.BytesIngest
	sum.BytesWritten += t.BytesWritten
	sum.BytesRead += t.BytesRead
	sum.BytesStored += t.BytesStored
	sum.Objects += t.Objects
}

// costCollector exports the report as metrics at each scrape.
type costCollector struct{ c *CostMeter }

var (
	costRequestsDesc = prometheus.NewDesc("shale_cost_object_requests_total", "Object store requests by billing class (a: PUT/COPY/POST/LIST, b: GET/HEAD) attributed to a topic (cluster: \"(cluster)\"); WAL objects' requests are shared out by bytes produced (a) and fetched (b).", []string{"topic", "class"}, nil)
	costStoredDesc   = prometheus.NewDesc("shale_cost_stored_bytes", "Bytes of a topic's extents in the catalog.", []string{"topic"}, nil)
	costHourDesc     = prometheus.NewDesc("shale_cost_dollars_per_hour", "Estimated object store cost per hour: average request cost since start plus storage of what is stored now, at the configured prices.", []string{"topic"}, nil)
	costGiBDesc      = prometheus.NewDesc("shale_cost_dollars_per_gib_ingested", "Estimated object store cost per GiB produced (0 before any).", []string{"topic"}, nil)
)

func (cc costCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- costRequestsDesc
	ch <- costStoredDesc
	ch <- costHourDesc
	ch <- costGiBDesc
}

func (cc costCollector) Collect(ch chan<- prometheus.Metric) {
	r := cc.c.Report()
	for _, t := range append(r.Topics, r.Cluster) {
		ch <- prometheus.MustNewConstMetric(costRequestsDesc, prometheus.CounterValue, t.ClassA, t.Topic, "a")
		ch <- prometheus.MustNewConstMetric(costRequestsDesc, prometheus.CounterValue, t.ClassB, t.Topic, "b")
		ch <- prometheus.MustNewConstMetric(costStoredDesc, prometheus.GaugeValue, float64(t.BytesStored), t.Topic)
		ch <- prometheus.MustNewConstMetric(costHourDesc, prometheus.GaugeValue, t.PerHour, t.Topic)
		ch <- prometheus.MustNewConstMetric(costGiBDesc, prometheus.GaugeValue, t.PerGiB, t.Topic)
	}
}
