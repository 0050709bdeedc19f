package broker

import (
	"math"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
)

func TestSampledRateWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newSampledRate(11, time.Second)
	// The first window is measured as if ten windows had passed: 1000
	// bytes at once is 100/s, not 1000 per millisecond.
	r.record(t0, 1000)
	if got := r.rate(t0); math.Abs(got-100) > 1e-9 {
		t.Fatalf("rate after one record: %v, want 100", got)
	}
	// 1000 bytes a second for 20 s: the rate settles at 1000/s once the
	// windows cover real time.
	for i := 1; i <= 20_000; i++ {
		r.record(t0.Add(time.Duration(i)*time.Millisecond), 1)
	}
	now := t0.Add(20 * time.Second)
	if got := r.rate(now); math.Abs(got-1000) > 1000*0.02 {
		t.Fatalf("steady rate %v, want 1000 within 2%%", got)
	}
	// Samples older than numSamples windows no longer count.
	later := now.Add(30 * time.Second)
	if got := r.rate(later); got != 0 {
		t.Fatalf("rate after 30 s of silence: %v", got)
	}
}

func TestSampledRateThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newSampledRate(11, time.Second)
	r.record(t0, 2000) // 200/s measured over 10 s
	if d := r.throttle(t0, 400, time.Second); d != 0 {
		t.Fatalf("under the bound: throttle %v", d)
	}
	// 200/s against a bound of 100/s: (200-100)/100 × 10 s = 10 s,
	// capped at the maximum.
	if d := r.throttle(t0, 100, time.Hour); d != 10*time.Second {
		t.Fatalf("throttle %v, want 10s", d)
	}
	if d := r.throttle(t0, 100, time.Second); d != time.Second {
		t.Fatalf("capped throttle %v, want 1s", d)
	}
	// Waiting out the throttle brings the rate back to the bound: 1000/s
	// for 10 s, then a burst of 1000 more, is 1100/s over 10 s; a
	// second's wait makes it 1000/s over 11 s.
	r2 := newSampledRate(11, time.Second)
	for i := 1; i <= 10_000; i++ {
		r2.record(t0.Add(time.Duration(i)*time.Millisecond), 1)
	}
	now := t0.Add(10 * time.Second)
	r2.record(now, 1000)
	d := r2.throttle(now, 1000, time.Hour)
	if got := r2.rate(now.Add(d)); math.Abs(got-1000) > 10 {
		t.Fatalf("rate %v after the %v throttle, want 1000", got, d)
	}
}

func TestQuotaPrecedence(t *testing.T) {
	named, def, none := metadata.QuotaNamed, metadata.QuotaDefault(), metadata.QuotaName{}
	ent := func(u, c metadata.QuotaName) metadata.QuotaEntity { return metadata.QuotaEntity{User: u, ClientID: c} }
	// Each entity of Kafka's list, with the value that names its rank.
	levels := []metadata.QuotaEntity{
		ent(named("alice"), named("app")),
		ent(named("alice"), def),
		ent(named("alice"), none),
		ent(def, named("app")),
		ent(def, def),
		ent(def, none),
		ent(none, named("app")),
		ent(none, def),
	}
	wantTags := []quotaTags{
		{"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"alice", "app"},
		{"alice", "app"}, {"alice", ""}, {"", "app"}, {"", "app"},
	}
	for top := range levels {
		table := quotaTable{}
		for i := top; i < len(levels); i++ {
			table[levels[i]] = map[string]float64{metadata.QuotaProducerByteRate: float64(i + 1)}
		}
		bound, tags, ok := table.resolve(quotaProduce, "alice", "app")
		if !ok || bound != float64(top+1) || tags != wantTags[top] {
			t.Errorf("levels %d..8: bound %v tags %+v ok %v; want %d %+v", top+1, bound, tags, ok, top+1, wantTags[top])
		}
	}
	// Each key is resolved on its own: a user's produce quota does not
	// hide the client id's fetch quota.
	table := quotaTable{
		ent(named("alice"), none): {metadata.QuotaProducerByteRate: 10},
		ent(none, named("app")):   {metadata.QuotaConsumerByteRate: 20},
	}
	if b, _, ok := table.resolve(quotaFetch, "alice", "app"); !ok || b != 20 {
		t.Fatalf("fetch quota %v %v, want 20", b, ok)
	}
	if _, _, ok := table.resolve(quotaRequest, "alice", "app"); ok {
		t.Fatal("request quota found where none is set")
	}
	// Other users and client ids fall through to what matches them.
	if _, _, ok := table.resolve(quotaProduce, "bob", "app"); ok {
		t.Fatal("alice's quota applied to bob")
	}
	// An empty client id matches only the default client-id entity.
	table = quotaTable{ent(none, def): {metadata.QuotaProducerByteRate: 5}}
	if b, _, ok := table.resolve(quotaProduce, "u", ""); !ok || b != 5 {
		t.Fatalf("empty client id: %v %v", b, ok)
	}
}

// Clients a matching entity covers share one rate: a quota on user alice
// alone is shared by her client ids; one on the default user gives each
// user a budget of its own.
func TestQuotaSharedRates(t *testing.T) {
	now := time.Unix(1000, 0)
	q := newQuotaManager(2, time.Second, func() time.Time { return now })
	q.setQuotas([]metadata.ClientQuota{
		{Entity: metadata.QuotaEntity{User: metadata.QuotaNamed("alice")}, Values: map[string]float64{metadata.QuotaProducerByteRate: 100}},
		{Entity: metadata.QuotaEntity{User: metadata.QuotaDefault()}, Values: map[string]float64{metadata.QuotaProducerByteRate: 100}},
	})
	if d := q.record(quotaProduce, "alice", "a", 100); d != 0 {
		t.Fatalf("first 100 bytes throttled %v", d)
	}
	if d := q.record(quotaProduce, "alice", "b", 100); d <= 0 {
		t.Fatal("alice's second client id has a budget of its own")
	}
	if d := q.record(quotaProduce, "bob", "a", 100); d != 0 {
		t.Fatalf("bob shares alice's budget: throttled %v", d)
	}
	if d := q.record(quotaProduce, "carol", "a", 100); d != 0 {
		t.Fatalf("carol shares bob's default budget: throttled %v", d)
	}
}
