package broker

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client quotas, enforced as Kafka enforces them since KIP-219.
//
// Three quotas are kept per client: the produce byte rate (bytes of
// produce requests), the fetch byte rate (bytes of fetch responses) and
// the request time share (request_percentage: time spent handling the
// client's requests, as a percentage of one thread). Each is measured as a
// rate over QuotaWindowNum windows of QuotaWindowSize, the way Kafka's
// sampled Rate measures it. When a request takes a client over its quota
// the broker still answers at once, with throttle_time_ms set to the time
// that brings the client back to its quota, and then mutes the connection
// (stops reading from it) for that long; clients since Kafka 2.0 also wait
// that long before sending more. A fetch over its byte rate is answered
// empty (its bytes are not counted), as Kafka answers it.
//
// The quota of a (user, client id) pair is that of the first of these
// entities with a value for the quota's key (Kafka's precedence):
//
//	1 user=<user>,client-id=<client>      5 user=<default>,client-id=<default>
//	2 user=<user>,client-id=<default>     6 user=<default>
//	3 user=<user>                         7 client-id=<client>
//	4 user=<default>,client-id=<client>   8 client-id=<default>
//
// and the rate is shared by every client the matching entity covers: a
// quota set on user=alice alone is shared by all of alice's client ids,
// one on user=<default> gives each user its own budget, one on
// client-id=app is shared by app's connections of every user. Quotas are
// per broker, as in Kafka.

type quotaKind int

const (
	quotaProduce quotaKind = iota
	quotaFetch
	quotaRequest
	numQuotaKinds
)

func (k quotaKind) key() string {
	switch k {
	case quotaProduce:
		return metadata.QuotaProducerByteRate
	case quotaFetch:
		return metadata.QuotaConsumerByteRate
	}
	return metadata.QuotaRequestPercentage
}

// quotaTable is the quotas of the metadata state, by entity; read-only.
type quotaTable map[metadata.QuotaEntity]map[string]float64

// quotaTags names the rate a client is measured by: the user and client id
// of the entity that gave its quota ("" where it does not count).
type quotaTags struct {
	user, clientID string
}

// resolve returns the quota of kind k for user and clientID, and the tags
// of the rate it is measured by; ok is false when no entity sets one.
func (t quotaTable) resolve(k quotaKind, user, clientID string) (bound float64, tags quotaTags, ok bool) {
	u, c := metadata.QuotaNamed(user), metadata.QuotaNamed(clientID)
	if clientID == "" {
		// An empty client id cannot be named by an entity (names are
		// never empty); only the default matches it.
		c = metadata.QuotaName{Set: true, Name: "\x00"}
	}
	def, none := metadata.QuotaDefault(), metadata.QuotaName{}
	both, userOnly, clientOnly := quotaTags{user, clientID}, quotaTags{user: user}, quotaTags{clientID: clientID}
	for _, cand := range [...]struct {
		e    metadata.QuotaEntity
		tags quotaTags
	}{
		{metadata.QuotaEntity{User: u, ClientID: c}, both},
		{metadata.QuotaEntity{User: u, ClientID: def}, both},
		{metadata.QuotaEntity{User: u, ClientID: none}, userOnly},
		{metadata.QuotaEntity{User: def, ClientID: c}, both},
		{metadata.QuotaEntity{User: def, ClientID: def}, both},
		{metadata.QuotaEntity{User: def, ClientID: none}, userOnly},
		{metadata.QuotaEntity{User: none, ClientID: c}, clientOnly},
		{metadata.QuotaEntity{User: none, ClientID: def}, clientOnly},
	} {
		if v, ok := t[cand.e][k.key()]; ok {
			return v, cand.tags, true
		}
	}
	return 0, quotaTags{}, false
}

// sampledRate is Kafka's sampled Rate: numSamples windows of window each;
// the rate is the sum of the samples over the time they cover, counted as
// at least numSamples-1 whole windows (so a client's first requests are
// not measured over a few milliseconds). Not safe for concurrent use.
type sampledRate struct {
	window  time.Duration
	samples []rateSample
	cur     int
}

