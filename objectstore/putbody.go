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
// goes to multi as a stream (what was read ahead first). A body held in
// memory (a BytesBody) is not read: single gets the caller's bytes as
// they are, and multi a BytesReader over them, which uploadParts slices
// into parts.
func putBody(r io.Reader, size, threshold int64, single func([]byte) error, multi func(io.Reader) error) error {
	if body, ok := TakeBytes(r); ok {
		if size >= 0 && int64(len(body)) != size {
			return fmt.Errorf("body has %d bytes, want %d", len(body), size)
		}
		if int64(len(body)) <= threshold {
			return single(body)
		}
		return multi(NewBytesReader(body))
	}
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
// reused once its upload is done; the parts of a body held in memory (a
// BytesBody) are slices of its bytes instead. The first failure cancels
// the rest. It returns what put returned for each part, in part number
// order, after checking that a body of known size (size >= 0) had
// exactly size bytes.
func uploadParts[P any](ctx context.Context, r io.Reader, size, partSize int64, concurrency int, put func(ctx context.Context, num int, data []byte) (P, error)) ([]P, error) {
	body, whole := TakeBytes(r)
	if !whole && size >= 0 {
		// One byte more than promised is enough to tell a long body.
		r = io.LimitReader(r, size+1)
	}
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// slots bounds the parts in flight; each slot carries a reusable
	// buffer (none for a body in memory).
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
		var data []byte
		var rerr error
		if whole {
			end := total + min(partSize, int64(len(body))-total)
			data = body[total:end:end]
		} else {
			if buf == nil {
				buf = make([]byte, partSize)
			}
			var n int
			n, rerr = io.ReadFull(r, buf)
			data = buf[:n]
		}
		total += int64(len(data))
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			fail(fmt.Errorf("read body: %w", rerr))
			break
		}
		if len(data) == 0 {
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
		}(partNum, data, buf)
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
