package tiering

import (
	"context"
	"fmt"

	"github.com/shalelog/shale/index"
)

// objectFooter is the decoded index of one object as the footer cache keeps
// it. Objects are never rewritten, so an entry never goes stale.
type objectFooter struct {
	footer  *index.Footer
	size    int64 // the object's size in bytes
	dataLen int64 // bytes of batch data at the start of the object
}

// footerCost counts every footer as one entry: the footer cache is bounded by
// ReaderConfig.FooterCacheEntries.
func footerCost(*objectFooter) int64 { return 1 }

// objectFooterFor returns the footer of ext's object, from the cache or with
// one ranged GET of the object's tail (two if the footer is longer than
// ReaderConfig.FooterReadSize; plus a Stat when the extent does not carry
// the object's size). Concurrent calls for one object share the GETs.
func (r *Reader) objectFooterFor(ctx context.Context, ext Extent) (*objectFooter, error) {
	of, _, err := r.footers.get(ctx, ext.Object, func(ctx context.Context) (*objectFooter, error) {
		return r.loadFooter(ctx, ext.Object, ext.ObjectSize)
	})
	if err != nil {
		return nil, err
	}
	return of, nil
}

// loadFooter fetches and decodes the footer of object, whose size is size
// bytes, or unknown when size <= 0.
func (r *Reader) loadFooter(ctx context.Context, object string, size int64) (*objectFooter, error) {
	if size <= 0 {
		info, err := r.stat(ctx, object)
		if err != nil {
			return nil, err
		}
		size = info.Size
	}
	tailLen := min(size, r.cfg.FooterReadSize)
	tail, err := r.getRange(ctx, object, size-tailLen, tailLen)
	if err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	f, need, err := index.ParseTail(tail, size)
	if err == nil && need > 0 {
		if need > size || need <= int64(len(tail)) {
			return nil, r.objectError(object, "read footer", &index.CorruptionError{
				Offset: -1, Reason: fmt.Sprintf("footer needs the last %d bytes of a %d-byte object", need, size)})
		}
		head, err := r.getRange(ctx, object, size-need, need-int64(len(tail)))
		if err != nil {
			return nil, fmt.Errorf("read footer: %w", err)
		}
		tail = append(head, tail...)
		f, need, err = index.ParseTail(tail, size)
		if err == nil && need > 0 {
			return nil, r.objectError(object, "read footer", &index.CorruptionError{
				Offset: -1, Reason: fmt.Sprintf("footer still incomplete with the last %d bytes", len(tail))})
		}
	}
	if err != nil {
		return nil, r.objectError(object, "read footer", err)
	}
	// ParseTail has checked the trailer, so this cannot fail.
	footerLen, err := index.DecodeTrailer(tail)
	if err != nil {
		return nil, r.objectError(object, "read footer", err)
	}
	return &objectFooter{footer: f, size: size, dataLen: size - footerLen - index.TrailerSize}, nil
}