type rateSample struct {
	start time.Time
	value float64
}

func newSampledRate(numSamples int, window time.Duration) *sampledRate {
	return &sampledRate{window: window, samples: make([]rateSample, numSamples)}
}

// record adds v at now.
func (r *sampledRate) record(now time.Time, v float64) {
	s := &r.samples[r.cur]
	if s.start.IsZero() {
		s.start = now
	} else if now.Sub(s.start) >= r.window {
		r.cur = (r.cur + 1) % len(r.samples)
		s = &r.samples[r.cur]
		*s = rateSample{start: now}
	}
	s.value += v
}

// purge resets the samples that are too old to count.
func (r *sampledRate) purge(now time.Time) {
	expire := time.Duration(len(r.samples)) * r.window
	for i := range r.samples {
		if s := &r.samples[i]; !s.start.IsZero() && now.Sub(s.start) >= expire {
			*s = rateSample{start: now}
		}
	}
}

// elapsed is the time the samples cover, at least numSamples-1 windows.
func (r *sampledRate) elapsed(now time.Time) time.Duration {
	r.purge(now)
	oldest := now
	for _, s := range r.samples {
		if !s.start.IsZero() && s.start.Before(oldest) {
			oldest = s.start
		}
	}
	d := now.Sub(oldest)
	if full, min := int(d/r.window), len(r.samples)-1; full < min {
		d += time.Duration(min-full) * r.window
	}
	return d
}

// rate is the measured rate per second at now.
func (r *sampledRate) rate(now time.Time) float64 {
	d := r.elapsed(now)
	total := 0.0
	for _, s := range r.samples {
		total += s.value
	}
	return total / d.Seconds()
}

// throttle is how long the client must wait, from now, to be back at
// bound: (rate - bound) / bound × the measured time (Kafka's formula), at
// most maxThrottle; 0 at or under the bound.
func (r *sampledRate) throttle(now time.Time, bound float64, maxThrottle time.Duration) time.Duration {
	rate := r.rate(now)
	if rate <= bound {
		return 0
	}
	d := time.Duration((rate - bound) / bound * float64(r.elapsed(now)))
	return min(d, maxThrottle)
}

// quotaManager measures clients against their quotas. Safe for
// concurrent use.
type quotaManager struct {
	numSamples int
	window     time.Duration
	now        func() time.Time

	table atomic.Pointer[quotaTable]

	mu    sync.Mutex
	rates map[rateKey]*sampledRate
	// lastUse lets rates of clients gone for a while be forgotten.
	lastUse map[rateKey]time.Time
	swept   time.Time
}

type rateKey struct {
	kind quotaKind
	tags quotaTags
}

func newQuotaManager(numSamples int, window time.Duration, now func() time.Time) *quotaManager {
	q := &quotaManager{numSamples: numSamples, window: window, now: now, rates: make(map[rateKey]*sampledRate), lastUse: make(map[rateKey]time.Time)}
	q.table.Store(&quotaTable{})
	return q
}

// setQuotas installs the quotas of the metadata state.
func (q *quotaManager) setQuotas(qs []metadata.ClientQuota) {
	t := make(quotaTable, len(qs))
	for _, cq := range qs {
		t[cq.Entity] = cq.Values
	}
	q.table.Store(&t)
}

