package worker

import (
	"context"
	"sync"
	"time"

	"github.com/natschaos/natschaos/protocol"
)

// adc is the "adc" preset, docs/protocol.md's pseudo-code:
//
//	loop:
//	  jobs = GET /jobs/ (GET retried on 5xx)
//	  for each job: process_job(job)
//	  if no job had work: sleep IdleSleep
func (r *run) adc(ctx context.Context) {
	p := newPoster(r)
	r.rounds(ctx, func(j protocol.JobRef) (worked, stop bool) { return r.processJob(ctx, j, p), false })
}

// batch is what a fetcher hands to the model loop.
type batch struct {
	tasks   []protocol.Task
	release func() // frees the fetcher's prefetch slot
}

// processJob runs Fetchers fetchers against j and one model loop that
// processes their batches in arrival order and submits the results to p. It
// returns when every fetcher stopped, every batch was processed and every
// post still pending finished; worked tells whether any task came in.
func (r *run) processJob(ctx context.Context, j protocol.JobRef, p *poster) (worked bool) {
	jctx, cancel := context.WithCancel(ctx)
	out := make(chan batch)
	closed := make(chan struct{})
	var fetchers sync.WaitGroup
	for range r.cfg.Fetchers {
		fetchers.Add(1)
		go func() {
			defer fetchers.Done()
			r.fetcher(jctx, j, out)
		}()
	}
	go func() {
		fetchers.Wait()
		close(out)
		close(closed)
	}()
	defer func() {
		cancel()
		<-closed
	}()

	for {
		select {
		case <-ctx.Done():
			return worked
		case b, ok := <-out:
			if !ok {
				p.drain(ctx)
				return worked
			}
			worked = true
			b.release()
			req, ok := r.process(ctx, j, b.tasks)
			if !ok || r.w.crashAt(CrashAfterProcess) {
				return worked
			}
			p.submit(ctx, j.ID, req)
		}
	}
}

// fetcher reserves batches of j until a /tasks call fails or answers no
// task, holding at most Prefetch fetched batches the model loop has not
// taken yet.
func (r *run) fetcher(ctx context.Context, j protocol.JobRef, out chan<- batch) {
	slots := make(chan struct{}, r.cfg.Prefetch)
	release := func() { <-slots }
	for {
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		tasks, ok := r.fetch(ctx, j)
		if !ok || len(tasks) == 0 {
			return // any error: this fetcher stops; [] means "job complete"
		}
		if r.w.crashAt(CrashAfterReceive) || !r.download(ctx, len(tasks)) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case out <- batch{tasks: tasks, release: release}:
		}
	}
}

// poster posts results on Posters goroutines, with at most MaxPendingPosts
// posts pending (queued or in flight). When that many are pending and none
// finishes within AbandonAfter, all of them are abandoned: the queued ones
// are dropped unsent, the ones in flight run on but no longer count.
type poster struct {
	r        *run
	slots    chan struct{} // one per poster goroutine busy posting
	finished chan struct{} // a token each time a pending post ends
	mu       sync.Mutex
	pending  map[*pendingPost]struct{}
}

type pendingPost struct {
	cancel    context.CancelFunc // stops it while it waits for a poster
	started   bool               // the POST is being sent
	abandoned bool
}

func newPoster(r *run) *poster {
	return &poster{
		r:        r,
		slots:    make(chan struct{}, r.cfg.Posters),
		finished: make(chan struct{}, r.cfg.MaxPendingPosts),
		pending:  make(map[*pendingPost]struct{}),
	}
}

// submit queues one result POST, first waiting for room as described on poster.
func (p *poster) submit(ctx context.Context, jobID int64, req resultRequest) {
	var deadline <-chan time.Time
	for {
		p.mu.Lock()
		if len(p.pending) < p.r.cfg.MaxPendingPosts {
			p.start(ctx, jobID, req)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(p.r.cfg.AbandonAfter)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ctx.Done():
			return
		case <-p.finished:
		case <-deadline:
			p.abandon()
			deadline = nil
		}
	}
}

// start launches the goroutine of one post; p.mu is held.
func (p *poster) start(ctx context.Context, jobID int64, req resultRequest) {
	pctx, cancel := context.WithCancel(ctx)
	pp := &pendingPost{cancel: cancel}
	p.pending[pp] = struct{}{}
	r := p.r
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		defer p.done(pp)
		gotSlot := false
		select {
		case p.slots <- struct{}{}:
			gotSlot = true
		case <-pctx.Done():
		}
		p.mu.Lock()
		if pctx.Err() != nil {
			abandoned := pp.abandoned
			p.mu.Unlock()
			if abandoned {
				r.w.c.abandoned.Add(int64(len(req.Results)))
				r.w.log.Warn("result post abandoned unsent", "job", jobID, "results", len(req.Results))
			}
			if gotSlot { // the select may take a slot as pctx ends
				<-p.slots
			}
			return
		}
		pp.started = true
		p.mu.Unlock()
		r.post(ctx, jobID, req) // the run's ctx: abandoning does not cut a POST in flight
		<-p.slots
	}()
}

// abandon forgets every pending post and drops those not yet sent.
func (p *poster) abandon() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.r.w.log.Warn("result posts abandoned", "pending", len(p.pending), "after", p.r.cfg.AbandonAfter)
	for pp := range p.pending {
		pp.abandoned = true
		if !pp.started {
			pp.cancel()
		}
		delete(p.pending, pp)
	}
}

// done removes pp from the pending posts and wakes a waiter.
func (p *poster) done(pp *pendingPost) {
	p.mu.Lock()
	delete(p.pending, pp)
	p.mu.Unlock()
	select {
	case p.finished <- struct{}{}:
	default: // a token is already there
	}
}

// drain waits until no post is pending, or ctx is done.
func (p *poster) drain(ctx context.Context) {
	for {
		p.mu.Lock()
		n := len(p.pending)
		p.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-p.finished:
		}
	}
}
