package objectstore

import (
	"context"
	"io"
	"sync/atomic"
)

// listPageSize is how many keys one S3 LIST request returns at most.
const listPageSize = 1000

// CountingStats is a snapshot of a Counting bucket's counters.
//
// Requests are counted as S3 bills them: class A is PUT, COPY, POST and
// LIST; class B is GET and HEAD; DELETE is free and counted on its own. A
// Put counts the requests the wrapped bucket reports through
// PutRequestCounter (a multipart upload is create + each part + complete),
// else one. A List counts one LIST per 1000 keys returned, at least one.
// Failed calls count one request of their class.
type CountingStats struct {
	ClassA  int64 // PUT, COPY, POST and LIST requests
	ClassB  int64 // GET and HEAD requests
	Deletes int64 // DELETE requests (not billed by S3)

	Puts  int64 // Put calls
	Reads int64 // ReadRange calls
	Stats int64 // Stat calls
	Lists int64 // List calls

	BytesIn  int64 // bytes stored by Puts that succeeded
	BytesOut int64 // bytes read from ReadRange bodies
	Errors   int64 // calls that returned an error
}

// ClassAPerGiB returns class A requests per GiB stored (0 if nothing was).
func (s CountingStats) ClassAPerGiB() float64 {
	if s.BytesIn == 0 {
		return 0
	}
	return float64(s.ClassA) / (float64(s.BytesIn) / (1 << 30))
}

// Sub returns s minus prev, the activity between two snapshots.
func (s CountingStats) Sub(prev CountingStats) CountingStats {
	return CountingStats{
		ClassA: s.ClassA - prev.ClassA, ClassB: s.ClassB - prev.ClassB, Deletes: s.Deletes - prev.Deletes,
		Puts: s.Puts - prev.Puts, Reads: s.Reads - prev.Reads, Stats: s.Stats - prev.Stats, Lists: s.Lists - prev.Lists,
		BytesIn: s.BytesIn - prev.BytesIn, BytesOut: s.BytesOut - prev.BytesOut, Errors: s.Errors - prev.Errors,
	}
}

// Counting wraps a Bucket and counts its requests and bytes. It is safe for
// concurrent use; Stats may be called at any time.
type Counting struct {
	inner Bucket

	classA, classB, deletes    atomic.Int64
	puts, reads, stats, lists  atomic.Int64
	bytesIn, bytesOut, errorsN atomic.Int64
}

var (
	_ Bucket            = (*Counting)(nil)
	_ PutRequestCounter = (*Counting)(nil)
)

// NewCounting wraps b with zeroed counters.
func NewCounting(b Bucket) *Counting { return &Counting{inner: b} }

// Stats returns a snapshot of the counters. Counters are read one by one,
// so a snapshot taken while calls run may be off by those calls.
func (c *Counting) Stats() CountingStats {
	return CountingStats{
		ClassA: c.classA.Load(), ClassB: c.classB.Load(), Deletes: c.deletes.Load(),
		Puts: c.puts.Load(), Reads: c.reads.Load(), Stats: c.stats.Load(), Lists: c.lists.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Errors: c.errorsN.Load(),
	}
}

func (c *Counting) countErr(err error) error {
	if err != nil {
		c.errorsN.Add(1)
	}
	return err
}

// Put implements Bucket.
func (c *Counting) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.puts.Add(1)
	cr := &countingReader{r: r}
	err := c.inner.Put(ctx, key, cr, size)
	if err != nil {
		c.classA.Add(1)
		return c.countErr(err)
	}
	c.bytesIn.Add(cr.n)
	c.classA.Add(c.PutRequests(cr.n))
	return nil
}

// PutRequests implements PutRequestCounter by asking the wrapped bucket.
func (c *Counting) PutRequests(size int64) int64 {
	if pc, ok := c.inner.(PutRequestCounter); ok {
		return pc.PutRequests(size)
	}
	return 1
}

// ReadRange implements Bucket. Bytes count as they are read from the body.
func (c *Counting) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	c.reads.Add(1)
	c.classB.Add(1)
	body, err := c.inner.ReadRange(ctx, key, off, length)
	if err != nil {
		return nil, c.countErr(err)
	}
	return &countingBody{rc: body, n: &c.bytesOut}, nil
}

// Stat implements Bucket.
func (c *Counting) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	c.stats.Add(1)
	c.classB.Add(1)
	info, err := c.inner.Stat(ctx, key)
	return info, c.countErr(err)
}

// List implements Bucket.
func (c *Counting) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	c.lists.Add(1)
	var n int64
	err := c.inner.List(ctx, prefix, func(info ObjectInfo) error {
		n++
		return fn(info)
	})
	c.classA.Add(max(1, (n+listPageSize-1)/listPageSize))
	return c.countErr(err)
}

// Delete implements Bucket.
func (c *Counting) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.countErr(c.inner.Delete(ctx, key))
}

// Close closes the wrapped bucket.
func (c *Counting) Close() error { return c.inner.Close() }

type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// TakeBytes implements BytesBody: the bytes taken count as read.
func (r *countingReader) TakeBytes() ([]byte, bool) {
	b, ok := TakeBytes(r.r)
	r.n += int64(len(b))
	return b, ok
}

type countingBody struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