// watch keeps the quotas current with the metadata state until ctx ends.
func (q *quotaManager) watch(ctx context.Context, meta *metadata.Store) {
	for {
		ch := meta.Changed()
		q.setQuotas(meta.ClientQuotas())
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// enabled reports whether any quota is set (nothing is measured without).
func (q *quotaManager) enabled() bool { return len(*q.table.Load()) > 0 }

// record adds v to the rate of kind k for the client and returns the
// throttle it now owes (0 when it has no quota or is within it).
func (q *quotaManager) record(k quotaKind, user, clientID string, v float64) time.Duration {
	bound, tags, ok := q.table.Load().resolve(k, user, clientID)
	if !ok {
		return 0
	}
	now := q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	key := rateKey{k, tags}
	r := q.rates[key]
	if r == nil {
		r = newSampledRate(q.numSamples, q.window)
		q.rates[key] = r
	}
	q.lastUse[key] = now
	r.record(now, v)
	q.sweep(now)
	return r.throttle(now, bound, time.Duration(q.numSamples)*q.window)
}

// unrecord takes v back (a throttled fetch answered empty).
func (q *quotaManager) unrecord(k quotaKind, user, clientID string, v float64) {
	_, tags, ok := q.table.Load().resolve(k, user, clientID)
	if !ok {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if r := q.rates[rateKey{k, tags}]; r != nil {
		r.record(q.now(), -v)
	}
}

// sweep forgets the rates unused for an hour, checked once a minute.
// Callers hold mu.
func (q *quotaManager) sweep(now time.Time) {
	if now.Sub(q.swept) < time.Minute {
		return
	}
	q.swept = now
	for k, t := range q.lastUse {
		if now.Sub(t) > time.Hour {
			delete(q.lastUse, k)
			delete(q.rates, k)
		}
	}
}

// quotaUser is the user quotas know a principal by: its name without the
// "User:" type.
func quotaUser(principal string) string {
	if name, ok := strings.CutPrefix(principal, "User:"); ok {
		return name
	}
	return principal
}

// throttleMillis converts a throttle to the response field, rounded up.
func throttleMillis(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(min(math.Ceil(float64(d)/float64(time.Millisecond)), math.MaxInt32))
}

// produceKey is Produce's API key.
const produceKey = 0

// throttleFor raises the request's throttle to d and mutes the connection
// for it.
func (rc *reqCtx) throttleFor(d time.Duration) {
	if d <= 0 {
		return
	}
	for {
		old := rc.throttle.Load()
		if int64(d) <= old || rc.throttle.CompareAndSwap(old, int64(d)) {
			break
		}
	}
	rc.conn.mute(d)
}

// setThrottle writes the request's throttle into resp.
func (rc *reqCtx) setThrottle(resp kmsg.Response) {
	d := time.Duration(rc.throttle.Load())
	if d <= 0 {
		return
	}
	if tr, ok := resp.(kmsg.SetThrottleResponse); ok {
		tr.SetThrottle(throttleMillis(d))
	}
}

// recordRequestTime counts the time the request took on its reader (its
// handler's work, not its waits for fsync or a long poll, which run
// elsewhere) against the client's request_percentage quota, once: when
// the handler answers itself, or when it returns. ApiVersions is exempt,
// as in Kafka.
func (rc *reqCtx) recordRequestTime() {
	if rc.hdr.key == apiVersionsKey || !rc.conn.s.quotas.enabled() || !rc.timed.CompareAndSwap(false, true) {
		return
	}
	pct := time.Since(rc.start).Seconds() * 100
	rc.throttleFor(rc.conn.s.quotas.record(quotaRequest, quotaUser(rc.conn.principal), rc.hdr.clientID, pct))
}

// throttleFetch counts res's record bytes against the client's fetch byte
// rate. Over the quota, the bytes are taken back and the response is
// emptied of records, and it carries the throttle (Kafka answers a
// throttled fetch empty).
func throttleFetch(rc *reqCtx, res *fetchResult) {
	q := rc.conn.s.quotas
	if res.bytes == 0 || !q.enabled() {
		return
	}
	user := quotaUser(rc.conn.principal)
	d := q.record(quotaFetch, user, rc.hdr.clientID, float64(res.bytes))
	if d <= 0 {
		return
	}
	q.unrecord(quotaFetch, user, rc.hdr.clientID, float64(res.bytes))
	for i := range res.resp.Topics {
		for j := range res.resp.Topics[i].Partitions {
			res.resp.Topics[i].Partitions[j].RecordBatches = []byte{}
		}
	}
	res.pieces, res.bytes = nil, 0
	rc.throttleFor(d)
}
