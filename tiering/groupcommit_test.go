package tiering

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shalelog/shale/wal"
)

// Group commit: a lone acks=all write (Demand) gets its segment sealed and
// uploaded at once, without waiting for the segment's age (an hour here),
// one PUT per write while the PUT budget has tokens; once the budget is
// spent, a further write waits (for the age, or a token) and no PUT
// happens.
func TestUploaderGroupCommitSealsForWaitingProducers(t *testing.T) {
	f := newUploadFixtureWith(t, 2, func(c *wal.Config) {
		c.SegmentMaxAge = time.Hour
		c.SegmentMaxBytes = 1 << 20
	})
	const burst = 3
	u := f.uploaderWith(t, 0, f.bucket, f.meta, func(c *UploaderConfig) {
		c.PutRate = 1.0 / 3600 // a token an hour: none is earned during the test
		c.PutBurst = burst
	})
	rng := rand.New(rand.NewPCG(21, 22))
	next := map[wal.Key]int64{}
	for i := 0; i < burst; i++ {
		f.appendBatches(t, rng, 1, next)
		u.Demand()
		f.waitCommitted(t, next)
	}
	st, bs := u.Stats(), f.bucket.Stats()
	if st.EarlySeals != burst || st.Objects != burst || bs.Puts != burst {
		t.Fatalf("after %d lone writes: %d early seals, %d objects, %d PUTs; want %d of each", burst, st.EarlySeals, st.Objects, bs.Puts, burst)
	}
	if st.PutTokens >= 1 {
		t.Fatalf("budget of %d spent by %d uploads still has %.2f tokens", burst, burst, st.PutTokens)
	}

	// The budget is spent: the next write's segment stays open.
	seals := f.log.Stats().Seals
	f.appendBatches(t, rng, 1, next)
	u.Demand()
	time.Sleep(300 * time.Millisecond)
	if got := f.log.Stats().Seals; got != seals {
		t.Fatalf("%d segments sealed with the PUT budget spent", got-seals)
	}
	if bs := f.bucket.Stats(); bs.Puts != burst {
		t.Fatalf("%d PUTs with the budget spent, want %d", bs.Puts, burst)
	}
}

// With group commit off (no burst), Demand seals nothing.
func TestUploaderGroupCommitOff(t *testing.T) {
	f := newUploadFixtureWith(t, 1, func(c *wal.Config) { c.SegmentMaxAge = time.Hour })
	u := f.uploaderWith(t, 0, f.bucket, f.meta, func(c *UploaderConfig) { c.PutBurst = 0 })
	rng := rand.New(rand.NewPCG(23, 24))
	next := map[wal.Key]int64{}
	f.appendBatches(t, rng, 1, next)
	u.Demand()
	time.Sleep(300 * time.Millisecond)
	if n := f.log.Stats().Seals; n != 0 || u.Stats().EarlySeals != 0 {
		t.Fatalf("group commit off: %d seals, %d early seals", n, u.Stats().EarlySeals)
	}
}

func TestPutBudget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := putBudget{rate: 2, burst: 4, tokens: 4, at: t0}
	for i := 0; i < 4; i++ {
		if w := b.wait(t0); w != 0 {
			t.Fatalf("token %d: wait %s with a full bucket", i, w)
		}
		b.spend(t0)
	}
	if w := b.wait(t0); w != 500*time.Millisecond {
		t.Fatalf("empty bucket at 2 tokens/s: wait %s, want 500ms", w)
	}
	b.spend(t0) // an upload that did not ask (age or size seal)
	if b.tokens != 0 {
		t.Fatalf("tokens %.2f after spending from an empty bucket, want 0", b.tokens)
	}
	if w := b.wait(t0.Add(time.Hour)); w != 0 || b.tokens != 4 {
		t.Fatalf("an hour later: wait %s, %.2f tokens; want 0 and the burst of 4", w, b.tokens)
	}
}
