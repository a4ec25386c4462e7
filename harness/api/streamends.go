package api

import "sync"

// streamEnds lets the pulls of a job hear that this API deleted the job's
// stream. nats-server's own word for it — 409 Consumer Deleted, or the
// pull's 408 when it expires just as the stream goes — is queued on the
// stream's send loop, which the delete stops, now and then before the word
// goes out (docs/facts.md). All the pulls waiting on that stream then hear
// nothing, and without this each would wait out its guard (fetch wait +
// pullGuard), past a worker's timeout: measured in the soak tests as
// several workers' /tasks calls of one job all timing out as it finished.
type streamEnds struct {
	mu sync.Mutex
	m  map[int64]*streamEnd
}

// streamEnd is one job's signal: ch closes when its stream is deleted; n
// counts the pulls watching it, so that the entry goes with the last one.
type streamEnd struct {
	ch chan struct{}
	n  int
}

// watch returns a channel closed when job id's stream is deleted by this
// API, and the release the caller must call when its pull is over.
func (s *streamEnds) watch(id int64) (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[int64]*streamEnd)
	}
	e := s.m[id]
	if e == nil {
		e = &streamEnd{ch: make(chan struct{})}
		s.m[id] = e
	}
	e.n++
	return e.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if e.n--; e.n == 0 && s.m[id] == e {
			delete(s.m, id)
		}
	}
}

// deleted ends every pull watching job id's stream.
func (s *streamEnds) deleted(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[id]; e != nil {
		close(e.ch)
		delete(s.m, id)
	}
}
