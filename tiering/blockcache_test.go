package tiering

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func testByteCost(b []byte) int64 { return int64(len(b)) }

func testLoadValue(v []byte, calls *atomic.Int64) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		calls.Add(1)
		return v, nil
	}
}

func TestLoadingCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLoadingCache[string](context.Background(), 30, testByteCost)
	var calls atomic.Int64
	ctx := context.Background()
	get := func(key string, size int) loadOutcome {
		t.Helper()
		v, outcome, err := c.get(ctx, key, testLoadValue(make([]byte, size), &calls))
		if err != nil || len(v) != size {
			t.Fatalf("get %s: %d bytes, %v", key, len(v), err)
		}
		return outcome
	}
	get("a", 10)
	get("b", 10)
	get("c", 10)
	if got := get("a", 10); got != outcomeHit { // a is now the most recent
		t.Fatalf("a: outcome %v, want a hit", got)
	}
	get("d", 10) // evicts b, the least recently used
	if c.contains("b") || !c.contains("a") || !c.contains("c") || !c.contains("d") {
		t.Fatalf("after inserting d: a %v b %v c %v d %v; want b evicted",
			c.contains("a"), c.contains("b"), c.contains("c"), c.contains("d"))
	}
	if n, used := c.usage(); n != 3 || used != 30 {
		t.Fatalf("usage %d entries %d bytes, want 3 and 30", n, used)
	}
	get("e", 25) // evicts c, a and d, least recent first, until it fits
	if _, used := c.usage(); used > 30 {
		t.Fatalf("cache holds %d bytes, bound 30", used)
	}
	get("huge", 31) // larger than the whole cache: returned, not kept
	if c.contains("huge") || !c.contains("e") {
		t.Fatal("a value larger than the cache was kept, or evicted others")
	}
	if calls.Load() != 6 {
		t.Fatalf("%d loads, want 6", calls.Load())
	}
}

func TestLoadingCacheFailedLoadIsNotKept(t *testing.T) {
	c := newLoadingCache[string](context.Background(), 100, testByteCost)
	boom := errors.New("boom")
	if _, _, err := c.get(context.Background(), "k", func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if c.contains("k") {
		t.Fatal("failed load left an entry or a load in flight")
	}
	var calls atomic.Int64
	if v, outcome, err := c.get(context.Background(), "k", testLoadValue([]byte("ok"), &calls)); err != nil || string(v) != "ok" || outcome != outcomeLoaded {
		t.Fatalf("retry after failure: %q, %v, %v", v, outcome, err)
	}
}

func TestLoadingCacheJoinAndCancel(t *testing.T) {
	base, stop := context.WithCancel(context.Background())
	defer stop()
	c := newLoadingCache[string](base, 100, testByteCost)
	release := make(chan struct{})
	loadCtxDone := make(chan error, 1)
	var calls atomic.Int64
	slow := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		select {
		case <-release:
			return []byte("v"), nil
		case <-ctx.Done():
			loadCtxDone <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	// Two waiters; the first leaves; the load goes on for the second.
	ctx1, cancel1 := context.WithCancel(context.Background())
	res1 := make(chan error, 1)
	go func() { _, _, err := c.get(ctx1, "k", slow); res1 <- err }()
	coldWaitFor(t, "the load to start", func() bool { return calls.Load() == 1 })
	res2 := make(chan loadOutcome, 1)
	go func() {
		v, outcome, err := c.get(context.Background(), "k", slow)
		if err != nil || string(v) != "v" {
			t.Errorf("second waiter: %q, %v", v, err)
		}
		res2 <- outcome
	}()
	coldWaitFor(t, "the second waiter to join", func() bool { return c.joins.Load() == 1 })
	cancel1()
	if err := <-res1; !errors.Is(err, context.Canceled) {
		t.Fatalf("first waiter: %v", err)
	}
	close(release)
	if outcome := <-res2; outcome != outcomeJoined {
		t.Fatalf("second waiter outcome %v, want joined", outcome)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d loads, want 1", calls.Load())
	}

	// A lone waiter that leaves cancels the load, and the key is free for
	// a fresh one at once.
	calls.Store(0)
	release = make(chan struct{})
	ctx3, cancel3 := context.WithCancel(context.Background())
	res3 := make(chan error, 1)
	go func() { _, _, err := c.get(ctx3, "other", slow); res3 <- err }()
	coldWaitFor(t, "the load to start", func() bool { return calls.Load() == 1 })
	cancel3()
	<-res3
	if err := <-loadCtxDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned load's context: %v", err)
	}
	c.wait()
	if c.contains("other") {
		t.Fatal("canceled load left something behind")
	}
}

func TestLoadingCachePrefetch(t *testing.T) {
	base, stop := context.WithCancel(context.Background())
	c := newLoadingCache[string](base, 100, testByteCost)
	release := make(chan struct{})
	var calls atomic.Int64
	slow := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		select {
		case <-release:
			return []byte("v"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !c.prefetch("k", slow) {
		t.Fatal("prefetch of a new key did not start")
	}
	if c.prefetch("k", slow) {
		t.Fatal("second prefetch of a key in flight started another load")
	}
	// A waiter joins the prefetch and leaves; the prefetch goes on.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := c.get(ctx, "k", slow); done <- err }()
	coldWaitFor(t, "the waiter to join", func() bool { return c.joins.Load() == 1 })
	cancel()
	<-done
	close(release)
	c.wait()
	if v, outcome, err := c.get(context.Background(), "k", slow); string(v) != "v" || outcome != outcomeHit || err != nil {
		t.Fatalf("after prefetch: %q, %v, %v", v, outcome, err)
	}
	if c.prefetch("k", slow) || calls.Load() != 1 {
		t.Fatalf("prefetch of a cached key started a load (%d loads)", calls.Load())
	}
	// Stopping the base context cancels prefetches.
	if !c.prefetch("x", func(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }) {
		t.Fatal("prefetch did not start")
	}
	stop()
	c.wait()
	if c.contains("x") {
		t.Fatal("prefetch canceled by the base context left something behind")
	}
}
