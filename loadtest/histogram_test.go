package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// nearestRank is the reference percentile: sort, take rank ceil(q/100*n).
func nearestRank(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	rank = max(rank, 1)
	rank = min(rank, len(sorted))
	return sorted[rank-1]
}

func checkPercentiles(t *testing.T, name string, h *Histogram, values []int64) {
	t.Helper()
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, q := range []float64{0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100} {
		want := nearestRank(sorted, q)
		got := h.Percentile(q)
		// Half a bucket: at most 1/256 of the value, plus rounding of
		// the integer midpoint.
		tol := float64(want)/256 + 1
		if math.Abs(float64(got-want)) > tol {
			t.Errorf("%s: p%v = %d, reference %d (tolerance %.1f)", name, q, got, want, tol)
		}
	}
	if h.Min() != sorted[0] || h.Max() != sorted[len(sorted)-1] {
		t.Errorf("%s: min/max = %d/%d, reference %d/%d", name, h.Min(), h.Max(), sorted[0], sorted[len(sorted)-1])
	}
	if h.Count() != uint64(len(values)) {
		t.Errorf("%s: count = %d, want %d", name, h.Count(), len(values))
	}
	var sum float64
	for _, v := range values {
		sum += float64(v)
	}
	if mean := sum / float64(len(values)); math.Abs(h.Mean()-mean) > mean*1e-9+1e-9 {
		t.Errorf("%s: mean = %f, want %f", name, h.Mean(), mean)
	}
}

func TestHistogramPercentilesMatchSortedReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	distributions := map[string]func() int64{
		"uniform-small": func() int64 { return rng.Int64N(300) },
		"uniform-ms":    func() int64 { return 1e6 + rng.Int64N(9e6) },
		// Latency-like: log-normal around 1ms with a long tail.
		"lognormal": func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + math.Log(1e6))) },
		"bimodal": func() int64 {
			if rng.IntN(100) == 0 {
				return 50e6 + rng.Int64N(1e6)
			}
			return 200e3 + rng.Int64N(10e3)
		},
		"huge": func() int64 { return math.MaxInt64 - rng.Int64N(1<<40) },
	}
	for name, gen := range distributions {
		for _, n := range []int{1, 2, 7, 1000, 100_000} {
			h := NewHistogram()
			values := make([]int64, n)
			for i := range values {
				values[i] = gen()
				h.Record(values[i])
			}
			checkPercentiles(t, name, h, values)
		}
	}
}

func TestHistogramMergeEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	whole := NewHistogram()
	parts := []*Histogram{NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()}
	var values []int64
	for i := range 50_000 {
		v := int64(math.Exp(rng.NormFloat64()*2 + 12))
		values = append(values, v)
		whole.Record(v)
		parts[i%len(parts)].Record(v)
	}
	merged := NewHistogram()
	merged.Merge(NewHistogram()) // merging an empty one changes nothing
	for _, p := range parts {
		merged.Merge(p)
	}
	if merged.counts != whole.counts || merged.Count() != whole.Count() || merged.Min() != whole.Min() || merged.Max() != whole.Max() {
		t.Fatalf("merged histogram differs from the histogram of all values")
	}
	checkPercentiles(t, "merged", merged, values)
}

func TestHistogramBucketsAreContiguousAndPrecise(t *testing.T) {
	var next int64
	for i := range histogramBuckets {
		low, width := bucketRange(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		if width > 1 && float64(width)/float64(low) > 1.0/subBuckets {
			t.Fatalf("bucket %d: width %d over low %d exceeds 1/%d", i, width, low, subBuckets)
		}
		if got := bucketIndex(low); got != i {
			t.Fatalf("bucketIndex(%d) = %d, want %d", low, got, i)
		}
		if got := bucketIndex(low + width - 1); got != i {
			t.Fatalf("bucketIndex(%d) = %d, want %d", low+width-1, got, i)
		}
		if i == histogramBuckets-1 {
			if low+width-1 != math.MaxInt64 {
				t.Fatalf("last bucket ends at %d, want MaxInt64", low+width-1)
			}
			break
		}
		next = low + width
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	h := NewHistogram()
	if h.Percentile(50) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: p50 %d min %d max %d mean %f, want zeros", h.Percentile(50), h.Min(), h.Max(), h.Mean())
	}
	h.Record(-5)
	if h.Min() != 0 || h.Count() != 1 {
		t.Fatalf("negative value: min %d count %d, want 0 and 1", h.Min(), h.Count())
	}
	h.Record(1000)
	if got := h.Percentile(0); got != 0 {
		t.Errorf("p0 = %d, want the minimum 0", got)
	}
	if got := h.Percentile(150); got != 1000 {
		t.Errorf("p150 = %d, want the maximum 1000", got)
	}
	h.Reset()
	if h.Count() != 0 || h.Percentile(99) != 0 {
		t.Fatalf("reset histogram still has values")
	}
	h.Record(7)
	if h.Min() != 7 || h.Max() != 7 || h.Percentile(50) != 7 {
		t.Fatalf("after reset: min %d max %d p50 %d, want 7", h.Min(), h.Max(), h.Percentile(50))
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(5, 6))
	values := make([]int64, 4096)
	for i := range values {
		values[i] = int64(math.Exp(rng.NormFloat64()*1.5 + 13))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Record(values[i&4095])
	}
}

func BenchmarkHistogramPercentile(b *testing.B) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100_000 {
		h.Record(int64(math.Exp(rng.NormFloat64()*1.5 + 13)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.Percentile(99.9)
	}
}
