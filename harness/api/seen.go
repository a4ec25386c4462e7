package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// seenBook is when each worker was last seen.
type seenBook struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// markSeen records r's worker as seen now, and emits a seen event. Workers
// that do not name themselves are not tracked.
func (a *API) markSeen(r *http.Request) {
	w := r.Header.Get(protocol.WorkerHeader)
	if w == "" {
		return
	}
	a.seen.mu.Lock()
	if a.seen.last == nil {
		a.seen.last = map[string]time.Time{}
	}
	a.seen.last[w] = time.Now()
	a.seen.mu.Unlock()
	a.emit(history.Event{Kind: history.KindSeen, Worker: w, Path: r.URL.Path})
}

// WorkersSeen returns when each worker was last seen on /tasks or /result.
func (a *API) WorkersSeen() map[string]time.Time {
	a.seen.mu.Lock()
	defer a.seen.mu.Unlock()
	out := make(map[string]time.Time, len(a.seen.last))
	for w, t := range a.seen.last {
		out[w] = t
	}
	return out
}
