package stats

import (
	"math"
	"slices"
	"time"
)

// Latency percentiles are exact while a group keeps every sample; past a
// bound (Options.ExactPerGroup, Options.ExactTotal) the group folds its
// samples into a histogram of logarithmic buckets, so memory stays
// bounded however long a live session runs.
//
// Bucket i holds latencies in [γ^i, γ^(i+1)) nanoseconds with γ = 1.02,
// and a percentile read from it is the bucket's geometric middle, clamped
// to the exact maximum: within 1% of the true sample (sqrt(1.02) - 1 <
// 1%). A 1 ns to 1 hour range spans about 1,460 buckets.
const (
	bucketGamma = 1.02
	// maxBucketErr is the relative error of a sketched percentile.
	maxBucketErr = 0.01
)

// latencies holds one group's samples. A live view asks for the
// percentiles on every refresh while a few groups grow, so the figures
// are cached until a sample arrives, and the exact samples are kept
// sorted up to sorted: a refresh sorts only what came since and merges
// it, linear rather than a full sort of the group.
type latencies struct {
	exact  []time.Duration // nil once sketched
	sorted int             // exact[:sorted] is in order
	hist   map[int32]int64 // bucket -> count, nil while exact
	zeros  int64           // sketched samples of 0 (no log bucket)
	n      int64
	max    time.Duration
	cache  *Percentiles // nil when a sample arrived since
}

func (l *latencies) add(d time.Duration) {
	l.n++
	l.max = max(l.max, d)
	l.cache = nil
	if l.hist != nil {
		l.bucket(d)
		return
	}
	l.exact = append(l.exact, d)
}

// sketch folds the exact samples into the histogram and frees them. It
// returns how many exact samples were freed.
func (l *latencies) sketch() int {
	if l.hist != nil {
		return 0
	}
	l.hist = make(map[int32]int64)
	for _, d := range l.exact {
		l.bucket(d)
	}
	n := len(l.exact)
	l.exact, l.sorted, l.cache = nil, 0, nil
	return n
}

func (l *latencies) bucket(d time.Duration) {
	if d <= 0 {
		l.zeros++
		return
	}
	l.hist[int32(math.Floor(math.Log(float64(d))/math.Log(bucketGamma)))]++
}

// Percentiles are the latency figures of a group.
type Percentiles struct {
	// Samples is the number of exchanges that had a latency (a request
	// and a response with times, the latency above 0); the others do not
	// count here.
	Samples            int64
	P50, P90, P99, Max time.Duration
	// Exact is false when the figures come from the histogram (within
	// 1% of the true values; Max is always exact).
	Exact bool
}

// percentiles computes nearest-rank percentiles: the p-th is the smallest
// sample with at least p% of the samples at or below it, the
// ceil(p/100·n)-th in sorted order.
func (l *latencies) percentiles() Percentiles {
	if l.cache != nil {
		return *l.cache
	}
	p := l.compute()
	l.cache = &p
	return p
}

func (l *latencies) compute() Percentiles {
	p := Percentiles{Samples: l.n, Max: l.max, Exact: l.hist == nil}
	if l.n == 0 {
		return p
	}
	if l.hist == nil {
		l.sortExact()
		at := func(q int64) time.Duration { return l.exact[rank(q, l.n)] }
		p.P50, p.P90, p.P99 = at(50), at(90), at(99)
		return p
	}
	keys := make([]int32, 0, len(l.hist))
	for k := range l.hist {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	at := func(q int64) time.Duration {
		r := int64(rank(q, l.n))
		if r < l.zeros {
			return 0
		}
		seen := l.zeros
		for _, k := range keys {
			seen += l.hist[k]
			if r < seen {
				v := time.Duration(math.Pow(bucketGamma, float64(k)+0.5))
				return min(v, l.max)
			}
		}
		return l.max
	}
	p.P50, p.P90, p.P99 = at(50), at(90), at(99)
	return p
}

// sortExact sorts the samples that came since the last call and merges
// them into the sorted prefix.
func (l *latencies) sortExact() {
	if l.sorted == len(l.exact) {
		return
	}
	tail := l.exact[l.sorted:]
	slices.Sort(tail)
	if l.sorted > 0 && l.exact[l.sorted-1] > tail[0] {
		merged := make([]time.Duration, 0, cap(l.exact))
		a, b := l.exact[:l.sorted], tail
		for len(a) > 0 && len(b) > 0 {
			if b[0] < a[0] {
				merged, b = append(merged, b[0]), b[1:]
			} else {
				merged, a = append(merged, a[0]), a[1:]
			}
		}
		merged = append(append(merged, a...), b...)
		l.exact = merged
	}
	l.sorted = len(l.exact)
}

// rank is the 0-based index of the nearest-rank q-th percentile of n
// sorted samples.
// Integer arithmetic: 0.9*10 is 9.000000000000002 in floating point.
func rank(q, n int64) int {
	r := (q*n + 99) / 100
	return int(min(max(r, 1), n) - 1)
}
