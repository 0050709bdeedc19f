package tiering

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// blockKey names one block of an object: the bytes
// [index*BlockSize, (index+1)*BlockSize) cut at the end of the object's data.
type blockKey struct {
	object string
	index  int64
}

// loadOutcome says where loadingCache.get found its value.
type loadOutcome int

const (
	outcomeHit    loadOutcome = iota + 1 // in the cache
	outcomeJoined                        // joined a load another caller started
	outcomeLoaded                        // started the load itself
)

// loadingCache is a least-recently-used cache of values bounded by a total
// cost, that runs at most one load per key at a time: callers asking for a
// key that is being loaded wait for that load instead of starting another.
// The Reader uses one for blocks (cost: bytes) and one for footers (cost: 1
// per entry).
//
// A load runs in its own goroutine under a context derived from the cache's
// base context, not from any caller's: a caller whose context ends stops
// waiting and returns, and the load is canceled only when every caller
// waiting for it has gone (loads started by prefetch, which nobody waits
// for, run until they finish or the base context ends). A load that fails
// leaves nothing in the cache: everyone waiting gets the error and the next
// get starts a new load.
//
// LOCKING: mu guards every field below it. It is held only to look at and
// change the maps and the list, never while a load runs or a caller waits,
// so no I/O ever happens under it. It is never held together with another
// lock.
type loadingCache[K comparable, V any] struct {
	base     context.Context
	capacity int64
	cost     func(V) int64

	// Lookups by outcome, counted when the outcome is decided (a joined
	// lookup counts before its wait ends).
	hits, joins, loads atomic.Int64

	mu      sync.Mutex
	idle    sync.Cond // on mu; broadcast when running drops to 0
	running int       // loads whose goroutine has not finished
	used    int64
	lru     list.List // of *cacheEntry[K, V]; front is most recently used
	entries map[K]*list.Element
	flights map[K]*cacheLoad[V]
}

type cacheEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

// cacheLoad is one load in progress. val and err are written once, before done
// is closed, and only read after.
type cacheLoad[V any] struct {
	done   chan struct{}
	val    V
	err    error
	cancel context.CancelFunc

	// Guarded by the cache's mu:
	waiters  int  // callers waiting in get
	detached bool // started by prefetch: never canceled for want of waiters
}

// newLoadingCache returns an empty cache holding values of total cost at
// most capacity (0 caches nothing; loads are still shared). Loads run under
// contexts derived from base.
func newLoadingCache[K comparable, V any](base context.Context, capacity int64, cost func(V) int64) *loadingCache[K, V] {
	c := &loadingCache[K, V]{
		base:     base,
		capacity: capacity,
		cost:     cost,
		entries:  make(map[K]*list.Element),
		flights:  make(map[K]*cacheLoad[V]),
	}
	c.idle.L = &c.mu
	return c
}

// get returns the value for key: from the cache, by waiting for a load in
// progress, or by starting load. It returns early with ctx's error if ctx
// ends first.
func (c *loadingCache[K, V]) get(ctx context.Context, key K, load func(context.Context) (V, error)) (V, loadOutcome, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.lru.MoveToFront(e)
		v := e.Value.(*cacheEntry[K, V]).val
		c.mu.Unlock()
		c.hits.Add(1)
		return v, outcomeHit, nil
	}
	outcome := outcomeJoined
	f, ok := c.flights[key]
	if !ok {
		outcome = outcomeLoaded
		f = c.startLocked(key, load)
	}
	f.waiters++
	c.mu.Unlock()
	if outcome == outcomeJoined {
		c.joins.Add(1)
	} else {
		c.loads.Add(1)
	}

	select {
	case <-f.done:
		c.mu.Lock()
		f.waiters--
		c.mu.Unlock()
		return f.val, outcome, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 && !f.detached {
			// Nobody wants this load any more: stop it, and let the next
			// caller start afresh rather than join a canceled load.
			if c.flights[key] == f {
				delete(c.flights, key)
			}
			f.cancel()
		}
		c.mu.Unlock()
		var zero V
		return zero, outcome, ctx.Err()
	}
}

// prefetch starts load for key in the background unless key is cached or
// already being loaded; it reports whether it started a load. Nobody waits
// for the load, and callers of get may join it.
func (c *loadingCache[K, V]) prefetch(key K, load func(context.Context) (V, error)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return false
	}
	if _, ok := c.flights[key]; ok {
		return false
	}
	f := c.startLocked(key, load)
	f.detached = true
	return true
}

// contains reports whether key is cached or being loaded.
func (c *loadingCache[K, V]) contains(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, cached := c.entries[key]
	_, loading := c.flights[key]
	return cached || loading
}

