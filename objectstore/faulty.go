package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
)

// Op names a Bucket method, for fault injection.
type Op string

// The operations Faulty can fail. OpAll in SetErrorRate means every one.
const (
	OpAll    Op = "*"
	OpPut    Op = "put"
	OpRead   Op = "read"
	OpStat   Op = "stat"
	OpList   Op = "list"
	OpDelete Op = "delete"
)

// FaultKind says which fault Faulty injected.
type FaultKind int

// The faults Faulty injects; all of them are retriable.
const (
	// FaultDown: the endpoint is unreachable (connection refused).
	FaultDown FaultKind = iota + 1
	// FaultRandom: a random failure, shaped like S3's 500 InternalError.
	FaultRandom
	// FaultSlowDown: throttling, shaped like S3's 503 SlowDown.
	FaultSlowDown
	// FaultTruncated: a body that ended early (io.ErrUnexpectedEOF).
	FaultTruncated
)

func (k FaultKind) String() string {
	switch k {
	case FaultDown:
		return "endpoint down"
	case FaultRandom:
		return "random failure"
	case FaultSlowDown:
		return "slow down"
	case FaultTruncated:
		return "truncated body"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultError is an error injected by Faulty. It unwraps to what the real
// failure would look like: a *net.OpError with ECONNREFUSED, a smithy
// APIError with code InternalError or SlowDown, or io.ErrUnexpectedEOF.
type FaultError struct {
	Op   Op
	Key  string // empty for List
	Kind FaultKind
	err  error
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("injected %s on %s %s: %v", e.Kind, e.Op, e.Key, e.err)
}

func (e *FaultError) Unwrap() error { return e.err }

// HTTPStatusCode returns the HTTP status an S3 endpoint would have sent,
// or 0 when no answer would have come.
func (e *FaultError) HTTPStatusCode() int {
	switch e.Kind {
	case FaultRandom:
		return 500
	case FaultSlowDown:
		return 503
	}
	return 0
}

func newFault(op Op, key string, kind FaultKind) *FaultError {
	var err error
	switch kind {
	case FaultDown:
		err = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case FaultRandom:
		err = &smithy.GenericAPIError{Code: "InternalError", Message: "We encountered an internal error. Please try again.", Fault: smithy.FaultServer}
	case FaultSlowDown:
		err = &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate.", Fault: smithy.FaultServer}
	case FaultTruncated:
		err = io.ErrUnexpectedEOF
	}
	return &FaultError{Op: op, Key: key, Kind: kind, err: err}
}

// Faulty wraps a Bucket and injects faults, for tests. With no faults set it
// passes every call through unchanged. Its settings may be changed at any
// time from any goroutine; they apply to calls that start afterwards.
// Randomness comes from a generator seeded with 1 (see Seed), so a test
// that makes the same calls in the same order sees the same faults.
//
// An injected failure happens before the wrapped bucket is called, so a
// failed Put stores nothing and a failed Delete deletes nothing.
type Faulty struct {
	inner Bucket

	mu       sync.Mutex // guards the fields below
	rng      *rand.Rand
	down     bool
	rates    map[Op]float64
	latency  time.Duration
	slowDown int
	truncate bool
}

var (
	_ Bucket            = (*Faulty)(nil)
	_ PutRequestCounter = (*Faulty)(nil)
)

// NewFaulty wraps b with no faults set.
func NewFaulty(b Bucket) *Faulty {
	return &Faulty{inner: b, rng: rand.New(rand.NewPCG(1, 0)), rates: map[Op]float64{}}
}

// Seed restarts the random generator from seed.
func (f *Faulty) Seed(seed uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = rand.New(rand.NewPCG(seed, 0))
}

// SetDown makes every call fail at once, as if the endpoint were
// unreachable (true), or work again (false).
func (f *Faulty) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// SetErrorRate makes calls of op fail with probability p (0 turns it off).
// OpAll sets the rate of operations that have no rate of their own.
func (f *Faulty) SetErrorRate(op Op, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates[op] = min(max(p, 0), 1)
}

// SetLatency delays every call by d before it starts (0 turns it off).
// The delay ends early if the call's context is done.
func (f *Faulty) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = max(d, 0)
}

// SetSlowDown makes the next n calls fail as if S3 answered 503 SlowDown.
func (f *Faulty) SetSlowDown(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowDown = max(n, 0)
}

// SetTruncateReads makes every ReadRange body that would hold bytes end
// after a random number of them (possibly none) with an error wrapping
// io.ErrUnexpectedEOF.
func (f *Faulty) SetTruncateReads(truncate bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncate = truncate
}

// inject sleeps for the latency, then decides whether the call fails.
func (f *Faulty) inject(ctx context.Context, op Op, key string) error {
	f.mu.Lock()
	down, latency := f.down, f.latency
	f.mu.Unlock()
	if down {
		return newFault(op, key, FaultDown)
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w", op, key, ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return newFault(op, key, FaultDown)
	}
	if f.slowDown > 0 {
		f.slowDown--
		return newFault(op, key, FaultSlowDown)
	}
	p, ok := f.rates[op]
	if !ok {
		p = f.rates[OpAll]
	}
	if p > 0 && f.rng.Float64() < p {
		return newFault(op, key, FaultRandom)
	}
	return nil
}

// Put implements Bucket.
func (f *Faulty) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := f.inject(ctx, OpPut, key); err != nil {
		return err
	}
	return f.inner.Put(ctx, key, r, size)
}

// ReadRange implements Bucket.
func (f *Faulty) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := f.inject(ctx, OpRead, key); err != nil {
		return nil, err
	}
	body, err := f.inner.ReadRange(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	truncate := f.truncate
	f.mu.Unlock()
	if !truncate {
		return body, nil
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	f.mu.Lock()
	cut := f.rng.IntN(len(data))
	f.mu.Unlock()
	return io.NopCloser(io.MultiReader(bytes.NewReader(data[:cut]),
		errReader{newFault(OpRead, key, FaultTruncated)})), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Stat implements Bucket.
func (f *Faulty) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := f.inject(ctx, OpStat, key); err != nil {
		return ObjectInfo{}, err
	}
	return f.inner.Stat(ctx, key)
}

// List implements Bucket.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := f.inject(ctx, OpList, ""); err != nil {
		return err
	}
	return f.inner.List(ctx, prefix, fn)
}

// Delete implements Bucket.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.inject(ctx, OpDelete, key); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key)
}

// Close closes the wrapped bucket; it is never failed.
func (f *Faulty) Close() error { return f.inner.Close() }

// PutRequests implements PutRequestCounter by asking the wrapped bucket.
func (f *Faulty) PutRequests(size int64) int64 {
	if c, ok := f.inner.(PutRequestCounter); ok {
		return c.PutRequests(size)
	}
	return 1
}
