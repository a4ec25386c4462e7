package check

import (
	"math"
	"slices"
)

// quantile returns the q-quantile (0..1) of xs, sorting xs in place.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// msHist is a streaming histogram of milliseconds at 1 ms resolution up to
// 120 s, for quantiles whose memory does not grow with the history.
type msHist struct {
	counts []uint32
	over   []float64 // beyond the last bucket: rare, kept exactly
	n      int
}

const histMax = 120_000

func (h *msHist) add(ms float64) {
	if h.counts == nil {
		h.counts = make([]uint32, histMax)
	}
	h.n++
	if ms < 0 {
		ms = 0
	}
	if ms >= histMax {
		h.over = append(h.over, ms)
		return
	}
	h.counts[int(ms)]++
}

// quantile returns an upper bound (to 1 ms) of the q-quantile.
func (h *msHist) quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	seen := 0
	for i, c := range h.counts {
		seen += int(c)
		if seen >= rank {
			return float64(i + 1)
		}
	}
	over := slices.Sorted(slices.Values(h.over))
	return over[max(0, min(rank-seen-1, len(over)-1))]
}
