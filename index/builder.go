package index

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// DefaultSparseInterval is the default number of bytes between sparse
// entries (64 KiB).
const DefaultSparseInterval = 64 << 10

// BuilderOptions tunes a Builder.
type BuilderOptions struct {
	// SparseInterval is the minimum number of bytes between sparse entries.
	// Entries fall only on batch boundaries, at the first boundary at least
	// this far past the previous entry. Zero means DefaultSparseInterval.
	SparseInterval int64
}

// DefaultBuilderOptions returns the options NewBuilder uses for zero values.
func DefaultBuilderOptions() BuilderOptions {
	return BuilderOptions{SparseInterval: DefaultSparseInterval}
}

// Validate reports options that cannot be used.
func (o BuilderOptions) Validate() error {
	if o.SparseInterval < 0 {
		return fmt.Errorf("sparse interval %d is negative", o.SparseInterval)
	}
	return nil
}

// ErrBuilderFinished is returned by Add and Finish after Finish.
var ErrBuilderFinished = errors.New("object builder already finished")

// Builder writes one object to an io.Writer: batch data as it is added,
// then the footer and trailer on Finish. Add all batches of one partition
// before the next partition (partitions may come in any key order; the
// footer sorts them).
//
// Add checks the framing of each batch (length, magic, offsets), not its CRC:
// batches come from Shale's own WAL, which has checked them. Use
// VerifyBatches first for bytes of unknown origin.
//
// A Builder is not safe for concurrent use.
type Builder struct {
	w        io.Writer
	interval int64
	err      error       // sticky: options error, write error, or ErrBuilderFinished
	size     int64       // bytes written so far
	parts    []Partition // in the order added; the last one is open
	seen     map[Key]struct{}
}

// NewBuilder returns a Builder writing to w. Invalid options are reported by
// the first Add or Finish.
func NewBuilder(w io.Writer, opts BuilderOptions) *Builder {
	b := &Builder{w: w, interval: opts.SparseInterval, seen: make(map[Key]struct{})}
	if err := opts.Validate(); err != nil {
		b.err = fmt.Errorf("new object builder: %w", err)
	}
	if b.interval == 0 {
		b.interval = DefaultSparseInterval
	}
	return b
}

// Add appends batches, one or more whole RecordBatch v2 with offsets already
// assigned, for partition k. baseOffset must be the first batch's base
// offset and lastOffset the last batch's last offset. maxTimestamp is the
// largest timestamp the caller attributes to these batches. The sparse time
// index uses each batch's own maxTimestamp field; if maxTimestamp is larger
// than all of them (a log-append time the headers do not carry), it is
// counted for the first batch, which keeps LocateTime from ever pointing past
// a matching record.
//
// Add returns an error, and writes nothing, if the batches are malformed,
// if k was added before and another partition has been added since, or if
// baseOffset is not past the offsets already added for k. Gaps between
// batches (compacted data) are allowed. A write error is returned and sticks.
func (b *Builder) Add(k Key, baseOffset, lastOffset, maxTimestamp int64, batches []byte) error {
	if b.err != nil {
		return b.err
	}
	if err := b.checkAdd(k, baseOffset, lastOffset); err != nil {
		return fmt.Errorf("add %v offsets [%d, %d]: %w", k, baseOffset, lastOffset, err)
	}
	headerMax, err := checkBatchFraming(batches, baseOffset, lastOffset)
	if err != nil {
		return fmt.Errorf("add %v offsets [%d, %d]: %w", k, baseOffset, lastOffset, err)
	}
	if _, err := b.w.Write(batches); err != nil {
		b.err = fmt.Errorf("write batches for %v: %w", k, err)
		return b.err
	}

	if p := b.open(); p == nil || p.Key != k {
		b.seen[k] = struct{}{}
		b.parts = append(b.parts, Partition{Key: k, FirstOffset: baseOffset, Pos: b.size})
	}
	p := b.open()
	for pos, first := 0, true; pos < len(batches); first = false {
		h := readBatchHeader(batches[pos:])
		ts := h.maxTimestamp
		if first && maxTimestamp > headerMax {
			ts = maxTimestamp
		}
		rel := p.Len + int64(pos)
		if n := len(p.Sparse); n == 0 {
			p.Sparse = append(p.Sparse, SparseEntry{Offset: h.baseOffset, Pos: rel, MaxTimestamp: ts})
		} else if rel-p.Sparse[n-1].Pos >= b.interval {
			p.Sparse = append(p.Sparse, SparseEntry{Offset: h.baseOffset, Pos: rel, MaxTimestamp: max(ts, p.Sparse[n-1].MaxTimestamp)})
		} else {
			p.Sparse[n-1].MaxTimestamp = max(ts, p.Sparse[n-1].MaxTimestamp)
		}
		pos += h.size()
	}
	p.Len += int64(len(batches))
	p.LastOffset = lastOffset
	p.MaxTimestamp = p.Sparse[len(p.Sparse)-1].MaxTimestamp
	b.size += int64(len(batches))
	return nil
}

