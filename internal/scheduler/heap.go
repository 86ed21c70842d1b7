package scheduler

import "container/heap"

// entryHeap orders entries by their next fire, ties by workflow and key, so
// the loop finds what is due without looking at every trigger.
type entryHeap []*entry

var _ heap.Interface = (*entryHeap)(nil)

func (h entryHeap) Len() int { return len(h) }

func (h entryHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.next.Equal(b.next) {
		return a.next.Before(b.next)
	}
	if a.Workflow != b.Workflow {
		return a.Workflow < b.Workflow
	}
	return a.Key < b.Key
}

func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *entryHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*h = old[:n-1]
	return e
}
