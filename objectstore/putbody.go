package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
)

// putBody is the choice both s3 drivers make for a Put: a body of known
// size up to threshold is read whole (exactly size bytes, no more) and
// sent with one request (single); a body of unknown size is read up to
// threshold+1 bytes to see whether one request will do; anything larger
// goes to multi as a stream (what was read ahead first).
func putBody(r io.Reader, size, threshold int64, single func([]byte) error, multi func(io.Reader) error) error {
	if size >= 0 && size <= threshold {
		buf := make([]byte, size)
		if n, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("body has %d bytes, want %d", n, size)
			}
			return fmt.Errorf("read body: %w", err)
		}
		if err := expectEOF(r, size); err != nil {
			return err
		}
		return single(buf)
	}
	if size < 0 {
		buf, err := io.ReadAll(io.LimitReader(r, threshold+1))
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if int64(len(buf)) <= threshold {
			return single(buf)
		}
		r = io.MultiReader(bytes.NewReader(buf), r)
	}
	return multi(r)
}

// uploadParts reads r in parts of partSize and uploads up to concurrency
// of them at once with put (part numbers from 1), each part in a buffer
// reused once its upload is done. The first failure cancels the rest. It
// returns what put returned for each part, in part number order, after
// checking that a body of known size (size >= 0; r limited to size+1
// bytes by the caller) had exactly size bytes.
func uploadParts[P any](ctx context.Context, r io.Reader, size, partSize int64, concurrency int, put func(ctx context.Context, num int, data []byte) (P, error)) ([]P, error) {
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// slots bounds the parts in flight; each slot carries a reusable buffer.
	slots := make(chan []byte, concurrency)
	for range concurrency {
		slots <- nil
	}
	type numbered struct {
		num  int
		part P
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards parts and firstErr
		parts    []numbered
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	var total int64
	for partNum := 1; ; partNum++ {
		var buf []byte
		select {
		case buf = <-slots:
		case <-uctx.Done():
		}
		if failed() || uctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, partSize)
		}
		n, rerr := io.ReadFull(r, buf)
		total += int64(n)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			fail(fmt.Errorf("read body: %w", rerr))
			break
		}
		if n == 0 {
			slots <- buf
			break // the previous part was the last one
		}
		if partNum > maxParts {
			fail(fmt.Errorf("body needs more than %d parts of %d bytes", maxParts, partSize))
			break
		}
		wg.Add(1)
		go func(num int, data, buf []byte) {
			defer wg.Done()
			defer func() { slots <- buf }()
			p, err := put(uctx, num, data)
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			parts = append(parts, numbered{num, p})
			mu.Unlock()
		}(partNum, buf[:n], buf)
		if rerr != nil {
			break // short read: this was the last part
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size >= 0 && total != size {
		return nil, fmt.Errorf("body has %d bytes, want %d", total, size)
	}
	slices.SortFunc(parts, func(x, y numbered) int { return x.num - y.num })
	out := make([]P, len(parts))
	for i, p := range parts {
		out[i] = p.part
	}
	return out, nil
}
