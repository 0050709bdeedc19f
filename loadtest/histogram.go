package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a log-linear (HDR-style) histogram of non-negative int64
// values, used for latencies in nanoseconds. Its memory is fixed (one
// array of bucket counts covering all of int64) and every recorded value
// lands in a bucket whose width is at most 1/128 of the bucket's lower
// bound, so a percentile is reported within 0.4% of the recorded value
// (the bucket midpoint is reported).
//
// Bucket layout, with subBucketBits = 7 (subBuckets = 128):
//
//	value v              shift s          index
//	0 .. 255             0                v            (exact)
//	256 .. 511           1                128 + v>>1   (width 2)
//	512 .. 1023          2                256 + v>>2   (width 4)
//	2^k .. 2^(k+1)-1     k-7              (k-7)*128 + v>>(k-7)
//
// Each power-of-two range above 255 is split into 128 equal buckets.
//
// A Histogram is not safe for concurrent use: give each goroutine its own
// and Merge them, or guard one with a mutex.
type Histogram struct {
	counts [histogramBuckets]uint64
	count  uint64
	min    int64
	max    int64
	sum    float64
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128
	// The largest index is reached by math.MaxInt64 (63 bits):
	// shift 63-8 = 55, index 55*128 + 255.
	histogramBuckets = (63-subBucketBits-1)*subBuckets + 2*subBuckets
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{min: math.MaxInt64}
}

// bucketIndex returns the bucket of v (v >= 0).
func bucketIndex(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBucketBits - 1
	return shift*subBuckets + int(v>>shift)
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width int64) {
	if i < 2*subBuckets {
		return int64(i), 1
	}
	shift := i/subBuckets - 1
	mantissa := int64(i - shift*subBuckets)
	return mantissa << shift, int64(1) << shift
}

// Record adds one value. Negative values are recorded as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketIndex(v)]++
	h.count++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// RecordDuration adds one duration in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds every value of o to h. o is not changed.
func (h *Histogram) Merge(o *Histogram) {
	if o.count == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.count += o.count
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Reset empties the histogram.
func (h *Histogram) Reset() {
	clear(h.counts[:])
	h.count = 0
	h.sum = 0
	h.min = math.MaxInt64
	h.max = 0
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.count }

// Min returns the smallest recorded value (exact), or 0 when empty.
func (h *Histogram) Min() int64 {
	if h.count == 0 {
		return 0
	}
	return h.min
}

// Max returns the largest recorded value (exact), or 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the mean of the recorded values (exact up to float64
// rounding), or 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.count == 0 {
		return 0
	}
	return h.sum / float64(h.count)
}

// Percentile returns the value at percentile q (0 < q <= 100) by the
// nearest-rank rule: the smallest recorded value such that at least q% of
// the values are at or below it. The answer is the midpoint of that
// value's bucket, kept within the exact min and max. An empty histogram
// returns 0; q is clamped to (0, 100].
func (h *Histogram) Percentile(q float64) int64 {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q / 100 * float64(h.count)))
	rank = max(rank, 1)
	rank = min(rank, h.count)
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := low + (width-1)/2
			return min(max(v, h.Min()), h.max)
		}
	}
	return h.max
}
