package check

import "container/heap"

// deadlines is a min-heap of (time, key) with lazy invalidation: an entry
// is stale when the checker's own state no longer holds that deadline.
type deadlines[K comparable] struct{ h dlHeap[K] }

type dlEntry[K comparable] struct {
	at  float64
	key K
}

type dlHeap[K comparable] []dlEntry[K]

func (h dlHeap[K]) Len() int           { return len(h) }
func (h dlHeap[K]) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dlHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dlHeap[K]) Push(x any)        { *h = append(*h, x.(dlEntry[K])) }
func (h *dlHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (d *deadlines[K]) push(at float64, key K) { heap.Push(&d.h, dlEntry[K]{at, key}) }

// popBefore removes and returns the earliest entry if it is before t.
func (d *deadlines[K]) popBefore(t float64) (dlEntry[K], bool) {
	if len(d.h) == 0 || d.h[0].at >= t {
		return dlEntry[K]{}, false
	}
	return heap.Pop(&d.h).(dlEntry[K]), true
}

func (d *deadlines[K]) len() int { return len(d.h) }