// open returns the partition being added to, or nil before the first Add.
func (b *Builder) open() *Partition {
	if len(b.parts) == 0 {
		return nil
	}
	return &b.parts[len(b.parts)-1]
}

func (b *Builder) checkAdd(k Key, baseOffset, lastOffset int64) error {
	switch {
	case baseOffset < 0:
		return fmt.Errorf("negative base offset")
	case lastOffset < baseOffset:
		return fmt.Errorf("last offset before base offset")
	}
	if p := b.open(); p != nil && p.Key == k {
		if baseOffset <= p.LastOffset {
			return fmt.Errorf("offsets go back: partition already holds up to %d", p.LastOffset)
		}
		return nil
	}
	if _, ok := b.seen[k]; ok {
		return fmt.Errorf("partition reappears after another partition began")
	}
	return nil
}

// checkBatchFraming walks whole batches in data and checks that they are
// well framed and that their offsets ascend from exactly baseOffset to
// exactly lastOffset. It returns the largest batch maxTimestamp.
func checkBatchFraming(data []byte, baseOffset, lastOffset int64) (maxTimestamp int64, err error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("no batches")
	}
	maxTimestamp = math.MinInt64
	next := baseOffset
	for pos := 0; pos < len(data); {
		if len(data)-pos < batchHeaderSize {
			return 0, fmt.Errorf("batch at byte %d: %d bytes left, a header needs %d", pos, len(data)-pos, batchHeaderSize)
		}
		h := readBatchHeader(data[pos:])
		if err := h.check(); err != nil {
			return 0, fmt.Errorf("batch at byte %d: %s", pos, err)
		}
		if h.size64() > int64(len(data)-pos) {
			return 0, fmt.Errorf("batch at byte %d: length %d runs past the %d bytes given", pos, h.length, len(data))
		}
		switch {
		case pos == 0 && h.baseOffset != baseOffset:
			return 0, fmt.Errorf("first batch has base offset %d", h.baseOffset)
		case h.baseOffset < next:
			return 0, fmt.Errorf("batch at byte %d: base offset %d overlaps, want >= %d", pos, h.baseOffset, next)
		case h.lastOffset() > lastOffset:
			return 0, fmt.Errorf("batch at byte %d: last offset %d is past %d", pos, h.lastOffset(), lastOffset)
		}
		maxTimestamp = max(maxTimestamp, h.maxTimestamp)
		next = h.lastOffset() + 1
		pos += h.size()
	}
	if next-1 != lastOffset {
		return 0, fmt.Errorf("batches end at offset %d", next-1)
	}
	return maxTimestamp, nil
}

// Finish writes the footer and trailer and returns the footer (partitions
// sorted by Key) and the object's total size. The Builder cannot be used
// afterwards.
func (b *Builder) Finish() (Footer, int64, error) {
	if b.err != nil {
		return Footer{}, 0, b.err
	}
	b.err = ErrBuilderFinished
	parts := slices.Clone(b.parts)
	slices.SortFunc(parts, func(x, y Partition) int { return x.Key.Compare(y.Key) })
	footer := appendFooter(nil, parts)
	if len(footer) > MaxFooterLen {
		return Footer{}, 0, fmt.Errorf("finish object: footer of %d bytes exceeds limit %d; raise the sparse interval", len(footer), MaxFooterLen)
	}
	if b.size > math.MaxInt64-MaxFooterLen-TrailerSize {
		return Footer{}, 0, fmt.Errorf("finish object: %d bytes of data is too large", b.size)
	}
	footer = appendTrailer(footer, trailerFields{
		dataLen:   b.size,
		footerLen: int64(len(footer)),
		footerCRC: crc32.Checksum(footer, castagnoli),
	})
	if _, err := b.w.Write(footer); err != nil {
		return Footer{}, 0, fmt.Errorf("write footer: %w", err)
	}
	return Footer{Partitions: parts}, b.size + int64(len(footer)), nil
}