// demote moves key, when cached, to the least recently used end of the
// cache, so that it is the first to go when room is needed.
func (c *loadingCache[K, V]) demote(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.lru.MoveToBack(e)
	}
}

// remove drops key from the cache, when cached, and reports whether it
// was. A load in progress is left alone.
func (c *loadingCache[K, V]) remove(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok {
		c.removeLocked(e)
	}
	return ok
}

// startLocked registers a load for key and starts its load. c.mu is held.
func (c *loadingCache[K, V]) startLocked(key K, load func(context.Context) (V, error)) *cacheLoad[V] {
	ctx, cancel := context.WithCancel(c.base)
	f := &cacheLoad[V]{done: make(chan struct{}), cancel: cancel}
	c.flights[key] = f
	c.running++
	go func() {
		v, err := load(ctx)
		cancel()
		c.mu.Lock()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
		if err == nil {
			c.insertLocked(key, v)
		}
		f.val, f.err = v, err
		close(f.done)
		c.running--
		if c.running == 0 {
			c.idle.Broadcast()
		}
		c.mu.Unlock()
	}()
	return f
}

// insertLocked adds or replaces key's value and evicts least recently used
// entries until the total cost fits. A value costlier than the whole cache
// is not kept. c.mu is held.
func (c *loadingCache[K, V]) insertLocked(key K, v V) {
	cost := c.cost(v)
	if e, ok := c.entries[key]; ok {
		c.removeLocked(e)
	}
	if cost > c.capacity {
		return
	}
	for c.used+cost > c.capacity {
		c.removeLocked(c.lru.Back())
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry[K, V]{key: key, val: v, cost: cost})
	c.used += cost
}

func (c *loadingCache[K, V]) removeLocked(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry[K, V])
	delete(c.entries, ce.key)
	c.used -= ce.cost
}

// usage returns the number of cached entries and their total cost.
func (c *loadingCache[K, V]) usage() (entries int, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.used
}

// wait blocks until no load is running.
func (c *loadingCache[K, V]) wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.running > 0 {
		c.idle.Wait()
	}
}

// blockCost is a block's size in bytes: the block cache is bounded by
// ReaderConfig.CacheBytes.
func blockCost(b *cachedBlock) int64 { return int64(len(b.data)) + 4*int64(len(b.sums)) }

// blockRange returns the object byte range of block bi of an object whose
// footer is of: [bi*BlockSize, (bi+1)*BlockSize) cut at the end of the
// batch data, so that the footer is never fetched as part of a block.
func (r *Reader) blockRange(of *objectFooter, bi int64) (off, length int64) {
	off = bi * r.cfg.BlockSize
	return off, min(r.cfg.BlockSize, of.dataLen-off)
}

// block returns block bi of object (whose footer is of) from the cache, by
// joining a GET in flight, or with a GET of its own.
func (r *Reader) block(ctx context.Context, object string, of *objectFooter, bi int64) (*cachedBlock, error) {
	off, length := r.blockRange(of, bi)
	if off < 0 || length <= 0 {
		return nil, fmt.Errorf("read %s: block %d is outside the %d bytes of data", object, bi, of.dataLen)
	}
	b, _, err := r.blocks.get(ctx, blockKey{object, bi}, func(ctx context.Context) (*cachedBlock, error) {
		return r.getBlock(ctx, object, off, length)
	})
	if err != nil {
		return nil, fmt.Errorf("read block %d: %w", bi, err)
	}
	return b, nil
}

// prefetchBlock starts a background GET of block bi unless the block is
// cached or already being fetched, or MaxConcurrentGets background fetches
// are already pending. Readers of the block join the fetch.
func (r *Reader) prefetchBlock(object string, of *objectFooter, bi int64) {
	off, length := r.blockRange(of, bi)
	if off < 0 || length <= 0 || r.closed.Load() {
		return
	}
	key := blockKey{object, bi}
	if r.blocks.contains(key) {
		return
	}
	if r.pendingPrefetch.Add(1) > int64(r.cfg.MaxConcurrentGets) {
		r.pendingPrefetch.Add(-1)
		return
	}
	started := r.blocks.prefetch(key, func(ctx context.Context) (*cachedBlock, error) {
		defer r.pendingPrefetch.Add(-1)
		b, err := r.getBlock(ctx, object, off, length)
		if err != nil && ctx.Err() == nil {
			r.log.Debug("read-ahead failed", "object", object, "block", bi, "err", err)
		}
		return b, err
	})
	if !started {
		r.pendingPrefetch.Add(-1)
		return
	}
	r.stats.readAheads.Add(1)
}
